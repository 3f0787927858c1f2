"""torch.nn.Module classes built from specs (imported only with torch)."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from ..errors import ActivationError
from ..spec import ActivationSpec, Kernel
from . import _base
from ._base import limits_for
from ._layers import format_params


class PolyactModule(nn.Module):
    """Base of every polyact torch activation module."""

    spec: ActivationSpec

    def __init__(
        self,
        backend: Any,
        spec: ActivationSpec,
        kernel: Kernel,
        params: Dict[str, Any],
        options: Dict[str, Any],
    ) -> None:
        super().__init__()
        inplace = bool(options.get("inplace", False))
        if inplace and kernel.inplace is None:
            raise ActivationError(
                f"{spec.name} has no in-place kernel on torch (kernel {kernel.name!r}). In-place "
                "variants exist where torch has a native in-place op; build it without inplace=True."
            )
        state = _base.module_state(backend, spec, params, options)
        # plain attributes straight into __dict__: nn.Module.__setattr__ costs
        # about a microsecond each (get_activation is on the hot path of model
        # construction)
        self.__dict__.update(
            kernel=kernel.name,
            inplace=inplace,
            channel_axis=state.channel_axis,
            num_channels=state.num_channels,
            _fixed=state.fixed,
            _trainable=spec.trainable,
            # stochastic: noise in training mode only, from a generator seeded with
            # ``seed`` (one per device, made on first use) or torch's global one
            _seed=options.get("seed"),
            _generators={},
        )
        for k, v in state.trainable.items():
            setattr(self, k, nn.Parameter(torch.tensor(v, dtype=torch.float32)))
        self._bind(backend, kernel)

    def _rng(self, x: torch.Tensor) -> Any:
        if self._seed is None:
            return True
        gen = self._generators.get(x.device)
        if gen is None:
            gen = self._generators[x.device] = torch.Generator(device=x.device).manual_seed(int(self._seed))
        return gen

    def _bind(self, backend: Any, kernel: Kernel) -> None:
        self.__dict__.update(
            _run=backend.runner(self.spec, kernel.impl, {"channel_axis": self.channel_axis}),
            _inplace_impl=kernel.inplace,
            _backend=backend,
            # no trainable parameter and no noise: forward hands the fixed values over as they are
            _plain=not self._trainable and self.spec.noise is None,
        )

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        for k in ("_run", "_inplace_impl", "_backend", "_plain"):
            state.pop(k, None)
        state["_generators"] = {}
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        from .. import registry

        self.__dict__.update(state)
        backend = registry.get_backend("torch")
        self._bind(backend, registry.kernel_object(self.spec, backend, self.kernel, self._fixed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._plain and not self.inplace:  # the common call (runners never change what they get)
            return self._run(x, self._fixed)
        params = dict(self._fixed)
        for k in self._trainable:
            params[k] = getattr(self, k)
        if self.inplace:
            self._backend.check_input(x, self.spec.name)
            lim = limits_for(self.spec, params, self._backend._concrete)
            return self._backend.fix_inplace(x, self._inplace_impl, params, lim)
        if self.spec.noise is not None and self.training:
            return self._run(x, params, self._rng(x))
        return self._run(x, params)

    def extra_repr(self) -> str:
        parts = [format_params(self._fixed)] if self._fixed else []
        if self.spec.per_channel:
            parts.append(f"num_channels={self.num_channels}, channel_axis={self.channel_axis}")
        if self.inplace:
            parts.append("inplace=True")
        if self.kernel != "auto":
            parts.append(f"kernel={self.kernel!r}")
        return ", ".join(p for p in parts if p)


def _depthwise_conv2d(c: int, layer: Any) -> nn.Module:
    k, padding, bias = _base.conv_options(layer)
    return nn.Conv2d(c, c, k, padding=padding, groups=c, bias=bias)


def _batch_norm(c: int, layer: Any) -> nn.Module:
    eps, momentum = _base.batch_norm_options(layer)
    return nn.BatchNorm2d(c, eps=eps, momentum=momentum)


_LAYERS = {"depthwise_conv2d": _depthwise_conv2d, "batch_norm": _batch_norm}


class PolyactStructural(nn.Module):
    """Base of structural activations (sub-layers with state)."""

    spec: ActivationSpec

    def __init__(
        self, backend: Any, spec: ActivationSpec, params: Dict[str, Any], options: Dict[str, Any]
    ) -> None:
        super().__init__()
        if "seed" in options:
            torch.manual_seed(int(options["seed"]))
        self.params = {k: v for k, v in params.items() if k not in spec.trainable}
        self.channel_axis = _base.structural_axis(spec, options, backend)
        for key, mod in _base.build_layers(backend, spec, params, _LAYERS).items():
            self.add_module(key, mod)
        for k in spec.trainable:  # trainable scalars beside the layers
            setattr(self, k, nn.Parameter(torch.tensor(float(params[k]), dtype=torch.float32)))
        self._backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dt = self._backend.check_input(x, self.spec.name)
        xc = x.float() if dt in _base.HALF else x
        moved = xc.movedim(self.channel_axis, 1) if xc.dim() else xc
        shape = tuple(moved.shape)
        moved = moved.reshape(_base.structural_shape(self.spec, shape, channels_last=False))
        layers = {k: getattr(self, k) for k in self.spec.layers}
        layers.update({k: getattr(self, k) for k in self.spec.trainable})
        if dt in _base.HALF:
            with torch.autocast("cpu", enabled=False):
                y = self.spec.fn(moved, self._backend.ops, **layers)
        else:
            y = self.spec.fn(moved, self._backend.ops, **layers)
        y = y.reshape(shape).movedim(1, self.channel_axis)
        return y.to(x.dtype) if dt in _base.HALF else y

    def extra_repr(self) -> str:
        return format_params(self.params)


def build_module(
    backend: Any, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
) -> nn.Module:
    if spec.kind == "structural":
        return _base.spec_class(spec, PolyactStructural, __name__, "torch")(backend, spec, params, options)
    return _base.spec_class(spec, PolyactModule, __name__, "torch")(backend, spec, kernel, params, options)

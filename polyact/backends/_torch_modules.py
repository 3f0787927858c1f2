"""torch.nn.Module classes built from specs (imported only with torch)."""

from __future__ import annotations

import sys
from typing import Any, Dict

import torch
from torch import nn

from ..errors import ActivationError
from ..spec import ActivationSpec, Kernel
from . import _base
from ._layers import format_params

_CLASSES: Dict[str, type] = {}


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
        self.kernel = kernel.name
        self.inplace = bool(options.get("inplace", False))
        if self.inplace and kernel.inplace is None:
            raise ActivationError(
                f"{spec.name} has no in-place kernel on torch (kernel {kernel.name!r}). In-place "
                "variants exist where torch has a native in-place op; build it without inplace=True."
            )
        state = _base.module_state(backend, spec, params, options)
        self.channel_axis, self.num_channels = state.channel_axis, state.num_channels
        self._fixed: Dict[str, Any] = state.fixed
        self._trainable = spec.trainable
        for k, v in state.trainable.items():
            setattr(self, k, nn.Parameter(torch.tensor(v, dtype=torch.float32)))
        self._bind(backend, kernel)

    def _bind(self, backend: Any, kernel: Kernel) -> None:
        self._run = backend.runner(self.spec, kernel.impl, {"channel_axis": self.channel_axis})
        self._inplace_impl = kernel.inplace
        self._backend = backend

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        for k in ("_run", "_inplace_impl", "_backend"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        from .. import registry

        self.__dict__.update(state)
        self._bind(registry.get_backend("torch"), registry.kernels(self.spec.name, "torch")[self.kernel])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = dict(self._fixed)
        for k in self._trainable:
            params[k] = getattr(self, k)
        if self.inplace:
            self._backend.check_input(x, self.spec.name)
            return self._inplace_impl(x, **params)
        return self._run(x, params)

    def extra_repr(self) -> str:
        parts = [format_params(self._fixed)] if self._fixed else []
        if self.spec.per_channel:
            parts.append(f"num_channels={self.num_channels}, channel_axis={self.channel_axis}")
        if self.inplace:
            parts.append("inplace=True")
        if self.kernel != "native" and self.kernel != "composed":
            parts.append(f"kernel={self.kernel!r}")
        return ", ".join(p for p in parts if p)


class PolyactStructural(nn.Module):
    """Base of structural activations (sub-layers with state)."""

    spec: ActivationSpec

    def __init__(
        self, backend: Any, spec: ActivationSpec, params: Dict[str, Any], options: Dict[str, Any]
    ) -> None:
        super().__init__()
        if "seed" in options:
            torch.manual_seed(int(options["seed"]))
        self.params = dict(params)
        self.channel_axis = options.get("channel_axis", 1)
        c = int(params[spec.channels_param])  # type: ignore[index]
        for key, layer in spec.layers.items():
            if layer.kind == "depthwise_conv2d":
                k = int(layer.option("kernel_size", 3))
                mod: nn.Module = nn.Conv2d(
                    c,
                    c,
                    k,
                    padding=int(layer.option("padding", k // 2)),
                    groups=c,
                    bias=bool(layer.option("bias", True)),
                )
            elif layer.kind == "batch_norm":
                mod = nn.BatchNorm2d(
                    c, eps=float(layer.option("eps", 1e-5)), momentum=float(layer.option("momentum", 0.1))
                )
            else:
                raise ActivationError(f"torch has no layer kind {layer.kind!r}")
            self.add_module(key, mod)
        self._backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dt = self._backend.check_input(x, self.spec.name)
        xc = x.float() if dt in _base.HALF else x
        if xc.dim() != 4:
            raise ActivationError(f"{self.spec.name} expects a 4-D input, got shape {tuple(xc.shape)}")
        moved = xc.movedim(self.channel_axis, 1)
        layers = {k: getattr(self, k) for k in self.spec.layers}
        if dt in _base.HALF:
            with torch.autocast("cpu", enabled=False):
                y = self.spec.fn(moved, self._backend.ops, **layers)
        else:
            y = self.spec.fn(moved, self._backend.ops, **layers)
        y = y.movedim(1, self.channel_axis)
        return y.to(x.dtype) if dt in _base.HALF else y

    def extra_repr(self) -> str:
        return format_params(self.params)


def _class_for(spec: ActivationSpec, base: type) -> type:
    cls = _CLASSES.get(spec.name)
    if cls is None or cls.spec is not spec:
        name = _base.class_name(spec.name)
        cls = type(name, (base,), {"spec": spec, "__doc__": spec.docstring("torch"), "__module__": __name__})
        cls.__qualname__ = name
        _CLASSES[spec.name] = cls
        setattr(sys.modules[__name__], name, cls)  # picklable by reference
    return cls


def build_module(
    backend: Any, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
) -> nn.Module:
    if spec.kind == "structural":
        return _class_for(spec, PolyactStructural)(backend, spec, params, options)
    return _class_for(spec, PolyactModule)(backend, spec, kernel, params, options)

"""NumPy objects: the activation callable and structural layers (forward only)."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from ..errors import ActivationError
from ..spec import ActivationSpec, Kernel, Layer
from . import _base


def format_params(params: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    a = np.asarray(v)
    if a.ndim and a.size > 1:
        if a.size <= 4 and a.dtype.kind == "f":
            return "[" + ", ".join(f"{e:g}" for e in a.tolist()) + "]"
        return f"<{a.size} values>"
    return repr(v)


class FunctionActivation:
    """An activation object that is a plain function with bound parameters
    (NumPy objects, stateless JAX objects). ``params`` holds its parameters;
    it pickles by activation name (specs hold functions, the registry has them)."""

    def __init__(
        self,
        backend: Any,
        spec: ActivationSpec,
        kernel: Kernel,
        params: Dict[str, Any],
        options: Dict[str, Any],
    ) -> None:
        self.spec = spec
        self.backend = backend.name
        self.kernel = kernel.name
        state = _base.module_state(backend, spec, params, options)
        self.channel_axis = state.channel_axis
        self.params = {**state.fixed, **state.trainable}
        self._set_function(backend.make_function(spec, kernel, self.params, options))
        self.__doc__ = spec.docstring(backend.name)

    def _set_function(self, f: Any) -> None:
        self._f = f
        # (run, params) of a plain backend function: a call without keyword
        # arguments skips a frame (this is every eager call's fixed cost)
        self._direct = getattr(f, "_polyact_run", None)

    def __call__(self, x: Any, **kwargs: Any) -> Any:
        """``kwargs``: ``training``/``rng`` of a stochastic activation."""
        direct = self._direct
        if direct is not None and not kwargs:
            return direct[0](x, direct[1])
        return self._f(x, **kwargs)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_f", None)
        state.pop("_direct", None)
        state["spec"] = self.spec.name
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        from .. import registry

        self.__dict__.update(state)
        self.spec = registry.get_spec(state["spec"])
        backend = registry.get_backend(self.backend)
        kernel = registry.kernel_object(self.spec, backend, self.kernel, self.params)
        self._set_function(
            backend.make_function(self.spec, kernel, self.params, {"channel_axis": self.channel_axis})
        )

    def __repr__(self) -> str:
        return f"{_base.class_name(self.spec.name)}({format_params(self.params)})"


class NumpyActivation(FunctionActivation):
    """A NumPy activation: call it on an array. ``params`` holds its parameters."""


def numpy_callable(
    backend: Any, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
) -> Any:
    return NumpyActivation(backend, spec, kernel, params, options)


# --------------------------------------------------------------------------- layers
class DepthwiseConv2d:
    """Depthwise 2-D convolution (groups = channels), torch's default init."""

    def __init__(self, channels: int, layer: Layer, rng: Any) -> None:
        k, self.padding, bias = _base.conv_options(layer)
        bound = 1.0 / k  # kaiming_uniform(a=sqrt(5)) with fan_in = k*k
        self.weight = rng.uniform(-bound, bound, size=(channels, 1, k, k))
        self.bias = rng.uniform(-bound, bound, size=(channels,)) if bias else None

    def state(self) -> Dict[str, Any]:
        out = {"weight": self.weight}
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    def __call__(self, x: Any) -> Any:  # x: N, C, H, W
        n, c, h, w = x.shape
        k = self.weight.shape[-1]
        p = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
        wt = self.weight.astype(x.dtype)
        out = np.zeros((n, c, oh, ow), dtype=x.dtype)
        for i in range(k):
            for j in range(k):
                out += wt[:, 0, i, j][None, :, None, None] * xp[:, :, i : i + oh, j : j + ow]
        if self.bias is not None:
            out += self.bias.astype(x.dtype)[None, :, None, None]
        return out


class BatchNorm:
    """Batch normalisation over every axis but the channel axis (axis 1 here)."""

    def __init__(self, channels: int, layer: Layer, rng: Any) -> None:
        self.eps, self.momentum = _base.batch_norm_options(layer)
        self.weight = np.ones(channels)
        self.bias = np.zeros(channels)
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)
        self.training = False

    def state(self) -> Dict[str, Any]:
        return {
            "weight": self.weight,
            "bias": self.bias,
            "running_mean": self.running_mean,
            "running_var": self.running_var,
        }

    def __call__(self, x: Any) -> Any:
        axes = tuple(i for i in range(x.ndim) if i != 1)
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        if self.training:
            mean = x.mean(axis=axes, dtype=np.float64)
            var = x.var(axis=axes, dtype=np.float64)
            count = x.size // x.shape[1]
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * count / max(count - 1, 1)
        else:
            mean, var = self.running_mean, self.running_var
        scale = (self.weight / np.sqrt(var + self.eps)).reshape(shape)
        shift = (self.bias - mean * self.weight / np.sqrt(var + self.eps)).reshape(shape)
        return (x * scale.astype(x.dtype) + shift.astype(x.dtype)).astype(x.dtype)


LAYERS = {"depthwise_conv2d": DepthwiseConv2d, "batch_norm": BatchNorm}


class NumpyStructural:
    """A structural activation on NumPy (forward only; eval mode by default).

    Holds its sub-layers' state as arrays; ``state_dict()``/``load_state_dict()``
    use the same keys as the torch module, so weights move between backends.
    """

    def __init__(
        self, backend: Any, spec: ActivationSpec, params: Dict[str, Any], options: Dict[str, Any]
    ) -> None:
        self.spec = spec
        self.params = {k: v for k, v in params.items() if k not in spec.trainable}
        self.trainable = {k: np.asarray(float(params[k])) for k in spec.trainable}
        self.channel_axis = _base.structural_axis(spec, options, backend)
        rng = np.random.default_rng(options.get("seed", 0))
        builders = {kind: (lambda c, layer, cls=cls: cls(c, layer, rng)) for kind, cls in LAYERS.items()}
        self.layers = _base.build_layers(backend, spec, params, builders)
        self._backend = backend
        self.training = False

    def train(self, mode: bool = True) -> NumpyStructural:
        self.training = mode
        for layer in self.layers.values():
            if hasattr(layer, "training"):
                layer.training = mode
        return self

    def eval(self) -> NumpyStructural:
        return self.train(False)

    def state_dict(self) -> Dict[str, Any]:
        out = {k: v.copy() for k, v in self.trainable.items()}
        out.update(
            {f"{k}.{n}": v.copy() for k, layer in self.layers.items() for n, v in layer.state().items()}
        )
        return out

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        for key, value in state.items():
            if key in self.trainable:
                self.trainable[key] = np.asarray(value, dtype=np.float64).reshape(())
                continue
            head, _, attr = key.partition(".")
            if head not in self.layers or attr not in self.layers[head].state():
                if attr == "num_batches_tracked":
                    continue
                raise ActivationError(f"{self.spec.name}: unexpected state key {key!r}")
            setattr(self.layers[head], attr, np.asarray(value, dtype=np.float64))

    def __call__(self, x: Any) -> Any:
        dt = self._backend.check_input(x, self.spec.name)
        x = np.asarray(x)
        xc = x.astype(np.float32) if dt in _base.HALF else x
        moved = np.moveaxis(xc, self.channel_axis, 1) if xc.ndim else xc
        shape = moved.shape
        moved = moved.reshape(_base.structural_shape(self.spec, shape, channels_last=False))
        scalars = {k: v.astype(moved.dtype) for k, v in self.trainable.items()}
        y = self.spec.fn(moved, self._backend.ops, **self.layers, **scalars)
        y = np.moveaxis(y.reshape(shape), 1, self.channel_axis)
        return y.astype(x.dtype) if dt in _base.HALF else y

    def __repr__(self) -> str:
        return f"{_base.class_name(self.spec.name)}({format_params(self.params)})"

"""JAX objects built from specs (imported only with jax and flax).

- :class:`JaxActivation`: a pure callable for activations without trainable
  parameters; works under ``jax.jit``, ``jax.grad`` and ``jax.vmap``.
- :class:`PolyactModule`: base of the ``flax.nnx.Module`` classes (one per
  spec, named after it) for activations with trainable parameters, held as
  ``nnx.Param``.
- :class:`PolyactStructural`: base of the ``nnx.Module`` classes of structural
  activations (sub-layers ``nnx.Conv``/``nnx.BatchNorm``, NHWC input), with
  :func:`load_torch_state`/:func:`torch_state` to move weights from and to the
  torch layout.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..errors import ActivationError
from ..spec import ActivationSpec, Kernel
from . import _base
from ._layers import FunctionActivation, format_params

# attribute names a parameter or layer may not take (they would shadow the module's own)
_RESERVED = frozenset(
    ("spec", "kernel", "channel_axis", "num_channels", "params", "state_dict", "load_state_dict")
)


def _static(value: Any) -> Any:
    """A hashable, data-free form of a fixed parameter value (an nnx static
    attribute): numbers stay, sequences and concrete arrays become a float or a
    tuple of floats; a tracer is returned unchanged."""
    if isinstance(value, (list, tuple)) or hasattr(value, "shape"):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except Exception:  # a tracer (built inside a transformation)
            return value
        if arr.ndim == 0 and not isinstance(value, (list, tuple)):
            return float(arr)
        return tuple(float(v) for v in arr.reshape(-1))
    return value


def _check_name(spec: ActivationSpec, key: str, base: type) -> None:
    if key in _RESERVED or hasattr(base, key) or key.startswith("_"):
        raise ActivationError(
            f"{spec.name}: the name {key!r} clashes with an attribute of the JAX module; rename it."
        )


# --------------------------------------------------------------------------- pure callable
class JaxActivation(FunctionActivation):
    """A stateless JAX activation: call it on an array (under jit, grad, vmap too).

    ``params`` holds its parameters. Two instances with the same activation,
    kernel and parameters compare equal and hash alike, so they can be static
    arguments and ``nnx`` static attributes without recompiling.
    """

    def _key(self) -> Tuple[Any, ...]:
        params = []
        for k, v in self.params.items():
            v = _static(v)
            try:
                hash(v)
            except TypeError:  # a tracer: only equal to itself
                v = ("id", id(v))
            params.append((k, v))
        return (id(self.spec), self.kernel, self.channel_axis, tuple(params))

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())


# --------------------------------------------------------------------------- trainable
class PolyactModule(nnx.Module):
    """Base of the polyact ``nnx.Module`` classes with trainable parameters.

    Trainable parameters are ``nnx.Param`` attributes named after the
    parameter (float32; scalar, or ``(num_channels,)`` for per-channel ones,
    broadcast along ``channel_axis``); fixed parameters are static.
    """

    spec: ActivationSpec

    def __init__(
        self,
        backend: Any,
        spec: ActivationSpec,
        kernel: Kernel,
        params: Dict[str, Any],
        options: Dict[str, Any],
    ) -> None:
        self.kernel = kernel.name
        state = _base.module_state(backend, spec, params, options)
        self.channel_axis, self.num_channels = state.channel_axis, state.num_channels
        for k, v in state.trainable.items():
            _check_name(spec, k, type(self))
            setattr(self, k, nnx.Param(jnp.asarray(v, dtype=jnp.float32)))
        self._fixed = tuple((k, _static(v)) for k, v in state.fixed.items())
        self._run = backend.runner(spec, kernel.impl, {"channel_axis": self.channel_axis})
        if spec.noise is not None:
            # as nnx.Dropout: noise unless deterministic (``module.eval()`` sets it),
            # drawn from the ``noise`` stream of ``rngs`` (or its default stream)
            rngs = options.get("rngs")
            if rngs is None and options.get("seed") is not None:
                rngs = nnx.Rngs(int(options["seed"]))
            self.rngs = rngs
            self.deterministic = False

    def __call__(self, x: Any, *, rngs: Any = None) -> Any:
        params = dict(self._fixed)
        for k in self.spec.trainable:
            params[k] = getattr(self, k).get_value()
        if self.spec.noise is not None and not self.deterministic:
            rngs = rngs if rngs is not None else self.rngs
            if rngs is None:
                raise ActivationError(
                    f"{self.spec.name} is stochastic: build it with rngs=nnx.Rngs(0) (or seed=...), pass "
                    f"rngs= to the call, or call module.eval() for the deterministic evaluation mode."
                )
            return self._run(x, params, rngs.noise())
        return self._run(x, params)

    @property
    def params(self) -> Dict[str, Any]:
        """Every parameter: fixed values and the current trainable arrays."""
        out = dict(self._fixed)
        for k in self.spec.trainable:
            out[k] = getattr(self, k).get_value()
        return {k: out[k] for k in self.spec.params if k in out}

    def __repr__(self) -> str:
        parts = [format_params({k: _short(v) for k, v in self.params.items()})]
        if self.spec.per_channel:
            parts.append(f"num_channels={self.num_channels}, channel_axis={self.channel_axis}")
        if self.kernel != "auto":
            parts.append(f"kernel={self.kernel!r}")
        return f"{type(self).__name__}({', '.join(p for p in parts if p)})"


def _short(v: Any) -> Any:
    if isinstance(v, tuple):
        return np.asarray(v)
    if hasattr(v, "shape"):
        a = np.asarray(v, dtype=np.float64)
        return float(a) if a.ndim == 0 else a
    return v


# --------------------------------------------------------------------------- structural
def _layer_builders(rngs: Any) -> Dict[str, Any]:
    def depthwise_conv2d(c: int, layer: Any) -> Any:
        k, padding, bias = _base.conv_options(layer)
        return nnx.Conv(
            c, c, kernel_size=(k, k), padding=padding, feature_group_count=c, use_bias=bias, rngs=rngs
        )

    def batch_norm(c: int, layer: Any) -> Any:
        eps, momentum = _base.batch_norm_options(layer)
        return nnx.BatchNorm(
            c, epsilon=eps, momentum=1.0 - momentum, rngs=rngs
        )  # flax weighs the running value

    return {"depthwise_conv2d": depthwise_conv2d, "batch_norm": batch_norm}


class PolyactStructural(nnx.Module):
    """Base of structural activations on JAX: sub-layers with state, NHWC input.

    ``depthwise_conv2d`` -> ``nnx.Conv`` (``feature_group_count`` = channels,
    kernel ``(k, k, 1, C)``), ``batch_norm`` -> ``nnx.BatchNorm`` (flax momentum
    = 1 - torch momentum). Train/eval modes the nnx way: ``module.train()``,
    ``module.eval()`` or ``nnx.view(module, use_running_average=...)``; a new
    module starts in training mode, like torch.
    """

    spec: ActivationSpec

    def __init__(
        self, backend: Any, spec: ActivationSpec, params: Dict[str, Any], options: Dict[str, Any]
    ) -> None:
        rngs = options.get("rngs") or nnx.Rngs(int(options.get("seed", 0)))
        self._params = tuple((k, _static(v)) for k, v in params.items() if k not in spec.trainable)
        self.channel_axis = _base.structural_axis(spec, options, backend)
        for key, mod in _base.build_layers(backend, spec, params, _layer_builders(rngs)).items():
            _check_name(spec, key, type(self))
            setattr(self, key, mod)
        for k in spec.trainable:  # trainable scalars beside the layers
            _check_name(spec, k, type(self))
            setattr(self, k, nnx.Param(jnp.asarray(float(params[k]), dtype=jnp.float32)))
        self._backend = backend

    @property
    def params(self) -> Dict[str, Any]:
        return dict(self._params)

    def __call__(self, x: Any) -> Any:
        backend = self._backend
        dt = backend.check_input(x, self.spec.name)
        xc = x.astype(jnp.float32) if dt in _base.HALF else x
        _base.structural_shape(self.spec, tuple(xc.shape), channels_last=True)  # checks the rank
        axis = self.channel_axis % xc.ndim
        last = xc.ndim - 1
        moved = jnp.moveaxis(xc, axis, -1) if axis != last else xc
        shape = tuple(moved.shape)
        moved = moved.reshape(_base.structural_shape(self.spec, shape, channels_last=True))
        layers = {k: getattr(self, k) for k in self.spec.layers}
        layers.update({k: getattr(self, k).get_value() for k in self.spec.trainable})
        y = self.spec.fn(moved, backend.ops, **layers).reshape(shape)
        y = jnp.moveaxis(y, -1, axis) if axis != last else y
        return y.astype(x.dtype) if dt in _base.HALF else y

    def state_dict(self) -> Dict[str, np.ndarray]:
        """The sub-layers' state as NumPy arrays under torch's keys and layouts."""
        return torch_state(self)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Load a torch-layout state dict (see :func:`load_torch_state`)."""
        load_torch_state(self, state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({format_params(self.params)})"


# torch key -> (nnx attribute, to nnx layout, to torch layout) per layer kind
_TORCH_KEYS = {
    "depthwise_conv2d": {
        "weight": (
            "kernel",
            lambda w: np.transpose(w, (2, 3, 1, 0)),
            lambda k: np.transpose(k, (3, 2, 0, 1)),
        ),
        "bias": ("bias", None, None),
    },
    "batch_norm": {
        "weight": ("scale", None, None),
        "bias": ("bias", None, None),
        "running_mean": ("mean", None, None),
        "running_var": ("var", None, None),
    },
}


def _as_numpy(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach().cpu()
        if str(v.dtype) == "torch.bfloat16":
            v = v.float()
        v = v.numpy()
    return np.asarray(v)


def load_torch_state(module: Any, state: Dict[str, Any]) -> Any:
    """Copy a torch ``state_dict`` (NumPy arrays or tensors) into a structural
    nnx module: ``conv.weight (C, 1, k, k)`` -> ``conv.kernel (k, k, 1, C)``,
    ``conv.bias``, ``bn.weight/bias/running_mean/running_var`` ->
    ``bn.scale/bias/mean/var``; ``num_batches_tracked`` is ignored. Returns the module."""
    spec = module.spec
    for key, value in state.items():
        if key in spec.trainable:
            getattr(module, key).set_value(jnp.asarray(_as_numpy(value), dtype=jnp.float32).reshape(()))
            continue
        head, _, attr = key.partition(".")
        layer = spec.layers.get(head)
        if attr == "num_batches_tracked" and layer is not None:
            continue
        table = _TORCH_KEYS.get(layer.kind, {}) if layer is not None else {}
        if attr not in table:
            raise ActivationError(f"{spec.name}: unexpected state key {key!r}")
        name, to_nnx, _ = table[attr]
        var = getattr(getattr(module, head), name, None)
        if var is None:
            raise ActivationError(
                f"{spec.name}: state key {key!r} has no counterpart (layer built without it)"
            )
        arr = _as_numpy(value)
        if to_nnx is not None:
            arr = to_nnx(arr)
        old = var.get_value()
        if tuple(arr.shape) != tuple(old.shape):
            raise ActivationError(
                f"{spec.name}: state key {key!r} has shape {tuple(_as_numpy(value).shape)}, which does not "
                f"match the module (nnx shape {tuple(old.shape)})"
            )
        # a private copy: jnp.asarray may alias the NumPy buffer (a torch tensor's storage here)
        var.set_value(jnp.array(np.array(arr, dtype=np.dtype(old.dtype), copy=True)))
    return module


def torch_state(module: Any) -> Dict[str, np.ndarray]:
    """The state of a structural nnx module as NumPy arrays in torch's keys and layouts."""
    out: Dict[str, np.ndarray] = {
        k: np.asarray(getattr(module, k).get_value()) for k in module.spec.trainable
    }
    for head, layer in module.spec.layers.items():
        sub = getattr(module, head)
        for attr, (name, _, to_torch) in _TORCH_KEYS[layer.kind].items():
            var = getattr(sub, name, None)
            if var is None:
                continue
            arr = np.asarray(var.get_value())
            out[f"{head}.{attr}"] = to_torch(arr) if to_torch is not None else arr.copy()
    return out


# --------------------------------------------------------------------------- building
def build_module(
    backend: Any, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
) -> Any:
    if spec.kind == "structural":
        return _base.spec_class(spec, PolyactStructural, __name__, "jax")(backend, spec, params, options)
    if spec.trainable or spec.noise is not None:
        return _base.spec_class(spec, PolyactModule, __name__, "jax")(backend, spec, kernel, params, options)
    return JaxActivation(backend, spec, kernel, params, options)


def param_grads(module: Any, x: Any) -> Tuple[Any, Dict[str, Any]]:
    """``(module(x), {name: d sum(module(x)) / d param})``, gradients as float64 NumPy arrays."""
    if not isinstance(module, nnx.Module):
        return module(x), {}

    def f(m: Any) -> Any:
        y = m(x)
        return jnp.sum(y), y

    (_, y), grads = nnx.value_and_grad(f, has_aux=True)(module)
    out: Dict[str, Any] = {}
    for path, v in nnx.to_flat_state(grads):
        value = v.get_value() if hasattr(v, "get_value") else v
        out[".".join(str(p) for p in path)] = np.asarray(value, dtype=np.float64)
    return y, out

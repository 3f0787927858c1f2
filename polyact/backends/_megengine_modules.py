"""megengine.module.Module classes built from specs (imported only with MegEngine)."""

from __future__ import annotations

from typing import Any, Dict

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from ..errors import ActivationError
from ..spec import ActivationSpec, Kernel
from . import _base
from ._layers import format_params
from .megengine import NAME, torch_momentum_to_megengine

_RUNTIME = ("_run", "_backend", "_noise_rng", "_plain")


def _as_local_state(module: M.Module, state: Dict[str, Any]) -> Dict[str, Any]:
    """``state`` as float32 NumPy arrays in the module's own shapes: accepts
    float64 arrays (MegEngine has no float64), torch tensors, lists, and arrays
    in torch's layout of the same size (torch's conv weight (C, 1, k, k), biases
    (C,)); drops ``num_batches_tracked`` (MegEngine keeps none)."""
    shapes = {k: tuple(v.shape) for (_, k), v in module._state_dict(keep_var=True).items()}
    out: Dict[str, Any] = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked") and key not in shapes:
            continue
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        arr = np.asarray(value.numpy() if isinstance(value, mge.Tensor) else value)
        if arr.dtype.kind == "f" or arr.dtype.name.endswith("bfloat16"):
            arr = arr.astype(np.float32)
        shape = shapes.get(key)
        if shape is not None and arr.shape != shape and arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        out[key] = np.array(arr, copy=True, order="C")  # (ascontiguousarray makes 0-d 1-d)
    return out


class _Probe(M.Module):
    def forward(self, x: Any) -> Any:
        return x


_PLAIN = (type(None), bool, int, float, str)
_PLAIN_VALUES = (*_PLAIN, np.ndarray, np.generic)


def _plain_value(v: Any) -> bool:
    """A value with no tensor or module inside: plain, or a tuple of such."""
    if isinstance(v, _PLAIN_VALUES):
        return True
    return type(v) is tuple and all(_plain_value(i) for i in v)


_BASE_STATE: Any = None


def _base_init(module: M.Module) -> None:
    """``megengine.module.Module.__init__`` for ``module``, fast.

    MegEngine's own ``__init__`` sets eight attributes through its
    ``__setattr__`` (about 15 us, most of a ``get_activation`` call). The
    attributes it sets are recorded once from a probe module; when they are all
    plain values, empty dicts and lists of strings, each new module gets a copy
    (fresh lists and dicts), which is what ``__init__`` would have made. Anything
    else (another MegEngine version) falls back to calling ``__init__``."""
    global _BASE_STATE
    if _BASE_STATE is None:
        state = dict(_Probe().__dict__)
        ok = all(
            isinstance(v, _PLAIN)
            or (type(v) is list and all(isinstance(e, str) for e in v))
            or (isinstance(v, dict) and not v)
            for v in state.values()
        )
        _BASE_STATE = state if ok else False
    if _BASE_STATE is False:
        M.Module.__init__(module)
        return
    d = module.__dict__
    for k, v in _BASE_STATE.items():
        d[k] = list(v) if type(v) is list else type(v)() if isinstance(v, dict) else v


def set_plain(module: M.Module, name: str, value: Any) -> None:
    """``module.name = value`` for a dict or list of plain values (numbers,
    strings, NumPy arrays, tuples of these: no tensor or module to name), as
    MegEngine's ``__setattr__`` would record it (listed among the sub-structures
    it walks) without its per-element walk (a few microseconds); anything else
    goes through ``__setattr__``."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
    modules = module.__dict__.get("_modules")
    if items is None or type(modules) is not list or not all(map(_plain_value, items)):
        setattr(module, name, value)
        return
    object.__setattr__(module, name, value)
    if name not in modules:
        modules.append(name)


class PolyactModule(M.Module):
    """Base of every polyact MegEngine activation module.

    Trainable parameters are ``megengine.Parameter`` attributes: shape ``()``
    for scalars, ``(num_channels,)`` for per-channel ones (broadcast along
    ``channel_axis``, default 1 = NCHW). Fixed parameters are plain attributes.
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
        if options.get("inplace"):
            raise ActivationError(
                f"{spec.name}: MegEngine modules have no in-place variant; build it without inplace=True."
            )
        _base_init(self)
        state = _base.module_state(backend, spec, params, options)
        # plain values: MegEngine's __setattr__ (about 1 us each) only names tensors
        # and registers modules, lists and dicts, so these bypass it
        for k, v in (
            ("kernel", kernel.name),
            ("channel_axis", state.channel_axis),
            ("num_channels", state.num_channels),
            ("_trainable", spec.trainable),
        ):
            object.__setattr__(self, k, v)
        set_plain(self, "_fixed", state.fixed)
        for k, v in state.trainable.items():  # scalars become 0-d Parameters
            setattr(self, k, mge.Parameter(np.asarray(v, dtype=np.float32), dtype="float32"))
        # stochastic: noise in training mode only, from RNG(seed) or the global generator
        object.__setattr__(self, "_noise_seed", options.get("seed"))
        self._bind(backend, kernel)

    def _bind(self, backend: Any, kernel: Kernel) -> None:
        # object.__setattr__: keep these out of MegEngine's attribute bookkeeping
        object.__setattr__(
            self, "_run", backend.runner(self.spec, kernel.impl, {"channel_axis": self.channel_axis})
        )
        object.__setattr__(self, "_backend", backend)
        # no trainable parameters or noise: calls hand the fixed values over as they are
        object.__setattr__(self, "_plain", not self._trainable and self.spec.noise is None)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        for k in _RUNTIME:
            state.pop(k, None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        from .. import registry

        super().__setstate__(state)
        backend = registry.get_backend("megengine")
        self._bind(backend, registry.kernel_object(self.spec, backend, self.kernel, self._fixed))

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:
        """MegEngine's ``load_state_dict``; a dict may also hold float64 arrays or
        torch tensors (a torch module's ``state_dict()`` loads as it is)."""
        if isinstance(state_dict, dict):
            state_dict = _as_local_state(self, state_dict)
        return super().load_state_dict(state_dict, strict)

    def forward(self, x: Any) -> Any:
        if self._plain:  # the common call (runners never change what they get)
            return self._run(x, self._fixed)
        params = dict(self._fixed)
        for k in self._trainable:
            params[k] = getattr(self, k)
        if self.spec.noise is not None and self.training:
            return self._run(x, params, self._rng())
        return self._run(x, params)

    def _rng(self) -> Any:
        if self._noise_seed is None:
            return True
        rng = self.__dict__.get("_noise_rng")
        if rng is None:
            rng = mge.random.RNG(seed=int(self._noise_seed))
            object.__setattr__(self, "_noise_rng", rng)
        return rng

    def _module_info_string(self) -> str:
        parts = [format_params(self._fixed)] if self._fixed else []
        if self.spec.per_channel:
            parts.append(f"num_channels={self.num_channels}, channel_axis={self.channel_axis}")
        if self.kernel != "auto":
            parts.append(f"kernel={self.kernel!r}")
        return ", ".join(p for p in parts if p)


def _depthwise_conv2d(c: int, layer: Any) -> Any:
    k, padding, bias = _base.conv_options(layer)
    return M.Conv2d(c, c, k, padding=padding, groups=c, bias=bias)


def _batch_norm(c: int, layer: Any) -> Any:
    # the spec's momentum follows torch (weight of the batch statistic);
    # MegEngine's weighs the running value: torch 0.1 == MegEngine 0.9
    eps, momentum = _base.batch_norm_options(layer)
    return M.BatchNorm2d(c, eps=eps, momentum=torch_momentum_to_megengine(momentum))


_LAYERS = {"depthwise_conv2d": _depthwise_conv2d, "batch_norm": _batch_norm}


class PolyactStructural(M.Module):
    """Base of structural activations (sub-layers with state), NCHW by default.

    ``state_dict()`` uses MegEngine's own layouts (depthwise weight (C, 1, 1, k, k),
    conv bias (1, C, 1, 1)); ``load_torch_state``/``torch_state`` convert from and
    to torch's (and polyact NumPy's) layout, so weights move between backends.
    """

    spec: ActivationSpec

    def __init__(
        self, backend: Any, spec: ActivationSpec, params: Dict[str, Any], options: Dict[str, Any]
    ) -> None:
        super().__init__()
        if "seed" in options:
            mge.random.seed(int(options["seed"]))
        self.params = {k: v for k, v in params.items() if k not in spec.trainable}
        self.channel_axis = _base.structural_axis(spec, options, backend)
        self.channels = int(params[spec.channels_param])  # type: ignore[index]
        for key, mod in _base.build_layers(backend, spec, params, _LAYERS).items():
            setattr(self, key, mod)
        for k in spec.trainable:  # trainable scalars beside the layers: 0-d Parameters
            setattr(self, k, mge.Parameter(np.asarray(float(params[k]), dtype=np.float32), dtype="float32"))
        object.__setattr__(self, "_backend", backend)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_backend", None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        from .. import registry

        super().__setstate__(state)
        object.__setattr__(self, "_backend", registry.get_backend("megengine"))

    def forward(self, x: Any) -> Any:
        backend = self._backend
        dt = backend.check_input(x, self.spec.name)
        xc = backend._promote(x) if dt in _base.HALF else x
        nd = xc.ndim
        _base.structural_shape(self.spec, tuple(xc.shape), channels_last=False)  # checks the rank
        axis = self.channel_axis % nd
        perm = None
        if axis != 1:
            perm = [0, axis] + [i for i in range(1, nd) if i != axis]
            xc = F.transpose(xc, perm)
        shape = tuple(xc.shape)
        xc = xc.reshape(_base.structural_shape(self.spec, shape, channels_last=False))
        layers = {k: getattr(self, k) for k in self.spec.layers}
        layers.update({k: getattr(self, k) for k in self.spec.trainable})
        y = self.spec.fn(xc, backend.ops, **layers).reshape(shape)
        if perm is not None:
            y = F.transpose(y, [perm.index(i) for i in range(nd)])
        return backend._demote(y, dt) if dt in _base.HALF else y

    # ------------------------------------------------------------------ torch layout
    def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:
        """MegEngine's ``load_state_dict``; a dict may also be in torch's layout
        (``conv.weight`` (C, 1, k, k), ``conv.bias`` (C,), ``bn.*`` (C,), an ignored
        ``bn.num_batches_tracked``), in float64, or hold torch tensors."""
        if isinstance(state_dict, dict):
            state_dict = _as_local_state(self, state_dict)
        return super().load_state_dict(state_dict, strict)

    def load_torch_state(self, state: Dict[str, Any]) -> None:
        """Load a torch ``FunnelRelu`` state (or polyact NumPy's): ``conv.weight``
        (C, 1, k, k) becomes MegEngine's (C, 1, 1, k, k), ``conv.bias`` (C,) becomes
        (1, C, 1, 1); keys must match exactly (``num_batches_tracked`` aside)."""
        local = self.state_dict()
        unknown = [k for k in state if k not in local and not k.endswith("num_batches_tracked")]
        if unknown:
            raise ActivationError(
                f"{self.spec.name}: unexpected state key(s) {unknown}; expected {sorted(local)}"
            )
        missing = [k for k in local if k not in state]
        if missing:
            raise ActivationError(f"{self.spec.name}: missing state key(s) {missing}")
        converted = _as_local_state(self, state)
        for key, value in local.items():
            if converted[key].size != np.asarray(value).size:
                raise ActivationError(
                    f"{self.spec.name}: state {key!r} has {converted[key].size} values, expected {np.asarray(value).size}"
                )
        self.load_state_dict(converted)

    def torch_state(self) -> Dict[str, Any]:
        """The state as NumPy arrays in torch's layout (``conv.weight`` (C, 1, k, k), the rest (C,))."""
        out = {}
        for key, value in self.state_dict().items():
            a = np.asarray(value)
            if a.ndim == 5:  # grouped conv weight (G, out/G, in/G, k, k) -> (out, in/G, k, k)
                a = a.reshape(a.shape[0] * a.shape[1], a.shape[2], a.shape[3], a.shape[4])
            elif a.ndim == 4 and a.shape[0] == 1 and a.shape[2:] == (1, 1):  # (1, C, 1, 1) bias
                a = a.reshape(-1)
            out[key] = a.copy()
        return out

    def _module_info_string(self) -> str:
        return format_params(self.params)


def build_module(
    backend: Any, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
) -> M.Module:
    if spec.kind == "structural":
        return _base.spec_class(spec, PolyactStructural, __name__, NAME)(backend, spec, params, options)
    return _base.spec_class(spec, PolyactModule, __name__, NAME)(backend, spec, kernel, params, options)

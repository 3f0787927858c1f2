"""The contract every backend module fulfils, and the logic they share.

A backend module defines one subclass of :class:`Backend` and exposes a single
instance named ``backend``. The subclass supplies the framework hooks
(``_make_ops``, ``dtype_name``, ``to_numpy``, ``from_numpy``, ``_promote``,
``_demote``, ``_channel_param``, ``make_module``); everything else (input
checks, half precision computed in float32, kernel wrapping, parameter
splitting) lives here once.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import numbers
import re
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

from .. import _limits
from ..errors import ActivationError, BackendNotInstalledError, InvalidInputError
from ..ops import Ops, _check_even
from ..spec import ActivationSpec, Kernel, Layer

HALF = ("float16", "bfloat16")
FLOAT = ("float16", "bfloat16", "float32", "float64")
#: runners kept per backend (see :meth:`Backend.runner`); the cache starts over when full
_RUNNER_CACHE_SIZE = 1024

# module roots of tensor types -> backend name (for friendly wrong-backend errors)
_TYPE_ROOTS = {
    "torch": "torch",
    "jax": "jax",
    "jaxlib": "jax",
    "megengine": "megengine",
    "numpy": "numpy",
}


def owner_of(x: Any) -> Optional[str]:
    """The backend whose tensor type ``x`` is, judged from class modules only."""
    for cls in type(x).__mro__:
        root = (getattr(cls, "__module__", "") or "").split(".", 1)[0]
        if root in _TYPE_ROOTS:
            return _TYPE_ROOTS[root]
    return None


def _never(*args: Any) -> bool:
    return False


def plain_values(params: Mapping[str, Any]) -> bool:
    """Whether every parameter value is a plain Python/NumPy scalar, string,
    bool or None (values a probe's result may be cached under)."""
    return all(v is None or isinstance(v, (numbers.Real, str)) for v in params.values())


def special_probe(lim: Any, npdt: Any) -> Tuple[Any, Any, Any, Any]:
    """(inputs, values, derivatives, check) to test whether a kernel already
    gives what the special-value guard would, for limits ``lim`` (None: NaN at
    NaN only) in NumPy dtype ``npdt``. The inputs repeat -inf, +inf, NaN, -NaN
    and 1 (period 5, coprime to every SIMD width: each special in every lane;
    1030 elements leave a scalar tail); ``check`` marks where to compare (an
    int array: 0 not compared, 1 a limit, 2 and 3 the two NaN kinds)."""
    import numpy as np  # (not at import: ``import polyact`` loads no NumPy)

    lm, dm, lp, dp = lim if lim is not None else (None,) * 4
    nan = float("nan")
    n = 206
    inputs = np.array([-float("inf"), float("inf"), nan, -nan, 1.0] * n)

    def want(neg: Any, pos: Any) -> Any:
        return np.array([neg, pos, nan, nan, 0.0] * n, dtype=np.float64).astype(npdt).astype(np.float64)

    # the guard fixes NaN only when the limits are unknown: +-inf keep the kernel's results
    check = np.array(([1, 1] if lim is not None else [0, 0]) + [2, 3, 0])
    return inputs, want(lm, lp), want(dm, dp), np.tile(check, n)


def same_bits(got: Any, want: Any, check: Any) -> bool:
    """Whether float64 ``got`` holds ``want`` at the positions :func:`special_probe`
    marks: limits bit for bit (signed zeros told apart), and at NaN inputs a NaN,
    one bit pattern per input NaN kind (an op whose SIMD loop and scalar tail
    make different NaNs would make results depend on the thread count). The
    NaN's sign may differ from the guard's: x86 arithmetic makes negative NaNs
    and IEEE 754 leaves a NaN's sign unspecified. Where the limit itself is NaN
    (no limit) any NaN holds it: a GPU's arithmetic makes its own NaN."""
    import numpy as np

    lim = check == 1
    g, w = got[lim], want[lim]
    nan = np.isnan(w)
    if not np.isnan(g[nan]).all() or not np.array_equal(g[~nan].view(np.int64), w[~nan].view(np.int64)):
        return False
    for kind in (2, 3):
        g = got[check == kind]
        if g.size and (not np.isnan(g).all() or np.unique(g.view(np.int64)).size > 1):
            return False
    return True


def class_name(name: str) -> str:
    """``leaky_relu`` -> ``LeakyRelu`` (a readable module class name)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


class Backend:
    """Base class of the backends. Subclasses set the class attributes below."""

    name: str = ""
    framework: str = ""  # top-level import name of the framework
    install: str = ""  # the command that installs it
    default_channel_axis: int = 1
    dtypes: Tuple[str, ...] = FLOAT

    def __init__(self) -> None:
        self._fw: Any = None
        self._ops: Optional[Ops] = None

    def __repr__(self) -> str:
        return f"<polyact backend {self.name!r}>"

    # ------------------------------------------------------------------ framework
    def is_available(self) -> bool:
        """Whether the framework can be imported (checked without importing it)."""
        try:
            return importlib.util.find_spec(self.framework) is not None
        except (ImportError, ValueError):
            return False

    @property
    def fw(self) -> Any:
        """The framework module, imported on first use."""
        if self._fw is None:
            try:
                self._fw = self._import()
            except ImportError as exc:
                raise BackendNotInstalledError(
                    f"The {self.name!r} backend needs the {self.framework!r} package, which cannot "
                    f"be imported here ({exc}). Install it with: {self.install}"
                ) from None
        return self._fw

    def _import(self) -> Any:
        return importlib.import_module(self.framework)

    @property
    def ops(self) -> Ops:
        if self._ops is None:
            self.fw  # noqa: B018  (raises a clear error when missing)
            self._ops = self._make_ops()
        return self._ops

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is this backend's tensor type (no framework import)."""
        return owner_of(x) == self.name

    # ------------------------------------------------------------------ hooks
    def _make_ops(self) -> Ops:
        raise NotImplementedError

    def dtype_name(self, x: Any) -> str:
        """The dtype of ``x`` as a string (``"float32"``, ``"int64"``, ...)."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        raise NotImplementedError

    def from_numpy(self, a: Any, dtype: Optional[str] = None) -> Any:
        raise NotImplementedError

    def _promote(self, x: Any) -> Any:
        """Half precision -> float32."""
        raise NotImplementedError

    def _demote(self, y: Any, dtype: str) -> Any:
        """float32 -> ``dtype`` (rounded once)."""
        raise NotImplementedError

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        """A per-channel parameter as a tensor broadcasting along ``axis`` of ``like``."""
        raise NotImplementedError

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        """The native object for ``get_activation`` (module, callable, nnx.Module)."""
        raise NotImplementedError

    differentiable: bool = True

    def value_and_grad(self, f: Callable[..., Any], x: Any) -> Tuple[Any, Any]:
        """``(f(x), d sum(f(x)) / dx)`` as backend tensors (the cotangent is all ones)."""
        raise NotImplementedError

    def param_grads(self, module: Any, x: Any) -> Tuple[Any, Dict[str, Any]]:
        """``(module(x), {name: d sum(module(x)) / d param})`` for the trainable
        parameters of an activation module, gradients as NumPy arrays."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared logic
    def check_input(self, x: Any, name: str) -> str:
        """The dtype name of ``x`` after checking that this backend can use it."""
        if not self.owns(x):
            other = owner_of(x)
            if other is None:
                raise InvalidInputError(
                    f"{name} on the {self.name!r} backend expects a {self.name} tensor. "
                    f"Received: {type(x).__module__}.{type(x).__qualname__}"
                )
            raise InvalidInputError(
                f"{name} was built for the {self.name!r} backend but received a {other} tensor "
                f"({type(x).__qualname__}). Build it for that backend instead: "
                f"get_activation({name!r}, backend={other!r}), or convert the tensor."
            )
        dt = self.dtype_name(x)
        if dt not in FLOAT:
            raise InvalidInputError(
                f"{name} needs a floating-point tensor, got dtype {dt}. "
                f"Cast it to a floating dtype first (for example float32)."
            )
        return dt

    def builtin_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        """The kernels every (spec, backend) pair has: ``native`` where the spec
        declares one for this backend, ``composed`` always, ``fast`` where the
        spec has a cheaper formula, and the backend's :meth:`extra_kernels`.
        Built once per spec (a new dict each call)."""
        cache = self.__dict__.setdefault("_kernel_tables", {})
        hit = cache.get(spec.name)
        if hit is not None and hit[0] is spec:
            return dict(hit[1])
        table = self._build_kernels(spec)
        cache[spec.name] = (spec, table)
        return dict(table)

    def _build_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        out: Dict[str, Kernel] = {}
        # the framework and ops are resolved here, once: a kernel call does no
        # lazy import (torch.compile traces it without graph breaks)
        fw, ops = self.fw, self.ops
        native = spec.native.get(self.name)
        bounded = native is not None and native.bound is not None
        if native is not None:
            nfn = native.fn
            # an op correct up to a bound: no in-place variant (it would skip the check)
            nin = None if bounded else native.inplace

            def native_impl(x: Any, **p: Any) -> Any:
                return nfn(fw, x, **p)

            inplace = None
            if nin is not None:

                def inplace(x: Any, **p: Any) -> Any:
                    return nin(fw, x, **p)

            out["native"] = Kernel(
                "native",
                self.name,
                "native",
                native_impl,
                inplace=inplace,
                eligible=native.eligible if not bounded or self.checks_bounds else False,
                note=native.note,
                onnx=native.onnx,
            )
        fn = spec.fn

        def composed(x: Any, **p: Any) -> Any:
            return fn(x, ops, **p)

        out["composed"] = Kernel("composed", self.name, "composed", composed)
        if bounded and self.checks_bounds:
            # the runner's eager check runs the op bare where the whole input is
            # within the bound; every call that takes the guard (beyond the bound,
            # special values, compiling, exporting, a GPU) runs ``beyond``: the op
            # within the bound (on the input with the rest set to 0, so that its
            # gradient there stays finite), the formula outside
            b = float(native.bound)  # type: ignore[union-attr,arg-type]
            where, absolute = ops.where, ops.abs

            def beyond(x: Any, **p: Any) -> Any:
                inside = absolute(x) <= b
                y = nfn(fw, where(inside, x, x * 0.0), **p)
                return where(inside, y, fn(x, ops, **p))

            native_impl.bound = b  # type: ignore[attr-defined]
            native_impl.beyond = beyond  # type: ignore[attr-defined]
        if spec.fast is not None:
            fast = spec.fast

            def fast_impl(x: Any, **p: Any) -> Any:
                return fast(x, ops, **p)

            out["fast"] = Kernel("fast", self.name, "fast", fast_impl)
        if spec.elementwise:
            out.update(self.extra_kernels(spec))
        return out

    def extra_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        """The backend's further kernels of an element-wise ``spec``: ``fused``
        (where ``spec.grad`` exists: a custom gradient saving only the input;
        its forward is ``spec.fast`` or ``spec.fn``), ``compiled`` (the formula
        through the framework's compiler), ``triton``. Each ``impl(x, **p)``
        follows the :class:`Kernel` contract; the special-value guard wraps it."""
        return {}

    def set_config(self, obj: Any, config: Dict[str, Any]) -> None:
        """Attach ``config`` (what :func:`polyact.to_config` returns) to an
        object :meth:`make_module` built, as its ``polyact_config`` attribute."""
        obj.polyact_config = config

    def make_function(
        self,
        spec: ActivationSpec,
        kernel: Kernel,
        params: Dict[str, Any],
        options: Mapping[str, Any],
    ) -> Callable[..., Any]:
        """A plain function ``f(x, **params)`` running ``kernel`` with ``params``
        as defaults; keyword arguments override them per call."""
        if spec.kind == "structural":
            raise ActivationError(
                f"{spec.name} is a structural activation (it holds layers with state); "
                f"build a module with get_activation({spec.name!r}, backend={self.name!r}, ...)."
            )
        self.fw  # noqa: B018  (fail early and clearly when missing)
        impl = kernel.impl
        return self._wrap(spec, impl, params, options)

    def runner(
        self, spec: ActivationSpec, impl: Callable[..., Any], options: Mapping[str, Any]
    ) -> Callable[..., Any]:
        """``run(x, params)``: check the input, compute half precision in float32,
        shape per-channel parameters along the channel axis, call ``impl`` and
        round back. No parameter validation (modules and functions do that).

        A runner holds no per-object state, so objects built on the same spec,
        kernel (or shared auto selector) and channel axis share one (made once:
        building an activation object is on the hot path of model construction)."""
        axis = options.get("channel_axis", self.default_channel_axis)
        cache = self.__dict__.setdefault("_runners", {})
        key = (spec.name, id(impl), axis)
        hit = cache.get(key)
        if hit is not None and hit[0] is spec and hit[1] is impl:
            return hit[2]
        run = self._build_runner(spec, impl, options)
        if len(cache) >= _RUNNER_CACHE_SIZE:
            cache.clear()
        cache[key] = (spec, impl, run)  # holding impl keeps its id from being reused
        return run

    def _build_runner(
        self, spec: ActivationSpec, impl: Callable[..., Any], options: Mapping[str, Any]
    ) -> Callable[..., Any]:
        """The runner :meth:`runner` returns (backends wrap it here)."""
        axis = options.get("channel_axis", self.default_channel_axis)
        channel_keys = tuple(k for k, p in spec.params.items() if p.per_channel)
        name = spec.name
        check, promote, demote = self.check_input, self._promote, self._demote
        chan, cast = self._channel_param, self._cast_param

        layout = self._layout
        guard, limits_of = self.guard_specials and spec.elementwise, self._limits
        backend = self  # _guarded is looked up per guarded call (runners are shared and long-lived)
        runs_bare = self._bare_check(spec) if guard else _never

        gated = spec.kind == "gated"
        noise, draw = spec.noise, self.draw
        # kernel="auto" hands over an AutoKernel that resolves per call
        pick = self._picker(impl) if hasattr(impl, "pick") else None
        fixed_impl = impl
        # no per-channel values, gate or noise: a call without parameters on a
        # full-precision input takes a short path (the fixed cost of every call)
        plain = not channel_keys and not gated and noise is None
        # the limits of a call without parameters, for a spec that has none: fixed
        lim0 = _fixed_limits(limits_of, spec) if guard and plain and not spec.params else None

        def run(x: Any, params: Mapping[str, Any], rng: Any = None) -> Any:
            """``rng``: None in evaluation mode; in training mode (stochastic
            activations) the backend's generator, or True for its global one."""
            dt = check(x, name)
            impl = fixed_impl if pick is None else pick(dt, x, params)
            if plain and not params and dt not in HALF:
                xc = layout(x)
                if guard and not runs_bare(xc, impl, params):
                    lim = lim0 if lim0 is not None else limits_of(spec, params)
                    return backend._guarded(getattr(impl, "beyond", impl), xc, {}, lim)
                return impl(xc)
            if gated:  # one message on every backend and kernel (natives raise their own)
                _check_even(tuple(x.shape), params["axis"])
            xc = promote(x) if dt in HALF else layout(x)
            p = {k: cast(v, xc) for k, v in params.items()} if params else {}
            for k in channel_keys:
                p[k] = chan(p[k], xc, axis)
            if noise is not None and rng is not None:
                p["noise"] = draw(noise, xc, rng)
            if guard and not runs_bare(xc, impl, params):
                y = backend._guarded(getattr(impl, "beyond", impl), xc, p, limits_of(spec, params))
            else:
                y = impl(xc, **p)
            return demote(y, dt) if dt in HALF else y

        return run

    def _picker(self, auto: Any) -> Callable[..., Callable[..., Any]]:
        """``pick(dtype, x, params)``: the impl an
        :class:`~polyact.selection.AutoKernel` chooses for input ``x`` of
        ``dtype`` with ``params``, on the device :meth:`_device_of` names
        (backends may add the framework's export/compile state)."""
        live_param, numel, device_of = self._live_param, self._numel, self._device_of

        def pick(dt: str, x: Any, params: Mapping[str, Any]) -> Callable[..., Any]:
            live = any(live_param(v) for v in params.values()) if params else False
            return auto.pick(dt, device_of(x), live=live, size=numel(x)).impl

        return pick

    def _device_of(self, x: Any) -> Optional[str]:
        """The calibration table's device for a call on ``x`` (see
        :func:`polyact._calibration.device_key`); None: the CPU's rankings."""
        return None

    def _numel(self, x: Any) -> Optional[int]:
        """The number of elements of ``x`` (auto reads large inputs' rankings),
        or None when it is not a plain number (a symbolic shape)."""
        n = getattr(x, "size", None)
        return n if type(n) is int else None

    def _live_param(self, value: Any) -> bool:
        """Whether a parameter value is being differentiated (then only kernels
        with parameter gradients may run)."""
        return False

    def draw(self, dist: str, like: Any, rng: Any) -> Any:
        """Noise for a stochastic activation: ``dist`` (uniform on [0, 1) or
        standard normal) draws shaped and typed like ``like``, from ``rng`` (the
        backend's generator, or True for the framework's global one)."""
        raise NotImplementedError(f"the {self.name} backend has no stochastic activations")

    def training_rng(self, spec: ActivationSpec, rng: Any) -> Any:
        """The generator a function call in training mode uses (``rng`` given
        by the caller, or None)."""
        return True if rng is None else rng

    #: whether kernels run behind the special-value guard (see :mod:`polyact._limits`)
    guard_specials: bool = True
    #: whether eager calls can check that an input is within a native op's
    #: ``bound`` (:class:`~polyact.spec.Native`); else such ops are not eligible
    checks_bounds: bool = False

    def _all_finite(self, x: Any) -> bool:
        """A cheap eager check that every element of ``x`` is finite (then the
        kernel runs without the guard); False when it cannot tell cheaply."""
        return False

    def _bare_check(self, spec: ActivationSpec) -> Callable[[Any, Any, Mapping[str, Any]], bool]:
        """``runs_bare(x, impl, params)``: whether a call of ``impl`` on ``x``
        may skip the special-value guard, because ``x`` is all finite (see
        :meth:`_all_finite`) or because the kernel already gives the contract's
        values and derivatives at special inputs (backends that can tell)."""
        all_finite = self._all_finite

        def runs_bare(x: Any, impl: Any, params: Mapping[str, Any]) -> bool:
            return all_finite(x)

        return runs_bare

    def _limits(self, spec: ActivationSpec, params: Mapping[str, Any]) -> Any:
        """The special-value limits for a call with ``params`` (see :func:`limits_for`)."""
        return limits_for(spec, params, self._concrete)

    def _concrete(self, value: Any) -> Optional[float]:
        """A scalar parameter tensor's value as a float, or None when it cannot be
        read without breaking a trace (or has several channels)."""
        return None

    def _guarded(self, impl: Callable[..., Any], x: Any, p: Mapping[str, Any], lim: Any) -> Any:
        """``impl`` on the finite inputs, the limits at +-inf (``lim``; None: the
        kernel's own), NaN at NaN inputs, forward and backward."""
        raise NotImplementedError

    def _layout(self, x: Any) -> Any:
        """``x`` in the layout kernels get (torch: contiguous, so that strided,
        transposed and expanded inputs give bit-identical values)."""
        return x

    def _cast_param(self, value: Any, like: Any) -> Any:
        """A parameter value ready to combine with ``like`` (framework tensors are
        cast to its dtype; Python numbers stay as they are)."""
        return value

    def _wrap(
        self,
        spec: ActivationSpec,
        impl: Callable[..., Any],
        params: Dict[str, Any],
        options: Mapping[str, Any],
    ) -> Callable[..., Any]:
        run = self.runner(spec, impl, options)
        if spec.noise is not None:
            training_rng = self.training_rng

            def f(x: Any, *, training: bool = False, rng: Any = None, **overrides: Any) -> Any:
                p = spec.bind({**params, **overrides}) if overrides else params
                return run(x, p, training_rng(spec, rng) if training else None)

            f.__name__ = f.__qualname__ = spec.name
            f.__doc__ = spec.docstring(self.name)
            return f

        def f(x: Any, **overrides: Any) -> Any:
            return run(x, spec.bind({**params, **overrides}) if overrides else params)

        # objects that call f without overrides may call run(x, params) directly
        f._polyact_run = (run, params)  # type: ignore[attr-defined]

        # one code object per activation: torch.compile caches compiled frames
        # per code object (8 by default), so functions of different activations
        # compiled directly must not share one
        f.__code__ = f.__code__.replace(co_name=_code_name(spec.name))
        f.__name__ = spec.name
        f.__qualname__ = spec.name
        f.__doc__ = spec.docstring(self.name)
        return f


def finite_on_host(a: Any) -> bool:
    """Whether every element of the NumPy array ``a`` is finite (the eager
    check of backends that read small inputs on the host). Up to 32 elements
    are summed in Python, in double precision: a NaN or an infinity makes the
    sum non-finite, there is no warning at inf - inf (warnings may be errors in
    the caller's process), and an overflowing sum of finite float64 values only
    sends the call through the guard. Larger arrays are counted by NumPy
    (``count_nonzero`` is a C call, where ``ndarray.all`` goes through Python)."""
    if a.size <= 32:
        return math.isfinite(sum(a.ravel().tolist()))
    import numpy as np  # (loaded: ``a`` is one of its arrays)

    return int(np.count_nonzero(np.isfinite(a))) == a.size


def _fixed_limits(limits_of: Callable[..., Any], spec: ActivationSpec) -> Any:
    """The limits of a spec without parameters, or None where they cannot be
    computed now (the guarded call then asks, and reports the error)."""
    try:
        return limits_of(spec, {})
    except Exception:
        return None


def _code_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def limits_for(spec: ActivationSpec, params: Mapping[str, Any], concrete: Callable[[Any], Any]) -> Any:
    """The special-value limits for these parameter values (None: unknown here)."""
    vals = {}
    for k, v in params.items():
        f = v if isinstance(v, (int, float)) else concrete(v)
        if f is None:
            return _limits.static_limits(spec)
        vals[k] = float(f)
    return _limits.limits(spec, vals)


class ModuleState(NamedTuple):
    """What a backend needs to build an activation object."""

    fixed: Dict[str, Any]  # non-trainable values (per-channel ones as float64 arrays)
    trainable: Dict[str, Any]  # initial values: Python floats, or float64 (num_channels,) arrays
    channel_axis: int
    num_channels: int


def module_state(
    backend: Backend, spec: ActivationSpec, params: Mapping[str, Any], options: Mapping[str, Any]
) -> ModuleState:
    """Split bound parameters into fixed and trainable ones, per-channel values
    expanded to ``num_channels`` (one shared value when it is not given)."""
    import numpy as np

    n = int(options.get("num_channels") or 1)
    fixed: Dict[str, Any] = {}
    train: Dict[str, Any] = {}
    for k, v in params.items():
        p = spec.params[k]
        value = np.asarray(per_channel_values(spec, k, v, n)) if p.per_channel else v
        if p.trainable:
            train[k] = value if p.per_channel else float(value)
        else:
            fixed[k] = value
    axis = int(options.get("channel_axis", backend.default_channel_axis))
    return ModuleState(fixed, train, axis, n)


_SPEC_CLASSES: Dict[Tuple[str, str, type], type] = {}


def spec_class(spec: ActivationSpec, base: type, module: str, backend: str) -> type:
    """The class of ``spec``'s objects on a backend: a subclass of ``base`` named
    after the activation (``leaky_relu`` -> ``LeakyRelu``), carrying the spec and
    its generated docstring, created once and set as an attribute of ``module``
    so that instances pickle by reference."""
    import sys

    key = (module, spec.name, base)
    cls = _SPEC_CLASSES.get(key)
    if cls is None or cls.spec is not spec:  # type: ignore[attr-defined]
        name = class_name(spec.name)
        cls = type(name, (base,), {"spec": spec, "__doc__": spec.docstring(backend), "__module__": module})
        cls.__qualname__ = name
        _SPEC_CLASSES[key] = cls
        setattr(sys.modules[module], name, cls)
    return cls


def conv_options(layer: Layer) -> Tuple[int, int, bool]:
    """(kernel_size, padding, bias) of a ``depthwise_conv2d`` layer."""
    k = int(layer.option("kernel_size", 3))
    return k, int(layer.option("padding", k // 2)), bool(layer.option("bias", True))


def batch_norm_options(layer: Layer) -> Tuple[float, float]:
    """(eps, momentum) of a ``batch_norm`` layer; momentum is torch's convention
    (the weight of the batch statistic in the running average)."""
    return float(layer.option("eps", 1e-5)), float(layer.option("momentum", 0.1))


def build_layers(
    backend: Backend,
    spec: ActivationSpec,
    params: Mapping[str, Any],
    builders: Mapping[str, Callable[..., Any]],
) -> Dict[str, Any]:
    """The sub-layers of a structural activation: ``builders[layer.kind](channels, layer)``."""
    channels = int(params[spec.channels_param])  # type: ignore[index]
    out = {}
    for key, layer in spec.layers.items():
        # an option given as a parameter's name takes that parameter's value
        layer = Layer(
            layer.kind, tuple((k, params.get(v, v) if isinstance(v, str) else v) for k, v in layer.options)
        )
        make = builders.get(layer.kind)
        if make is None:
            raise ActivationError(
                f"{spec.name} needs a {layer.kind!r} layer, which the {backend.name} backend does not provide"
            )
        out[key] = make(channels, layer)
    return out


def per_channel_values(spec: ActivationSpec, key: str, value: Any, num_channels: int) -> list:
    """The initial values of a per-channel parameter as a list of ``num_channels`` floats."""
    import numpy as np

    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return [float(arr[0])] * num_channels
    if arr.size != num_channels:
        raise ActivationError(
            f"{spec.name}(): parameter {key!r} has {arr.size} values but num_channels="
            f"{num_channels}. Pass one value or num_channels values."
        )
    return [float(v) for v in arr]


def broadcast_shape(shape: Tuple[int, ...], axis: int, n: int, name: str) -> Tuple[int, ...]:
    """The shape that makes a length-``n`` vector broadcast along ``axis`` of ``shape``."""
    if n == 1:
        return ()
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise InvalidInputError(
            f"{name} has per-channel parameters on channel_axis={axis}, but the input has "
            f"only {ndim} dimension(s)."
        )
    if shape[axis] != n:
        raise InvalidInputError(
            f"{name} has {n} channels but the input has {shape[axis]} along channel_axis={axis} "
            f"(shape {tuple(shape)})."
        )
    out = [1] * ndim
    out[axis] = n
    return tuple(out)


def structural_axis(spec: ActivationSpec, options: Mapping[str, Any], backend: Backend) -> int:
    """The channel axis of a structural activation: the option, else the spec's
    default, else the backend's."""
    if "channel_axis" in options:
        return int(options["channel_axis"])
    return int(spec.channel_axis if spec.channel_axis is not None else backend.default_channel_axis)


def structural_shape(spec: ActivationSpec, shape: Tuple[int, ...], channels_last: bool) -> Tuple[int, ...]:
    """The 4-D shape a structural activation's layers see for an input of
    ``shape`` whose channel axis is already at 1 (or last, ``channels_last``):
    2-D (N, C) and 3-D (N, C, L) inputs gain trailing (leading, when channels
    are last) unit spatial axes. Raises for a rank the spec does not accept."""
    if len(shape) not in spec.input_ndims:
        ranks = " or ".join(f"{n}-D" for n in spec.input_ndims)
        raise ActivationError(f"{spec.name} expects a {ranks} input, got shape {tuple(shape)}")
    if len(shape) == 4:
        return tuple(shape)
    pad = (1,) * (4 - len(shape))
    if channels_last:
        return (shape[0], *shape[1:-1], *pad, shape[-1])
    return (*shape, *pad)

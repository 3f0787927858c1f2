"""Plots of activations (matplotlib): f and f' at chosen parameters, thumbnails.

:func:`figure` builds a :class:`matplotlib.figure.Figure` of one activation
computed by the NumPy backend; :func:`save` writes it as PNG or SVG (byte for
byte reproducible); :func:`slice_note` says how a non-element-wise activation
is reduced to a curve. Matplotlib is imported only when a plot is made, with the
Agg canvas (never a GUI).

Element-wise and per-channel activations are plotted as they are (per-channel
parameters as scalars). Stochastic ones are plotted in evaluation mode, where
they are deterministic. Vector, gated and structural activations are plotted
along a 1-D slice: see :func:`slice_note`.
"""

from __future__ import annotations

import math
import pathlib
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import registry
from .spec import ActivationSpec

__all__ = ["figure", "save", "slice_note"]

#: default x range and numbers of points (page plot, thumbnail)
DEFAULT_RANGE = (-5.0, 5.0)
POINTS = 801
THUMB_POINTS = 241
PAGE_SIZE = (5.0, 3.2)  # inches
THUMB_SIZE = (1.6, 1.0)
SVG_SALT = "polyact"
MISSING_MATPLOTLIB = "polyact plot needs matplotlib: pip install matplotlib"

Curve = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- 1-D slices
def _vector_input(x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    return np.stack([x, np.zeros_like(x)], axis=-1)


def _gated_input(x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    return np.stack([x, x], axis=-1)


def _maxout_input(x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    k = int(params.get("pool_size", 2))
    return np.stack([x / (i + 1) for i in range(k)], axis=-1)


@dataclass(frozen=True)
class _Slice:
    """How a vector or gated activation becomes a curve: the input row built from
    x (last axis) and the output position read."""

    make: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]
    out: int
    note: str


_SLICES: Dict[str, _Slice] = {
    "bipolar_relu": _Slice(
        _gated_input,
        1,
        "1-D slice: the second (odd-position) output for the input [x, x], i.e. -relu(-x); "
        "even positions give relu(x).",
    ),
    "maxout": _Slice(
        _maxout_input,
        0,
        "1-D slice: the output for one pool holding [x, x/2, ..., x/k] (k = pool_size), i.e. x for "
        "x > 0 and x/k below.",
    ),
}

_KIND_SLICES: Dict[str, _Slice] = {
    "vector": _Slice(_vector_input, 0, "1-D slice: the first output for the input [x, 0] along its axis."),
    "gated": _Slice(
        _gated_input, 0, "1-D slice: both halves of the input equal x ([x | x]): x gated by itself."
    ),
}

_STRUCTURAL_NOTE = (
    "1-D slice: a fresh 1-channel instance (NumPy backend, seed 0, evaluation mode: batch norm at its "
    "initial statistics) applied to each x as a one-pixel input"
)


def slice_note(name: str) -> str:
    """How the plot of ``name`` reduces it to one curve: ``''`` for element-wise
    and per-channel activations, else a sentence for the figure caption and the
    docs (stochastic: evaluation mode; vector, gated, structural: the 1-D slice)."""
    spec = registry.get_spec(name)
    if spec.kind == "stochastic":
        return "Evaluation mode (no noise): the deterministic function is plotted."
    if spec.elementwise:
        return ""
    if spec.kind == "structural":
        convs = [k for k, layer in spec.layers.items() if "conv" in layer.kind]
        tail = "; the convolution sees one pixel: its centre weight plus bias." if convs else "."
        return _STRUCTURAL_NOTE + tail
    s = _SLICES.get(spec.name) or _KIND_SLICES.get(spec.kind)
    if s is None:
        return f"No 1-D plot: polyact does not know how to slice a {spec.kind} activation."
    return s.note


# --------------------------------------------------------------------------- evaluation
def _resolve(spec: ActivationSpec, given: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The parameters to plot with: ``given`` over the defaults; required ones
    without a value take the spec's first example that has them (else 1)."""
    given = dict(given or {})
    out: Dict[str, Any] = {}
    for k, p in spec.params.items():
        if k in given or not p.required:
            continue
        example = next((e for e in spec.examples if k in e), None)
        if example is not None:
            out.update({n: v for n, v in example.items() if n not in given})
        else:
            out[k] = 1
    out.update(given)
    return spec.bind(out)  # validates: unknown names, values outside the domains


def _evaluator(spec: ActivationSpec, params: Dict[str, Any]) -> Tuple[Curve, Optional[Curve]]:
    """``(f, f')`` as float64 functions of a 1-D array; f' is None when only a
    central difference can give it."""
    if spec.elementwise or spec.kind == "stochastic":
        fn = registry.get_function(spec.name, "numpy", **params)
        grad = None
        if spec.grad is not None:
            ops = registry.get_backend("numpy").ops
            bound = spec.bind(params)
            grad_fn = spec.grad

            def grad(x: np.ndarray) -> np.ndarray:
                return np.broadcast_to(np.asarray(grad_fn(x, ops, **bound), dtype=np.float64), x.shape)

        return (lambda x: np.asarray(fn(x), dtype=np.float64)), grad
    if spec.kind == "structural":
        args = dict(params)
        if spec.channels_param is not None:
            args[spec.channels_param] = 1
        module = registry.get_activation(spec.name, "numpy", seed=0, **args)
        module.eval()
        ndim = spec.input_ndims[0] if spec.input_ndims else 4

        def structural(x: np.ndarray) -> np.ndarray:
            return np.asarray(module(x.reshape((-1,) + (1,) * (ndim - 1))), dtype=np.float64).reshape(-1)

        return structural, None
    s = _SLICES.get(spec.name) or _KIND_SLICES.get(spec.kind)
    if s is None:
        raise ValueError(slice_note(spec.name))
    fn = registry.get_function(spec.name, "numpy", **{**params, "axis": -1})
    make, out = s.make, s.out

    def sliced(x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(make(x, params)), dtype=np.float64)[..., out]

    return sliced, None


def _central(f: Curve, x: np.ndarray) -> np.ndarray:
    h = 6e-6 * np.maximum(1.0, np.abs(x))  # about cbrt(float64 eps): the best step in float64
    return (f(x + h) - f(x - h)) / (2 * h)


@dataclass
class _Data:
    label: str
    x: np.ndarray
    y: np.ndarray
    dy: Optional[np.ndarray]


def _x_range(
    spec: ActivationSpec, evaluators: Sequence[Curve], params: Sequence[Mapping[str, Any]]
) -> Tuple[float, float, bool, List[float]]:
    """``(lo, hi, open_lo, kinks)``: the default x range (wide enough for the kinks,
    cut to where the function is defined) and the kink abscissae inside it."""
    kinks: List[float] = []
    for p in params:
        try:
            kinks += [k for k, _ in spec.kink_points(spec.bind(p))]
        except Exception:  # an expression the values cannot feed: no kinks then
            pass
    kinks = [k for k in kinks if math.isfinite(k)]
    lo, hi = DEFAULT_RANGE
    if kinks:
        lo, hi = min(lo, min(kinks) - 2.0), max(hi, max(kinks) + 2.0)
    probe = np.linspace(lo, hi, 201)
    first, last = len(probe), -1
    for f in evaluators:
        with np.errstate(all="ignore"):
            idx = np.flatnonzero(np.isfinite(f(probe)))
        if idx.size:
            first, last = min(first, int(idx[0])), max(last, int(idx[-1]))
    open_lo = False
    if 0 < first <= last:  # undefined on the left (log1mexp: x > 0): start at the boundary, excluded
        lo, open_lo = float(probe[first - 1]), True
    if first <= last < len(probe) - 1:
        hi = float(probe[last + 1])
    return lo, hi, open_lo, sorted(k for k in set(kinks) if lo < k < hi)


def _grid(lo: float, hi: float, open_lo: bool, n: int, kinks: Sequence[float]) -> np.ndarray:
    x = np.linspace(lo, hi, n + 1)[1:] if open_lo else np.linspace(lo, hi, n)
    return np.union1d(x, np.asarray(kinks, dtype=np.float64)) if len(kinks) else x


def _label(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _curves(
    spec: ActivationSpec,
    params: Optional[Mapping[str, Any]],
    variants: Sequence[Mapping[str, Any]],
    sets: Sequence[Dict[str, Any]],
    derivative: bool,
    xlim: Optional[Tuple[float, float]],
    n: int,
) -> List[_Data]:
    labels = [_label(params or {}) or "defaults"] + [_label(v) for v in variants]
    evals = [_evaluator(spec, p) for p in sets]
    if xlim is not None:
        lo, hi = float(xlim[0]), float(xlim[1])
        if not lo < hi:
            raise ValueError(f"xlim must be (lo, hi) with lo < hi. Received: {xlim!r}")
        x = np.linspace(lo, hi, n)
    else:
        lo, hi, open_lo, kinks = _x_range(spec, [f for f, _ in evals], sets)
        x = _grid(lo, hi, open_lo, n, kinks)
    out = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, (f, df) in zip(labels, evals):
            y = f(x)
            dy = None
            if derivative:
                dy = df(x) if df is not None else _central(f, x)
            out.append(_Data(label, x, y, dy))
    return out


def _ylim(curves: Sequence[_Data]) -> Tuple[float, float]:
    """A y range showing every curve of f, and f' as far as it stays near them
    (poles and overflow are cut off)."""

    def robust(values: List[np.ndarray]) -> Optional[Tuple[float, float]]:
        v = np.concatenate([a[np.isfinite(a)] for a in values]) if values else np.zeros(0)
        if v.size == 0:
            return None
        lo, hi = float(v.min()), float(v.max())
        q1, q99 = (float(q) for q in np.percentile(v, [1, 99]))
        if hi - lo > 20 * max(q99 - q1, 1e-12):  # a pole or overflow: keep the bulk
            lo, hi = min(lo, q1), max(hi, q99)
            lo, hi = max(lo, q1 - (q99 - q1)), min(hi, q99 + (q99 - q1))
        return lo, hi

    r = robust([c.y for c in curves])
    lo, hi = r if r is not None else (-1.0, 1.0)
    span = max(hi - lo, 1e-9)
    d = robust([c.dy for c in curves if c.dy is not None])
    if d is not None:
        lo = min(lo, max(d[0], lo - 1.5 * span))
        hi = max(hi, min(d[1], hi + 1.5 * span))
    span = hi - lo
    if span < 1e-9:
        lo, hi, span = lo - 1.0, hi + 1.0, 2.0
    return lo - 0.06 * span, hi + 0.06 * span


# --------------------------------------------------------------------------- figures
def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(MISSING_MATPLOTLIB) from exc
    return matplotlib


def figure(
    name: str,
    *,
    params: Optional[Mapping[str, Any]] = None,
    variants: Optional[Sequence[Mapping[str, Any]]] = None,
    derivative: bool = True,
    thumbnail: bool = False,
    xlim: Optional[Tuple[float, float]] = None,
) -> Any:
    """A matplotlib Figure of activation ``name``: f solid and, with
    ``derivative=True``, f' dashed in the same colour, at ``params`` (overrides of
    the defaults), plus one curve per mapping in ``variants`` (labelled ``k=v``).

    ``thumbnail=True``: small (1.6 x 1.0 inches), f only, no labels, legend or
    ticks. Non-element-wise activations are plotted along the 1-D slice
    :func:`slice_note` describes (it is the figure's caption); one that cannot be
    sliced gets a figure saying why. The lines carry gids ``f:i`` and ``df:i``
    (curve ``i``: 0 for ``params``, then the variants). Unknown parameters and
    values outside their domains raise the registry's errors.
    """
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = registry.get_spec(name)
    variants = list(variants or ())
    derivative = derivative and not thumbnail
    note = slice_note(spec.name)
    fig = Figure(figsize=THUMB_SIZE if thumbnail else PAGE_SIZE)
    FigureCanvasAgg(fig)
    # validated first: unknown parameters and values outside their domains raise
    sets = [_resolve(spec, params)] + [_resolve(spec, {**(params or {}), **v}) for v in variants]
    n = THUMB_POINTS if thumbnail else POINTS
    if spec.elementwise:
        curves = _curves(spec, params, variants, sets, derivative, xlim, n)
    else:
        try:
            curves = _curves(spec, params, variants, sets, derivative, xlim, n)
        except Exception as exc:  # a slice this activation does not take: say so in the figure
            return _placeholder(fig, spec.name, f"{type(exc).__name__}: {exc}", thumbnail)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0) if thumbnail else (0.11, 0.14, 0.85, 0.76))
    ax.axhline(0.0, color="0.8", lw=0.6, zorder=0)
    ax.axvline(0.0, color="0.8", lw=0.6, zorder=0)
    for i, c in enumerate(curves):
        color = f"C{i % 10}"
        several = len(curves) > 1
        (line,) = ax.plot(
            c.x, c.y, color=color, lw=1.2 if thumbnail else 1.6, label=c.label if several else "f(x)"
        )
        line.set_gid(f"f:{i}")
        if c.dy is not None:
            (dline,) = ax.plot(
                c.x, c.dy, color=color, lw=1.1, ls="--", label="_nolegend_" if several else "f'(x)"
            )
            dline.set_gid(f"df:{i}")
    ax.set_xlim(float(curves[0].x[0]), float(curves[0].x[-1]))
    ax.set_ylim(*_ylim(curves))
    if thumbnail:
        ax.set_axis_off()
        return fig
    ax.grid(True, color="0.92", lw=0.5)
    ax.set_xlabel("x", labelpad=1)
    ax.set_ylabel(
        "f(x) solid, f'(x) dashed" if derivative and len(curves) > 1 else "f(x)" if not derivative else ""
    )
    ax.tick_params(labelsize=8)
    title = spec.name + (f" ({_label(params)})" if params else "")
    ax.set_title(title, fontsize=10)
    if derivative or len(curves) > 1:
        ax.legend(fontsize=7, frameon=False, loc="best")
    if note:
        lines = textwrap.wrap(note, 100)
        bottom = 0.16 + 0.045 * len(lines)
        ax.set_position((0.11, bottom, 0.85, 0.90 - bottom))
        fig.text(
            0.5,
            0.015,
            "\n".join(lines),
            ha="center",
            va="bottom",
            fontsize=6.5,
            color="0.3",
        )
    return fig


def _placeholder(fig: Any, name: str, why: str, thumbnail: bool) -> Any:
    """A figure that says why ``name`` has no curve."""
    text = name if thumbnail else "\n".join([f"{name}: no plot", *textwrap.wrap(why, 60)])
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=6 if thumbnail else 9, color="0.35")
    return fig


def save(name: str, path: Union[str, pathlib.Path], **kwargs: Any) -> pathlib.Path:
    """Write :func:`figure` (``kwargs``) of ``name`` to ``path``, PNG or SVG by its
    suffix; the same call writes the same bytes. Returns the path."""
    path = pathlib.Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"the plot file must end in .png or .svg. Received: {str(path)!r}")
    mpl = _matplotlib()
    fig = figure(name, **kwargs)
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with mpl.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(path, format=fmt, dpi=150 if not kwargs.get("thumbnail") else 100, metadata=metadata)
    fig.clear()
    return path

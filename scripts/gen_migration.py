"""Generate docs/migration.md, the guide for users of Echo, zeta, timm, transformers,
jax.nn and Keras 3, from polyact's registry.

The lists below are facts about the other libraries: the names they offer and what
each computes by default (as a catalogue name and the parameter values that match
the library's defaults). Everything in the tables about polyact comes from the
registry: whether the name resolves (and to which canonical activation), the
parameters (validated by the spec), whether it is the same function, and the
deviation notes recorded on the activation. Echo's rows use the same plans as the
``polyact.compat.echo`` facades.

    python scripts/gen_migration.py           # rewrite docs/migration.md
    python scripts/gen_migration.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import polyact as pa  # noqa: E402
from polyact import registry  # noqa: E402
from polyact.compat import echo  # noqa: E402

OUT = ROOT / "docs" / "migration.md"
NOT_YET = "not in polyact yet"


class Entry(NamedTuple):
    """One name of another library: ``means`` is the catalogue name of what it
    computes by default, ``params`` the polyact parameters that match the
    library's defaults, ``remark`` a fact about the library worth knowing."""

    name: str
    means: Optional[str]
    params: Dict[str, Any] = {}
    remark: str = ""
    shown: str = ""  # how the parameters read where they are symbolic (Echo's in_features)


def E(name: str, means: Optional[str] = None, remark: str = "", **params: Any) -> Entry:
    return Entry(name, name if means is None else means, params, remark)


# --------------------------------------------------------------------------- the libraries
def _echo_entries() -> List[Tuple[Entry, Optional[echo.Plan]]]:
    """Echo's classes: the canonical activation each names, and the facade's plan."""
    P = echo.Plan
    rows: List[Tuple[str, str, Optional[echo.Plan], str]] = [
        ("Mish()", "mish", P("mish", {}, {}), ""),
        ("Swish()", "swish_beta", echo.swish_plan(), ""),
        ("Swish(swish=False)", "silu", echo.swish_plan(swish=False), ""),
        ("Swish(eswish=True, beta=1.735)", "e_swish", echo.swish_plan(eswish=True), ""),
        (
            "m_ops.Swish(flatten=True)",
            "flatten_t_swish",
            echo.swish_plan(flatten=True, flatten_threshold=0.0),
            "",
        ),
        ("t_ops.Swish(flatten=True)", "flatten_t_swish", echo.swish_plan(flatten=True), ""),
        ("t_ops.Swish(pfts=True)", "parametric_flatten_t_swish", echo.swish_plan(pfts=True), ""),
        ("Aria2(beta=0.5, alpha=1.0)", "aria2", echo.aria2_plan(), ""),
        ("Elish()", "elish", echo.elish_plan(), ""),
        ("Elish(hard=True)", "hard_elish", echo.elish_plan(hard=True), ""),
        ("ISRU(alpha=1.0)", "isru", echo.isru_plan(), ""),
        ("ISRU(isrlu=True)", "isrlu", echo.isru_plan(isrlu=True), ""),
        ("NLReLU(beta=1.0)", "nlrelu", P("nlrelu", {"beta": 1.0}, {}), ""),
        ("SoftClipping(alpha=0.5)", "soft_clipping", P("soft_clipping", {"alpha": 0.5}, {}), ""),
        ("SoftExponential(alpha=None)", "soft_exponential", echo.soft_exponential_plan(), ""),
        ("SQNL()", "sqnl", P("sqnl", {}, {}), ""),
        (
            "SReLU(in_features)",
            "srelu",
            echo.srelu_plan(1),
            "num_channels=in_features, channel_axis=-1",
        ),
        ("m_ops.FReLU(in_channels)", "funnel_relu", P("funnel_relu", {"in_channels": 1}, {}), "in_channels"),
        ("t_ops.Funnel(in_channels)", "funnel_relu", P("funnel_relu", {"in_channels": 1}, {}), "in_channels"),
        ("t_ops.FReLU(in_channels)", "flexible_relu", P("flexible_relu", {}, {}), ""),
        ("t_ops.BReLU()", "bipolar_relu", echo.brelu_plan(), ""),
        ("t_ops.APL(s=1)", "apl", P("apl", {}, {}), ""),
        ("t_ops.Maxout(pool_size=1)", "maxout", echo.maxout_plan(), ""),
        ("t_ops.SLAF(k=2)", "slaf", P("slaf", {}, {}), ""),
        ("t_ops.AReLU(alpha=0.90, beta=2.0)", "arelu", P("arelu", {}, {}), ""),
        ("t_ops.DICE(emb_size, dim=2, epsilon=1e-8)", "dice", echo.dice_plan(1), "emb_size"),
        ("t_ops.MPeLU(alpha=0.25, beta=1.0)", "mpelu", P("mpelu", {}, {}), ""),
        ("t_ops.TanhSoft(alpha=0.0, beta=0.6, gamma=1.0, delta=0.0)", "tanhsoft", P("tanhsoft", {}, {}), ""),
        ("t_ops.ProbAct(num_parameters=1, init=0)", "probact", echo.probact_plan(), ""),
        (
            "t_ops.XUnit(out_channels, kernel_size=9)",
            "xunit",
            echo.xunit_plan(1),
            "in_channels=out_channels, kernel_size=9",
        ),
        ("t_ops.EIS(alpha, beta, gamma, delta, theta)", "eis", P("eis", {}, {}), ""),
        ("t_ops.Seagull()", "seagull", P("seagull", {}, {}), ""),
        ("t_ops.Snake(in_features, alpha=None)", "snake", P("snake", {}, {}), ""),
        ("t_ops.Sine(w0=1.0)", "sine", P("sine", {"w0": 1.0}, {}), ""),
        ("t_ops.Siren(dim_in, dim_out, w0=30.0)", "siren", P("siren", {}, {}), ""),
    ]
    return [(Entry(name, means, {}, "", shown), plan) for name, means, plan, shown in rows]


ZETA = [
    E("LaplaceActivation", "laplace", mu=0.707107, sigma=0.282095),
    E("ACT2FN['gelu'] / GELUActivation", "gelu"),
    E("ACT2FN['gelu_10'] / ClippedGELUActivation(-10, 10)", "clipped_gelu", min_val=-10.0, max_val=10.0),
    E("ACT2FN['gelu_fast'] / FastGELUActivation", "gelu_tanh"),
    E("ACT2FN['gelu_new'] / NewGELUActivation", "gelu_tanh"),
    E("ACT2FN['gelu_python']", "gelu"),
    E("ACT2FN['gelu_pytorch_tanh'] / PytorchGELUTanh", "gelu_tanh"),
    E("ACT2FN['gelu_accurate'] / AccurateGELUActivation", "gelu_tanh", "the same tanh formula as gelu_new"),
    E(
        "ACT2FN['laplace']",
        "laplace",
        "mu and sigma cannot be set through ACT2FN",
        mu=0.707107,
        sigma=0.282095,
    ),
    E("ACT2FN['leaky_relu'] / LeakyRELU", "leaky_relu"),
    E("ACT2FN['linear'] / LinearActivation", "identity"),
    E("ACT2FN['mish'] / MishActivation", "mish"),
    E("ACT2FN['quick_gelu'] / QuickGELUActivation", "quick_gelu"),
    E("ACT2FN['relu']", "relu"),
    E("ACT2FN['relu2'] / ReLUSquaredActivation / ReluSquared", "relu_squared"),
    E("ACT2FN['relu6']", "relu6"),
    E("ACT2FN['sigmoid']", "sigmoid"),
    E("ACT2FN['silu']", "silu"),
    E("ACT2FN['swish']", "silu", "torch.nn.SiLU"),
    E("ACT2FN['tanh']", "tanh"),
    E("Snake(alpha=1.0)", "snake", "one trainable scalar"),
    E("PolymorphicActivation", "polymorphic"),
    E("Pulsar / LogGammaActivation", "log_gamma", "its custom backward is wrong (digamma(x + 2))"),
    E("PulsarNew", "pulsar_new"),
    E("SPAct", "sp_act"),
    E("VPGELU", "vp_gelu"),
    E("VPReLU", "vp_relu"),
    E("SwiGLU", "swiglu"),
    E("GEGLU", "geglu", axis=1),
    E("GLU(dim_in, dim_out, activation)", None, "a projection layer (Linear + gate), not an activation"),
]

TIMM = [
    E(n, m)
    for n, m in [
        ("silu", "silu"),
        ("swish", "silu"),
        ("mish", "mish"),
        ("relu", "relu"),
        ("relu6", "relu6"),
        ("leaky_relu", "leaky_relu"),
        ("elu", "elu"),
        ("prelu", "prelu"),
        ("celu", "celu"),
        ("selu", "selu"),
        ("gelu", "gelu"),
        ("gelu_tanh", "gelu_tanh"),
        ("quick_gelu", "quick_gelu"),
        ("sigmoid", "sigmoid"),
        ("tanh", "tanh"),
        ("hard_sigmoid", "hard_sigmoid"),
        ("hardsigmoid", "hard_sigmoid"),
        ("hard_swish", "hard_swish"),
        ("hardswish", "hard_swish"),
        ("hard_mish", "hard_mish"),
        ("identity", "identity"),
    ]
]

TRANSFORMERS = [
    E("gelu", "gelu"),
    E("gelu_10", "clipped_gelu", min_val=-10.0, max_val=10.0),
    E("gelu_fast", "gelu_tanh"),
    E("gelu_new", "gelu_tanh"),
    E("gelu_python", "gelu"),
    E("gelu_pytorch_tanh", "gelu_tanh"),
    E("gelu_python_tanh", "gelu_tanh"),
    E("gelu_accurate", "gelu_tanh", "the same tanh formula as gelu_new"),
    E("hardswish", "hard_swish"),
    E("laplace", "laplace", "forward(input, mu=0.707107, sigma=0.282095)", mu=0.707107, sigma=0.282095),
    E("leaky_relu", "leaky_relu"),
    E("linear", "identity"),
    E("mish", "mish"),
    E("quick_gelu", "quick_gelu"),
    E("relu", "relu"),
    E("relu2", "relu_squared"),
    E("relu6", "relu6"),
    E("sigmoid", "sigmoid"),
    E("silu", "silu"),
    E("swish", "silu", "torch.nn.SiLU"),
    E("tanh", "tanh"),
    E("prelu", "prelu"),
    E("xielu", None, "a trainable activation of transformers' own"),
]

JAX = [
    E("celu", "celu"),
    E("elu", "elu"),
    E("gelu", "gelu_tanh", "jax.nn.gelu defaults to approximate=True"),
    E("gelu(approximate=False)", "gelu"),
    E("glu", "glu"),
    E("hard_sigmoid", "hard_sigmoid"),
    E("hard_silu", "hard_swish"),
    E("hard_swish", "hard_swish"),
    E("hard_tanh", "hard_tanh"),
    E("identity", "identity"),
    E("leaky_relu", "leaky_relu"),
    E("log1mexp", "log1mexp"),
    E("log_sigmoid", "log_sigmoid"),
    E("log_softmax", "log_softmax"),
    E("mish", "mish"),
    E("relu", "relu"),
    E("relu6", "relu6"),
    E("selu", "selu"),
    E("sigmoid", "sigmoid"),
    E("silu", "silu"),
    E("soft_sign", "softsign"),
    E("softmax", "softmax"),
    E("softplus", "softplus"),
    E("sparse_plus", "sparse_plus"),
    E("sparse_sigmoid", "sparse_sigmoid"),
    E("squareplus", "squareplus"),
    E("swish", "silu", "jax.nn.swish is jax.nn.silu"),
    E("tanh", "tanh"),
]

KERAS = [
    E("celu", "celu"),
    E("elu", "elu"),
    E("exponential", "exponential"),
    E("gelu", "gelu"),
    E("glu", "glu"),
    E("hard_shrink", "hard_shrink"),
    E("hard_sigmoid", "hard_sigmoid"),
    E("hard_silu", "hard_swish"),
    E("hard_swish", "hard_swish"),
    E("hard_tanh", "hard_tanh"),
    E("leaky_relu", "leaky_relu", "Keras 3 defaults negative_slope to 0.2", negative_slope=0.2),
    E("linear", "identity"),
    E("log_sigmoid", "log_sigmoid"),
    E("log_softmax", "log_softmax"),
    E("mish", "mish"),
    E("relu", "relu"),
    E("relu6", "relu6"),
    E("selu", "selu"),
    E("sigmoid", "sigmoid"),
    E("silu", "silu"),
    E("soft_shrink", "soft_shrink"),
    E("softmax", "softmax"),
    E("softplus", "softplus"),
    E("softsign", "softsign"),
    E("sparse_plus", "sparse_plus"),
    E("sparse_sigmoid", "sparse_sigmoid"),
    E("sparsemax", "sparsemax"),
    E("squareplus", "squareplus"),
    E("swish", "silu", "keras.activations.swish is silu"),
    E("tanh", "tanh"),
    E("tanh_shrink", "tanh_shrink"),
    E("threshold", "threshold"),
]


# --------------------------------------------------------------------------- resolution
class Row(NamedTuple):
    source: str
    name: str  # the library's name
    polyact: Optional[str]  # canonical polyact name, None when not in polyact
    params: str
    same: str
    resolves: str  # what the library's own name gives in polyact
    notes: str
    facade: str = ""


def builtin_spec(name: Optional[str]) -> Any:
    """The built-in spec a name resolves to, or None (user and plug-in
    registrations do not count: the guide describes polyact itself)."""
    if not name:
        return None
    try:
        spec = pa.get_spec(name)
    except pa.UnknownActivationError:
        return None
    return spec if spec.name in registry._builtin else None


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(e) for e in v) + "]"
    return repr(v)


def _params_text(spec: Any, params: Dict[str, Any], options: Dict[str, Any], shown: str) -> str:
    spec.bind(params, partial=True)  # raises if a name or a value does not fit polyact's parameters
    if shown:
        return f"`{shown}`"
    parts = []
    for k, v in params.items():
        flag = " (trainable)" if spec.params[k].trainable else ""
        parts.append(f"`{k}={_fmt(v)}`{flag}")
    parts += [f"`{k}={_fmt(v)}`" for k, v in options.items()]
    required = [k for k, p in spec.params.items() if p.required and k not in params]
    if required:
        parts.append("required: " + ", ".join(f"`{k}`" for k in required))
    return ", ".join(parts) or "-"


KEYWORDS = {
    "Echo": ("Echo",),
    "zeta": ("zeta",),
    "timm": ("timm",),
    "transformers": ("transformers", "Hugging Face"),
    "jax.nn": ("JAX", "jax"),
    "Keras 3": ("Keras",),
}


def _notes(spec: Any, source: str) -> List[str]:
    texts = [*spec.notes, spec.init_doc] if spec.init_doc else list(spec.notes)
    if source != "Echo":  # "Echo's legacy Keras ..." is about Echo, not Keras
        texts = [n for n in texts if "Echo" not in n]
    return [n for n in texts if any(k in n for k in KEYWORDS[source])]


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _same(spec: Any, params: Dict[str, Any], notes: Sequence[str]) -> str:
    """ "yes" when polyact's activation at ``params`` is the library's default
    function; the notes recorded on the activation for that library are flagged."""
    same = "yes, with these parameters" if _differs(spec, params) else "yes"
    return same + " (see notes)" if notes else same


def _differs(spec: Any, params: Dict[str, Any]) -> bool:
    """Whether ``params`` change any of polyact's defaults (required ones have none)."""
    defaults = spec.defaults
    return any(k in defaults and defaults[k] != v for k, v in params.items())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _resolves(name: str, spec: Any) -> str:
    """What ``polyact.get_activation(<library name>)`` gives."""
    key = name.split("(")[0].split(" ")[0]
    if key.startswith("ACT2FN["):
        key = key[len("ACT2FN['") : -2]
    key = key.split(".")[-1]
    own = builtin_spec(key)
    if own is None:
        return "-"
    if spec is not None and own.name == spec.name:
        return "yes"
    return f"no: `{key}` is polyact's `{own.name}`"


def library_rows(source: str, entries: Sequence[Entry]) -> List[Row]:
    rows = []
    for e in entries:
        spec = builtin_spec(e.means)
        resolves = _resolves(e.name, spec)
        if spec is None:
            rows.append(Row(source, e.name, None, "-", NOT_YET, resolves, e.remark))
            continue
        params = _params_text(spec, e.params, {}, e.shown)
        notes = _notes(spec, source)
        same = _same(spec, e.params, notes)
        notes = ([_sentence(f"{source}: {e.remark}")] if e.remark else []) + notes
        rows.append(Row(source, e.name, spec.name, params, same, resolves, " ".join(notes)))
    return rows


def _facade_classes() -> Dict[str, List[str]]:
    """The classes each facade module defines (read from the source: no framework import)."""
    out: Dict[str, List[str]] = {}
    for mod in ("t_ops", "m_ops"):
        tree = ast.parse((ROOT / "polyact" / "compat" / "echo" / f"{mod}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                out.setdefault(node.name, []).append(mod)
    return out


def echo_rows() -> List[Row]:
    classes = _facade_classes()
    rows = []
    for e, plan in _echo_entries():
        spec = builtin_spec(e.means)
        cls = e.name.split("(")[0]
        mod, _, cls = cls.rpartition(".")
        mods = [m for m in classes.get(cls, []) if not mod or m == mod]
        facade = ", ".join(f"`{m}.{cls}`" for m in mods) or "-"
        if spec is None:
            rows.append(Row("Echo", e.name, None, "-", NOT_YET, "-", "", facade))
            continue
        notes = _notes(spec, "Echo")
        assert plan is not None
        target = pa.get_spec(plan.name)
        if target.name != spec.name:
            same = f"no: the facade reproduces Echo (`{target.name}`)"
            notes = notes + list(target.notes)
        else:
            same = _same(spec, plan.params, notes)
        params = _params_text(target, plan.params, plan.options, e.shown)
        rows.append(
            Row("Echo", e.name, spec.name, params, same, _resolves(cls, spec), " ".join(notes), facade)
        )
    return rows


SOURCES = ("Echo", "zeta", "timm", "transformers", "jax.nn", "Keras 3")


def rows() -> List[Row]:
    return (
        echo_rows()
        + library_rows("zeta", ZETA)
        + library_rows("timm", TIMM)
        + library_rows("transformers", TRANSFORMERS)
        + library_rows("jax.nn", JAX)
        + library_rows("Keras 3", KERAS)
    )


# --------------------------------------------------------------------------- the page
INTRO = """\
# Migrating to polyact

<!-- Generated by scripts/gen_migration.py from polyact's registry; do not edit by hand. -->

polyact gives every activation one canonical name, with aliases, on torch, JAX, MegEngine and
NumPy. Names are matched without regard to case, `-`, `_` and spaces, so most names of other
libraries work as they are: `polyact.get_activation("gelu_new", backend="torch")` is the tanh
GELU. Where a library's name means something else by default (`jax.nn.gelu` is the tanh
approximation, Keras' `leaky_relu` has slope 0.2, `swish` is SiLU almost everywhere), the
tables below give the polyact activation and the parameters that reproduce the library.

In the tables, *same function?* is "yes" when polyact's activation computes what the library
computes by default, "yes, with these parameters" when that takes the parameters shown (the
library's defaults differ from polyact's), "see notes" when the activation records something
about that library (a deviation of the library from the paper, a gradient convention, a
narrower parameter domain: the note says which), and "not in polyact yet" when polyact has no
such activation. *Name resolves?* says what `polyact.get_activation(<the library's name>)`
gives.
"""

SECTIONS = {
    "Echo": """\
## From Echo (`echoAI`)

`polyact.compat.echo.t_ops` (torch) and `polyact.compat.echo.m_ops` (MegEngine) keep Echo's
class names and constructor signatures as Echo's documentation gives them, so Echo code runs
with its import line changed. The classes are `torch.nn.Module`s and `megengine.module.Module`s
with trainable parameters where Echo has them. They compute the canonical activations, except
where Echo documents a different formula: `Aria2` without the factor x, and MegEngine's Flatten
T-Swish with T = 0. Those two reproduce Echo's numbers.

```python
# before
from echoAI.Activation.m_ops import Swish, Aria2
act = Swish(eswish=True)

# after: only the import changes
from polyact.compat.echo.m_ops import Swish, Aria2
act = Swish(eswish=True)

# or the canonical activation, on any backend
import polyact as pa
act = pa.get_activation("e_swish", backend="megengine", beta=1.735)
```

Code that spells out `echoAI.Activation.m_ops.Mish()` runs after
`from polyact.compat import echo as echoAI`.
""",
    "zeta": """\
## From zeta

`polyact.compat.zeta.LaplaceActivation` keeps zeta's calling convention: mu and sigma are
keyword arguments of `forward`. polyact's own `laplace` takes them as constructor parameters,
so they can be set in a config.

```python
# before
from zeta.nn import LaplaceActivation
y = LaplaceActivation()(x, mu=0.5, sigma=0.3)

# after
from polyact.compat.zeta import LaplaceActivation
y = LaplaceActivation()(x, mu=0.5, sigma=0.3)

# or
import polyact as pa
y = pa.get_activation("laplace", backend="torch", mu=0.5, sigma=0.3)(x)
```
""",
    "timm": """\
## From timm's `get_act_layer`

```python
# before
from timm.layers import get_act_layer
act = get_act_layer("hard_swish")()

# after: a fresh torch.nn.Module per call
import polyact as pa
act = pa.get_activation("hard_swish", backend="torch")
```
""",
    "transformers": """\
## From transformers' `ACT2FN`

```python
# before
from transformers.activations import ACT2FN
act = ACT2FN[config.hidden_act]

# after (for the names that need parameters, such as gelu_10, pass the ones below)
import polyact as pa
act = pa.get_activation(config.hidden_act, backend="torch")
```
""",
    "jax.nn": """\
## From `jax.nn`

polyact's JAX functions are pure and work under `jit`, `grad` and `vmap`; activations with
trainable parameters are `flax.nnx` modules (`get_activation`), or pure functions taking the
parameters as arguments (`get_function`).

```python
# before
import jax
y = jax.nn.gelu(x)                    # the tanh approximation by default

# after
import polyact as pa
y = pa.get_function("gelu_tanh", backend="jax")(x)
y = pa.get_function("gelu", backend="jax")(x)   # jax.nn.gelu(x, approximate=False)
```
""",
    "Keras 3": """\
## From Keras 3 activation names

polyact has no Keras layers; with Keras running on JAX or torch, a polyact function of that
backend works wherever Keras takes a callable activation.

```python
# before
layer = keras.layers.Dense(64, activation="leaky_relu")   # slope 0.2 in Keras 3

# after (Keras on the JAX backend)
import polyact as pa
layer = keras.layers.Dense(64, activation=pa.get_function("leaky_relu", backend="jax", negative_slope=0.2))
```
""",
}


def _table(rs: Sequence[Row], source: str) -> str:
    head = f"| {source} | polyact | parameters | same function? | name resolves? | notes |"
    sep = "| --- | --- | --- | --- | --- | --- |"
    if source == "Echo":
        head = "| Echo | facade | polyact | parameters | same function? | notes |"
    lines = [head, sep]
    for r in rs:
        act = f"`{r.polyact}`" if r.polyact else NOT_YET
        if source == "Echo":
            cells = [f"`{r.name}`", r.facade, act, r.params, r.same, r.notes]
        else:
            cells = [f"`{r.name}`", act, r.params, r.same, r.resolves, r.notes]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def render() -> str:
    all_rows = rows()
    parts = [INTRO]
    summary = ["| library | names listed | in polyact | not in polyact yet |", "| --- | --- | --- | --- |"]
    for source in SOURCES:
        rs = [r for r in all_rows if r.source == source]
        mapped = sum(r.polyact is not None for r in rs)
        summary.append(f"| {source} | {len(rs)} | {mapped} | {len(rs) - mapped} |")
    parts.append("\n".join(summary) + "\n")
    for source in SOURCES:
        rs = [r for r in all_rows if r.source == source]
        parts.append(SECTIONS[source])
        parts.append(_table(rs, source) + "\n")
    return "\n".join(parts)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/migration.md is out of date")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/gen_migration.py")
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

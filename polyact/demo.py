"""``python -m polyact.demo``: a short end-to-end show on every installed backend.

1. the same activations built by name on each backend (native objects);
2. a training step through a trainable activation (soft_exponential's alpha);
3. a custom activation registered once as ``fn(x, ops)`` and used everywhere;
4. the accuracy matrix of ``polyact check`` for a handful of activations in
   float32: polyact's kernels and the frameworks' own ops ("anchors") against
   the mpmath reference (worst ULP error, forward and gradient).

``--peer PYTHON`` runs the same show in another interpreter (the MegEngine
environment) and merges its rows into the tables, so one run covers all four
backends.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from subprocess import PIPE
from typing import Any, Dict, List

import numpy as np

import polyact as pa

TABLE = ("mish", "gelu", "silu", "softplus", "aria2", "soft_clipping", "elish", "laplace")
#: the input classes of the demo's check (``polyact check`` runs every class by default)
CLASSES = ("normal", "boundaries", "large", "extremal")
#: the same check from the command line
CHECK_ARGS = [
    *TABLE,
    "--kernel",
    "auto",
    "--kernel",
    "anchor",
    "--dtype",
    "float32",
    "--defaults",
    *(a for c in CLASSES for a in ("--class", c)),
]


def _my_act(x: Any, ops: Any, beta: float) -> Any:
    """x * tanh(exp(beta * x)): written once against the ops namespace."""
    return x * ops.tanh(ops.exp(beta * x))


def _register_custom() -> None:
    if "my_act" not in pa.list_activations():
        pa.register_activation("my_act", _my_act, params={"beta": pa.Param(1.0, domain=pa.positive)})


def _training_step(backend: str) -> Dict[str, Any]:
    """One SGD step on alpha, fitting exp(x) on [-1, 1]; returns alpha before/after and d loss/d alpha."""
    x_np = np.linspace(-1.0, 1.0, 9).astype(np.float32)
    act = pa.get_activation("soft_exponential", backend=backend)
    if backend == "torch":
        import torch

        opt = torch.optim.SGD(act.parameters(), lr=0.5)
        x = torch.from_numpy(x_np)
        loss = (act(x) - torch.exp(x)).pow(2).mean()
        loss.backward()
        grad = float(act.alpha.grad)
        opt.step()
        return {"alpha": float(act.alpha.detach()), "grad": grad}
    if backend == "jax":
        import jax.numpy as jnp
        from flax import nnx

        x = jnp.asarray(x_np)

        def loss_fn(m: Any) -> Any:
            return ((m(x) - jnp.exp(x)) ** 2).mean()

        grads = nnx.grad(loss_fn)(act)
        grad = float(grads.alpha[...])
        act.alpha[...] = act.alpha[...] - 0.5 * grads.alpha[...]
        return {"alpha": float(act.alpha[...]), "grad": grad}
    if backend == "megengine":
        import megengine as mge
        import megengine.functional as F
        from megengine.autodiff import GradManager
        from megengine.optimizer import SGD

        gm = GradManager().attach(act.parameters())
        opt = SGD(act.parameters(), lr=0.5)
        x = mge.tensor(x_np)
        with gm:
            loss = F.mean((act(x) - F.exp(x)) ** 2)
            gm.backward(loss)
        grad = float(act.alpha.grad.numpy())
        opt.step()
        return {"alpha": float(act.alpha.numpy()), "grad": grad}
    return {}


_SHORT = {
    "torch.nn.modules.module.Module": "torch.nn.Module",
    "flax.nnx.module.Module": "flax.nnx.Module",
    "megengine.module.module.Module": "megengine.module.Module",
}


def _kind(obj: Any) -> str:
    """The framework class an activation object is (its first non-polyact base)."""
    for cls in type(obj).__mro__:
        if cls.__module__.split(".")[0] not in ("polyact", "builtins"):
            name = f"{cls.__module__}.{cls.__qualname__}"
            return _SHORT.get(name, name)
    return "callable"


def accuracy(backends: List[str]) -> Dict[str, Any]:
    """The check engine's matrix (what ``polyact check`` + CHECK_ARGS prints), as JSON."""
    from . import _report

    if "jax" in backends:
        _report.jax_compile_cache()
    report = _report.run_check(
        list(TABLE),
        backends,
        ["auto", "anchor"],
        ["float32"],
        list(CLASSES),
        anchors=True,
        all_params=False,
        command="polyact check " + " ".join(CHECK_ARGS),
    )
    return report.to_json()


def collect(backends: List[str]) -> Dict[str, Any]:
    _register_custom()
    out: Dict[str, Any] = {"objects": [], "training": [], "custom": []}
    x = np.linspace(-3.0, 3.0, 7)
    for b in backends:
        be = pa.get_backend(b)
        for name, params in (
            ("mish", {}),
            ("leaky_relu", {"negative_slope": 0.1}),
            ("srelu", {"num_channels": 3}),
        ):
            obj = pa.get_activation(name, backend=b, **params)
            out["objects"].append([b, name, _kind(obj), repr(obj).splitlines()[0]])
        if b != "numpy":
            out["training"].append([b, *_training_step(b).values()])
        y = be.to_numpy(pa.get_activation("my_act", backend=b, beta=0.5)(be.from_numpy(x, "float32")))
        out["custom"].append([b, [round(float(v), 5) for v in y]])
    out["table"] = accuracy(backends)
    return out


def show(data: Dict[str, Any]) -> None:
    print("== 1. The same activations, built by name, as native objects")
    for b, name, kind, rep in data["objects"]:
        print(f"  {b:10s} {name:11s} {kind:24s} {rep}")
    print("\n== 2. A training step through soft_exponential's trainable alpha (starts at 0)")
    print("     fitting exp(x) on [-1, 1], SGD lr = 0.5; d loss/d alpha is non-zero at alpha = 0")
    for b, alpha, grad in data["training"]:
        print(f"  {b:10s} d loss/d alpha = {grad:+.6f}   alpha after one step = {alpha:+.6f}")
    print("\n== 3. A custom activation, registered once as fn(x, ops, beta), on every backend")
    print("     @polyact.register_activation('my_act', params={'beta': Param(1.0, domain=positive)})")
    print("     def my_act(x, ops, beta): return x * ops.tanh(ops.exp(beta * x))")
    print(f"  {'x':10s} {[float(v) for v in np.linspace(-3.0, 3.0, 7)]}")
    for b, ys in data["custom"]:
        print(f"  {b:10s} {ys}")
    from ._report import Report

    report = Report.from_json(data["table"])
    order = {b: i for i, b in enumerate(["numpy", "torch", "jax", "megengine"])}
    report.entries.sort(key=lambda e: (TABLE.index(e.cell.name), order.get(e.cell.backend, 9)))
    print("\n== 4. Accuracy against the mpmath reference: polyact check, float32")
    print(f"     {report.command}")
    print("     (kernel='auto' per backend, and the frameworks' own ops called raw as 'anchor' rows;")
    print(f"     input classes: {', '.join(CLASSES)}; `polyact check` alone runs every class and dtype)\n")
    print("\n".join("  " + line for line in report.render_text(worst=1).splitlines()))


def _merge_table(data: Dict[str, Any], extra: Dict[str, Any], local: set) -> None:
    """Add a peer's check cells for the backends this interpreter does not have."""
    from ._report import Report

    mine = Report.from_json(data["table"])
    theirs = Report.from_json(extra["table"])
    theirs.entries = [e for e in theirs.entries if e.cell.backend not in local]
    mine.extend(theirs)
    data["table"] = mine.to_json()


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polyact.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the collected rows as JSON")
    parser.add_argument(
        "--peer", action="append", default=[], help="another Python whose backends join the show"
    )
    args = parser.parse_args(argv)
    backends = pa.available_backends()
    # the peers (other interpreters) run while this one collects
    peers = [
        (peer, subprocess.Popen([peer, "-m", "polyact.demo", "--json"], stdout=PIPE, stderr=PIPE, text=True))
        for peer in args.peer
    ]
    data = collect(backends)
    for peer, proc in peers:
        out, err = proc.communicate()
        if proc.returncode != 0:
            print(f"peer {peer} failed:\n{err[-2000:]}", file=sys.stderr)
            return 1
        extra = json.loads(out.strip().splitlines()[-1])
        local = set(backends)
        for key in ("objects", "training", "custom"):
            data[key].extend(row for row in extra[key] if row[0] not in local)
        _merge_table(data, extra, local)
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"polyact {pa.__version__}: {len(pa.list_activations()) - 1} built-in activations")
    shown = sorted({row[0] for row in data["objects"]}, key=["numpy", "torch", "jax", "megengine"].index)
    print(f"backends: {', '.join(shown)}\n")
    show(data)
    from ._report import Report

    ok = Report.from_json(data["table"]).exit_code == 0
    print(f"\n{'all cells within the numerical contract' if ok else 'CONTRACT FAILURES above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m polyact.demo``: a short end-to-end show on every installed backend.

1. the same activations built by name on each backend (native objects);
2. a training step through a trainable activation (soft_exponential's alpha);
3. a custom activation registered once as ``fn(x, ops)`` and used everywhere;
4. a compact agreement table against the mpmath reference (worst ULP error).

``--peer PYTHON`` runs the same show in another interpreter (the MegEngine
environment) and merges its rows into the tables, so one run covers all four
backends.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any, Dict, List

import numpy as np

import polyact as pa

TABLE = ("mish", "gelu", "silu", "softplus", "aria2", "soft_clipping", "elish", "laplace")


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


def collect(backends: List[str]) -> Dict[str, Any]:
    from .check import measure

    _register_custom()
    out: Dict[str, Any] = {"objects": [], "training": [], "custom": [], "table": []}
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
        for name in TABLE:
            c = measure(name, b, dtype="float32")
            out["table"].append([name, b, c.kernel, c.forward_ulp, c.gradient_ulp, c.ok])
    return out


def _ulp(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v < 1e5 else f"{v:.1e}"


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
    print("\n== 4. Agreement with the mpmath reference (float32, normal + large inputs)")
    print("     worst error in ULPs, forward / gradient; 'ok' = every element within the contract")
    backends = sorted({row[1] for row in data["table"]}, key=["numpy", "torch", "jax", "megengine"].index)
    head = f"  {'activation':14s}" + "".join(f"{b:>26s}" for b in backends)
    print(head)
    by = {(r[0], r[1]): r for r in data["table"]}
    for name in TABLE:
        line = f"  {name:14s}"
        for b in backends:
            r = by.get((name, b))
            if r is None:
                line += f"{'':>26s}"
                continue
            cell = f"{r[2]} {_ulp(r[3])}/{_ulp(r[4])} {'ok' if r[5] else 'FAIL'}"
            line += f"{cell:>26s}"
        print(line)


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polyact.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the collected rows as JSON")
    parser.add_argument(
        "--peer", action="append", default=[], help="another Python whose backends join the show"
    )
    args = parser.parse_args(argv)
    backends = pa.available_backends()
    data = collect(backends)
    for peer in args.peer:
        r = subprocess.run([peer, "-m", "polyact.demo", "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"peer {peer} failed:\n{r.stderr[-2000:]}", file=sys.stderr)
            return 1
        extra = json.loads(r.stdout.strip().splitlines()[-1])
        local = set(backends)
        for key in data:
            data[key].extend(row for row in extra[key] if row[0 if key != "table" else 1] not in local)
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"polyact {pa.__version__}: {len(pa.list_activations()) - 1} built-in activations")
    shown = sorted({row[0] for row in data["objects"]}, key=["numpy", "torch", "jax", "megengine"].index)
    print(f"backends: {', '.join(shown)}\n")
    show(data)
    ok = all(r[5] for r in data["table"])
    print(f"\n{'all cells within the numerical contract' if ok else 'CONTRACT FAILURES above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

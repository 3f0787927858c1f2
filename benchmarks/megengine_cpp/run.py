"""Prototype: mish as a C++ MegEngine custom op against polyact's MegEngine
kernels and the naive composition (16M float32 by default).

Not part of the package or the test suite: it shows what a C++ element-wise
kernel generated from a spec would give on MegEngine's CPU build, where every
eager op is a full pass over fresh memory and ``megengine.jit.trace`` does not
fuse. Needs a C++ compiler and ninja (``custom_op_tools.build_and_load``)::

    .venv-megengine/bin/python benchmarks/megengine_cpp/run.py [--size 16M] [--repeat 5]

Prints forward and forward+backward medians per candidate, measured in rounds
(each candidate once per round), the C++ kernel's largest relative error against
float64 on the input, and the build time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import polyact as pa
from polyact.bench import parse_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="16M")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    mge = pa.get_backend("megengine").fw  # through polyact: NumPy keeps its subnormals
    import megengine.functional as F
    from megengine.autodiff import Function, GradManager
    from megengine.core._imperative_rt.core2 import apply
    from megengine.core.ops import custom
    from megengine.utils import custom_op_tools

    here = os.path.dirname(os.path.abspath(__file__))
    t0 = time.perf_counter()
    custom_op_tools.build_and_load(
        "polyact_mish_proto",
        os.path.join(here, "mish.cpp"),
        extra_cflags=["-O3", "-march=native", "-fopenmp", "-fno-math-errno"],
        extra_ldflags=["-fopenmp"],
        build_dir=tempfile.mkdtemp(prefix="polyact-mge-cpp-"),
    )
    build_s = time.perf_counter() - t0

    class CppMish(Function):
        def forward(self, x):  # type: ignore[no-untyped-def]
            self.x = x
            return apply(custom.PolyactMishFwd(), x)[0]

        def backward(self, dy):  # type: ignore[no-untyped-def]
            return apply(custom.PolyactMishBwd(), self.x, dy)[0]

    def cpp(x):  # type: ignore[no-untyped-def]
        return CppMish()(x)

    def naive(x):  # type: ignore[no-untyped-def]
        return x * F.tanh(F.log(1 + F.exp(x)))

    cands = {"c++ custom op": cpp, "@naive": naive}
    for k in ("auto", "fused", "fast", "compiled"):
        cands[f"polyact {k}"] = pa.get_function("mish", backend="megengine", kernel=k)

    n = parse_size(args.size)
    xn = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 3.0
    x = mge.tensor(xn)
    ref = xn.astype(np.float64) * np.tanh(np.logaddexp(0.0, xn.astype(np.float64)))
    err = np.max(np.abs(cpp(x).numpy() - ref) / np.maximum(np.abs(ref), 1e-30))

    def forward(f):  # type: ignore[no-untyped-def]
        f(x)
        mge._full_sync()

    ones = F.ones_like(x)

    def forward_backward(f):  # type: ignore[no-untyped-def]
        """A thunk timing one forward+backward; the input copy and the cotangent are made outside it."""
        xx = mge.Tensor(xn)
        mge._full_sync()

        def run() -> None:
            gm = GradManager()
            gm.attach(xx)
            with gm:
                gm.backward(f(xx), ones)
            mge._full_sync()

        return run

    times = {k: ([], []) for k in cands}
    for f in cands.values():  # warm-up
        forward(f)
        forward_backward(f)()
    for _ in range(args.repeat):
        for k, f in cands.items():
            a = time.perf_counter()
            forward(f)
            times[k][0].append(time.perf_counter() - a)
            fb = forward_backward(f)
            b = time.perf_counter()
            fb()
            times[k][1].append(time.perf_counter() - b)

    naive_f, naive_fb = (statistics.median(v) for v in times["@naive"])
    print(f"mish, {n:,} float32 elements, medians of {args.repeat} rounds; C++ build {build_s:.1f} s")
    print(f"C++ kernel: largest relative error against float64 {err:.2e}")
    print(f"{'candidate':18s} {'fwd ms':>8s} {'f+b ms':>8s} {'naive/fwd':>10s} {'naive/f+b':>10s}")
    for k, (fw, fb) in times.items():
        mf, mfb = statistics.median(fw), statistics.median(fb)
        print(f"{k:18s} {mf * 1e3:8.1f} {mfb * 1e3:8.1f} {naive_f / mf:10.2f} {naive_fb / mfb:10.2f}")


if __name__ == "__main__":
    main()

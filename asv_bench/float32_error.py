#!/usr/bin/env python
"""Error of the CUDA backend's float32 GEMM mode, measured on the CPU (NumPy/OpenBLAS sgemm and
ssyrk stand in for cuBLAS; accumulation order differs, magnitudes are comparable).

    PYTHONPATH=. python asv_bench/float32_error.py --n 100000 --p 1024 --q 1024

Both runs use the generic backend of ``kernels/_xp_backend.py`` on NumPy (tests/xp_standin.py):
centring in float64, then the per-batch products in float32 (``gemm_dtype="float32"``) or float64,
accumulated into float64 state.  Data as in asv_bench/gpu_check.py: x with a decaying spectrum
(column scales exp(-j / (p/4)) + 0.05), y = 0.5 x[:, :q] + noise.  Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import fastcca  # noqa: E402
from fastcca import Moments  # noqa: E402
import xp_standin  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--p", type=int, default=1024)
    ap.add_argument("--q", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--offset", type=float, default=0.0, help="added to x (a large mean)")
    ap.add_argument("--scale-min", type=float, default=None,
                    help="column scales log-spaced from 1 down to this (ill-conditioned x) instead of the decay")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    decay = np.exp(-np.arange(a.p) / (a.p / 4)) + 0.05 if a.scale_min is None else np.logspace(0, np.log10(a.scale_min), a.p)
    be64 = xp_standin.numpy_backend("f64")
    be32 = xp_standin.numpy_backend("f32", gemm_dtype="float32")
    m64, m32 = Moments._with_backend_module(be64), Moments._with_backend_module(be32)
    t = {"f64": 0.0, "f32": 0.0}
    for lo in range(0, a.n, a.batch):
        b = min(a.batch, a.n - lo)
        g = rng.standard_normal((b, a.p))
        x = g * decay + a.offset
        y = 0.5 * g[:, :a.q] + rng.standard_normal((b, a.q))
        for key, m in (("f64", m64), ("f32", m32)):
            t0 = time.perf_counter()
            m.update(x, y)
            t[key] += time.perf_counter() - t0
    rel = {k: float(np.linalg.norm(getattr(m32, k) - getattr(m64, k)) / np.linalg.norm(getattr(m64, k)))
           for k in ("sxx", "syy", "sxy")}
    out = {"n": a.n, "p": a.p, "q": a.q, "batch": a.batch, "offset": a.offset, "scale_min": a.scale_min,
           "relative_frobenius_error": rel,
           "moments_seconds_cpu": t}
    for name, f in (("cca", fastcca.cca), ("svcca", fastcca.svcca), ("pwcca", fastcca.pwcca)):
        r64, r32 = f(m64), f(m32)
        out[name] = {"similarity_diff": abs(r64.similarity - r32.similarity),
                     "coef_max_abs_diff": float(np.abs(r64.coefficients - r32.coefficients).max()),
                     "similarity_f64": r64.similarity}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

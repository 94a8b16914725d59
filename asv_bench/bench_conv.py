"""Benchmark: conv-layer CCA, fastcca's batched FFT block moments against the plain-NumPy
per-frequency loop of the reference (asv_bench/baselines/conv_reference.py), in one run.

    python asv_bench/bench_conv.py                # everything (~10 min on a loaded 2-core box)
    python asv_bench/bench_conv.py --quick        # smaller repeats, skips the slow baseline config

Reports medians of a few repeats and ratios against baselines measured in the same run:

1. conv_cca (mode="fft", eps=1e-10; precision float64 and float32) against the reference loop
   at (n, h, w, c) = (1000, 32, 32, 32) and (500, 16, 16, 64), both layers of that shape; the
   baseline runs with the default BLAS threads and with BLAS pinned to 1 thread, and the ratio
   is taken against the FASTER of the two.  The per-location coefficients of both are compared
   (the script fails if they differ by more than 1e-4).
2. conv_cca against plain ``fastcca.cca`` on the flattened h*w*c neurons, where that fits
   (1024 neurons per side, n > 2 * 1024 so the flattened CCA is not degenerate; at the main
   sizes the flattened scatter blocks alone would need 3 * (h w c)^2 * 8 bytes = 26 GB and
   6.4 GB).
   Also timed alone: the transform + block products at the core of the design (see
   ``transform_products_floor``); ``baseline / floor`` bounds the ratio this design can reach.
3. the kernel choices: real-view block GEMM vs NumPy complex matmul; batched decomposition vs a
   loop of scalar CCAs; NumPy batched eigh vs a Numba prange over blocks.

Exit status 1 when the 30x target is missed at a size (float64 path), 2 on a wrong result.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fastcca  # noqa: E402
from fastcca._canonical import canonical_correlations_batched  # noqa: E402
from fastcca.backend import get_backend  # noqa: E402
from fastcca.conv import ConvMoments  # noqa: E402
from baselines.conv_reference import fourier_ccas_numpy  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

BE = get_backend("cpu")
TARGET = 30.0


def median_time(fn, repeats):
    ts = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), ts, out


def conv_pair(n, h, w, c, seed=0, noise=0.5):
    """Like the parity fixtures' make_conv_pair: smoothed noise and a noisy channel mix, NCHW float32."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    x = sum(np.roll(x, (i, j), axis=(2, 3)) for i in (-1, 0, 1) for j in (-1, 0, 1)) / 3
    mix = (rng.standard_normal((c, c)) / np.sqrt(c)).astype(np.float32)
    y = np.einsum("dc,nchw->ndhw", mix, x) + noise * rng.standard_normal(x.shape, dtype=np.float32)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.float32)


def transform_products_floor(x, y, grid, dtype, repeats):
    """The core work of the FFT design, timed alone: the real 2-D FFT of both inputs (already
    centred and in ``dtype``; ``scipy.fft`` with 2 workers) plus the three batched block
    products on data already gathered frequency-major (fastcca's real-view GEMM kernel).  No
    centring, casting, gathering or decomposition: ``baseline / floor`` bounds the ratio any
    implementation of this design could reach here."""
    import scipy.fft as sfft
    from fastcca.kernels import cpu
    xc = (x - x.mean(axis=0)).astype(dtype)
    yc = (y - y.mean(axis=0)).astype(dtype)
    t_fft, _, _ = median_time(lambda: (sfft.rfft2(xc, axes=(2, 3), workers=2),
                                       sfft.rfft2(yc, axes=(2, 3), workers=2)), repeats)
    fx, fy = grid.flat_index("x"), grid.flat_index("y")
    n, c = x.shape[:2]
    za = np.ascontiguousarray(np.moveaxis(sfft.rfft2(xc, axes=(2, 3)).reshape(n, c, -1), 2, 0)[fx])
    zb = np.ascontiguousarray(np.moveaxis(sfft.rfft2(yc, axes=(2, 3)).reshape(n, c, -1), 2, 0)[fy])
    del xc, yc
    f = za.shape[0]
    sxx = np.zeros((f, 2 * c, 2 * c))
    syy = np.zeros((f, 2 * zb.shape[2], 2 * zb.shape[2]))
    sxy = np.zeros((f, 2 * c, 2 * zb.shape[2]))

    def products():
        cpu.block_scatter_accumulate(za, za, sxx)
        cpu.block_scatter_accumulate(zb, zb, syy)
        cpu.block_scatter_accumulate(za, zb, sxy)
    t_prod, _, _ = median_time(products, repeats)
    return t_fft, t_prod


def env():
    blas = [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info() if i.get("user_api") == "blas"]
    return dict(python=platform.python_version(), numpy=np.__version__, cpus=os.cpu_count(),
                blas=blas, load_average=os.getloadavg())


def bench_main(sizes, repeats, base_repeats, default_threads, out):
    ok = True
    for (n, h, w, c) in sizes:
        x, y = conv_pair(n, h, w, c)
        xn, yn = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(y.transpose(0, 2, 3, 1))
        fastcca.conv_cca(x[:8], y[:8])                      # warm-up (imports, JIT, thread pool)
        row = dict(shape=(n, h, w, c), load_before=os.getloadavg())
        t64, ts64, r64 = median_time(lambda: fastcca.conv_cca(x, y), repeats)
        t32, ts32, r32 = median_time(lambda: fastcca.conv_cca(x, y, precision="float32"), repeats)
        row.update(fastcca_f64=t64, fastcca_f64_all=ts64, fastcca_f32=t32, fastcca_f32_all=ts32)
        with threadpool_limits(1, user_api="blas"):
            tb1, tsb1, ref = median_time(lambda: fourier_ccas_numpy(xn, yn), base_repeats)
        row.update(baseline_1thread=tb1, baseline_1thread_all=tsb1)
        if default_threads:
            tbd, tsbd, _ = median_time(lambda: fourier_ccas_numpy(xn, yn), 1)
            row.update(baseline_default_threads=tbd, baseline_default_threads_all=tsbd)
        best = min(v for k, v in row.items() if k in ("baseline_1thread", "baseline_default_threads"))
        row.update(ratio_f64=best / t64, ratio_f32=best / t32)
        for prec, dt in (("f64", np.float64), ("f32", np.float32)):
            t_fft, t_prod = transform_products_floor(x, y, r64.grid, dt, repeats)
            row[f"floor_{prec}"] = dict(fft_s=t_fft, products_s=t_prod, total_s=t_fft + t_prod,
                                        ratio_bound=best / (t_fft + t_prod), target_time_s=best / TARGET)
        _, ours = r64.per_location()
        _, ours32 = r32.per_location()
        row["max_diff_vs_baseline"] = float(np.nanmax(np.abs(ours - ref)))
        row["max_diff_f32_vs_f64"] = float(np.nanmax(np.abs(ours32 - ours)))
        row["load_after"] = os.getloadavg()
        out["main"].append(row)
        print(json.dumps(row, default=str), flush=True)
        if row["max_diff_vs_baseline"] > 1e-4:
            print(f"WRONG RESULT at {(n, h, w, c)}: max |diff| {row['max_diff_vs_baseline']:.2e}")
            return 2
        if row["ratio_f64"] < TARGET:
            ok = False
    return 0 if ok else 1


def bench_flat(sizes, repeats, out):
    for (n, h, w, c) in sizes:
        x, y = conv_pair(n, h, w, c, seed=1)
        tf, _, rf = median_time(lambda: fastcca.conv_cca(x, y), repeats)
        tc, _, rc = median_time(lambda: fastcca.cca(x.reshape(n, -1), y.reshape(n, -1)), max(1, repeats // 2))
        row = dict(shape=(n, h, w, c), neurons=h * w * c, conv_cca_fft=tf, cca_flattened=tc, ratio=tc / tf,
                   similarity_fft=rf.similarity, similarity_flat=rc.similarity)
        out["flat"].append(row)
        print(json.dumps(row, default=str), flush=True)


def bench_kernels(repeats, out):
    rng = np.random.default_rng(2)
    f, b, c = 528, 70, 32
    a = rng.standard_normal((f, b, c)) + 1j * rng.standard_normal((f, b, c))
    t_real, _, s1 = median_time(lambda: BE.block_scatter(a, a), repeats)
    t_np, _, s2 = median_time(lambda: BE.block_scatter_numpy(a, a), repeats)
    with threadpool_limits(1, user_api="blas"):
        t_np1, _, _ = median_time(lambda: BE.block_scatter_numpy(a, a), repeats)
    assert np.abs(s1 - s2).max() < 1e-9 * np.abs(s2).max()
    row = dict(what="block GEMM (528 blocks, 70 x 32 complex)", real_view_pool=t_real,
               numpy_complex_matmul=t_np, numpy_complex_matmul_1thread=t_np1,
               ratio=min(t_np, t_np1) / t_real)
    out["kernels"].append(row)
    print(json.dumps(row), flush=True)

    m = ConvMoments().update(*conv_pair(200, 32, 32, 32, seed=3))
    tb, _, sol = median_time(lambda: canonical_correlations_batched(BE, m.sxx, m.syy, m.sxy, eps=1e-10), repeats)

    def loop():
        # the same math one block at a time (fastcca's scalar canonical_correlations is for real
        # blocks only: its whitening applies G^T, not G^H)
        return [canonical_correlations_batched(BE, m.sxx[i:i + 1], m.syy[i:i + 1], m.sxy[i:i + 1],
                                               eps=1e-10).rho[0] for i in range(len(m.sxx))]
    tl, _, rl = median_time(loop, max(1, repeats // 2))
    with threadpool_limits(1, user_api="blas"):
        tl1, _, _ = median_time(loop, max(1, repeats // 2))
    diff = max(float(np.nanmax(np.abs(sol.rho[i] - r))) for i, r in enumerate(rl))
    row = dict(what="decomposition of 528 frequency blocks (32 x 32 complex), eps=1e-10",
               batched=tb, loop_per_block=tl, loop_per_block_1thread=tl1, ratio=min(tl, tl1) / tb, max_diff=diff)
    out["kernels"].append(row)
    print(json.dumps(row), flush=True)

    # Numba prange over blocks for the small decompositions, against NumPy's batched eigh
    try:
        import numba as nb

        @nb.njit(parallel=True, cache=False)
        def eigh_blocks(s):
            nblk, k = s.shape[0], s.shape[1]
            w = np.empty((nblk, k))
            v = np.empty_like(s)
            for i in nb.prange(nblk):
                wi, vi = np.linalg.eigh(s[i])
                w[i] = wi
                v[i] = vi
            return w, v
        s = np.ascontiguousarray(m.sxx)
        eigh_blocks(s[:2])
        with threadpool_limits(1, user_api="blas"):
            t_np_eigh, _, (w1, _) = median_time(lambda: np.linalg.eigh(s), repeats)
            t_nb_eigh, _, (w2, _) = median_time(lambda: eigh_blocks(s), repeats)
        t_np_eigh_d, _, _ = median_time(lambda: np.linalg.eigh(s), repeats)
        row = dict(what="eigh of 528 blocks 32 x 32 complex", numpy_batched_1thread=t_np_eigh,
                   numpy_batched_default=t_np_eigh_d, numba_prange=t_nb_eigh,
                   numba_threads=nb.get_num_threads(), max_diff=float(np.abs(w1 - w2).max()))
    except Exception as exc:  # numba's LAPACK binding may be unavailable
        row = dict(what="eigh numba prange", error=repr(exc))
    out["kernels"].append(row)
    print(json.dumps(row), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline-repeats", type=int, default=3)
    ap.add_argument("--no-default-threads", action="store_true",
                    help="skip the baseline with default BLAS threads (very slow on a loaded machine)")
    ap.add_argument("--json", default=None, help="also write all figures to this file")
    ap.add_argument("--only", choices=("main", "flat", "kernels"), default=None)
    a = ap.parse_args(argv)
    reps, brep = (3, 1) if a.quick else (a.repeats, a.baseline_repeats)
    out = dict(env=env(), command=" ".join([os.path.basename(sys.executable), *sys.argv]), main=[], flat=[], kernels=[])
    print(json.dumps(out["env"]), flush=True)
    status = 0
    if a.only in (None, "main"):
        status = bench_main([(1000, 32, 32, 32), (500, 16, 16, 64)], reps, brep,
                            not (a.no_default_threads or a.quick), out)
    if a.only in (None, "flat"):
        bench_flat([(5000, 8, 8, 16), (4000, 16, 16, 4)], reps, out)
    if a.only in (None, "kernels"):
        bench_kernels(reps, out)
    out["env"]["load_average_end"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    for r in out["main"]:
        print(f"(n,h,w,c)={r['shape']}: fastcca f64 {r['fastcca_f64']:.3f} s, f32 {r['fastcca_f32']:.3f} s; "
              f"baseline 1-thread {r['baseline_1thread']:.2f} s"
              + (f", default threads {r['baseline_default_threads']:.2f} s" if "baseline_default_threads" in r else "")
              + f"; ratio f64 {r['ratio_f64']:.1f}x, f32 {r['ratio_f32']:.1f}x "
              f"(target {TARGET:.0f}x: {'met' if r['ratio_f64'] >= TARGET else 'NOT met'})")
    return status


if __name__ == "__main__":
    sys.exit(main())

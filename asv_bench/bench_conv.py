"""Benchmark: conv-layer CCA (``mode="fft"``) against its own floor and against the reference.

    python asv_bench/bench_conv.py                          # floor ratios at the 3 sizes (issue 18)
    python asv_bench/bench_conv.py --only baselines         # vs google/svcca fourier_ccas + NumPy loop
    python asv_bench/bench_conv.py --quick                  # small sizes, a smoke run

1. ``floor`` (the target of issue [conv-perf]): at (n, h, w, c) = (1000, 32, 32, 32),
   (500, 16, 16, 64) and (5000, 8, 8, 128), both layers of that shape, float64 and float32,
   ``fastcca.conv_cca`` and ``fastcca.conv_svcca`` from the activation arrays, end to end, against
   the **transform + products floor** timed in the same rounds: the 2-D real FFT of both inputs,
   already centred and cast, in the chunks ``ConvMoments`` uses and with its threading (the faster
   of that and ``scipy.fft`` with 2 workers per chunk), plus the three batched block products
   (Sxx, Syy, Sxy) on data already gathered frequency-major, by fastcca's product kernel in one
   call each.  No statistics pass, centring, gather, merge or decomposition: any exact one-pass
   implementation of this design pays at least this.  Each round times floor, conv_cca and
   conv_svcca back to back (order rotated), so load changes hit all alike; reported: medians,
   the ratio of medians and the median of the per-round ratios.  Target: ratio <= 1.5.  Each
   round also times the **decomposition floors** (:meth:`Floor.decompositions`: the bare batched
   LAPACK calls any exact computation of each measure makes per frequency block), and the table
   shows what they leave reachable: (floor + decompositions) / floor, the best ratio any exact
   implementation of this design could reach, and each measure's ratio to floor + decompositions.
   Then one
   instrumented run per case splits the end-to-end time into its parts (statistics pass,
   transform (centre + FFT + gather), products, complex conversion, merge, decomposition).
2. ``baselines``: at (500, 16, 16, 64) and (1000, 32, 32, 32), conv_cca (float64, float32)
   against google/svcca's ``dft_ccas.fourier_ccas`` (the reference, Python 3 fixes only:
   ``asv_bench/baselines/google_svcca.py``; skipped with a note when its sources are not found)
   and against the plain-NumPy per-frequency loop of ``asv_bench/baselines/conv_reference.py``
   (1-thread BLAS, its faster setting); per-location coefficients compared (fails above 1e-4).
3. ``flat``: conv_cca against plain ``fastcca.cca`` on the flattened h*w*c neurons, where that fits.
4. ``kernels``: the choices inside: frequency-major gather (Numba) vs NumPy fancy indexing;
   triangular inverse by recursive blocks vs ``numpy.linalg.inv``; batched LAPACK split over the
   block threads vs one call; real-view block GEMM vs NumPy complex matmul.

Exit status: 1 when a floor ratio exceeds 1.5 (the target), 2 on a wrong result.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fastcca  # noqa: E402
import fastcca.conv.measures as conv_measures  # noqa: E402
from fastcca.conv import frequency_grid  # noqa: E402
from fastcca.conv.moments import CHUNK_BYTES  # noqa: E402
from fastcca.kernels import cpu  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

TARGET = 1.5
FLOOR_SIZES = [(1000, 32, 32, 32), (500, 16, 16, 64), (5000, 8, 8, 128)]
BASELINE_SIZES = [(500, 16, 16, 64), (1000, 32, 32, 32)]
QUICK_SIZES = [(200, 16, 16, 16), (400, 8, 8, 32)]


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


class Floor:
    """The transform + products floor of one (x, y, precision): see the module docstring."""

    def __init__(self, x, y, precision):
        import scipy.fft as sfft
        self.sfft = sfft
        dt = np.float32 if precision == "float32" else np.float64
        self.xc = (x - x.mean(axis=0, dtype=np.float64)).astype(dt)
        self.yc = (y - y.mean(axis=0, dtype=np.float64)).astype(dt)
        g = frequency_grid(x.shape[2:], y.shape[2:])
        n, cx, cy, f = x.shape[0], x.shape[1], y.shape[1], g.n_classes
        # ConvMoments' chunks (the same formula as in its update)
        per_image = 2 * np.dtype(dt).itemsize * f * (cx + cy)
        self.step = max(1, min(n, CHUNK_BYTES // per_image))
        self.za = cpu.spatial_rfft_blocks(self.xc, np.zeros(x.shape[1:]), g.flat_index("x"), dt)
        self.zb = cpu.spatial_rfft_blocks(self.yc, np.zeros(y.shape[1:]), g.flat_index("y"), dt)
        self.pxx = np.zeros((f, 2 * cx, 2 * cx))
        self.pyy = np.zeros((f, 2 * cy, 2 * cy))
        self.pxy = np.zeros((f, 2 * cx, 2 * cy))
        # pick the faster FFT threading once (both are legitimate floors)
        self.fft = min((self._fft_shares, self._fft_workers), key=lambda fn: median_time(fn, 2)[0])
        # the blocks the decompositions start from: these data's own per-frequency scatter
        self.products()
        self.sxx, self.syy = cpu.real_view_to_complex(self.pxx), cpu.real_view_to_complex(self.pyy)

    def _fft_shares(self):
        """ConvMoments' threading: each block thread transforms its share, one worker, in
        cache-sized steps."""
        def share(a, lo, hi, step):
            for s in range(lo, hi, step):
                self.sfft.rfft2(a[s:min(hi, s + step)], axes=(2, 3), workers=1)
        for a in (self.xc, self.yc):
            per = 3 * a.itemsize * int(np.prod(a.shape[1:]))
            step = max(1, cpu.TRANSFORM_STEP_BYTES // per)
            for lo in range(0, a.shape[0], self.step):
                hi = min(a.shape[0], lo + self.step)
                cuts = np.linspace(lo, hi, cpu.BLOCK_THREADS + 1).astype(int)
                futs = [cpu._pool().submit(share, a, p, q, step) for p, q in zip(cuts[:-1], cuts[1:])]
                for fu in futs:
                    fu.result()

    def _fft_workers(self):
        for a in (self.xc, self.yc):
            for lo in range(0, a.shape[0], self.step):
                self.sfft.rfft2(a[lo:lo + self.step], axes=(2, 3), workers=cpu.BLOCK_THREADS)

    def products(self):
        cpu.block_scatter_accumulate(self.za, self.za, self.pxx)
        cpu.block_scatter_accumulate(self.zb, self.zb, self.pyy)
        cpu.block_scatter_accumulate(self.za, self.zb, self.pxy)

    def __call__(self):
        t0 = time.perf_counter()
        self.fft()
        t1 = time.perf_counter()
        self.products()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    def decompositions(self, measure):
        """The **decomposition floor** of ``measure``: per frequency class, the least LAPACK work
        that an exact computation of it from these blocks can do.  Both measures end with the
        canonical correlations of one c x c problem per block, counted as the eigenvalues of one
        c x c Hermitian block (cheaper than the singular values of the whitened cross block that
        they are, and than the Gram route's product + ``eigvalsh``).  Before it,
        ``"conv_cca"`` whitens both sides: a Cholesky factor of each side's block, the cheapest
        factorisation that does; ``"conv_svcca"`` ranks the pooled spectrum: the eigenvalues
        (``eigvalsh``) of each side's block -- its eigenvectors, needed where a block drops
        directions, are left out.  One batched NumPy call each on the blocks of these data, the
        blocks split between the block threads, one-thread BLAS, as fastcca runs them.  Lower
        bounds: the whitening products, the triangular inverses, the projections onto the kept
        directions, the scaling and the rank rules are all left out."""
        la = np.linalg
        first = la.cholesky if measure == "conv_cca" else la.eigvalsh
        jobs = (first, self.sxx), (first, self.syy), (la.eigvalsh, self.sxx)
        f = self.sxx.shape[0]
        cuts = np.linspace(0, f, min(cpu.BLOCK_THREADS, f) + 1).astype(int)

        def part(lo, hi):
            for fn, s in jobs:
                fn(s[lo:hi])
        t = time.perf_counter()
        with cpu.batched_region():
            for fu in [cpu._pool().submit(part, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]:
                fu.result()
        return time.perf_counter() - t


def env():
    blas = [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info() if i.get("user_api") == "blas"]
    return dict(python=platform.python_version(), numpy=np.__version__, cpus=os.cpu_count(),
                blas=blas, block_threads=cpu.BLOCK_THREADS, load_average=os.getloadavg())


# ------------------------------------------------------------------------------ parts
_PARTS = {"spatial_stats_checked": "statistics pass", "spatial_rfft_blocks": "transform (centre+FFT+gather)",
          "block_scatter_accumulate": "block products", "real_view_to_complex": "to complex",
          "rfft_mean": "merge", "add_block_scatter_rank1": "merge"}


def instrumented_parts(fn):
    """One run of ``fn`` with the conv backend primitives and the decomposition stages timed.
    A part's time is the union of its calls' intervals (calls on the two block threads at once,
    e.g. the two sides' eigendecompositions, count once); "other" is the rest of the wall time."""
    spans = collections.defaultdict(list)
    saved = []

    def wrap(mod, name, label):
        f = getattr(mod, name)

        def g(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spans[label].append((t, time.perf_counter()))
        saved.append((mod, name, f))
        setattr(mod, name, g)
    for name, label in _PARTS.items():
        wrap(cpu, name, label)
    # the names conv_cca / conv_svcca look up in their module at call time
    wrap(conv_measures, "whiten_batched", "whitening")
    wrap(conv_measures, "correlate_batched", "canonical correlations (cross blocks, values)")
    wrap(conv_measures, "_top_eig", "SVCCA eigendecompositions")
    try:
        t = time.perf_counter()
        fn()
        total = time.perf_counter() - t
    finally:
        for mod, name, f in saved:
            setattr(mod, name, f)

    def union(iv):
        out, end = 0.0, -1e300
        for a, b in sorted(iv):
            if b > end:
                out += b - max(a, end)
                end = b
        return out
    out = {k: round(union(v), 4) for k, v in spans.items()}
    out["other (validation, notes, Python)"] = round(total - sum(out.values()), 4)
    out["total"] = round(total, 4)
    return out


def bench_floor(sizes, repeats, out):
    status = 0
    for (n, h, w, c) in sizes:
        x, y = conv_pair(n, h, w, c)
        for prec in ("float64", "float32"):
            fastcca.conv_cca(x[:64], y[:64], precision=prec)          # warm-up (JIT, pool)
            fastcca.conv_svcca(x[:64], y[:64], precision=prec)
            floor = Floor(x, y, prec)
            runs = {"fft": [], "products": [], "floor": [], "conv_cca": [], "conv_svcca": [],
                    "decompositions conv_cca": [], "decompositions conv_svcca": []}
            load0 = os.getloadavg()
            jobs = [("floor", floor), ("conv_cca", lambda: fastcca.conv_cca(x, y, precision=prec)),
                    ("conv_svcca", lambda: fastcca.conv_svcca(x, y, precision=prec))]
            r_cca = None
            for r in range(repeats):
                for name, fn in jobs[r % 3:] + jobs[:r % 3]:
                    t = time.perf_counter()
                    res = fn()
                    dt = time.perf_counter() - t
                    if name == "floor":
                        runs["fft"].append(res[0])
                        runs["products"].append(res[1])
                        dt = res[0] + res[1]
                        for m in ("conv_cca", "conv_svcca"):
                            runs["decompositions " + m].append(floor.decompositions(m))
                    elif name == "conv_cca":
                        r_cca = res
                    runs[name].append(dt)
            med = {k: float(np.median(v)) for k, v in runs.items()}
            ratio = {m: med[m] / med["floor"] for m in ("conv_cca", "conv_svcca")}
            paired = {m: float(np.median(np.array(runs[m]) / np.array(runs["floor"]))) for m in ("conv_cca", "conv_svcca")}
            # the best any exact implementation of this design can do: (floor + decompositions) / floor
            reachable = {m: (med["floor"] + med["decompositions " + m]) / med["floor"] for m in ("conv_cca", "conv_svcca")}
            to_both = {m: med[m] / (med["floor"] + med["decompositions " + m]) for m in ("conv_cca", "conv_svcca")}
            parts = {"conv_cca": instrumented_parts(lambda: fastcca.conv_cca(x, y, precision=prec)),
                     "conv_svcca": instrumented_parts(lambda: fastcca.conv_svcca(x, y, precision=prec))}
            row = dict(shape_nhwc=(n, h, w, c), precision=prec, repeats=repeats, medians_s=med,
                       ratio_of_medians=ratio, median_paired_ratio=paired,
                       floor_plus_decompositions_over_floor=reachable,
                       ratio_to_floor_plus_decompositions=to_both, runs_s=runs, parts_s=parts,
                       chunk_images=floor.step, floor_fft=floor.fft.__name__.strip("_"),
                       frequency_classes=int(r_cca.grid.n_classes), load_before=load0, load_after=os.getloadavg())
            out["floor"].append(row)
            print(json.dumps({k: row[k] for k in ("shape_nhwc", "precision", "medians_s", "ratio_of_medians",
                                                  "median_paired_ratio", "floor_plus_decompositions_over_floor",
                                                  "ratio_to_floor_plus_decompositions", "load_before",
                                                  "load_after")}), flush=True)
            if max(ratio.values()) > TARGET:
                status = 1
            del floor
    return status


def bench_baselines(sizes, repeats, base_repeats, out):
    from baselines.conv_reference import fourier_ccas_numpy
    from baselines import google_svcca
    try:
        dft = google_svcca.load()
    except google_svcca.ReferenceUnavailable as exc:
        dft = None
        out["notes"].append(f"google/svcca fourier_ccas not timed: {exc}")
        print(out["notes"][-1], flush=True)
    status = 0
    for (n, h, w, c) in sizes:
        x, y = conv_pair(n, h, w, c)
        xn, yn = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(y.transpose(0, 2, 3, 1))
        fastcca.conv_cca(x[:64], y[:64])
        row = dict(shape_nhwc=(n, h, w, c), load_before=os.getloadavg())
        t64, ts64, r64 = median_time(lambda: fastcca.conv_cca(x, y), repeats)
        t32, ts32, r32 = median_time(lambda: fastcca.conv_cca(x, y, precision="float32"), repeats)
        row.update(fastcca_f64_s=t64, fastcca_f64_runs=ts64, fastcca_f32_s=t32, fastcca_f32_runs=ts32)
        _, ours = r64.per_location()
        with threadpool_limits(1, user_api="blas"):
            tb, tsb, ref = median_time(lambda: fourier_ccas_numpy(xn, yn), base_repeats)
        row.update(numpy_loop_1thread_s=tb, numpy_loop_runs=tsb, numpy_loop_ratio_f64=tb / t64,
                   numpy_loop_ratio_f32=tb / t32, max_diff_vs_numpy_loop=float(np.nanmax(np.abs(ours - ref))))
        if dft is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tg, tsg, df = median_time(lambda: dft.fourier_ccas(xn, yn), base_repeats)
            g = google_svcca.per_location(df, h, w, c)
            row.update(google_svcca_s=tg, google_svcca_runs=tsg, google_ratio_f64=tg / t64,
                       google_ratio_f32=tg / t32, max_diff_vs_google=float(np.nanmax(np.abs(ours - g))))
        row["load_after"] = os.getloadavg()
        out["baselines"].append(row)
        print(json.dumps(row, default=str), flush=True)
        if max(v for k, v in row.items() if k.startswith("max_diff")) > 1e-4:
            print(f"WRONG RESULT at {(n, h, w, c)}")
            status = 2
    return status


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
    from fastcca.kernels import _batched, _numba_cpu
    rng = np.random.default_rng(2)

    def record(row):
        out["kernels"].append(row)
        print(json.dumps(row), flush=True)

    # frequency-major gather
    x = rng.standard_normal((500, 64, 16, 16))
    g = frequency_grid((16, 16), (16, 16))
    fl = g.flat_index("x")
    z = np.fft.rfft2(x).reshape(500, 64, -1)
    o = np.empty((len(fl), 500, 64), complex)
    t_nb, _, _ = median_time(lambda: _numba_cpu.gather_frequencies(z, fl, o, 0), repeats)
    t_np, _, ref = median_time(lambda: np.ascontiguousarray(np.moveaxis(z, 2, 0)[fl]), repeats)
    assert np.array_equal(ref, o)
    record(dict(what="frequency-major gather, 500 images x 64 channels x 136 classes (complex128), one thread",
                numba=t_nb, numpy_fancy_index=t_np, ratio=t_np / t_nb))

    # triangular inverse, batched small blocks
    for nb, k in ((528, 32), (136, 64), (36, 128)):
        a = rng.standard_normal((nb, 2 * k, k)) + 1j * rng.standard_normal((nb, 2 * k, k))
        l = np.linalg.cholesky(a.conj().transpose(0, 2, 1) @ a)
        with threadpool_limits(1, user_api="blas"):
            t_rec, _, r1 = median_time(lambda: _batched.inv_lower(np, l), repeats)
            t_inv, _, r2 = median_time(lambda: np.linalg.inv(l), repeats)
        record(dict(what=f"inverse of {nb} lower-triangular {k} x {k} complex blocks, 1 thread",
                    recursive_blocks=t_rec, numpy_inv=t_inv, ratio=t_inv / t_rec,
                    max_rel_diff=float(np.abs(r1 - r2).max() / np.abs(r2).max())))

    # the block threads: batched LAPACK split in two vs one call (1-thread BLAS) vs default threads
    a = rng.standard_normal((528, 96, 32)) + 1j * rng.standard_normal((528, 96, 32))
    s = a.conj().transpose(0, 2, 1) @ a
    for name, f in (("eigh", np.linalg.eigh), ("svdvals", lambda m: np.linalg.svd(m, compute_uv=False))):
        t_split, _, _ = median_time(lambda: cpu.blockwise(f, s), repeats)
        with threadpool_limits(1, user_api="blas"):
            t_one, _, _ = median_time(lambda: f(s), repeats)
        t_def, _, _ = median_time(lambda: f(s), repeats)
        record(dict(what=f"{name} of 528 blocks 32 x 32 complex", block_threads=t_split, one_call_1thread=t_one,
                    one_call_default_threads=t_def, ratio_vs_best_single=min(t_one, t_def) / t_split))

    # real-view block GEMM vs NumPy's complex matmul
    f, b, c = 528, 366, 32            # a chunk of (1000, 32, 32, 32) float64
    a = rng.standard_normal((f, b, c)) + 1j * rng.standard_normal((f, b, c))
    t_real, _, s1 = median_time(lambda: cpu.block_scatter(a, a), repeats)
    t_np, _, s2 = median_time(lambda: cpu.block_scatter_numpy(a, a), repeats)
    assert np.abs(s1 - s2).max() < 1e-9 * np.abs(s2).max()
    record(dict(what="block GEMM a^H a (528 blocks, 366 x 32 complex)", real_view_pool=t_real, numpy_complex_matmul=t_np,
                ratio=t_np / t_real))


def table(rows):
    """Markdown tables of the floor section: the ratios to the floor (the target), then, where the
    run measured them, the decomposition floors and what they leave reachable."""
    lines = ["| (n, h, w, c) | precision | floor (FFT + products) | conv_cca | ratio | conv_svcca | ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["medians_s"]
        lines.append(f"| {tuple(r['shape_nhwc'])} | {r['precision']} | {m['floor']:.3f} s ({m['fft']:.3f} + "
                     f"{m['products']:.3f}) | {m['conv_cca']:.3f} s | **{r['ratio_of_medians']['conv_cca']:.2f}x** "
                     f"({r['median_paired_ratio']['conv_cca']:.2f}) | {m['conv_svcca']:.3f} s | "
                     f"**{r['ratio_of_medians']['conv_svcca']:.2f}x** ({r['median_paired_ratio']['conv_svcca']:.2f}) |")
    rows = [r for r in rows if "floor_plus_decompositions_over_floor" in r]
    if rows:
        lines += ["", "| (n, h, w, c) | precision | decomposition floor cca / svcca | best reachable ratio "
                  "(floor + decompositions) / floor, cca / svcca | conv_cca / (floor + decompositions) | "
                  "conv_svcca / (floor + decompositions) |", "|---|---|---|---|---|---|"]
        for r in rows:
            m, best, both = r["medians_s"], r["floor_plus_decompositions_over_floor"], r["ratio_to_floor_plus_decompositions"]
            lines.append(f"| {tuple(r['shape_nhwc'])} | {r['precision']} | {m['decompositions conv_cca']:.3f} / "
                         f"{m['decompositions conv_svcca']:.3f} s | {best['conv_cca']:.2f} / {best['conv_svcca']:.2f} | "
                         f"{both['conv_cca']:.2f} | {both['conv_svcca']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (a smoke run, not the targets)")
    ap.add_argument("--repeats", type=int, default=7, help="rounds of the floor section (default 7)")
    ap.add_argument("--baseline-repeats", type=int, default=2)
    ap.add_argument("--sizes", default=None, help="floor sizes as n,h,w,c;n,h,w,c (default: the three of issue 18)")
    ap.add_argument("--json", default=None, help="also write all figures to this file")
    ap.add_argument("--only", choices=("floor", "baselines", "flat", "kernels"), action="append", default=None)
    ap.add_argument("--table", metavar="JSON", help="print the markdown table of an earlier --json file and exit")
    a = ap.parse_args(argv)
    if a.table:
        with open(a.table) as fh:
            print(table(json.load(fh)["floor"]))
        return 0
    sizes = FLOOR_SIZES if not a.sizes else [tuple(int(v) for v in s.split(",")) for s in a.sizes.split(";")]
    reps = a.repeats
    if a.quick:
        sizes, reps = QUICK_SIZES, 3
    only = set(a.only or (["floor"] if not a.quick else ["floor", "kernels"]))
    out = dict(env=env(), command=" ".join([os.path.basename(sys.executable), *sys.argv]),
               date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), target=TARGET,
               floor=[], baselines=[], flat=[], kernels=[], notes=[])
    print(json.dumps(out["env"]), flush=True)
    status = 0
    if "floor" in only:
        status = max(status, bench_floor(sizes, reps, out))
    if "baselines" in only:
        bs = QUICK_SIZES[:1] if a.quick else BASELINE_SIZES
        status = max(status, bench_baselines(bs, max(2, reps // 2), a.baseline_repeats, out))
    if "flat" in only:
        bench_flat([(5000, 8, 8, 16), (4000, 16, 16, 4)], 3, out)
    if "kernels" in only:
        bench_kernels(5, out)
    out["env"]["load_average_end"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    if out["floor"]:
        print(table(out["floor"]))
    return status


if __name__ == "__main__":
    sys.exit(main())

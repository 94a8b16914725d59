"""Core speed and memory targets of fastcca (issue [core], "Speed and memory"), in ONE run.

    python asv_bench/bench_core.py [--quick] [--out FILE.json] [--repeats N] [--threads 2]

Times, in the same process and interleaved (fastcca, baseline, fastcca, baseline, ...), so that
a load change on a shared machine hits both sides alike:

* ``fastcca.cca / svcca / pwcca`` from the two activation arrays (samples first, (n, p) C-ordered:
  the moments pass is INCLUDED in every fastcca time), against
* the plain-NumPy original algorithms of ``asv_bench/baselines/reference_numpy.py`` given the
  same data in their own layout (neurons first, (p, n) C-ordered),

at (p = q = 512, n = 20 000) and (p = q = 1024, n = 50 000), float64, with BLAS limited
to ``--threads`` threads (threadpoolctl; fastcca's Numba kernels are serial).  The ratio of the medians is
checked against the targets CCA >= 2.5x, SVCCA >= 15x, PWCCA >= 6x.  PWCCA is timed twice: the
paper variant (fastcca's default) and ``variant="reference"`` (the same formula as the baseline).

Memory: a child process streams ``--stream-n`` (default 1e6) datapoints x 1024 neurons per side
through ``Moments.update`` in batches generated on the fly (the whole array never exists), then
computes CCA and SVCCA from the moments.  The child reports

* its peak resident set (``VmHWM`` on Linux, else ``ru_maxrss``: the whole process,
  interpreter, NumPy, SciPy, Numba/LLVM, batches, scratch, state) -- the figure checked
  against the 1 GB target, and
* the ``tracemalloc`` peak, which counts NumPy's data buffers (NumPy reports them to
  tracemalloc) and Python objects but not BLAS/LAPACK or Numba internal workspace: the
  share of the peak that fastcca's own arrays are responsible for.

The parent also records ``getrusage(RUSAGE_CHILDREN)`` (which, on Linux, includes the parent's
own high-water mark at the time of the fork, so it is only a cross-check).

OpenBLAS: some machines set ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` to pin an older kernel.
``--openblas-env unset`` re-executes this script without both (for this benchmark only); the
JSON records the variables and the kernel threadpoolctl reports, so runs are comparable.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_OB_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

TARGETS = {"cca": 2.5, "svcca": 15.0, "pwcca": 6.0}
FULL_SIZES = [(512, 20_000), (1024, 50_000)]
QUICK_SIZES = [(128, 4_000), (256, 8_000)]
#: the memory target, 1 GB (10^9 bytes, the stricter reading), in MiB
LIMIT_MIB = 1e9 / 2**20


def _parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"small sizes {QUICK_SIZES}, 1 repeat, 1e5-row stream (a smoke run, not the targets)")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 3; quick 1)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    ap.add_argument("--sizes", default=None, help="override sizes, e.g. '512x20000,1024x50000'")
    ap.add_argument("--measures", default="cca,svcca,pwcca,pwcca_reference")
    ap.add_argument("--stream-n", type=float, default=None, help="datapoints streamed in the memory check (default 1e6)")
    ap.add_argument("--stream-p", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8192, help="rows per streamed batch")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--precision", choices=("float64", "float32"), default="float64",
                    help="fastcca's batch-product arithmetic (Moments(precision=...)); state is float64")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--openblas-env", choices=("keep", "unset"), default="keep",
                    help="'unset': re-run without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (both together)")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="print the markdown table of earlier --out files and exit")
    ap.add_argument("--_stream-child", nargs=4, metavar=("N", "P", "BATCH", "THREADS"), help=argparse.SUPPRESS)
    return ap.parse_args(argv)


# ---------------------------------------------------------------------------------- helpers
def _limit_threads(threads):
    # BLAS only: fastcca's Numba kernels are serial, and numba.set_num_threads would launch Numba's
    # threading layer (a second OpenMP runtime beside torch's; issue [stability]).
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)


def _environment(threads):
    import numba
    import numpy as np
    import scipy
    from threadpoolctl import threadpool_info
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    try:
        numba_layer = numba.threading_layer()
    except ValueError:
        numba_layer = "not initialised"
    return dict(
        python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
        numba=numba.__version__, numba_threading_layer=numba_layer,
        machine=platform.machine(), processor=_cpu_name(), cpu_count=os.cpu_count(), threads=threads,
        blas=[{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
              for d in threadpool_info()],
        openblas_env={k: os.environ.get(k) for k in _OB_VARS},
        loadavg=load, time_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _data(p, n, seed=0):
    """x (n, p), y (n, p) samples first (fastcca's layout) and their neurons-first C-ordered
    copies (the reference's layout).  y depends on x linearly plus noise, x has a decaying
    spectrum (so SVCCA keeps a realistic fraction of the directions)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(p) / (p / 8)) + 0.05
    x = rng.standard_normal((n, p)) * decay
    y = x @ (rng.standard_normal((p, p)) / np.sqrt(p))
    y += 0.3 * rng.standard_normal((n, p))
    return x, y, np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)


#: fastcca's moments-pass arithmetic (``--precision``); the baselines are always float64
PRECISION = "float64"


def _cases():
    import fastcca
    sys.path.insert(0, HERE)
    from baselines import reference_numpy as ref
    return {
        "cca": (lambda x, y: fastcca.cca(x, y, precision=PRECISION).similarity,
                lambda a, b: float(ref.cca_reference(a, b)["coef"].mean())),
        "svcca": (lambda x, y: fastcca.svcca(x, y, precision=PRECISION).similarity,
                  lambda a, b: ref.svcca_reference(a, b)["similarity"]),
        "pwcca": (lambda x, y: fastcca.pwcca(x, y, precision=PRECISION).similarity,
                  lambda a, b: ref.pwcca_reference(a, b)["similarity"]),
        "pwcca_reference": (lambda x, y: fastcca.pwcca(x, y, variant="reference", precision=PRECISION).similarity,
                            lambda a, b: ref.pwcca_reference(a, b)["similarity"]),
    }


def _timed(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - t0, out


def _products_floor(x, y, dtype):
    """The products every exact moments method must form, and nothing else: ``xc^T xc`` and
    ``yc^T yc`` (SYRK) and ``xc^T yc`` (GEMM) of already-centred C-ordered copies in ``dtype``
    (4 p^2 n flops for p = q; ``np.cov`` of the stacked data does the same SYRK work).  No method
    built on these products can be faster than this, so ``baseline / floor`` bounds the ratio
    any of them can reach -- the check of whether a target is reachable at all on this machine."""
    import numpy as np
    xc = np.ascontiguousarray(x - x.mean(axis=0), dtype=dtype)
    yc = np.ascontiguousarray(y - y.mean(axis=0), dtype=dtype)

    def products():
        xc.T @ xc
        yc.T @ yc
        xc.T @ yc
    products()
    return products


def run_speed(sizes, measures, repeats):
    import fastcca
    cases = _cases()
    # compile the Numba kernels outside the timings
    xs, ys, _, _ = _data(64, 2048, seed=1)
    fastcca.cca(xs, ys)
    rows = []
    for p, n in sizes:
        x, y, xt, yt = _data(p, n)
        # fastcca's own breakdown: moments pass vs the measure from moments
        fastcca.Moments.from_arrays(x, y)
        t_mom = statistics.median(_timed(lambda a, b: fastcca.Moments.from_arrays(a, b, precision=PRECISION), x, y)[0]
                                  for _ in range(repeats))
        mom = fastcca.Moments.from_arrays(x, y, precision=PRECISION)
        floor_fn = _products_floor(x, y, "float32" if PRECISION == "float32" else "float64")
        t_floor = statistics.median(_timed(floor_fn)[0] for _ in range(repeats))
        del floor_fn
        print(f"  products floor p=q={p} n={n} ({PRECISION}): {t_floor:.3f} s", flush=True)
        for name in measures:
            f_fast, f_ref = cases[name]
            f_fast(x, y)                                   # warm (page faults, caches)
            tf, tb = [], []
            for _ in range(repeats):                       # interleaved: same load for both
                dt, v_fast = _timed(f_fast, x, y)
                tf.append(dt)
                dt, v_ref = _timed(f_ref, xt, yt)
                tb.append(dt)
            measure_fn = {"cca": lambda m: fastcca.cca(m), "svcca": lambda m: fastcca.svcca(m),
                          "pwcca": lambda m: fastcca.pwcca(m),
                          "pwcca_reference": lambda m: fastcca.pwcca(m, variant="reference")}[name]
            t_from_m = statistics.median(_timed(measure_fn, mom)[0] for _ in range(repeats))
            mf, mb = statistics.median(tf), statistics.median(tb)
            key = name.split("_")[0]
            row = dict(measure=name, p=p, q=p, n=n, dtype="float64", precision=PRECISION, repeats=repeats,
                       fastcca_s=mf, baseline_s=mb, ratio=mb / mf,
                       # ratio of the fastest runs: less sensitive to load spikes on a shared machine
                       ratio_of_min=min(tb) / min(tf),
                       fastcca_all_s=tf, baseline_all_s=tb,
                       fastcca_moments_s=t_mom, fastcca_from_moments_s=t_from_m,
                       products_floor_s=t_floor, target_time_s=mb / TARGETS[key],
                       # the best ratio any method built on the moment products could reach here
                       ratio_bound_by_floor=mb / t_floor,
                       target=TARGETS[key], meets_target=(mb / mf) >= TARGETS[key],
                       similarity_fastcca=v_fast, similarity_baseline=v_ref)
            rows.append(row)
            print(f"  {name:16s} p=q={p:5d} n={n:7d}  fastcca {mf:8.3f} s  baseline {mb:8.3f} s  "
                  f"ratio {mb / mf:6.2f}x (of mins {min(tb) / min(tf):6.2f}x)  (target {TARGETS[key]:g}x: {'ok' if row['meets_target'] else 'MISSED'})"
                  f"  [moments {t_mom:.3f} s + measure {t_from_m:.3f} s; products floor {t_floor:.3f} s bounds the "
                  f"ratio by {mb / t_floor:.2f}x]  sim {v_fast:.6f} vs {v_ref:.6f}",
                  flush=True)
        del x, y, xt, yt, mom
    return rows


# ---------------------------------------------------------------------------------- memory
def _peak_rss_kib():
    """Peak resident set of THIS process in KiB: ``VmHWM`` of ``/proc/self/status`` where it
    exists (Linux: the high-water mark of the process's own address space), else ``ru_maxrss``.
    ``ru_maxrss`` alone is wrong for a child started by a large parent: Linux carries the
    parent's high-water mark across fork + exec (a child of the speed run, whose parent held
    the 1024 x 50k arrays, reported 4282 MiB right after its imports)."""
    import resource
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _stream_child(n, p, batch, threads):
    """Runs in a fresh process: stream n x p per side in batches made on the fly."""
    import tracemalloc
    import numpy as np
    _limit_threads(threads)
    import fastcca
    # warm the Numba kernels (compilation is a fixed cost, but do it before tracing)
    fastcca.Moments().update(np.ones((64, 256)) + np.arange(256), np.ones((64, 256)) * np.arange(256))
    rss_start = _peak_rss_kib()
    tracemalloc.start()
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((p, p)) / np.sqrt(p)       # y = x @ mix-ish, made cheap below
    perm = rng.permutation(p)
    m = fastcca.Moments()
    t0 = time.perf_counter()
    done = 0
    while done < n:
        b = min(batch, n - done)
        xb = rng.standard_normal((b, p))
        yb = xb[:, perm]                                 # a correlated second side, no extra GEMM
        yb += 0.5 * rng.standard_normal((b, p))
        m.update(xb, yb)
        done += b
        del xb, yb
    t_stream = time.perf_counter() - t0
    sim_cca = fastcca.cca(m).similarity
    sim_svcca = fastcca.svcca(m).similarity
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del mix
    rss_peak = _peak_rss_kib()
    print(json.dumps(dict(n=n, p=p, batch=batch, stream_s=t_stream, cca=sim_cca, svcca=sim_svcca,
                          rss_after_imports_MiB=rss_start / 1024, peak_rss_MiB=rss_peak / 1024,
                          tracemalloc_peak_MiB=traced_peak / 2**20)))


def run_memory(n, p, batch, threads):
    import resource
    cmd = [sys.executable, os.path.abspath(__file__), "--_stream-child", str(int(n)), str(p), str(batch), str(threads)]
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"streaming child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res["children_maxrss_MiB"] = max(after, before) / 1024
    res["limit_MiB"] = LIMIT_MIB
    res["meets_target"] = res["peak_rss_MiB"] < LIMIT_MIB
    print(f"  stream n={n:.0f} p=q={p} batch={batch}: peak RSS {res['peak_rss_MiB']:.0f} MiB "
          f"(after imports {res['rss_after_imports_MiB']:.0f} MiB; NumPy/tracemalloc peak "
          f"{res['tracemalloc_peak_MiB']:.0f} MiB) in {res['stream_s']:.1f} s -> "
          f"{'ok' if res['meets_target'] else 'MISSED'} (< 1 GB = {LIMIT_MIB:.0f} MiB)", flush=True)
    return res


def print_table(paths):
    """Markdown table of the speed rows (and memory) of earlier ``--out`` files."""
    print("| run | measure | p = q | n | fastcca s (median) | baseline s (median) | ratio of medians | ratio of mins "
          "| products floor s | bound: baseline / floor | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        with open(path) as f:
            res = json.load(f)
        tag = os.path.basename(path)
        for r in res.get("speed", []):
            rmin = r.get("ratio_of_min", min(r["baseline_all_s"]) / min(r["fastcca_all_s"]))
            fl = r.get("products_floor_s")
            floor = f"{fl:.3f} | {r['baseline_s'] / fl:.2f}x" if fl else "- | -"
            print(f"| {tag} | {r['measure']} | {r['p']} | {r['n']} | {r['fastcca_s']:.3f} | {r['baseline_s']:.3f} "
                  f"| {r['ratio']:.2f}x | {rmin:.2f}x | {floor} | {r['target']:g}x {'met' if r['ratio'] >= r['target'] else 'missed'} |")
    for path in paths:
        with open(path) as f:
            m = json.load(f).get("memory")
        if m:
            print(f"\n{os.path.basename(path)}: stream n={m['n']} p=q={m['p']} batch={m['batch']}: peak RSS "
                  f"{m['peak_rss_MiB']:.0f} MiB (limit {m['limit_MiB']:.0f} MiB), tracemalloc peak "
                  f"{m['tracemalloc_peak_MiB']:.0f} MiB, peak before streaming {m['rss_after_imports_MiB']:.0f} MiB, "
                  f"{m['stream_s']:.0f} s")
    return 0


# ---------------------------------------------------------------------------------- main
def main(argv=None):
    args = _parse(argv)
    if args.table:
        return print_table(args.table)
    if args._stream_child:
        n, p, batch, threads = (int(v) for v in args._stream_child)
        return _stream_child(n, p, batch, threads)
    if args.openblas_env == "unset" and any(k in os.environ for k in _OB_VARS):
        env = {k: v for k, v in os.environ.items() if k not in _OB_VARS}
        argv2 = [a for a in (argv if argv is not None else sys.argv[1:])]
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + argv2, env)
    sys.path.insert(0, ROOT)
    global PRECISION
    PRECISION = args.precision
    _limit_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
    stream_n = int(args.stream_n or (1e5 if args.quick else 1e6))
    measures = [m for m in args.measures.split(",") if m]
    print(f"fastcca core benchmark: sizes {sizes}, {repeats} repeat(s), {args.threads} threads, "
          f"fastcca precision {PRECISION}", flush=True)
    env_before = _environment(args.threads)
    print(f"  BLAS {env_before['blas']}, OPENBLAS env {env_before['openblas_env']}, load {env_before['loadavg']}",
          flush=True)
    result = dict(command=" ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]), environment=env_before)
    if not args.no_speed:
        result["speed"] = run_speed(sizes, measures, repeats)
    if not args.no_memory:
        result["memory"] = run_memory(stream_n, args.stream_p, args.batch, args.threads)
    result["environment_after"] = _environment(args.threads)
    print(f"  load average at the end: {result['environment_after']['loadavg']}; "
          f"Numba threading layer: {result['environment_after']['numba_threading_layer']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.out}")
    missed = [r for r in result.get("speed", []) if not r["meets_target"] and not args.quick]
    if "memory" in result and not result["memory"]["meets_target"]:
        missed.append("memory")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The measures of docs/measures.md from moments against their straightforward implementation on
stored activations, in ONE run, beside CCA's own ratio (issue [measures], "Benchmark").

    PYTHONPATH=$PWD python asv_bench/bench_measures.py [--p 1024 --n 50000] [--repeats 3] [--out F.json]

For each measure, interleaved ``--repeats`` times (fastcca, baseline, fastcca, ...) so that a load
change on a shared machine hits both alike, with BLAS limited to ``--threads``:

* ``fastcca`` -- the public function on the two (n, p) arrays: the moments pass INCLUDED;
* ``from moments`` -- the same measure from an already accumulated ``Moments`` (what every
  further measure of the same pair costs);
* ``baseline`` -- ``asv_bench/baselines/straightforward.py`` on the stored activations (CCA:
  the reference algorithm, ``baselines/reference_numpy.py``, on its own (p, n) layout).

Ratios are baseline median / fastcca median (and, beside them, the ratio of the minima: on a
shared machine the least disturbed times).  The target of the issue: every measure's ratio at
least CCA's.  Exit status 1 when one is below (``--no-check`` to only report).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--p", type=int, default=1024, help="neurons per side (default 1024)")
    ap.add_argument("--n", type=int, default=50_000, help="datapoints (default 50 000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--null-draws", type=int, default=3, help="draws of the null baseline (default 3)")
    ap.add_argument("--jackknife-shards", type=int, default=5,
                    help="shards of the jackknife (default 5: its baseline re-runs the reference CCA that often)")
    ap.add_argument("--measures",
                    default="cca,debiased_cka,shape_angular,procrustes,pls,pca,linear_predictivity,null_cca,jackknife")
    ap.add_argument("--out", default=None, help="write the figures as JSON")
    ap.add_argument("--no-check", action="store_true")
    return ap.parse_args()


def main() -> int:
    a = _args()
    from threadpoolctl import threadpool_limits
    threadpool_limits(a.threads)
    import fastcca
    from baselines import straightforward as sf
    from baselines.reference_numpy import cca_reference
    from benchmarks._common import pair

    x, y = pair(a.p, a.n)
    xt, yt = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
    draws = a.null_draws
    cases = {  # name -> (fastcca on arrays, fastcca from a Moments, baseline)
        "cca": (lambda: fastcca.cca(x, y), lambda m: fastcca.cca(m), lambda: cca_reference(xt, yt)["coef"].mean()),
        "debiased_cka": (lambda: fastcca.debiased_cka(x, y), lambda m: fastcca.debiased_cka(mk),
                         lambda: sf.debiased_cka(x, y)),
        "shape_angular": (lambda: fastcca.shape_metric(x, y, alpha=0.5), lambda m: fastcca.shape_metric(m, alpha=0.5),
                          lambda: sf.shape_angular(x, y, 0.5)),
        "procrustes": (lambda: fastcca.procrustes(x, y), lambda m: fastcca.procrustes(m), lambda: sf.procrustes(x, y)),
        "pls": (lambda: fastcca.pls(x, y), lambda m: fastcca.pls(m), lambda: sf.pls(x, y)),
        "pca": (lambda: fastcca.pca(x), lambda m: fastcca.pca(m), lambda: sf.pca(x)),
        "linear_predictivity": (lambda: fastcca.linear_predictivity(x, y), lambda m: fastcca.linear_predictivity(m),
                                lambda: sf.linear_predictivity(x, y)),
        # error bars of CCA over k shards: the jackknife from moments vs k leave-one-out CCAs of the
        # reference on the stored activations
        "jackknife": (lambda: fastcca.jackknife(fastcca.Moments.from_arrays(x, y, shards=k, shard_by="index"), "cca"),
                      lambda m: fastcca.jackknife(ms, "cca"), lambda: sf.jackknife_cca(xt, yt, k)),
        "null_cca": (lambda: fastcca.null_baseline(x, y, measure="cca", draws=draws),
                     lambda m: fastcca.null_baseline(m, measure="cca", draws=draws),
                     lambda: sf.null_cca(x, y, draws=draws)),
    }
    names = [s for s in a.measures.split(",") if s]
    fastcca.cca(*pair(16, 4096))                                   # compile the kernels
    m = fastcca.Moments.from_arrays(x, y)
    mk = fastcca.Moments.from_arrays(x, y, debiased_cka=True)
    k = a.jackknife_shards
    ms = fastcca.Moments.from_arrays(x, y, shards=k, shard_by="index")
    rows = {}
    for name in names:
        f_arr, f_mom, f_base = cases[name]
        f_arr()                                                    # warm
        ta, tm, tb = [], [], []
        for _ in range(a.repeats):
            for f, acc in ((f_arr, ta), (lambda: f_mom(m), tm), (f_base, tb)):
                t0 = time.perf_counter()
                f()
                acc.append(time.perf_counter() - t0)
        row = dict(fastcca=statistics.median(ta), from_moments=statistics.median(tm), baseline=statistics.median(tb),
                   fastcca_all=ta, from_moments_all=tm, baseline_all=tb)
        row["ratio"] = row["baseline"] / row["fastcca"]
        row["ratio_from_moments"] = row["baseline"] / row["from_moments"]
        # on a shared machine the minima are the least disturbed times: their ratio beside the medians'
        row["ratio_of_minima"] = min(tb) / min(ta)
        rows[name] = row
        print(f"{name:20s} fastcca {row['fastcca']:8.3f} s  from moments {row['from_moments']:8.3f} s  "
              f"baseline {row['baseline']:8.3f} s  ratio {row['ratio']:6.2f}x [minima {row['ratio_of_minima']:6.2f}x]  "
              f"(from moments {row['ratio_from_moments']:7.1f}x)", flush=True)
    out = dict(date=datetime.date.today().isoformat(), p=a.p, n=a.n, repeats=a.repeats, threads=a.threads,
               null_draws=draws, jackknife_shards=k, machine=platform.platform(), load=os.getloadavg(), rows=rows)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(out, fh, indent=1)
    if "cca" not in rows or a.no_check:
        return 0
    below = [k for k, r in rows.items() if k != "cca" and r["ratio"] < rows["cca"]["ratio"]]
    print(f"CCA's ratio {rows['cca']['ratio']:.2f}x; below it: {', '.join(below) or 'none'}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of the power-of-two scaling (issue [numerics]): the float64 moments pass of this tree
against a baseline source tree (the code before the change), in ONE run.

    git archive main | (mkdir -p /tmp/fastcca-base && tar -x -C /tmp/fastcca-base)
    python asv_bench/bench_scaling.py --baseline /tmp/fastcca-base [--n 50000 --p 1024] [--out FILE.json]

End to end: each timing runs in a fresh child process that imports fastcca from one tree (the
baseline or this one), generates the same data (seeded, float64, (n, p) and (n, p)
C-ordered), compiles the kernels on a small batch, then times ``Moments.from_arrays(x, y)`` (one
batch: the whole pass, centring both sides + SYRK + SYRK + GEMM) and ``Moments.from_arrays(x,
y, batch_size=8192)`` (the streaming path: per-batch checks and merges included) ``--inner``
times each, keeping the fastest.  Children alternate between the two trees, in swapped order
every round, so that a load change on a shared machine hits both alike; printed are the medians
over ``--rounds`` rounds, their ratio (this / baseline) and the median of the per-round ratios
("paired").  A third case times this tree on the same data times 1e200 (exponent 640: the
scaled path; the baseline overflows there).

Clocks: each pass is timed by the wall clock and by the process CPU time (user + system of all
its threads).  On a shared, loaded machine the wall clock of a child swings by tens of percent;
with ``--threads 1`` (the default) the CPU time counts the work a pass does rather than its
waiting for a core, though cache and memory-bandwidth contention still move it by several
percent -- more than the cost measured here.

Components: a last child of this tree times, in one process and interleaved, each step the
change touches (``_components``): both sides' centring (``center_checked`` before,
``center_scaled`` now), the finiteness check of the three blocks, and the merge (before: three
rank-1 updates; now: the same plus exponent alignment and column bounds).  The summed
difference over this tree's one-batch pass is the far less noisy estimate of the cost.  It also
times ``Moments.update`` of one (8192, p) batch against the update as it was before the change
(``_update_before_scaling``), interleaved, as the median of the paired ratios.

Exit status 1 when the changed steps cost more than ``--limit - 1`` (default 3%) of this tree's
one-batch pass: the component estimate is the gate, as it resolves a fraction of a percent where
the end-to-end ratios (printed with it) swing by 5-10% on a shared machine.  BLAS limited to
``--threads`` threads (threadpoolctl); fastcca's Numba kernels are serial.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ("one_batch", "batches_8192")


def _child(tree: str, n: int, p: int, inner: int, threads: int, scaled: bool) -> dict:
    sys.path.insert(0, tree)
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    import numpy as np
    import fastcca
    assert os.path.realpath(fastcca.__file__).startswith(os.path.realpath(tree)), fastcca.__file__
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p))
    y = x[:, ::-1] * 0.5 + rng.standard_normal((n, p))
    if scaled:
        x *= 1e200
    fastcca.Moments.from_arrays(x[:2048], y[:2048])            # compile / load the kernels
    out = {"fastcca": os.path.realpath(fastcca.__file__)}
    for case, bs in zip(CASES, (None, 8192)):
        best = {"wall": float("inf"), "cpu": float("inf")}
        for _ in range(inner):
            t, c = time.perf_counter(), time.process_time()
            m = fastcca.Moments.from_arrays(x, y, batch_size=bs)
            best = {"wall": min(best["wall"], time.perf_counter() - t), "cpu": min(best["cpu"], time.process_time() - c)}
        out[case] = best
    out["exponent_x"] = int(getattr(m, "exponent_x", 0))
    return out


def _components(n: int, p: int, repeats: int, threads: int) -> dict:
    """Interleaved, in one process, what the change adds to an update, step by step (CPU
    seconds, medians over ``repeats``): both sides' centring (``center_checked`` before,
    ``center_scaled`` now) on (n, p), the finiteness check of the three (p, p) blocks, and Chan's
    merge of a batch's blocks into a state (before: three rank-1 updates; now: the same plus the
    exponent alignment and the column bounds).  Then ``Moments.update`` of an (8192, p) batch
    against the update before the change, as the median of paired ratios."""
    sys.path.insert(0, ROOT)
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    import numpy as np
    import fastcca
    from fastcca._validation import check_state_finite
    from fastcca.kernels import cpu
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p))
    y = x[:, ::-1] * 0.5 + rng.standard_normal((n, p))
    xb, yb = x[:8192], y[:8192]
    m = fastcca.Moments.from_arrays(xb, yb)
    cx, cy = cpu.center_scaled(xb), cpu.center_scaled(yb)
    blocks = {"sxx": cpu.scatter(cx.xc, cx.xc), "syy": cpu.scatter(cy.xc, cy.xc), "sxy": cpu.scatter(cx.xc, cy.xc)}
    cpu.center_checked(x[:2048])
    t = {k: [] for k in ("center_checked", "center_scaled", "check", "merge_before", "merge_now")}

    def timed(key, f, *a, **kw):
        c = time.process_time()
        f(*a, **kw)
        t[key].append(time.process_time() - c)

    for _ in range(repeats):
        timed("center_checked", lambda: (cpu.center_checked(x), cpu.center_checked(y)))
        timed("center_scaled", lambda: (cpu.center_scaled(x), cpu.center_scaled(y)))
        timed("check", check_state_finite, np, blocks, "update")
        st, mm = _dict_state(m), m.copy()
        timed("merge_before", _merge_before_scaling, cpu, st, 8192, cx.mean, cy.mean, *blocks.values())
        timed("merge_now", mm._merge_parts, 8192, cx.mean, cy.mean, *blocks.values(), 0, 0,
              (cx.lo, cx.hi, cy.lo, cy.hi), owned=False, same=False)
    out = {k: statistics.median(v) for k, v in t.items()}
    st, ratios = _dict_state(m), []
    for r in range(repeats):
        tt = {}
        for which in ("new", "old") if r % 2 == 0 else ("old", "new"):
            c = time.process_time()
            m.update(xb, yb) if which == "new" else _update_before_scaling(cpu, st, xb, yb)
            tt[which] = time.process_time() - c
        ratios.append(tt["new"] / tt["old"])
    out["update_8192_paired_ratio"] = statistics.median(ratios)
    return out


def _dict_state(m) -> dict:
    return dict(n=m.n, mx=m.mean_x.copy(), my=m.mean_y.copy(), sxx=m.sxx.copy(), syy=m.syy.copy(), sxy=m.sxy.copy())


def _update_before_scaling(be, st, x, y) -> None:
    """``Moments.update`` as it was before the power-of-two units (fastcca 6dfa278), on a dict
    state: centre, three products, Chan's merge."""
    (xc, mx), (yc, my) = be.center_checked(x), be.center_checked(y)
    _merge_before_scaling(be, st, x.shape[0], mx, my, be.scatter(xc, xc), be.scatter(yc, yc), be.scatter(xc, yc))


def _merge_before_scaling(be, st, nb, mx, my, sxx, syy, sxy) -> None:
    na = st["n"]
    n = na + nb
    dx, dy = mx - st["mx"], my - st["my"]
    for k, blk, u, v in (("sxx", sxx, dx, dx), ("syy", syy, dy, dy), ("sxy", sxy, dx, dy)):
        be.add_scatter_rank1(st[k], blk, u, v, na * nb / n)
    st.update(n=n, mx=st["mx"] + dx * (nb / n), my=st["my"] + dy * (nb / n))


def _run_child(tree, args, scaled=False) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--_child", tree, "--n", str(args.n), "--p", str(args.p),
           "--inner", str(args.inner), "--threads", str(args.threads)] + (["--_scaled"] if scaled else [])
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", help="source tree of the baseline fastcca (e.g. `git archive main`)")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--p", type=int, default=1024, help="neurons per side (p = q)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inner", type=int, default=3, help="timed passes per child (the fastest counts)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="the clock of the end-to-end summary line")
    ap.add_argument("--limit", type=float, default=1.03)
    ap.add_argument("--component-repeats", type=int, default=15,
                    help="interleaved repeats of the in-process component and update A/B timings")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_scaled", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_components", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._components:
        print(json.dumps(_components(args.n, args.p, args.component_repeats, args.threads)))
        return 0
    if args._child:
        print(json.dumps(_child(args._child, args.n, args.p, args.inner, args.threads, args._scaled)))
        return 0
    if not args.baseline:
        ap.error("--baseline is required")
    trees = {"baseline": os.path.abspath(args.baseline), "this": ROOT}
    names = list(trees) + ["this_scaled_1e200"]
    times = {clk: {t: {c: [] for c in CASES} for t in names} for clk in ("wall", "cpu")}

    def record(name, res):
        for c in CASES:
            for clk in ("wall", "cpu"):
                times[clk][name][c].append(res[c][clk])

    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for name in order:
            record(name, _run_child(trees[name], args))
        res = _run_child(ROOT, args, scaled=True)
        assert res["exponent_x"] == 640, res
        record("this_scaled_1e200", res)
        print(f"round {r + 1}/{args.rounds} (cpu s, one batch / batches): " + ", ".join(
            f"{t} {times['cpu'][t]['one_batch'][-1]:.3f}/{times['cpu'][t]['batches_8192'][-1]:.3f}"
            for t in names), flush=True)
    med = {clk: {t: {c: statistics.median(v) for c, v in cs.items()} for t, cs in tt.items()}
           for clk, tt in times.items()}
    ratio = {clk: {c: med[clk]["this"][c] / med[clk]["baseline"][c] for c in CASES} for clk in med}
    # paired: this / baseline within each round (adjacent children share the machine's load)
    paired = {clk: {c: statistics.median(a / b for a, b in zip(times[clk]["this"][c], times[clk]["baseline"][c]))
                    for c in CASES} for clk in med}
    ratio_scaled = {clk: {c: med[clk]["this_scaled_1e200"][c] / med[clk]["this"][c] for c in CASES} for clk in med}
    print(f"\nfloat64 moments pass, n={args.n}, p=q={args.p}, {args.threads} BLAS thread(s), "
          f"{args.rounds} rounds x best of {args.inner}; medians over rounds")
    print(f"{'clock':<6}{'case':<14}{'baseline (s)':>14}{'this (s)':>10}{'ratio':>8}{'paired':>8}"
          f"{'this x1e200 (s)':>17}{'ratio':>8}")
    for clk in ("cpu", "wall"):
        for c in CASES:
            print(f"{clk:<6}{c:<14}{med[clk]['baseline'][c]:>14.3f}{med[clk]['this'][c]:>10.3f}{ratio[clk][c]:>8.3f}"
                  f"{paired[clk][c]:>8.3f}{med[clk]['this_scaled_1e200'][c]:>17.3f}{ratio_scaled[clk][c]:>8.3f}")
    print("(ratio: of the medians; paired: median over rounds of this / baseline in the same round)")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(dict(date=datetime.datetime.now().isoformat(timespec="seconds"), n=args.n, p=args.p,
                           threads=args.threads, rounds=args.rounds, inner=args.inner, machine=platform.node(),
                           load_avg=os.getloadavg(), baseline=trees["baseline"], times=times, medians=med,
                           ratio=ratio, paired_ratio=paired, ratio_scaled=ratio_scaled), fh, indent=1)
    cmd = [sys.executable, os.path.abspath(__file__), "--_components", "--n", str(args.n), "--p", str(args.p),
           "--threads", str(args.threads), "--component-repeats", str(args.component_repeats)]
    comp = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    added = (comp["center_scaled"] - comp["center_checked"] + comp["check"]
             + comp["merge_now"] - comp["merge_before"])
    share = added / med["cpu"]["this"]["one_batch"]
    print(f"\ncomponents (cpu s, medians of {args.component_repeats} interleaved): centring both sides "
          f"{comp['center_checked']:.4f} -> {comp['center_scaled']:.4f}, block check {comp['check']:.4f}, "
          f"merge {comp['merge_before']:.4f} -> {comp['merge_now']:.4f}: {added:+.4f} s = {100 * share:.2f}% of "
          f"this tree's one-batch pass; Moments.update of an ({min(args.n, 8192)}, {args.p}) batch against the update "
          f"before the change: paired median ratio {comp['update_8192_paired_ratio']:.3f}")
    if args.out:
        with open(args.out) as fh:
            rec = json.load(fh)
        rec.update(components=comp, components_share=share)
        with open(args.out, "w") as fh:
            json.dump(rec, fh, indent=1)
    # the gate: the step-by-step cost, which resolves a fraction of a percent; the end-to-end
    # ratios above swing by 5-10% with the load of a shared machine (see the x1e200 control)
    ok = 1.0 + share <= args.limit
    print(f"\ncost of the changed steps 1 + {share:.4f} {'<=' if ok else '>'} limit {args.limit} "
          f"(end to end, {args.clock} time, paired: {paired[args.clock]['one_batch']:.3f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

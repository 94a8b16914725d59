"""Wall time of every implemented paper_repro figure from an EMPTY cache, and its claim verdict.

Each figure runs in its own process (``python -m paper_repro <id> --out <fresh dir> --quiet``),
so every time includes process start, imports, Numba compilation and training every run the
figure needs (nothing shared through the cache).  ``--jobs 2`` runs two figures at once: the
figures use one thread each at the default scale, so on a 2-core machine this is the budget the
issue sets ("<= 5 minutes per figure on a 2-core CPU"), not two figures fighting for one core.

Writes ``<out>/repro_times.json`` (per figure: wall s, exit code, claim verdict) and prints a
Markdown table.  Usage::

    PYTHONPATH=$PWD python asv_bench/repro_times.py --out /tmp/repro_times [--jobs 2] [--only svcca-fig4,...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(fig_id: str, out: str, scale: str, limit: float) -> dict:
    folder = os.path.join(out, fig_id)
    os.makedirs(folder, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "paper_repro", fig_id, "--out", folder, "--quiet",
                               "--scale", scale], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=limit)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = 124, f"killed after {limit} s"
    wall = time.perf_counter() - t0
    verdict = None
    rec_path = os.path.join(folder, f"{fig_id}.json")
    if rc == 0 and os.path.exists(rec_path):
        with open(rec_path) as fh:
            rec = json.load(fh)
        verdict = rec["claim_check"]["verdict"]
    return {"id": fig_id, "wall_s": wall, "rc": rc, "verdict": verdict, "log_tail": tail if rc else ""}


def main(argv=None) -> int:
    sys.path.insert(0, ROOT)
    from paper_repro import registry
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scale", default="small")
    ap.add_argument("--only", default="", help="comma-separated ids (default: every implemented figure)")
    ap.add_argument("--limit", type=float, default=900.0, help="seconds before a figure is killed")
    a = ap.parse_args(argv)
    ids = [i for i in registry.CATALOG if registry.is_implemented(i)]
    if a.only:
        ids = [i for i in a.only.split(",") if i]
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(lambda i: run_one(i, a.out, a.scale, a.limit), ids))
    total = time.perf_counter() - t0
    load = os.getloadavg()
    result = {"scale": a.scale, "jobs": a.jobs, "total_wall_s": total, "loadavg_at_end": load,
              "cpu_count": os.cpu_count(), "figures": rows}
    with open(os.path.join(a.out, "repro_times.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"| id | wall from empty cache (s) | claim at {a.scale} |\n|---|---|---|")
    for r in rows:
        v = r["verdict"] if r["rc"] == 0 else f"FAILED (exit {r['rc']})"
        print(f"| {r['id']} | {r['wall_s']:.0f} | {v} |")
    print(f"\n{len(rows)} figures, {a.jobs} at a time: {total:.0f} s wall in all; load average at the end {load[0]:.1f}")
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

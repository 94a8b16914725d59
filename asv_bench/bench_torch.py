"""Layer x layer SVCCA of a 10-layer network over 50k datapoints: the one-pass grid of
``fastcca.torch.compare_layers`` against computing each pair separately from stored activations.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
        PYTHONPATH=$PWD python asv_bench/bench_torch.py [--n 50000 --width 128 --layers 10 --repeat 3]

(one thread per process: on a shared, oversubscribed machine spinning BLAS threads make
timings meaningless; both methods run under the same settings).

Both methods start from the same data stream (inputs generated per batch from a seed, so no
dataset sits in memory) and the same network, and end with the same (layers x layers) matrix:

* ``grid``: one pass with forward hooks into joint moments over all layers (one float64
  scatter of P = layers * width features), then every layer's top directions and whitening
  once, every pair a small product + ``svdvals``;
* ``grid32`` (``--float32``): the same with ``precision="float32"`` (float32 chunk products,
  float64 accumulation; must agree with ``grid`` to 1e-5);
* ``pairs``: one pass storing every layer's activations (preallocated float32 (n, width)
  arrays), then ``fastcca.svcca(acts[i], acts[j])`` for every cell, each pair from scratch
  (``pairs55`` computes only i <= j and mirrors, the symmetric shortcut a careful user takes).

Each run is a fresh subprocess (so memory peaks do not mix): time from the first batch to the
matrix; peak memory = ``ru_maxrss`` (whole process, torch allocations included) minus the RSS
after setup (imports, network, a small warm-up run of the same method that compiles Numba).
The runs alternate between methods; medians are reported.  The matrices must agree (1e-8) or
the script exits 1; ``--check`` also exits 1 when a target (>= 5x faster, >= 10x less memory
than ``pairs``) is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(width, layers, seed=0):
    import torch
    torch.manual_seed(seed)
    mods = []
    for _ in range(layers):
        mods += [torch.nn.Linear(width, width), torch.nn.Tanh()]
    net = torch.nn.Sequential(*mods)
    names = [str(2 * i + 1) for i in range(layers)]            # every Tanh output
    return net, names


def _batches(n, width, batch, seed=1):
    import torch
    for k, lo in enumerate(range(0, n, batch)):
        g = torch.Generator().manual_seed(seed * 100003 + k)
        yield torch.randn(min(batch, n - lo), width, generator=g)


def run_grid(net, names, n, width, batch, precision="float64"):
    from fastcca.torch import compare_layers
    return compare_layers(net, _batches(n, width, batch), names, measure="svcca", progress=False,
                          precision=precision).values


def run_pairs(net, names, n, width, batch, symmetric=False):
    import torch

    import fastcca
    named = dict(net.named_modules())
    acts = {nm: np.empty((n, width), dtype=np.float32) for nm in names}
    pos = {"lo": 0}

    def hook(nm):
        def h(m, a, out):
            acts[nm][pos["lo"]:pos["lo"] + out.shape[0]] = out.numpy()
        return h
    hs = [named[nm].register_forward_hook(hook(nm)) for nm in names]
    net.eval()
    with torch.no_grad():
        for x in _batches(n, width, batch):
            net(x)
            pos["lo"] += x.shape[0]
    for h in hs:
        h.remove()
    L = len(names)
    out = np.empty((L, L))
    for i in range(L):
        for j in range(L):
            if symmetric and j < i:
                out[i, j] = out[j, i]
                continue
            out[i, j] = fastcca.svcca(acts[names[i]], acts[names[j]]).similarity
    return out


def child(method, n, width, layers, batch):
    import warnings
    warnings.filterwarnings("ignore")
    net, names = _setup(width, layers)
    fn = {"grid": run_grid, "pairs": run_pairs,
          "grid32": lambda *a: run_grid(*a, precision="float32"),
          "pairs55": lambda *a: run_pairs(*a, symmetric=True)}[method]
    fn(net, names[:2], 2 * batch, width, batch)                  # warm-up: Numba JIT, torch
    base = _rss_mb()
    t0 = time.perf_counter()
    vals = fn(net, names, n, width, batch)
    dt = time.perf_counter() - t0
    print(json.dumps({"method": method, "time_s": dt, "peak_mb": _peak_mb(), "base_mb": base,
                      "values": vals.tolist()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--methods", default="grid,pairs,pairs55")
    ap.add_argument("--float32", action="store_true",
                    help="also run grid32: the grid with precision='float32' (float32 chunk products)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.n, a.width, a.layers, a.batch)
        return 0
    methods = a.methods.split(",")
    if a.float32 and "grid32" not in methods:
        methods.insert(methods.index("grid") + 1 if "grid" in methods else 0, "grid32")
    res = {m: [] for m in methods}
    for r in range(a.repeat):
        for m in methods:
            cmd = [sys.executable, __file__, "--child", m, "--n", str(a.n), "--width", str(a.width),
                   "--layers", str(a.layers), "--batch", str(a.batch)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            d = json.loads(out.stdout.strip().splitlines()[-1])
            res[m].append(d)
            print(f"run {r} {m:8s} {d['time_s']:8.2f} s  peak {d['peak_mb']:8.1f} MB "
                  f"(+{d['peak_mb'] - d['base_mb']:.1f} MB over setup)", flush=True)
    P = a.layers * a.width
    print(f"\nn={a.n}, {a.layers} layers x {a.width} features (P={P}), batch {a.batch}, "
          f"{os.cpu_count()} cores, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; medians of {a.repeat}")
    med = {}
    for m in methods:
        t = statistics.median(d["time_s"] for d in res[m])
        inc = statistics.median(d["peak_mb"] - d["base_mb"] for d in res[m])
        tot = statistics.median(d["peak_mb"] for d in res[m])
        med[m] = (t, inc, tot)
        print(f"{m:8s} time {t:8.2f} s   peak over setup {inc:8.1f} MB   process peak {tot:8.1f} MB")
    chunk = 8 * P * max(64, (4 << 20) // (8 * P))
    print(f"grid formula: 8 P^2 (state) + float64 chunk + one batch of hooked outputs (4 b P) = "
          f"{(8 * P * P + chunk + 4 * a.batch * P) / 2**20:.1f} MB, plus the forward pass's own activations; "
          f"stored activations: 4 n P = {4 * a.n * P / 2**20:.1f} MB")
    ok = True
    if "grid" in res:
        g = np.array(res["grid"][0]["values"])
        for m in methods:
            if m != "grid":
                diff = float(np.abs(np.array(res[m][0]["values"]) - g).max())
                tol = 1e-5 if m == "grid32" else 1e-8
                print(f"max |grid - {m}| = {diff:.2e}")
                if diff > tol:
                    print("FAIL: the matrices disagree")
                    return 1
    for gm in ("grid", "grid32"):
        if gm not in med:
            continue
        for m in methods:
            if m.startswith("grid"):
                continue
            st = med[m][0] / med[gm][0]
            # ru_maxrss counts whole pages: a small run may not grow past setup at all
            sm = med[m][1] / med[gm][1] if med[gm][1] > 0 else float("nan")
            vt = "meets" if st >= 5 else "MISSES"
            vm = "meets" if sm >= 10 else "MISSES"
            print(f"{gm} vs {m}: {st:.1f}x faster ({vt} >= 5x), {sm:.1f}x less peak memory over setup "
                  f"({vm} >= 10x); {med[m][2] / med[gm][2]:.1f}x less whole-process peak")
            if gm == "grid" and m == "pairs" and "MISSES" in (vt, vm):
                ok = False
    if "grid" in med and "grid32" in med:
        print(f"grid32 vs grid: {med['grid'][0] / med['grid32'][0]:.2f}x faster")
    return 0 if ok or not a.check else 1


if __name__ == "__main__":
    sys.exit(main())

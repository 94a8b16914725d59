"""Layer x layer conv SVCCA in fft mode (SVCCA section 3) of a small conv network: the one-pass
grid of ``fastcca.torch.compare_layers(conv="fft")`` against per-pair ``fastcca.conv_svcca`` on
stored activations, in one run.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
        PYTHONPATH=$PWD python asv_bench/bench_torch_fft.py [--n 1000 --channels 32 --size 16 --layers 6]

* ``grid``: one pass with hooks; each layer's centred ``rfft2`` once per batch, its diagonal
  block stack once, each of the L (L - 1) / 2 pairs one batched block product
  (``JointConvMoments``), then ``conv_svcca`` per pair;
* ``pairs``: one pass storing every layer's float32 (n, c, h, w) activations, then
  ``conv_svcca(acts[i], acts[j])`` for i <= j (mirrored), each pair from scratch (two FFTs and
  three block products per pair).

Network: ``layers`` x [Conv2d(c, c, 3, padding=1), Tanh] on (c, size, size) inputs, every Tanh
hooked.  Fresh subprocess per run, runs alternate, medians; time = first batch to matrix; memory
= ``ru_maxrss`` minus the RSS after setup (imports, network, a small warm-up of the method).
Exits 1 if the matrices differ by more than 1e-8.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_torch import _peak_mb, _rss_mb  # noqa: E402


def _setup(c, layers, seed=0):
    import torch
    torch.manual_seed(seed)
    mods = []
    for _ in range(layers):
        mods += [torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.Tanh()]
    return torch.nn.Sequential(*mods), [str(2 * i + 1) for i in range(layers)]


def _batches(n, c, size, batch, seed=1):
    import torch
    for k, lo in enumerate(range(0, n, batch)):
        g = torch.Generator().manual_seed(seed * 100003 + k)
        yield torch.randn(min(batch, n - lo), c, size, size, generator=g)


def run_grid(net, names, n, c, size, batch):
    from fastcca.torch import compare_layers
    return compare_layers(net, _batches(n, c, size, batch), names, conv="fft", measure="svcca",
                          progress=False).values


def run_pairs(net, names, n, c, size, batch):
    import torch

    import fastcca
    named = dict(net.named_modules())
    acts = {nm: np.empty((n, c, size, size), dtype=np.float32) for nm in names}
    pos = {"lo": 0}
    hs = [named[nm].register_forward_hook(
        lambda m, a, out, nm=nm: acts[nm].__setitem__(slice(pos["lo"], pos["lo"] + out.shape[0]), out.numpy()))
        for nm in names]
    net.eval()
    with torch.no_grad():
        for x in _batches(n, c, size, batch):
            net(x)
            pos["lo"] += x.shape[0]
    for h in hs:
        h.remove()
    L = len(names)
    out = np.empty((L, L))
    for i in range(L):
        for j in range(i, L):
            out[i, j] = out[j, i] = fastcca.conv_svcca(acts[names[i]], acts[names[j]]).similarity
    return out


def child(method, n, c, size, layers, batch):
    import warnings
    warnings.filterwarnings("ignore")
    net, names = _setup(c, layers)
    fn = {"grid": run_grid, "pairs": run_pairs}[method]
    fn(net, names[:2], 2 * batch, c, size, batch)
    base = _rss_mb()
    t0 = time.perf_counter()
    vals = fn(net, names, n, c, size, batch)
    dt = time.perf_counter() - t0
    print(json.dumps({"method": method, "time_s": dt, "peak_mb": _peak_mb(), "base_mb": base,
                      "values": vals.tolist()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.n, a.channels, a.size, a.layers, a.batch)
        return 0
    methods = ["grid", "pairs"]
    res = {m: [] for m in methods}
    for r in range(a.repeat):
        for m in methods:
            cmd = [sys.executable, __file__, "--child", m, "--n", str(a.n), "--channels", str(a.channels),
                   "--size", str(a.size), "--layers", str(a.layers), "--batch", str(a.batch)]
            d = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            res[m].append(d)
            print(f"run {r} {m:6s} {d['time_s']:8.2f} s  +{d['peak_mb'] - d['base_mb']:.1f} MB over setup", flush=True)
    med = {m: (statistics.median(d["time_s"] for d in res[m]),
               statistics.median(d["peak_mb"] - d["base_mb"] for d in res[m])) for m in methods}
    print(f"\nn={a.n}, {a.layers} conv layers x {a.channels} channels at {a.size}x{a.size}, batch {a.batch}; "
          f"medians of {a.repeat}")
    for m in methods:
        print(f"{m:6s} time {med[m][0]:8.2f} s   peak over setup {med[m][1]:8.1f} MB")
    diff = float(np.abs(np.array(res["grid"][0]["values"]) - np.array(res["pairs"][0]["values"])).max())
    print(f"max |grid - pairs| = {diff:.2e}")
    if diff > 1e-8:
        print("FAIL: the matrices disagree")
        return 1
    # ru_maxrss counts whole pages: a small run may not grow past setup at all
    mem = med['pairs'][1] / med['grid'][1] if med['grid'][1] > 0 else float("nan")
    print(f"grid vs pairs: {med['pairs'][0] / med['grid'][0]:.1f}x faster, "
          f"{mem:.1f}x less peak memory over setup")
    return 0


if __name__ == "__main__":
    sys.exit(main())

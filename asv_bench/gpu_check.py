#!/usr/bin/env python
"""The one GPU check of the CUDA backend (issues [cuda], [cuda-2]): tests, agreement, benchmarks, one JSON.

Run on a machine with a CUDA GPU, CuPy (``pip install 'fastcca[cuda]'``) and this checkout:

    python asv_bench/gpu_check.py --out $OUT/gpu.json

Steps (each recorded in the JSON; the script exits non-zero if any check fails, and the JSON
says which and why; a check that could not run counts as failed):

1. the card's name (``cupy.cuda.runtime.getDeviceProperties(0)['name']``), versions, commit;
2. ``pytest tests/gpu`` -- must pass with at least 10 tests run (a run where everything skipped
   is a failure);
3. benchmarks at p = q = 4096, n = 100k, float64, against a straightforward CuPy implementation
   timed in the same run (covariance by matmul, eigh inverse square roots, full SVD), medians of
   ``--repeats`` after one warm-up:
   - CCA >= 4x faster than that baseline, agreeing to 1e-8;
   - SVCCA and PWCCA within 1.5x of CCA's time;
   - the choices behind the CUDA defaults, each with its agreement: SYRK vs GEMM for Sxx,
     Gram/eigvalsh vs SVD for the canonical correlations, gesvd vs Gram/eigh for PWCCA's
     vectors, float32 vs float64 GEMM (error), host NumPy input streamed in chunks;
   - conv: ``conv_cca`` / ``conv_svcca`` on CuPy input against the CPU backend at
     ``--conv-parity`` (float64: 1e-9 on coefficients and similarity; float32: 1e-6), conv_pwcca
     (mean, fold); then at (n, h, w, c) = (5000, 16, 16, 256) float32 against cupy.fft.fft2 +
     batched cupy.linalg per frequency: >= 30x, with the moments / decomposition split and the
     Jacobi eigenvalue kernel (``small_eig="jacobi"``) timed beside the library route.
   Speed targets are checks too: a miss fails the run (the figures are still written);
4. the main suite with ``FASTCCA_TEST_BACKEND=cuda`` (``backend="auto"`` resolves NumPy input
   to the CUDA backend; tests/conftest.py), in what is left of ``--total-s`` (default 300 s: the
   whole run is meant to take 5 minutes; a suite cut short by it fails its check -- rerun with
   ``--total-s 540`` to give it more, still inside a 10-minute call).

``--dry-run`` runs all of it on the CPU with the fake CuPy of ``tests/fake_cupy`` (NumPy behind
CuPy's API, strict about host/device mixing) at small sizes, to check the plumbing: speed
targets are then recorded but not enforced (they mean nothing there); correctness is enforced.
The JSON is rewritten after every step, so a run cut short still leaves what it measured.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE_CUPY = os.path.join(ROOT, "tests", "fake_cupy")


class Check:
    """Collects figures and pass/fail checks; writes the JSON after every step."""

    def __init__(self, path, dry_run):
        self.path = path
        self.dry_run = dry_run
        self.t0 = time.time()
        self.rec = {"script": "asv_bench/gpu_check.py", "dry_run": dry_run, "card": None,
                    "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "environment": {}, "steps": {}, "figures": {}, "checks": [], "failures": []}

    def check(self, name, ok, value=None, target=None, speed=False, note=None, gpu_only=False):
        """``speed`` / ``gpu_only`` checks are recorded but not enforced in a dry run (speed means
        nothing on the fake CuPy, and it cannot compile CUDA kernels)."""
        enforced = not ((speed or gpu_only) and self.dry_run)
        entry = {"name": name, "ok": bool(ok), "value": value, "target": target, "enforced": enforced}
        if note:
            entry["note"] = note
        self.rec["checks"].append(entry)
        if not ok and enforced:
            self.rec["failures"].append(f"{name}: value {value!r}, target {target!r}" + (f" ({note})" if note else ""))
        print(f"[{'ok' if ok else 'FAIL' if enforced else 'miss (not enforced in dry-run)'}] {name}: "
              f"{value!r} (target {target!r})", flush=True)
        self.write()
        return ok

    def fail(self, name, exc):
        tb = traceback.format_exc()
        self.rec["failures"].append(f"{name}: {type(exc).__name__}: {exc}")
        self.rec["steps"].setdefault(name, {})["error"] = tb[-4000:]
        print(f"[FAIL] {name}: {type(exc).__name__}: {exc}\n{tb}", flush=True)
        self.write()

    def figure(self, key, value):
        self.rec["figures"][key] = value
        self.write()

    def write(self):
        self.rec["elapsed_s"] = round(time.time() - self.t0, 2)
        self.rec["passed"] = not self.rec["failures"]
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self.rec, fh, indent=2, default=str)
        os.replace(tmp, self.path)


def _env(dry_run, **extra):
    env = dict(os.environ, **extra)
    paths = [ROOT] + ([FAKE_CUPY] if dry_run else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_pytest(ck, name, args, env, timeout, min_passed):
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider"] + args
    t = time.time()
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        out, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or ""), "timeout"
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)", out.splitlines()[-1] if out.strip() else "")}
    failed_ids = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.M)
    ck.rec["steps"][name] = {"command": " ".join(cmd), "returncode": rc, "counts": counts, "failed": failed_ids,
                             "seconds": round(time.time() - t, 1), "tail": out[-6000:]}
    print(out[-3000:], flush=True)
    ck.check(f"{name}: pytest passes", rc == 0 and counts.get("passed", 0) >= min_passed,
             value={"returncode": rc, **counts}, target=f"returncode 0, >= {min_passed} passed")


def timed(xp, f, repeats, warmup=True, max_s=20.0):
    """Median wall time of ``f()`` (device synchronised) over ``repeats`` runs after one warm-up
    (kernel compilation, library handles).  Slow calls get fewer repeats: at most about
    ``max_s`` seconds of timed runs, at least one."""
    sync = xp.cuda.Device().synchronize
    times = []
    if warmup:
        sync()
        t = time.perf_counter()
        out = f()
        sync()
        repeats = min(repeats, max(1, int(max_s / max(time.perf_counter() - t, 1e-9))))
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        out = f()
        sync()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2], times, out


def baseline_cca(cp, x, y, eps=1e-10):
    """Straightforward CuPy CCA: covariance by matmul, eigh inverse square roots, full SVD.
    Ridge ``eps * max|C|`` on each side, fastcca's default regularisation."""
    n = x.shape[0]
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    cxx, cyy, cxy = xc.T @ xc / (n - 1), yc.T @ yc / (n - 1), xc.T @ yc / (n - 1)
    del xc, yc

    def isqrt(c):
        scale = float(cp.abs(c).max())
        w, v = cp.linalg.eigh(c / scale + eps * cp.eye(c.shape[0]))
        return (v * (1.0 / cp.sqrt(cp.maximum(w, 1e-300)))) @ v.T / cp.sqrt(scale)

    m = isqrt(cxx) @ cxy @ isqrt(cyy)
    u, s, vh = cp.linalg.svd(m)
    return cp.asnumpy(s)


def baseline_conv(cp, x, y, eps=1e-10):
    """Straightforward conv CCA: cupy.fft.fft2 of every channel, then batched cupy.linalg per
    frequency (covariance blocks, eigh inverse square roots, SVD); x, y (n, c, h, w)."""
    n, c, h, w = x.shape
    blocks = []
    for a in (x, y):
        f = cp.fft.fft2(a, axes=(2, 3)).reshape(n, a.shape[1], h * w).transpose(2, 0, 1)   # (hw, n, c)
        blocks.append(f - f.mean(axis=1, keepdims=True))
    fx, fy = blocks
    cxx = fx.conj().transpose(0, 2, 1) @ fx
    cyy = fy.conj().transpose(0, 2, 1) @ fy
    cxy = fx.conj().transpose(0, 2, 1) @ fy

    def isqrt(cb):
        scale = cp.abs(cb).max(axis=(1, 2), keepdims=True)
        w_, v = cp.linalg.eigh(cb / scale + eps * cp.eye(cb.shape[-1]))
        return (v * (1.0 / cp.sqrt(cp.maximum(w_, 1e-30)))[:, None, :]) @ v.conj().transpose(0, 2, 1) / cp.sqrt(scale)

    m = isqrt(cxx) @ cxy @ isqrt(cyy)
    s = cp.linalg.svd(m, compute_uv=False)
    return float(cp.clip(s, 0, 1).mean())


def benchmarks(ck, args):
    import numpy as np
    import cupy as cp

    import fastcca
    from fastcca import Moments
    from fastcca.kernels import cuda

    n, p, q, reps = args.n, args.p, args.q, args.repeats
    fig = {"n": n, "p": p, "q": q, "dtype": "float64", "repeats": reps, "card": ck.rec["card"]}
    ck.figure("size", fig)

    def budget_left():
        return args.budget_s - (time.time() - ck.t0)

    # ---- data on the device: x with a decaying spectrum, y correlated with part of it
    cp.random.seed(0)
    g = cp.random.standard_normal((n, p))
    decay = cp.asarray(np.exp(-np.arange(p) / (p / 4)) + 0.05)
    x = g * decay
    y = 0.5 * g[:, :q] + cp.random.standard_normal((n, q))
    del g

    # ---- CCA vs the straightforward baseline
    t_base, ts_base, s_base = timed(cp, lambda: baseline_cca(cp, x, y), reps)
    t_cca, ts_cca, r_cca = timed(cp, lambda: fastcca.cca(x, y), reps)
    ck.figure("cca", {"baseline_s": t_base, "baseline_runs": ts_base, "fastcca_s": t_cca, "fastcca_runs": ts_cca})
    diff = float(np.abs(r_cca.coefficients - s_base[:len(r_cca.coefficients)]).max())
    ck.check("cca agrees with the baseline (max abs diff of coefficients)", diff <= 1e-8, value=diff, target="<= 1e-8")
    ck.check("cca speedup vs straightforward CuPy", t_base / t_cca >= 4, value=round(t_base / t_cca, 3),
             target=">= 4", speed=True)

    # ---- SVCCA, PWCCA end to end, and every measure from the moments
    t_sv, ts_sv, r_sv = timed(cp, lambda: fastcca.svcca(x, y), reps)
    t_pw, ts_pw, r_pw = timed(cp, lambda: fastcca.pwcca(x, y), reps)
    ck.figure("svcca_pwcca", {"svcca_s": t_sv, "svcca_runs": ts_sv, "pwcca_s": t_pw, "pwcca_runs": ts_pw,
                              "svcca_similarity": r_sv.similarity, "pwcca_similarity": r_pw.similarity,
                              "svcca_k": [r_sv.k_x, r_sv.k_y]})
    ck.check("svcca time / cca time", t_sv / t_cca <= 1.5, value=round(t_sv / t_cca, 3), target="<= 1.5", speed=True)
    ck.check("pwcca time / cca time", t_pw / t_cca <= 1.5, value=round(t_pw / t_cca, 3), target="<= 1.5", speed=True)

    t_m, _, m = timed(cp, lambda: Moments.from_arrays(x, y), reps, warmup=False)
    parts = {"moments_s": t_m}
    for name, f in (("cca", fastcca.cca), ("svcca", fastcca.svcca), ("pwcca", fastcca.pwcca),
                    ("linear_cka", fastcca.linear_cka)):
        parts[f"{name}_from_moments_s"] = timed(cp, lambda: f(m), reps, warmup=False, max_s=10)[0]
    ck.figure("from_moments", parts)

    # ---- the choices behind the defaults
    if budget_left() > 60:
        xc, _ = cuda.center_checked(x)
        with cuda.options(use_syrk=True):
            t_syrk, _, s1 = timed(cp, lambda: cuda.scatter(xc, xc), reps)
        with cuda.options(use_syrk=False):
            t_gemm, _, s2 = timed(cp, lambda: cuda.scatter(xc, xc), reps)
        rel = float(cp.linalg.norm(s1 - s2) / cp.linalg.norm(s2))
        del xc, s1, s2
        ck.figure("scatter_sxx", {"syrk_s": t_syrk, "gemm_s": t_gemm, "relative_diff": rel,
                                  "default": "syrk" if cuda._impl.use_syrk else "gemm"})
        ck.check("syrk and gemm scatter agree (relative Frobenius)", rel <= 1e-13, value=rel, target="<= 1e-13")

        with cuda.options(svdvals_route="svd"):
            t_svdv, _, r_svdv = timed(cp, lambda: fastcca.cca(m), reps, max_s=10)
        with cuda.options(svdvals_route="gram"):
            t_gram, _, r_gram = timed(cp, lambda: fastcca.cca(m), reps, warmup=False)
        d = float(np.abs(r_svdv.coefficients - r_gram.coefficients).max())
        ck.figure("svdvals_route", {"svd_s": t_svdv, "gram_s": t_gram, "max_abs_diff": d,
                                    "default": cuda._impl.svdvals_route})
        ck.check("gram and svd routes agree on the canonical correlations", d <= 1e-9, value=d, target="<= 1e-9")

        with cuda.options(svd_route="gram"):
            t_pwg, _, r_pwg = timed(cp, lambda: fastcca.pwcca(m), reps, max_s=10)
        with cuda.options(svd_route="svd"):
            t_pws, _, r_pws = timed(cp, lambda: fastcca.pwcca(m), 1, warmup=False)
        d = abs(r_pwg.similarity - r_pws.similarity)
        ck.figure("svd_route_pwcca", {"gesvd_s": t_pws, "gram_s": t_pwg, "similarity_diff": d,
                                      "default": cuda._impl.svd_route})
        ck.check("pwcca similarity: gram and gesvd vector routes agree", d <= 1e-9, value=d, target="<= 1e-9")

        with cuda.options(gemm_dtype="float32"):
            t_m32, _, m32 = timed(cp, lambda: Moments.from_arrays(x, y), reps, max_s=10)
        rel = float(cp.linalg.norm(m32.sxx - m.sxx) / cp.linalg.norm(m.sxx))
        d_cca = float(np.abs(fastcca.cca(m32).coefficients - fastcca.cca(m).coefficients).max())
        d_sv = abs(fastcca.svcca(m32).similarity - fastcca.svcca(m).similarity)
        ck.figure("float32_gemm", {"moments_float32_s": t_m32, "moments_float64_s": t_m,
                                   "sxx_relative_error": rel, "cca_coef_max_abs_diff": d_cca,
                                   "svcca_similarity_diff": d_sv})
        ck.check("float32 GEMM: relative error of Sxx within the documented 1e-6", rel <= 1e-6, value=rel,
                 target="<= 1e-6")
        del m32
    else:
        ck.figure("defaults_choices", "skipped: time budget")

    # ---- host NumPy input, streamed in chunks sized to (a fraction of) free memory
    if budget_left() > 40:
        xh, yh = cp.asnumpy(x), cp.asnumpy(y)
        ref = fastcca.cca(m)
        rows_default = cuda.default_batch_rows(xh, yh)
        t_h, _, r_h = timed(cp, lambda: fastcca.cca(xh, yh, backend="cuda"), 1, warmup=False)
        frac = 0.02 if not ck.dry_run else 0.5
        with cuda.options(mem_fraction=frac):
            rows_small = cuda.default_batch_rows(xh, yh)
            if ck.dry_run:   # the fake device's free memory is fixed: force chunks of n / 7
                rows_small = max(1, n // 7)
            t_c = time.perf_counter()
            mc = Moments.from_arrays(xh, yh, backend="cuda", batch_size=rows_small)
            r_c = fastcca.cca(mc)
            t_c = time.perf_counter() - t_c
        d1 = float(np.abs(r_h.coefficients - ref.coefficients).max())
        d2 = float(np.abs(r_c.coefficients - ref.coefficients).max())
        ck.figure("host_streaming", {"default_batch_rows": rows_default, "one_call_s": t_h,
                                     "chunked_rows": rows_small, "chunked_s": t_c,
                                     "chunks": None if not rows_small else -(-n // rows_small)})
        ck.check("host input (default batching) agrees with device input", d1 <= 1e-9, value=d1, target="<= 1e-9")
        ck.check("host input streamed in small chunks agrees", d2 <= 1e-9, value=d2, target="<= 1e-9")
        del xh, yh
    del x, y, m
    cp.get_default_memory_pool().free_all_blocks()

    # ---- conv
    conv = getattr(fastcca, "conv_cca", None)
    if conv is None or args.skip_conv:
        ck.figure("conv", "skipped: " + ("--skip-conv" if args.skip_conv else "fastcca.conv_cca absent in this build"))
        return
    conv_checks(ck, args, cp, np, fastcca, cuda, reps)


def conv_checks(ck, args, cp, np, fastcca, cuda, reps):
    """Conv layers on the GPU: agreement with the CPU backend (float64 1e-9, float32 the
    documented 1e-6), then the speed target at ``--conv`` (float32 against cupy.fft.fft2 +
    batched cupy.linalg per frequency), with the time split into moments and decomposition, and
    the decomposition's routes (library ``eigvalsh`` vs the Jacobi kernel) side by side."""
    rng = np.random.default_rng(7)
    pn, pc, ph, pw = args.conv_parity
    x = rng.standard_normal((pn, pc, ph, pw)) + 1.0
    x = x + 0.5 * np.roll(x, 1, axis=2)
    y = np.roll(x[:, : max(1, pc // 2)], 1, axis=3) + 0.7 * rng.standard_normal((pn, max(1, pc // 2), ph, pw))
    par = {"shape_nchw": [pn, pc, ph, pw]}
    for prec, tol in (("float64", 1e-9), ("float32", 1e-6)):
        xs, ys = (x, y) if prec == "float64" else (x.astype(np.float32), y.astype(np.float32))
        for f in (fastcca.conv_cca, fastcca.conv_svcca):
            t0 = time.perf_counter()
            ref = f(xs, ys, backend="cpu", precision=prec)
            t_cpu = time.perf_counter() - t0
            got = f(cp.asarray(xs), cp.asarray(ys), precision=prec)
            d = float(np.abs(got.coefficients - ref.coefficients).max())
            ds = abs(got.similarity - ref.similarity)
            par[f"{f.__name__}_{prec}"] = {"max_abs_diff_coefficients": d, "similarity_diff": ds, "cpu_s": t_cpu}
            ck.check(f"conv parity {f.__name__} {prec}: CUDA vs CPU (coefficients and similarity)",
                     max(d, ds) <= tol, value=max(d, ds), target=f"<= {tol:g}")
    for mode in ("mean", "fold"):
        d = abs(fastcca.conv_pwcca(x, y, mode=mode, backend="cuda").similarity
                - fastcca.conv_pwcca(x, y, mode=mode, backend="cpu").similarity)
        par[f"conv_pwcca_{mode}"] = d
        ck.check(f"conv parity conv_pwcca mode={mode}", d <= 1e-9, value=d, target="<= 1e-9")
    ck.figure("conv_parity", par)

    cn, ch, cw, cc = args.conv
    cp.random.seed(1)
    a = cp.random.standard_normal((cn, cc, ch, cw), dtype=cp.float32)
    b = (0.6 * cp.roll(a, 1, axis=2) + 0.8 * cp.random.standard_normal((cn, cc, ch, cw), dtype=cp.float32)).astype(cp.float32)
    t_cb, _, s_cb = timed(cp, lambda: baseline_conv(cp, a, b), max(1, reps - 2))
    t_cf, ts_cf, r_cf = timed(cp, lambda: fastcca.conv_cca(a, b, backend="cuda", precision="float32"), reps)
    t_m, _, m = timed(cp, lambda: fastcca.ConvMoments.from_arrays(a, b, precision="float32"), reps)
    t_dec, _, _ = timed(cp, lambda: fastcca.conv_cca(m), reps)
    t_sv, _, _ = timed(cp, lambda: fastcca.conv_svcca(m), reps)
    routes = {}
    for route in ("library", "jacobi"):
        try:
            with cuda.options(small_eig=route):
                t_r, _, r_r = timed(cp, lambda: fastcca.conv_cca(m), reps)
            routes[route] = {"decomposition_s": t_r, "similarity": float(r_r.similarity)}
        except Exception as exc:  # the kernel failed to compile or run: recorded, and a failed check
            routes[route] = {"error": f"{type(exc).__name__}: {exc}"}
    d = abs(float(r_cf.similarity) - s_cb)
    ck.figure("conv", {"shape_nhwc": [cn, ch, cw, cc], "card": ck.rec["card"], "baseline_s": t_cb,
                       "fastcca_s": t_cf, "fastcca_runs": ts_cf, "moments_s": t_m, "decomposition_cca_s": t_dec,
                       "conv_svcca_from_moments_s": t_sv, "small_eig_routes": routes,
                       "baseline_similarity": s_cb, "fastcca_similarity": float(r_cf.similarity)})
    ck.check("conv similarity agrees with the baseline (float32)", d <= 1e-4, value=d, target="<= 1e-4")
    if "similarity" in routes.get("jacobi", {}):
        dj = abs(routes["jacobi"]["similarity"] - routes["library"]["similarity"])
        ck.check("conv: Jacobi kernel route agrees with the library route", dj <= 1e-9, value=dj, target="<= 1e-9")
    else:
        ck.check("conv: Jacobi kernel route runs", False, value=routes.get("jacobi"), target="runs",
                 note="see figures.conv.small_eig_routes", gpu_only=True)
    ck.check("conv speedup vs cupy.fft.fft2 + batched cupy.linalg", t_cb / t_cf >= 30,
             value=round(t_cb / t_cf, 3), target=">= 30", speed=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file to write (e.g. $OUT/gpu.json)")
    ap.add_argument("--dry-run", action="store_true", help="run on the CPU with tests/fake_cupy at small sizes")
    ap.add_argument("--n", type=int)
    ap.add_argument("--p", type=int)
    ap.add_argument("--q", type=int)
    ap.add_argument("--conv", type=int, nargs=4, metavar=("N", "H", "W", "C"))
    ap.add_argument("--conv-parity", type=int, nargs=4, metavar=("N", "C", "H", "W"),
                    help="size of the CPU-vs-CUDA conv agreement check (NCHW; default 600 32 16 16)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-tests", action="store_true", help="benchmarks only")
    ap.add_argument("--skip-suite", action="store_true", help="skip the main suite under FASTCCA_TEST_BACKEND=cuda")
    ap.add_argument("--skip-conv", action="store_true")
    ap.add_argument("--budget-s", type=float, default=200.0,
                    help="optional benchmark figures are skipped once this much time has gone (default 200)")
    ap.add_argument("--total-s", type=float, default=300.0,
                    help="the main suite gets what is left of this many seconds, at least 60 (default 300)")
    args = ap.parse_args(argv)
    small = args.dry_run
    args.n = args.n or (3000 if small else 100_000)
    args.p = args.p or (48 if small else 4096)
    args.q = args.q or (40 if small else 4096)
    args.conv = args.conv or ([200, 8, 8, 16] if small else [5000, 16, 16, 256])
    args.conv_parity = args.conv_parity or ([120, 6, 6, 5] if small else [600, 32, 16, 16])
    if small:
        sys.path.insert(0, FAKE_CUPY)
    sys.path.insert(0, ROOT)
    ck = Check(args.out, args.dry_run)
    env = ck.rec["environment"]
    try:
        import numpy
        import cupy
        import fastcca
        ck.rec["card"] = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        if isinstance(ck.rec["card"], bytes):
            ck.rec["card"] = ck.rec["card"].decode()
        print(f"card: {ck.rec['card']}", flush=True)
        env.update(python=platform.python_version(), numpy=numpy.__version__, cupy=cupy.__version__,
                   cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(), fastcca=fastcca.__version__,
                   free_bytes=cupy.cuda.Device().mem_info[0])
        try:
            import torch
            env["torch"] = torch.__version__
            env["torch_cuda"] = bool(torch.cuda.is_available())
        except ImportError:
            env["torch"] = None
        try:
            env["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True).stdout.strip()
        except OSError:
            env["commit"] = None
        be = fastcca.get_backend("cuda")
        env["cuda_defaults"] = {k: getattr(be._impl, k) for k in ("gemm_dtype", "use_syrk", "svdvals_route",
                                                                  "svd_route", "gram_floor", "mem_fraction")}
        ck.write()
    except Exception as exc:  # no CuPy, no device: nothing else can run
        ck.fail("setup (CuPy, device, fastcca cuda backend)", exc)
        return 2

    # order: the GPU tests, the benchmarks, then the main suite in whatever time is left of
    # --total-s (a suite cut short by its timeout is a failed check, with its partial output)
    if not args.skip_tests:
        run_pytest(ck, "tests/gpu", ["tests/gpu"], _env(args.dry_run), timeout=180, min_passed=10)
    try:
        benchmarks(ck, args)
    except Exception as exc:
        ck.fail("benchmarks", exc)
    if not (args.skip_tests or args.skip_suite):
        left = max(60, int(args.total_s - (time.time() - ck.t0)))
        run_pytest(ck, "main suite, FASTCCA_TEST_BACKEND=cuda", ["tests", "--ignore=tests/gpu"],
                   _env(args.dry_run, FASTCCA_TEST_BACKEND="cuda"), timeout=left, min_passed=100)
    ck.write()
    print(f"\n{'PASSED' if ck.rec['passed'] else 'FAILED'} in {ck.rec['elapsed_s']} s; card {ck.rec['card']}; "
          f"JSON: {args.out}", flush=True)
    for f in ck.rec["failures"]:
        print("  failure:", f)
    return 0 if ck.rec["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

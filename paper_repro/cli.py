"""Command line: ``python -m paper_repro list | <id> | figN | svcca | pwcca | all [options]``.

Examples::

    python -m paper_repro list
    python -m paper_repro fig4                 # figure 4 of both papers
    python -m paper_repro pwcca-fig2 --seed 1
    python -m paper_repro all --scale small --out ./paper_repro_out
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from . import registry
from .context import BACKENDS, RunContext, SCALES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m paper_repro",
        description="Regenerate the figures of the SVCCA (Raghu et al. 2017) and PWCCA (Morcos et al. "
                    "2018) papers with fastcca. Writes <id>.png, <id>.pdf and <id>.json per figure.")
    p.add_argument("what", nargs="+",
                   help="'list', a figure id (svcca-fig1, pwcca-fig2, ...), a bare figN (figure N of "
                        "both papers), 'svcca' / 'pwcca' (one paper), or 'all'")
    p.add_argument("--scale", choices=SCALES, default="small",
                   help="small (default): 2-core CPU, minutes per figure, bundled or synthetic data; "
                        "paper: the papers' configurations on real data from --data-dir (GPU); "
                        "tiny: seconds, for tests only (claims not meaningful)")
    p.add_argument("--data-dir", default=None, help="folder with local copies of the real datasets "
                   "(used at --scale paper; nothing is ever downloaded)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="where models train and activations are recorded: cpu; cuda (torch on the GPU and "
                        "fastcca's CuPy backend; an error without a GPU); auto (default: the GPU when torch "
                        "sees one, else the CPU)")
    p.add_argument("--device", default=None,
                   help="explicit torch device, e.g. cuda:1 (default: derived from --backend)")
    p.add_argument("--out", default="paper_repro_out", help="output folder (default ./paper_repro_out)")
    p.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    p.add_argument("--force", action="store_true", help="ignore cached models and moments; recompute")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for BLAS and torch (default: 1 at tiny/small scale, "
                        "library defaults at paper scale)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars, and only the one-line summary per figure (the JSON has the rest)")
    return p


def format_list() -> str:
    from .gpu_estimate import ASSUMED_TFLOPS, STEP_FLOOR_S, estimate_seconds, format_duration
    gpu = estimate_seconds()
    lines = ["time@small: time at the default scale from an empty cache, one thread (measured on a quiet 2-core "
             "machine with asv_bench/repro_times.py; svcca-fig2a, 2b, A5 and 6: CPU seconds on a shared one, "
             "docs/paper-claims.md)",
             f"GPU@paper: ESTIMATED (not measured; no GPU run yet) time to train the figure's models at --scale paper "
             f"on one H200 from an empty cache: 3 x forward FLOPs per step (torch FlopCounterMode) at an assumed "
             f"{ASSUMED_TFLOPS:g} TFLOP/s, at least {STEP_FLOOR_S * 1e3:g} ms per step; analysis time not included "
             "(paper_repro/gpu_estimate.py)",
             f"{'id':<14} {'status':<22} {'time@small':<11} {'GPU@paper':<10} title"]
    for fig_id, title in registry.CATALOG.items():
        est = format_duration(gpu[fig_id]) if fig_id in gpu else "?"
        if registry.is_implemented(fig_id):
            inf = registry.info(fig_id)
            lines.append(f"{fig_id:<14} {'implemented':<22} {inf.time_small:<11} {est:<10} {inf.title}")
        else:
            lines.append(f"{fig_id:<14} {'not implemented yet':<22} {'-':<11} {est:<10} {title}")
    n_impl = sum(registry.is_implemented(i) for i in registry.CATALOG)
    lines.append(f"{n_impl} of {len(registry.CATALOG)} figures implemented.")
    return "\n".join(lines)


def summary_line(fig_id: str, chk, timing: dict) -> str:
    """The one line each figure ends with: id, verdict, the headline paper-vs-ours number, times."""
    return (f"{fig_id}: {chk.summary()} | {timing['total_s']:.1f} s wall, {timing['cpu_s']:.1f} s CPU, "
            f"{timing['threads'] if timing['threads'] is not None else 'default'} thread(s)")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.what == ["list"]:
        print(format_list())
        return 0
    try:
        ids = []
        for sel in args.what:
            ids += [i for i in registry.resolve(sel) if i not in ids]
    except registry.UnknownFigureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    explicit = not any(s in ("all", "svcca", "pwcca") for s in args.what)
    todo = [i for i in ids if registry.is_implemented(i)]
    missing = [i for i in ids if not registry.is_implemented(i)]
    if explicit and missing:
        for i in missing:
            print(f"error: {i} ({registry.CATALOG[i]}) is not implemented yet in paper_repro; "
                  f"nothing was written for it", file=sys.stderr)
    ctx = RunContext(scale=args.scale, backend=args.backend, out=args.out, seed=args.seed,
                     force=args.force, data_dir=args.data_dir, progress=not args.quiet,
                     threads=args.threads, device=args.device)
    from .runner import run_figure
    failed = []
    for fig_id in todo:
        print(f"== {fig_id}: {registry.CATALOG[fig_id]} (scale={args.scale})", flush=True)
        try:
            rec = run_figure(fig_id, ctx)
        except Exception as exc:  # keep going with the other figures; report at the end
            print(f"error: {fig_id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            if os.environ.get("PAPER_REPRO_DEBUG"):
                traceback.print_exc()
            failed.append(fig_id)
            continue
        from .claims import ClaimCheck
        chk = ClaimCheck.from_dict(rec["claim_check"])
        t = rec["timing"]
        if not args.quiet:
            print(f"  claim check ({chk.verdict()} at scale {chk.scale!r}):")
            print(str(chk))
            print(f"  wrote {args.out}/{fig_id}.png/.pdf/.json (cache: {t['cache_hits']} hit(s), "
                  f"{t['cache_misses']} miss(es))")
        print(summary_line(fig_id, chk, t), flush=True)
    if not explicit and missing:
        print(f"not implemented yet (skipped): {', '.join(missing)}")
    if failed:
        print(f"error: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if explicit and missing:
        return 2
    return 0

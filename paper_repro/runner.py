"""Run one figure: compute every number, check the claim, draw, write ``<id>.png``, ``<id>.pdf``
and ``<id>.json`` (config, every number drawn, the claim check, timing) under ``ctx.out``."""
from __future__ import annotations

import json
import os
import pathlib
import platform
import time

import numpy as np
from fastcca.io import write_atomic

from . import registry
from .context import default_threads, thread_limits
from .progress import FigureProgress


def to_jsonable(obj):
    """numpy scalars/arrays, tuples, nested dicts -> plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating,)):
        return to_jsonable(float(obj))
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None              # JSON null; figures read lists back with dtype=float (-> nan)
    return obj


def _device_or_error(ctx) -> str:
    try:
        return ctx.torch_device
    except RuntimeError as exc:      # only reached after a run, so the figure itself did not need torch
        return f"unavailable ({exc})"


def run_figure(fig_id: str, ctx) -> dict:
    """Run one implemented figure; returns the JSON record (also written to disk)."""
    mod = registry.get_figure(fig_id)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(ctx.out, exist_ok=True)
    hits0, misses0 = ctx.cache.hits, ctx.cache.misses
    threads = ctx.threads if ctx.threads is not None else default_threads(ctx.scale)
    t0, c0 = time.perf_counter(), time.process_time()
    ctx.progress_bar = FigureProgress(fig_id, enabled=ctx.progress)
    try:
        with thread_limits(threads):
            data = mod.compute(ctx)
    finally:
        stages = [(st.desc, st.total, st.done) for st in ctx.progress_bar.stages]
        ctx.progress_bar.close()
        ctx.progress_bar = FigureProgress()
    t_compute = time.perf_counter() - t0
    data = to_jsonable(data)
    chk = mod.check(data)
    chk = type(chk)(**{**chk.__dict__, "scale": ctx.scale})
    fig = mod.draw(data)
    fig.text(0.995, 0.005, f"paper_repro {fig_id} | scale={ctx.scale} seed={ctx.seed} | "
             f"claim {chk.verdict()}", ha="right", va="bottom", fontsize=6, color="0.4")
    base = os.path.join(ctx.out, fig_id)
    write_atomic(base + ".png", lambda p: fig.savefig(p, dpi=130, format="png"))
    write_atomic(base + ".pdf", lambda p: fig.savefig(p, format="pdf"))
    plt.close(fig)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    record = {
        "id": fig_id,
        "title": mod.INFO.title,
        "paper": registry.PAPERS[fig_id.split("-")[0]],
        "scale": ctx.scale,
        "seed": ctx.seed,
        "backend": ctx.backend,
        "devices": {"torch": _device_or_error(ctx), "fastcca": ctx.fastcca_backend},
        "config": ctx.config(mod.CONFIGS),
        "data": data,
        "claim_check": chk.to_dict(),
        "timing": {"compute_s": t_compute, "total_s": elapsed, "cpu_s": cpu, "threads": threads,
                   "cache_hits": ctx.cache.hits - hits0, "cache_misses": ctx.cache.misses - misses0,
                   "stages": [{"stage": d, "units": t, "done": n} for d, t, n in stages]},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(),
                    "note": "timings depend on the machine and its load (shared machines are slower)"},
    }
    record = to_jsonable(record)
    write_atomic(base + ".json", lambda p: pathlib.Path(p).write_text(json.dumps(record, indent=1)))
    return record

"""A rough estimate of the GPU time of each figure at ``--scale paper``, from an empty cache.

Not a measurement: no GPU was available when this was written, and nothing here has been checked
against a real run.  How it is estimated:

- only the **training** of the figure's models is counted (the figures' analyses -- forward passes
  over the analysed images, the CCA of the recorded moments -- are left out; they are small next
  to the training except where noted in the figure's docs);
- a training step costs ``3 x`` the forward FLOPs of one batch (forward + backward), the forward
  FLOPs counted by :class:`torch.utils.flop_counter.FlopCounterMode` on the meta device for the
  paper configuration's own model, input shape and batch size (nothing is allocated);
- a step takes ``max(flops / ASSUMED_TFLOPS, STEP_FLOOR_S)``: an assumed sustained throughput of
  :data:`ASSUMED_TFLOPS` for these small nets on one H200 (TF32 convolutions, FP32 elsewhere; far
  below the chip's peak) and a floor of :data:`STEP_FLOOR_S` per step for the kernel launches of a
  small net's forward, backward and Adam update;
- runs shared through the cache (e.g. the SVCCA convnet of eight figures) are counted in every
  figure that needs them, since each figure's estimate is "from an empty cache".

Real times can differ by a factor of several either way; the estimate is there to plan a GPU
session (which figures fit an hour, which take days), not to quote.
"""
from __future__ import annotations

from functools import lru_cache

#: assumed sustained throughput of the paper-scale nets on one H200, in TFLOP/s
ASSUMED_TFLOPS = 25.0
#: assumed lower bound on one training step (kernel launches of forward, backward and Adam), seconds
STEP_FLOOR_S = 1e-3
#: vocabulary sizes of the word-level corpora (PTB: Mikolov's 10k; WikiText-2: 33278 words)
CORPUS_VOCAB = {"ptb": 10000, "wikitext2": 33278}


@lru_cache(maxsize=None)
def _forward_flops(spec_items: tuple, shape: tuple, tokens: bool) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from .models import build
    with torch.device("meta"):                     # shapes only: nothing is allocated or computed
        model = build(dict(spec_items))
    x = torch.zeros(shape, dtype=torch.long if tokens else torch.float32, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return float(counter.get_total_flops())


def training_seconds(spec: dict, batch_shape: tuple, steps: int) -> float:
    """Estimated seconds to train ``build(spec)`` for ``steps`` steps on batches of ``batch_shape``."""
    tokens = spec["name"] == "lstm_lm"
    flops = 3.0 * _forward_flops(tuple(sorted(spec.items())), tuple(batch_shape), tokens)
    return steps * max(flops / (ASSUMED_TFLOPS * 1e12), STEP_FLOOR_S)


def _image_net(spec: dict, batch: int, steps: int) -> float:
    spec = dict(spec, in_channels=3)
    if spec["name"] == "svcca_convnet":
        spec["image"] = 32
    return training_seconds(spec, (batch, 3, 32, 32), steps)


def _svcca_net(arch: str) -> float:
    from .runs import SVCCA_RUNS
    r = SVCCA_RUNS["paper"]
    return _image_net(r[arch], r["batch_size"], r["steps"])


def _lm(cfg: dict, depths) -> float:
    from .lm import corpus_of
    total = 0.0
    for d in depths:
        vocab = CORPUS_VOCAB.get(corpus_of(cfg, d), cfg.get("vocab") or 10000)
        spec = {"name": "lstm_lm", "vocab": vocab, "embed": cfg["embed"], "hidden": cfg["hidden"], "layers": d}
        total += training_seconds(spec, (cfg["batch"], cfg["length"]), cfg["steps"])
    return total


def _families() -> dict:
    """Estimated seconds of each family of paper-scale training runs."""
    from . import genmem, populations, toy
    from .figures import pwcca_fig6, pwcca_figA3, svcca_fig5
    g = genmem.GENMEM_RUNS["paper"]
    w = populations.WIDTH_SWEEP["paper"]
    p = populations.LR_POPULATION["paper"]
    t = toy.TOY_CONFIGS["paper"]
    pwcca = lambda wf, batch, steps: _image_net({"name": "pwcca_convnet", "width_factor": wf}, batch, steps)
    shared = len(set(w["width_factors"]) & {p["width_factor"]}) * min(w["seeds"], p["seeds"]) * (1e-3 in p["lrs"])
    f5 = svcca_fig5.CONFIGS["paper"]
    fig6 = pwcca_fig6.CONFIGS["paper"]
    return {
        "toy": 2 * training_seconds({"name": "toy_mlp", "in_dim": 1, "width": t["width"], "depth": t["depth"],
                                     "out_dim": 4}, (t["n"], 1), t["steps"]),
        "svcca_convnet": _svcca_net("convnet"),
        "svcca_resnet": _svcca_net("resnet"),
        "freeze": 2 * f5["runs"] * sum(_svcca_net(a) * f5["steps"][a] / _steps_svcca() for a in ("convnet", "resnet")),
        "genmem": 2 * g["nets"] * pwcca(g["width_factor"], g["batch_size"], g["steps"]),
        "width_sweep": w["seeds"] * sum(pwcca(wf, w["batch_size"], w["steps"]) for wf in w["width_factors"]),
        "lr_population": (len(p["lrs"]) * p["seeds"] - shared) * pwcca(p["width_factor"], p["batch_size"], p["steps"]),
        "lm": _lm(fig6, fig6["depths"]),
        "lm_a3": _lm(pwcca_figA3.CONFIGS["paper"], [pwcca_figA3.CONFIGS["paper"]["layers"]]),
    }


def _steps_svcca() -> int:
    from .runs import SVCCA_RUNS
    return SVCCA_RUNS["paper"]["steps"]


#: the training runs each figure needs at paper scale: (family, how many of its runs)
FIGURE_RUNS = {
    "svcca-fig1": [("toy", 1)], "svcca-fig2a": [("svcca_convnet", 2)], "svcca-fig2b": [("svcca_convnet", 2)],
    "svcca-fig3": [("toy", 1)], "svcca-fig4": [("svcca_convnet", 1), ("svcca_resnet", 1)],
    "svcca-fig5": [("freeze", 1)], "svcca-fig6": [("svcca_resnet", 1)],
    "svcca-fig7": [("svcca_convnet", 1), ("svcca_resnet", 1)], "svcca-figA1": [], "svcca-figA2": [],
    "svcca-figA3": [("svcca_convnet", 1), ("svcca_resnet", 1)], "svcca-figA4": [("svcca_convnet", 2)],
    "svcca-figA5": [("svcca_convnet", 2)], "svcca-figA6": [("lm", 1)],
    "pwcca-fig1": [("svcca_convnet", 1), ("lm", 1)], "pwcca-fig2": [], "pwcca-fig3": [("genmem", 1)],
    "pwcca-fig4": [("width_sweep", 1)], "pwcca-fig5": [("lr_population", 1)], "pwcca-fig6": [("lm", 1)],
    "pwcca-figA1": [("svcca_convnet", 1), ("lm", 1)], "pwcca-figA2": [], "pwcca-figA3": [("lm_a3", 1)],
    "pwcca-figA4": [("lm_a3", 1)], "pwcca-figA5": [("genmem", 1)], "pwcca-figA6": [("width_sweep", 1)],
    "pwcca-figA7": [("width_sweep", 1)], "pwcca-figA8": [("lm", 1)], "pwcca-figA9": [("genmem", 1)],
    "pwcca-figA10": [("genmem", 1)],
}


def estimate_seconds() -> dict:
    """``{figure id: estimated GPU seconds at --scale paper from an empty cache}``."""
    fam = _families()
    return {fig: sum(fam[f] * k for f, k in runs) for fig, runs in FIGURE_RUNS.items()}


def format_duration(seconds: float) -> str:
    """A rough human duration: "<1 min", "~25 min", "~3.2 h", "~4.1 d"."""
    if seconds < 60:
        return "<1 min"
    if seconds < 3600:
        return f"~{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"~{seconds / 3600:.1f} h"
    return f"~{seconds / 86400:.1f} d"

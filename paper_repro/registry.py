"""Every figure of both papers (ids from ``shared/papers/FIGURES.md``) and the module that
implements each one, if any.

A figure module under ``paper_repro/figures/`` defines

- ``INFO``: a :class:`FigureInfo` (id, title, rough time at the default scale, what it needs);
- ``CONFIGS``: ``{"tiny": {...}, "small": {...}, "paper": {...}}`` -- every knob of the figure per
  scale ("tiny" is for the tests: seconds, plumbing only, claims not meaningful);
- ``compute(ctx) -> dict``: every number the figure draws (JSON-ready: lists, floats, ints, str);
- ``draw(data) -> matplotlib.figure.Figure``: the figure, from ``compute``'s dict only;
- ``check(data) -> ClaimCheck``: the paper's claim, the statistic measured, holds or not.

A figure listed here without a module is shown by ``list`` as "not implemented yet", and asking
for it raises :class:`FigureNotImplementedError` (no placeholder output is ever written).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

PAPERS = {"svcca": "Raghu et al. 2017, SVCCA (arXiv 1706.05806)",
          "pwcca": "Morcos et al. 2018, PWCCA (arXiv 1806.05759)"}


@dataclass(frozen=True)
class FigureInfo:
    id: str
    title: str
    time_small: str = "?"                     # rough wall time at --scale small, 2 CPU cores
    needs: tuple = field(default=())          # data / models / library parts it needs


# id -> one-line title, in the papers' order.  Implemented ones map to a module in IMPLEMENTED.
CATALOG: dict[str, str] = {
    "svcca-fig1": "toy regression, two inits: neurons vs SVD vs SVCCA directions",
    "svcca-fig2a": "accuracy vs k after projecting a layer onto its top-k SVCCA subspace",
    "svcca-fig2b": "top-k SVCCA directions projected again onto their m most important neurons",
    "svcca-fig3": "toy net output: full vs projection onto top 2/6/15/30 SVCCA directions",
    "svcca-fig4": "layer x layer SVCCA during training, convnet and ResNet",
    "svcca-fig5": "freeze training: test accuracy vs step, layers frozen bottom-up",
    "svcca-fig6": "DFT-CCA similarity of each layer with class logits, five classes",
    "svcca-fig7": "DFT-CCA heatmap: ResNet conv layers vs convnet layers",
    "svcca-figA1": "CCA is invariant to permutation, rotation and scaling of neurons",
    "svcca-figA2": "covariance of one channel: pixel basis vs DFT basis, with/without translations",
    "svcca-figA3": "per-layer SVCCA with the final step vs training step",
    "svcca-figA4": "layer x layer SVCCA between two inits of the same convnet",
    "svcca-figA5": "accuracy vs number of top layers compressed: SVCCA between nets vs with logits",
    "svcca-figA6": "stacked LSTM, per-layer learning dynamics",
    "pwcca-fig1": "sorted CCA coefficients over training; signal vs noise CCA vectors",
    "pwcca-fig2": "synthetic: CCA distance vs signal/noise for mean CCA, PWCCA, SVCCA",
    "pwcca-fig3": "PWCCA distance per layer: generalizing vs memorizing nets",
    "pwcca-fig4": "distance vs width; test accuracy vs distance",
    "pwcca-fig5": "distance matrix over nets with varied learning rates; clusters vs ablation",
    "pwcca-fig6": "PWCCA distance to final representation vs epoch, recurrent LMs",
    "pwcca-figA1": "accuracy / perplexity curves of the fig1 runs",
    "pwcca-figA2": "toy RNN: cosine / Euclidean / CCA distance to the final state",
    "pwcca-figA3": "LSTM unrolled 20 steps: distance of step j to the last step",
    "pwcca-figA4": "as A3 with one input repeated for 20 steps from different starts",
    "pwcca-figA5": "cosine and Euclidean versions of fig3",
    "pwcca-figA6": "cosine and Euclidean versions of fig4",
    "pwcca-figA7": "distance vs number of filters, at init vs trained",
    "pwcca-figA8": "cosine and Euclidean learning dynamics for the RNNs",
    "pwcca-figA9": "fig3 with unweighted mean CCA and with SVCCA",
    "pwcca-figA10": "fig3 on test data",
}

IMPLEMENTED: dict[str, str] = {
    "svcca-fig1": "paper_repro.figures.svcca_fig1",
    "svcca-fig2a": "paper_repro.figures.svcca_fig2a",
    "svcca-fig2b": "paper_repro.figures.svcca_fig2b",
    "svcca-fig3": "paper_repro.figures.svcca_fig3",
    "svcca-fig4": "paper_repro.figures.svcca_fig4",
    "svcca-fig5": "paper_repro.figures.svcca_fig5",
    "svcca-fig6": "paper_repro.figures.svcca_fig6",
    "svcca-fig7": "paper_repro.figures.svcca_fig7",
    "svcca-figA1": "paper_repro.figures.svcca_figA1",
    "svcca-figA2": "paper_repro.figures.svcca_figA2",
    "svcca-figA3": "paper_repro.figures.svcca_figA3",
    "svcca-figA4": "paper_repro.figures.svcca_figA4",
    "svcca-figA5": "paper_repro.figures.svcca_figA5",
    "svcca-figA6": "paper_repro.figures.svcca_figA6",
    "pwcca-fig1": "paper_repro.figures.pwcca_fig1",
    "pwcca-fig2": "paper_repro.figures.pwcca_fig2",
    "pwcca-fig3": "paper_repro.figures.pwcca_fig3",
    "pwcca-fig4": "paper_repro.figures.pwcca_fig4",
    "pwcca-fig5": "paper_repro.figures.pwcca_fig5",
    "pwcca-fig6": "paper_repro.figures.pwcca_fig6",
    "pwcca-figA1": "paper_repro.figures.pwcca_figA1",
    "pwcca-figA2": "paper_repro.figures.pwcca_figA2",
    "pwcca-figA3": "paper_repro.figures.pwcca_figA3",
    "pwcca-figA4": "paper_repro.figures.pwcca_figA4",
    "pwcca-figA5": "paper_repro.figures.pwcca_figA5",
    "pwcca-figA6": "paper_repro.figures.pwcca_figA6",
    "pwcca-figA7": "paper_repro.figures.pwcca_figA7",
    "pwcca-figA8": "paper_repro.figures.pwcca_figA8",
    "pwcca-figA9": "paper_repro.figures.pwcca_figA9",
    "pwcca-figA10": "paper_repro.figures.pwcca_figA10",
}


class FigureNotImplementedError(LookupError):
    """The figure id exists in the papers but has no module in paper_repro yet."""


class UnknownFigureError(LookupError):
    """The id is not a figure of either paper."""


def is_implemented(fig_id: str) -> bool:
    return fig_id in IMPLEMENTED


def get_figure(fig_id: str):
    """The figure module for ``fig_id`` (imported on demand)."""
    if fig_id not in CATALOG:
        raise UnknownFigureError(f"{fig_id!r} is not a figure of either paper; "
                                 f"`python -m paper_repro list` shows the ids")
    if fig_id not in IMPLEMENTED:
        raise FigureNotImplementedError(
            f"{fig_id} ({CATALOG[fig_id]}) is not implemented yet in paper_repro; nothing was "
            f"written. Implemented: {', '.join(IMPLEMENTED)}")
    mod = importlib.import_module(IMPLEMENTED[fig_id])
    if mod.INFO.id != fig_id:
        raise RuntimeError(f"{IMPLEMENTED[fig_id]} declares id {mod.INFO.id!r}, registered as {fig_id!r}")
    return mod


def resolve(selector: str) -> list[str]:
    """Figure ids a command-line selector names, in catalogue order.

    ``all`` -> every id of both papers; ``svcca`` / ``pwcca`` -> every id of that paper;
    ``figN`` -> figure N of both papers (e.g. ``fig4`` -> svcca-fig4, pwcca-fig4);
    a full id -> itself.  Raises UnknownFigureError for anything else.
    """
    s = selector.strip()
    if s == "all":
        return list(CATALOG)
    if s in PAPERS:
        return [i for i in CATALOG if i.startswith(s + "-")]
    if s in CATALOG:
        return [s]
    if s.startswith("fig"):
        ids = [i for i in CATALOG if i.split("-", 1)[1] == s]
        if ids:
            return ids
    raise UnknownFigureError(f"{selector!r} names no figure; use an id such as svcca-fig1 or pwcca-fig2, "
                             f"a bare figN (both papers), a paper (svcca, pwcca) or all. "
                             f"`python -m paper_repro list` shows the ids")


def info(fig_id: str) -> FigureInfo:
    """FigureInfo of an implemented figure, or a bare one (title from the catalogue)."""
    if fig_id in IMPLEMENTED:
        return get_figure(fig_id).INFO
    return FigureInfo(id=fig_id, title=CATALOG[fig_id])

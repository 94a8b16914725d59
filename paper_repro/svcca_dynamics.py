"""Layer x layer SVCCA of the SVCCA paper's learning-dynamics figures (Raghu et al. 2017, Fig 4,
appendix Figs A3, A4), measured through :mod:`fastcca.torch` (hooks + one streaming pass per
checkpoint; the activations are never held).

Layers.  A trained classifier of :mod:`paper_repro.models` is wrapped as
``Sequential(Identity, model, Softmax)`` (:func:`hooked`) so that the input "in" and the softmax
"out" are modules that can be hooked like the others: the rows / columns are the model's
``layer_names`` -- for the ResNet also the two BatchNorm(conv) outputs inside every residual
block (``rS.B/cv1``: BN of the block's first conv, before its ReLU; ``rS.B/cv2``: BN of the second
conv, before the skip is added), as the paper's ResNet heatmap has them ("bn_cv" rows between
the "res" rows).  Without them the residual stripes could not show.

Conv layers (``(n, c, h, w)`` outputs): the SVCCA paper's DFT method (section 3), ``conv="fft"``
of :func:`fastcca.torch.record` / :func:`fastcca.conv_svcca`: the real 2-D DFT of every channel,
one SVCCA block per spatial frequency (the SV step on the pooled spectrum, keep 0.99 of the sum
of singular values), the per-frequency coefficients pooled and averaged.  Why this mode:

* it is the paper's own treatment of conv layers, and on a translation-invariant dataset it is
  exactly SVCCA of the flattened (channel x position) neurons -- i.e. it keeps the spatial
  information that ``"mean"`` throws away (the input layer "in", one channel, would be a single
  mean-brightness number under ``"mean"``);
* it compares layers of different spatial sizes (c2 at 8x8 with c3 at 4x4) on their
  overlapping low frequencies, so every conv pair of the grid is measured the same way,
  whereas ``"fold"`` only compares equal sizes;
* each frequency block has only c channels per side against n images, so it does not overfit
  the way ``"flatten"`` would (16 x 64 = 1024 neurons against 1437 images: most flattened
  coefficients near 1 whatever the layers);
* a conv layer against a dense layer (fc, logits, out, the ResNet's pool): the dense layer is
  taken as a (p, 1, 1) map, so only the DC frequency is compared -- SVCCA of the conv layer's
  spatial MEAN with the dense layer (the only frequency both have).

Data: the 1437 digits TRAINING images (without translations), at their default-scale split
(:func:`paper_repro.classifiers.image_data`; more datapoints than the 360 test images, so the
SVCCA of the 64-unit dense layers is less biased upwards).  BatchNorm runs with its running
statistics (eval mode), as at test time.
"""
from __future__ import annotations

import numpy as np

#: the fastcca measure and its settings (the SVCCA paper's: 99% of the sum of singular values)
MEASURE = {"measure": "svcca", "keep": 0.99, "keep_rule": "sum"}


def layer_modules(model, inner: bool = True) -> list:
    """``[(label, module name in the hooked wrapper)]`` of every compared layer, bottom-up.

    ``model`` is a :class:`~paper_repro.models.SVCCAConvNet` or
    :class:`~paper_repro.models.SmallResNet` (any ``_LayeredClassifier``: ``stages`` aligned with
    ``layer_names[1:-1]``); module names are those of :func:`hooked` (``"0"``: the input,
    ``"1.stages.k"``: stage k, ``"2"``: the softmax).  ``inner``: for residual blocks also their
    ``body.1`` and ``body.4`` BatchNorm outputs (``/cv1``, ``/cv2``).
    """
    from .models import _ResidualBlock
    names = list(model.layer_names)
    if len(names) != len(model.stages) + 2:
        raise ValueError(f"model: {len(names)} layer names for {len(model.stages)} stages (+ in, out)")
    out = [(names[0], "0")]
    for k, stage in enumerate(model.stages):
        if inner and isinstance(stage, _ResidualBlock):
            out += [(f"{names[k + 1]}/cv1", f"1.stages.{k}.body.1"), (f"{names[k + 1]}/cv2", f"1.stages.{k}.body.4")]
        out.append((names[k + 1], f"1.stages.{k}"))
    out.append((names[-1], "2"))
    return out


def hooked(model):
    """``Sequential(Identity, model, Softmax(dim=1))`` in eval mode: the same function as
    ``model.hidden(x)[-1]``, with the input and the softmax as hookable modules."""
    from torch import nn
    return nn.Sequential(nn.Identity(), model, nn.Softmax(dim=1)).eval()


def batches(x: np.ndarray, batch: int = 512, *, device) -> list:
    """The images x (n, c, h, w) as a list of torch tensors of ``batch`` images."""
    import torch
    return [torch.as_tensor(x[i:i + batch], device=device) for i in range(0, len(x), batch)]


def nearest_checkpoints(steps, fractions) -> list:
    """Index of the checkpoint nearest to each fraction of training (ties: the earlier one).
    ``steps`` ascending, the last one the end of training."""
    steps = np.asarray(steps, dtype=np.float64)
    return [int(np.argmin(np.abs(steps - f * steps[-1]))) for f in fractions]


def checkpoint_grids(ctx, config: dict, states: list, x: np.ndarray, pairs: str, inner: bool = True,
                     conv: str = "fft"):
    """SVCCA of every compared layer at each checkpoint against the network at ``states[-1]``.

    ``pairs="all"``: a list (one per state) of :class:`fastcca.grid.SimilarityMatrix`, rows = layer
    at that state, columns = layer at the last state; ``pairs="same"``: one matrix, rows =
    layers, columns = states (layer l at t vs l at the end).  Labels are :func:`layer_modules`'.
    """
    from fastcca.torch import compare_checkpoints
    from .training import load_model
    device = ctx.torch_device
    proto = load_model(config, states[-1], device=device)
    mods = layer_modules(proto, inner)
    wrapped = [(lambda s=s: hooked(load_model(config, s, device=device))) for s in states]
    res = compare_checkpoints(hooked(proto), wrapped, batches(x, device=device),
                              [m for _, m in mods], reference=-1, pairs=pairs, conv=conv,
                              backend=ctx.fastcca_backend, progress=False, **MEASURE)
    return [label for label, _ in mods], res


def two_model_grid(ctx, config_a: dict, state_a, config_b: dict, state_b, x: np.ndarray, inner: bool = True,
                   conv: str = "fft"):
    """SVCCA of every compared layer of net a (rows) with every layer of net b (columns): a
    :class:`fastcca.grid.SimilarityMatrix`, one pass over x."""
    from fastcca.torch import record
    from .training import load_model
    device = ctx.torch_device
    a, b = load_model(config_a, state_a, device=device), load_model(config_b, state_b, device=device)
    mods_a, mods_b = layer_modules(a, inner), layer_modules(b, inner)
    rec = record(hooked(a), [m for _, m in mods_a], batches(x, device=device),
                 model_b=hooked(b), layers_b=[m for _, m in mods_b], conv=conv,
                 backend=ctx.fastcca_backend, progress=False)
    grid = rec.grid(measure=MEASURE["measure"], keep=MEASURE["keep"], keep_rule=MEASURE["keep_rule"])
    return [l for l, _ in mods_a], [l for l, _ in mods_b], grid


# ---------------------------------------------------------------------------- claim statistics
#: layers that are not hidden layers: the input (the same at every step and in every net) and
#: the class outputs (they are trained directly by the loss)
NOT_HIDDEN = ("in", "logits", "out")


def hidden_thirds(labels) -> tuple:
    """Indices of the lower and of the upper third of the hidden layers (``labels`` bottom-up,
    without :data:`NOT_HIDDEN`): ``ceil(h / 3)`` layers each, h hidden layers (h >= 2)."""
    hidden = [i for i, l in enumerate(labels) if l not in NOT_HIDDEN]
    if len(hidden) < 2:
        raise ValueError(f"labels: need at least 2 hidden layers, got {list(labels)}")
    k = -(-len(hidden) // 3)
    return hidden[:k], hidden[-k:]


def spearman(a, b) -> float:
    """Spearman rank correlation of two 1-D sequences (average ranks for ties; 0 if one is constant)."""
    from scipy.stats import rankdata
    ra, rb = rankdata(np.asarray(a, dtype=float)), rankdata(np.asarray(b, dtype=float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    d = np.sqrt((ra @ ra) * (rb @ rb))
    return float(ra @ rb / d) if d > 0 else 0.0


def bottom_up(values, labels) -> dict:
    """Bottom-up order of per-layer similarities ``values`` (one per label): the mean over the
    lower and the upper third of the hidden layers (:func:`hidden_thirds`), their difference, and
    the Spearman correlation of similarity with depth over the hidden layers (negative: lower
    layers more similar)."""
    v = np.asarray(values, dtype=np.float64)
    lo, hi = hidden_thirds(labels)
    hidden = [i for i, l in enumerate(labels) if l not in NOT_HIDDEN]
    return {"lower_third": [labels[i] for i in lo], "upper_third": [labels[i] for i in hi],
            "lower_mean": float(v[lo].mean()), "upper_mean": float(v[hi].mean()),
            "lower_minus_upper": float(v[lo].mean() - v[hi].mean()),
            "spearman_depth": spearman(np.arange(len(hidden)), v[hidden])}


def bn_blocks(mat, labels) -> dict:
    """For every BatchNorm layer (label starting with "bn"): its similarity with the layer just
    below it (``mat[bn, prev]``, ``mat`` a layer x layer grid of one network with itself, rows and
    columns both ``labels``) and with the layer two below (the contrast that makes a 2x2 block
    rather than a band).  Symmetrised: the mean of ``mat[i, j]`` and ``mat[j, i]``."""
    m = np.asarray(mat, dtype=np.float64)
    sym = (m + m.T) / 2
    out = {}
    for i, l in enumerate(labels):
        if l.startswith("bn") and i >= 2:
            out[l] = {"previous": labels[i - 1], "with_previous": float(sym[i, i - 1]),
                      "two_below": labels[i - 2], "with_two_below": float(sym[i, i - 2])}
    return out


def _stage(label: str):
    """The stage "rS" of a residual-block label "rS.B" / "rS.B/cv1" (None for other layers)."""
    head = label.split(".")[0]
    return head if head[:1] == "r" and head[1:].isdigit() and "." in label else None


def residual_stripes(mat, labels, min_gap: int = 3) -> dict:
    """Stripes of a ResNet grid (``mat`` layer x layer, rows and columns both ``labels``): the
    residual-stream layers (block outputs ``rS.B``) stay similar to the stream at other blocks of
    their stage, the residual-branch layers (``rS.B/cv1``, ``rS.B/cv2``: BN(conv) inside a block)
    do not -- so the stream's rows and columns stand out as a lattice of stripes.

    Over the pairs (i, j) of layers of the same stage at least ``min_gap`` positions apart (3: a
    different block), symmetrised ``(mat[i, j] + mat[j, i]) / 2``: ``stream_mean`` = mean over
    stream-stream pairs, ``branch_mean`` = mean over pairs with a branch layer; ``ratio`` =
    stream_mean / branch_mean (> 1: stripes)."""
    m = np.asarray(mat, dtype=np.float64)
    sym = (m + m.T) / 2
    stream, branch = [], []
    for i, a in enumerate(labels):
        for j in range(i + min_gap, len(labels)):
            b = labels[j]
            if _stage(a) is None or _stage(a) != _stage(b):
                continue
            (branch if "/" in a or "/" in b else stream).append(sym[i, j])
    s = float(np.mean(stream)) if stream else float("nan")
    b = float(np.mean(branch)) if branch else float("nan")
    return {"stream_mean": s, "branch_mean": b, "ratio": s / b if b > 0 else float("nan"),
            "min_gap": int(min_gap), "n_stream_pairs": len(stream), "n_branch_pairs": len(branch)}

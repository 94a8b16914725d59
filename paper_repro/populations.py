"""Populations of PWCCA-paper convnets shared by several figures through the cache, and the
per-population analyses (pairwise distances, ablation curves) computed once.

Two populations (Morcos, Raghu & Bengio 2018, section 3.2 / 3.3), both of
:class:`paper_repro.models.PWCCAConvNet` trained with :func:`paper_repro.classifiers.train_classifier`
(cross entropy, Adam, checkpoints at step 0 = init and at the end):

- the **width sweep** (Fig 4, A6, A7): ``seeds`` nets (different inits and batch orders) per
  width factor;
- the **learning-rate population** (Fig 5): ``seeds`` nets per learning rate at one width.
  At the default scale its lr=1e-3 members ARE the width sweep's nets of that width (same config,
  same cache entries), so they are trained once.

And one population of UNTRAINED nets, the **init widths** (Fig A7's left panel,
:func:`init_width_analysis`): ``seeds`` nets per width at initialisation
(:func:`paper_repro.training.init_model`, the step-0 checkpoint of a run with that seed), their
BatchNorm statistics set from the data (:func:`paper_repro.models.batchnorm_statistics_from_data`),
compared on the training images and their circular shifts (:func:`circular_shift_batches`),
streamed into one :class:`fastcca.JointMoments` per conv layer.

Representation of a layer (the paper's): each conv filter's output averaged over spatial
positions, (n, channels); dense layers as they are.  Datapoints: the scale's TRAINING images
(digits: 1438; paper scale: the first ``n_points`` CIFAR-10 training images).  Memory at
paper scale: Fig 5 holds every net's layer representation at once (200 nets x 10000 x 512
float64 = 8 GB).

Distances between two nets at one layer (:func:`pair_distances`):

- ``pwcca``: the paper's PWCCA distance, ``1 - sum_i alpha_i rho_i`` (``fastcca.pwcca``,
  ``variant="paper"``).  PWCCA weights by one side's neurons, so it is not symmetric; the value
  used here is the mean of both directions, ``(d(A, B) + d(B, A)) / 2``;
- ``cosine``: neuron i of net A matched with neuron i of net B (no alignment, as the paper's
  appendix baselines): the mean over datapoints of ``1 - <a_t, b_t> / (|a_t| |b_t|)``, with
  ``a_t, b_t`` (p,) the two nets' representations of datapoint t (cosine taken as 0 when either
  vector is 0);
- ``euclidean``: the mean over datapoints of ``|a_t - b_t|_2 / sqrt(p)`` (the root mean square
  difference per neuron, so layers and widths of different p compare), on the raw activations.

Also here: :func:`chance_pwcca_distance` (the finite-sample floor of PWCCA for unrelated sets),
:func:`ablation_curve` / :func:`curve_area` (ablation robustness), :func:`cluster_labels`,
:func:`adjusted_rand`, :func:`eta_squared`, :func:`permutation_pvalue` (Fig 5's statistics).
"""
from __future__ import annotations

import itertools

import numpy as np

import fastcca

from .classifiers import accuracy, classifier_config, dataset_description, image_data, layer_outputs, train_classifier

#: per scale: the width sweep (Fig 4, A6, A7).  ``width_factors`` multiply the paper's widths
#: 64..512 (PWCCAConvNet); training as the paper at paper scale (Adam 1e-3, batch 32, 100 epochs
#: of CIFAR-10 = 156250 steps); ``n_points`` None = every training image.
WIDTH_SWEEP = {
    "tiny": {"width_factors": [0.03125, 0.0625], "seeds": 3, "steps": 20, "lr": 1e-3, "batch_size": 32,
             "n_points": 300},
    "small": {"width_factors": [0.03125, 0.0625, 0.125, 0.25, 0.5], "seeds": 5, "steps": 300, "lr": 1e-3,
              "batch_size": 64, "n_points": None},
    "paper": {"width_factors": [0.25, 0.5, 1.0, 2.0, 4.0, 7.0], "seeds": 5, "steps": 156250, "lr": 1e-3,
              "batch_size": 32, "n_points": 10000},
}

#: per scale: the learning-rate population (Fig 5): ``seeds`` nets per learning rate, one width.
LR_POPULATION = {
    "tiny": {"width_factor": 0.03125, "lrs": [1e-3, 1e-2], "seeds": 2, "steps": 20, "batch_size": 32,
             "n_points": 300},
    "small": {"width_factor": 0.125, "lrs": [1e-4, 1e-3, 1e-2], "seeds": 8, "steps": 300, "batch_size": 64,
              "n_points": None},
    "paper": {"width_factor": 1.0, "lrs": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], "seeds": 40, "steps": 156250,
              "batch_size": 32, "n_points": 10000},
}

#: per scale: the untrained nets of Fig A7 (:func:`init_width_analysis`): ``seeds`` nets per width
#: factor (of the paper's widths 64..512), datapoints the first ``n_points`` training images (None:
#: all) x every circular shift of up to ``max_shift`` pixels in each direction ((2 max_shift + 1)^2
#: copies), ``batch`` images per forward pass; ``bn_from_data``: BatchNorm statistics set from the
#: unshifted datapoints, in one pass of every image (``bn_batch`` None) or ``bn_batch`` at a time
#: (:func:`paper_repro.models.batchnorm_statistics_from_data`; the same statistics, bounded memory
#: for 10,000 CIFAR-10 images through 7x-wide nets).  The default scale uses 0.25 .. 1x, 16 .. 64 filters
#: in conv1: the width sweep's 2 .. 32 filters are narrow enough for random nets to be in a
#: finite-width regime, where they too converge with width (docs/paper-claims.md, pwcca-figA7).
#: At paper scale: the width sweep's widths and datapoints (CIFAR-10 is not shifted).
INIT_WIDTHS = {
    "tiny": {"width_factors": [0.03125, 0.0625], "seeds": 3, "n_points": 300, "max_shift": 1, "batch": 512,
             "bn_from_data": True, "bn_batch": None},
    "small": {"width_factors": [0.25, 0.5, 1.0], "seeds": 5, "n_points": None, "max_shift": 2, "batch": 512,
              "bn_from_data": True, "bn_batch": None},
    "paper": {"width_factors": [0.25, 0.5, 1.0, 2.0, 4.0, 7.0], "seeds": 5, "n_points": 10000, "max_shift": 0,
              "batch": 256,
              # BN statistics from the data, as at the default scale; False switches back to the step-0
              # checkpoints as they are (BN running mean 0, variance 1: the identity in eval mode)
              "bn_from_data": True, "bn_batch": 256},
}

DISTANCES = ("pwcca", "cosine", "euclidean")
ANALYSIS_VERSION = 2     # bump when the cached analyses below change


def width_sweep_label(ctx) -> str:
    """The width sweep's data and training at ``ctx.scale``, for titles and claim notes."""
    s = WIDTH_SWEEP[ctx.scale]
    return (f"{dataset_description(ctx)}; PWCCA convnets at {', '.join(f'{w:g}' for w in s['width_factors'])}x the "
            f"paper's widths, {s['seeds']} seeds each, {s['steps']} Adam steps (lr {s['lr']:g}) of batch {s['batch_size']}")


def lr_population_label(ctx) -> str:
    """The learning-rate population's data and training at ``ctx.scale``, for titles and notes."""
    s = LR_POPULATION[ctx.scale]
    return (f"{dataset_description(ctx)}; PWCCA convnets at {s['width_factor']:g}x the paper's widths, Adam "
            f"learning rates {', '.join(f'{lr:g}' for lr in s['lrs'])}, {s['seeds']} seeds each, {s['steps']} steps "
            f"of batch {s['batch_size']}")


def init_widths_label(ctx) -> str:
    """The untrained nets of Fig A7 and their datapoints at ``ctx.scale``, for titles and notes,
    e.g. "digits (8x8 grey), 1438 training images x 25 circular shifts (<= 2 px) = 35950
    datapoints; untrained PWCCA convnets at 0.25, 0.5, 1x the paper's widths (16, 32, 64 filters
    in conv1), 5 seeds each, BatchNorm statistics from the training images"."""
    from .models import pwcca_widths
    s = INIT_WIDTHS[ctx.scale]
    n = len(eval_images(ctx, s["n_points"]))
    copies = (2 * s["max_shift"] + 1) ** 2
    data = (f"{n} training images x {copies} circular shifts (<= {s['max_shift']} px) = {n * copies} datapoints"
            if s["max_shift"] else f"{n} training images")
    conv1 = [pwcca_widths(wf)[0] for wf in s["width_factors"]]
    bn = ("BatchNorm statistics from the training images" if s["bn_from_data"]
          else "BatchNorm at its initial statistics (identity)")
    return (f"{dataset_description(ctx)}, {data}; untrained PWCCA convnets at "
            f"{', '.join(f'{w:g}' for w in s['width_factors'])}x the paper's widths "
            f"({', '.join(str(c) for c in conv1)} filters in conv1), {s['seeds']} seeds each, {bn}")


def net_config(ctx, width_factor: float, lr: float, seed: int, steps: int, batch_size: int) -> dict:
    """The training config (cache key) of one PWCCA convnet, checkpoints at init and at the end."""
    return classifier_config(ctx, {"name": "pwcca_convnet", "width_factor": float(width_factor)}, steps=steps,
                             lr=lr, batch_size=batch_size, checkpoints=[0, steps], seed=seed)


def width_sweep(ctx):
    """[(width_factor, [(config, run) per seed])] of the scale's width sweep (trained or cached);
    seeds ``ctx.seed + i``."""
    s = WIDTH_SWEEP[ctx.scale]
    out = []
    for wf in s["width_factors"]:
        nets = []
        for i in range(s["seeds"]):
            cfg = net_config(ctx, wf, s["lr"], ctx.seed + i, s["steps"], s["batch_size"])
            nets.append((cfg, train_classifier(ctx, cfg, desc=f"PWCCA convnet x{wf} (seed {ctx.seed + i})")))
        out.append((wf, nets))
    return out


def lr_population(ctx):
    """[(lr, [(config, run) per seed])] of the scale's learning-rate population; seeds ``ctx.seed + i``."""
    s = LR_POPULATION[ctx.scale]
    out = []
    for lr in s["lrs"]:
        nets = []
        for i in range(s["seeds"]):
            cfg = net_config(ctx, s["width_factor"], lr, ctx.seed + i, s["steps"], s["batch_size"])
            nets.append((cfg, train_classifier(ctx, cfg, desc=f"PWCCA convnet lr {lr:g} (seed {ctx.seed + i})")))
        out.append((lr, nets))
    return out


def eval_images(ctx, n_points):
    """The datapoints the representations are taken on: the first ``n_points`` training images
    (all with None), float32 (n, c, h, w)."""
    x, _ = image_data(ctx, train=True)
    return x if n_points is None else x[:n_points]


def filter_means(config: dict, state, x: np.ndarray, batch: int = 256, *, device) -> list:
    """Every layer of ``model.layer_names`` except "in", as the paper represents it: conv outputs
    (n, c, h, w) averaged over the spatial positions -> (n, c); dense outputs (n, d) unchanged.
    float64, eval mode.  Computed batch by batch, so full-size maps are never held (CIFAR-10)."""
    return layer_outputs(config, state, x, batch=batch, device=device, spatial_mean=True)[1:]


def layer_names(config: dict) -> list:
    """The layer names :func:`filter_means` returns, in order (``model.layer_names`` without "in")."""
    from .models import build
    return list(build(config["model"]).layer_names[1:])


#: left out of the width analysis: "pool" is the spatial mean of conv11, i.e. exactly conv11's
#: representation here, so it would only repeat conv11
SKIP_LAYERS = ("pool",)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over datapoints of 1 - cos(a_t, b_t), neurons matched by index; a, b (n, p).
    A datapoint where either vector is zero contributes 1 (cosine 0)."""
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    den = na * nb
    cos = np.divide(np.sum(a * b, axis=1), den, out=np.zeros(len(a)), where=den > 0)
    return float(np.mean(1.0 - cos))


def euclidean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over datapoints of |a_t - b_t|_2 / sqrt(p), neurons matched by index; a, b (n, p)."""
    return float(np.mean(np.linalg.norm(a - b, axis=1)) / np.sqrt(a.shape[1]))


def symmetric_pwcca_distance(a: np.ndarray, b: np.ndarray, backend: str = "auto") -> float:
    """(d(a, b) + d(b, a)) / 2 with d the paper's PWCCA distance (``fastcca.pwcca``, weights from
    the first argument's neurons): one Moments, both sides weighted."""
    m = fastcca.Moments.from_arrays(a, b, backend=backend)
    return 0.5 * (fastcca.pwcca(m, side="x").distance + fastcca.pwcca(m, side="y").distance)


def chance_pwcca_distance(n: int, p: int, seed: int = 0, backend: str = "auto") -> float:
    """The symmetrised PWCCA distance of two INDEPENDENT standard Gaussian sets (n, p): what CCA
    finds between unrelated representations from n datapoints.  It falls below 1 as p / n grows
    (finite-sample canonical correlations; n=1438: about 0.91 at p=16, 0.64 at p=256), so a
    distance that narrows with width must be read against it."""
    rng = np.random.default_rng([seed, n, p])
    return symmetric_pwcca_distance(rng.standard_normal((n, p)), rng.standard_normal((n, p)), backend)


def pair_distances(reps_a: list, reps_b: list, backend: str = "auto") -> np.ndarray:
    """(3, n_layers) distances of two nets' layer representations: rows :data:`DISTANCES`."""
    out = np.zeros((len(DISTANCES), len(reps_a)))
    for li, (a, b) in enumerate(zip(reps_a, reps_b)):
        out[0, li] = symmetric_pwcca_distance(a, b, backend)
        out[1, li] = cosine_distance(a, b)
        out[2, li] = euclidean_distance(a, b)
    return out


def width_sweep_analysis(ctx, checkpoint: str = "trained") -> dict:
    """Pairwise distances within each width of the sweep, at ``checkpoint`` "trained" (the last)
    or "init" (step 0), cached (kind "pwcca_width_analysis").

    Layers: every named layer after the input except :data:`SKIP_LAYERS` (conv1..conv11, logits,
    out).  Returns float64 arrays: ``width_factors`` (W,), ``filters`` (W, n_layers) channels per layer,
    ``distance`` (3, W, n_pairs, n_layers) (rows :data:`DISTANCES`, pairs = every pair of the
    seeds), ``test_accuracy`` / ``train_accuracy`` (W, seeds); and ``layers`` (str array)."""
    s = WIDTH_SWEEP[ctx.scale]
    sweep = width_sweep(ctx)
    key = {"sweep": {k: v for k, v in s.items()}, "seed": ctx.seed, "checkpoint": checkpoint,
           "version": ANALYSIS_VERSION, "configs": [[c for c, _ in nets] for _, nets in sweep]}
    return ctx.cache.get_or_compute("pwcca_width_analysis", key,
                                    lambda: _width_analysis(ctx, sweep, checkpoint, s["n_points"]))


def _width_analysis(ctx, sweep, checkpoint, n_points):
    idx = -1 if checkpoint == "trained" else 0
    dev = ctx.torch_device
    x = eval_images(ctx, n_points)
    xtr, ytr = image_data(ctx, train=True)
    xte, yte = image_data(ctx, train=False)
    all_names = layer_names(sweep[0][1][0][0])
    keep = [i for i, n in enumerate(all_names) if n not in SKIP_LAYERS]
    names = [all_names[i] for i in keep]
    dist, filters, acc_te, acc_tr = [], [], [], []
    bar = ctx.stage(f"width sweep distances ({checkpoint})", sum(len(n) * (len(n) - 1) // 2 for _, n in sweep))
    for wf, nets in sweep:
        reps = [[r[i] for i in keep] for r in (filter_means(cfg, run["states"][idx], x, device=dev)
                                               for cfg, run in nets)]
        filters.append([r.shape[1] for r in reps[0]])
        acc_te.append([accuracy(cfg, run["states"][idx], xte, yte, device=dev) for cfg, run in nets])
        acc_tr.append([accuracy(cfg, run["states"][idx], xtr, ytr, device=dev) for cfg, run in nets])
        rows = []
        for i, j in itertools.combinations(range(len(nets)), 2):
            rows.append(pair_distances(reps[i], reps[j], ctx.fastcca_backend))
            bar.update()
        dist.append(np.stack(rows, axis=1))                       # (3, pairs, layers)
    bar.close()
    return {"width_factors": np.asarray([wf for wf, _ in sweep], dtype=float),
            "filters": np.asarray(filters, dtype=float), "distance": np.stack(dist, axis=1),
            "test_accuracy": np.asarray(acc_te), "train_accuracy": np.asarray(acc_tr),
            "layers": np.asarray(names)}


def circular_shift_batches(x: np.ndarray, max_shift: int, batch: int):
    """Yield ``(dy, dx, images)``: every circular shift of the images x (n, c, h, w) by
    (dy, dx) in [-max_shift, max_shift]^2 (``np.roll`` over h and w, so no pixel is lost or
    padded), ``batch`` images at a time: (2 max_shift + 1)^2 n images in all, shift by shift,
    in the order of x within a shift.  Nothing bigger than one batch is made."""
    r = range(-int(max_shift), int(max_shift) + 1)
    for dy in r:
        for dx in r:
            for i in range(0, len(x), batch):
                yield dy, dx, np.roll(x[i:i + batch], (dy, dx), axis=(2, 3))


def init_width_analysis(ctx) -> dict:
    """Pairwise symmetrised PWCCA distances between the UNTRAINED nets of each width of
    :data:`INIT_WIDTHS` (Fig A7, left), at every conv layer, cached (kind "pwcca_init_width_analysis").

    Nets: ``seeds`` PWCCAConvNets per width factor, seeds ``ctx.seed + i``, at initialisation
    (:func:`paper_repro.training.init_model`); with ``bn_from_data`` each has its BatchNorm
    statistics set from the (unshifted) datapoints
    (:func:`paper_repro.models.batchnorm_statistics_from_data`), then eval mode.  Datapoints: the
    first ``n_points`` training images and their circular shifts (:func:`circular_shift_batches`).
    Representation of conv layer l: each filter's spatial mean (n, c_l), as for the trained nets.
    Streaming: per width, one :class:`fastcca.JointMoments` per conv layer holds that layer of
    every net ((seeds x c_l)^2 float64: 52 MB for conv11 at 1x), fed batch by batch as host
    NumPy arrays (so a CUDA fastcca backend also takes the activations of models run on the CPU);
    nothing of size n x features is held.  Distances: ``similarity_grid(jm, nets, nets, "pwcca")``
    whose entry (i, j) is the PWCCA similarity weighted by net i's neurons, so the symmetrised
    distance of a pair is ``1 - (G[i, j] + G[j, i]) / 2`` -- :func:`symmetric_pwcca_distance`'s
    value, without holding the activations.

    Returns float64 arrays: ``width_factors`` (W,), ``filters`` (W, L) channels per conv layer,
    ``distance`` (1, W, n_pairs, L) (the one metric "pwcca"; pairs = every pair of the seeds, in
    ``itertools.combinations`` order), ``test_accuracy`` (W, seeds) (chance level, ~0.1),
    ``n_datapoints`` (); and ``layers`` (str array, conv1 .. conv11)."""
    s = INIT_WIDTHS[ctx.scale]
    key = {"init_widths": dict(s), "seed": ctx.seed, "version": ANALYSIS_VERSION,
           "data": dataset_description(ctx)}
    return ctx.cache.get_or_compute("pwcca_init_width_analysis", key, lambda: _init_width_analysis(ctx, s))


def _init_width_analysis(ctx, s):
    import torch
    from .models import batchnorm_statistics_from_data
    from .training import init_model
    dev = ctx.torch_device
    x = eval_images(ctx, s["n_points"])
    xte, yte = image_data(ctx, train=False)
    seeds = [ctx.seed + i for i in range(s["seeds"])]
    nets = list(range(len(seeds)))
    copies = (2 * s["max_shift"] + 1) ** 2
    n_batches = copies * -(-len(x) // s["batch"])
    dist, filters, acc_te = [], [], []
    bar = ctx.stage("untrained nets: shifted datapoints", n_batches * len(s["width_factors"]))
    for wf in s["width_factors"]:
        spec = classifier_config(ctx, {"name": "pwcca_convnet", "width_factor": float(wf)}, steps=0)["model"]
        models = [init_model(spec, sd, device=dev).eval() for sd in seeds]
        if s["bn_from_data"]:
            for m in models:
                batchnorm_statistics_from_data(m, torch.as_tensor(x, device=dev), batch=s["bn_batch"])
        conv = [i for i, name in enumerate(models[0].layer_names) if name.startswith("conv")]
        jms = [fastcca.JointMoments(backend=ctx.fastcca_backend) for _ in conv]
        with torch.no_grad():
            for _, _, xb in circular_shift_batches(x, s["max_shift"], s["batch"]):
                xt = torch.as_tensor(xb, device=dev)
                reps = [[hs[i].mean(dim=(2, 3)).double().cpu().numpy() for i in conv]
                        for hs in (m.hidden(xt) for m in models)]
                for li, jm in enumerate(jms):
                    jm.update({k: reps[k][li] for k in nets})
                bar.update()
            acc_te.append([float(np.mean(np.concatenate([
                m(torch.as_tensor(xte[i:i + s["batch"]], device=dev)).argmax(1).cpu().numpy()
                for i in range(0, len(xte), s["batch"])]) == yte)) for m in models])
        rows = []
        for jm in jms:
            g = fastcca.similarity_grid(jm, nets, nets, "pwcca").values
            rows.append([1.0 - 0.5 * (g[i, j] + g[j, i]) for i, j in itertools.combinations(nets, 2)])
        dist.append(np.asarray(rows).T)                           # (pairs, layers)
        filters.append([jm.features(0) for jm in jms])
        names = [models[0].layer_names[i] for i in conv]
        del models, jms
    bar.close()
    return {"width_factors": np.asarray(s["width_factors"], dtype=float), "filters": np.asarray(filters, dtype=float),
            "distance": np.stack(dist)[None], "test_accuracy": np.asarray(acc_te),
            "n_datapoints": np.asarray(len(x) * copies), "layers": np.asarray(names)}


# ----------------------------------------------------------------------------------------------
# ablation (Fig 5b)

def ablation_curve(config: dict, state, layer: int, x: np.ndarray, y: np.ndarray, fractions, orders: int = 3,
                   seed: int = 0, batch: int = 512, *, device) -> np.ndarray:
    """Accuracy on (x, y) when a growing fraction of the channels of hidden layer ``layer``
    (index into ``model.layer_names``, "in" = 0) is zeroed (the layer's output after its ReLU set
    to 0, as Morcos et al. 2018 ablate), the forward pass continued from there (eval mode).

    For each of ``orders`` random channel orders (``default_rng([seed, order])``), the first
    ``round(f * c)`` channels of the order are ablated for every f in ``fractions``; returns the
    accuracies (orders, len(fractions)).  Images go through in batches of ``batch``."""
    import torch
    from .training import load_model
    model = load_model(config, state, device=device)
    correct = np.zeros((orders, len(fractions)))
    perms = None
    with torch.no_grad():
        for i in range(0, len(x), batch):
            h = torch.as_tensor(x[i:i + batch], device=device)
            for stage in model.stages[:layer]:
                h = stage(h)
            if perms is None:
                perms = [np.random.default_rng([seed, o]).permutation(h.shape[1]) for o in range(orders)]
            yb = y[i:i + batch]
            for o, perm in enumerate(perms):
                for k, f in enumerate(fractions):
                    g = h.clone()
                    g[:, torch.as_tensor(perm[:int(round(f * len(perm)))], dtype=torch.long, device=device)] = 0
                    correct[o, k] += np.sum(model.forward_from(layer, g).argmax(1).cpu().numpy() == yb)
    return correct / len(x)


def curve_area(fractions, acc) -> float:
    """Area under accuracy vs ablated fraction (trapezoids), divided by the fraction range: the
    mean accuracy over the ablation, 1 for a net that keeps perfect accuracy to the end."""
    f = np.asarray(fractions, dtype=float)
    a = np.asarray(acc, dtype=float)
    return float(np.sum((a[1:] + a[:-1]) * np.diff(f)) / 2 / (f[-1] - f[0]))


def cluster_labels(dist: np.ndarray, k: int, method: str = "average", on: str = "profile") -> np.ndarray:
    """Hierarchical clustering of N items from their (N, N) distance matrix (symmetrised, zero
    diagonal), the tree cut into at most k clusters (scipy ``linkage(method)`` +
    ``fcluster(criterion="maxclust")``).

    on: ``"matrix"`` clusters the distances themselves; ``"profile"`` (default) clusters the rows
    of the matrix, the items' distance profiles, with the Euclidean distance between rows: two
    items join when they lie at similar distances from every item.  The profile also groups a
    set of items that are far from each other but alike in how they relate to the rest (here: the
    low learning-rate nets, far from every net, each other included), which the direct linkage
    leaves as singletons.

    Returns labels 0..k-1 numbered by first appearance in the matrix order (deterministic)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform
    if on not in ("matrix", "profile"):
        raise ValueError(f"on: expected 'matrix' or 'profile', got {on!r}")
    d = np.asarray(dist, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"dist: expected a square (N, N) matrix, got shape {d.shape}")
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    cond = squareform(np.maximum(d, 0.0), checks=False) if on == "matrix" else pdist(d)
    raw = fcluster(linkage(cond, method=method), k, criterion="maxclust")
    remap = {}
    for r in raw:
        remap.setdefault(r, len(remap))
    return np.asarray([remap[r] for r in raw])


def adjusted_rand(a, b) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie 1985): 1 identical partitions, ~0
    for independent ones (expected value 0 under random labelings with the same group sizes)."""
    from scipy.special import comb
    a, b = np.asarray(a), np.asarray(b)
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    index = comb(table, 2).sum()
    sa, sb = comb(table.sum(1), 2).sum(), comb(table.sum(0), 2).sum()
    expected = sa * sb / comb(len(a), 2)
    top = 0.5 * (sa + sb)
    return 1.0 if top == expected else float((index - expected) / (top - expected))


def permutation_pvalue(stat, x, labels, n: int = 2000, seed: int = 0) -> float:
    """One-sided permutation p-value of ``stat(x, labels)`` (larger = stronger association):
    the fraction of ``n`` random relabelings (labels permuted) scoring at least the observed value,
    with the +1 correction ``(1 + hits) / (1 + n)``."""
    rng = np.random.default_rng(seed)
    obs = stat(x, labels)
    lab = np.asarray(labels)
    hits = sum(stat(x, rng.permutation(lab)) >= obs - 1e-12 for _ in range(n))
    return float((1 + hits) / (1 + n))


def eta_squared(values, labels) -> float:
    """Fraction of the variance of ``values`` explained by the groups ``labels`` (one-way ANOVA
    eta^2 = between-group sum of squares / total sum of squares); 0 when values are constant."""
    v = np.asarray(values, dtype=float)
    lab = np.asarray(labels)
    tot = np.sum((v - v.mean()) ** 2)
    if tot == 0:
        return 0.0
    between = sum(np.sum(lab == g) * (v[lab == g].mean() - v.mean()) ** 2 for g in np.unique(lab))
    return float(between / tot)


def lr_population_analysis(ctx, layer: str, fractions, orders: int) -> dict:
    """The learning-rate population's (N, N) PWCCA distance matrix at ``layer`` (entries
    ``pwcca(A, B)`` weighted by A's neurons, as a row; ``distance`` symmetrised), each net's
    accuracies and ablation curve at the same layer (test images), cached.

    Returns arrays: ``lr`` (N,), ``seed`` (N,), ``distance`` (N, N) symmetric, ``distance_raw``
    (N, N) one-sided, ``train_accuracy``, ``test_accuracy`` (N,), ``ablation`` (N, orders,
    len(fractions)), ``fractions``."""
    s = LR_POPULATION[ctx.scale]
    pop = lr_population(ctx)
    key = {"population": dict(s), "seed": ctx.seed, "layer": layer, "fractions": [float(f) for f in fractions],
           "orders": int(orders), "version": ANALYSIS_VERSION,
           "configs": [[c for c, _ in nets] for _, nets in pop]}
    return ctx.cache.get_or_compute("pwcca_lr_analysis", key,
                                    lambda: _lr_analysis(ctx, pop, layer, fractions, orders, s["n_points"]))


def _lr_analysis(ctx, pop, layer, fractions, orders, n_points):
    x = eval_images(ctx, n_points)
    xtr, ytr = image_data(ctx, train=True)
    xte, yte = image_data(ctx, train=False)
    nets = [(lr, cfg, run) for lr, group in pop for cfg, run in group]
    names = layer_names(nets[0][1])
    li = names.index(layer)
    dev = ctx.torch_device
    reps = [filter_means(cfg, run["states"][-1], x, device=dev)[li] for _, cfg, run in nets]
    n = len(nets)
    raw = np.zeros((n, n))
    bar = ctx.stage("lr population distances", n * (n - 1) // 2)
    for i, j in itertools.combinations(range(n), 2):
        m = fastcca.Moments.from_arrays(reps[i], reps[j], backend=ctx.fastcca_backend)
        raw[i, j] = fastcca.pwcca(m, side="x").distance
        raw[j, i] = fastcca.pwcca(m, side="y").distance
        bar.update()
    bar.close()
    abl = np.stack([ablation_curve(cfg, run["states"][-1], li + 1, xte, yte, fractions, orders, seed=cfg["seed"],
                                   device=dev) for _, cfg, run in nets])
    return {"lr": np.asarray([lr for lr, _, _ in nets]), "seed": np.asarray([cfg["seed"] for _, cfg, _ in nets]),
            "distance": 0.5 * (raw + raw.T), "distance_raw": raw,
            "train_accuracy": np.asarray([accuracy(cfg, run["states"][-1], xtr, ytr, device=dev) for _, cfg, run in nets]),
            "test_accuracy": np.asarray([accuracy(cfg, run["states"][-1], xte, yte, device=dev) for _, cfg, run in nets]),
            "ablation": abl, "fractions": np.asarray(fractions, dtype=float)}

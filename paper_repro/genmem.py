"""The PWCCA paper's generalizing vs memorizing networks (Morcos et al. 2018, sec. 3.1, Fig 3 and
appendix Figs A5, A9, A10), trained once per scale and shared by those four figures through the
cache.

Two groups of ``nets`` :class:`~paper_repro.models.PWCCAConvNet` networks, identical in
everything but the seed and the labels.  Every net has its own seed (init and batch order):
generalizing net i ``ctx.seed + i``, memorizing net i ``ctx.seed + 1000 + i`` (with shared seeds
the pair (generalizing i, memorizing i) would start from the same weights, and its early layers,
which move little from their init, would look alike for that reason alone):

- "generalizing": the true training labels;
- "memorizing": one fixed random permutation of the training labels
  (``classifier_config(..., shuffle_labels=True)``, the same wrong labels for every seed), which
  the nets can only fit by memorising the training images.

Representations (:func:`representations`): every named layer of ``PWCCAConvNet`` in the paper's
order -- the input, conv1 ... conv11 and the softmax -- for a fixed set of images (the training
images for Fig 3 / A5 / A9, the held-out ones for Fig A10), model in eval mode.  Every 4-D
output (n, c, h, w), the input included, is represented by the mean of each channel over
spatial positions, (n, c) (the paper: "each conv filter represented by its mean over spatial
positions", ``fastcca.torch`` / ``conv_cca`` mode "mean"); the softmax is (n, classes).  The
input is the same for every net, so its distance is 0 by construction (the paper's anchor).

Pairs (:func:`group_pairs`): "generalizing" and "memorizing" are the ``nets*(nets-1)/2``
unordered pairs within each group, "inter" the ``nets**2`` pairs with one net of each group.
Figures report the mean and the standard deviation (ddof=0) of a distance over those pairs.
"""
from __future__ import annotations

import itertools

import numpy as np

from .classifiers import (classifier_config, dataset_description, image_data, layer_outputs, predictions,
                          train_classifier, training_labels)

GROUPS = ("generalizing", "memorizing")
PAIR_GROUPS = ("generalizing", "memorizing", "inter")
SEED_OFFSET = {"generalizing": 0, "memorizing": 1000}
LAYERS = ("input",) + tuple(f"conv{i}" for i in range(1, 12)) + ("softmax",)

# per scale: the nets, how they are trained, and how many images are analysed per split
# (None: all; paper: 10000 of the 50000 CIFAR-10 training images and the 10000 test images, to
# keep every net's layer means in memory -- 2830 features per image at width_factor 1).
GENMEM_RUNS = {
    "tiny": {"width_factor": 0.0625, "nets": 2, "steps": 30, "batch_size": 32, "lr": 1e-3, "n_analysis": 200},
    # 400 steps of 256 = 71 epochs of the 1438 training images: enough for the memorizing nets
    # to fit their shuffled labels (measured: 100% for all 5, ~6 s CPU per net, 1 thread)
    "small": {"width_factor": 0.125, "nets": 5, "steps": 400, "batch_size": 256, "lr": 1e-3,
              "n_analysis": None},
    # the paper: width factor 1, Adam 1e-3, batch 32, 100 epochs of the 50000 images
    "paper": {"width_factor": 1.0, "nets": 5, "steps": 100 * 50000 // 32, "batch_size": 32, "lr": 1e-3,
              "n_analysis": 10000},
}


def run_config(ctx, group: str, index: int) -> dict:
    """The training config (cache key) of net ``index`` (0-based) of ``group``."""
    if group not in GROUPS:
        raise ValueError(f"group: expected one of {GROUPS}, got {group!r}")
    r = GENMEM_RUNS[ctx.scale]
    return classifier_config(ctx, {"name": "pwcca_convnet", "width_factor": r["width_factor"]},
                             steps=r["steps"], lr=r["lr"], batch_size=r["batch_size"],
                             seed=ctx.seed + SEED_OFFSET[group] + int(index), shuffle_labels=(group == "memorizing"))


def runs_label(ctx) -> str:
    """The data and nets of the scale, for titles and claim notes, e.g. "digits (8x8 grey); 5 + 5
    PWCCA convnets at 0.125x the paper's widths, 400 Adam steps of batch 256"."""
    r = GENMEM_RUNS[ctx.scale]
    return (f"{dataset_description(ctx)}; {r['nets']} + {r['nets']} PWCCA convnets at {r['width_factor']:g}x the "
            f"paper's widths, {r['steps']} Adam steps of batch {r['batch_size']}")


def genmem_runs(ctx) -> dict:
    """Train (or load from the cache) every net: ``{group: [(config, final state dict), ...]}``."""
    r = GENMEM_RUNS[ctx.scale]
    out = {}
    for group in GROUPS:
        out[group] = []
        for i in range(r["nets"]):
            cfg = run_config(ctx, group, i)
            run = train_classifier(ctx, cfg, desc=f"PWCCA {group} net {i + 1}/{r['nets']}")
            out[group].append((cfg, run["states"][-1]))
    return out


def analysis_images(ctx, train: bool) -> tuple:
    """(images, true labels, labels the nets were trained on) of the analysed split: the first
    ``n_analysis`` images (all when None).  For the test split the third item is the true labels
    too (no net saw those images)."""
    x, y = image_data(ctx, train=train)
    n = GENMEM_RUNS[ctx.scale]["n_analysis"]
    if train:
        shuffled = training_labels({"data": {"shuffled_labels": True}}, y)
    else:
        shuffled = y
    if n is not None:
        x, y, shuffled = x[:n], y[:n], shuffled[:n]
    return x, y, shuffled


def representations(config: dict, state, x: np.ndarray, batch: int = 500, *, device) -> list:
    """The layers of :data:`LAYERS` for images x: a list of float64 (n, p) arrays (input and
    conv layers as channel means over positions, softmax as is), computed batch by batch on
    ``device`` so that the full conv maps are never held (model in eval mode)."""
    from .models import build
    names = build(config["model"]).layer_names
    want = [names.index("in")] + [names.index(f"conv{i}") for i in range(1, 12)] + [names.index("out")]
    outs = layer_outputs(config, state, x, batch=batch, device=device, spatial_mean=True)
    return [outs[j] for j in want]


def group_pairs(nets: int) -> dict:
    """``{"generalizing": [(i, j), ...], "memorizing": [...], "inter": [...]}``: indices into the
    two groups' net lists; within a group the unordered pairs i < j, between the groups every
    (generalizing i, memorizing j)."""
    within = list(itertools.combinations(range(nets), 2))
    return {"generalizing": within, "memorizing": within,
            "inter": list(itertools.product(range(nets), range(nets)))}


def pair_reps(reps: dict, kind: str, pair: tuple) -> tuple:
    """The two nets' representation lists of a pair from :func:`group_pairs`."""
    i, j = pair
    if kind == "inter":
        return reps["generalizing"][i], reps["memorizing"][j]
    return reps[kind][i], reps[kind][j]


def layer_distances(ctx, train: bool, metrics: dict, desc: str = "distances") -> dict:
    """Train / load the nets, represent the analysed images, and apply every metric to every
    pair and layer.

    metrics: ``{name: f(x (n, p), y (n, p)) -> float}``.  Returns ``{"layers", "pairs" (counts),
    "distance": {metric: {pair group: {"mean": [per layer], "std": [...], "values": [[per pair]
    per layer]}}}, "accuracy": {group: {"train_fit", "train_true", "test"} lists per net},
    "n_images", "widths"}``.  ``train_fit`` is the accuracy on the labels the net was trained on
    (the shuffled ones for memorizing nets); ``train_true`` on the true labels.
    """
    runs = genmem_runs(ctx)
    x, y_true, y_shuf = analysis_images(ctx, train)
    xtr, ytr, ytr_shuf = analysis_images(ctx, True)
    xte, yte = image_data(ctx, train=False)
    dev = ctx.torch_device
    acc = {}
    for group in GROUPS:
        fit = ytr_shuf if group == "memorizing" else ytr
        ptr = [predictions(c, s, xtr, device=dev) for c, s in runs[group]]
        acc[group] = {"train_fit": [float(np.mean(p == fit)) for p in ptr],
                      "train_true": [float(np.mean(p == ytr)) for p in ptr],
                      "test": [float(np.mean(predictions(c, s, xte, device=dev) == yte)) for c, s in runs[group]]}
    reps = {g: [representations(c, s, x, device=dev) for c, s in runs[g]] for g in GROUPS}
    pairs = group_pairs(len(runs["generalizing"]))
    dist = {m: {k: {"values": [[0.0] * len(pairs[k]) for _ in LAYERS]} for k in PAIR_GROUPS} for m in metrics}
    total = len(metrics) * sum(len(p) for p in pairs.values()) * len(LAYERS)
    bar = ctx.stage(desc, total)
    for kind in PAIR_GROUPS:
        for pi, pair in enumerate(pairs[kind]):
            ra, rb = pair_reps(reps, kind, pair)
            for li in range(len(LAYERS)):
                for m, f in metrics.items():
                    dist[m][kind]["values"][li][pi] = float(f(ra[li], rb[li]))
                    bar.update()
    bar.close()
    for m in metrics:
        for kind in PAIR_GROUPS:
            v = np.asarray(dist[m][kind]["values"], dtype=float)
            dist[m][kind]["mean"] = np.nanmean(v, axis=1).tolist()
            dist[m][kind]["std"] = np.nanstd(v, axis=1).tolist()
    widths = [int(r.shape[1]) for r in reps["generalizing"][0]]
    return {"layers": list(LAYERS), "pairs": {k: len(v) for k, v in pairs.items()}, "distance": dist,
            "accuracy": acc, "n_images": int(len(x)), "split": "train" if train else "test",
            "widths": widths, "nets_per_group": len(runs["generalizing"]), "config": dict(GENMEM_RUNS[ctx.scale]),
            "data_label": runs_label(ctx)}


def figure_distances(ctx, configs: dict, metric_names, desc: str) -> dict:
    """A generalizing / memorizing figure's ``compute``: :func:`layer_distances` on the split its
    ``configs`` name with the metrics ``metric_names`` (:func:`cca_metrics`); PWCCA failures are
    listed under ``"pwcca_failures"``."""
    cfg = ctx.config(configs)
    failures: list = []
    data = layer_distances(ctx, cfg["split"] == "train", cca_metrics(metric_names, ctx.fastcca_backend, failures),
                           desc=desc)
    data["pwcca_failures"] = failures
    return data


# ---------------------------------------------------------------------------- distances
def cosine_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over datapoints of the cosine distance between the two nets' activation vectors:
    ``mean_i (1 - <x_i, y_i> / (||x_i|| ||y_i||))`` for x, y (n, p) with the same p (neuron k of
    one net against neuron k of the other, the raw -- uncentred -- layer representation).  A
    datapoint where one vector is zero counts 1 (0 if both are).  Range [0, 2]; not invariant to
    a permutation of one net's neurons, which is the point of the paper's comparison (Fig A5)."""
    x, y = _same_shape(x, y)
    nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
    dot = np.einsum("ij,ij->i", x, y)
    both = (nx > 0) & (ny > 0)
    cos = np.where(both, dot / np.where(both, nx * ny, 1.0), 0.0)
    d = np.where(both, 1.0 - cos, np.where((nx == 0) & (ny == 0), 0.0, 1.0))
    return float(np.mean(d))


def euclidean_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over datapoints of the Euclidean distance between the two nets' activation vectors,
    relative to their mean norm: ``mean_i ||x_i - y_i|| / ((mean_i ||x_i|| + mean_i ||y_i||) / 2)``
    for x, y (n, p) with the same p (0 when both are all zero).  Dividing by the mean norm makes
    layers of different scale comparable; range [0, 2] (triangle inequality).  Symmetric, not
    invariant to neuron permutations or rescalings."""
    x, y = _same_shape(x, y)
    scale = 0.5 * (np.mean(np.linalg.norm(x, axis=1)) + np.mean(np.linalg.norm(y, axis=1)))
    if scale == 0:
        return 0.0
    return float(np.mean(np.linalg.norm(x - y, axis=1)) / scale)


def _same_shape(x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x, y: expected two (n, p) arrays of the same shape, got {x.shape} and {y.shape}")
    return x, y


def cca_metrics(names, backend: str = "auto", failures: list | None = None) -> dict:
    """``{name: f(x, y) -> distance}`` for names among "pwcca" (paper definition, 1 - sum_i
    alpha_i rho_i), "mean_cca" (1 - mean rho) and "svcca" (1 - mean rho after keeping the top
    singular directions holding 0.99 of the sum of singular values, Raghu et al. 2017), all from
    fastcca on the pair's moments.  A LinAlgError of fastcca.pwcca gives nan and a line in
    ``failures`` (:func:`paper_repro.analysis.pwcca_distance`)."""
    import fastcca
    from .analysis import pwcca_distance
    table = {"pwcca": lambda x, y: pwcca_distance(x, y, backend, failures, f"{x.shape[1]}x{y.shape[1]} pair"),
             "mean_cca": lambda x, y: fastcca.mean_cca(x, y, backend=backend).distance,
             "svcca": lambda x, y: fastcca.svcca(x, y, keep=0.99, keep_rule="sum", backend=backend).distance,
             "cosine": cosine_distance, "euclidean": euclidean_distance}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"names: expected among {sorted(table)}, got {unknown}")
    return {n: table[n] for n in names}


# ---------------------------------------------------------------------------- statistics
EARLY = ("conv1", "conv2", "conv3")
LATE = ("conv8", "conv9", "conv10", "conv11")


def curve(data: dict, metric: str, kind: str) -> np.ndarray:
    """Mean distance per layer (len(LAYERS),) of one pair group."""
    return np.asarray(data["distance"][metric][kind]["mean"], dtype=float)


def _at(data, names):
    return [data["layers"].index(n) for n in names]


def early_max_difference(data: dict, metric: str) -> float:
    """max over the EARLY layers of |generalizing - memorizing| and |generalizing - inter|."""
    g, m, i = (curve(data, metric, k) for k in PAIR_GROUPS)
    idx = _at(data, EARLY)
    return float(max(np.max(np.abs(g[idx] - m[idx])), np.max(np.abs(g[idx] - i[idx]))))


def late_gaps(data: dict, metric: str) -> dict:
    """Mean over the LATE layers of memorizing - generalizing, inter - generalizing and
    |memorizing - inter|; ``relative_gap``: mean over LATE of (min(memorizing, inter) -
    generalizing) divided by the mean of the three curves there (comparable across metrics of
    different scales); ``layers_gen_below_both``: fraction of LATE layers with generalizing <
    both others."""
    g, m, i = (curve(data, metric, k) for k in PAIR_GROUPS)
    idx = _at(data, LATE)
    g, m, i = g[idx], m[idx], i[idx]
    level = float(np.mean((g + m + i) / 3))
    gap = float(np.mean(np.minimum(m, i) - g))
    return {"mem_minus_gen": float(np.mean(m - g)), "inter_minus_gen": float(np.mean(i - g)),
            "abs_mem_minus_inter": float(np.mean(np.abs(m - i))), "gap": gap,
            "relative_gap": gap / level if level > 0 else 0.0,
            "layers_gen_below_both": float(np.mean((g < m) & (g < i)))}


def late_means(data: dict, metric: str = "pwcca") -> list:
    """Mean over the LATE layers of the generalizing, memorizing and inter curves."""
    idx = _at(data, LATE)
    return [float(np.mean(curve(data, metric, k)[idx])) for k in PAIR_GROUPS]


def accuracy_summary(data: dict) -> dict:
    """Per group: min / mean of train_fit, train_true, test accuracy over the nets."""
    return {g: {k: {"min": float(np.min(v)), "mean": float(np.mean(v))} for k, v in a.items()}
            for g, a in data["accuracy"].items()}


# ---------------------------------------------------------------------------- drawing
COLORS = {"generalizing": "#30a2da", "memorizing": "#fc4f30", "inter": "#e5ae38"}
LABELS = {"generalizing": "Generalizing", "memorizing": "Memorizing", "inter": "Inter"}
METRIC_LABELS = {"pwcca": "PWCCA distance", "mean_cca": "mean CCA distance", "svcca": "SVCCA distance",
                 "cosine": "cosine distance", "euclidean": "relative Euclidean distance"}


def draw_panel(ax, data: dict, metric: str, title: str) -> None:
    """The published Fig 3's layout: one curve per pair group (mean over pairs), a band of
    +- one std, x = Input, 1 ... 11, Softmax."""
    x = np.arange(len(data["layers"]))
    for kind in PAIR_GROUPS:
        m = curve(data, metric, kind)
        s = np.asarray(data["distance"][metric][kind]["std"], dtype=float)
        ax.plot(x, m, color=COLORS[kind], lw=2.5, label=f"{LABELS[kind]} ({data['pairs'][kind]} pairs)")
        ax.fill_between(x, m - s, m + s, color=COLORS[kind], alpha=0.25, lw=0)
    names = ["Input"] + [str(t) for t in x[1:-1]] + ["Softmax"]
    ax.set_xticks(x, names, fontsize=8)
    for lab in (ax.get_xticklabels()[0], ax.get_xticklabels()[-1]):
        lab.set_rotation(30)
    ax.set_xlim(0, len(x) - 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Layer (conv1 ... conv11; each conv filter as its spatial mean)")
    ax.set_ylabel(METRIC_LABELS[metric])
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def subtitle(data: dict) -> str:
    """One line: nets, data, accuracies (so every figure states the nets fitted their labels)."""
    from .classifiers import stored_data_label
    a = accuracy_summary(data)
    return (f"{stored_data_label(data)}; {data['n_images']} {data['split']} images analysed\n"
            f"min fit of own training labels: generalizing "
            f"{a['generalizing']['train_fit']['min']:.3f}, memorizing {a['memorizing']['train_fit']['min']:.3f}; "
            f"test acc {a['generalizing']['test']['mean']:.2f} / {a['memorizing']['test']['mean']:.2f}")

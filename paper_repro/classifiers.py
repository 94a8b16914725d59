"""Image classifiers on digits (default scale) or CIFAR-10 (``--scale paper``), trained once per
configuration and shared by every figure that uses them.

- :func:`image_data`: the train / test split, NCHW float32 images, int64 labels.  Digits: a fixed
  stratified split (the same for every seed, so every net is evaluated on the same images).
- :func:`classifier_config` / :func:`train_classifier`: the cache key and the cached training
  run (:func:`paper_repro.training.train_cached`, cross entropy, Adam, checkpoints), with an
  optional fixed label permutation (the PWCCA paper's memorizing nets) and random translations.
- :func:`layer_outputs` / :func:`accuracy`: evaluate a checkpoint (eval mode, no gradient).
"""
from __future__ import annotations

import numpy as np

from .data import cifar10, digits

DIGITS_TEST_FRACTION = 0.2


#: the image datasets of the default scale, by the name a training config stores: scikit-learn
#: digits, or digits rebuilt with SVCCA Fig 6's class structure (:mod:`paper_repro.class_structure`)
SMALL_DATASETS = ("digits", "class_structure")


def image_data(ctx, train: bool = True, dataset: str | None = None):
    """(images (n, c, h, w) float32, labels (n,) int64) of the scale's image dataset.

    tiny / small: scikit-learn digits (1 x 8 x 8), 1437 train / 360 test images, a stratified
    split fixed by ``default_rng(0)`` whatever the run's seed; with ``dataset="class_structure"``
    the same split rebuilt by :func:`paper_repro.class_structure.class_structure_images`
    (3 x 8 x 8, ten classes).  paper: CIFAR-10 (3 x 32 x 32) from ``ctx.data_dir`` (50000 /
    10000), whatever ``dataset`` says (a small-scale stand-in has no paper-scale version).
    """
    if ctx.scale == "paper":
        return cifar10(ctx.data_dir, train=train)
    dataset = dataset or "digits"
    if dataset not in SMALL_DATASETS:
        raise ValueError(f"dataset: expected one of {SMALL_DATASETS}, got {dataset!r}")
    images, labels = digits()
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        test[rng.choice(idx, size=int(round(DIGITS_TEST_FRACTION * len(idx))), replace=False)] = True
    keep = ~test if train else test
    if dataset == "class_structure":
        from .class_structure import class_structure_images
        return class_structure_images(images[keep], labels[keep])
    return images[keep, None].astype(np.float32), labels[keep]


def dataset_name(ctx, dataset: str | None = None) -> str:
    """The name a training config stores: "cifar10" at paper scale, else ``dataset`` or "digits"."""
    return "cifar10" if ctx.scale == "paper" else (dataset or "digits")


def dataset_label(ctx) -> str:
    """How figures name the image data: ``"digits"`` or ``"CIFAR-10"``."""
    return "CIFAR-10" if ctx.scale == "paper" else "digits"


def dataset_description(ctx, dataset: str | None = None) -> str:
    """The image data with its geometry: ``"digits (8x8 grey)"`` / ``"CIFAR-10 (32x32 RGB)"`` /
    the class-structure digits' description."""
    if ctx.scale == "paper":
        return "CIFAR-10 (32x32 RGB)"
    if dataset == "class_structure":
        from .class_structure import description
        return description()
    return "digits (8x8 grey)"


def stored_data_label(data: dict) -> str:
    """The data / configuration label a figure's JSON stored (``"data_label"``); JSON written
    before labels were stored came from the default scale (digits)."""
    return data.get("data_label", "digits")


def label_permutation(seed: int, classes: int = 10, n: int | None = None) -> np.ndarray:
    """A fixed random relabelling for memorizing nets: with ``n`` None a permutation of the class
    ids (classes,); with ``n`` a random label per training image (n,) (the PWCCA paper permutes
    the labels of the training set once, "one fixed label permutation", so every memorizing net
    sees the same wrong labels).  Drawn from ``default_rng([seed, 7])``."""
    rng = np.random.default_rng([seed, 7])
    return rng.permutation(classes) if n is None else rng.permutation(n)


def classifier_config(ctx, model: dict, steps: int, lr: float = 1e-3, batch_size: int = 64,
                      checkpoints=None, seed: int = 0, shuffle_labels: bool = False,
                      translate: int = 0, weight_decay: float = 0.0, dataset: str | None = None) -> dict:
    """The training config (and cache key) of one image classifier.

    model: a :func:`paper_repro.models.build` spec without the input shape (added here from the
    scale's dataset); shuffle_labels: train on ``labels[label_permutation(0, n=n)]`` (the same
    permutation of the training labels for every seed); translate: random translations of up to
    that many pixels (zero padding), per image per step, as the SVCCA paper's CIFAR-10 runs;
    dataset: a default-scale dataset of :data:`SMALL_DATASETS` (None: digits; ignored at paper
    scale, which trains on CIFAR-10).
    """
    spec = dict(model)
    name = dataset_name(ctx, dataset)
    in_ch, side = (3, 32) if ctx.scale == "paper" else (3 if name == "class_structure" else 1, 8)
    spec.setdefault("in_channels", in_ch)
    if spec["name"] == "svcca_convnet":
        spec.setdefault("image", side)
    data = {"name": name, "split": "train", "shuffled_labels": bool(shuffle_labels)}
    if name == "class_structure":
        from .class_structure import params
        data["params"] = params()
    return {"model": spec, "steps": int(steps), "lr": float(lr), "batch_size": int(batch_size),
            "loss": "xent", "checkpoints": sorted(set(int(c) for c in (checkpoints or [steps]))),
            "seed": int(seed), "translate": int(translate), "weight_decay": float(weight_decay),
            "data": data}


def training_labels(config: dict, labels: np.ndarray) -> np.ndarray:
    """The labels a config trains on: the true ones, or the fixed permutation of them."""
    if config["data"]["shuffled_labels"]:
        return labels[label_permutation(0, n=len(labels))]
    return labels


def train_classifier(ctx, config: dict, desc: str = "train classifier") -> dict:
    """Train (or load from the cache) the classifier of ``config``; returns
    :func:`~paper_repro.training.train_cached`'s dict (checkpoints, states, loss)."""
    from .training import train_cached
    x, y = image_data(ctx, train=True, dataset=config["data"]["name"] if ctx.scale != "paper" else None)
    return train_cached(ctx, config, x, training_labels(config, y), desc=desc)


def layer_outputs(config: dict, state, x: np.ndarray, batch: int = 512, *, device,
                  spatial_mean: bool = False) -> list:
    """Every named layer's output (``model.layer_names`` order) for images x, float64 numpy
    arrays (n, ...), the model in eval mode (BatchNorm running statistics), computed batch by
    batch.  ``spatial_mean``: conv outputs (n, c, h, w) averaged over positions -> (n, c) inside
    each batch (the PWCCA paper's filter representation; full-size maps are never held).
    device: the torch device the model runs on (images go there batch by batch; outputs come
    back to the host)."""
    import torch
    from .training import load_model
    model = load_model(config, state, device=device)
    outs = None
    with torch.no_grad():
        for i in range(0, len(x), batch):
            hs = model.hidden(torch.as_tensor(x[i:i + batch], device=device))
            if spatial_mean:
                hs = [h.mean(dim=(2, 3)) if h.ndim == 4 else h for h in hs]
            hs = [h.double().cpu().numpy() for h in hs]
            outs = [[h] for h in hs] if outs is None else [o + [h] for o, h in zip(outs, hs)]
    return [np.concatenate(o) for o in outs]


def predictions(config: dict, state, x: np.ndarray, batch: int = 512, *, device) -> np.ndarray:
    """Predicted class (n,) int64 of a checkpoint for images x, batch by batch, eval mode, on ``device``."""
    import torch
    from .training import load_model
    model = load_model(config, state, device=device)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(model(torch.as_tensor(x[i:i + batch], device=device)).argmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(config: dict, state, x: np.ndarray, y: np.ndarray, *, device) -> float:
    """Top-1 accuracy of a checkpoint on (x, y), evaluated on ``device``."""
    return float(np.mean(predictions(config, state, x, device=device) == y))

"""The training runs several figures share, configured once per scale so that the cache trains
each of them once (e.g. SVCCA Fig 4, A3, A4, 2a, 5, 6, 7 all use :func:`svcca_convnet`).

Each function returns ``(config, run)``: the training config (see
:func:`paper_repro.classifiers.classifier_config`) and :func:`~paper_repro.training.train_cached`'s
dict (``checkpoints``, ``states``, ``loss``).  Evaluate checkpoints with
:func:`paper_repro.classifiers.layer_outputs` / :func:`~paper_repro.classifiers.accuracy`.
"""
from __future__ import annotations

from .classifiers import classifier_config, dataset_description, train_classifier


def _checkpoints(steps: int, n: int) -> list:
    """0 and n evenly spaced steps up to ``steps`` (so 0/35/75/100 % of training are close to one)."""
    return sorted({0} | {int(round(steps * i / n)) for i in range(1, n + 1)})


# per scale: model spec, steps, batch, lr, translate (pixels), number of checkpoint intervals
SVCCA_RUNS = {
    "tiny": {"convnet": {"name": "svcca_convnet", "width": 4, "fc": 8},
             "resnet": {"name": "resnet", "width": 4, "blocks": 1},
             "steps": 20, "batch_size": 32, "lr": 1e-3, "translate": 1, "intervals": 4},
    "small": {"convnet": {"name": "svcca_convnet", "width": 16, "fc": 64},
              "resnet": {"name": "resnet", "width": 8, "blocks": 3},
              "steps": 2000, "batch_size": 64, "lr": 1e-3, "translate": 1, "intervals": 20},
    "paper": {"convnet": {"name": "svcca_convnet", "width": 64, "fc": 512},
              "resnet": {"name": "resnet", "width": 16, "blocks": 10},
              "steps": 160000, "batch_size": 128, "lr": 1e-3, "translate": 4, "intervals": 100},
}


#: fc width of the convnets of the compression figures (SVCCA Fig 2a, 2b, A5): the paper's 512 at the
#: default scale too.  Those figures ask how few of fc1's 512 dimensions carry the accuracy and how
#: many neurons a direction is spread over; with the 64-unit fc of the other figures' nets a
#: handful of directions can only spread over a few dozen neurons (Fig 2b's ratio sat at 2-3.4
#: over seeds 0-2), so the small version keeps the paper's fc width and narrows only the convs.
COMPRESSION_FC = {"tiny": 8, "small": 512, "paper": 512}


def svcca_runs_label(ctx, archs=("convnet", "resnet"), fc: int | None = None, dataset: str | None = None) -> str:
    """The data and training of the shared SVCCA runs at ``ctx.scale``, for titles and claim
    notes, e.g. "digits (8x8 grey), 1-pixel random translations; convnet 16/32 channels, fc 64;
    2000 Adam steps of batch 64".  dataset: as :func:`svcca_run`'s."""
    r = SVCCA_RUNS[ctx.scale]
    nets = {"convnet": f"convnet {r['convnet']['width']}/{2 * r['convnet']['width']} channels, "
                       f"fc {r['convnet']['fc'] if fc is None else fc}",
            "resnet": f"ResNet width {r['resnet']['width']}, {r['resnet']['blocks']} blocks per stage"}
    return (f"{dataset_description(ctx, dataset)}, {r['translate']}-pixel random translations; "
            + "; ".join(nets[a] for a in archs) + f"; {r['steps']} Adam steps of batch {r['batch_size']}")


def svcca_run(ctx, arch: str, seed: int | None = None, fc: int | None = None, dataset: str | None = None):
    """The SVCCA paper's CIFAR-10 runs (sec. 4), ``arch`` "convnet" or "resnet": digits with
    random 1-pixel translations at the default scale.  seed: ``ctx.seed`` by default (Fig A4
    takes a second init with ``ctx.seed + 1``); fc: the convnet's fc width instead of the scale's
    (:data:`COMPRESSION_FC`; the same value as the scale's gives the same, shared run); dataset:
    another default-scale dataset than digits (:data:`paper_repro.classifiers.SMALL_DATASETS`,
    e.g. Fig 6's "class_structure": its own run; ignored at paper scale, CIFAR-10)."""
    r = SVCCA_RUNS[ctx.scale]
    if arch not in ("convnet", "resnet"):
        raise ValueError(f"arch: expected 'convnet' or 'resnet', got {arch!r}")
    if fc is not None and arch != "convnet":
        raise ValueError(f"fc: only the convnet has fc layers, got arch {arch!r}")
    seed = ctx.seed if seed is None else seed
    spec = dict(r[arch]) if fc is None else dict(r[arch], fc=int(fc))
    cfg = classifier_config(ctx, spec, steps=r["steps"], lr=r["lr"], batch_size=r["batch_size"],
                            checkpoints=_checkpoints(r["steps"], r["intervals"]), seed=seed,
                            translate=r["translate"], dataset=dataset)
    return cfg, train_classifier(ctx, cfg, desc=f"SVCCA {arch} (seed {seed})")

"""The options of one run, handed to every figure's ``compute(ctx)``."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .cache import Cache

SCALES = ("tiny", "small", "paper")
BACKENDS = ("auto", "cpu", "cuda")


@dataclass
class RunContext:
    """scale: "small" (default: a 2-core CPU, minutes per figure, data shipped with the installed
    packages or synthetic), "paper" (the papers' configurations, real datasets from ``data_dir``,
    meant for a GPU), or "tiny" (seconds; for the tests -- plumbing only, claims not meaningful).
    backend: fastcca backend for the similarity computations ("auto" follows the arrays); also
    picks the torch device for training ("cuda" or "auto" with a visible GPU -> cuda).
    out: output folder (figures and ``cache/``); seed: base seed; force: ignore the cache."""
    scale: str = "small"
    backend: str = "auto"
    out: str = "paper_repro_out"
    seed: int = 0
    force: bool = False
    data_dir: str | None = None
    progress: bool = True
    cache: Cache = field(default=None)

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale: expected one of {SCALES}, got {self.scale!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {self.backend!r}")
        if self.cache is None:
            self.cache = Cache(os.path.join(self.out, "cache"), force=self.force)

    def config(self, configs: dict) -> dict:
        """A figure's ``CONFIGS[scale]``, with the seed added."""
        cfg = dict(configs[self.scale])
        cfg["seed"] = self.seed
        return cfg

    @property
    def fastcca_backend(self) -> str:
        return self.backend

    @property
    def torch_device(self) -> str:
        if self.backend == "cpu":
            return "cpu"
        import torch
        if torch.cuda.is_available():
            return "cuda"
        if self.backend == "cuda":
            raise RuntimeError("backend: 'cuda' asked for, but torch sees no CUDA device "
                               "(torch.cuda.is_available() is False)")
        return "cpu"

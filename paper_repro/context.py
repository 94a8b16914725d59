"""The options of one run, handed to every figure's ``compute(ctx)``."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

from .cache import Cache
from .progress import FigureProgress

SCALES = ("tiny", "small", "paper")
BACKENDS = ("auto", "cpu", "cuda")


@dataclass
class RunContext:
    """scale: "small" (default: a 2-core CPU, minutes per figure, data shipped with the installed
    packages or synthetic), "paper" (the papers' configurations, real datasets from ``data_dir``,
    meant for a GPU), or "tiny" (seconds; for the tests -- plumbing only, claims not meaningful).
    backend: fastcca backend for the similarity computations and the torch device every model is
    trained and evaluated on (:attr:`torch_device`): "cpu"; "cuda" (torch on the GPU, fastcca's
    CuPy backend; an error without a GPU); "auto" (the GPU when torch sees one, else the CPU).
    device: an explicit torch device (e.g. "cuda:1"); None derives it from ``backend``.
    out: output folder (figures and ``cache/``); seed: base seed; force: ignore the cache.
    threads: CPU threads for BLAS and torch (None: 1 at the tiny/small scales, the libraries'
    defaults at paper scale; see :func:`thread_limits`).
    progress_bar: the running figure's :class:`~paper_repro.progress.FigureProgress` (the runner
    sets it; figures call :meth:`stage` / :meth:`track`)."""
    scale: str = "small"
    backend: str = "auto"
    out: str = "paper_repro_out"
    seed: int = 0
    force: bool = False
    data_dir: str | None = None
    progress: bool = True
    threads: int | None = None
    device: str | None = None
    cache: Cache = field(default=None)
    progress_bar: FigureProgress = field(default_factory=FigureProgress, repr=False, compare=False)

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
        """The fastcca backend of every similarity computation: "cpu" or "cuda" as asked; "auto"
        becomes "cuda" when the models run on a GPU (so activations recorded there stay there)."""
        if self.backend == "auto":
            return "cuda" if self.torch_device.startswith("cuda") else "cpu"
        return self.backend

    @property
    def conv_backend(self) -> str:
        """The fastcca backend of the direct conv-layer CCA calls (:class:`fastcca.ConvMoments`,
        :func:`fastcca.conv_cca`): :attr:`fastcca_backend`, since the per-frequency conv path
        runs on the CUDA backend too (issue [cuda-2]; tested on the CPU stand-ins only, not on a
        GPU yet)."""
        return self.fastcca_backend

    @property
    def torch_device(self) -> str:
        """The torch device every model is trained and evaluated on (:attr:`device` if given)."""
        if self.device is not None:
            return self.device
        if self.backend == "cpu":
            return "cpu"
        import torch
        if torch.cuda.is_available():
            return "cuda"
        if self.backend == "cuda":
            raise RuntimeError("backend: 'cuda' asked for, but torch sees no CUDA device "
                               "(torch.cuda.is_available() is False): install a CUDA build of torch "
                               "and CuPy (pip install -e '.[cuda]'), or use --backend cpu")
        return "cpu"

    def stage(self, desc: str, total: int):
        """A stage of ``total`` units on the running figure's progress bar (see
        :mod:`paper_repro.progress`)."""
        return self.progress_bar.stage(desc, total)

    def track(self, iterable, desc: str, total: int | None = None):
        """``iterable``, one unit of the running figure's progress bar per item."""
        return self.progress_bar.track(iterable, desc, total)


def default_threads(scale: str) -> int | None:
    """1 thread at the tiny/small scales (their matrices are a few hundred wide, where threads
    gain little and oversubscription on a shared machine costs much: measured on the 2-core
    build machine under load, one pwcca-fig2 point took 3.4 s wall with the default threads
    and 0.2 s with one); None (library defaults) at paper scale."""
    return None if scale == "paper" else 1


@contextmanager
def thread_limits(n: int | None):
    """Limit BLAS and OpenMP (threadpoolctl) and torch to ``n`` threads inside the block.

    Numba is left alone on purpose: fastcca's Numba kernels are serial, and any
    ``numba.get_num_threads`` / ``set_num_threads`` call launches Numba's threading layer, whose
    "omp" layer loads the system ``libgomp.so.1.0.0`` beside torch's bundled ``libgomp.so.1``
    when torch was imported first: two OpenMP runtimes in one process, the cause of issue
    [stability] (``tests/test_openmp_runtimes.py`` checks it)."""
    if n is None:
        yield
        return
    restore = []
    try:
        import torch
        old_t = torch.get_num_threads()
        torch.set_num_threads(n)
        restore.append(lambda: torch.set_num_threads(old_t))
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(n)
        restore.append(limiter.restore_original_limits)
    except ImportError:
        pass
    try:
        yield
    finally:
        for f in reversed(restore):
            f()

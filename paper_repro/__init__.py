"""paper_repro: regenerate the figures of the SVCCA (Raghu et al. 2017) and PWCCA (Morcos et al.
2018) papers from code, on top of fastcca.

Run ``python -m paper_repro list`` from the repository root.  Each figure is one module under
``paper_repro/figures/``; shared pieces live once here:

- :mod:`paper_repro.registry`  -- every figure id of both papers, and which are implemented;
- :mod:`paper_repro.runner`    -- runs one figure: compute, claim check, draw, write png/pdf/json;
- :mod:`paper_repro.context`   -- the run's options (scale, backend, seed, output folder, cache);
- :mod:`paper_repro.cache`     -- disk cache keyed by a configuration hash (atomic, pickle-free);
- :mod:`paper_repro.data`      -- datasets (toy regression, synthetic signal/noise, digits, CIFAR-10);
- :mod:`paper_repro.models`    -- model definitions (the toy MLP, ...);
- :mod:`paper_repro.training`  -- a training loop with checkpoints, cached by configuration;
- :mod:`paper_repro.analysis`  -- SVCCA directions and projections built on fastcca;
- :mod:`paper_repro.progress`  -- one progress bar per figure over all its stages;
- :mod:`paper_repro.report`    -- the seeds table of docs/paper-claims.md from the runs' JSON;
- :mod:`paper_repro.gpu_estimate` -- the estimated GPU time per figure at paper scale (``list``).
"""
from .registry import CATALOG, FigureNotImplementedError, get_figure, resolve

__all__ = ["CATALOG", "FigureNotImplementedError", "get_figure", "resolve"]

"""The layer-grid comparison: SVCCA between every pair of a few layers from ONE pass
(``fastcca.grid.JointMoments`` + ``similarity_grid``) against per-pair ``fastcca.svcca`` calls.

Sizes: ``_common.GRID_SIZES`` (layers, width p of each, n datapoints), activations held in
memory as (n, p) float32 arrays (no torch).  ``Grid``: the joint moments in 2048-row batches
(``precision`` = the arithmetic of each chunk's product, accumulation float64) and the
``similarity_grid`` of all layers (svcca, keep 0.99).  ``GridPairs``: the baseline, one
``fastcca.svcca(acts[i], acts[j])`` per unordered pair i <= j (L (L + 1) / 2 calls, what a user
exploiting symmetry makes).  ``GridSpeedup.track_speedup``: median over 3 interleaved runs of
(pairs time / grid time), float64; its setup fails if the grid and the pairs differ by
more than 1e-8.
"""
from __future__ import annotations

import time

import numpy as np

import fastcca
from fastcca.grid import JointMoments, similarity_grid

from ._common import BACKENDS, DTYPES, GRID_SIZE_NAMES, GRID_SIZES, layer_stack, require_backend, to_backend

BATCH_ROWS = 2048


def grid_svcca(acts: dict, backend: str = "cpu", precision: str = "float64") -> np.ndarray:
    """One pass over the batches into JointMoments, then the L x L SVCCA grid's values."""
    jm = JointMoments(backend=backend, precision=precision)
    n = len(next(iter(acts.values())))
    for lo in range(0, n, BATCH_ROWS):
        jm.update({k: v[lo:lo + BATCH_ROWS] for k, v in acts.items()})
    return similarity_grid(jm, measure="svcca").values


def pairs_svcca(acts: dict, backend: str = "cpu") -> np.ndarray:
    """The baseline: ``fastcca.svcca`` on every unordered pair of stored activations."""
    keys = list(acts)
    out = np.empty((len(keys), len(keys)))
    for i, a in enumerate(keys):
        for j in range(i, len(keys)):
            out[i, j] = out[j, i] = fastcca.svcca(acts[a], acts[keys[j]], backend=backend).similarity
    return out


class Grid:
    params = (GRID_SIZE_NAMES, DTYPES, BACKENDS)
    param_names = ["size", "precision", "backend"]
    timeout = 600

    def setup(self, size, precision, backend):
        require_backend(backend)
        acts = layer_stack(*GRID_SIZES[size], dtype="float32")
        self.acts = {k: to_backend(v, backend) for k, v in acts.items()}
        grid_svcca({k: v[:256, :8] for k, v in self.acts.items()}, backend, precision)   # compile

    def time_grid(self, size, precision, backend):
        grid_svcca(self.acts, backend, precision)

    def peakmem_grid(self, size, precision, backend):
        grid_svcca(self.acts, backend, precision)


class GridPairs:
    params = (GRID_SIZE_NAMES, BACKENDS)
    param_names = ["size", "backend"]
    timeout = 600

    def setup(self, size, backend):
        require_backend(backend)
        acts = layer_stack(*GRID_SIZES[size], dtype="float32")
        self.acts = {k: to_backend(v, backend) for k, v in acts.items()}
        pairs_svcca({k: v[:256, :8] for k, v in self.acts.items()}, backend)

    def time_pairs(self, size, backend):
        pairs_svcca(self.acts, backend)

    def peakmem_pairs(self, size, backend):
        pairs_svcca(self.acts, backend)


class GridSpeedup:
    params = (GRID_SIZE_NAMES,)
    param_names = ["size"]
    unit = "x (per-pair svcca time / grid time)"
    timeout = 1800
    repeats = 3

    def setup(self, size):
        self.acts = layer_stack(*GRID_SIZES[size], dtype="float32")
        got, want = grid_svcca(self.acts), pairs_svcca(self.acts)    # compile, warm, and check
        if not np.allclose(got, want, rtol=0, atol=1e-8):
            raise AssertionError(f"grid vs pairs at {size}: max |diff| {np.abs(got - want).max():.3g}")

    def track_speedup(self, size):
        tg, tp = [], []
        for _ in range(self.repeats):                   # interleaved: same machine load for both
            t0 = time.perf_counter()
            grid_svcca(self.acts)
            tg.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pairs_svcca(self.acts)
            tp.append(time.perf_counter() - t0)
        return float(np.median(tp) / np.median(tg))

"""The frequency grid of a conv-layer comparison: which 2-D DFT frequencies are compared, where
each one sits in each layer's ``rfft2`` output, and how often it counts when pooled.

Definitions
-----------
For layers of spatial sizes (h1, w1) and (h2, w2) let ``h = min(h1, h2)``, ``w = min(w1, w2)``.
The compared *locations* are the integer frequency pairs ``(a, b)`` with ``a`` in
``fftfreq(h) * h`` and ``b`` in ``fftfreq(w) * w`` (so ``-h/2 <= a < h/2``): the overlapping low
frequencies of the two layers, ``h * w`` of them, in the order of ``numpy.fft.fft2`` (row-major
over the index of ``fftfreq``).  This is what google/svcca ``dft_ccas.fft_resize`` keeps; with
equal sizes it is the whole ``fft2`` grid.  Layer k's coefficient at ``(a, b)`` is its DFT at
``(a mod h_k, b mod w_k)``.

Real inputs have ``X(-a, -b) = conj(X(a, b))``, and conjugating both layers together leaves
every canonical correlation unchanged, so a location and its mirror ``(-a, -b)`` (when that is
also a location, modulo each layer's size) carry the same coefficients.  Each such *class* is
computed once, at a representative with ``b >= 0`` (its own ``(a, b)``, or ``(-a, -b)``, whose
data are the conjugates), which always lies in the half-spectrum ``rfft2`` returns, and counts
``multiplicity`` times (2, or 1 for a self-conjugate location such as DC or a Nyquist corner,
and for a location whose mirror falls outside the overlap when the sizes differ).  The
multiplicities sum to ``h * w``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def signed_freqs(size: int) -> np.ndarray:
    """Integer DFT frequencies of a length-``size`` axis in ``fft`` order: ``fftfreq(size) * size``."""
    return np.rint(np.fft.fftfreq(size) * size).astype(np.int64)


@dataclass(frozen=True)
class FrequencyGrid:
    """Frequencies compared between layers of spatial sizes ``shape_x`` (h1, w1) and
    ``shape_y`` (h2, w2); see the module docstring for every definition.

    Attributes
    ----------
    freqs : (F, 2) int      representative ``(a, b)`` of each class, ``b >= 0``
    rows_x, rows_y : (F,)   row of that frequency in each layer's ``rfft2`` output
    cols : (F,)             column in both layers' ``rfft2`` output (``b``)
    multiplicity : (F,)     1 or 2: how many locations the class stands for
    locations : (h*w, 2)    every compared location ``(a, b)``, in ``fft2`` order
    location_class : (h*w,) the class (row of ``freqs``) of each location
    """
    shape_x: tuple
    shape_y: tuple
    freqs: np.ndarray
    rows_x: np.ndarray
    rows_y: np.ndarray
    cols: np.ndarray
    multiplicity: np.ndarray
    locations: np.ndarray
    location_class: np.ndarray

    @property
    def size(self) -> tuple:
        """Overlapping spatial size (h, w)."""
        return (min(self.shape_x[0], self.shape_y[0]), min(self.shape_x[1], self.shape_y[1]))

    @property
    def n_classes(self) -> int:
        return int(self.freqs.shape[0])

    def flat_index(self, side: str) -> np.ndarray:
        """Index of each class in ``rfft2`` output flattened over (rows, cols) for ``side``."""
        h, w = self.shape_x if side == "x" else self.shape_y
        rows = self.rows_x if side == "x" else self.rows_y
        return rows * (w // 2 + 1) + self.cols


def frequency_grid(shape_x, shape_y) -> FrequencyGrid:
    """The :class:`FrequencyGrid` for spatial sizes ``shape_x`` = (h1, w1), ``shape_y`` = (h2, w2)."""
    (h1, w1), (h2, w2) = (tuple(int(v) for v in shape_x), tuple(int(v) for v in shape_y))
    h, w = min(h1, h2), min(w1, w2)
    fa, fb = signed_freqs(h), signed_freqs(w)
    locs = np.array([(a, b) for a in fa for b in fb], dtype=np.int64).reshape(-1, 2)

    def key(a, b):
        return (a % h1, b % w1, a % h2, b % w2)

    where = {key(a, b): i for i, (a, b) in enumerate(locs)}
    cls = np.full(len(locs), -1, dtype=np.int64)
    reps, mult = [], []
    for i, (a, b) in enumerate(locs):
        if cls[i] >= 0:
            continue
        j = where.get(key(-a, -b))
        members = [i] if j is None or j == i else [i, j]
        cls[members] = len(reps)
        pos = [locs[m] for m in members if locs[m][1] >= 0]
        ra, rb = (pos[0] if pos else (-a, -b))
        reps.append((int(ra), int(rb)))
        mult.append(len(members))
    freqs = np.array(reps, dtype=np.int64).reshape(-1, 2)
    return FrequencyGrid(
        shape_x=(h1, w1), shape_y=(h2, w2), freqs=freqs,
        rows_x=freqs[:, 0] % h1, rows_y=freqs[:, 0] % h2, cols=freqs[:, 1].copy(),
        multiplicity=np.array(mult, dtype=np.int64), locations=locs, location_class=cls)

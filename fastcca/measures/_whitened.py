"""One side prepared for the CCA family, and the notes every CCA-family pair reports.

CCA, mean CCA, SVCCA and PWCCA are each a per-side ``prepare`` (the side's regularised
whitening: :func:`fastcca._canonical.whiten`, for SVCCA of its reduced block ``diag(lambda_k)``)
and a ``pair(prepared_a, prepared_b, cross_block)``.  The single-pair functions, the layer grid
(:func:`fastcca.similarity_grid`, ``fastcca.torch``) all call those, so a layer in many pairs is
whitened once and every path gives the same numbers and notes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._canonical import Whitening, resolve_rank_tol, whiten
from .._validation import warn_if_degenerate
from ._blocks import Side
from ._inputs import kept_note, rank_notes, underflow_floor
from ._precision import float32_error_notes


@dataclass(frozen=True)
class Whitened:
    """A side prepared for the CCA family.

    Attributes
    ----------
    side : Side
        The side it was prepared from (its block, mean, units, count, label).
    w : Whitening
        The whitening of the side's block (CCA, PWCCA) or of its reduced block (SVCCA).
    notes : tuple of str
        The neurons (or directions) whitening dropped.
    rank_notes : tuple of str
        What the data rank rule left out or kept (:func:`fastcca.measures._inputs.rank_notes`).
    inflation : float
        The largest variance inflation factor of what is whitened (float32 products only, else 0).
    proj : array (p, k) or None
        SVCCA: the kept singular directions (top eigenvectors of the block).
    lam : numpy.ndarray or None
        SVCCA: the block's eigenvalues, descending (host).
    eps, rank_tol, keep, keep_rule
        The settings it was prepared with (``keep``, ``keep_rule``: SVCCA).
    """
    side: Side
    w: Whitening
    notes: tuple = ()
    rank_notes: tuple = ()
    inflation: float = 0.0
    proj: object = None
    lam: np.ndarray = None
    #: the settings it was prepared with (reported in results)
    eps: float = 1e-10
    rank_tol: float | None = None
    keep: float | int | None = None
    keep_rule: str | None = None

    @property
    def k(self) -> int:
        """SVCCA: the number of kept directions (the neurons kept by whitening otherwise)."""
        return int(self.proj.shape[1]) if self.proj is not None else int(self.w.kept.sum())


def whiten_side(side: Side, block, *, eps: float, rcond=None, rank_tol=None, unit: str = "neurons",
                derived: bool = False, symmetric: bool = False) -> tuple[Whitening, tuple, tuple]:
    """Whiten ``block`` (the side's scatter block, or for SVCCA its reduced block) with the
    public ``rank_tol`` (None keeps rank-deficient directions); returns the whitening, the notes
    on dropped neurons (``derived``: coordinates that are not neurons, told without the side's
    constant/underflow knowledge) and the data-rank notes."""
    be = side.be
    tol, drop = resolve_rank_tol(rank_tol)
    w = whiten(be, block, eps, rcond, symmetric, tol, drop)
    if derived:
        notes = kept_note(side.label, w.kept, eps)
    else:
        variance = be.to_numpy(be.xp.diagonal(side.s))
        notes = kept_note(side.label, w.kept, eps, side.constant, variance, underflow_floor(side.n, side.float32),
                          "float32 products" if side.float32 else "float64")
    return w, tuple(notes), tuple(rank_notes(side.label, w, rank_tol, unit))


def pair_notes(what: str, pa: Whitened, pb: Whitened, coefficients: int, *, stacklevel: int = 5) -> list[str]:
    """The notes of a single pair, in one place: each side's dropped neurons and data rank, the
    degenerate-pair warning (:func:`fastcca._validation.warn_if_degenerate`) and the float32
    error estimate (:func:`fastcca.measures._precision.float32_error_notes`).  A grid reports
    the per-layer ones once and the degenerate / float32 ones summed over its pairs instead."""
    notes = list(pa.notes) + list(pb.notes) + list(pa.rank_notes) + list(pb.rank_notes)
    msg = warn_if_degenerate(pa.side.n, pa.w.data_rank, pb.w.data_rank, what, coefficients=coefficients,
                             stacklevel=stacklevel)
    if msg:
        notes.append(msg)
    if pa.side.float32 or pb.side.float32:
        notes += float32_error_notes(what, {"side x": pa.inflation, "side y": pb.inflation}, stacklevel=stacklevel)
    return notes

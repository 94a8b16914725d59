"""Turn what a measure receives (two arrays, or a Moments) into a Moments on a backend."""
from __future__ import annotations

import numpy as np

from ..backend import get_backend
from ..moments import Moments
from .._validation import check_enough_datapoints, check_state_finite


def as_moments(x, y, backend: str, precision: str = "float64", what: str = "measure") -> Moments:
    """``x, y`` arrays (samples first) -> their Moments; ``x`` a Moments (and ``y`` None) -> x.

    Raises ``ValueError`` for an empty Moments or fewer than 2 datapoints and
    ``FloatingPointError`` for a state holding inf/NaN, naming ``what`` (the measure)."""
    check_not_other_moments(x, "x")
    check_not_other_moments(y, "y")
    if isinstance(y, Moments):
        raise TypeError("y: got a fastcca.Moments; pass one Moments as x (and no y), or two activation arrays")
    if isinstance(x, Moments):
        if y is not None:
            raise TypeError("y: pass either two arrays (x, y) or one Moments as x, not a Moments and y")
        if x.n == 0:
            raise ValueError(f"{what}: x: the Moments is empty; call update(x, y) with data first")
        if backend != "auto" and backend != x.backend:
            raise ValueError(f"backend: {backend!r} asked for, but the Moments lives on {x.backend!r}")
        m = x
    else:
        if y is None:
            raise TypeError("y: missing; pass two activation arrays x (n, p) and y (n, q), or a Moments as x")
        # resolved once for the whole call (a clear error before any work when unavailable)
        be = get_backend(backend, x, y)
        m = Moments._with_backend_module(be, precision)._fill_from_arrays(x, y, None)
    check_enough_datapoints(m.n, what)
    check_state_finite(m._be.xp, {"sxx": m.sxx, "syy": m.syy, "sxy": m.sxy}, what,
                       {"x": m.exponent_x, "y": m.exponent_y})
    return m


def check_not_other_moments(a, name: str) -> None:
    """A clear error for the accumulators the dense measures do not take: a ConvMoments
    (per-frequency conv moments) or a JointMoments (several layers)."""
    from ..conv.moments import ConvMoments
    from ..grid import JointMoments
    if isinstance(a, ConvMoments):
        raise TypeError(f"{name}: got a fastcca.ConvMoments (per-frequency moments of two conv layers); "
                        "compare it with fastcca.conv_cca or fastcca.conv_svcca")
    if isinstance(a, JointMoments):
        raise TypeError(f"{name}: got a fastcca.JointMoments (several layers); pass one pair's moments, "
                        "jm.moments(a, b), or use fastcca.similarity_grid(jm)")


def _shown(idx) -> str:
    return ", ".join(map(str, idx[:10])) + (", ..." if len(idx) > 10 else "")


def underflow_floor(n: int, float32_products: bool) -> float:
    """A scatter diagonal below this is made of underflowed terms: ``n`` times the smallest
    normal number of the products' arithmetic."""
    return n * float(np.finfo(np.float32 if float32_products else np.float64).tiny)


def kept_note(side: str, kept, eps: float, constant=None, variance=None, floor: float = 0.0,
              arithmetic: str = "float64") -> list[str]:
    """Notes on the neurons of ``side`` that whitening dropped (``kept`` False).

    With ``constant`` (host bool mask: every value of the neuron was the same, from the column
    bounds of the Moments) the truly constant neurons are told apart from the varying ones
    whose variance is merely below ``eps`` times the largest; with ``variance`` (the scatter
    diagonal, any units) and ``floor`` (:func:`underflow_floor` in the same units), a varying
    neuron whose variance underflowed the arithmetic is named as such, never as constant."""
    kept = np.asarray(kept, dtype=bool)
    dropped = np.flatnonzero(~kept)
    notes = []
    if constant is None:
        if dropped.size:
            notes.append(f"{side}: {dropped.size} neuron(s) dropped, variance < eps={eps:g} x the largest "
                         f"variance (constant or near-constant): [{_shown(dropped.tolist())}]")
        return notes
    constant = np.asarray(constant, dtype=bool)
    const = [int(i) for i in dropped if constant[i]]
    vary = [int(i) for i in dropped if not constant[i]]
    if const:
        notes.append(f"{side}: {len(const)} constant neuron(s) dropped (every value the same): [{_shown(const)}]")
    if vary:
        notes.append(f"{side}: {len(vary)} neuron(s) dropped, variance < eps={eps:g} x the largest variance "
                     f"(not constant: near-constant next to the side's largest neuron): [{_shown(vary)}]")
    if variance is not None:
        under = [int(i) for i in np.flatnonzero(~constant & (np.asarray(variance) < floor))]
        if under:
            notes.append(
                f"{side}: {len(under)} neuron(s) vary but their variance underflows {arithmetic} next to the "
                "side's largest neuron (magnitudes ~1e150 or more apart share one scale per side): "
                f"[{_shown(under)}]; they count as zero-variance here; rescale them to include them")
    return notes


def rank_notes(side: str, w, rank_tol, unit: str = "neurons") -> list[str]:
    """What the whitening ``w`` (a :class:`fastcca._canonical.Whitening`) of one side left out
    or kept despite a deficient data rank; ``rank_tol`` is the public argument (None: the
    deficient directions were kept, as the reference implementation does)."""
    kept = int(w.kept.sum())
    out = []
    if rank_tol is not None and w.data_rank < kept:
        out.append(f"{side}: data rank {w.data_rank} < {kept} kept {unit}: {kept - w.data_rank} direction(s) "
                   f"with variance <= rank_tol={rank_tol:g} x the largest (duplicated or linearly dependent "
                   f"{unit}, or fewer datapoints than {unit}) left the CCA")
    if rank_tol is None and w.data_rank < w.rank:
        out.append(f"{side}: data rank {w.data_rank} < {w.rank} whitened directions: rank_tol=None keeps "
                   f"{w.rank - w.data_rank} direction(s) of (near-)zero variance, lifted only by the ridge eps; "
                   "their coefficients are ~0 by construction (so a side compared with itself gives less than "
                   "1). The default rank_tol drops them")
    expected = w.data_rank if rank_tol is not None else kept
    if w.rank < expected:
        out.append(f"{side}: whitened rank {w.rank} < {expected}: eigenvalues of the regularised block below "
                   "the rcond floor left the CCA")
    return out


def neuron_notes(m: Moments, side: str, kept, eps: float) -> list[str]:
    """:func:`kept_note` for ``side`` of the Moments ``m``, with what ``m`` knows: which neurons
    are constant (column bounds) and which variances underflowed the products' arithmetic."""
    be = m._be
    s = m.sxx if side == "x" else m.syy
    variance = be.to_numpy(be.xp.diagonal(s))
    f32 = bool(m.float32_products)
    return kept_note(side, kept, eps, m.constant_neurons(side), variance, underflow_floor(m.n, f32),
                     "float32 products" if f32 else "float64")

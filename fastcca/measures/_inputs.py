"""Turn what a measure receives (two arrays, or a Moments) into a Moments on a backend."""
from __future__ import annotations

from ..backend import get_backend
from ..moments import Moments


def as_moments(x, y, backend: str, precision: str = "float64") -> Moments:
    """``x, y`` arrays (samples first) -> their Moments; ``x`` a Moments (and ``y`` None) -> x."""
    check_not_other_moments(x, "x")
    check_not_other_moments(y, "y")
    if isinstance(y, Moments):
        raise TypeError("y: got a fastcca.Moments; pass one Moments as x (and no y), or two activation arrays")
    if isinstance(x, Moments):
        if y is not None:
            raise TypeError("y: pass either two arrays (x, y) or one Moments as x, not a Moments and y")
        if x.n == 0:
            raise ValueError("x: the Moments is empty; call update(x, y) with data first")
        if backend != "auto" and backend != x.backend:
            raise ValueError(f"backend: {backend!r} asked for, but the Moments lives on {x.backend!r}")
        return x
    if y is None:
        raise TypeError("y: missing; pass two activation arrays x (n, p) and y (n, q), or a Moments as x")
    get_backend(backend, x, y)  # a clear error before any work when the backend is unavailable
    return Moments.from_arrays(x, y, backend=backend, precision=precision)


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


def kept_note(side: str, kept, eps: float) -> list[str]:
    dropped = [int(i) for i in (~kept).nonzero()[0]]
    if not dropped:
        return []
    shown = ", ".join(map(str, dropped[:10])) + (", ..." if len(dropped) > 10 else "")
    return [f"{side}: {len(dropped)} neuron(s) dropped, variance < eps={eps:g} x the largest variance "
            f"(constant or near-constant): [{shown}]"]


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

"""Turn what a measure receives (two arrays, or a Moments) into a Moments on a backend."""
from __future__ import annotations

from ..backend import get_backend
from ..moments import Moments


def as_moments(x, y, backend: str, precision: str = "float64") -> Moments:
    """``x, y`` arrays (samples first) -> their Moments; ``x`` a Moments (and ``y`` None) -> x."""
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


def kept_note(side: str, kept, eps: float) -> list[str]:
    dropped = [int(i) for i in (~kept).nonzero()[0]]
    if not dropped:
        return []
    shown = ", ".join(map(str, dropped[:10])) + (", ..." if len(dropped) > 10 else "")
    return [f"{side}: {len(dropped)} neuron(s) dropped, variance < eps={eps:g} x the largest variance "
            f"(constant or near-constant): [{shown}]"]


def rank_note(side: str, kept_count: int, rank: int) -> list[str]:
    if rank >= kept_count:
        return []
    return [f"{side}: whitened rank {rank} < {kept_count} kept neurons (linearly dependent or "
            "duplicated neurons; eigenvalues below the rcond floor left the CCA)"]

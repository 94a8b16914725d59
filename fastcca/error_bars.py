"""Error bars for every measure: the delete-one-shard jackknife over the shards of a Moments.

``Moments(shards=k)`` keeps k shard accumulators beside its state (whole batches in turn, or
datapoints by index).  For each shard j, the moments of all the OTHER shards are formed by
merging them (exact: Chan's rule), the measure is re-solved from them, ``theta_(j)``, and the
spread of those k values gives the standard error -- no pass over the data again.

The estimator is the grouped (delete-m_j) jackknife of Busing, Meijer & van der Leeden (1999,
Statistics and Computing 9), which allows shards of different sizes ``m_j`` (n datapoints in
all, ``h_j = n / m_j``):

    pseudo-values      theta~_j = h_j theta - (h_j - 1) theta_(j)
    estimate           theta_J  = k theta - sum_j (1 - m_j / n) theta_(j)
    variance           var_J    = (1 / k) sum_j (theta~_j - theta_J)^2 / (h_j - 1)

With equal shards this is Tukey's ``(k - 1) / k sum_j (theta_(j) - mean)^2``.  The interval is
``theta +- t_{k-1} se`` (Student's t with k - 1 degrees of freedom), centred on the full-data
value; ``bias = theta - theta_J`` is reported, not subtracted.  The leave-one-out moments are
built by a divide-and-conquer over the shards: O(k log k) merges of O(p^2) each, whatever n.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import check_number
from .measures import registry
from .moments import Moments


@dataclass(frozen=True)
class JackknifeResult:
    """A measure with its delete-one-shard jackknife standard error and confidence interval.

    Attributes
    ----------
    measure : str
    kind : {"similarity", "distance"}
    estimate : float or array
        The measure on all the data (the registry's value: a similarity or a distance; an array
        for an array-valued callable, and so are ``se``, ``ci``'s ends and ``bias``).
    se : float or array
        The jackknife standard error.
    ci : tuple
        ``(low, high)``: ``estimate -+ t se``, Student's t with ``shards - 1`` degrees of freedom.
    confidence : float
        The interval's nominal coverage.
    replicates : array (k, ...)
        The measure without each shard, ``theta_(j)``.
    bias : float
        The jackknife bias estimate ``estimate - theta_J`` (reported, not subtracted).
    shard_sizes : array of int (k,)
    result : Result
        The measure's full result on all the data.
    params : dict
        The measure's settings.

    Notes
    -----
    Module docstring for the estimator; docs/measures.md, *Error bars*, for what it covers (the
    sampling of datapoints, shards as independent groups) and its measured coverage.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> m = fastcca.Moments(shards=10)
    >>> for _ in range(20):
    ...     x = rng.standard_normal((100, 3))
    ...     _ = m.update(x, x + rng.standard_normal((100, 3)))
    >>> j = fastcca.jackknife(m, "cca")
    >>> j.ci[0] < j.estimate < j.ci[1], len(j.replicates)
    (True, 10)
    """
    measure: str
    kind: str
    estimate: float
    se: float
    ci: tuple
    confidence: float
    replicates: np.ndarray
    bias: float
    shard_sizes: np.ndarray
    result: object = None
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists; the full result nested)."""
        def plain(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        d = {k: plain(v) for k, v in asdict(self).items() if k != "result"}
        d["ci"] = [plain(c) for c in self.ci]
        d["result"] = self.result.to_dict() if hasattr(self.result, "to_dict") else None
        return d

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        if np.ndim(self.estimate):
            return (f"{self.measure} ({self.kind}): {np.shape(self.estimate)} values, jackknife SE over "
                    f"{len(self.replicates)} shards in [{np.min(self.se):.3g}, {np.max(self.se):.3g}]; {pct} CIs")
        return (f"{self.measure} ({self.kind}): {self.estimate:.6g} +- {self.se:.3g} (jackknife SE over "
                f"{len(self.replicates)} shards); {pct} CI [{self.ci[0]:.6g}, {self.ci[1]:.6g}]; "
                f"bias estimate {self.bias:.3g}")


def leave_one_out(shards):
    """``(j, accumulator of every shard but j)`` for each shard, by divide and conquer: the
    complement of one half is merged once and handed down, O(k log k) merges in all.  Works for
    any accumulators with ``copy()`` and ``merge()``; the shards are not modified."""
    def merged(base, idx):
        acc = shards[idx[0]].copy() if base is None else base.copy()
        for i in (idx[1:] if base is None else idx):
            acc.merge(shards[i])
        return acc

    def split(idx, outside):
        if len(idx) == 1:
            yield idx[0], outside
            return
        half = len(idx) // 2
        left, right = idx[:half], idx[half:]
        yield from split(left, merged(outside, right))
        yield from split(right, merged(outside, left))

    yield from split(list(range(len(shards))), None)


def grouped_jackknife(theta, replicates, sizes):
    """``(theta_J, se)`` of the delete-m_j jackknife (module docstring); ``theta`` a float or an
    array and ``replicates`` (k, ...) alike (elementwise)."""
    reps = np.asarray(replicates, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    m = np.asarray(sizes, dtype=np.float64).reshape((-1,) + (1,) * theta.ndim)
    k, n = reps.shape[0], m.sum()
    h = n / m
    pseudo = h * theta - (h - 1) * reps
    est = k * theta - np.sum((1 - m / n) * reps, axis=0)
    se = np.sqrt(np.maximum(np.sum((pseudo - est) ** 2 / (h - 1), axis=0) / k, 0.0))
    return (float(est), float(se)) if theta.ndim == 0 else (est, se)


def _size(acc) -> int:
    return int(acc.n) if not isinstance(acc.n, dict) else int(max(acc.n.values()))


def jackknife(m, measure="cca", *, confidence: float = 0.95, **params) -> JackknifeResult:
    """A measure with its delete-one-shard jackknife standard error and confidence interval.

    Parameters
    ----------
    m : Moments, or a sequence of accumulators
        A :class:`fastcca.Moments` made with ``shards=k`` (k >= 2), every shard non-empty; or
        k >= 2 accumulators of one kind over disjoint datapoints (``Moments``,
        ``ConvMoments``, ``JointMoments``, ``JointConvMoments``: anything with ``n``,
        ``copy()`` and ``merge()``), e.g. one per group of batches, for the conv and layer-grid
        accumulators.
    measure : str or callable, default "cca"
        A name of :data:`fastcca.REGISTRY` (its value: a similarity or a distance), or a
        function of an accumulator returning a float or an array (e.g.
        ``lambda jm: fastcca.similarity_grid(jm, measure="cca").values``: error bars for every
        entry of a grid; ``lambda cm: fastcca.conv_cca(cm).similarity`` for conv layers).
    confidence : float in (0, 1), default 0.95
        Nominal coverage of the interval.
    **params
        The measure's settings (its registry entry's ``params``, or keyword arguments of the
        callable).

    Returns
    -------
    JackknifeResult
        ``estimate``, ``se``, ``ci``, the ``replicates`` and, for a registry measure, the full
        ``result``; arrays (elementwise) for an array-valued callable.

    Raises
    ------
    TypeError
        ``m`` is neither a Moments nor a sequence of accumulators, a measure argument the
        measure does not take, or a measure that is neither a name nor callable.
    ValueError
        ``m`` keeps no shards or fewer than 2 accumulators, an empty shard, ``confidence``
        outside (0, 1), an unknown measure, or any error the measure raises on the data or on a
        leave-one-out.

    Notes
    -----
    The grouped jackknife of Busing et al. (1999) over shards of any sizes (module
    docstring).  It treats shards as independent groups of datapoints: with
    ``shard_by="batch"`` and batches that are not random samples (e.g. sorted by class), use
    ``shard_by="index"`` on shuffled data instead.  Cost: k re-solves of the measure from
    moments plus O(k log k) merges; no pass over the data.  Measured coverage: docs/measures.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(1)
    >>> x = rng.standard_normal((2000, 4))
    >>> m = fastcca.Moments(shards=20, shard_by="index").update(x, x + rng.standard_normal((2000, 4)))
    >>> j = fastcca.jackknife(m, "procrustes")
    >>> j.kind, round(j.se, 3)
    ('distance', 0.006)
    """
    if isinstance(m, Moments):
        if m.shards is None:
            raise ValueError("m: keeps no shards; make it with fastcca.Moments(shards=20) (or another count >= 2)")
        shards, full_acc = m.shards, m
    elif isinstance(m, (list, tuple)) and all(hasattr(a, "merge") and hasattr(a, "copy") for a in m):
        if len(m) < 2:
            raise ValueError(f"m: a jackknife needs at least 2 accumulators, got {len(m)}")
        kinds = {type(a).__name__ for a in m}
        if len(kinds) > 1:
            raise TypeError(f"m: the accumulators must be of one kind, got {sorted(kinds)}")
        shards = list(m)
        full_acc = None
    else:
        raise TypeError(f"m: expected a fastcca.Moments made with shards=k or a sequence of accumulators, "
                        f"got {type(m).__name__}")
    confidence = check_number(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    sizes = np.array([_size(s) for s in shards], dtype=np.int64)
    if (sizes == 0).any():
        raise ValueError(f"m: shard(s) {np.flatnonzero(sizes == 0).tolist()} are empty ({len(sizes)} shards, "
                         f"{int(sizes.sum())} datapoints); feed at least as many batches as shards, or use "
                         "shard_by='index'")
    if full_acc is None:
        full_acc = shards[0].copy()
        for s in shards[1:]:
            full_acc.merge(s)
    if callable(measure) and not isinstance(measure, str):
        name, kind, kw, full = getattr(measure, "__name__", "measure"), "similarity", dict(params), None

        def value(acc):
            v = np.asarray(measure(acc, **kw), dtype=np.float64)
            return float(v) if v.ndim == 0 else v
        theta = value(full_acc)
    else:
        spec = registry.get(measure)
        name, kind, kw = spec.name, spec.kind, spec.validate(params)

        def value(acc):
            return spec.value(spec(acc, **kw))
        full = spec(full_acc, **kw)
        theta = spec.value(full)
    reps = [None] * len(sizes)
    for j, acc in leave_one_out(shards):
        reps[j] = value(acc)
    reps = np.asarray(reps, dtype=np.float64)
    est, se = grouped_jackknife(theta, reps, sizes)
    from scipy.stats import t as student_t
    half = float(student_t.ppf(0.5 + confidence / 2, len(sizes) - 1)) * se
    return JackknifeResult(measure=name, kind=kind, estimate=theta, se=se, ci=(theta - half, theta + half),
                           confidence=confidence, replicates=reps, bias=theta - est, shard_sizes=sizes,
                           result=full, params={k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()})

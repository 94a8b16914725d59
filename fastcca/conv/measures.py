"""CCA, SVCCA and PWCCA between conv layers.

Modes (``mode=``), one idea each:

``"fft"`` (default)
    The method of Raghu et al. 2017 (SVCCA), section 3 and appendix C: the real 2-D DFT of every
    channel over the spatial axes, one c1 x c2 complex CCA per frequency (all blocks whitened
    and decomposed together, batched), conjugate-symmetric frequencies computed once and counted
    twice when pooled.  On a dataset closed under circular shifts this is *exactly* CCA over the
    flattened h*w*c neurons, at a fraction of the cost (see docs/conv.md).
``"fold"``
    Spatial positions become datapoints: (n, c, h, w) -> (n*h*w, c), neurons = channels (the
    SVCCA tutorials' reshape; for the same layer across training time or seeds).  Needs equal
    spatial sizes.
``"flatten"``
    Every (channel, position) is a neuron: (n, c*h*w).  Different spatial sizes are fine; only
    meaningful when n is well above c*h*w (otherwise all coefficients are 1).
``"mean"``
    Average over spatial positions: (n, c) (the PWCCA paper's CIFAR experiments).
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .._docstrings import fill as fill_doc
from .._canonical import (RANK_TOL, BatchedWhitening, batched_max_variance_inflation, both_sides,
                          correlate_batched, resolve_rank_tol, whiten_batched)
from ..measures._precision import float32_error_notes
from .._validation import (check_batch_size, check_choice, check_enough_datapoints,
                           check_fraction_or_count, check_nonnegative, check_state_finite,
                           check_tolerance, forced_ones, warn_if_degenerate)
from ..measures import cca as _cca, pwcca as _pwcca, svcca as _svcca
from ..measures.svcca import KEEP_RULES, count_to_keep
from ..moments import Moments
from ..results import ConvResult
from ._inputs import MODES, as_conv_batch, check_layout, check_pair, conv_rows
from ..backend import get_backend
from .moments import ConvMoments

#: bound on the reshaped temporaries of one batch in the non-FFT modes
_FLAT_CHUNK_BYTES = 128 << 20


# ---------------------------------------------------------------------------------- inputs
@fill_doc
def conv_moments(x, y, *, mode: str = "fft", layout: str = "nchw", batch_size: int | None = None,
                 progress: bool = False, backend: str = "auto", precision: str = "float64"):
    """The moments a conv comparison needs, from arrays.

    Parameters
    ----------
    x, y : array-like
        Conv activations as in :func:`conv_cca`.
    %(conv_mode)s
    %(conv_layout)s
    %(conv_batch_size)s
    %(conv_backend)s
    progress : bool, default False
        A tqdm bar over the batches.
    precision : {"float64", "float32"}
        Fft mode only: see :class:`ConvMoments`.

    Returns
    -------
    ConvMoments or fastcca.Moments
        A :class:`ConvMoments` for ``mode="fft"``, a :class:`fastcca.Moments` of the reshaped
        activations for ``"fold"``, ``"flatten"``, ``"mean"``.  Either merges with others and
        goes to ``conv_cca`` & co.

    Raises
    ------
    ValueError
        Mismatched image counts, a wrong rank, NaN/Inf, an unknown mode or layout, or layers
        that ``mode="fold"`` cannot compare (different spatial sizes).
    TypeError
        A moments object together with ``y``, or the wrong kind of moments for ``mode``.
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a usable GPU.

    Notes
    -----
    Use it to merge shards or to reuse one pass for several measures.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((200, 3, 4, 4))
    >>> m = fastcca.conv_moments(x, x, mode="mean")
    >>> (m.n, m.p), fastcca.conv_moments(x, x).n
    ((200, 3), 200)
    """
    mode = check_choice(mode, "mode", MODES)
    layout = check_layout(layout)
    batch_size = check_batch_size(batch_size)
    if mode == "fft":
        return ConvMoments.from_arrays(x, y, layout=layout, batch_size=batch_size, progress=progress,
                                       backend=backend, precision=precision)
    be = get_backend(backend, x, y)
    m = Moments._with_backend_module(be)       # the reshaped batches stay where the data is
    xa = as_conv_batch(x, "x", layout, be)
    same = y is x
    ya = xa if same else as_conv_batch(y, "y", layout, be)
    check_pair(xa, ya)
    if mode == "fold" and xa.shape[2:] != ya.shape[2:]:
        raise ValueError(f"mode='fold' pairs spatial positions, so x and y need the same (h, w); got "
                         f"x {xa.shape[2:]}, y {ya.shape[2:]}. Use mode='fft' (overlapping low "
                         "frequencies) or mode='mean'")
    n = xa.shape[0]
    if batch_size is None:
        per_image = 8 * (xa[0].size + ya[0].size) * 2
        batch_size = max(1, _FLAT_CHUNK_BYTES // per_image)
    for lo in range(0, n, int(batch_size)):
        xb = conv_rows(xa[lo:lo + batch_size], mode)
        m.update(xb, xb if same else conv_rows(ya[lo:lo + batch_size], mode))
    return m


def _as_input(x, y, mode, layout, batch_size, backend, precision="float64", what="conv measure"):
    if isinstance(x, (ConvMoments, Moments)):
        if y is not None:
            raise TypeError("y: pass either two activation arrays (x, y) or one moments object as x")
        if isinstance(x, ConvMoments) != (mode == "fft"):
            want = "ConvMoments" if mode == "fft" else "Moments (from fastcca.conv_moments)"
            raise TypeError(f"x: mode={mode!r} needs a {want}, got a {type(x).__name__}")
        if x.n == 0:
            raise ValueError(f"{what}: x: the moments object is empty; call update(x, y) with data first")
        m = x
    else:
        if y is None:
            raise TypeError("y: missing; pass two conv activations x, y, or a ConvMoments as x")
        m = conv_moments(x, y, mode=mode, layout=layout, batch_size=batch_size, backend=backend,
                         precision=precision)
    check_conv_moments(m, what)
    return m


def check_conv_moments(m, what: str) -> None:
    """At least 2 datapoints (images) and a finite state, else a clear error naming ``what``."""
    check_enough_datapoints(m.n, what)
    check_state_finite(m._be.xp, {"sxx": m.sxx, "syy": m.syy, "sxy": m.sxy}, what,
                       {"x": m.exponent_x, "y": m.exponent_y})


def _wrap(inner, m, mode, layout, eps) -> ConvResult:
    return ConvResult(measure="conv_" + inner.measure, similarity=inner.similarity,
                      coefficients=inner.coefficients, n=inner.n, p=inner.p, q=inner.q,
                      notes=inner.notes + (f"mode={mode!r}: {inner.measure} of the reshaped activations",),
                      mode=mode, layout=layout, eps=eps, inner=inner)


# ---------------------------------------------------------------------------------- fft mode
def _pool(rho, count, mult, total):
    """Union of the per-block coefficients, class f repeated mult[f] times, zero-padded to
    ``total`` entries (the cross-frequency directions of the flattened problem), descending."""
    valid = np.arange(rho.shape[1])[None, :] < count[:, None]
    vals = np.repeat(np.where(valid, rho, 0.0), mult, axis=0)[np.repeat(valid, mult, axis=0)]
    out = np.zeros(max(int(total), vals.size))
    out[:vals.size] = vals
    return np.sort(out)[::-1]


def _fft_result(m: ConvMoments, sol, measure, eps, notes, what, k_x=None, k_y=None,
                inflation=None, rank_tol=RANK_TOL) -> ConvResult:
    """``inflation``: {"side x": v, "side y": v}, the largest variance inflation factors of what
    was whitened (float32 precision only; see :mod:`fastcca.measures._precision`);
    ``rank_tol``: the public data-rank argument, for the notes."""
    g = m.grid
    mult = g.multiplicity
    rx, ry = sol.wx.rank, sol.wy.rank
    total = min(int((mult * rx).sum()), int((mult * ry).sum()))
    coefs = _pool(sol.rho, sol.count, mult, total)
    for side, w in (("x", sol.wx), ("y", sol.wy)):
        notes += _block_rank_notes(side, w, mult, rank_tol)
    dropped_x = int((~sol.wx.kept).sum()) if k_x is None else 0
    if dropped_x:
        notes.append(f"x: {dropped_x} (frequency, channel) entries dropped, variance < eps={eps:g} x the "
                     "block's largest")
    dropped_y = int((~sol.wy.kept).sum()) if k_y is None else 0
    if dropped_y:
        notes.append(f"y: {dropped_y} (frequency, channel) entries dropped, variance < eps={eps:g} x the "
                     "block's largest")
    # per block: complex data of n images span at most n - 1 dimensions after centring
    dx, dy = sol.wx.data_rank, sol.wy.data_rank
    forced = sum(int(k) * forced_ones(m.n, int(a), int(b)) for k, a, b in zip(mult, dx, dy))
    msg = warn_if_degenerate(m.n, int(dx.max(initial=0)), int(dy.max(initial=0)),
                             what, coefficients=coefs.size, forced=forced)
    if msg:
        notes.append(msg)
    if inflation:
        notes += float32_error_notes(what, inflation, stacklevel=4)
    return ConvResult(measure=measure, similarity=float(coefs.mean()) if coefs.size else 0.0,
                      coefficients=coefs, n=m.n, p=m.c_x, q=m.c_y, notes=tuple(notes), mode="fft",
                      layout=m.layout, eps=eps, frequencies=g.freqs, multiplicity=mult,
                      per_frequency=sol.rho, per_frequency_count=sol.count, rank_x=rx, rank_y=ry,
                      k_x=k_x, k_y=k_y, grid=g)


def _block_rank_notes(side, w, mult, rank_tol) -> list[str]:
    """Data-rank deficiency of the frequency blocks of one side, pooled (with multiplicity)."""
    kept = w.kept.sum(axis=1)
    short = int((mult * (kept - w.data_rank)).sum())
    if short <= 0:
        return []
    blocks = int((w.data_rank < kept).sum())
    if rank_tol is None:
        return [f"{side}: {short} (frequency, direction) pair(s) in {blocks} block class(es) have (near-)zero "
                "variance; rank_tol=None keeps them, lifted by the ridge, with coefficients ~0"]
    return [f"{side}: {short} (frequency, direction) pair(s) in {blocks} block class(es) with variance <= "
            f"rank_tol={rank_tol:g} x the block's largest left the CCA (data rank below the kept channels)"]


def _global_keep(lam, mult, keep, rule):
    """Per-block counts of the globally top directions (all blocks pooled, class f counted
    ``mult[f]`` times), by SVCCA's rule applied to the pooled spectrum.  ``lam`` (F, c)
    eigenvalues, descending per row.  A class is kept or dropped whole (both members of a
    conjugate pair share their eigenvalues), so the kept count may exceed a cut by one copy."""
    f, c = lam.shape
    vals = np.sqrt(lam) if rule == "sum" else lam
    flat = vals.reshape(-1)
    w = np.repeat(mult, c).astype(np.float64)
    order = np.argsort(-flat, kind="stable")
    cut = count_to_keep(flat[order], keep, w[order])
    chosen = np.zeros(flat.size, dtype=bool)
    chosen[order[:cut]] = True
    return chosen.reshape(f, c).sum(axis=1)


def _top_eig(be, s):
    """Eigenvalues (F, c) descending (clipped at 0) and eigenvectors (F, c, c) of a stack."""
    w, v = be.eigh(s)
    return np.maximum(be.to_numpy(w)[:, ::-1], 0.0), v[:, :, ::-1]


def _reduced(xp, lam, vecs, k):
    """SVCCA's reduced blocks, padded: diag(lam_top) (F, K, K), projector (F, c, K), valid (F, K)
    (``lam``, ``k``, ``valid`` on the host; the blocks on the backend's array module ``xp``)."""
    f = lam.shape[0]
    kmax = int(k.max(initial=0))
    valid = np.arange(kmax)[None, :] < k[:, None]
    lam_k = np.where(valid, lam[:, :kmax], 0.0)
    d = np.zeros((f, kmax, kmax), dtype=np.complex128)
    d[:, np.arange(kmax), np.arange(kmax)] = lam_k
    proj = vecs[:, :, :kmax] * xp.asarray(valid)[:, None, :]
    return xp.asarray(d), proj, valid


# ---------------------------------------------------------------------------------- public
@fill_doc
def conv_cca(x, y=None, *, mode: str = "fft", layout: str = "nchw", eps: float = 1e-10,
             rcond: float | None = None, rank_tol: float | None = RANK_TOL,
             batch_size: int | None = None, backend: str = "auto",
             precision: str = "float64") -> ConvResult:
    """CCA between two conv layers.

    Parameters
    ----------
    %(conv_xy)s
    %(conv_mode)s
    %(conv_layout)s
    eps, rcond, rank_tol : float
        As in :func:`fastcca.cca`, applied per frequency block in ``"fft"`` mode (each block
        rescaled by its own largest entry; the data rank relative to the block's own largest
        eigenvalue).  ``eps=0`` with the fft mode is exactly the
        flattened CCA on a translation-invariant dataset.
    %(conv_batch_size)s
    %(conv_backend)s
    precision : {"float64", "float32"}
        FFT/GEMM precision of the fft mode (see :class:`ConvMoments`); default float64.

    Returns
    -------
    ConvResult
        ``similarity``: mean of the pooled coefficients; in fft mode also ``per_frequency``,
        ``frequencies``, ``multiplicity`` and :meth:`ConvResult.per_location`.

    Raises
    ------
    %(conv_raises)s

    Notes
    -----
    Raghu et al. 2017, section 3 and appendix C: under a translation-invariant dataset the
    (h w c)^2 covariance is block diagonal in the DFT basis, one c x c Hermitian block per
    frequency, so CCA over h w c neurons is the union of h w small complex CCAs.  Only
    ``rfft2``'s half spectrum is computed; non-self-conjugate frequencies count twice.  Layers
    of different spatial sizes are compared on their overlapping low frequencies.  Definitions:
    docs/conv.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((300, 4, 6, 6))
    >>> r = fastcca.conv_cca(x, np.roll(x, 2, axis=3))      # a circular shift of the same maps
    >>> round(r.similarity, 6), r.per_frequency.shape        # (frequency classes, channels)
    (1.0, (20, 4))
    """
    mode = check_choice(mode, "mode", MODES)
    layout = check_layout(layout)
    eps = check_nonnegative(eps, "eps")
    rcond = check_tolerance(rcond, "rcond")
    rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = _as_input(x, y, mode, layout, batch_size, backend, precision, "conv_cca")
    if mode != "fft":
        return _wrap(_cca(m, eps=eps, rcond=rcond, rank_tol=rank_tol), m, mode, layout, eps)
    kw = dict(eps=eps, rcond=rcond, rank_tol=rank_tol, float32=m.float32_products)
    pa, pb = both_sides(m._be, lambda: prepare_fft(m._be, m.sxx, **kw), lambda: prepare_fft(m._be, m.syy, **kw))
    return pair_fft(m, pa, pb)


@fill_doc
def conv_svcca(x, y=None, *, mode: str = "fft", layout: str = "nchw", keep: float | int = 0.99,
               keep_rule: str = "sum", eps: float = 1e-10, rank_tol: float | None = RANK_TOL,
               batch_size: int | None = None, backend: str = "auto",
               precision: str = "float64") -> ConvResult:
    """SVCCA between two conv layers.

    Parameters
    ----------
    %(conv_xy)s
    %(conv_mode)s
    %(conv_layout)s
    keep, keep_rule : float or int, {"sum", "variance"}
        As in :func:`fastcca.svcca`; in fft mode applied to the pooled spectrum.
    eps : float, default 1e-10
        As in :func:`fastcca.cca`, per frequency block.
    %(conv_batch_size)s
    %(conv_backend)s
    precision : {"float64", "float32"}
        FFT/GEMM precision of the fft mode.

    Returns
    -------
    ConvResult
        ``k_x``/``k_y`` (fft mode): the directions each frequency kept.

    Raises
    ------
    %(conv_raises)s

    Notes
    -----
    In ``mode="fft"`` the SV step is applied to the pooled spectrum, as SVCCA on the flattened
    h*w*c neurons would: the eigenvalues of every frequency block (class f counted
    ``multiplicity[f]`` times) are ranked together, the top directions are kept by
    ``keep``/``keep_rule``, and each block's CCA runs on its kept directions.  On a
    translation-invariant dataset this equals ``svcca`` of the flattened activations (a
    conjugate pair is kept or dropped whole).  Other modes: :func:`fastcca.svcca` of the
    reshaped activations.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((300, 4, 6, 6))
    >>> s = fastcca.conv_svcca(x, x[:, :2] + 0.1 * rng.standard_normal((300, 2, 6, 6)))
    >>> 0.9 < s.similarity <= 1
    True
    """
    mode = check_choice(mode, "mode", MODES)
    layout = check_layout(layout)
    keep = check_fraction_or_count(keep)
    keep_rule = check_choice(keep_rule, "keep_rule", KEEP_RULES)
    eps = check_nonnegative(eps, "eps")
    rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = _as_input(x, y, mode, layout, batch_size, backend, precision, "conv_svcca")
    if mode != "fft":
        return _wrap(_svcca(m, keep=keep, keep_rule=keep_rule, eps=eps, rank_tol=rank_tol), m, mode, layout, eps)

    kw = dict(keep=keep, keep_rule=keep_rule, eps=eps, rank_tol=rank_tol, float32=m.float32_products)
    mult, be = m.grid.multiplicity, m._be
    pa, pb = both_sides(be, lambda: prepare_svcca_fft(be, m.sxx, mult, **kw),
                        lambda: prepare_svcca_fft(be, m.syy, mult, **kw))
    return pair_fft(m, pa, pb)


@dataclass(frozen=True)
class FFTSide:
    """One side of a conv pair in fft mode, prepared once for all its pairs: the whitening of
    its per-frequency blocks (:func:`fastcca._canonical.whiten_batched`; for SVCCA of its
    reduced blocks ``diag(lambda_k)``), the settings, and for SVCCA the kept directions:
    ``k`` (F,) per class, ``proj`` (F, c, K) padded eigenvectors, ``valid`` (F, K)."""
    w: BatchedWhitening
    eps: float
    rank_tol: float | None
    inflation: float = 0.0
    k: np.ndarray = None
    proj: object = None
    keep: float | int | None = None
    keep_rule: str | None = None


def prepare_fft(be, s, *, eps: float = 1e-10, rcond: float | None = None, rank_tol=RANK_TOL,
                float32: bool = False) -> FFTSide:
    """One side of :func:`conv_cca` in fft mode: the whitening of every frequency block of the
    stack ``s`` (F, c, c) (validated arguments)."""
    tol, drop = resolve_rank_tol(rank_tol)
    w = whiten_batched(be, s, eps, rcond, None, tol, drop)
    return FFTSide(w, eps, rank_tol, batched_max_variance_inflation(be, w, s) if float32 else 0.0)


def prepare_svcca_fft(be, s, multiplicity, *, keep=0.99, keep_rule: str = "sum", eps: float = 1e-10,
                      rank_tol=RANK_TOL, float32: bool = False) -> FFTSide:
    """One side of :func:`conv_svcca` in fft mode: the eigendecomposition of every frequency
    block of ``s`` (F, c, c), the top directions of the pooled spectrum (class f counted
    ``multiplicity[f]`` times) and the whitening of the reduced blocks."""
    lam, vecs = _top_eig(be, s)
    k = _global_keep(lam, multiplicity, keep, keep_rule)
    d, proj, valid = _reduced(be.xp, lam, vecs, k)
    tol, drop = resolve_rank_tol(rank_tol)
    w = whiten_batched(be, d, eps, None, valid, tol, drop, diagonal=True)
    inflation = _kept_space_inflation(be, s, lam, proj, valid) if float32 else 0.0
    return FFTSide(w, eps, rank_tol, inflation, k, proj, keep, keep_rule)


def pair_fft(m: ConvMoments, pa: FFTSide, pb: FFTSide, sxy=None) -> ConvResult:
    """conv CCA (``pa``, ``pb`` from :func:`prepare_fft`) or conv SVCCA (from
    :func:`prepare_svcca_fft`) of two prepared sides and the cross stack ``sxy`` (default
    ``m.sxy``); ``m``: the pair's :class:`ConvMoments` (its count, grid, layout)."""
    be = m._be
    sxy = m.sxy if sxy is None else sxy
    inflation = {"side x": pa.inflation, "side y": pb.inflation} if m.float32_products else None
    if pa.proj is None:
        sol = correlate_batched(be, pa.w, pb.w, sxy)
        return _fft_result(m, sol, "conv_cca", pa.eps, [], "conv CCA (per frequency block)",
                           inflation=inflation, rank_tol=pa.rank_tol)
    sxy_k = be.block_matmul(pa.proj.conj().transpose(0, 2, 1), be.block_matmul(sxy, pb.proj))
    sol = correlate_batched(be, pa.w, pb.w, sxy_k, diagonal=True)
    mult = m.grid.multiplicity
    notes = [f"SV step on the pooled spectrum: kept {int((mult * pa.k).sum())} x and "
             f"{int((mult * pb.k).sum())} y directions (keep={pa.keep!r}, rule={pa.keep_rule!r})"]
    return _fft_result(m, sol, "conv_svcca", pa.eps, notes, "conv SVCCA (per frequency block)", pa.k, pb.k,
                       inflation=inflation, rank_tol=pa.rank_tol)


def _kept_space_inflation(be, s, lam, proj, valid) -> float:
    """:func:`fastcca.measures.svcca.kept_space_inflation` per frequency block, the largest:
    ``max_b,i Re(S_b,ii) sum_j |P_b,ij|^2 / lambda_b,j`` over kept directions j (``lam`` (F, c)
    host eigenvalues, descending; ``proj`` (F, c, K) the kept eigenvectors)."""
    xp = be.xp
    kmax = valid.shape[1]
    lam = lam[:, :kmax]
    inv = np.where(valid & (lam > 0), 1.0 / np.where(lam > 0, lam, 1.0), 0.0)        # (F, K)
    if not inv.any():
        return 0.0
    w = xp.sum(xp.abs(proj) ** 2 * xp.asarray(inv)[:, None, :], axis=2)              # (F, c)
    vif = be.to_numpy(xp.real(xp.diagonal(s, axis1=1, axis2=2)) * w)
    return float(vif.max())


@fill_doc
def conv_pwcca(x, y=None, *, mode: str = "mean", layout: str = "nchw", eps: float = 1e-10,
               variant: str = "paper", side: str | None = None, rank_tol="auto",
               batch_size: int | None = None, backend: str = "auto") -> ConvResult:
    """PWCCA between two conv layers, on the reshaped activations.

    Parameters
    ----------
    %(conv_xy)s
    mode : {"mean", "fold", "flatten"}
        ``"mean"`` (default): each channel's spatial mean, the PWCCA paper's CIFAR setting.
        ``"fft"`` is not offered: projection weights are defined on real neurons, not on complex
        frequency blocks.
    layout : {"nchw", "nhwc"}
    eps, variant, side, rank_tol
        As in :func:`fastcca.pwcca`.
    %(conv_batch_size)s
    %(conv_backend)s

    Returns
    -------
    ConvResult
        ``inner`` is the :class:`PWCCAResult` of the reshaped activations.

    Raises
    ------
    ValueError
        Mismatched image counts, a wrong rank, NaN/Inf, an unknown mode or layout, an argument
        out of range, layers that ``mode="fold"`` cannot compare (different spatial sizes), an
        empty moments object or fewer than 2 images (also after merges).
    TypeError
        A moments object together with ``y``, the wrong kind of moments for ``mode``, masked,
        sparse or iterator input, or a non-numeric argument.
    FloatingPointError
        The moments hold inf/NaN (never from finite input; docs/numerics.md).
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a usable GPU.

    Notes
    -----
    Morcos et al. 2018, section 2.2 and their CIFAR-10 experiments (each conv filter
    represented by its mean over spatial positions).

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 6, 4, 4))
    >>> r = fastcca.conv_pwcca(x, x[:, :3] + rng.standard_normal((500, 3, 4, 4)))
    >>> r.mode, r.inner.measure
    ('mean', 'pwcca')
    """
    mode = check_choice(mode, "mode", ("fold", "flatten", "mean"))
    layout = check_layout(layout)
    eps = check_nonnegative(eps, "eps")
    m = _as_input(x, y, mode, layout, batch_size, backend, what="conv_pwcca")
    return _wrap(_pwcca(m, eps=eps, variant=variant, side=side, rank_tol=rank_tol), m, mode, layout, eps)

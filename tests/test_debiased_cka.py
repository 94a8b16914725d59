"""Debiased linear CKA in one streaming pass: the O(n^2) Gram-matrix formula of the unbiased
HSIC (Song et al. 2012), exact merges, power-of-two units, files, and its unbiasedness."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcca
from conftest import make_pair


def hsic_u(k, l):
    """Song et al. 2012, Theorem 1, on Gram matrices (diagonals zeroed)."""
    n = k.shape[0]
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    one = np.ones(n, dtype=k.dtype)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))


def gram_cka(x, y):
    """Debiased CKA from the raw (uncentred) activations' linear Gram matrices, in extended
    precision (the uncentred Gram formula cancels ~(offset / spread)^2 of its digits)."""
    x, y = np.asarray(x, dtype=np.longdouble), np.asarray(y, dtype=np.longdouble)
    k, l = x @ x.T, y @ y.T
    return float(hsic_u(k, l) / np.sqrt(hsic_u(k, k) * hsic_u(l, l)))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), p=st.integers(1, 6), q=st.integers(1, 6), seed=st.integers(0, 2**16),
       batch=st.integers(1, 13), offset=st.floats(-3, 3))
def test_matches_the_gram_formula(n, p, q, seed, batch, offset):
    """Uncentred data (the Gram formula's own form); offsets small against the spread, since
    the uncentred formula cancels ~(offset / spread)^4 of its digits (large offsets: below)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * rng.uniform(0.5, 10, p) + offset
    y = x[:, :1] @ rng.standard_normal((1, q)) + rng.standard_normal((n, q))
    want = gram_cka(x, y)
    m = fastcca.Moments(debiased_cka=True)
    for lo in range(0, n, batch):
        m.update(x[lo:lo + batch], y[lo:lo + batch])
    assert fastcca.debiased_cka(m).similarity == pytest.approx(want, rel=1e-10, abs=1e-10)
    assert fastcca.debiased_cka(x, y).similarity == pytest.approx(want, rel=1e-10, abs=1e-10)


def test_translation_changes_nothing():
    """HSIC_u is invariant to translating either side; the streaming form centres exactly, so
    large offsets (where the uncentred Gram formula loses its digits) change nothing."""
    x, y = make_pair(40, 4, 3, seed=5)
    want = gram_cka(x - x.mean(0), y - y.mean(0))
    for ox, oy in ((1e3, -1e3), (1e6, 0.0), (-50.0, 7.0)):
        assert fastcca.debiased_cka(x + ox, y + oy).similarity == pytest.approx(want, rel=1e-10)


def test_merge_order_and_streaming_do_not_change_it():
    x, y = make_pair(600, 8, 5, seed=1)
    x = x + 4.0
    whole = fastcca.debiased_cka(x, y).similarity
    parts = [fastcca.Moments(debiased_cka=True).update(x[lo:lo + 90], y[lo:lo + 90]) for lo in range(0, 600, 90)]
    for order in (parts, parts[::-1], parts[2:] + parts[:2]):
        m = fastcca.Moments(debiased_cka=True)
        for part in order:
            m.merge(part)
        assert fastcca.debiased_cka(m).similarity == pytest.approx(whole, rel=1e-12)
    same = fastcca.Moments(debiased_cka=True).update(x, x)                # y is x: one block
    assert fastcca.debiased_cka(same).similarity == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("sx, sy", [(1e150, 1.0), (1e-150, 1e120), (3.0, 1e-200)])
def test_power_of_two_units(sx, sy):
    """Each side in its own power-of-two units: the value of the rescaled data is the value."""
    x, y = make_pair(300, 5, 4, seed=2)
    want = fastcca.debiased_cka(x, y).similarity
    m = fastcca.Moments(debiased_cka=True)
    for lo in range(0, 300, 64):                                       # batches of different spreads
        scale = 1.0 if lo < 128 else 2.0 ** 70
        m.update(x[lo:lo + 64] * sx * scale, y[lo:lo + 64] * sy)
    xs = x * sx * np.where(np.arange(300) < 128, 1.0, 2.0 ** 70)[:, None]
    assert fastcca.debiased_cka(m).similarity == pytest.approx(fastcca.debiased_cka(xs, y * sy).similarity, rel=1e-10)
    m2 = fastcca.Moments(debiased_cka=True).update(x * sx, y * sy)
    assert fastcca.debiased_cka(m2).similarity == pytest.approx(want, rel=1e-10)


def test_files_pickles_and_copies_keep_the_statistics(tmp_path):
    x, y = make_pair(200, 4, 3, seed=3)
    m = fastcca.Moments(debiased_cka=True).update(x, y)
    want = fastcca.debiased_cka(m).similarity
    m.save(tmp_path / "m.npz")
    for other in (fastcca.Moments.load(tmp_path / "m.npz"), pickle.loads(pickle.dumps(m)), m.copy()):
        assert other.debiased_cka and fastcca.debiased_cka(other).similarity == want
    plain = fastcca.Moments().update(x, y)
    plain.save(tmp_path / "p.npz")
    assert fastcca.Moments.load(tmp_path / "p.npz")._hsic is None


def test_refusals():
    x, y = make_pair(50, 3, 3)
    plain = fastcca.Moments().update(x, y)
    with pytest.raises(ValueError, match="debiased_cka=True"):
        fastcca.debiased_cka(plain)
    kept = fastcca.Moments(debiased_cka=True).update(x, y)
    before = kept._hsic.copy()
    with pytest.raises(ValueError, match="other: holds no debiased-CKA statistics"):
        kept.merge(plain)
    assert kept.n == 50 and kept._hsic.a2 == before.a2
    plain.merge(kept)                                  # the other way round: the statistics are not kept
    assert plain._hsic is None and plain.n == 100
    with pytest.raises(ValueError, match="n >= 4"):
        fastcca.debiased_cka(x[:3], y[:3])
    with pytest.raises(TypeError, match="debiased_cka"):
        fastcca.Moments(debiased_cka="yes")


def test_unbiased_where_linear_cka_is_not():
    """Independent wide representations with n ~ p: linear CKA sits far above 0, the debiased
    estimate averages to ~0 (its standard error over 30 draws)."""
    rng = np.random.default_rng(4)
    plain, debiased = [], []
    for _ in range(30):
        x, y = rng.standard_normal((60, 40)), rng.standard_normal((60, 40))
        plain.append(fastcca.linear_cka(x, y).similarity)
        debiased.append(fastcca.debiased_cka(x, y).similarity)
    assert np.mean(plain) > 0.3
    assert abs(np.mean(debiased)) < 3 * np.std(debiased) / np.sqrt(30) + 1e-3

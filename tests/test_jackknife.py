"""Shards and the delete-one-shard jackknife: routing, exact leave-one-out moments, the grouped
estimator, and the coverage of its intervals on data whose true value is known."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import fastcca
from fastcca.error_bars import grouped_jackknife, leave_one_out
from conftest import make_pair


def host(acc, a):
    return acc._be.to_numpy(a)


def assert_same_moments(a, b, rtol=1e-12):
    assert a.n == b.n
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        want = host(b, getattr(b, k))
        np.testing.assert_allclose(host(a, getattr(a, k)), want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("shard_by", ["batch", "index"])
def test_routing_and_the_total(shard_by):
    x, y = make_pair(530, 5, 4, seed=1)
    m = fastcca.Moments(shards=4, shard_by=shard_by)
    sizes = (100, 7, 200, 23, 200)
    lo = 0
    for b in sizes:
        m.update(x[lo:lo + b], y[lo:lo + b])
        lo += b
    got = [s.n for s in m.shards]
    if shard_by == "batch":
        assert got == [100 + 200, 7, 200, 23]                  # batch k to shard k % 4
    else:
        assert got == [133, 133, 132, 132]                     # datapoint i to shard i % 4
    total = fastcca.Moments()
    for s in m.shards:
        total.merge(s)
    assert_same_moments(m, total)
    assert_same_moments(m, fastcca.Moments().update(x, y))
    if shard_by == "index":
        rows = np.arange(1, 530, 4)                            # shard 1: datapoints 1, 5, 9, ...
        assert_same_moments(m.shards[1], fastcca.Moments().update(x[rows], y[rows]))


def test_leave_one_out_is_the_merge_of_the_others():
    x, y = make_pair(700, 4, 3, seed=2)
    m = fastcca.Moments(shards=7, shard_by="index", debiased_cka=True).update(x, y)
    seen = []
    for j, acc in leave_one_out(m.shards):
        rows = np.flatnonzero(np.arange(700) % 7 != j)
        assert_same_moments(acc, fastcca.Moments().update(x[rows], y[rows]), rtol=1e-11)
        assert fastcca.debiased_cka(acc).similarity == pytest.approx(fastcca.debiased_cka(x[rows], y[rows]).similarity,
                                                                     rel=1e-11)
        seen.append(j)
    assert sorted(seen) == list(range(7))
    assert [s.n for s in m.shards] == [100] * 7                # the shards are not modified


def test_grouped_jackknife_reduces_to_tukeys():
    rng = np.random.default_rng(3)
    reps = rng.normal(0.5, 0.01, 10)
    est, se = grouped_jackknife(0.5, reps, [50] * 10)
    assert se == pytest.approx(np.sqrt(9 / 10 * np.sum((reps - reps.mean()) ** 2)), rel=1e-12)
    assert est == pytest.approx(10 * 0.5 - 9 * reps.mean(), rel=1e-12)
    # the mean over groups of any sizes: the pseudo-values are the group means (Busing et al.),
    # the estimate is the mean itself and var = (1/k) sum_j (mean_j - mean)^2 / (n / m_j - 1)
    data = rng.standard_normal(300)
    sizes = np.array([30, 70, 50, 100, 50])
    groups = np.split(data, np.cumsum(sizes)[:-1])
    reps = [np.mean(np.concatenate(groups[:j] + groups[j + 1:])) for j in range(5)]
    est, se = grouped_jackknife(data.mean(), reps, sizes)
    means = np.array([g.mean() for g in groups])
    assert est == pytest.approx(data.mean(), abs=1e-14)
    assert se ** 2 == pytest.approx(np.sum((means - data.mean()) ** 2 / (300 / sizes - 1)) / 5, rel=1e-12)


def test_every_registry_measure_and_callables():
    x, y = make_pair(1200, 5, 4, seed=4)
    m = fastcca.Moments(shards=8, shard_by="index", debiased_cka=True).update(x, y)
    for name, spec in fastcca.REGISTRY.items():
        j = fastcca.jackknife(m, name)
        assert j.estimate == pytest.approx(spec.value(spec(x, y)), rel=1e-10)
        assert j.se > 0 and j.ci[0] < j.estimate < j.ci[1] and j.kind == spec.kind
    k = fastcca.jackknife(m, lambda acc: fastcca.svcca(acc, keep=2).similarity)
    assert k.estimate == pytest.approx(fastcca.svcca(x, y, keep=2).similarity)
    assert "jackknife SE over 8 shards" in str(k) and set(k.to_dict()) >= {"se", "ci", "replicates"}


def test_shards_in_merges_copies_and_pickles():
    x, y = make_pair(400, 3, 3, seed=5)
    a = fastcca.Moments(shards=4).update(x[:100], y[:100]).update(x[100:200], y[100:200])
    b = fastcca.Moments(shards=4).update(x[200:300], y[200:300]).update(x[300:], y[300:])
    a.merge(b)                                                 # shard by shard
    assert [s.n for s in a.shards] == [200, 200, 0, 0]
    c = fastcca.Moments(shards=4).update(x[:200], y[:200])
    c.merge(fastcca.Moments().update(x[200:], y[200:]))        # a plain part: to the next shard
    assert [s.n for s in c.shards] == [200, 200, 0, 0]
    with pytest.raises(ValueError, match="shards"):
        a.merge(fastcca.Moments(shards=3).update(x, y))
    for other in (a.copy(), pickle.loads(pickle.dumps(a))):
        assert [s.n for s in other.shards] == [200, 200, 0, 0]
    with pytest.raises(ValueError, match="empty"):
        fastcca.jackknife(a, "cca")


def test_a_failing_update_changes_no_shard():
    x, y = make_pair(100, 3, 3, seed=6)
    for shard_by in ("batch", "index"):
        m = fastcca.Moments(shards=3, shard_by=shard_by).update(x[:60], y[:60])
        before = [(s.n, host(s, s.sxx).copy() if s.n else None) for s in m.shards]
        bad = x[60:].copy()
        bad[-1, 0] = np.nan
        with pytest.raises(ValueError, match="NaN or Inf"):
            m.update(bad, y[60:])
        assert [s.n for s in m.shards] == [n for n, _ in before] and m.n == 60
        for s, (_, sxx) in zip(m.shards, before):
            if s.n:
                np.testing.assert_array_equal(host(s, s.sxx), sxx)


def test_refusals():
    x, y = make_pair(50, 3, 3)
    with pytest.raises(ValueError, match="shards"):
        fastcca.Moments(shards=1)
    with pytest.raises(TypeError, match="shards"):
        fastcca.Moments(shards=2.5)
    with pytest.raises(ValueError, match="shard_by"):
        fastcca.Moments(shards=4, shard_by="class")
    with pytest.raises(ValueError, match="keeps no shards"):
        fastcca.jackknife(fastcca.Moments().update(x, y), "cca")
    m = fastcca.Moments(shards=2).update(x, y).update(x, y)
    with pytest.raises(ValueError, match="confidence"):
        fastcca.jackknife(m, "cca", confidence=1.0)
    with pytest.raises(TypeError, match="alpha"):
        fastcca.jackknife(m, "cca", alpha=0.5)
    with pytest.raises(TypeError, match="Moments"):
        fastcca.jackknife((x, y), "cca")


def _coverage(measure, truth, draw, draws=200, shards=20):
    hits = 0
    for i in range(draws):
        x, y = draw(np.random.default_rng(1000 + i))
        m = fastcca.Moments(shards=shards, shard_by="index", debiased_cka=measure == "debiased_cka").update(x, y)
        lo, hi = fastcca.jackknife(m, measure).ci
        hits += lo <= truth <= hi
    return hits / draws


def canonical_pair(rng, n=1000, rho=(0.6, 0.3)):
    """x ~ N(0, I_2), y_i = rho_i x_i + sqrt(1 - rho_i^2) e_i: canonical correlations rho."""
    rho = np.asarray(rho)
    x = rng.standard_normal((n, 2))
    return x, x * rho + rng.standard_normal((n, 2)) * np.sqrt(1 - rho ** 2)


@pytest.mark.parametrize("measure, truth", [
    ("cca", 0.45),                                   # mean of the canonical correlations
    ("debiased_cka", (0.36 + 0.09) / 2),             # ||Sxy||^2 / (||Sxx|| ||Syy||) = sum rho^2 / 2
])
def test_95_percent_intervals_cover_the_truth(measure, truth):
    """200 simulated draws with a known population value: the 95% intervals cover it 90-99% of
    the time (binomial sd at 95%: 1.5%)."""
    cover = _coverage(measure, truth, canonical_pair)
    assert 0.90 <= cover <= 0.99, cover


def test_accumulators_of_any_kind_and_array_values():
    """User-made shards of a JointMoments: error bars for every entry of a layer grid, equal to
    the jackknife of each pair's Moments; a ConvMoments list with a conv measure."""
    x, y = make_pair(600, 4, 3, seed=8)
    parts = [fastcca.JointMoments().update({"x": x[lo:lo + 100], "y": y[lo:lo + 100]}) for lo in range(0, 600, 100)]
    j = fastcca.jackknife(parts, lambda jm: fastcca.similarity_grid(jm, measure="cca").values)
    assert j.estimate.shape == (2, 2) and j.se.shape == (2, 2) and j.replicates.shape == (6, 2, 2)
    m = fastcca.Moments(shards=6)
    for lo in range(0, 600, 100):
        m.update(x[lo:lo + 100], y[lo:lo + 100])
    pair = fastcca.jackknife(m, "cca")
    assert j.se[0, 1] == pytest.approx(pair.se, rel=1e-9) and j.estimate[0, 1] == pytest.approx(pair.estimate)
    assert "shards" in str(j) and np.asarray(j.to_dict()["se"]).shape == (2, 2)
    rng = np.random.default_rng(0)
    convs = [fastcca.ConvMoments().update(a := rng.standard_normal((40, 2, 4, 4)), a + rng.standard_normal(a.shape))
             for _ in range(4)]
    c = fastcca.jackknife(convs, lambda cm: fastcca.conv_cca(cm).similarity)
    assert 0 < c.se < 0.2
    with pytest.raises(TypeError, match="one kind"):
        fastcca.jackknife([parts[0], m], lambda a: 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        fastcca.jackknife(parts[:1], lambda a: 0.0)

"""fastcca.conv.joint.JointConvMoments: many conv-layer pairs from one pass equal ConvMoments of
each pair alone (streamed in chunks, any order of the pair, different spatial sizes)."""
import itertools

import numpy as np
import pytest

from fastcca.conv import ConvMoments, conv_cca, conv_svcca, frequency_grid
from fastcca.conv.joint import JointConvMoments
from test_conv import host

FIELDS = ("sxx", "syy", "sxy", "mean_x", "mean_y")


@pytest.fixture(scope="module")
def acts():
    rng = np.random.default_rng(0)
    n = 90
    a = rng.standard_normal((n, 3, 8, 8)) + 2.0                      # an offset: the means matter
    b = rng.standard_normal((n, 4, 4, 6))
    b[:, :2] += a[:, :2, ::2, :6]                                     # correlated, different size
    c = rng.standard_normal((n, 5, 8, 8)) + 0.5 * a[:, :1]
    return {"a": a, "b": b, "c": c}


def test_grid_of_a_pair_does_not_depend_on_its_order():
    # what lets (a, b) and (b, a) share one state and the diagonal stacks be shared
    for s1 in itertools.product(range(1, 7), repeat=2):
        for s2 in itertools.product(range(1, 7), repeat=2):
            g, h = frequency_grid(s1, s2), frequency_grid(s2, s1)
            assert (g.freqs == h.freqs).all() and (g.rows_x == h.rows_y).all()
            assert (g.multiplicity == h.multiplicity).all()


@pytest.mark.parametrize("chunk_bytes", [1, 200_000, 1 << 30])        # 1 image, a few, the batch
def test_streamed_pairs_equal_convmoments_of_each_pair(acts, chunk_bytes):
    pairs = [("a", "b"), ("b", "a"), ("a", "c"), ("c", "b"), ("a", "a")]
    jm = JointConvMoments(pairs, chunk_bytes=chunk_bytes)
    for lo in range(0, 90, 25):
        jm.update({k: v[lo:lo + 25] for k, v in acts.items()})
    assert jm.n == 90 and len(jm.pairs) == 4                          # (b, a) shares (a, b)
    for x, y in pairs:
        ref, m = ConvMoments.from_arrays(acts[x], acts[y]), jm.moments(x, y)
        assert m.shape_x == acts[x].shape[1:] and m.grid.n_classes == ref.grid.n_classes
        for f in FIELDS:
            r = host(getattr(ref, f))
            np.testing.assert_allclose(host(getattr(m, f)), r, rtol=0, atol=1e-12 * np.abs(r).max())
        for fn in (conv_cca, conv_svcca):
            assert fn(m).similarity == pytest.approx(fn(acts[x], acts[y]).similarity, abs=1e-12)


def test_bad_batches_leave_the_state_unchanged(acts):
    jm = JointConvMoments([("a", "b")])
    jm.update({"a": acts["a"][:30], "b": acts["b"][:30]})
    before = jm.moments("a", "b")
    bad = acts["b"][30:40].copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"batch\['b'\]: NaN or Inf"):
        jm.update({"a": acts["a"][30:40], "b": bad})
    with pytest.raises(ValueError, match="missing layer"):
        jm.update({"a": acts["a"][30:40]})
    with pytest.raises(ValueError, match="same images"):
        jm.update({"a": acts["a"][30:40], "b": acts["b"][30:39]})
    with pytest.raises(ValueError, match=r"differs from the first batch's \(4, 4, 6\)"):
        jm.update({"a": acts["a"][30:40], "b": acts["b"][30:40, :, :3]})
    with pytest.raises(ValueError, match="4-D conv activation"):
        jm.update({"a": acts["a"][30:40], "b": acts["b"][30:40, 0]})
    after = jm.moments("a", "b")
    assert jm.n == 30
    for f in FIELDS:
        np.testing.assert_array_equal(host(getattr(after, f)), host(getattr(before, f)))
    with pytest.raises(KeyError, match="not accumulated"):
        jm.moments("a", "c")
    with pytest.raises(ValueError, match="empty"):
        JointConvMoments([])
    with pytest.raises(ValueError, match="empty"):
        JointConvMoments([("a", "b")]).moments("a", "b")


def _shards(acts, cuts, scales=None, **kw):
    pairs = [("a", "b"), ("a", "c"), ("c", "c")]
    out = []
    for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:])):
        s = 1.0 if scales is None else scales[i]
        out.append(JointConvMoments(pairs, **kw).update({k: v[lo:hi] * s for k, v in acts.items()}))
    return out


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_merged_shards_equal_one_pass_in_any_order(acts, order):
    """Chan's rule per frequency block: three shards merged in any order give the one-pass
    state (1e-12), also into an empty accumulator and with shards in very different units
    (scaled by 2^40: the merge brings both to the larger units first)."""
    one = _shards(acts, [0, 90])[0]
    parts = _shards(acts, [0, 20, 55, 90])
    merged = JointConvMoments(one.pairs)
    for i in order:
        merged.merge(parts[i])
    assert merged.n == 90
    for x, y in [("a", "b"), ("b", "a"), ("a", "c"), ("c", "c")]:
        m, ref = merged.moments(x, y), one.moments(x, y)
        for f in FIELDS:
            r = host(getattr(ref, f))
            np.testing.assert_allclose(host(getattr(m, f)), r, rtol=0, atol=1e-12 * np.abs(r).max())
        assert conv_cca(m).similarity == pytest.approx(conv_cca(ref).similarity, abs=1e-12)
    big = _shards(acts, [0, 45, 90], scales=[1.0, 2.0 ** 40])
    whole = {k: np.concatenate([v[:45], v[45:] * 2.0 ** 40]) for k, v in acts.items()}
    ref = JointConvMoments(one.pairs).update(whole)
    big[0].merge(big[1])
    assert big[0].exponents == ref.exponents
    for f in FIELDS:
        r = host(getattr(ref.moments("a", "b"), f))
        np.testing.assert_allclose(host(getattr(big[0].moments("a", "b"), f)), r, rtol=0,
                                   atol=1e-12 * np.abs(r).max())


def test_merge_leaves_other_alone_and_refuses_mismatches(acts):
    p1, p2 = _shards(acts, [0, 40, 90])
    before = {f: host(getattr(p2.moments("a", "c"), f)).copy() for f in FIELDS}
    p1.merge(p2)
    for f in FIELDS:
        np.testing.assert_array_equal(host(getattr(p2.moments("a", "c"), f)), before[f])
    assert p1.merge(JointConvMoments(p1.pairs)) is p1 and p1.n == 90      # an empty one: nothing
    with pytest.raises(TypeError, match="JointConvMoments"):
        p1.merge(ConvMoments.from_arrays(acts["a"], acts["b"]))
    with pytest.raises(ValueError, match="pairs"):
        p1.merge(JointConvMoments([("b", "a"), ("a", "c"), ("c", "c")]).update(acts))
    other = JointConvMoments(p1.pairs).update({k: v[:, :, :4] if k == "c" else v for k, v in acts.items()})
    with pytest.raises(ValueError, match="layer shapes"):
        p1.merge(other)
    assert p1.n == 90
    f32 = _shards(acts, [0, 90], precision="float32")[0]
    assert JointConvMoments(p1.pairs).merge(p1).merge(f32).float32_products


def test_jackknife_over_joint_conv_shards(acts):
    """The documented use of ``fastcca.jackknife`` with JointConvMoments shards (it merges
    copies): the estimate is the full-data value, the replicates the leave-one-out ones."""
    import fastcca
    parts = _shards(acts, [0, 30, 60, 90])
    res = fastcca.jackknife(parts, lambda jm: conv_cca(jm.moments("a", "c")).similarity)
    full = conv_cca(_shards(acts, [0, 90])[0].moments("a", "c")).similarity
    assert res.estimate == pytest.approx(full, abs=1e-12) and res.se > 0
    loo = conv_cca(_shards(acts, [0, 30, 60])[0].merge(_shards(acts, [30, 60])[0]).moments("a", "c"))
    assert sorted(res.replicates) == pytest.approx(sorted(
        [conv_cca(_shards(acts, [30, 90])[0].moments("a", "c")).similarity,
         conv_cca(_shards(acts, [0, 30])[0].merge(_shards(acts, [60, 90])[0]).moments("a", "c")).similarity,
         loo.similarity]), abs=1e-12)

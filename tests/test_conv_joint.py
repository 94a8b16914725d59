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

"""JointMoments and similarity grids (no torch needed): every grid entry equals the one-pair
measure on the same data; streaming and merging equal one shot; errors leave the state alone."""
import json

import numpy as np
import pytest

import fastcca
from fastcca.grid import JointMoments, SimilarityMatrix, similarity_grid, similarity_pairs
from conftest import to_host

N = 1500


@pytest.fixture(scope="module")
def acts():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((N, 20))
    a = z[:, :15] @ rng.standard_normal((15, 15))
    a[:, 3] = 2.5                                                # a constant neuron: dropped by eps
    b = np.tanh(z[:, :15] @ rng.standard_normal((15, 12))) + 0.1 * rng.standard_normal((N, 12))
    c = z @ rng.standard_normal((20, 25)) + 0.3 * rng.standard_normal((N, 25))
    d = (c[:, :9] ** 2).astype(np.float32)                       # float32 layer
    return {"a": a, "b": b, "c": c, "d": d}


def _stream(acts, batch=317):
    jm = JointMoments()
    for lo in range(0, N, batch):
        jm.update({k: v[lo:lo + batch] for k, v in acts.items()})
    return jm


ONE_PAIR = {
    "svcca": lambda x, y: fastcca.svcca(x, y).similarity,
    "cca": lambda x, y: fastcca.cca(x, y).similarity,
    "mean_cca": lambda x, y: fastcca.mean_cca(x, y).similarity,
    "pwcca": lambda x, y: fastcca.pwcca(x, y).similarity,
    "linear_cka": lambda x, y: fastcca.linear_cka(x, y).similarity,
}


@pytest.mark.parametrize("measure", list(ONE_PAIR))
def test_grid_equals_one_pair_measures(acts, measure):
    g = similarity_grid(_stream(acts), measure=measure)
    ref = np.array([[ONE_PAIR[measure](acts[r], acts[c]) for c in g.columns] for r in g.rows])
    np.testing.assert_allclose(g.values, ref, rtol=0, atol=1e-10)
    assert g.rows == g.columns == ("a", "b", "c", "d") and g.n == N and g.measure == measure


def test_pwcca_side_y_and_svcca_options(acts):
    jm = _stream(acts)
    v, _ = similarity_pairs(jm, [("a", "c"), ("c", "b")], "pwcca", side="y")
    ref = [fastcca.pwcca(acts["a"], acts["c"], side="y").similarity,
           fastcca.pwcca(acts["c"], acts["b"], side="y").similarity]
    np.testing.assert_allclose(v, ref, atol=1e-10)
    for kw in (dict(keep=5), dict(keep=0.9, keep_rule="variance"), dict(keep=0.95)):
        g = similarity_grid(jm, ["a", "b"], ["c", "d"], "svcca", **kw)
        ref = [[fastcca.svcca(acts[r], acts[c], **kw).similarity for c in "cd"] for r in "ab"]
        np.testing.assert_allclose(g.values, ref, atol=1e-10)


def test_symmetry_and_self_similarity(acts):
    jm = _stream(acts)
    for measure in ("svcca", "cca", "linear_cka"):
        g = similarity_grid(jm, ["b", "c", "d"], measure=measure)
        np.testing.assert_allclose(g.values, g.values.T, atol=1e-12)
        np.testing.assert_allclose(np.diag(g.values), 1.0, atol=1e-9)
    g = similarity_grid(jm, measure="pwcca")
    assert not np.allclose(g.values, g.values.T)           # pwcca is not symmetric


def test_streaming_and_merge_equal_one_shot(acts):
    one = JointMoments().update(acts)
    streamed = _stream(acts)
    half = N // 2
    merged = JointMoments().update({k: v[:half] for k, v in acts.items()})
    merged.merge(JointMoments().update({k: v[half:] for k, v in acts.items()}))
    for jm in (streamed, merged):
        assert jm.n == N
        np.testing.assert_allclose(to_host(jm.scatter), to_host(one.scatter), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(to_host(jm.mean), to_host(one.mean), rtol=1e-12, atol=1e-12)
    m = streamed.moments("b", "d")
    ref = fastcca.Moments.from_arrays(acts["b"], acts["d"])
    for k in ("sxx", "syy", "sxy", "mean_x", "mean_y"):
        np.testing.assert_allclose(to_host(getattr(m, k)), to_host(getattr(ref, k)), rtol=1e-12, atol=1e-9)
    assert streamed.total_features == 15 + 12 + 25 + 9
    np.testing.assert_array_equal(to_host(streamed.block("b", "c")), to_host(streamed.scatter[15:27, 27:52]))


def test_bad_batches_leave_state_unchanged(acts):
    jm = _stream(acts)
    before = to_host(jm.scatter).copy(), jm.n
    bad = {k: v[:10].astype(np.float64) for k, v in acts.items()}
    bad["c"][2, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in layer\(s\) \['c'\]"):
        jm.update(bad)
    with pytest.raises(ValueError, match="features"):
        jm.update({**{k: v[:10] for k, v in acts.items()}, "b": acts["b"][:10, :5]})
    with pytest.raises(ValueError, match="same datapoints"):
        jm.update({**{k: v[:10] for k, v in acts.items()}, "b": acts["b"][:9]})
    with pytest.raises(ValueError, match="differ from the first batch"):
        jm.update({"a": acts["a"][:10]})
    np.testing.assert_array_equal(to_host(jm.scatter), before[0])
    assert jm.n == before[1]
    with pytest.raises(KeyError, match="not in these moments"):
        jm.block("zz", "a")
    with pytest.raises(ValueError, match="measure"):
        similarity_grid(jm, measure="cosine")
    with pytest.raises(ValueError, match="empty"):
        similarity_grid(JointMoments())


def test_degenerate_pairs_warn_once():
    rng = np.random.default_rng(1)
    x = {"p": rng.standard_normal((30, 20)), "q": rng.standard_normal((30, 20))}
    with pytest.warns(fastcca.DegenerateCCAWarning, match="pair"):
        g = similarity_grid(JointMoments().update(x), measure="cca")
    assert any("degenerate" in s for s in g.notes)


def test_similarity_matrix_round_trip():
    m = SimilarityMatrix("svcca", ("l1", "l2"), ("c0", "c1", "c2"), np.arange(6.0).reshape(2, 3) / 6,
                         row_title="layer", column_title="checkpoint", n=10, params={"keep": 0.99})
    d = json.loads(m.to_json())
    back = SimilarityMatrix.from_dict(d)
    np.testing.assert_array_equal(back.values, m.values)
    assert back.rows == m.rows and back.columns == m.columns and back.params == {"keep": 0.99}
    assert m.value("l2", "c1") == pytest.approx(4 / 6)
    np.testing.assert_allclose(m.distance, 1 - m.values)
    with pytest.raises(KeyError):
        m.value("l3", "c1")
    with pytest.raises(ValueError, match="shape"):
        SimilarityMatrix("cca", ("a",), ("b",), np.zeros((2, 2)))
    assert "l2" in str(m)


def test_chunked_inplace_update_equals_one_shot(acts, monkeypatch):
    """Batches folded in by several row chunks (in-place syrk on the upper triangle, Chan's rule
    per chunk) give the one-shot scatter; a NaN in the last chunk leaves the state unchanged."""
    monkeypatch.setattr(JointMoments, "CHUNK_BYTES", 1)          # -> 64-row chunks
    jm = _stream(acts, batch=317)
    x = np.concatenate([acts[k].astype(np.float64) for k in acts], axis=1)
    xc = x - x.mean(axis=0)
    np.testing.assert_allclose(to_host(jm.scatter), xc.T @ xc, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(to_host(jm.scatter), to_host(jm.scatter).T)
    before = to_host(jm.scatter).copy(), to_host(jm.mean).copy(), jm.n
    bad = {k: v[:300].copy() for k, v in acts.items()}
    bad["b"][290, 0] = np.inf
    with pytest.raises(ValueError, match=r"\['b'\]"):
        jm.update(bad)
    np.testing.assert_array_equal(to_host(jm.scatter), before[0])
    np.testing.assert_array_equal(to_host(jm.mean), before[1])
    assert jm.n == before[2]


def _tanh_stack(n=6000, width=24, layers=4, seed=3):
    """float32 activations of a small random tanh network (what a float32 model hands over)."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, width)).astype(np.float32)
    out = {}
    for k in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        h = np.tanh(h @ w + np.float32(0.3)).astype(np.float32)
        out[f"t{k}"] = h
    return out


def test_float32_precision_error_is_bounded(monkeypatch):
    """precision='float32' (float32 chunk products, float64 accumulation) stays within the
    documented error of the float64 path: scatter ~1e-7 relative, grid values ~1e-6."""
    acts = _tanh_stack()
    ref, f32 = JointMoments(), JointMoments(precision="float32")
    for lo in range(0, 6000, 1000):
        batch = {k: v[lo:lo + 1000] for k, v in acts.items()}
        ref.update(batch)
        f32.update(batch)
    assert f32.n == ref.n and f32.precision == "float32"
    np.testing.assert_allclose(f32.mean, ref.mean, rtol=0, atol=1e-12)
    rel = np.abs(f32.scatter - ref.scatter).max() / np.abs(ref.scatter).max()
    assert 0 < rel < 1e-6                       # float32 rounding is there, and small (6e-8 seen)
    np.testing.assert_array_equal(f32.scatter, f32.scatter.T)
    for measure in ("svcca", "cca", "pwcca", "linear_cka"):
        d = np.abs(similarity_grid(f32, measure=measure).values - similarity_grid(ref, measure=measure).values).max()
        assert d < 1e-5, (measure, d)
    # several chunks per batch (Chan's rule per chunk) and a bad batch leaving the state unchanged
    monkeypatch.setattr(JointMoments, "CHUNK_BYTES", 1)             # -> 64-row chunks
    chunked = JointMoments(precision="float32")
    for lo in range(0, 6000, 1000):
        chunked.update({k: v[lo:lo + 1000] for k, v in acts.items()})
    assert np.abs(chunked.scatter - ref.scatter).max() / np.abs(ref.scatter).max() < 1e-6
    before = chunked.scatter.copy()
    bad = {k: v[:100].copy() for k, v in acts.items()}
    bad["t2"][99, 0] = np.nan
    with pytest.raises(ValueError, match=r"\['t2'\]"):
        chunked.update(bad)
    np.testing.assert_array_equal(chunked.scatter, before)
    with pytest.raises(ValueError, match="precision"):
        JointMoments(precision="float16")

"""Moments pickles (partials travel between processes: Dask workers, multiprocessing)."""
import pickle

import numpy as np
import pytest

import fastcca
from conftest import host_backend_name, to_host


def test_pickle_round_trip_is_exact_and_cheap():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 40)), rng.standard_normal((300, 25))
    m = fastcca.Moments().update(x, y)
    blob = pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)
    state_bytes = sum(getattr(m, k).nbytes for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"))
    assert len(blob) < state_bytes + 2048  # the arrays and a little metadata, no module
    m2 = pickle.loads(blob)
    assert m2.n == m.n and m2.backend == m.backend == host_backend_name() and m2._be is m._be
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        np.testing.assert_array_equal(to_host(getattr(m2, k)), to_host(getattr(m, k)))
    # the unpickled accumulator keeps streaming and merging like the original
    x2, y2 = rng.standard_normal((100, 40)), rng.standard_normal((100, 25))
    a = m2.update(x2, y2)
    b = fastcca.Moments().update(np.vstack([x, x2]), np.vstack([y, y2]))
    np.testing.assert_allclose(to_host(a.sxy), to_host(b.sxy), rtol=1e-12, atol=1e-12 * np.abs(to_host(b.sxy)).max())
    assert pickle.loads(pickle.dumps(m)).merge(m).n == 600


def test_pickle_empty_keeps_backend_choice():
    for name in ("auto", "cpu"):
        m = pickle.loads(pickle.dumps(fastcca.Moments(name)))
        assert m.n == 0 and m.backend == name if name == "auto" else m.backend == "cpu"
    assert pickle.loads(pickle.dumps(fastcca.Moments("auto")))._be is None


# ---------------------------------------------------------------- the joint accumulators
def _joint_batch(rng, n):
    return {"a": rng.standard_normal((n, 12)), "b": rng.standard_normal((n, 7)) * 1e3}


def _conv_batch(rng, n):
    return {"a": rng.standard_normal((n, 3, 4, 4)), "b": rng.standard_normal((n, 2, 4, 4))}


def _shard(args):
    """A worker's part of a layer grid: its own JointMoments over its rows, sent back pickled."""
    seed, n = args
    return fastcca.JointMoments().update(_joint_batch(np.random.default_rng(seed), n))


def test_joint_moments_pickle_round_trip_keeps_streaming_and_merging():
    from fastcca.conv.joint import JointConvMoments
    rng = np.random.default_rng(1)
    b1, b2 = _joint_batch(rng, 150), _joint_batch(rng, 90)
    jm = fastcca.JointMoments().update(b1)
    jm2 = pickle.loads(pickle.dumps(jm, protocol=pickle.HIGHEST_PROTOCOL))
    assert jm2.n == jm.n and jm2.backend == jm.backend == host_backend_name() and jm2._be is jm._be and jm2.layers == jm.layers
    np.testing.assert_array_equal(to_host(jm2.scatter), to_host(jm.scatter))
    jm2.update(b2)
    whole = fastcca.JointMoments().update({k: np.vstack([b1[k], b2[k]]) for k in b1})
    np.testing.assert_allclose(to_host(jm2.scatter), to_host(whole.scatter), rtol=1e-12,
                               atol=1e-12 * np.abs(to_host(whole.scatter)).max())
    assert pickle.loads(pickle.dumps(fastcca.JointMoments()))._be is None
    cm = JointConvMoments([("a", "b")]).update(_conv_batch(rng, 40))
    cm2 = pickle.loads(pickle.dumps(cm))
    assert cm2.backend == cm.backend == host_backend_name() and cm2.n == 40
    assert fastcca.conv_cca(cm2.moments("a", "b")).similarity == fastcca.conv_cca(cm.moments("a", "b")).similarity


def test_joint_moments_from_worker_processes_merge_to_the_one_pass_grid():
    import multiprocessing
    parts = [(10, 60), (11, 45), (12, 80)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        shards = pool.map(_shard, parts)
    merged = shards[0]
    for s in shards[1:]:
        merged.merge(s)
    batches = [_joint_batch(np.random.default_rng(seed), n) for seed, n in parts]
    whole = fastcca.JointMoments().update({k: np.vstack([b[k] for b in batches]) for k in ("a", "b")})
    assert merged.n == whole.n == 185
    assert fastcca.svcca(merged.moments("a", "b")).similarity == pytest.approx(
        fastcca.svcca(whole.moments("a", "b")).similarity, abs=1e-12)


@pytest.mark.parametrize("kind", ["moments", "conv", "joint", "joint_conv"])
def test_copy_is_independent_of_the_original(kind):
    from fastcca.conv.joint import JointConvMoments
    rng = np.random.default_rng(2)
    if kind == "moments":
        acc, more = fastcca.Moments().update(rng.standard_normal((50, 4)), rng.standard_normal((50, 3))), \
            (rng.standard_normal((20, 4)), rng.standard_normal((20, 3)))
    elif kind == "conv":
        acc, more = fastcca.ConvMoments().update(rng.standard_normal((30, 2, 4, 4)), rng.standard_normal((30, 3, 4, 4))), \
            (rng.standard_normal((10, 2, 4, 4)), rng.standard_normal((10, 3, 4, 4)))
    elif kind == "joint":
        acc, more = fastcca.JointMoments().update(_joint_batch(rng, 50)), (_joint_batch(rng, 20),)
    else:
        acc, more = JointConvMoments([("a", "b")]).update(_conv_batch(rng, 30)), (_conv_batch(rng, 10),)
    before = pickle.dumps(acc)
    twin = acc.copy()
    assert type(twin) is type(acc) and twin.backend == acc.backend and twin.n == acc.n
    twin.update(*more)
    assert twin.n > acc.n
    assert pickle.dumps(acc) == before      # the original's arrays and dicts were not touched

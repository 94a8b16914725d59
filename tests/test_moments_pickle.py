"""Moments pickles (partials travel between processes: Dask workers, multiprocessing)."""
import pickle

import numpy as np

import fastcca


def test_pickle_round_trip_is_exact_and_cheap():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 40)), rng.standard_normal((300, 25))
    m = fastcca.Moments().update(x, y)
    blob = pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)
    state_bytes = sum(getattr(m, k).nbytes for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"))
    assert len(blob) < state_bytes + 2048  # the arrays and a little metadata, no module
    m2 = pickle.loads(blob)
    assert m2.n == m.n and m2.backend == "cpu" and m2._be is m._be
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        np.testing.assert_array_equal(getattr(m2, k), getattr(m, k))
    # the unpickled accumulator keeps streaming and merging like the original
    x2, y2 = rng.standard_normal((100, 40)), rng.standard_normal((100, 25))
    a = m2.update(x2, y2)
    b = fastcca.Moments().update(np.vstack([x, x2]), np.vstack([y, y2]))
    np.testing.assert_allclose(a.sxy, b.sxy, rtol=1e-12, atol=1e-12 * np.abs(b.sxy).max())
    assert pickle.loads(pickle.dumps(m)).merge(m).n == 600


def test_pickle_empty_keeps_backend_choice():
    for name in ("auto", "cpu"):
        m = pickle.loads(pickle.dumps(fastcca.Moments(name)))
        assert m.n == 0 and m.backend == name if name == "auto" else m.backend == "cpu"
    assert pickle.loads(pickle.dumps(fastcca.Moments("auto")))._be is None

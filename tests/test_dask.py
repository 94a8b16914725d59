"""fastcca.dask: moments of chunked dask arrays equal the in-memory one-pass moments.

The distributed tests start and stop their own 2-process LocalCluster (module fixture).
Skipped cleanly when dask (or distributed, or h5py for the store test) is not installed.
"""
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import fastcca  # noqa: E402
from fastcca.dask import ChunkError, moments, moments_delayed  # noqa: E402
from conftest import host_backend_name, to_host  # noqa: E402

FIELDS = ("mean_x", "mean_y", "sxx", "syy", "sxy")
RTOL = 1e-12


def make_pair(n, p, q, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * np.linspace(2.0, 0.1, p) + 3.0  # offset: centring matters
    y = x[:, : min(p, q)] @ rng.standard_normal((min(p, q), q)) + 0.5 * rng.standard_normal((n, q)) - 1.0
    return x, y


@pytest.fixture(scope="module")
def data():
    x, y = make_pair(1000, 11, 7)
    return x, y, fastcca.Moments().update(x, y)


def rel_err(m, ref):
    """Largest relative error over the state: max |a - b| / max |b| per field."""
    assert m.n == ref.n and m.p == ref.p and m.q == ref.q
    return max(float(np.max(np.abs(to_host(getattr(m, k)) - to_host(getattr(ref, k))))
                     / np.max(np.abs(to_host(getattr(ref, k))))) for k in FIELDS)


# chunkings: (row chunks, neuron chunks of x, neuron chunks of y)
CHUNKINGS = [
    pytest.param(100, -1, -1, id="regular"),
    pytest.param(((1, 499, 250, 17, 233),), None, None, id="irregular-rows"),
    pytest.param(137, 4, 3, id="neuron-chunks-merged"),
    pytest.param(1000, -1, -1, id="one-chunk"),
]


def chunked(a, rows, cols):
    if isinstance(rows, tuple):
        return da.from_array(a, chunks=rows + ((a.shape[1],),))
    return da.from_array(a, chunks=(rows, cols))


# ---------------------------------------------------------------------------- threaded
@pytest.mark.parametrize("split_every", [2, 3, 8, 1000])
@pytest.mark.parametrize("rows,xcols,ycols", CHUNKINGS)
def test_threaded_equals_in_memory(data, rows, xcols, ycols, split_every):
    x, y, ref = data
    m = moments(chunked(x, rows, xcols), chunked(y, rows, ycols), split_every=split_every,
                scheduler="threads")
    assert isinstance(m, fastcca.Moments) and m.backend == host_backend_name()
    assert rel_err(m, ref) < RTOL


def test_one_row_chunks_deep_tree(data):
    x, y, ref = data  # 1000 one-row partials, a 10-level binary tree
    m = moments(da.from_array(x, chunks=1), da.from_array(y, chunks=1), split_every=2, scheduler="threads")
    assert rel_err(m, ref) < RTOL


def test_same_array_both_sides(data):
    x, _, _ = data
    ref = fastcca.Moments().update(x, x)
    xd = da.from_array(x, chunks=(90, 5))
    for m in (moments(xd, scheduler="sync"), moments(xd, xd, scheduler="threads")):
        assert rel_err(m, ref) < RTOL


def test_float32_chunks_accumulate_in_float64(data):
    x, y, _ = data
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    ref = fastcca.Moments().update(x32, y32)
    m = moments(da.from_array(x32, chunks=128), da.from_array(y32, chunks=128), scheduler="threads")
    assert m.sxx.dtype == np.float64 and rel_err(m, ref) < 1e-10  # chunk float32->float64 order


def test_measures_run_on_the_result(data):
    x, y, _ = data
    m = moments(da.from_array(x, chunks=150), da.from_array(y, chunks=150), scheduler="threads")
    np.testing.assert_allclose(fastcca.svcca(m).coefficients, fastcca.svcca(x, y).coefficients, rtol=1e-10)
    np.testing.assert_allclose(fastcca.cca(m).coefficients, fastcca.cca(x, y).coefficients, rtol=1e-10)
    assert fastcca.pwcca(m).similarity == pytest.approx(fastcca.pwcca(x, y).similarity, rel=1e-10)
    assert fastcca.linear_cka(m).similarity == pytest.approx(fastcca.linear_cka(x, y).similarity, rel=1e-12)


@pytest.mark.parametrize("split_every,merges", [(2, 8 + 4 + 2 + 1), (4, 4 + 1), (16, 1), (3, 6 + 2 + 1)])
def test_split_every_shapes_the_tree(data, split_every, merges):
    x, y, ref = data
    d = moments_delayed(da.from_array(x, chunks=63), da.from_array(y, chunks=63), split_every=split_every)
    assert math.ceil(1000 / 63) == 16
    keys = list(d.__dask_graph__().keys())
    assert sum(isinstance(k, tuple) and "-merge" in str(k[0]) for k in keys) == merges
    assert sum(isinstance(k, tuple) and str(k[0]).endswith("-chunk") for k in keys) == 16
    assert rel_err(d.compute(scheduler="sync"), ref) < RTOL


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("side,row,bad", [("x", 555, np.nan), ("y", 0, np.inf), ("x", 999, -np.inf)])
def test_nan_chunk_is_named(data, side, row, bad):
    x, y, _ = data
    x, y = x.copy(), y.copy()
    (x if side == "x" else y)[row, 2] = bad
    with pytest.raises(ChunkError) as info:
        moments(da.from_array(x, chunks=100), da.from_array(y, chunks=100), scheduler="threads")
    e = info.value
    k = row // 100
    assert e.chunk == k and e.rows == (100 * k, 100 * k + 100)
    assert f"chunk {k} (rows {100 * k}:{100 * k + 100})" in str(e) and "NaN or Inf" in str(e)
    assert str(e).split("axis: ")[1].startswith(f"{side}:")  # which side, from Moments.update
    assert isinstance(e, ValueError)


def test_chunk_error_pickles():
    e = ChunkError("chunk 3 (rows 30:40): bad", 3, (30, 40))
    e2 = pickle.loads(pickle.dumps(e))
    assert (str(e2), e2.chunk, e2.rows) == (str(e), 3, (30, 40))


def test_mismatched_row_chunks_rechunk_y_to_x(data):
    x, y, ref = data
    xd, yd = da.from_array(x, chunks=(120, -1)), da.from_array(y, chunks=(77, -1))
    m = moments(xd, yd, scheduler="threads")
    assert rel_err(m, ref) < RTOL
    d = moments_delayed(xd, yd)
    n_partials = sum(isinstance(k, tuple) and str(k[0]).endswith("-chunk") for k in d.__dask_graph__())
    assert n_partials == len(xd.chunks[0])  # y followed x's row chunks


def test_mismatched_row_chunks_refused_when_asked(data):
    x, y, _ = data
    with pytest.raises(ValueError, match=r"chunked differently.*x row chunks \(120, 120.*y row chunks \(77, 77"):
        moments(da.from_array(x, chunks=(120, -1)), da.from_array(y, chunks=(77, -1)), rechunk=False)


def test_bad_arguments(data):
    x, y, _ = data
    xd, yd = da.from_array(x, chunks=100), da.from_array(y, chunks=100)
    with pytest.raises(ValueError, match="same datapoints.*1000 rows.*999 rows"):
        moments(xd, yd[:999])
    with pytest.raises(TypeError, match="x: expected a dask.array.Array"):
        moments(x, yd)
    with pytest.raises(ValueError, match="y: expected a 2-D array"):
        moments(xd, yd[:, 0])
    with pytest.raises(ValueError, match="empty input"):
        moments(xd[:0], yd[:0])
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        moments(xd[xd[:, 0] > 0], yd[xd[:, 0] > 0])
    with pytest.raises(ValueError, match="split_every"):
        moments(xd, yd, split_every=1)
    with pytest.raises(ValueError, match="backend"):
        moments(xd, yd, backend="tpu")


class _FlatMoments(fastcca.Moments):
    """A duck accumulator for N-D chunks: flattens (b, ...) to (b, -1), then Moments."""

    def update(self, x, y):
        return super().update(np.reshape(x, (x.shape[0], -1)), np.reshape(y, (y.shape[0], -1)))


def test_custom_accumulator_nd_chunks(data):
    x, y, _ = data
    x3, y3 = x[:, :10].reshape(1000, 2, 5), y[:, :6].reshape(1000, 3, 2)
    ref = fastcca.Moments().update(x[:, :10], y[:, :6])
    m = moments(da.from_array(x3, chunks=(128, 1, 5)), da.from_array(y3, chunks=(200, 3, 1)),
                accumulator=_FlatMoments, scheduler="threads")
    assert isinstance(m, _FlatMoments) and rel_err(m, ref) < RTOL


def test_import_fastcca_does_not_import_dask():
    code = "import sys, fastcca; sys.exit(1 if any(k == 'dask' or k.startswith('dask.') for k in sys.modules) else 0)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


# ---------------------------------------------------------------------------- store (HDF5)
def test_hdf5_store_threaded(data, tmp_path):
    h5py = pytest.importorskip("h5py")
    x, y, _ = data
    path = tmp_path / "acts.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x.astype(np.float32), chunks=(100, x.shape[1]))
        f.create_dataset("y", data=y.astype(np.float32), chunks=(100, y.shape[1]))
    ref = fastcca.Moments().update(x.astype(np.float32), y.astype(np.float32))
    with h5py.File(path, "r") as f:
        m = moments(da.from_array(f["x"], chunks=(200, -1)), da.from_array(f["y"], chunks=(250, -1)),
                    scheduler="threads")
    assert rel_err(m, ref) < 1e-10


# ---------------------------------------------------------------------------- distributed
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, memory_limit="1GiB")
    cl = distributed.Client(cluster)
    try:
        cl.wait_for_workers(2, timeout=60)
        yield cl
    finally:
        cl.close()
        cluster.close()


@pytest.mark.parametrize("rows,xcols,ycols", CHUNKINGS[:3])
@pytest.mark.parametrize("split_every", [2, 5, 64])
def test_distributed_equals_in_memory(client, data, rows, xcols, ycols, split_every):
    x, y, ref = data
    # scheduler_info() falls back to a cached identity without per-worker entries when the
    # scheduler does not answer in time (a loaded CI machine): ask the scheduler directly
    client.wait_for_workers(2, timeout=60)
    assert len(client.nthreads()) == 2
    m = moments(chunked(x, rows, xcols), chunked(y, rows, ycols), split_every=split_every)
    # the worker processes resolve NumPy chunks as a user's would (FASTCCA_TEST_BACKEND's
    # override lives in this process only)
    assert isinstance(m, fastcca.Moments) and m.backend == "cpu"
    assert rel_err(m, ref) < RTOL


def test_distributed_uses_both_workers(client, data):
    from distributed import get_task_stream
    x, y, ref = data
    # lazily generated chunks: nothing is shipped from the client, workers build the data
    xs = da.random.default_rng(5).standard_normal((4000, 9), chunks=(250, -1))
    ys = xs[:, :4] * 2.0 + da.random.default_rng(6).standard_normal((4000, 4), chunks=(250, -1))
    with get_task_stream(client) as ts:
        m = moments(xs, ys, split_every=3)
    workers = {t["worker"] for t in ts.data if "fastcca-moments" in str(t["key"])}
    assert len(workers) == 2
    xn, yn = da.compute(xs, ys, scheduler="sync")
    assert rel_err(m, fastcca.Moments().update(xn, yn)) < RTOL


def test_distributed_nan_chunk_is_named(client, data):
    x, y, _ = data
    x = x.copy()
    x[321, 0] = np.nan
    with pytest.raises(ChunkError, match=r"chunk 3 \(rows 300:400\).*x: the batch holds NaN"):
        moments(da.from_array(x, chunks=100), da.from_array(y, chunks=100))


def test_distributed_mismatched_chunks(client, data):
    x, y, ref = data
    m = moments(da.from_array(x, chunks=(300, -1)), da.from_array(y, chunks=(45, 2)))
    assert rel_err(m, ref) < RTOL


def test_hdf5_store_distributed(client, data, tmp_path):
    h5py = pytest.importorskip("h5py")
    x, y, _ = data
    path = tmp_path / "acts.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y)
    with h5py.File(path, "r") as f:
        m = moments(da.from_array(f["x"], chunks=(128, -1)), da.from_array(f["y"], chunks=(128, -1)))
    assert rel_err(m, data[2]) < RTOL


def test_threaded_scheduler_is_exact_and_launches_no_numba_threading_layer(tmp_path):
    # Four dask threads run the CPU kernels at once.  Those kernels are serial on purpose: Numba's
    # workqueue layer aborts the process on concurrent parallel launches, and its "omp" layer loads
    # a second OpenMP runtime beside torch's (issue [stability], tests/test_openmp_runtimes.py).
    # So the layer must never be launched at all; workqueue is forced so that, should a parallel
    # kernel come back, this test shows the abort too.  A subprocess: the layer is fixed per process.
    script = tmp_path / "wq.py"
    script.write_text(
        "import numba, numpy as np, dask.array as da, fastcca\n"
        "from fastcca.dask import moments\n"
        "rng = np.random.default_rng(0)\n"
        "x, y = rng.standard_normal((20000, 160)), rng.standard_normal((20000, 120))\n"
        "m = moments(da.from_array(x, chunks=500), da.from_array(y, chunks=500), split_every=2,\n"
        "            scheduler='threads', num_workers=4)\n"
        "ref = fastcca.Moments().update(x, y)\n"
        "assert np.abs(m.sxy - ref.sxy).max() <= 1e-12 * np.abs(ref.sxy).max()\n"
        "try:\n"
        "    layer = numba.threading_layer()\n"
        "except ValueError:\n"
        "    layer = None\n"
        "assert layer is None, f'Numba threading layer {layer!r} was launched'\n"
        "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), NUMBA_THREADING_LAYER="workqueue")
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


# ---------------------------------------------------------------------------- GPU (CuPy chunks)
@pytest.mark.gpu
def test_cupy_chunks_reduce_on_cuda_backend(data):
    cp = pytest.importorskip("cupy")
    try:
        fastcca.get_backend("cuda")
    except fastcca.BackendUnavailableError as exc:
        pytest.skip(str(exc))
    x, y, ref = data
    xd = da.from_array(cp.asarray(x), chunks=(128, -1), asarray=False)
    yd = da.from_array(cp.asarray(y), chunks=(128, -1), asarray=False)
    m = moments(xd, yd, split_every=3, scheduler="threads")
    assert m.backend == "cuda"
    host = fastcca.Moments("cpu")
    host.n = m.n
    for k in FIELDS:
        setattr(host, k, cp.asnumpy(getattr(m, k)))
    assert rel_err(host, ref) < 1e-10


# ---------------------------------------------------------------------------- conv layers
from fastcca.dask import conv_moments  # noqa: E402

CONV_FIELDS = ("mean_x", "mean_y", "sxx", "syy", "sxy")


@pytest.fixture(scope="module")
def conv_data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((120, 3, 6, 5)) + 2.0
    y = np.concatenate([x[:, :2, :4, :4] * 1.5, rng.standard_normal((120, 2, 4, 4))], axis=1)
    y = y + 0.3 * rng.standard_normal(y.shape) - 1.0  # (120, 4, 4, 4): different c, h, w
    return x, y, fastcca.ConvMoments().update(x, y)


def conv_rel_err(m, ref):
    assert isinstance(m, fastcca.ConvMoments) and m.n == ref.n
    assert m.shape_x == ref.shape_x and m.shape_y == ref.shape_y
    return max(float(np.max(np.abs(to_host(getattr(m, k)) - to_host(getattr(ref, k))))
                     / np.max(np.abs(to_host(getattr(ref, k))))) for k in CONV_FIELDS)


@pytest.mark.parametrize("xchunks,ychunks,split_every", [
    ((25, -1, -1, -1), (25, -1, -1, -1), 2),
    (((7, 50, 13, 50), 1, 3, 2), ((40, 40, 40), 2, -1, 1), 3),  # irregular rows, split other axes
])
def test_conv_threaded_equals_in_memory(conv_data, xchunks, ychunks, split_every):
    x, y, ref = conv_data
    m = conv_moments(da.from_array(x, chunks=xchunks), da.from_array(y, chunks=ychunks),
                     split_every=split_every, scheduler="threads")
    assert conv_rel_err(m, ref) < RTOL
    a, b = fastcca.conv_cca(m), fastcca.conv_cca(x, y)
    assert np.max(np.abs(a.coefficients - b.coefficients)) <= RTOL * np.max(np.abs(b.coefficients))
    assert abs(a.similarity - b.similarity) <= RTOL * abs(b.similarity)


def test_conv_nhwc_layout(conv_data):
    x, y, ref = conv_data
    xh, yh = np.moveaxis(x, 1, -1), np.moveaxis(y, 1, -1)
    m = conv_moments(da.from_array(xh, chunks=(30, -1, -1, 2)), da.from_array(yh, chunks=(45, -1, -1, -1)),
                     layout="nhwc", scheduler="threads")
    assert m.layout == "nhwc" and conv_rel_err(m, ref) < RTOL


def test_conv_same_array_and_bad_input(conv_data):
    x, _, _ = conv_data
    ref = fastcca.ConvMoments().update(x, x)
    assert conv_rel_err(conv_moments(da.from_array(x, chunks=40), scheduler="sync"), ref) < RTOL
    with pytest.raises(ValueError, match="4-D"):
        conv_moments(da.from_array(x.reshape(120, -1), chunks=40))
    with pytest.raises(ValueError, match="layout"):
        conv_moments(da.from_array(x, chunks=40), layout="chwn")


def test_conv_nan_chunk_is_named(conv_data):
    x, y, _ = conv_data
    y = y.copy()
    y[65, 1, 2, 3] = np.nan
    with pytest.raises(ChunkError) as info:
        conv_moments(da.from_array(x, chunks=30), da.from_array(y, chunks=30), scheduler="threads")
    e = info.value
    assert e.chunk == 2 and e.rows == (60, 90)
    assert "chunk 2 (rows 60:90)" in str(e) and "y: the batch holds NaN or Inf" in str(e)


def test_conv_moments_pickle_roundtrip(conv_data):
    _, _, ref = conv_data
    m = pickle.loads(pickle.dumps(ref, protocol=5))
    assert conv_rel_err(m, ref) == 0.0 and m._be is ref._be
    m.merge(ref)  # the restored accumulator still merges (uses its backend module)
    assert m.n == 2 * ref.n
    empty = pickle.loads(pickle.dumps(fastcca.ConvMoments(layout="nhwc", precision="float32")))
    assert (empty.n, empty.layout, empty.precision) == (0, "nhwc", "float32")


def test_conv_distributed_equals_in_memory(client, conv_data):
    x, y, ref = conv_data
    m = conv_moments(da.from_array(x, chunks=(17, -1, -1, -1)), da.from_array(y, chunks=(40, 2, -1, -1)),
                     split_every=3)
    assert conv_rel_err(m, ref) < RTOL
    a, b = fastcca.conv_cca(m), fastcca.conv_cca(x, y)
    assert np.max(np.abs(a.coefficients - b.coefficients)) <= RTOL * np.max(np.abs(b.coefficients))

"""save / load of the joint accumulators (JointMoments, JointConvMoments): the state round-trips
bitwise (so every grid value is identical), a loaded accumulator streams and merges as the
saved one would, and a foreign, wrong-kind, truncated or inconsistent file is refused with a
message naming the file and what is wrong."""
import pickle

import numpy as np
import pytest

import fastcca
from fastcca.conv import ConvMoments, conv_cca
from fastcca.conv.joint import JointConvMoments
from fastcca.grid import JointMoments, similarity_grid
from conftest import load_backend, to_host

N = 240


@pytest.fixture(scope="module")
def acts():
    rng = np.random.default_rng(21)
    z = rng.standard_normal((N, 8))
    a = z[:, :6] @ rng.standard_normal((6, 6)) + 1.5                     # an offset: the mean matters
    b = np.tanh(z[:, :5] @ rng.standard_normal((5, 4))) + 0.1 * rng.standard_normal((N, 4))
    c = 1e200 * (z @ rng.standard_normal((8, 5)))                        # needs power-of-two units
    return {"a": a, ("B", "fc"): b, 3: c}


@pytest.fixture(scope="module")
def conv_acts():
    rng = np.random.default_rng(22)
    a = rng.standard_normal((60, 3, 6, 6)) + 2.0
    b = rng.standard_normal((60, 2, 4, 4))
    b[:, :1] += a[:, :1, :4, :4]                                          # correlated, smaller
    c = 1e-200 * rng.standard_normal((60, 2, 6, 6))                     # needs power-of-two units
    return {"a": a, "b": b, "c": c}


PAIRS = [("a", "b"), ("c", "a"), ("b", "b")]


def _joint(acts, lo=0, hi=N, **kw):
    return JointMoments(**kw).update({k: v[lo:hi] for k, v in acts.items()})


def _conv(acts, lo=0, hi=60, **kw):
    return JointConvMoments(PAIRS, **kw).update({k: v[lo:hi] for k, v in acts.items()})


def _state(jm):
    """Every attribute of the state, host arrays; what save/load must keep bitwise."""
    if isinstance(jm, JointMoments):
        return dict(n=jm.n, precision=jm.precision, f32=jm.float32_products, slices=list(jm.slices.items()),
                    exponents=jm.exponents, mean=jm.mean, scatter=jm.scatter, lo=jm.lo, hi=jm.hi)
    return dict(n=jm.n, precision=jm.precision, f32=jm.float32_products, layout=jm.layout, pairs=jm.pairs,
                layers=jm.layers, shapes=jm.shapes, exponents=jm.exponents, means=list(jm._mean_img.items()),
                diag=list(jm._diag.items()), cross=list(jm._cross.items()),
                grids=[(p, g.freqs, g.multiplicity) for p, g in jm._grids.items()])


def _same(x, y, tol, what):
    """Equal values: arrays bitwise (same dtype) or, with ``tol``, to ``tol`` of the largest
    entry; containers item by item (device arrays compared on the host)."""
    x, y = to_host(x), to_host(y)
    if isinstance(x, np.ndarray):
        if tol:
            np.testing.assert_allclose(x, y, rtol=tol, atol=tol * np.abs(y).max(), err_msg=what)
        else:
            assert x.dtype == y.dtype and np.array_equal(x, y), what
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), what
        for a, b in zip(x, y):
            _same(a, b, tol, what)
    elif isinstance(x, dict):
        assert list(x) == list(y), what
        _same(list(x.values()), list(y.values()), tol, what)
    else:
        assert x == y, what


def _assert_same_state(a, b, tol=0.0):
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        _same(sa[k], sb[k], tol, k)


# --------------------------------------------------------------------------- JointMoments
def test_joint_moments_round_trip_bitwise(tmp_path, acts):
    jm = _joint(acts)
    assert jm.exponents[3] > 0                                   # the scaled layer's units are saved
    path = tmp_path / "jm.npz"
    jm.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["jm.npz"]   # atomic: no temporary file left
    back = JointMoments.load(path, backend=load_backend())
    assert back.backend == load_backend() and back.layers == ["a", ("B", "fc"), 3]
    _assert_same_state(back, jm)
    for measure in ("svcca", "cca", "pwcca", "linear_cka"):
        g, h = similarity_grid(back, measure=measure), similarity_grid(jm, measure=measure)
        assert np.array_equal(g.values, h.values) and g.notes == h.notes, measure
    assert JointMoments.load(path, backend="auto").backend == "cpu"


def test_joint_moments_loaded_keep_streaming_and_merge(tmp_path, acts):
    whole = _joint(acts)
    _joint(acts, 0, 100).save(tmp_path / "first.npz")
    streamed = JointMoments.load(tmp_path / "first.npz", backend=load_backend()).update({k: v[100:] for k, v in acts.items()})
    _assert_same_state(streamed, whole, tol=1e-12)
    merged = JointMoments.load(tmp_path / "first.npz", backend=load_backend()).merge(_joint(acts, 100))
    _assert_same_state(merged, whole, tol=1e-12)
    # and the other way round: a live accumulator merges a loaded one
    _joint(acts, 100).save(tmp_path / "second.npz")
    _assert_same_state(_joint(acts, 0, 100).merge(JointMoments.load(tmp_path / "second.npz", backend=load_backend())), whole, tol=1e-12)
    np.testing.assert_allclose(similarity_grid(streamed, measure="cca").values,
                               similarity_grid(whole, measure="cca").values, rtol=1e-12)


def test_joint_moments_keep_float32_products(tmp_path, acts):
    small = {k: v for k, v in acts.items() if k != 3}
    jm = _joint(small, precision="float32")
    jm.save(tmp_path / "f32.npz")
    back = JointMoments.load(tmp_path / "f32.npz")
    assert back.precision == "float32" and back.float32_products
    _assert_same_state(back, jm)
    mixed = _joint(small, 0, 100).merge(_joint(small, 100, precision="float32"))      # float64, merged float32
    mixed.save(tmp_path / "mixed.npz")
    back = JointMoments.load(tmp_path / "mixed.npz")
    assert back.precision == "float64" and back.float32_products


def test_joint_moments_save_refuses_what_it_cannot_write(tmp_path, acts):
    with pytest.raises(ValueError, match="empty"):
        JointMoments().save(tmp_path / "empty.npz")
    jm = JointMoments().update({object(): acts["a"], "b": acts[("B", "fc")]})
    with pytest.raises(TypeError, match="cannot be saved"):
        jm.save(tmp_path / "obj.npz")
    assert list(tmp_path.iterdir()) == []                       # nothing written, no temporary left


def test_wrong_kind_is_refused_naming_the_kinds(tmp_path, acts, conv_acts):
    x, y = acts["a"], acts[("B", "fc")]
    fastcca.Moments.from_arrays(x, y).save(tmp_path / "pair.npz")
    _joint(acts).save(tmp_path / "joint.npz")
    ConvMoments().update(conv_acts["a"], conv_acts["b"]).save(tmp_path / "convpair.npz")
    _conv(conv_acts).save(tmp_path / "convjoint.npz")
    cases = [(JointMoments.load, "pair.npz", "fastcca.JointMoments/1", "fastcca.Moments/1"),
             (fastcca.Moments.load, "joint.npz", "fastcca.Moments/1", "fastcca.JointMoments/1"),
             (JointConvMoments.load, "convpair.npz", "fastcca.JointConvMoments/1", "fastcca.ConvMoments/1"),
             (ConvMoments.load, "convjoint.npz", "fastcca.ConvMoments/1", "fastcca.JointConvMoments/1"),
             (JointConvMoments.load, "joint.npz", "fastcca.JointConvMoments/1", "fastcca.JointMoments/1"),
             (JointMoments.load, "convjoint.npz", "fastcca.JointMoments/1", "fastcca.JointConvMoments/1")]
    for load, name, expected, found in cases:
        with pytest.raises(fastcca.FastccaFileError) as info:
            load(tmp_path / name)
        msg = str(info.value)
        assert str(tmp_path / name) in msg and f"expected a {expected}" in msg and f"'{found}'" in msg, msg


@pytest.mark.parametrize("load, make", [(JointMoments.load, _joint), (JointConvMoments.load, None)])
def test_truncated_and_corrupt_files_are_refused(tmp_path, acts, conv_acts, load, make):
    jm = make(acts) if make else _conv(conv_acts)
    good = tmp_path / "good.npz"
    jm.save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "a.npy", np.zeros(3))
    for name, says in (("trunc.npz", "not a readable .npz"), ("empty.npz", "not a readable .npz"),
                       ("a.npy", "single .npy array")):
        with pytest.raises(fastcca.FastccaFileError, match=says) as info:
            load(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def _corrupt(tmp_path, good: dict, field, value, load):
    d = dict(good)
    if value is None:
        del d[field]
    else:
        d[field] = value
    bad = tmp_path / f"bad_{field}.npz"
    np.savez(bad, **d)
    with pytest.raises(fastcca.FastccaFileError) as info:
        load(bad)
    msg = str(info.value)
    assert str(bad) in msg, msg
    return msg


def test_joint_moments_load_checks_every_field(tmp_path, acts):
    path = tmp_path / "jm.npz"
    _joint(acts).save(path)
    good = dict(np.load(path))
    asym = good["scatter"].copy()
    asym[0, 1] += 1e-3 * np.abs(asym).max()
    nan = good["mean"].copy()
    nan[2] = np.nan
    cases = [("n", np.array(0), ["'n'"]), ("layers", np.array("[1, 1, 2]"), ["'layers'", "distinct"]),
             ("layers", np.array("not json"), ["'layers'"]), ("layers", np.array('[{"a": 1}, 2, 3]'), ["'layers'"]),
             ("layers", np.array('["a", "b"]'), ["'widths'", "(2,)"]),
             ("widths", np.array([6, 4, 0]), ["'widths'", ">= 1"]), ("widths", np.array([6.0, 4, 5]), ["'widths'"]),
             ("widths", np.array([6, 4, 6]), ["'mean'", "(16,)"]),
             ("exponents", np.array([0, 0, 5000]), ["'exponents'", "960"]),
             ("mean", nan, ["'mean'", "NaN or Inf"]), ("scatter", asym, ["'scatter'", "not symmetric"]),
             ("scatter", good["scatter"].astype(np.float32), ["'scatter'", "float32"]),
             ("hi", None, ["lacks hi"]), ("lo", good["lo"][:-1], ["'lo'"]),
             ("precision", np.array("float16"), ["'precision'"]), ("float32_products", np.array(1), ["'float32_products'"]),
             ("scatter", None, ["lacks scatter"]), ("format", np.array("fastcca.JointMoments/9"), ["JointMoments/9"])]
    for field, value, says in cases:
        msg = _corrupt(tmp_path, good, field, value, JointMoments.load)
        for s in says:
            assert s in msg, (field, s, msg)
    # the bounds are optional together (a state without them loads; constant features unknown)
    np.savez(tmp_path / "nobounds.npz", **{k: v for k, v in good.items() if k not in ("lo", "hi")})
    assert JointMoments.load(tmp_path / "nobounds.npz").constant_features("a") is None


# --------------------------------------------------------------------------- JointConvMoments
def test_joint_conv_moments_round_trip_bitwise(tmp_path, conv_acts):
    jm = _conv(conv_acts)
    assert jm.exponents["c"] < 0
    path = tmp_path / "cj.npz"
    jm.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["cj.npz"]
    back = JointConvMoments.load(path, backend=load_backend())
    assert back.backend == load_backend() and back.pairs == jm.pairs
    _assert_same_state(back, jm)
    for a, b in [("a", "b"), ("b", "a"), ("a", "c"), ("b", "b")]:
        r, s = conv_cca(back.moments(a, b)), conv_cca(jm.moments(a, b))
        assert np.array_equal(r.coefficients, s.coefficients), (a, b)
    # the pickled state and the loaded one agree (the pickle keeps everything, the file the state)
    _assert_same_state(pickle.loads(pickle.dumps(jm)), back)


def test_joint_conv_moments_loaded_keep_streaming_and_merge(tmp_path, conv_acts):
    whole = _conv(conv_acts)
    _conv(conv_acts, 0, 25).save(tmp_path / "first.npz")
    streamed = JointConvMoments.load(tmp_path / "first.npz", backend=load_backend()).update({k: v[25:] for k, v in conv_acts.items()})
    _assert_same_state(streamed, whole, tol=1e-12)
    merged = JointConvMoments.load(tmp_path / "first.npz", backend=load_backend()).merge(_conv(conv_acts, 25, None))
    _assert_same_state(merged, whole, tol=1e-12)
    np.testing.assert_allclose(conv_cca(streamed.moments("a", "b")).coefficients,
                               conv_cca(whole.moments("a", "b")).coefficients, rtol=1e-12)


def test_joint_conv_moments_keep_precision_and_layout(tmp_path, conv_acts):
    nhwc = {k: np.ascontiguousarray(v.transpose(0, 2, 3, 1)) for k, v in conv_acts.items()}
    jm = JointConvMoments(PAIRS, layout="nhwc", precision="float32").update(nhwc)
    jm.save(tmp_path / "f32.npz")
    back = JointConvMoments.load(tmp_path / "f32.npz")
    assert back.layout == "nhwc" and back.precision == "float32" and back.float32_products
    _assert_same_state(back, jm)
    assert back.moments("a", "b").float32_products


def test_joint_conv_moments_load_checks_every_field(tmp_path, conv_acts):
    path = tmp_path / "cj.npz"
    _conv(conv_acts).save(path)
    good = dict(np.load(path))
    skew = good["diag_0"].copy()
    skew[0, 0, 1] += 1.0
    cases = [("layout", np.array("nhcw"), ["'layout'"]), ("layers", np.array('["a", "b"]'), ["'shapes'"]),
             ("pairs", np.array([[1, 0], [2, 0], [1, 1]]), ["'pairs'", "'layers'", "disagree"]),
             ("shapes", np.array([[3, 6, 6], [2, 4, 0], [2, 6, 6]]), ["'shapes'", ">= 1"]),
             ("shapes", np.array([[3, 6, 6], [2, 4, 4], [2, 4, 4]]), ["'mean_2'", "(2, 4, 4)"]),
             ("pairs", np.array([[0, 1], [2, 5]]), ["'pairs'", "[0, 2]"]), ("pairs", np.zeros((0, 2), np.int64), ["'pairs'"]),
             ("pairs", np.array([[0, 1], [1, 0], [1, 1]]), ["disagree"]),
             ("exponents", np.array([0, 0, -2000]), ["'exponents'"]),
             ("mean_1", good["mean_1"][:1], ["'mean_1'"]), ("diag_0", skew, ["'diag_0'", "not symmetric"]),
             ("cross_0", good["cross_0"].real, ["'cross_0'", "float64"]), ("cross_1", None, ["lacks cross_1"]),
             ("n", np.array(-3), ["'n'"])]
    for field, value, says in cases:
        msg = _corrupt(tmp_path, good, field, value, JointConvMoments.load)
        for s in says:
            assert s in msg, (field, s, msg)


def test_saved_on_a_device_backend_loads_on_the_cpu(tmp_path, acts, conv_acts):
    # the CUDA backend's array logic on the strict stand-in (device arrays never mix with host
    # ones): save copies the state to the host, load reads it onto the CPU, bitwise
    import xp_standin
    be = xp_standin.strict_backend()
    small = {k: v for k, v in acts.items() if k != 3}
    jm = JointMoments()
    jm._be = be                                               # bound as Moments._with_backend_module does
    jm.update({k: xp_standin.to_device(v) for k, v in small.items()})
    cm = JointConvMoments(PAIRS)
    cm._be = be
    cm.update({k: xp_standin.to_device(v) for k, v in conv_acts.items()})
    for acc, cls in ((jm, JointMoments), (cm, JointConvMoments)):
        path = tmp_path / f"{cls.__name__}.npz"
        acc.save(path)
        back = cls.load(path)
        assert back.backend == "cpu"
        host = acc.copy()
        host.__dict__.update({k: _on_host(be, v) for k, v in acc.__dict__.items() if k != "_be"})
        _assert_same_state(back, host)


def _on_host(be, v):
    """Device arrays of a state (also inside dicts) copied to the host."""
    if isinstance(v, dict):
        return {k: _on_host(be, e) for k, e in v.items()}
    return be.to_numpy(v) if hasattr(v, "shape") else v

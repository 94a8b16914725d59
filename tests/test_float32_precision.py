"""precision="float32": the error estimate (largest variance inflation factor x 2^-24) and the
warning it drives.  Benign data (well conditioned, or only badly scaled) stays within ~1e-6 of
float64 and is not warned about; nearly collinear neurons are, and the estimate tracks the
actual error."""
import warnings

import numpy as np
import pytest

import fastcca
from fastcca._canonical import whiten
from fastcca.backend import get_backend

MEASURES = ("cca", "pwcca", "svcca")


def _low_rank(noise, n=6000, p=96, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 16))
    x = z @ rng.standard_normal((16, p)) + noise * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((16, p)) + noise * rng.standard_normal((n, p)) + 3.0
    return x, y


def _run(measure, x, y, precision, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = getattr(fastcca, measure)(x, y, precision=precision, **kw)
    warned = [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]
    return r, warned


def _error(a, b):
    assert len(a.coefficients) == len(b.coefficients)
    return max(abs(a.similarity - b.similarity), float(np.max(np.abs(a.coefficients - b.coefficients))))


@pytest.mark.parametrize("measure", MEASURES)
def test_benign_data_no_warning_and_small_error(measure):
    rng = np.random.default_rng(1)
    # badly scaled (neuron variances over 8 decades) but not collinear: float32 loses nothing
    x = rng.standard_normal((6000, 80)) * np.logspace(0, -4, 80)
    y = x @ rng.standard_normal((80, 70)) / 9 + 0.3 * rng.standard_normal((6000, 70))
    r64, _ = _run(measure, x, y, "float64")
    r32, warned = _run(measure, x, y, "float32")
    assert not warned
    assert not any("float32" in n for n in r32.notes)
    assert _error(r64, r32) < 1e-6


@pytest.mark.parametrize("measure", ("cca", "pwcca"))
def test_collinear_neurons_warn_and_the_estimate_tracks_the_error(measure):
    x, y = _low_rank(noise=0.03)
    r64, _ = _run(measure, x, y, "float64")
    r32, warned = _run(measure, x, y, "float32")
    assert len(warned) == 1
    note = [n for n in r32.notes if "precision='float32'" in n]
    assert len(note) == 1 and "precision='float64'" in note[0]
    err = _error(r64, r32)
    assert err > 1e-4                                  # the case is a real one
    est = float(note[0].split("may be off by about ")[1].split(" ")[0])
    assert est / 10 <= err <= 10 * est


def test_svcca_warns_only_when_its_kept_directions_are_collinear():
    x, y = _low_rank(noise=0.01)
    # keep=0.99 of the singular-value sum keeps the 16 signal directions: well conditioned
    _, warned = _run("svcca", x, y, "float32")
    assert not warned
    # keeping every direction brings in the noise floor: the float32 error is amplified
    r64, _ = _run("svcca", x, y, "float64", keep=96)
    r32, warned = _run("svcca", x, y, "float32", keep=96)
    assert len(warned) == 1 and _error(r64, r32) > 1e-4


def test_float64_never_warns_about_precision():
    x, y = _low_rank(noise=0.001)
    for measure in MEASURES:
        _, warned = _run(measure, x, y, "float64")
        assert not warned


@pytest.mark.parametrize("eps", [1e-10, 0.0])           # Cholesky route, eigh route
def test_max_variance_inflation_is_the_largest_vif(eps):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 6))
    x[:, 5] = x[:, 0] + 0.1 * x[:, 1] + 0.01 * rng.standard_normal(500)    # nearly collinear
    xc = x - x.mean(axis=0)
    s = xc.T @ xc
    be = get_backend("cpu")
    w = whiten(be, s, eps)
    assert w.route == ("cholesky" if eps > 0 else "eigh")
    vif = []
    for i in range(6):                                   # 1 / (1 - R^2) by least squares
        others = np.delete(xc, i, axis=1)
        resid = xc[:, i] - others @ np.linalg.lstsq(others, xc[:, i], rcond=None)[0]
        vif.append(s[i, i] / (resid @ resid))
    # the ridge eps I (relative to the largest variance) shifts a VIF of ~1e4 by ~1e-6 relative
    np.testing.assert_allclose(w.max_variance_inflation(be, s), max(vif), rtol=1e-4 if eps else 1e-8)


def test_grid_names_the_collinear_layer():
    x, y = _low_rank(noise=0.03, n=4000, p=64)
    rng = np.random.default_rng(3)
    benign = rng.standard_normal((4000, 40))
    jm = fastcca.JointMoments(precision="float32").update({"collinear": x, "benign": benign})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = fastcca.similarity_grid(jm, measure="cca")
    warned = [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]
    assert len(warned) == 1
    assert "layer collinear" in str(warned[0].message) and "layer benign" not in str(warned[0].message)
    assert any("precision='float32'" in n for n in grid.notes)
    # a pair's Moments keeps the precision, so the one-pair measure warns alike
    with pytest.warns(fastcca.Float32PrecisionWarning):
        fastcca.cca(jm.moments("collinear", "benign"))
    jm64 = fastcca.JointMoments().update({"collinear": x, "benign": benign})
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastcca.Float32PrecisionWarning)
        fastcca.similarity_grid(jm64, measure="cca")


@pytest.mark.parametrize("measure", ("conv_cca", "conv_svcca"))
def test_conv_fft_warns_on_collinear_channels_only(measure):
    rng = np.random.default_rng(4)
    n, c, h = 1500, 24, 6
    z = rng.standard_normal((n, 4, h, h))
    mix = rng.standard_normal((c, 4))
    x = np.einsum("ck,nkij->ncij", mix, z) + 3e-3 * rng.standard_normal((n, c, h, h))
    y = np.einsum("ck,nkij->ncij", rng.standard_normal((c, 4)), z) + 3e-3 * rng.standard_normal((n, c, h, h))
    kw = {"keep": c * h * h} if measure == "conv_svcca" else {}      # svcca: keep the noise floor too
    f = getattr(fastcca, measure)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r64 = f(x, y, **kw)
        r32 = f(x, y, precision="float32", **kw)
    warned = [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]
    assert len(warned) == 1 and any("precision='float32'" in n for n in r32.notes)
    assert abs(r64.similarity - r32.similarity) > 1e-5 or np.max(np.abs(r64.coefficients - r32.coefficients)) > 1e-4
    benign_x = rng.standard_normal((n, c, h, h))
    benign_y = benign_x[:, ::-1] + rng.standard_normal((n, c, h, h))
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastcca.Float32PrecisionWarning)
        f(benign_x, benign_y, precision="float32")


def test_merged_float32_products_are_tracked(tmp_path):
    # a float64 accumulator that merged a float32 shard holds float32 products: measures check
    x, y = _low_rank(noise=0.03)
    m = fastcca.Moments.from_arrays(x[:3000], y[:3000])
    assert not m.float32_products
    m.merge(fastcca.Moments.from_arrays(x[3000:], y[3000:], precision="float32"))
    assert m.float32_products and m.precision == "float64"    # later updates stay float64
    with pytest.warns(fastcca.Float32PrecisionWarning):
        fastcca.cca(m)
    m.save(tmp_path / "m.npz")
    assert fastcca.Moments.load(tmp_path / "m.npz").float32_products
    assert m.copy().float32_products
    import pickle
    assert pickle.loads(pickle.dumps(m)).float32_products


def test_conv_moments_keep_float32_products_through_save_and_merge(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 3, 4, 4))
    y = rng.standard_normal((40, 2, 4, 4))
    m32 = fastcca.ConvMoments.from_arrays(x, y, precision="float32")
    assert m32.float32_products
    m32.save(tmp_path / "c.npz")
    back = fastcca.ConvMoments.load(tmp_path / "c.npz")
    assert back.precision == "float32" and back.float32_products
    m64 = fastcca.ConvMoments.from_arrays(x, y)
    assert not m64.float32_products
    assert m64.merge(m32).float32_products and m64.precision == "float64"


def test_joint_moments_track_merged_float32_products():
    # a float64 layer grid that merged a float32 part holds float32 products: the grid, and a
    # pair's Moments, estimate their float32 error (as Moments.merge does)
    x, y = _low_rank(noise=0.03, n=4000, p=64)
    jm = fastcca.JointMoments().update({"collinear": x[:2000], "other": y[:2000]})
    assert not jm.float32_products
    jm.merge(fastcca.JointMoments(precision="float32").update({"collinear": x[2000:], "other": y[2000:]}))
    assert jm.float32_products and jm.precision == "float64"
    assert jm.moments("collinear", "other").float32_products
    with pytest.warns(fastcca.Float32PrecisionWarning):
        fastcca.similarity_grid(jm, measure="cca")
    import pickle
    state = pickle.loads(pickle.dumps(jm)).__dict__
    del state["float32_products"]            # a pickle from before the flag was kept
    old = fastcca.JointMoments.__new__(fastcca.JointMoments)
    old.__setstate__({**state, "_be_name": "cpu"})
    assert not old.float32_products          # precision float64: no float32 products recorded

"""The measure registry and what reads it: every entry's flags are honest, streaming and merge
order do not move any measure, the CUDA backend's array logic (on the CPU stand-ins) gives the
CPU's numbers, grids and the torch recorder equal the single-pair functions, and the command
line and plots offer every measure."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import fastcca
from fastcca.__main__ import main
from fastcca.measures import registry
from conftest import make_pair

NEW = ["debiased_cka", "shape_angular", "shape_euclidean", "procrustes", "pls", "linear_predictivity",
       "linear_predictivity_xy"]
SETTINGS = {  # a non-default setting per measure, so parameters travel too
    "shape_angular": {"alpha": 0.4}, "shape_euclidean": {"alpha": 0.0}, "procrustes": {"normalize": False},
    "pls": {}, "linear_predictivity": {"ridge": 3.0, "average": "uniform"},
    "linear_predictivity_xy": {"score": "gcv"}, "svcca": {"keep": 4}, "cca": {"eps": 1e-8},
    "mean_cca": {}, "pwcca": {}, "linear_cka": {}, "debiased_cka": {},
}


@pytest.fixture(scope="module")
def xy():
    x, y = make_pair(480, 9, 6, seed=12, noise=0.4)
    return x + 1.5, y - 0.5


def values(spec, m_or_x, y=None, **kw):
    r = spec(m_or_x, y, **kw)
    return spec.value(r), np.asarray(r.coefficients, dtype=float)


def test_entries_are_consistent():
    assert list(registry.REGISTRY)[:5] == ["svcca", "pwcca", "cca", "mean_cca", "linear_cka"]
    for name, spec in registry.REGISTRY.items():
        assert spec.name == name and spec.kind in ("similarity", "distance") and spec.summary
        assert not spec.metric or (spec.kind == "distance" and spec.symmetric)
        assert (spec.prepare is None) == (spec.pair is None)
        with pytest.raises(TypeError, match=name):
            spec.validate({"no_such_argument": 1})
        assert set(spec.validate({})) == set(spec.params)
    assert registry.get("cka") is registry.REGISTRY["linear_cka"]
    assert [n for n, s in registry.REGISTRY.items() if not s.grid] == ["debiased_cka"]
    with pytest.raises(ValueError, match="measure"):
        fastcca.similarity_grid(fastcca.JointMoments().update({"a": np.eye(4)}), measure="debiased_cka")
    with pytest.raises(ValueError, match="'energy'"):
        registry.get("energy")


@pytest.mark.parametrize("name", list(registry.REGISTRY))
def test_symmetry_flag_is_honest(xy, name):
    spec = registry.REGISTRY[name]
    x, y = xy
    a, b = spec.value(spec(x, y)), spec.value(spec(y, x))
    if spec.symmetric:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    else:
        assert abs(a - b) > 1e-6


@pytest.mark.parametrize("name", list(registry.REGISTRY))
def test_streaming_and_merge_order_do_not_change_the_measure(xy, name):
    spec = registry.REGISTRY[name]
    kw = SETTINGS[name]
    x, y = xy
    whole = values(spec, x, y, **kw)
    opts = dict(debiased_cka=bool(spec.extras))
    streamed = fastcca.Moments(**opts)
    for lo in range(0, len(x), 70):
        streamed.update(x[lo:lo + 70], y[lo:lo + 70])
    shards = [fastcca.Moments(**opts).update(x[lo:lo + 120], y[lo:lo + 120]) for lo in range(0, len(x), 120)]
    merged = fastcca.Moments(**opts)
    for s in shards[::-1]:
        merged.merge(s)
    for m in (streamed, merged):
        v, c = values(spec, m, **kw)
        assert v == pytest.approx(whole[0], rel=1e-12, abs=1e-13)
        np.testing.assert_allclose(c, whole[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NEW)
def test_cuda_array_logic_on_the_strict_stand_in(xy, name):
    """The CUDA backend's code path (kernels/_xp_backend.py) on arrays that refuse silent host
    copies: the same numbers as the CPU backend."""
    import xp_standin
    spec = registry.REGISTRY[name]
    x, y = xy
    m = fastcca.Moments._with_backend_module(xp_standin.strict_backend())
    m.debiased_cka = bool(spec.extras)
    m.update(x[:200], y[:200]).merge(fastcca.Moments._with_backend_module(m._be).update(x[200:], y[200:])
                                     if not spec.extras else _kept(m._be, x[200:], y[200:]))
    got, want = values(spec, m, **SETTINGS[name]), values(spec, x, y, **SETTINGS[name])
    assert got[0] == pytest.approx(want[0], rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-8, atol=1e-10)


def _kept(be, x, y):
    m = fastcca.Moments._with_backend_module(be)
    m.debiased_cka = True
    return m.update(x, y)


def test_pca_and_null_on_the_strict_stand_in(xy):
    import xp_standin
    x, y = xy
    m = fastcca.Moments._with_backend_module(xp_standin.strict_backend()).update(x, y)
    np.testing.assert_allclose(fastcca.pca(m, side="y", variant="reference").singular_values,
                               fastcca.pca(y, variant="reference").singular_values, rtol=1e-10, atol=1e-9)
    a = fastcca.null_baseline(m, measure="procrustes", draws=5, seed=1, spectra="observed")
    b = fastcca.null_baseline(x, y, measure="procrustes", draws=5, seed=1, spectra="observed")
    np.testing.assert_allclose(a.draws, b.draws, rtol=1e-10)


@pytest.fixture(scope="module")
def joint():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((400, 5))
    layers = {"a": z @ rng.standard_normal((5, 7)) + 0.3 * rng.standard_normal((400, 7)),
              "b": z[:, :3] @ rng.standard_normal((3, 4)) + rng.standard_normal((400, 4)) + 2.0,
              "c": 5.0 * rng.standard_normal((400, 6))}
    jm = fastcca.JointMoments()
    for lo in range(0, 400, 100):
        jm.update({k: v[lo:lo + 100] for k, v in layers.items()})
    return jm, layers


@pytest.mark.parametrize("name", [n for n, s in registry.REGISTRY.items() if s.grid])
def test_grid_entries_equal_the_single_pair_function(joint, name):
    jm, layers = joint
    spec = registry.REGISTRY[name]
    kw = SETTINGS[name]
    g = fastcca.similarity_grid(jm, measure=name, **kw)
    assert g.kind == spec.kind and g.measure == name
    for i, a in enumerate(layers):
        for j, b in enumerate(layers):
            want = spec.value(spec(layers[a], layers[b], **kw))
            assert g.values[i, j] == pytest.approx(want, rel=1e-9, abs=1e-10), (a, b)
    if spec.kind == "distance":
        np.testing.assert_array_equal(g.distance, g.values)
    back = fastcca.SimilarityMatrix.from_dict(json.loads(g.to_json()))
    assert back.kind == g.kind


def test_grid_refuses_arguments_of_other_measures(joint):
    jm, _ = joint
    with pytest.raises(TypeError, match="eps"):
        fastcca.similarity_grid(jm, measure="procrustes", eps=1e-6)
    with pytest.raises(TypeError, match="alpha"):
        fastcca.similarity_grid(jm, measure="cca", alpha=0.5)
    with pytest.raises(ValueError, match="alpha"):
        fastcca.similarity_grid(jm, measure="shape_angular", alpha=2.0)
    g = fastcca.similarity_grid(jm, measure="shape_angular", rank_tol=1e-8, alpha=0.0)
    assert g.params == {"alpha": 0.0, "rank_tol": 1e-8}


def test_torch_compare_layers_offers_the_new_measures():
    torch = pytest.importorskip("torch")
    import fastcca.torch as ft
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5))
    data = [torch.randn(64, 6) for _ in range(4)]
    g = ft.compare_layers(net, data, ["0", "2"], measure="procrustes", progress=False)
    rec = ft.record(net, ["0", "2"], data, progress=False)
    want = fastcca.similarity_grid(rec.joint("0"), measure="procrustes")
    np.testing.assert_allclose(g.values, want.values, rtol=1e-12)
    assert g.kind == "distance" and g.params == {"normalize": True}
    with pytest.raises(ValueError, match="ridge"):
        ft.compare_layers(net, data, ["0"], measure="linear_predictivity", ridge=-1.0, progress=False)


@pytest.mark.parametrize("name", NEW)
def test_cli_offers_every_measure(tmp_path, capsys, xy, name):
    x, y = xy
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "b.npy", y)
    assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--measure", name, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    spec = registry.REGISTRY[name]
    want = spec(x, y)
    assert out["kind"] == spec.kind
    assert out["distance" if spec.kind == "distance" else "similarity"] == pytest.approx(spec.value(want), rel=1e-12)


def test_cli_measure_options_and_null(tmp_path, capsys, xy):
    x, y = xy
    a, b = str(tmp_path / "a.npy"), str(tmp_path / "b.npy")
    np.save(a, x)
    np.save(b, y)
    assert main(["compare", a, b, "--measure", "shape_angular", "--alpha", "0.3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["distance"] == pytest.approx(fastcca.shape_metric(x, y, alpha=0.3).distance, rel=1e-12)
    assert main(["compare", a, b, "--measure", "procrustes", "--raw", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["distance"] == pytest.approx(
        fastcca.procrustes(x, y, normalize=False).distance, rel=1e-12)
    assert main(["compare", a, b, "--measure", "linear_predictivity_xy", "--ridge", "2.5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ridge_xy"] == pytest.approx(2.5)
    assert main(["compare", a, b, "--measure", "cca", "--null", "20", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = fastcca.null_baseline(x, y, measure="cca", draws=20, seed=3)
    np.testing.assert_allclose(out["draws"], want.draws, rtol=1e-12)
    assert main(["compare", a, b, "--measure", "debiased_cka", "--shards", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] == pytest.approx(fastcca.debiased_cka(x, y).similarity, rel=1e-12) and out["se"] > 0
    assert len(out["replicates"]) == 6
    assert main(["compare", a, b, "--measure", "cca", "--alpha", "0.5"]) == 2
    assert "--alpha does not apply" in capsys.readouterr().err
    assert main(["compare", a, b, "--measure", "pls", "--ridge", "1"]) == 2
    assert main(["compare", a, b, "--null", "1"]) == 2


def test_plots_read_the_registry_range(joint):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import fastcca.plot as fp
    jm, _ = joint
    ang = fastcca.similarity_grid(jm, measure="shape_angular")
    fig = fp.heatmap(ang)
    assert fig.axes[0].images[0].get_clim() == pytest.approx((0.0, math.pi / 2))
    assert "shape_angular distance" in fig.axes[0].get_title()
    euc = fastcca.similarity_grid(jm, measure="shape_euclidean")
    lo, hi = fp.heatmap(euc).axes[0].images[0].get_clim()
    assert lo == 0.0 and hi == pytest.approx(euc.values.max())
    cca = fastcca.similarity_grid(jm, measure="cca")
    assert fp.heatmap(cca, distance=True).axes[0].images[0].get_clim() == (0.0, 1.0)
    fig = fp.heatmaps([euc, euc])
    assert fig.axes[0].images[0].get_clim() == fig.axes[1].images[0].get_clim()


@pytest.mark.parametrize("sx, sy", [(1e150, 1e-150), (1e-200, 3.0), (2.0 ** 600, 2.0 ** 600)])
def test_power_of_two_units(xy, sx, sy):
    """Activations far outside the float64 comfort zone (the state holds each side in
    power-of-two units, issue [numerics]): scale-free values unchanged, the scale-dependent ones
    (Euclidean distances, PLS and PCA singular values, the ridge) in the data's units."""
    x, y = xy
    for name in ("shape_angular", "procrustes", "pls", "linear_predictivity", "debiased_cka"):
        spec = registry.REGISTRY[name]
        kw = {"alpha": 0.0} if name == "shape_angular" else {}
        want = spec.value(spec(x, y, **kw))
        assert spec.value(spec(x * sx, y * sy, **kw)) == pytest.approx(want, rel=1e-9, abs=1e-12), name
    r, r0 = fastcca.pls(x * sx, y * sy), fastcca.pls(x, y)
    with np.errstate(over="ignore"):
        want_sv, want_ridge = r0.coefficients * sx * sy, fastcca.linear_predictivity(x, y, direction="x->y").ridge_xy * sx * sx
    if np.isfinite(want_sv).all():
        np.testing.assert_allclose(r.coefficients, want_sv, rtol=1e-9)
    else:                       # beyond float64 in the data's units: inf and a note, the rest exact
        assert np.isinf(r.coefficients).all() and any("beyond float64" in t for t in r.notes)
    np.testing.assert_allclose(r.correlations, r0.correlations, rtol=1e-9)
    np.testing.assert_allclose(fastcca.pca(x * sx).singular_values, fastcca.pca(x).singular_values * sx, rtol=1e-9)
    p = fastcca.linear_predictivity(x * sx, y * sy, direction="x->y")
    assert p.ridge_xy == pytest.approx(want_ridge, rel=1e-9) if np.isfinite(want_ridge) else np.isinf(p.ridge_xy)
    if sx == sy:
        e0 = fastcca.shape_metric(x, y, alpha=1.0, kind="euclidean").distance
        assert fastcca.shape_metric(x * sx, y * sy, alpha=1.0, kind="euclidean").distance == pytest.approx(sx * e0, rel=1e-10)

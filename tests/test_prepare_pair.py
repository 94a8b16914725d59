"""Each measure is a per-side ``prepare`` and a ``pair``: the single-pair functions, the layer
grid and the PyTorch recorder all go through them, so a grid entry equals the single-pair
function on the pair's moments exactly (bitwise), and the grid's notes are the single-pair notes
(each layer's once, relabelled by the layer, each pair's prefixed ``"a x b: "``)."""
import re
import warnings

import numpy as np
import pytest

import fastcca
from fastcca.grid import JointMoments, similarity_grid
from fastcca.measures import registry

N = 400


@pytest.fixture(scope="module")
def jm():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((N, 6))
    layers = {
        "a": z @ rng.standard_normal((6, 9)) + 0.3 * rng.standard_normal((N, 9)),
        # a constant neuron (dropped, named in the notes)
        "b": np.column_stack([np.tanh(z[:, :4] @ rng.standard_normal((4, 7))), np.full(N, 2.0)]),
        # rank-deficient: 3 dimensions spread over 7 neurons (data-rank notes)
        "c": np.column_stack([z[:, :3], z[:, :3] @ rng.standard_normal((3, 4))]),
        "d": rng.standard_normal((N, 5)),
    }
    return JointMoments().update(layers)


SINGLE = {
    "cca": lambda m, kw: fastcca.cca(m, **kw),
    "mean_cca": lambda m, kw: fastcca.mean_cca(m, **kw),
    "svcca": lambda m, kw: fastcca.svcca(m, **kw),
    "pwcca": lambda m, kw: fastcca.pwcca(m, **kw),
    "linear_cka": lambda m, kw: fastcca.linear_cka(m, **kw),
}
CASES = [("cca", {}), ("cca", {"rank_tol": None}), ("cca", {"eps": 1e-6, "rcond": 1e-9}), ("mean_cca", {}),
         ("svcca", {}), ("svcca", {"keep": 3}), ("svcca", {"keep": 0.8, "keep_rule": "variance"}),
         ("pwcca", {}), ("pwcca", {"side": "y"}), ("pwcca", {"rank_tol": None}), ("linear_cka", {})]


def _single(jm, a, b, measure, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SINGLE[measure](jm.moments(a, b), kw)


def _relabel(note: str, label) -> str:
    """A single-pair side note ("x: ..." / "y: ...") as the grid gives it for layer ``label``."""
    return re.sub(r"^[xy]: ", f"{label}: ", note)


@pytest.mark.parametrize("measure,kw", CASES, ids=[f"{m}-{kw}" for m, kw in CASES])
def test_grid_entries_are_the_single_pair_measures_bitwise(jm, measure, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = similarity_grid(jm, measure=measure, **kw)
    layers = jm.layers
    # a symmetric measure computes each unordered pair once (row before column) and mirrors it
    sym = registry.get(measure).symmetric
    ref = np.array([[_single(jm, *((b, a) if sym and j < i else (a, b)), measure, kw).similarity
                     for j, b in enumerate(layers)] for i, a in enumerate(layers)])
    np.testing.assert_array_equal(g.values, ref)


@pytest.mark.parametrize("measure,kw", CASES, ids=[f"{m}-{kw}" for m, kw in CASES])
def test_grid_notes_are_the_single_pair_notes(jm, measure, kw):
    """Every note of a single pair is in the grid (side notes relabelled by the layer, pair notes
    prefixed by the pair), and the grid says nothing the single pairs do not, but its summary of
    degenerate pairs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = similarity_grid(jm, measure=measure, **kw)
    expected = set()
    sym = registry.get(measure).symmetric
    for i, a in enumerate(jm.layers):
        for b in jm.layers[i if sym else 0:]:
            r = _single(jm, a, b, measure, kw)
            for t in r.notes:
                if t.startswith(("x: ", "y: ")):
                    expected.add(_relabel(t, a if t.startswith("x") else b))
                elif "is degenerate" not in t:
                    expected.add(f"{a} x {b}: {t}")
    got = {t for t in g.notes if "pair(s) are degenerate" not in t}
    assert got == expected
    if measure in ("cca", "mean_cca", "pwcca"):
        assert any(t.startswith("b: 1 constant neuron(s) dropped") for t in g.notes)
        assert any(t.startswith("c: ") and "data rank 3" in t for t in g.notes)


def test_pwcca_pair_notes_reach_the_grid(jm):
    """The ridge-only canonical variates of a rank-deficient layer (rank_tol=None keeps them) are
    told per pair by pwcca; the grid used to drop those notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fastcca.pwcca(jm.moments("c", "a"), rank_tol=None)
        g = similarity_grid(jm, ["c"], ["a"], measure="pwcca", rank_tol=None)
    assert any("ridge-only" in t for t in r.notes)
    assert any(t.startswith("c x a: pwcca:") and "ridge-only" in t for t in g.notes)


@pytest.mark.parametrize("name", ["cca", "mean_cca", "svcca", "pwcca", "linear_cka"])
def test_registry_prepare_pair_is_the_single_pair_function(jm, name):
    """The registry's prepare/pair of a measure on a Moments' two sides is its single-pair
    function, bitwise (the same code path, not a re-implementation)."""
    from fastcca.measures._blocks import sides
    spec = registry.get(name)
    m = jm.moments("a", "b")
    sx, sy, sxy = sides(m)
    kw = spec.validate({})
    if name in ("cca", "mean_cca", "svcca", "pwcca"):
        from fastcca.grid import check_measure_arguments
        kw = check_measure_arguments(name, {})
    r = spec.pair(m._be, spec.prepare(sx, kw), spec.prepare(sy, kw), sxy, kw)
    ref = spec(m)
    assert r.similarity == ref.similarity
    np.testing.assert_array_equal(r.coefficients, ref.coefficients)
    assert r.notes == ref.notes


# ---------------------------------------------------------------------------- conv fft, torch
def test_conv_fft_measures_are_their_prepare_and_pair():
    """conv_cca / conv_svcca in fft mode are prepare_fft / prepare_svcca_fft on each side and
    pair_fft, bitwise; a side prepared once serves every pair it is in."""
    from fastcca.conv.measures import pair_fft, prepare_fft, prepare_svcca_fft
    rng = np.random.default_rng(5)
    x = rng.standard_normal((120, 4, 6, 6))
    y = np.roll(x, 1, axis=2)[:, :3] + 0.3 * rng.standard_normal((120, 3, 6, 6))
    m = fastcca.ConvMoments.from_arrays(x, y)
    be, mult = m._be, m.grid.multiplicity
    for prep, f, kw in ((lambda s: prepare_fft(be, s, eps=1e-10), fastcca.conv_cca, {}),
                        (lambda s: prepare_svcca_fft(be, s, mult, keep=0.9), fastcca.conv_svcca, {"keep": 0.9})):
        r, ref = pair_fft(m, prep(m.sxx), prep(m.syy)), f(m, **kw)
        assert r.similarity == ref.similarity and r.notes == ref.notes
        np.testing.assert_array_equal(r.per_frequency, ref.per_frequency)


@pytest.fixture(scope="module")
def torch_net():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Tanh(),
                              torch.nn.Conv2d(4, 3, 3, stride=2, padding=1), torch.nn.Tanh(),
                              torch.nn.Flatten(), torch.nn.Linear(27, 10), torch.nn.Linear(10, 12))
    data = [torch.randn(80, 2, 6, 6) for _ in range(3)]
    return net, data


@pytest.mark.parametrize("measure", ["cca", "svcca", "pwcca", "linear_cka"])
def test_torch_grid_entries_are_the_single_pair_measures(torch_net, measure):
    """compare_layers goes through similarity_grid, hence through the measures' prepare/pair:
    each entry is the single-pair function on the recording's pair moments, bitwise, and the
    per-layer notes (the widening Linear '6' is rank-deficient) are the single-pair ones."""
    from fastcca.torch import record
    net, data = torch_net
    layers = ["1", "3", "5", "6"]
    rec = record(net, layers, data, conv="mean", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = rec.grid(layers, layers, measure)
        sym = registry.get(measure).symmetric
        ref = [[SINGLE[measure](rec.moments(*((b, a) if sym and j < i else (a, b))), {}).similarity
                for j, b in enumerate(layers)] for i, a in enumerate(layers)]
        r66 = SINGLE[measure](rec.moments("6", "6"), {})
    np.testing.assert_array_equal(g.values, ref)
    for t in r66.notes:
        if t.startswith("x: "):
            assert _relabel(t, ("A", "6")) in g.notes


@pytest.mark.parametrize("measure", ["cca", "svcca"])
def test_torch_fft_grid_entries_are_the_conv_measures(torch_net, measure):
    """conv='fft' pairs go through the conv measures' prepare/pair (each layer's frequency stack
    prepared once): each entry is conv_cca / conv_svcca of the recording's pair ConvMoments to
    1e-12, with the same notes."""
    from fastcca.torch import record
    net, data = torch_net
    layers = ["1", "3", "5"]
    rec = record(net, layers, data, conv="fft", fft_pairs="all", progress=False)
    one = {"cca": fastcca.conv_cca, "svcca": fastcca.conv_svcca}[measure]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = rec.grid(layers, layers, measure)
        for i, a in enumerate(layers):
            for j, b in enumerate(layers):
                if (a, b) == ("5", "5"):
                    continue                        # a dense pair: the joint scatter, tested above
                r = one(rec.moments(*((b, a) if j < i else (a, b))))
                assert abs(g.values[i, j] - r.similarity) <= 1e-12, (a, b)
                pa, pb = ((b, a) if j < i else (a, b))
                for t in r.notes:
                    if not t.startswith("SV step"):
                        assert f"{rec.key(pa)} x {rec.key(pb)} (fft): {t}" in g.notes

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

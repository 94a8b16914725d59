"""The mathematics behind SVCCA Fig 2a / 2b / A5 (paper_repro.compress: fitted projections of a
layer, neuron baselines, importance, padded direction sets, forward pass with projected layers)
and Fig 5 (paper_repro.freeze: freezing really stops a unit's parameters and BatchNorm
statistics, and nothing else changes before the first freeze)."""
from __future__ import annotations

import fastcca
import numpy as np
import pytest

from paper_repro.analysis import project_onto_variates, svcca_directions
from paper_repro.compress import (Projector, accuracy_with, max_activation_neurons, neuron_importance,
                                  neuron_projector, ranked_direction_sets, ranked_directions,
                                  subspace_projector)
from paper_repro.context import thread_limits
from paper_repro.freeze import freeze_schedule, train_with_freezing, updates_saved


def _pair(n=400, p=12, q=10, shared=4, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, shared))
    x = z @ rng.standard_normal((shared, p)) + 0.3 * rng.standard_normal((n, p)) + 2.0
    y = z @ rng.standard_normal((shared, q)) + 0.3 * rng.standard_normal((n, q))
    return x, y


@pytest.mark.parametrize("k", [0, 1, 3, 7])
def test_subspace_projector_is_the_least_squares_fit_from_the_variates(k):
    x, y = _pair()
    sv = svcca_directions(x, y, keep=1.0)
    proj = subspace_projector(x, sv["dirs_x"][:, :k])
    want = project_onto_variates(x, sv["variates_x"][:, :k])
    np.testing.assert_allclose(proj(x), want, atol=1e-9)
    # canonical directions: uncorrelated unit-variance variates, so P = D D^T C
    c = np.cov(x, rowvar=False)
    d = sv["dirs_x"][:, :k]
    np.testing.assert_allclose(proj.P, d @ d.T @ c, atol=1e-6)   # up to fastcca's eps ridge


def test_subspace_projector_is_a_projection_that_keeps_the_variates_and_the_mean():
    x, _ = _pair()
    rng = np.random.default_rng(1)
    d = rng.standard_normal((x.shape[1], 5))
    proj = subspace_projector(x, d)
    np.testing.assert_allclose(proj.P @ proj.P, proj.P, atol=1e-10)            # idempotent
    np.testing.assert_allclose(proj(proj(x)), proj(x), atol=1e-9)
    xc = x - x.mean(0)
    np.testing.assert_allclose((proj(x) - x.mean(0)) @ d, xc @ d, atol=1e-9)  # variates unchanged
    np.testing.assert_allclose(proj(x).mean(0), x.mean(0), atol=1e-10)
    # rank-k map, and the full set of directions gives the identity
    assert np.linalg.matrix_rank(proj.P, tol=1e-8) == 5
    full = subspace_projector(x, rng.standard_normal((x.shape[1], x.shape[1])))
    np.testing.assert_allclose(full(x), x, atol=1e-9)
    # it depends on the span only, and duplicated directions are harmless
    a = rng.standard_normal((5, 5))
    np.testing.assert_allclose(subspace_projector(x, d @ a).P, proj.P, atol=1e-8)
    np.testing.assert_allclose(subspace_projector(x, np.concatenate([d, d[:, :2]], 1)).P, proj.P, atol=1e-8)


def test_projector_applies_to_new_data_with_the_fit_mean():
    x, _ = _pair()
    proj = subspace_projector(x[:300], np.eye(x.shape[1])[:, :3])
    new = x[300:]
    np.testing.assert_allclose(proj(new), x[:300].mean(0) + (new - x[:300].mean(0)) @ proj.P)
    with pytest.raises(ValueError, match="h:"):
        proj(new[:, :5])
    with pytest.raises(ValueError, match="dirs"):
        subspace_projector(x, np.ones((3, 2)))


def test_neuron_projector_keeps_the_chosen_neurons_and_sets_the_rest_to_the_mean():
    x, _ = _pair()
    keep = [0, 4, 5]
    out = neuron_projector(x, keep)(x)
    np.testing.assert_allclose(out[:, keep], x[:, keep])
    rest = [j for j in range(x.shape[1]) if j not in keep]
    np.testing.assert_allclose(out[:, rest], np.broadcast_to(x.mean(0)[rest], (len(x), len(rest))))


def test_then_composes_two_maps_of_the_same_centre():
    x, y = _pair()
    sv = svcca_directions(x, y, keep=1.0)
    a = subspace_projector(x, sv["dirs_x"][:, :3])
    b = neuron_projector(a(x), [1, 2, 3, 8])
    np.testing.assert_allclose(a.then(b)(x), b(a(x)), atol=1e-9)
    with pytest.raises(ValueError, match="same mean"):
        a.then(Projector(a.mean + 1.0, np.eye(len(a.mean))))


def test_max_activation_neurons_and_importance():
    rng = np.random.default_rng(0)
    h = np.abs(rng.standard_normal((200, 6))) * np.array([1.0, 5.0, 0.1, 3.0, 2.0, 0.5])
    assert list(max_activation_neurons(h, 3)) == [1, 3, 4]
    d = rng.standard_normal((6, 2))
    imp = neuron_importance(h, d)
    np.testing.assert_allclose(imp, np.sqrt(((d * h.std(0, ddof=1)[:, None]) ** 2).sum(1)))
    # rescaling a neuron (and so its weight inversely, as CCA does) leaves its importance unchanged
    s = np.array([1.0, 10.0, 0.01, 1.0, 3.0, 1.0])
    np.testing.assert_allclose(neuron_importance(h * s, d / s[:, None]), imp)
    # and CCA's weights do rescale that way: importances from canonical directions are scale free
    import fastcca
    y = h @ rng.standard_normal((6, 4)) + 0.1 * rng.standard_normal((200, 4))
    s = np.array([1.0, 3.0, 0.5, 1.0, 2.0, 1.0])     # mild: fastcca's relative eps ridge must stay negligible
    i1 = neuron_importance(h, fastcca.cca(h, y, weights=True).x_weights[:, :2])
    i2 = neuron_importance(h * s, fastcca.cca(h * s, y, weights=True).x_weights[:, :2])
    np.testing.assert_allclose(i1, i2, rtol=1e-4, atol=1e-6)


def test_ranked_directions_pad_with_the_residual_principal_directions():
    x, y = _pair(p=12, q=3)
    sv = svcca_directions(x, y, keep=1.0)
    m = sv["dirs_x"].shape[1]
    assert m == 3
    np.testing.assert_array_equal(ranked_directions(x, sv["dirs_x"], 2), sv["dirs_x"][:, :2])
    d = ranked_directions(x, sv["dirs_x"], 7)
    assert d.shape == (12, 7)
    np.testing.assert_allclose(d[:, :m], sv["dirs_x"])
    v = (x - x.mean(0)) @ d
    cross = v[:, :m].T @ v[:, m:]
    assert np.abs(cross).max() < 1e-8 * np.abs(v).max() ** 2 * len(x)      # padding is uncorrelated with the CCA variates
    extra = v[:, m:]
    g = extra.T @ extra
    np.testing.assert_allclose(g - np.diag(np.diag(g)), 0, atol=1e-8 * np.abs(g).max())   # principal components
    assert np.all(np.diff(np.diag(g)) <= 1e-9 * g.max())                   # by decreasing variance
    # residual principal components: the largest of them is the top eigenvalue of the residual scatter
    r = (x - x.mean(0)) - project_onto_variates(x, sv["variates_x"]) + x.mean(0)
    np.testing.assert_allclose(g[0, 0], np.linalg.eigvalsh(r.T @ r)[-1], rtol=1e-8)
    # every direction: the projection is the identity
    np.testing.assert_allclose(subspace_projector(x, ranked_directions(x, sv["dirs_x"], 12))(x), x, atol=1e-8)


def test_ranked_direction_sets_decompose_once_and_give_each_budget_its_directions():
    """What lets Fig A5 pad once per layer for all its budgets: the same directions as separate
    calls, bitwise, and a smaller budget's are the larger one's leading columns."""
    x, y = _pair(p=12, q=3)
    d = svcca_directions(x, y, keep=1.0)["dirs_x"]
    sets = ranked_direction_sets(x, d)
    big = ranked_directions(x, d, 12)
    for k in (12, 1, 5, 3, 9, 4):
        got = sets(k)
        np.testing.assert_array_equal(got, ranked_directions(x, d, k))
        np.testing.assert_allclose(got, big[:, :k], rtol=0, atol=1e-14)


def test_ranked_directions_with_fewer_datapoints_than_neurons_pad_with_the_same_subspaces():
    """n < p (paper-scale conv layers): the thin SVD of the residual gives the residual's
    principal directions of the p x p eigendecomposition, up to sign, by decreasing variance."""
    x, y = _pair(n=30, p=60, q=3, shared=3)
    with pytest.warns(fastcca.DegenerateCCAWarning, match="30 datapoints"):      # n < p, and fastcca says so
        d = svcca_directions(x, y, keep=1.0)["dirs_x"]
    m = d.shape[1]
    got = ranked_directions(x, d, 20)
    assert got.shape == (60, 20)
    np.testing.assert_array_equal(got[:, :m], d)
    # the reference: the p x p eigendecomposition of the residual scatter
    hc = x - x.mean(0)
    resid_map = np.eye(60) - subspace_projector(x, d).P
    r = hc @ resid_map
    w, u = np.linalg.eigh(r.T @ r)
    ref = resid_map @ u[:, np.argsort(-w)[:20 - m]]
    # each padding direction is the reference's up to sign (the residual's eigenvalues are distinct here)
    gap = np.min(-np.diff(np.sort(w)[::-1][:20 - m + 1]))
    assert gap > 1e-6 * w.max()
    for j in range(20 - m):
        a, b = got[:, m + j], ref[:, j]
        np.testing.assert_allclose(a * np.sign(a @ b), b, atol=1e-8 * np.abs(b).max())


def _tiny_convnet(seed=0):
    import torch
    from paper_repro.models import SVCCAConvNet
    torch.manual_seed(seed)
    net = SVCCAConvNet(width=4, fc=8)
    net.eval()
    return net


def test_accuracy_with_projection_matches_forward_from():
    with thread_limits(1):
        _check_accuracy_with_projection_matches_forward_from()


def _check_accuracy_with_projection_matches_forward_from():
    import torch
    from paper_repro.compress import layer_activations
    net = _tiny_convnet()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        pred = net(torch.as_tensor(x)).argmax(1).numpy()
    y = np.where(rng.random(300) < 0.5, pred, (pred + 1) % 10)      # ~half right
    assert accuracy_with(net, x, y, {}) == pytest.approx(np.mean(pred == y))
    for name in ("p2", "fc1"):
        i = net.layer_names.index(name)
        h = layer_activations(net, x, [name])[name]
        proj = subspace_projector(h, rng.standard_normal((h.shape[1], 3)))
        hs = net.hidden(torch.as_tensor(x))
        with torch.no_grad():
            hp = torch.as_tensor(proj(h).reshape(hs[i].shape), dtype=torch.float32)
            want = np.mean(net.forward_from(i, hp).argmax(1).numpy() == y)
        assert accuracy_with(net, x, y, {i: proj}) == pytest.approx(want)
        # identity projector: the plain accuracy
        ident = Projector(h.mean(0), np.eye(h.shape[1]))
        assert accuracy_with(net, x, y, {i: ident}) == pytest.approx(np.mean(pred == y))


def test_freeze_schedule_and_updates_saved_closed_form():
    assert freeze_schedule(4, 100) == [25, 50, 75, 100]
    assert freeze_schedule(12, 24) == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    # equal-sized units frozen at i/L: saved fraction = mean_i (1 - i/L) = (L - 1) / (2L)
    L, s = 8, 800
    assert updates_saved(freeze_schedule(L, s), [5] * L, s) == pytest.approx((L - 1) / (2 * L))
    assert updates_saved([-1] * L, [5] * L, s) == 0.0


def _freeze_config(arch, freeze, steps=24):
    spec = ({"name": "svcca_convnet", "width": 4, "fc": 8, "in_channels": 1, "image": 8} if arch == "convnet"
            else {"name": "resnet", "width": 4, "blocks": 1, "in_channels": 1})
    return {"model": spec, "steps": steps, "lr": 1e-2, "batch_size": 16, "seed": 3, "translate": 1,
            "freeze": freeze, "eval_every": 6, "weight_decay": 0.0}


@pytest.mark.parametrize("arch", ["convnet", "resnet"])
def test_freezing_stops_parameters_and_batchnorm_statistics(arch):
    from paper_repro.freeze import freeze_units
    from paper_repro.models import build
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    steps = 24
    cfg = _freeze_config(arch, True, steps)
    model = build(cfg["model"])
    units = freeze_units(model)
    names = [n for n, _ in units]
    prefix = {n: f"stages.{j}." for j, (n, _) in enumerate(zip(model.layer_names[1:], model.stages))}
    sched = freeze_schedule(len(units), steps)
    snaps = sorted({0, steps} | set(sched))
    with thread_limits(1):      # tiny nets: threads only fight each other on a shared machine
        fr = train_with_freezing(cfg, x, y, x[:16], y[:16], device="cpu", snapshot_steps=snaps)
        st = train_with_freezing(_freeze_config(arch, False, steps), x, y, x[:16], y[:16], device="cpu", snapshot_steps=snaps)
    assert list(fr["freeze_steps"]) == sched and list(fr["unit_names"]) == names
    end = fr["states"][steps]
    for name, s in zip(names, sched):
        keys = [k for k in end if k.startswith(prefix[name])]
        assert keys, name
        if s < steps:   # frozen from step s on: parameters AND buffers (BN running stats) fixed
            for k in keys:
                np.testing.assert_array_equal(fr["states"][s][k].numpy(), end[k].numpy(), err_msg=f"{name}: {k}")
        # it was trained up to its freeze step (float parameters moved from the init)
        moved = [k for k in keys if end[k].is_floating_point()
                 and not np.array_equal(fr["states"][0][k].numpy(), fr["states"][s][k].numpy())]
        assert moved, f"{name} never trained before its freeze step {s}"
    # the top unit is never frozen: it keeps training after every other unit froze
    top = [k for k in end if k.startswith(prefix[names[-1]])]
    assert any(not np.array_equal(fr["states"][sched[-2]][k].numpy(), end[k].numpy()) for k in top)
    # not vacuous: without freezing, the bottom unit keeps changing after its would-be freeze step
    bottom = [k for k in end if k.startswith(prefix[names[0]])]
    assert any(not np.array_equal(st["states"][sched[0]][k].numpy(), st["states"][steps][k].numpy())
               for k in bottom)
    # paired runs: identical until the first freeze step
    for k, v in st["states"][sched[0]].items():
        np.testing.assert_array_equal(fr["states"][sched[0]][k].numpy(), v.numpy())
    assert fr["test_acc"].shape == fr["eval_steps"].shape == (steps // 6 + 1,)

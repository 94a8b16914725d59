"""paper_repro.svcca_dynamics and the SVCCA learning-dynamics figures (Fig 4, A3, A4): the hooked
layers are the model's own layers, grid entries equal the one-pair fastcca functions on the same
activations (conv pairs by the DFT method, conv vs dense on the spatial mean), and the claim
statistics on grids with a known answer."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import fastcca
from paper_repro.classifiers import layer_outputs
from paper_repro.context import RunContext
from paper_repro.figures.svcca_figA3 import settled_step
from paper_repro.figures.svcca_figA4 import diag_contrast, ends_vs_middle
from paper_repro.svcca_dynamics import (bn_blocks, bottom_up, checkpoint_grids, hidden_thirds, hooked,
                                        layer_modules, nearest_checkpoints, residual_stripes, spearman,
                                        two_model_grid)

torch = pytest.importorskip("torch")

CONVNET = {"model": {"name": "svcca_convnet", "width": 3, "fc": 6, "in_channels": 1, "image": 8}}
RESNET = {"model": {"name": "resnet", "width": 2, "blocks": 1, "in_channels": 1}}


def _state(config, seed):
    from paper_repro.models import build
    torch.manual_seed(seed)
    return build(config["model"]).state_dict()


@pytest.fixture(scope="module")
def images():
    x = np.random.default_rng(0).standard_normal((300, 1, 8, 8)).astype(np.float32)
    return np.maximum(x, 0.0)                     # sparse, nonnegative like digits; any data works


@pytest.fixture
def ctx(tmp_path):
    return RunContext(scale="tiny", out=str(tmp_path), progress=False, backend="cpu")


# ---------------------------------------------------------------------------- layers
@pytest.mark.parametrize("config", [CONVNET, RESNET])
def test_hooked_layers_are_the_models_layers(config, images):
    """The wrapper's hooked modules return exactly model.hidden(x) (in, every stage, softmax out),
    the ResNet's inner BN(conv) outputs in between, and the wrapper computes the softmax."""
    from paper_repro.training import load_model
    model = load_model(config, _state(config, 0), device="cpu")
    wrap = hooked(model)
    mods = layer_modules(model, inner=True)
    named = dict(wrap.named_modules())
    got = {}
    hs = [named[m].register_forward_hook(lambda mod, a, o, key=lab: got.__setitem__(key, o)) for lab, m in mods]
    x = torch.as_tensor(images[:20])
    with torch.no_grad():
        y = wrap(x)
        ref = model.hidden(x)
    for h in hs:
        h.remove()
    outer = [lab for lab, _ in mods if "/" not in lab]
    assert outer == list(model.layer_names)
    for lab, r in zip(model.layer_names, ref):
        torch.testing.assert_close(got[lab], r, rtol=0, atol=0)
    torch.testing.assert_close(y, ref[-1])
    inner = [lab for lab, _ in mods if "/" in lab]
    n_blocks = sum(1 for n in model.layer_names if n.startswith("r"))
    assert len(inner) == 2 * n_blocks
    for lab in inner:                     # BN(conv) of a block: same shape as the block's output
        assert got[lab].shape == got[lab.split("/")[0]].shape
    assert [lab for lab, _ in layer_modules(model, inner=False)] == list(model.layer_names)


def test_nearest_checkpoints():
    steps = list(range(0, 2001, 100))
    assert nearest_checkpoints(steps, [0, 0.35, 0.75, 1.0]) == [0, 7, 15, 20]
    assert nearest_checkpoints([0, 5, 10, 20], [0.35, 0.5]) == [1, 2]     # 7 -> 5 (nearer), 10 exact


# ---------------------------------------------------------------------------- grid entries
def test_two_model_grid_matches_one_pair_functions(ctx, images):
    """Every kind of entry of the grid equals fastcca's one-pair function on the activations:
    conv x conv (same and different spatial sizes) = conv_svcca(mode="fft"), conv x dense =
    svcca of the conv layer's spatial mean, dense x dense = svcca."""
    sa, sb = _state(CONVNET, 0), _state(CONVNET, 1)
    rows, cols, g = two_model_grid(ctx, CONVNET, sa, CONVNET, sb, images)
    ha = dict(zip(rows, layer_outputs(CONVNET, sa, images, device="cpu")))
    hb = dict(zip(cols, layer_outputs(CONVNET, sb, images, device="cpu")))
    v = dict(zip([(r, c) for r in rows for c in cols], g.values.ravel()))
    for a, b in [("c2", "c2"), ("c2", "c3"), ("in", "p2"), ("bn1", "c1")]:
        want = fastcca.conv_svcca(ha[a], hb[b], mode="fft", keep=0.99).similarity
        assert v[(a, b)] == pytest.approx(want, abs=1e-9), (a, b)
    for a, b in [("c5", "fc1"), ("p1", "out")]:
        want = fastcca.svcca(ha[a].mean(axis=(2, 3)), hb[b], keep=0.99).similarity
        assert v[(a, b)] == pytest.approx(want, abs=1e-9), (a, b)
    want = fastcca.svcca(ha["fc2"], hb["bn3"], keep=0.99).similarity
    assert v[("fc2", "bn3")] == pytest.approx(want, abs=1e-9)


def test_checkpoint_grids_same_and_all_agree(ctx, images):
    """pairs="same" is the diagonal of pairs="all"; every layer at the last state vs itself is 1;
    the ResNet's pool (the spatial mean of bn, a dense layer) against bn is compared on bn's DC
    frequency, i.e. its spatial mean: 1 up to the float32 forward pass."""
    states = [_state(RESNET, s) for s in (0, 1, 2)]
    # make the BN layers non-trivial (running statistics and affine parameters)
    for st in states:
        for k in st:
            if k.endswith("running_var") or k.endswith(".weight") and st[k].ndim == 1:
                st[k] = st[k] * 0 + torch.rand(st[k].shape) + 0.5
    labels, same = checkpoint_grids(ctx, RESNET, states, images, "same")
    labels2, mats = checkpoint_grids(ctx, RESNET, states, images, "all")
    assert labels == labels2 and len(mats) == 3
    for t, m in enumerate(mats):
        np.testing.assert_allclose(np.diag(m.values), same.values[:, t], atol=1e-9)
    np.testing.assert_allclose(same.values[:, -1], 1.0, atol=1e-9)
    i, j = labels.index("bn"), labels.index("pool")          # pool = spatial mean of bn: DC, exactly 1
    assert mats[-1].values[j, i] == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------- claim statistics
LABELS = ["in", "c1", "c2", "bn1", "p1", "c3", "fc1", "bn2", "logits", "out"]


def test_hidden_thirds_and_bottom_up():
    lo, hi = hidden_thirds(LABELS)                 # 7 hidden layers -> thirds of 3
    assert [LABELS[i] for i in lo] == ["c1", "c2", "bn1"] and [LABELS[i] for i in hi] == ["c3", "fc1", "bn2"]
    v = [1.0, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.95, 0.99]
    bu = bottom_up(v, LABELS)
    assert bu["lower_mean"] == pytest.approx(0.85) and bu["upper_mean"] == pytest.approx(0.5)
    assert bu["spearman_depth"] == pytest.approx(-1.0)
    assert bottom_up(v[::-1], LABELS[::-1])["lower_mean"] != bu["lower_mean"]
    with pytest.raises(ValueError, match="2 hidden"):
        hidden_thirds(["in", "c1", "out"])


def test_spearman_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(30), rng.integers(0, 5, 30)          # ties in b
    assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(a, np.ones(30)) == 0.0


def test_bn_blocks_on_a_block_grid():
    n = len(LABELS)
    g = np.full((n, n), 0.3)
    np.fill_diagonal(g, 1.0)
    g[3, 2], g[2, 3] = 0.98, 0.96                  # bn1 with c2
    g[7, 6], g[6, 7] = 0.9, 0.7                    # bn2 with fc1, asymmetric
    st = bn_blocks(g, LABELS)
    assert set(st) == {"bn1", "bn2"}
    assert st["bn1"]["previous"] == "c2" and st["bn1"]["with_previous"] == pytest.approx(0.97)
    assert st["bn1"]["two_below"] == "c1" and st["bn1"]["with_two_below"] == pytest.approx(0.3)
    assert st["bn2"]["with_previous"] == pytest.approx(0.8)


def test_residual_stripes_on_a_lattice():
    labels = ["in", "conv"] + [f"r{s}.{b}{x}" for s in (1, 2) for b in (1, 2, 3) for x in ("/cv1", "/cv2", "")] \
        + ["bn", "pool", "logits", "out"]
    n = len(labels)
    g = np.full((n, n), 0.5)
    stream = [i for i, l in enumerate(labels) if l.startswith("r") and "/" not in l]
    for i in stream:
        for j in stream:
            g[i, j] = 0.8 if labels[i][:2] == labels[j][:2] else 0.1     # cross-stage pairs are ignored
    st = residual_stripes(g, labels)
    assert st["n_stream_pairs"] == 6                     # 3 pairs of block outputs per stage
    assert st["stream_mean"] == pytest.approx(0.8) and st["branch_mean"] == pytest.approx(0.5)
    assert st["ratio"] == pytest.approx(1.6)
    flat = residual_stripes(np.full((n, n), 0.5), labels)
    assert flat["ratio"] == pytest.approx(1.0)


def test_settled_step_and_ends_vs_middle():
    steps = [0, 10, 20, 30, 40]
    assert settled_step([0.5, 0.95, 0.8, 0.92, 1.0], steps, 0.9) == 30
    assert settled_step([0.95, 0.95, 0.92, 0.99, 1.0], steps, 0.9) == 0
    assert settled_step([0.95, 0.95, 0.92, 0.99, 0.5], steps, 0.9) is None
    d = [1.0, 0.9, 0.8, 0.5, 0.4, 0.45, 0.6, 0.85, 0.95, 0.99]
    st = ends_vs_middle(d, LABELS)
    assert st["ends"] == ["c1", "c2", "logits", "out"] and st["middle"] == ["bn1", "p1", "c3", "fc1", "bn2"]
    assert st["middle_min_layer"] == "p1" and st["middle_min"] == 0.4
    assert st["ends_mean"] == pytest.approx(np.mean([0.9, 0.8, 0.95, 0.99]))
    g = np.full((10, 10), 0.4)
    np.fill_diagonal(g, 0.7)
    assert diag_contrast(g, LABELS, ["p1", "c3"]) == pytest.approx(0.3)

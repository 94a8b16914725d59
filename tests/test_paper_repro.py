"""paper_repro: the runner's plumbing (list, errors, outputs, cache) and every implemented figure
in its tiny configuration (seconds each; the claims are not meaningful at that size, only the
plumbing is checked), plus the shared analysis helpers' mathematics."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from paper_repro import registry
from paper_repro.analysis import project_onto_variates, svcca_directions
from paper_repro.cache import Cache, config_hash
from paper_repro.cli import main
from paper_repro.context import RunContext
from paper_repro.data import signal_noise_pair
from paper_repro.runner import run_figure

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES_MD = os.path.join(ROOT, "..", "shared", "papers", "FIGURES.md")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("paper_repro_out"))


def test_list_shows_every_id_and_status(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for fig_id in registry.CATALOG:
        line = next(l for l in text.splitlines() if l.split() and l.split()[0] == fig_id)
        want = "implemented" if registry.is_implemented(fig_id) else "not implemented yet"
        assert want in line, line
    assert sum("not implemented yet" in l for l in text.splitlines()) == \
        len(registry.CATALOG) - len(registry.IMPLEMENTED)


@pytest.mark.skipif(not os.path.exists(FIGURES_MD), reason="shared/papers/FIGURES.md not present")
def test_catalog_matches_figures_md():
    text = open(FIGURES_MD).read()
    ids = set()
    for paper, section in (("svcca", text.split("## [S]")[1].split("## [P]")[0]),
                           ("pwcca", text.split("## [P]")[1])):
        for row in re.findall(r"^\| (fig[^|]+?) \|", section, flags=re.M):
            first, *rest = [s.strip() for s in row.split(",")]
            ids.add(f"{paper}-{first}")
            ids.update(f"{paper}-fig{r}" for r in rest)       # "figA5, A6"
    assert ids == set(registry.CATALOG)


def test_resolve_selectors():
    assert registry.resolve("fig4") == ["svcca-fig4", "pwcca-fig4"]
    assert registry.resolve("pwcca-fig2") == ["pwcca-fig2"]
    assert registry.resolve("all") == list(registry.CATALOG)
    assert all(i.startswith("svcca-") for i in registry.resolve("svcca"))
    with pytest.raises(registry.UnknownFigureError, match="names no figure"):
        registry.resolve("fig99")


def test_unimplemented_figure_fails_clearly_and_writes_nothing(tmp_path, capsys, monkeypatch):
    missing = [i for i in registry.CATALOG if not registry.is_implemented(i)]
    if not missing:          # every figure is implemented: take one out of the registry for this test
        missing = [list(registry.IMPLEMENTED)[-1]]
        monkeypatch.delitem(registry.IMPLEMENTED, missing[0])
    fig_id = missing[0]
    assert main([fig_id, "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not implemented yet" in err and fig_id in err
    assert not any(f.startswith(fig_id) for f in os.listdir(tmp_path)) if tmp_path.exists() else True
    with pytest.raises(registry.FigureNotImplementedError, match="not implemented yet"):
        registry.get_figure(fig_id)
    assert main(["no-such-fig", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("fig_id", sorted(registry.IMPLEMENTED))
def test_figure_tiny_writes_outputs_and_claim_check(fig_id, out_dir):
    ctx = RunContext(scale="tiny", out=out_dir, progress=False)
    rec = run_figure(fig_id, ctx)
    for ext in ("png", "pdf", "json"):
        path = os.path.join(out_dir, f"{fig_id}.{ext}")
        assert os.path.getsize(path) > 0
    with open(os.path.join(out_dir, f"{fig_id}.png"), "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(out_dir, f"{fig_id}.pdf"), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    saved = json.load(open(os.path.join(out_dir, f"{fig_id}.json")))
    assert saved == json.loads(json.dumps(rec))
    assert saved["id"] == fig_id and saved["scale"] == "tiny" and saved["config"]["seed"] == 0
    assert saved["data"], "every number drawn must be in the JSON"
    c = saved["claim_check"]
    assert {"claim", "statistic", "measured", "holds", "verdict"} <= set(c)
    assert isinstance(c["holds"], bool) and c["measured"]
    assert c["verdict"].startswith("holds" if c["holds"] else "does not hold")
    assert saved["timing"]["total_s"] > 0


def test_cache_hit_on_second_run_and_force(out_dir):
    ctx = RunContext(scale="tiny", out=out_dir, progress=False)
    run_figure("svcca-fig1", ctx)                      # trains the two toy nets or loads them
    rec = run_figure("svcca-fig1", RunContext(scale="tiny", out=out_dir, progress=False))
    assert rec["timing"]["cache_hits"] == 2 and rec["timing"]["cache_misses"] == 0
    forced = run_figure("svcca-fig1", RunContext(scale="tiny", out=out_dir, progress=False, force=True))
    assert forced["timing"]["cache_hits"] == 0 and forced["timing"]["cache_misses"] == 2
    # training is deterministic, so a forced retrain draws the same numbers
    assert forced["data"]["rho"] == pytest.approx(rec["data"]["rho"], abs=1e-6)


def test_cache_keys_atomic_and_safe(tmp_path):
    cache = Cache(str(tmp_path))
    calls = []
    def fn():
        calls.append(1)
        return {"a": np.arange(3.0)}
    cfg = {"w": 3, "lr": 1e-3}
    assert config_hash("k", cfg) == config_hash("k", {"lr": 1e-3, "w": 3})   # key order irrelevant
    assert config_hash("k", cfg) != config_hash("k", {"w": 4, "lr": 1e-3})
    np.testing.assert_array_equal(cache.get_or_compute("k", cfg, fn)["a"], np.arange(3.0))
    np.testing.assert_array_equal(cache.get_or_compute("k", cfg, fn)["a"], np.arange(3.0))
    assert len(calls) == 1 and cache.hits == 1
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".fastcca-")]
    # a truncated file is recomputed with a warning, never trusted
    path = cache.path("k", cfg)
    with open(path, "r+b") as fh:
        fh.truncate(20)
    with pytest.warns(UserWarning, match="unreadable"):
        cache.get_or_compute("k", cfg, fn)
    assert len(calls) == 2
    # a file under the right name but for another configuration is not taken
    os.replace(cache.path("k", cfg), cache.path("k", {"other": 1}))
    with pytest.warns(UserWarning, match="different entry"):
        assert cache.load("k", {"other": 1}) is None
    with pytest.raises(TypeError, match="pickle"):
        cache.store("k", {"x": 1}, {"bad": np.array([object()])})


def test_python_m_paper_repro_list_from_repo_root():
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "paper_repro", "list"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    n_missing = len(registry.CATALOG) - len(registry.IMPLEMENTED)
    assert "pwcca-fig2" in r.stdout and ("not implemented yet" in r.stdout) == (n_missing > 0)
    assert f"{len(registry.IMPLEMENTED)} of {len(registry.CATALOG)} figures implemented" in r.stdout


def test_svcca_directions_are_canonical_variates():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 3))
    x = z @ rng.standard_normal((3, 8)) + 0.3 * rng.standard_normal((400, 8))
    y = z @ rng.standard_normal((3, 6)) + 0.3 * rng.standard_normal((400, 6))
    d = svcca_directions(x, y, keep=5)
    vx, vy = d["variates_x"], d["variates_y"]
    np.testing.assert_allclose(vx.std(0, ddof=1), 1.0, atol=1e-8)
    np.testing.assert_allclose(np.corrcoef(vx.T), np.eye(vx.shape[1]), atol=1e-8)
    got = [np.corrcoef(vx[:, i], vy[:, i])[0, 1] for i in range(vx.shape[1])]
    np.testing.assert_allclose(got, d["rho"], atol=1e-8)
    assert d["max_coef_diff"] < 1e-8
    # projecting onto every variate of a full-rank side reproduces a layer inside that span
    h = vx @ rng.standard_normal((vx.shape[1], 4)) + 2.0
    np.testing.assert_allclose(project_onto_variates(h, vx), h, atol=1e-10)


def test_signal_noise_pair_shares_exactly_k_dimensions():
    import fastcca
    from paper_repro.context import thread_limits
    rng = np.random.default_rng(1)
    x, y = signal_noise_pair(2000, 12, 5, 0.01, rng)
    with thread_limits(1):
        rho = fastcca.cca(x, y).coefficients
    assert np.all(rho[:5] > 0.999) and np.all(rho[5:] < 0.3)


def test_paper_scale_without_data_is_a_clear_error(tmp_path, capsys):
    from paper_repro.data import cifar10
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        cifar10(None)
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        cifar10(str(tmp_path))
    assert main(["svcca-figA2", "--scale", "paper", "--data-dir", str(tmp_path),
                 "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "CIFAR-10" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o" / "svcca-figA2.png")


def test_dataset_pickles_cannot_run_code(tmp_path):
    import pickle
    from paper_repro.data import _load_cifar_batch

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(ValueError, match="refusing"):
        _load_cifar_batch(str(path))
    good = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [1, 2]}
    path.write_bytes(pickle.dumps(good))
    x, y = _load_cifar_batch(str(path))
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [1, 2]


# claims that do not show at the default scale at any of seeds 0-2 (the figure still renders; its
# check says so); what was tried and what scale each needs: docs/paper-claims.md
NOT_AT_SMALL = {
    "pwcca-fig3": "the memorizing nets' early layers split from conv2 on (8x8 inputs: the early layers already see "
                  "most of the image); at 16x16 conv1-2 agree but conv3 and the late order fail; needs 32x32 inputs",
    "pwcca-fig5": "the learning rates order the solutions (higher rate, tighter group) rather than cluster them; "
                  "lr 1e-3 and 1e-2 share a cluster; at convergence the structure goes",
}


# claims that hold at seed 0 (the default) but not at every seed tried (seeds 0, 1, 2 with
# `python -m paper_repro all --seed N`): a different training run, e.g. on a CPU that rounds
# differently, may flip them, so CI does not gate on them.  None since issue 17 (svcca-fig2b and
# pwcca-fig1 hold at seeds 0-2, docs/paper-claims.md).
SEED_FRAGILE: dict = {}


def _claim_param(fig_id):
    marks = [pytest.mark.claim]
    if fig_id in NOT_AT_SMALL:
        # strict: the documented verdict (fails at seeds 0, 1 and 2) is itself checked
        marks += [pytest.mark.not_at_small, pytest.mark.xfail(reason=NOT_AT_SMALL[fig_id], strict=True)]
    if fig_id in SEED_FRAGILE:
        marks.append(pytest.mark.seed_fragile)
    return pytest.param(fig_id, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("fig_id", [_claim_param(i) for i in sorted(registry.IMPLEMENTED)])
def test_claim_holds_at_default_scale(fig_id, tmp_path_factory):
    """The paper's claim, checked at the default scale (seconds to ~1.5 min each, 1 thread; the
    figures share one cache, so shared runs train once).  CI runs the ones marked neither
    not_at_small nor seed_fragile: ``pytest -m "claim and not not_at_small and not seed_fragile"``."""
    out = str(tmp_path_factory.getbasetemp() / "small_scale")
    rec = run_figure(fig_id, RunContext(scale="small", out=out, progress=False))
    assert rec["claim_check"]["holds"], rec["claim_check"]


def test_training_loop_checkpoints_cache_and_determinism(tmp_path):
    import torch
    from paper_repro.models import build
    from paper_repro.training import load_model, train_cached
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 1)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64)
    cfg = {"model": {"name": "toy_mlp", "in_dim": 1, "width": 8, "depth": 2, "out_dim": 2},
           "data": {"name": "test-threshold", "n": 64}, "steps": 30, "lr": 1e-2, "batch_size": 16,
           "loss": "xent", "checkpoints": [0, 10, 30], "seed": 3}
    ctx = RunContext(scale="tiny", out=str(tmp_path), progress=False)
    run = train_cached(ctx, cfg, x, labels)
    assert run["checkpoints"] == [0, 10, 30] and len(run["loss"]) == 30
    torch.manual_seed(3)
    init = build(cfg["model"]).state_dict()
    for k, v in init.items():                       # checkpoint 0 is the initialisation
        torch.testing.assert_close(run["states"][0][k], v)
    assert run["loss"][-5:].mean() < run["loss"][:5].mean()
    again = train_cached(RunContext(scale="tiny", out=str(tmp_path), progress=False), cfg, x, labels)
    forced = train_cached(RunContext(scale="tiny", out=str(tmp_path), progress=False, force=True), cfg, x, labels)
    for k in init:
        torch.testing.assert_close(again["states"][-1][k], run["states"][-1][k])
        torch.testing.assert_close(forced["states"][-1][k], run["states"][-1][k])   # deterministic
    model = load_model(cfg, run["states"][-1], device="cpu")
    acc = (model(torch.as_tensor(x)).argmax(1).numpy() == labels).mean()
    assert acc > 0.8


def test_markov_sequences_follow_one_fixed_chain():
    from paper_repro.data import markov_sequences
    a = markov_sequences(300, 12, 10, seed=5, branching=3)
    b = markov_sequences(200, 7, 10, seed=5, branching=3)       # another draw from the same chain
    assert a.dtype == np.int64 and a.shape == (300, 12) and a.min() >= 0 and a.max() < 10
    succ = {}
    for seq in np.concatenate([a[:, :7], b]):
        for u, v in zip(seq[:-1], seq[1:]):
            succ.setdefault(int(u), set()).add(int(v))
    assert max(len(s) for s in succ.values()) <= 3               # every token has <= 3 successors
    np.testing.assert_array_equal(a, markov_sequences(300, 12, 10, seed=5, branching=3))


def test_word_sequences_spell_a_markov_chain_over_the_lexicon():
    """Letters spell words of the lexicon, a separator after each, every word followed only by one
    of its `branching` successors; one (seed, lexicon_seed) is one draw."""
    from paper_repro.data import WORD_LETTERS, word_lexicon, word_sequences
    words, succ, prob = word_lexicon()
    assert len(words) == len(set(words)) == 64 and succ.shape == prob.shape == (64, 3)
    assert all(2 <= len(w) <= 5 and all(0 <= c < WORD_LETTERS for c in w) for w in words)
    assert all(len(set(r)) == 3 for r in succ.tolist())
    np.testing.assert_allclose(prob.sum(1), 1.0)
    a = word_sequences(200, 40, seed=4)
    assert a.dtype == np.int64 and a.shape == (200, 40) and a.min() >= 0 and a.max() <= WORD_LETTERS
    np.testing.assert_array_equal(a, word_sequences(200, 40, seed=4))
    assert not np.array_equal(a, word_sequences(200, 40, seed=5))
    assert not np.array_equal(a, word_sequences(200, 40, seed=4, lexicon_seed=1))
    index = {w: i for i, w in enumerate(words)}
    seen_pairs = 0
    for seq in a.tolist():
        cuts = [i for i, t in enumerate(seq) if t == WORD_LETTERS]
        assert all(j - i > 1 for i, j in zip(cuts, cuts[1:]))          # no empty word
        # the complete words: between two separators (the first and last pieces may be cut)
        ids = [index[tuple(seq[i + 1:j])] for i, j in zip(cuts, cuts[1:])]
        for u, v in zip(ids, ids[1:]):
            assert v in succ[u]
            seen_pairs += 1
        if cuts:                                                          # a cut first word ends a lexicon word
            assert any(w[len(w) - cuts[0]:] == tuple(seq[:cuts[0]]) for w in words if len(w) >= cuts[0])
    assert seen_pairs > 500


def test_figA8_own_lms_at_small_scale_fig6_runs_at_paper_scale():
    """pwcca-figA8 trains its own LMs on word sequences at the tiny / small scales, and shares
    pwcca-fig6's PTB / WikiText-2 runs (the same training config, so the same cache entries) at
    paper scale; its labels name the data that ran."""
    from paper_repro.figures import pwcca_fig6, pwcca_figA8
    from paper_repro.lm import corpus_label, lm_train_config
    a8, f6 = pwcca_figA8.CONFIGS, pwcca_fig6.CONFIGS
    assert a8["paper"] == f6["paper"]
    assert lm_train_config(a8["paper"], 5, [0], 0, vocab=10) == lm_train_config(f6["paper"], 5, [0], 0, vocab=10)
    for scale in ("tiny", "small"):
        assert a8[scale]["synthetic"] == "words" and lm_train_config(a8[scale], 3, [0], 0)["data"]["name"] == "word_sequences"
        assert corpus_label(a8[scale], [3, 5]) == "synthetic word sequences"
        assert lm_train_config(a8[scale], 3, [0], 0) != lm_train_config(f6[scale], 3, [0], 0)
    assert corpus_label(a8["paper"], [3, 5]) == "PTB (3-layer) / WikiText-2 (5-layer)"
    assert a8["small"]["hidden"] == 128 and f6["small"]["hidden"] == 64


@pytest.mark.parametrize("spec", [{"name": "svcca_convnet", "width": 4, "fc": 8},
                                  {"name": "resnet", "width": 4, "blocks": 1},
                                  {"name": "pwcca_convnet", "width_factor": 1 / 32}])
def test_image_classifiers_hidden_and_forward_from_agree(spec):
    """Every named layer's output, fed to forward_from, gives the same logits (eval mode)."""
    import torch
    from paper_repro.models import build
    torch.manual_seed(0)
    model = build(dict(spec, in_channels=1)).eval()
    x = torch.randn(5, 1, 8, 8)
    hs = model.hidden(x)
    assert len(hs) == len(model.layer_names) and model.layer_names[0] == "in" and model.layer_names[-1] == "out"
    assert torch.equal(hs[0], x)
    for i in range(len(hs) - 1):
        assert torch.allclose(model.forward_from(i, hs[i]), hs[-2], atol=1e-5), model.layer_names[i]
    assert torch.allclose(model.forward_from(len(hs) - 1, hs[-1]), torch.log_softmax(hs[-2], 1), atol=1e-5)
    assert torch.allclose(hs[-1].sum(1), torch.ones(5))


def test_random_translate_moves_each_image_within_the_shift():
    import torch
    from paper_repro.training import random_translate
    x = torch.rand(6, 2, 5, 5) + 1.0
    out = random_translate(x, 2, np.random.default_rng(0))
    for img, src in zip(out, x):
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.zeros_like(src)
                ys, yd = (slice(dy, None), slice(0, 5 - dy)) if dy >= 0 else (slice(0, 5 + dy), slice(-dy, None))
                xs, xd = (slice(dx, None), slice(0, 5 - dx)) if dx >= 0 else (slice(0, 5 + dx), slice(-dx, None))
                ref[:, yd, xd] = src[:, ys, xs]
                found |= bool(torch.equal(img, ref))
        assert found


@pytest.mark.parametrize("batch", [None, 64])
@pytest.mark.parametrize("spec", [{"name": "pwcca_convnet", "width_factor": 1 / 16},
                                  {"name": "resnet", "width": 4, "blocks": 1}])
def test_batchnorm_statistics_from_data_normalise_that_data(spec, batch):
    """After it, in eval mode, every BN layer's input x on the same images has per-channel running
    mean = mean(x) and running var = the biased var(x) (to 1e-5), so its normalised input has
    per-channel mean ~0 and variance ~1; the BN momenta are restored and the model is in eval mode."""
    import torch
    from torch import nn
    from paper_repro.models import batchnorm_statistics_from_data, build
    torch.manual_seed(0)
    model = build(dict(spec, in_channels=1))
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(float(m.running_var.min()) == 1.0 for m in bns)     # at init: BN = identity
    x = torch.rand(300, 1, 8, 8) * 3 + 1
    assert batchnorm_statistics_from_data(model, x, batch=batch) is model and not model.training
    assert all(m.momentum == 0.1 for m in bns)
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.__setitem__(mod, (inp[0], out))) for m in bns]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    for m in bns:
        xin, out = seen[m]
        dims = [0] + list(range(2, xin.ndim))
        xd = xin.double()
        mean, var = xd.mean(dim=dims), xd.var(dim=dims, unbiased=False)
        torch.testing.assert_close(m.running_mean.double(), mean, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m.running_var.double(), var, rtol=1e-5, atol=1e-5)
        shape = [1, -1] + [1] * (xin.ndim - 2)
        z = (xd - m.running_mean.double().view(shape)) / torch.sqrt(m.running_var.double().view(shape) + m.eps)
        assert float(z.mean(dim=dims).abs().max()) < 1e-4
        v = z.var(dim=dims, unbiased=False)
        torch.testing.assert_close(v, var / (var + m.eps), rtol=1e-4, atol=1e-4)
        assert float((v - 1).abs().max()) < 1e-2
        torch.testing.assert_close(out.double(), z, rtol=1e-4, atol=1e-4)          # weight 1, bias 0 at init


def test_batchnorm_statistics_in_batches_equal_one_pass():
    """The batched route (one BN layer at a time, float64 sums) gives the one-pass statistics."""
    import torch
    from torch import nn
    from paper_repro.models import batchnorm_statistics_from_data, build
    x = torch.rand(250, 1, 8, 8) * 2 - 0.5
    nets = []
    for batch in (None, 32):
        torch.manual_seed(1)
        nets.append(batchnorm_statistics_from_data(build({"name": "pwcca_convnet", "width_factor": 1 / 16,
                                                          "in_channels": 1}), x, batch=batch))
    pairs = [(a, b) for a, b in zip(nets[0].modules(), nets[1].modules()) if isinstance(a, nn.BatchNorm2d)]
    assert len(pairs) == 11
    for a, b in pairs:
        torch.testing.assert_close(a.running_mean, b.running_mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(a.running_var, b.running_var, rtol=1e-4, atol=1e-5)


def test_init_model_is_the_step_zero_checkpoint(tmp_path):
    """init_model(spec, seed) equals checkpoint 0 of a training run with that model and seed."""
    from paper_repro.classifiers import classifier_config, train_classifier
    from paper_repro.training import init_model
    ctx = RunContext(scale="tiny", out=str(tmp_path), progress=False)
    cfg = classifier_config(ctx, {"name": "pwcca_convnet", "width_factor": 1 / 32}, steps=2, checkpoints=[0, 2],
                            seed=4)
    run = train_classifier(ctx, cfg)
    state = init_model(cfg["model"], 4).state_dict()
    import torch
    for k, v in run["states"][0].items():
        torch.testing.assert_close(state[k], v)


def test_circular_shift_batches_roll_every_image():
    """(2s + 1)^2 shifts x n images, in batches of at most ``batch``; each image is the circular
    roll of its original by its (dy, dx), and every (dy, dx) in [-s, s]^2 appears once per image."""
    from paper_repro.populations import circular_shift_batches
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 2, 5, 6)).astype(np.float32)
    got = list(circular_shift_batches(x, 2, batch=3))
    assert all(len(b) <= 3 for _, _, b in got)
    assert sum(len(b) for _, _, b in got) == 25 * 7
    shifts = {}
    for dy, dx, b in got:
        shifts.setdefault((dy, dx), []).append(b)
    assert sorted(shifts) == [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    for (dy, dx), parts in shifts.items():
        imgs = np.concatenate(parts)
        assert imgs.shape == x.shape
        for img, src in zip(imgs, x):
            np.testing.assert_array_equal(img, np.roll(src, (dy, dx), axis=(1, 2)))
            if (dy, dx) != (0, 0):      # a circular shift keeps every pixel (a translation would lose some)
                np.testing.assert_array_equal(np.sort(img, axis=None), np.sort(src, axis=None))
    np.testing.assert_array_equal(np.concatenate(shifts[(0, 0)]), x)


def test_streamed_pairwise_pwcca_equals_the_symmetric_distance():
    """The init analysis' distance from one JointMoments per layer, streamed in batches,
    ``1 - (G[i, j] + G[j, i]) / 2`` with G the PWCCA similarity grid, equals
    symmetric_pwcca_distance on the full arrays."""
    import fastcca
    from paper_repro.populations import symmetric_pwcca_distance
    rng = np.random.default_rng(1)
    z = rng.standard_normal((900, 6))
    nets = [np.tanh(z @ rng.standard_normal((6, 8)) + 0.3 * rng.standard_normal((900, 8))) for _ in range(3)]
    jm = fastcca.JointMoments()
    for i in range(0, 900, 250):
        jm.update({k: a[i:i + 250] for k, a in enumerate(nets)})
    g = fastcca.similarity_grid(jm, [0, 1, 2], [0, 1, 2], "pwcca").values
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        np.testing.assert_allclose(1 - 0.5 * (g[i, j] + g[j, i]), symmetric_pwcca_distance(nets[i], nets[j]),
                                   rtol=1e-9, atol=1e-10)


def test_digits_split_is_fixed_and_stratified(tmp_path):
    from paper_repro.classifiers import image_data
    a = RunContext(scale="small", out=str(tmp_path), seed=0)
    b = RunContext(scale="small", out=str(tmp_path), seed=3)
    (xa, ya), (xb, yb) = image_data(a, False), image_data(b, False)
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    xtr, ytr = image_data(a, True)
    assert len(ytr) + len(ya) == 1797 and xtr.shape[1:] == (1, 8, 8) and xtr.dtype == np.float32
    assert np.all(np.abs(np.bincount(ya) - 0.2 * np.bincount(np.concatenate([ya, ytr]))) <= 1)

"""paper_repro's device plumbing, checked on the CPU (no GPU here; a real GPU run is still needed):

- which torch device and fastcca backend a run context picks for each ``--backend``;
- the figure code never leaves a tensor on the default device or turns a device tensor into
  NumPy without bringing it to the host first (a static check of every ``torch`` tensor
  constructor and every ``.numpy()`` in ``paper_repro/``; on the CPU both mistakes would pass
  unnoticed, on a GPU they raise);
- the figures run end to end with fastcca's CUDA backend, on the strict CuPy stand-in of
  ``tests/fake_cupy`` (host/device mixing raises there as on CuPy), torch kept on the CPU.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from paper_repro.context import RunContext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "paper_repro")


def test_backend_picks_the_torch_device_and_the_fastcca_backend(monkeypatch):
    import torch
    cpu = RunContext(backend="cpu", out="unused")
    assert (cpu.torch_device, cpu.fastcca_backend) == ("cpu", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto = RunContext(backend="auto", out="unused")
    assert (auto.torch_device, auto.fastcca_backend) == ("cpu", "cpu")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        RunContext(backend="cuda", out="unused").torch_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert (auto.torch_device, auto.fastcca_backend) == ("cuda", "cuda")
    gpu = RunContext(backend="cuda", out="unused")
    assert (gpu.torch_device, gpu.fastcca_backend) == ("cuda", "cuda")
    pinned = RunContext(backend="auto", device="cuda:1", out="unused")
    assert (pinned.torch_device, pinned.fastcca_backend) == ("cuda:1", "cuda")
    split = RunContext(backend="cuda", device="cpu", out="unused")      # what the fake-CuPy test runs
    assert (split.torch_device, split.fastcca_backend) == ("cpu", "cuda")


#: torch functions that create a tensor: each call in paper_repro must say on which device
_CONSTRUCTORS = {"as_tensor", "tensor", "zeros", "ones", "empty", "full", "arange", "randn", "rand", "randint",
                 "zeros_like", "ones_like", "eye", "linspace"}
#: (file, function) pairs allowed to build CPU tensors: the cache turns stored arrays into a state
#: dict, which load_state_dict copies onto the model's device
_HOST_ONLY = {("cache.py", "arrays_to_state_dict")}


def _calls(path):
    tree = ast.parse(open(path).read(), filename=path)
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Call):
                    yield fn.name, node


def _sources():
    for folder in (PKG, os.path.join(PKG, "figures")):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_every_tensor_is_created_on_a_device_and_brought_to_the_host_explicitly():
    bad = []
    for path in _sources():
        rel = os.path.relpath(path, PKG)
        for fname, call in _calls(path):
            f = call.func
            if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "torch"
                    and f.attr in _CONSTRUCTORS and (rel, fname) not in _HOST_ONLY
                    and not any(k.arg == "device" for k in call.keywords)):
                bad.append(f"{rel}:{call.lineno} {fname}: torch.{f.attr}(...) without device=")
            if isinstance(f, ast.Attribute) and f.attr == "numpy" and not call.args:
                recv = f.value
                ok = (isinstance(recv, ast.Call) and isinstance(recv.func, ast.Attribute) and recv.func.attr == "cpu")
                if not ok and (rel, fname) not in _HOST_ONLY:
                    bad.append(f"{rel}:{call.lineno} {fname}: .numpy() of a tensor not brought to the host "
                               "with .cpu() first (use training.host)")
    assert not bad, "\n".join(bad)


def test_model_evaluation_helpers_require_the_device():
    """The helpers that evaluate a checkpoint take ``device`` without a default, so a figure that
    forgets it fails in the tiny test run instead of evaluating on the CPU what ran on the GPU."""
    import inspect
    from paper_repro import classifiers, genmem, lm, populations, pwcca_dynamics, svcca_dynamics, training
    from paper_repro.figures import svcca_fig6
    helpers = [training.load_model, classifiers.layer_outputs, classifiers.predictions, classifiers.accuracy,
               genmem.representations, populations.filter_means, populations.ablation_curve, lm.hidden_states,
               pwcca_dynamics.one_layer, svcca_dynamics.batches, svcca_fig6.softmax_outputs, svcca_fig6.logit_moments]
    for h in helpers:
        p = inspect.signature(h).parameters["device"]
        assert p.kind is p.KEYWORD_ONLY and p.default is p.empty, h.__qualname__


def _run_on_fake_cupy(fig_ids, out):
    code = f"""
import json, sys
import cupy
assert cupy.FAKE
from paper_repro.context import RunContext
from paper_repro.runner import run_figure
for fig_id in {list(fig_ids)!r}:
    rec = run_figure(fig_id, RunContext(scale="tiny", backend="cuda", device="cpu", out={out!r}, progress=False))
    print(json.dumps({{"id": fig_id, "devices": rec["devices"]}}))
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests", "fake_cupy")]))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)


#: one figure per way the figures reach fastcca: moments of host arrays (pwcca-fig3, fig4), the
#: fastcca.torch recorder (svcca-figA4), conv moments per frequency (svcca-fig6), LSTM states (pwcca-fig6)
_QUICK = ("pwcca-fig3", "pwcca-fig4", "svcca-figA4", "svcca-fig6", "pwcca-fig6")


def _assert_ran(r, fig_ids):
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    recs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [x["id"] for x in recs] == list(fig_ids)
    assert all(x["devices"] == {"torch": "cpu", "fastcca": "cuda"} for x in recs)


def test_figures_run_on_the_cuda_backend_with_the_fake_cupy(tmp_path):
    _assert_ran(_run_on_fake_cupy(_QUICK, str(tmp_path)), _QUICK)


@pytest.mark.slow
def test_every_figure_runs_on_the_cuda_backend_with_the_fake_cupy(tmp_path):
    from paper_repro import registry
    ids = [i for i in registry.IMPLEMENTED if i not in _QUICK]
    _assert_ran(_run_on_fake_cupy(ids, str(tmp_path)), ids)


def test_gpu_estimate_covers_every_figure_and_scales_with_the_work():
    """`list`'s GPU estimate: one entry per figure; FLOPs counted on the meta device grow with the
    batch and the width as the convolutions do (a conv layer's FLOPs are linear in the batch and
    quadratic in the width); a step never costs less than the floor."""
    from paper_repro import gpu_estimate as g, registry
    est = g.estimate_seconds()
    assert set(est) == set(registry.CATALOG) == set(g.FIGURE_RUNS)
    assert all(v >= 0 for v in est.values())
    spec = {"name": "pwcca_convnet", "width_factor": 1.0, "in_channels": 3}
    f = lambda s, shape: g._forward_flops(tuple(sorted(s.items())), shape, False)
    one, four = f(spec, (1, 3, 32, 32)), f(spec, (4, 3, 32, 32))
    assert four == pytest.approx(4 * one, rel=1e-9)
    wide = f(dict(spec, width_factor=2.0), (1, 3, 32, 32))
    assert 3.5 * one < wide < 4.0 * one              # conv FLOPs ~ width^2 (the first layer and the head are not)
    assert g.training_seconds({"name": "toy_mlp", "in_dim": 1, "width": 4, "depth": 1, "out_dim": 1}, (2, 1), 10) \
        == pytest.approx(10 * g.STEP_FLOOR_S)
    assert g.format_duration(30) == "<1 min" and g.format_duration(5400) == "~1.5 h"
    assert est["pwcca-fig4"] > est["pwcca-fig3"] > est["svcca-fig6"] > 0 and est["pwcca-fig2"] == 0

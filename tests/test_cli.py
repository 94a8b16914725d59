"""The command line: compare saved arrays in both layouts; clear errors; the demo runs."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fastcca
from fastcca.__main__ import main
from conftest import make_pair


@pytest.fixture
def saved(tmp_path):
    x, y = make_pair(600, 10, 7, seed=5)
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "b.npy", y)
    np.save(tmp_path / "at.npy", x.T)
    np.save(tmp_path / "bt.npy", y.T)
    return tmp_path, x, y


@pytest.mark.parametrize("measure, f", [("svcca", fastcca.svcca), ("pwcca", fastcca.pwcca),
                                        ("cca", fastcca.cca), ("cka", fastcca.linear_cka)])
def test_compare_json_matches_api_in_both_layouts(saved, capsys, measure, f):
    d, x, y = saved
    expected = f(x, y).similarity
    for a, b, layout in (("a", "b", "samples-first"), ("at", "bt", "neurons-first")):
        assert main(["compare", str(d / f"{a}.npy"), str(d / f"{b}.npy"), "--measure", measure,
                     "--layout", layout, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["similarity"] == pytest.approx(expected, abs=1e-12)
        assert out["measure"] == {"cka": "linear_cka"}.get(measure, measure)


def test_compare_text_and_keep_count(saved, capsys):
    d, x, y = saved
    main(["compare", str(d / "a.npy"), str(d / "b.npy"), "--keep", "4"])
    out = capsys.readouterr().out
    assert "svcca: similarity" in out and "x 4/10" in out
    assert f"{fastcca.svcca(x, y, keep=4).similarity:.6f}" in out


def test_compare_errors(saved, capsys):
    """One `error: ...` line and exit 1 (the many other bad inputs: tests/test_bad_input.py)."""
    d, _, _ = saved
    np.save(d / "bad.npy", np.zeros((3, 4, 5)))
    for args, match in (([str(d / "bad.npy"), str(d / "b.npy")], "expected a 2-D array"),
                        ([str(d / "missing.npy"), str(d / "b.npy")], "no such file"),
                        ([str(d / "a.npy"), str(d / "bt.npy")], "same datapoints")):
        assert main(["compare", *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and match in err


def test_module_entry_point_runs(saved):
    d, _, _ = saved
    r = subprocess.run([sys.executable, "-m", "fastcca", "compare", str(d / "a.npy"), str(d / "b.npy"),
                        "--measure", "pwcca"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "pwcca: similarity" in r.stdout


def test_demo_on_digits(capsys):
    from fastcca.demo import run
    lines = []
    acts_a, acts_b = run(out=lines.append)
    assert "1797 images" in lines[0]
    # the paper's point: subspaces agree far better than one-to-one neuron matches
    svcca_1 = fastcca.svcca(acts_a[0], acts_b[0]).similarity
    assert 0.5 < svcca_1 < 1.0

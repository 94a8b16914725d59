"""The benchmark scripts of asv_bench/ that no other check runs: each must still run against
this tree and its own correctness check must pass, at a tiny size (seconds).  A script broken
by an API change would otherwise be found only by whoever next measures with it.  Speed is
never asserted here: the targets are each script's own exit status at full size (``--check`` /
the default), which these runs switch off or do not reach."""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(name, *args, timeout=300, clean_stderr=True):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "asv_bench", name), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    if clean_stderr:
        assert "Traceback" not in r.stderr, r.stderr[-3000:]
    return r


def test_bench_torch_grid_equals_the_pairs():
    """10-layer-style grid vs per-pair SVCCA: the script exits 1 when the matrices differ (1e-8)."""
    pytest.importorskip("torch")
    r = run_script("bench_torch.py", "--n", "500", "--width", "8", "--layers", "3", "--batch", "250",
                   "--repeat", "1")
    assert r.returncode == 0, r.stdout[-2000:]
    diffs = [float(v) for v in re.findall(r"max \|grid - \w+\| = ([0-9.e+-]+)", r.stdout)]
    assert diffs and max(diffs) <= 1e-8


def test_bench_torch_fft_grid_equals_the_pairs():
    pytest.importorskip("torch")
    r = run_script("bench_torch_fft.py", "--n", "40", "--channels", "4", "--size", "8", "--layers", "3",
                   "--batch", "20", "--repeat", "1")
    assert r.returncode == 0, r.stdout[-2000:]
    (diff,) = [float(v) for v in re.findall(r"max \|grid - pairs\| = ([0-9.e+-]+)", r.stdout)]
    assert diff <= 1e-8


def test_bench_measures_times_every_measure(tmp_path):
    out = tmp_path / "measures.json"
    r = run_script("bench_measures.py", "--p", "16", "--n", "500", "--repeats", "1", "--null-draws", "2",
                   "--jackknife-shards", "2", "--no-check", "--out", str(out))
    assert r.returncode == 0, r.stdout[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {"cca", "linear_predictivity", "null_cca", "jackknife"} <= set(rows)
    for name, row in rows.items():
        assert row["ratio"] == pytest.approx(row["baseline"] / row["fastcca"]), name


def test_bench_dask_agrees_and_reports_its_target(tmp_path):
    """The script asserts that the cluster's moments equal the single process's (1e-10)."""
    pytest.importorskip("distributed")
    out = tmp_path / "dask.json"
    r = run_script("bench_dask.py", "--n", "20000", "--p", "8", "--q", "8", "--chunk", "5000", "--repeats", "1",
                   "--baseline-threads", "1", "--json", str(out),
                   clean_stderr=False)     # distributed may log a worker's shutdown with a traceback
    res = json.loads(out.read_text())
    assert res["target"] == 1.3 and res["chunks"] == 4
    assert res["ratio"] == pytest.approx(res["median_dask_s"] / res["median_baseline_s"])
    # exit status 1 exactly when the ratio misses the target (a benchmark that can fail)
    assert r.returncode == int(res["ratio"] > res["target"]), r.stdout[-2000:]

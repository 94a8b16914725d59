"""What the wheel and the source checkout ship: kernels/ imports as fastcca.kernels without a
symlink, every package and data file is declared in pyproject.toml, the demo data load, and the
demo's NumPy MLP computes exact gradients.  (.ci/wheel_check builds and installs the real wheel.)"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_source_checkout_imports_kernels_without_an_install():
    # drop any editable-install finder: only the checkout on sys.path may serve the import
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'Editable' not in type(f).__name__ "
            "and 'Editable' not in getattr(f, '__name__', '')]\n"
            "import fastcca, fastcca.kernels.cpu as c, fastcca.kernels._numba_cpu as n\n"
            "print(c.__file__); print(n.__file__); print(fastcca.kernels is sys.modules['fastcca.kernels'])")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    cpu, numba_cpu, same = r.stdout.split()
    assert Path(cpu) == ROOT / "kernels" / "cpu.py"
    assert Path(numba_cpu) == ROOT / "kernels" / "_numba_cpu.py"
    assert same == "True"


def test_no_top_level_kernels_module_is_importable_from_the_checkout():
    # the checkout's root is on sys.path in tests, so `kernels` would import as a top-level
    # package; what must hold is that fastcca never imports it under that name
    import fastcca.kernels.cpu  # noqa: F401
    assert "kernels" not in sys.modules
    assert sys.modules["fastcca.kernels.cpu"].__name__ == "fastcca.kernels.cpu"


def test_repository_tracks_no_symlink():
    try:
        r = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if r.returncode != 0:
        pytest.skip(f"not a git checkout: {r.stderr.strip()}")
    links = [line.split("\t", 1)[1] for line in r.stdout.splitlines() if line.startswith("120000 ")]
    assert links == [], f"symlinks break on Windows checkouts and in unpacked sdists: {links}"


def _pyproject():
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_directory_is_declared():
    st = _pyproject()["tool"]["setuptools"]
    declared, dirs = set(st["packages"]), st["package-dir"]

    def source(pkg):
        for prefix in sorted(dirs, key=len, reverse=True):
            if pkg == prefix or pkg.startswith(prefix + "."):
                return ROOT / dirs[prefix] / Path(*pkg[len(prefix):].split(".")[1:])
        return ROOT / Path(*pkg.split("."))

    for pkg in declared:
        assert source(pkg).is_dir(), f"{pkg}: {source(pkg)} does not exist"
    found = set()
    for top, folder in (("fastcca", ROOT / "fastcca"), ("fastcca.kernels", ROOT / "kernels")):
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((top, *rel)))
    assert found <= declared, f"packages missing from pyproject.toml: {sorted(found - declared)}"


def test_package_data_patterns_match_files():
    st = _pyproject()["tool"]["setuptools"]
    for pkg, patterns in st["package-data"].items():
        folder = ROOT / Path(*pkg.split("."))
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"package-data {pkg}: {pattern!r} matches no file in {folder}"


def test_shipped_digits():
    from fastcca.demo import load_digits
    x, labels = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float64 and labels.shape == (1797,)
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.all(np.abs(x * 16 - np.round(x * 16)) == 0)  # integer pixel counts 0..16
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_demo_mlp_gradients_match_finite_differences():
    from fastcca.demo import MLP
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((7, 5)), rng.integers(0, 3, 7)
    net = MLP((4, 3), seed=1).fit(x, labels, epochs=1, batch=7)
    onehot, alpha = np.eye(3)[labels], 0.05

    def loss():
        h = ([x] + net.hidden(x))[-1]
        z = h @ net.weights[-1] + net.biases[-1]
        logp = z - z.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        return -(onehot * logp).sum() / len(x) + alpha / (2 * len(x)) * sum((w ** 2).sum() for w in net.weights)

    grads = net._gradients(x, onehot, alpha)
    for p, g in zip(net.weights + net.biases, grads):
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + 1e-6
            up = loss()
            p[idx] = old - 1e-6
            down = loss()
            p[idx] = old
            num[idx] = (up - down) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)

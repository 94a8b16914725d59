import os
from pathlib import Path

import numpy as np
import pytest

PARITY_DIR = Path(os.environ.get("FASTCCA_PARITY_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "parity"))


def make_pair(n, p, q, seed=0, noise=0.3):
    """Correlated activations: y is a random linear map of x plus noise, x has a decaying spectrum."""
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(p) / max(p / 4, 1)) + 0.05
    x = rng.standard_normal((n, p)) * decay @ np.linalg.qr(rng.standard_normal((p, p)))[0]
    y = x @ rng.standard_normal((p, q)) / np.sqrt(p) + noise * rng.standard_normal((n, q))
    return x, y


@pytest.fixture
def pair():
    return make_pair(500, 12, 9)


def parity_case(i):
    path = PARITY_DIR / f"case_{i}.npz"
    if not path.exists():
        pytest.skip(f"parity fixtures not found at {PARITY_DIR} (set FASTCCA_PARITY_DIR)")
    return dict(np.load(path, allow_pickle=False))

"""``python -m fastcca demo``: two small MLPs trained from different random seeds on the 8x8
handwritten digits (1797 images, shipped in ``fastcca/data/digits.npz``), compared layer by layer.

It illustrates the SVCCA paper's observation (Raghu et al. 2017, section 4) that networks trained
from different seeds learn similar subspaces (high SVCCA), even though their individual neurons
differ (a low best one-to-one neuron correlation).  It needs nothing beyond fastcca's own
dependencies: the data ship with the package and the networks are trained here, in NumPy, the
way scikit-learn's ``MLPClassifier`` trains by default (ReLU, Glorot-uniform initialisation,
Adam at 1e-3, mini-batches of 200, L2 penalty 1e-4, 150 epochs).

The data are the test set of the UCI "Optical Recognition of Handwritten Digits" data set
(E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), as distributed with scikit-learn: integer pixels
0..16 as uint8 (``images``, (1797, 64)) and the digit (``labels``, (1797,)).
"""
from __future__ import annotations

from importlib import resources

import numpy as np


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The shipped digits: images scaled to [0, 1], float64 (1797, 64), and labels int64 (1797,).

    Raises
    ------
    fastcca.FastccaFileError
        If the packaged file is missing or not the expected archive.
    """
    from ._io import FastccaFileError
    path = resources.files("fastcca") / "data" / "digits.npz"
    try:
        with resources.as_file(path) as p, np.load(p, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise FastccaFileError(f"the demo data {path} cannot be read ({exc}); reinstall fastcca") from None
    return images.astype(np.float64) / 16.0, labels.astype(np.int64)


class MLP:
    """A ReLU multilayer perceptron with a softmax output, trained by Adam on cross-entropy.

    Parameters
    ----------
    widths : tuple of int
        Hidden layer widths.
    seed : int
        Seed of the initialisation and of the mini-batch order.
    """

    def __init__(self, widths=(64, 32), seed=0):
        self.widths, self.seed = tuple(widths), seed
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []

    def hidden(self, x: np.ndarray) -> list[np.ndarray]:
        """ReLU activations of every hidden layer, (n, width) each."""
        acts, h = [], x
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = np.maximum(h @ w + b, 0.0)
            acts.append(h)
        return acts

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable class of each row of ``x``."""
        h = self.hidden(x)[-1] if len(self.weights) > 1 else x
        return np.argmax(h @ self.weights[-1] + self.biases[-1], axis=1)

    def fit(self, x, labels, epochs=150, batch=200, lr=1e-3, alpha=1e-4):
        rng = np.random.default_rng(self.seed)
        n_classes = int(labels.max()) + 1
        sizes = (x.shape[1], *self.widths, n_classes)
        self.weights, self.biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            self.weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
            self.biases.append(rng.uniform(-bound, bound, fan_out))
        params = self.weights + self.biases
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        onehot = np.eye(n_classes)[labels]
        t = 0
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch):
                idx = order[start:start + batch]
                grads = self._gradients(x[idx], onehot[idx], alpha)
                t += 1
                for p, g, mi, vi in zip(params, grads, m, v):
                    mi *= 0.9
                    mi += 0.1 * g
                    vi *= 0.999
                    vi += 0.001 * g * g
                    p -= lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * mi / (np.sqrt(vi) + 1e-8)
        return self

    def _gradients(self, xb, yb, alpha):
        acts = [xb] + self.hidden(xb)
        z = acts[-1] @ self.weights[-1] + self.biases[-1]
        z -= z.max(axis=1, keepdims=True)
        prob = np.exp(z)
        prob /= prob.sum(axis=1, keepdims=True)
        delta = (prob - yb) / len(xb)
        gw, gb = [None] * len(self.weights), [None] * len(self.biases)
        for i in range(len(self.weights) - 1, -1, -1):
            gw[i] = acts[i].T @ delta + alpha * self.weights[i] / len(xb)
            gb[i] = delta.sum(axis=0)
            if i:
                delta = (delta @ self.weights[i].T) * (acts[i] > 0)
        return gw + gb


def train_two_nets(seed_a=0, seed_b=1, widths=(64, 32)):
    """The digits and two MLPs of the same architecture trained from two seeds."""
    from .kernels._blas_threads import one_thread_blas
    x, labels = load_digits()
    # ~1350 products of 64-wide matrices per net: BLAS threads would spin-wait per call
    # (13 s instead of 0.9 s for both nets on a busy 2-core machine)
    with one_thread_blas():
        return x, labels, [MLP(widths, seed).fit(x, labels) for seed in (seed_a, seed_b)]


def neuron_match(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over a's neurons of the best absolute Pearson correlation with any neuron of b."""
    cx, cy = a - a.mean(0), b - b.mean(0)
    sd = np.sqrt(np.outer((cx ** 2).sum(0), (cy ** 2).sum(0)))
    corr = np.divide(cx.T @ cy, sd, out=np.zeros_like(sd), where=sd > 0)
    return float(np.abs(corr).max(axis=1).mean())


def run(out=print):
    """Train the two nets, print the comparison table, return both nets' hidden activations."""
    import fastcca
    x, labels, (net_a, net_b) = train_two_nets()
    acts_a, acts_b = net_a.hidden(x), net_b.hidden(x)
    acc = [float(np.mean(net.predict(x) == labels)) for net in (net_a, net_b)]
    out(f"digits: {x.shape[0]} images; two MLPs {tuple(a.shape[1] for a in acts_a)} from seeds 0 and 1; "
        f"train accuracy {acc[0]:.3f} / {acc[1]:.3f}")
    out(f"{'comparison':28s} {'svcca':>7s} {'pwcca':>7s} {'cca':>7s} {'cka':>7s} {'neuron r':>9s}")
    pairs = [(f"layer {i + 1} (A) vs layer {i + 1} (B)", a, b) for i, (a, b) in enumerate(zip(acts_a, acts_b))]
    pairs.append(("layer 1 (A) vs layer 2 (A)", acts_a[0], acts_a[1]))
    for name, a, b in pairs:
        m = fastcca.Moments.from_arrays(a, b)          # one pass; every measure from the moments
        row = [fastcca.svcca(m).similarity, fastcca.pwcca(m).similarity,
               fastcca.cca(m).similarity, fastcca.linear_cka(m).similarity]
        # the best one-to-one neuron match: the baseline the paper argues against
        out(f"{name:28s} " + " ".join(f"{v:7.3f}" for v in row) + f" {neuron_match(a, b):9.3f}")
    return acts_a, acts_b

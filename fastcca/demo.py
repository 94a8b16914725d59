"""The README's example on real data that ships with scikit-learn: two small MLPs trained from
different random initialisations on the 8x8 digits (1797 images), compared layer by layer.

Run with ``python -m fastcca demo``.  It illustrates the SVCCA paper's observation that networks
trained from different seeds learn similar subspaces (high SVCCA), even though their individual
neurons differ (low similarity when neurons are matched one to one).
"""
from __future__ import annotations

import numpy as np


def hidden_activations(model, x):
    """ReLU activations of every hidden layer of a fitted sklearn MLPClassifier, (n, width) each."""
    acts, h = [], x
    for w, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        h = np.maximum(h @ w + b, 0.0)
        acts.append(h)
    return acts


def train_two_nets(seed_a=0, seed_b=1, widths=(64, 32)):
    try:
        from sklearn.datasets import load_digits
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        raise SystemExit("the demo needs scikit-learn: pip install 'fastcca[test]' (or scikit-learn)") from None
    import warnings
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    nets = []
    for seed in (seed_a, seed_b):
        net = MLPClassifier(hidden_layer_sizes=widths, max_iter=150, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at 150 iterations is expected
            net.fit(x, y)
        nets.append(net)
    return x, y, nets


def run(out=print):
    import fastcca
    x, labels, (net_a, net_b) = train_two_nets()
    acts_a, acts_b = hidden_activations(net_a, x), hidden_activations(net_b, x)
    out(f"digits: {x.shape[0]} images; two MLPs {tuple(a.shape[1] for a in acts_a)} from seeds 0 and 1; "
        f"train accuracy {net_a.score(x, labels):.3f} / {net_b.score(x, labels):.3f}")
    out(f"{'comparison':28s} {'svcca':>7s} {'pwcca':>7s} {'cca':>7s} {'cka':>7s} {'neuron r':>9s}")
    for i, (a, b) in enumerate(zip(acts_a, acts_b)):
        m = fastcca.Moments.from_arrays(a, b)          # one pass; every measure from the moments
        row = [fastcca.svcca(m).similarity, fastcca.pwcca(m).similarity,
               fastcca.cca(m).similarity, fastcca.linear_cka(m).similarity]
        # best one-to-one neuron match, the baseline the paper argues against
        cx, cy = a - a.mean(0), b - b.mean(0)
        sd = np.sqrt(np.outer((cx ** 2).sum(0), (cy ** 2).sum(0)))
        corr = np.divide(cx.T @ cy, sd, out=np.zeros_like(sd), where=sd > 0)
        row.append(float(np.abs(corr).max(axis=1).mean()))
        out(f"{f'layer {i + 1} (A) vs layer {i + 1} (B)':28s} " + " ".join(f"{v:7.3f}" for v in row[:4]) + f" {row[4]:9.3f}")
    m = fastcca.Moments.from_arrays(acts_a[0], acts_a[1])
    out(f"{'layer 1 (A) vs layer 2 (A)':28s} {fastcca.svcca(m).similarity:7.3f} {fastcca.pwcca(m).similarity:7.3f} "
        f"{fastcca.cca(m).similarity:7.3f} {fastcca.linear_cka(m).similarity:7.3f}")
    return acts_a, acts_b

"""Projecting a layer of a trained classifier onto a few directions and reading its accuracy
(SVCCA paper, Raghu et al. 2017: Fig 2a, 2b and appendix Fig A5).

Everything here is a *fitted affine map* of a layer's activations: fitted on one set of
activations (the training images), applied to another (the test images), so a figure can
replace a layer by its projection and continue the forward pass without retraining.

- :class:`Projector` ``(mean, P)``: ``h -> mean + (h - mean) @ P``, h (n, p) float64, P (p, p).
- :func:`subspace_projector`: the least-squares projection of every neuron onto the span of the
  variates ``(h - mean) @ D`` of a set of neuron-space directions D (p, k):
  ``P = D (D^T C D)^+ D^T C`` with C the fit data's covariance.  On the fit data this is exactly
  :func:`paper_repro.analysis.project_onto_variates` (every neuron's centred activation vector
  replaced by its orthogonal projection onto span V, V = the centred variates).
- :func:`neuron_projector`: keep the activations of some neurons, set the others to their
  (fit-data) mean -- the baselines of Fig 2a and the second projection of Fig 2b.
- :func:`ranked_directions`: the directions of a CCA (ranked by rho) padded, when a budget k
  exceeds their number, with the top principal directions of what they leave unexplained (used by
  Fig A5 for the logits, which give at most ``classes`` canonical directions).
- :func:`neuron_importance`: how much each neuron weighs in a set of directions.
- :func:`flat` / :func:`accuracy_with`: flattening conv layers, and the forward pass of a
  model with any of its layers replaced by a projector's output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projector:
    """``h (n, p) -> mean + (h - mean) @ P``; mean (p,), P (p, p), float64."""
    mean: np.ndarray
    P: np.ndarray

    def __call__(self, h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != len(self.mean):
            raise ValueError(f"h: expected (n, {len(self.mean)}) activations, got shape {h.shape}")
        return self.mean + (h - self.mean) @ self.P

    def then(self, other: "Projector") -> "Projector":
        """``other(self(h))`` as one Projector, for two maps of the same layer that share their
        centre (e.g. a subspace projection followed by a neuron projection fitted on the
        projected data, whose mean is unchanged): ``mean + (h - mean) @ (P_self @ P_other)``."""
        if not np.allclose(self.mean, other.mean, rtol=1e-9, atol=1e-12 * (1 + np.abs(self.mean).max())):
            raise ValueError("other: expected a Projector with the same mean (centre) as this one")
        q = other.P
        d = np.diagonal(q)
        if np.count_nonzero(q) == np.count_nonzero(d):
            # a diagonal P (a neuron mask, :func:`neuron_projector`): P_self @ diag(d) scales the
            # columns -- the same numbers in O(p^2) instead of a dense O(p^3) product (p = 8192
            # for the paper convnet's p2 layer: 0.55 TFLOP per call, ~170 calls in svcca-fig2b)
            return Projector(self.mean, self.P * d[None, :])
        return Projector(self.mean, self.P @ q)


def flat(h: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, prod(...)): a conv layer's every (channel, position) as one neuron."""
    h = np.asarray(h)
    return h.reshape(len(h), -1)


def subspace_projector(h_fit: np.ndarray, dirs: np.ndarray, rcond: float = 1e-10) -> Projector:
    """Least-squares projection onto the span of the variates of ``dirs``.

    h_fit (n, p): activations the projection is fitted on; dirs (p, k): neuron-space directions
    (e.g. ``svcca_directions(...)["dirs_x"][:, :k]``), variates ``V = (h_fit - mean) @ dirs``.
    Returns the Projector with ``P = D G^+ D^T C``, ``C = (h - m)^T (h - m) / (n - 1)``,
    ``G = D^T C D`` (pseudo-inverse with relative cutoff ``rcond``, so directions that are
    linearly dependent on the fit data are harmless).  With k = 0 every neuron is set to its mean.
    For canonical directions (uncorrelated unit-variance variates) G = I and P = D D^T C.
    """
    h = np.asarray(h_fit, dtype=np.float64)
    d = np.asarray(dirs, dtype=np.float64)
    if h.ndim != 2 or d.ndim != 2 or d.shape[0] != h.shape[1]:
        raise ValueError(f"dirs: expected ({h.shape[1] if h.ndim == 2 else 'p'}, k) directions for "
                         f"h_fit of shape {h.shape}, got {d.shape}")
    mean = h.mean(0)
    p = h.shape[1]
    if d.shape[1] == 0:
        return Projector(mean, np.zeros((p, p)))
    hc = h - mean
    c = hc.T @ hc / max(len(h) - 1, 1)
    cd = c @ d                                    # (p, k)
    g = d.T @ cd
    return Projector(mean, d @ np.linalg.pinv(g, rcond=rcond, hermitian=True) @ cd.T)


def neuron_projector(h_fit: np.ndarray, keep) -> Projector:
    """Keep the neurons ``keep`` (indices or a boolean mask over p), set every other neuron to its
    fit-data mean: ``P = diag(mask)``."""
    h = np.asarray(h_fit, dtype=np.float64)
    p = h.shape[1]
    mask = np.zeros(p, dtype=bool)
    mask[np.asarray(keep)] = True
    return Projector(h.mean(0), np.diag(mask.astype(np.float64)))


def max_activation_neurons(h_fit: np.ndarray, k: int) -> np.ndarray:
    """The k neurons with the largest mean |activation| over the fit data (for ReLU / max-pool
    layers, the largest mean activation), descending; ties by index."""
    score = np.abs(np.asarray(h_fit, dtype=np.float64)).mean(0)
    return np.argsort(-score, kind="stable")[:k]


def neuron_importance(h_fit: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Importance of every neuron to the directions dirs (p, k): the L2 norm over the k directions
    of its *standardised* weight ``|dirs[j, i]| * sd_j`` (the weight the direction gives to
    neuron j measured in units of that neuron's standard deviation, so rescaling a neuron does not
    change its importance; dead neurons, sd 0, get 0).  Returns (p,) float64."""
    sd = np.asarray(h_fit, dtype=np.float64).std(0, ddof=1)
    w = np.asarray(dirs, dtype=np.float64) * sd[:, None]
    return np.sqrt((w ** 2).sum(1))


def ranked_directions(h_fit: np.ndarray, dirs: np.ndarray, k: int) -> np.ndarray:
    """k neuron-space directions: the first min(k, m) columns of ``dirs`` (p, m), then, if k > m,
    the top k - m principal directions of the activations left unexplained by those variates.

    With V = (h - mean) @ dirs[:, :m] and R = (h - mean) - V (V^T V)^+ V^T (h - mean) (the residual
    of every neuron after least squares on V), the extra directions are ``(I - B) u_j`` where
    ``R = (h - mean)(I - B)`` and u_j are the top eigenvectors of R^T R; their variates are R u_j, the
    residual's principal components (uncorrelated with V).  Returns (p, min(k, rank)) float64.
    For several budgets k of one layer, :func:`ranked_direction_sets` decomposes R once.
    """
    return ranked_direction_sets(h_fit, dirs)(k)


def ranked_direction_sets(h_fit: np.ndarray, dirs: np.ndarray):
    """``k -> ranked_directions(h_fit, dirs, k)`` for any number of budgets k, the residual R
    decomposed once (at the first k > m; for every such k, m is all of ``dirs``' columns, so R is
    the same).  A smaller budget's directions are then the larger one's leading columns (to
    rounding: each budget's product has its own width).

    With fewer datapoints than neurons (n < p: paper-scale conv layers, p in the thousands) the
    residual's principal directions come from the thin SVD of R (O(n^2 p)) instead of ``eigh`` of
    the p x p scatter R^T R (O(p^3): over an hour per call at p ~ 8000 on two cores); they are the
    same directions up to sign."""
    h = np.asarray(h_fit, dtype=np.float64)
    d = np.asarray(dirs, dtype=np.float64)
    residual = {}

    def of(k: int) -> np.ndarray:
        m = min(k, d.shape[1])
        first = d[:, :m]
        if k <= m:
            return first
        if not residual:
            hc = h - h.mean(0)
            proj = subspace_projector(h, first).P if m else np.zeros((h.shape[1],) * 2)
            resid_map = np.eye(h.shape[1]) - proj                  # R = hc @ resid_map
            r = hc @ resid_map
            if r.shape[0] < r.shape[1]:
                _, sv, vt = np.linalg.svd(r, full_matrices=False)
                w, u = sv ** 2, vt.T
            else:
                w, u = np.linalg.eigh(r.T @ r)
            tol = max(w.max(), 0.0) * 1e-10 if len(w) else 0.0
            residual.update(map=resid_map, u=u, order=[j for j in np.argsort(-w) if w[j] > tol])
        return np.concatenate([first, residual["map"] @ residual["u"][:, residual["order"][:k - m]]], axis=1)
    return of


def accuracy_with(model, x: np.ndarray, y: np.ndarray, projectors: dict, batch: int = 1024) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on images x, labels y, with the output of layer i
    (index into ``model.layer_names``; 1 <= i <= len(stages)) replaced by ``projectors[i]`` applied
    to its flattened activations (shape restored after).  No projectors: the plain accuracy.

    Runs the stages one by one (``model.stages``), so several layers can be replaced in one pass
    (Fig A5); a single replaced layer gives the same as ``model.forward_from(i, projected h_i)``.
    """
    import torch
    from .training import host, model_device
    model.eval()
    dev = model_device(model)
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            h = torch.as_tensor(x[s:s + batch], device=dev)
            for j, stage in enumerate(model.stages):
                h = stage(h)
                if j + 1 in projectors:
                    shape = h.shape
                    hp = projectors[j + 1](host(h).reshape(shape[0], -1))
                    h = torch.as_tensor(hp.reshape(shape), dtype=torch.float32, device=dev)
            correct += int((h.argmax(1).cpu().numpy() == y[s:s + batch]).sum())
    return correct / len(x)


def layer_activations(model, x: np.ndarray, layers, batch: int = 512) -> dict:
    """``{name: (n, d) float64}``: the flattened outputs of the named layers (``model.layer_names``)
    for images x, model in eval mode (on its own device); only the asked-for layers are kept (memory)."""
    import torch
    from .training import host, model_device
    idx = {name: model.layer_names.index(name) for name in layers}
    out = {name: [] for name in layers}
    model.eval()
    dev = model_device(model)
    with torch.no_grad():
        for s in range(0, len(x), batch):
            hs = model.hidden(torch.as_tensor(x[s:s + batch], device=dev))
            for name, i in idx.items():
                out[name].append(flat(host(hs[i])))
    return {name: np.concatenate(v) for name, v in out.items()}


def svcca_convnet_pair(ctx, layers, fit_max: int | None = None) -> dict:
    """The two SVCCA convnets of the compression figures (seeds ``ctx.seed`` and ``ctx.seed + 1``,
    :func:`paper_repro.runs.svcca_run` with the paper's fc width :data:`~paper_repro.runs.COMPRESSION_FC`,
    final checkpoint) and their activations.

    Returns ``{"models": (net1, net2), "x_test", "y_test", "fit": (acts1, acts2),
    "logits_fit": net1's logits on the fit images}``; fit = the training
    images (the first ``fit_max`` of them if given), acts = :func:`layer_activations` dicts.
    """
    from .classifiers import image_data
    from .runs import COMPRESSION_FC, svcca_run
    from .training import load_model
    models = []
    for seed in (ctx.seed, ctx.seed + 1):
        cfg, run = svcca_run(ctx, "convnet", seed, fc=COMPRESSION_FC[ctx.scale])
        models.append(load_model(cfg, run["states"][-1], device=ctx.torch_device))
    x_tr, _ = image_data(ctx, train=True)
    x_te, y_te = image_data(ctx, train=False)
    if fit_max is not None:
        x_tr = x_tr[:fit_max]
    want = list(dict.fromkeys(list(layers) + ["logits"]))
    a1 = layer_activations(models[0], x_tr, want)
    a2 = layer_activations(models[1], x_tr, layers)
    from .runs import svcca_runs_label
    return {"models": tuple(models), "x_test": x_te, "y_test": y_te, "fit": (a1, a2),
            "logits_fit": a1["logits"],
            "data_label": svcca_runs_label(ctx, ("convnet",), fc=COMPRESSION_FC[ctx.scale])}

"""Baseline for conv layers: the per-frequency loop of the reference implementation
(google/svcca ``dft_ccas.fourier_ccas`` as described in its docstring and the SVCCA paper,
appendix C), written here in plain NumPy from that description.

Per call:
1. cast both activations (n, h, w, c) to complex64 and take the full complex ``fft2`` over the
   spatial axes (no use of conjugate symmetry);
2. with different spatial sizes, keep the frequencies ``-s/2 <= f < s/2`` of the smaller size s;
3. for every one of the h*w locations, one full CCA of the (c1 + c2, n) complex data:
   ``np.cov`` of the stacked data, each block rescaled by its largest |entry|, neurons with
   rescaled variance < eps dropped, ``+ eps I``, ``pinv`` of each diagonal block, its square
   root through ``eigh`` (eigenvalues clipped at 0), ``M = Sxx^-1/2 Sxy Syy^-1/2`` and a full
   ``np.linalg.svd`` of M.

Returns the coefficients per location, (h*w, min(c1, c2)) sorted descending (NaN-padded when a
location keeps fewer neurons), in ``fft2`` order.
"""
from __future__ import annotations

import numpy as np


def _inv_sqrt_psd(a):
    """Square root of the pseudo-inverse of a Hermitian PSD block, via pinv then eigh."""
    inv = np.linalg.pinv(a)
    w, v = np.linalg.eigh(inv)
    w = np.sqrt(np.clip(w, 0.0, None))
    return (v * w) @ v.conj().T


def _one_location(a, b, eps):
    """CCA of complex data a (c1, n), b (c2, n), the reference way."""
    c1 = a.shape[0]
    cov = np.cov(a, b)
    sxx, sxy, syy = cov[:c1, :c1], cov[:c1, c1:], cov[c1:, c1:]
    mx, my = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / mx, syy / my, sxy / np.sqrt(mx * my)
    kx = np.abs(np.diagonal(sxx)) >= eps
    ky = np.abs(np.diagonal(syy)) >= eps
    sxx, syy, sxy = sxx[np.ix_(kx, kx)], syy[np.ix_(ky, ky)], sxy[np.ix_(kx, ky)]
    if sxx.shape[0] == 0 or syy.shape[0] == 0:
        return np.zeros(0)
    sxx = sxx + eps * np.eye(sxx.shape[0])
    syy = syy + eps * np.eye(syy.shape[0])
    m = _inv_sqrt_psd(sxx) @ sxy @ _inv_sqrt_psd(syy)
    _, s, _ = np.linalg.svd(m)
    return np.abs(s)


def _kept_freqs(size, new):
    f = np.fft.fftfreq(size, d=1.0 / size)
    return np.flatnonzero((f >= -new / 2.0) & (f < new / 2.0))


def fourier_ccas_numpy(x, y, eps: float = 1e-10):
    """Per-location CCA coefficients of NHWC conv activations x, y; see module docstring."""
    h, w = min(x.shape[1], y.shape[1]), min(x.shape[2], y.shape[2])
    fx = np.fft.fft2(x.astype(np.complex64), axes=(1, 2))
    fy = np.fft.fft2(y.astype(np.complex64), axes=(1, 2))
    if fx.shape[1:3] != (h, w):
        fx = fx[:, _kept_freqs(fx.shape[1], h)][:, :, _kept_freqs(fx.shape[2], w)]
    if fy.shape[1:3] != (h, w):
        fy = fy[:, _kept_freqs(fy.shape[1], h)][:, :, _kept_freqs(fy.shape[2], w)]
    m = min(x.shape[3], y.shape[3])
    out = np.full((h * w, m), np.nan)
    for i in range(h):
        for j in range(w):
            s = _one_location(fx[:, i, j, :].T, fy[:, i, j, :].T, eps)
            out[i * w + j, :len(s)] = np.sort(s)[::-1][:m]
    return out

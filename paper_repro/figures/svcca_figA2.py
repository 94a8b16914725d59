"""SVCCA paper (Raghu et al. 2017), appendix Fig A2: the covariance of one conv channel over
the dataset, in the pixel basis and in the 2-D DFT basis, without and with translations.

Channel: a fixed random 3x3 filter (circular padding) followed by ReLU, applied to real images --
scikit-learn digits (8x8, 1797 images) at the default scale, CIFAR-10 (32x32, from --data-dir)
at paper scale.  Three datasets: the images as they are; random circular translations (each image
shifted by a random offset in [-max_shift, max_shift]^2); every circular shift of every image
(closed under translation).  For each: the (hw x hw) covariance of the channel's positions, and
the covariance of its unitary 2-D DFT (numpy.fft.fft2, norm="ortho"; shown as |entries|).

Theory (SVCCA sec. 3): a translation-invariant dataset makes the covariance a circulant-like
(block-circulant) matrix, which the DFT diagonalises exactly; natural images with translation
augmentation are nearly so.  Drawn: the coherence ``|C_ij| / sqrt(C_ii C_jj)`` (a correlation
magnitude, 1 on the diagonal).  Measured: the off-diagonal energy ``||C - diag C||_F^2 / ||C||_F^2``
(the unitary DFT keeps ``||C||_F``, so pixel and DFT values compare directly; the mean squared
off-diagonal coherence is in the JSON too).
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..data import cifar10, digits
from ..registry import FigureInfo

INFO = FigureInfo(id="svcca-figA2",
                  title="covariance of one channel: pixel basis vs DFT basis, with/without translations",
                  time_small="~3 s", needs=("scikit-learn digits (paper scale: CIFAR-10 from --data-dir)",))

CONFIGS = {
    "tiny": {"data": "digits", "max_images": 200, "max_shift": 2},
    "small": {"data": "digits", "max_images": 1797, "max_shift": 2},
    "paper": {"data": "cifar10", "max_images": 5000, "max_shift": 4},
}
DATASETS = ("no translation", "random translations", "all circular shifts")


def _channel(images: np.ndarray, filt: np.ndarray) -> np.ndarray:
    """ReLU(circular 3x3 conv + b) of images (N, C, H, W) with filt (C, 3, 3) -> (N, H, W); the
    bias b makes half of all pre-activations positive (a random filter alone may be mostly off)."""
    out = np.zeros((images.shape[0],) + images.shape[2:])
    for c in range(filt.shape[0]):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                out += filt[c, dy + 1, dx + 1] * np.roll(images[:, c], (-dy, -dx), axis=(1, 2))
    return np.maximum(out - np.median(out), 0.0)


def _cov(z: np.ndarray) -> np.ndarray:
    """Covariance (ddof=1) of z (N, d), complex-aware: E[(z - m)(z - m)^H]."""
    zc = z - z.mean(0)
    return (zc.T @ zc.conj()) / (len(z) - 1)


def coherence(c: np.ndarray) -> np.ndarray:
    """|C_ij| / sqrt(C_ii C_jj) (the magnitude of the correlation); rows/columns of positions with
    (near-)zero variance are set to 0 (the digits' border pixels are always blank)."""
    d = np.abs(np.diag(c)).real
    ok = d > 1e-12 * d.max()
    s = np.where(ok, np.sqrt(np.where(ok, d, 1.0)), np.inf)
    return np.abs(c) / np.outer(s, s)


def offdiag_energy(c: np.ndarray) -> float:
    """``||C - diag C||_F^2 / ||C||_F^2``: the fraction of the covariance's energy off the diagonal.
    The unitary DFT preserves ``||C||_F``, so the pixel and DFT values compare directly."""
    e = np.abs(c) ** 2
    tot = float(np.sum(e))
    return float(np.sum(e[~np.eye(len(c), dtype=bool)])) / tot if tot > 0 else 0.0


def _offdiag(c: np.ndarray) -> float:
    """Mean squared coherence over the off-diagonal pairs of positions with nonzero variance."""
    d = np.abs(np.diag(c)).real
    ok = d > 1e-12 * d.max()
    co = coherence(c)[np.ix_(ok, ok)]
    m = co.shape[0]
    return float((np.sum(co ** 2) - np.sum(np.diag(co) ** 2)) / (m * (m - 1))) if m > 1 else 0.0


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    rng = np.random.default_rng([cfg["seed"], 12])
    if cfg["data"] == "digits":
        imgs, _ = digits()
        imgs = imgs[:, None]
    else:
        imgs, _ = cifar10(ctx.data_dir, train=True)
        imgs = imgs.astype(np.float64)
    imgs = imgs[: cfg["max_images"]]
    n, ch, h, w = imgs.shape
    filt = rng.standard_normal((ch, 3, 3))
    base = _channel(imgs, filt)                                        # (n, h, w)
    s = cfg["max_shift"]
    offs = rng.integers(-s, s + 1, size=(n, 2))
    rand = np.stack([np.roll(base[i], tuple(offs[i]), axis=(0, 1)) for i in range(n)])
    sets = {"no translation": base, "random translations": rand}
    out = {"h": h, "w": w, "n_images": n, "max_shift": s, "data": cfg["data"], "sets": {},
           "data_label": f"{'digits' if cfg['data'] == 'digits' else 'CIFAR-10'} ({h}x{w}, {n} images, shifts up to {s})"}
    for name in DATASETS:
        if name == "all circular shifts":
            # covariance over every shift of every image, accumulated shift by shift (n*h*w samples)
            cp = np.zeros((h * w, h * w))
            cf = np.zeros((h * w, h * w), dtype=complex)
            m_p = np.zeros(h * w)
            m_f = np.zeros(h * w, dtype=complex)
            for dy in range(h):
                for dx in range(w):
                    z = np.roll(base, (dy, dx), axis=(1, 2)).reshape(n, -1)
                    f = np.fft.fft2(np.roll(base, (dy, dx), axis=(1, 2)), norm="ortho").reshape(n, -1)
                    cp += z.T @ z
                    cf += f.T @ f.conj()
                    m_p += z.sum(0)
                    m_f += f.sum(0)
            tot = n * h * w
            cov_p = (cp - np.outer(m_p, m_p) / tot) / (tot - 1)
            cov_f = (cf - np.outer(m_f, m_f.conj()) / tot) / (tot - 1)
        else:
            z = sets[name]
            cov_p = _cov(z.reshape(n, -1))
            cov_f = _cov(np.fft.fft2(z, norm="ortho").reshape(n, -1))
        out["sets"][name] = {"coherence_pixel": coherence(cov_p), "coherence_dft": coherence(cov_f),
                             "offdiag_pixel": offdiag_energy(cov_p), "offdiag_dft": offdiag_energy(cov_f),
                             "mean_sq_coherence_pixel": _offdiag(cov_p), "mean_sq_coherence_dft": _offdiag(cov_f)}
    return out


def check(data) -> ClaimCheck:
    st = data["sets"]
    od = {name: {"pixel": v["offdiag_pixel"], "dft": v["offdiag_dft"]} for name, v in st.items()}
    rt, al = od["random translations"], od["all circular shifts"]
    holds = (rt["pixel"] > 0.3 and al["pixel"] > 0.3 and rt["dft"] < 0.5 * rt["pixel"]
             and al["dft"] < 1e-12)
    return ClaimCheck(
        claim=("a channel's covariance is dense in the pixel basis, near-diagonal in the DFT basis under "
               "translations, exactly diagonal when the dataset holds every circular shift"),
        statistic=("off-diagonal energy fraction ||C - diag C||_F^2 / ||C||_F^2 (basis-independent total); "
                   "holds iff, with random translations, pixels > 0.3 and DFT < 0.5 x pixels, and with all "
                   "circular shifts, pixels > 0.3 and DFT < 1e-12, i.e. zero to rounding (the untranslated values are reported, "
                   "not tested)"),
        measured={"offdiag_energy_fraction": od}, holds=bool(holds),
        comparison=(vs("off-diagonal energy in the DFT basis, dataset closed under circular shifts", "0 (exact)",
                       al["dft"], "Raghu et al. 2017, sec. 3 / Fig A2"),
                    vs("off-diagonal energy, random translations: pixels vs DFT", None,
                       f"{rt['pixel']:.2f} vs {rt['dft']:.2f}")),
        note=data.get("data_label", ""))


def draw(data):
    import matplotlib.pyplot as plt
    names = list(data["sets"])
    fig, axes = plt.subplots(2, len(names), figsize=(4.0 * len(names), 7.0))
    for j, name in enumerate(names):
        st = data["sets"][name]
        for r, (key, od, label) in enumerate([("coherence_pixel", st["offdiag_pixel"], "pixel basis"),
                                             ("coherence_dft", st["offdiag_dft"], "DFT basis")]):
            ax = axes[r, j]
            im = ax.imshow(np.asarray(st[key]), vmin=0.0, vmax=1.0, cmap="magma")
            ax.set_title(f"{name}\n{label}: off-diagonal energy {od:.2g}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.6, label="|C_ij| / sqrt(C_ii C_jj)")
    fig.suptitle(f"SVCCA Fig A2: covariance of one conv channel ({data['h']}x{data['w']} positions, "
                 f"{data['data']}, {data['n_images']} images)", fontsize=11)
    return fig

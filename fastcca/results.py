"""Result types: small frozen dataclasses holding the numbers a measure returns, what was kept
or dropped and why.  Every result has ``similarity`` (higher = more similar), ``distance``
(``1 - similarity``) and ``coefficients`` (sorted descending)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import check_threshold


@dataclass(frozen=True)
class Result:
    measure: str
    similarity: float
    coefficients: np.ndarray
    n: int
    p: int
    q: int
    notes: tuple = field(default=())

    @property
    def distance(self) -> float:
        """``1 - similarity``."""
        return 1.0 - self.similarity

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, tuple):
                v = list(v)
            out[k] = v
        out["distance"] = self.distance
        return out

    def _summary_lines(self) -> list[str]:
        return []

    def __str__(self) -> str:
        c = self.coefficients
        head = ", ".join(f"{v:.4f}" for v in c[:8]) + (", ..." if len(c) > 8 else "")
        lines = [f"{self.measure}: similarity {self.similarity:.6f}  distance {self.distance:.6f}",
                 f"  n={self.n} datapoints, p={self.p}, q={self.q} neurons",
                 f"  {len(c)} coefficients: [{head}]"]
        lines += ["  " + s for s in self._summary_lines()]
        lines += ["  note: " + s for s in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class CCAResult(Result):
    """Canonical correlations of X and Y.

    ``similarity`` is their mean (mean CCA).  ``kept_x``/``kept_y`` are boolean masks of the
    neurons that entered the CCA (neurons whose variance is below ``eps`` times the largest
    variance are dropped); ``rank_x``/``rank_y`` count the whitened directions that entered the
    CCA; ``data_rank_x``/``data_rank_y`` the rank of each side's data (directions with variance
    above ``rank_tol`` times the largest), which ``rank_x``/``rank_y`` equal unless
    ``rank_tol=None`` kept the deficient directions.  ``x_weights`` (p, r) / ``y_weights`` (q, r) are the canonical
    weights when asked for (zero rows for dropped neurons), scaled so the canonical variates
    ``(X - mean_x) @ x_weights`` have unit variance (ddof=1).
    """
    kept_x: np.ndarray = None
    kept_y: np.ndarray = None
    rank_x: int = 0
    rank_y: int = 0
    eps: float = 0.0
    x_weights: np.ndarray | None = None
    y_weights: np.ndarray | None = None
    data_rank_x: int = 0
    data_rank_y: int = 0
    rank_tol: float | None = None

    def threshold_mean(self, threshold: float = 0.98) -> float:
        """The reference implementation's ``mean``: the mean of the leading coefficients
        ``rho[:i]``, ``i`` the first index with ``sum(rho[:i]) / sum(rho) >= threshold``.
        ``threshold`` is a fraction in (0, 1] (``ValueError``/``TypeError`` otherwise)."""
        threshold = check_threshold(threshold)
        rho = self.coefficients
        total = rho.sum()
        if total <= 0:
            return 0.0
        frac = np.concatenate([[0.0], np.cumsum(rho)]) / total
        i = int(np.argmax(frac >= threshold)) if np.any(frac >= threshold) else len(rho)
        return float(np.mean(rho[:i])) if i > 0 else float("nan")

    def _summary_lines(self):
        return [f"kept neurons: x {int(self.kept_x.sum())}/{self.p}, y {int(self.kept_y.sum())}/{self.q}; "
                f"whitened rank x {self.rank_x}, y {self.rank_y} (data rank x {self.data_rank_x}, "
                f"y {self.data_rank_y}); eps={self.eps:g}"]


@dataclass(frozen=True)
class SVCCAResult(Result):
    """SVCCA (Raghu et al. 2017): CCA between the top ``k_x``/``k_y`` singular directions.

    ``singular_values_x``/``_y`` are the singular values of the centred activations
    (descending; all of them, or the top ones when a truncated solver ran),
    ``keep`` and ``keep_rule`` say how ``k_x``/``k_y`` were chosen.  ``similarity`` is the
    mean of the min(k_x, k_y) canonical correlations.
    """
    k_x: int = 0
    k_y: int = 0
    keep: float | int = 0.99
    keep_rule: str = "sum"
    singular_values_x: np.ndarray = None
    singular_values_y: np.ndarray = None
    cca: CCAResult | None = None

    def _summary_lines(self):
        return [f"kept directions: x {self.k_x}/{self.p}, y {self.k_y}/{self.q} "
                f"(keep={self.keep!r}, rule={self.keep_rule!r})"]


@dataclass(frozen=True)
class PWCCAResult(Result):
    """Projection-weighted CCA (Morcos et al. 2018): ``similarity = sum_i weights_i rho_i``.

    ``weights`` (sum 1) follow ``coefficients``; ``side`` says whose neurons weighted them,
    ``variant`` whether the paper's definition or the reference code's formula was used.
    """
    weights: np.ndarray = None
    side: str = "x"
    variant: str = "paper"
    cca: CCAResult | None = None

    def _summary_lines(self):
        return [f"weights from side {self.side!r}, variant {self.variant!r}"]


@dataclass(frozen=True)
class CKAResult(Result):
    """Linear CKA (Kornblith et al. 2019): ``||Sxy||_F^2 / (||Sxx||_F ||Syy||_F)`` on centred data.

    ``coefficients`` holds, when ``spectrum=True`` was asked, the contributions
    ``sigma_i(Sxy)^2 / (||Sxx||_F ||Syy||_F)`` (descending; they sum to ``similarity``);
    otherwise it is empty.
    """


@dataclass(frozen=True)
class ConvResult(Result):
    """CCA-family similarity of two conv layers (``fastcca.conv_cca``/``conv_svcca``/``conv_pwcca``).

    ``mode`` says how the layers were compared:

    * ``"fft"``: one complex CCA per DFT frequency (SVCCA paper, section 3).  ``frequencies``
      (F, 2) are the representative integer frequencies ``(a, b)`` of the F computed classes,
      ``multiplicity`` (F,) how many of the h*w locations each stands for (1 or 2),
      ``per_frequency`` (F, m) the canonical correlations of each block (descending; NaN after
      the first ``per_frequency_count[f]`` entries), ``rank_x``/``rank_y`` (F,) the whitened ranks
      (for SVCCA, ``k_x``/``k_y`` (F,) the directions kept per frequency).  The pooled
      ``coefficients`` are the union of the blocks' coefficients, each class counted
      ``multiplicity`` times, padded with zeros to ``min(sum mult*rank_x, sum mult*rank_y)``
      entries: on a translation-invariant dataset exactly the canonical correlations of the
      flattened h*w*c neurons.  ``similarity`` is their mean; ``p``/``q`` are the channel counts.
    * ``"fold"``, ``"flatten"``, ``"mean"``: the activations were reshaped and handed to the
      plain measure, whose result is ``inner`` (``coefficients``/``similarity`` are its own).
    """
    mode: str = "fft"
    layout: str = "nchw"
    eps: float = 0.0
    frequencies: np.ndarray | None = None
    multiplicity: np.ndarray | None = None
    per_frequency: np.ndarray | None = None
    per_frequency_count: np.ndarray | None = None
    rank_x: np.ndarray | None = None
    rank_y: np.ndarray | None = None
    k_x: np.ndarray | None = None
    k_y: np.ndarray | None = None
    grid: object = None
    inner: Result | None = None

    @property
    def per_frequency_similarity(self) -> np.ndarray | None:
        """(F,) mean canonical correlation of each frequency block (0.0 for an empty block)."""
        if self.per_frequency is None:
            return None
        pf = np.nan_to_num(self.per_frequency, nan=0.0)
        cnt = np.maximum(self.per_frequency_count, 1)
        return pf.sum(axis=1) / cnt

    def per_location(self) -> tuple[np.ndarray, np.ndarray]:
        """``(locations (h*w, 2), coefficients (h*w, m))``: the per-frequency coefficients
        expanded to every compared location, in ``numpy.fft.fft2`` order (row-major over the
        index of ``fftfreq``), the layout of google/svcca ``fourier_ccas``."""
        if self.grid is None:
            raise ValueError(f"per_location: only mode='fft' has per-frequency results (mode={self.mode!r})")
        return self.grid.locations, self.per_frequency[self.grid.location_class]

    def to_dict(self) -> dict:
        out = Result.to_dict(self)
        out["grid"] = None
        if self.inner is not None:
            out["inner"] = self.inner.to_dict()
        return out

    def _summary_lines(self):
        if self.mode != "fft":
            return [f"mode={self.mode!r} (layout {self.layout!r}): {self.inner.measure} on the reshaped "
                    f"activations, p={self.inner.p}, q={self.inner.q}"]
        h, w = self.grid.size
        return [f"mode='fft': {len(self.frequencies)} frequency classes for {h}x{w} locations, "
                f"eps={self.eps:g}"]

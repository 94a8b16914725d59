"""Plain-NumPy baselines the benchmarks measure fastcca against: the original algorithms
(google/svcca CCA, the SVCCA tutorial pipeline, compute_pwcca, fourier_ccas), written for fastcca
from their published descriptions; no reference code is copied."""

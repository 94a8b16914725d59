"""Plain-NumPy baselines the benchmarks measure fastcca against (written for fastcca from the
published descriptions of the reference algorithms; no reference code is copied)."""

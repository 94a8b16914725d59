<<<<<<< HEAD
"""Plain-NumPy baselines the benchmarks measure fastcca against (written for fastcca from the
published descriptions of the reference algorithms; no reference code is copied)."""
=======
"""Plain-NumPy baselines: the original algorithms fastcca is measured against."""
>>>>>>> asv

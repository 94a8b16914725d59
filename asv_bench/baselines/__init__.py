"""Plain-NumPy baselines: the original algorithms fastcca is measured against."""

"""Fake ``cupyx.scipy.linalg`` (see ``tests/fake_cupy/cupy``)."""
import scipy.linalg as _sla

import xp_standin as _s

solve_triangular = _s._wrap_function(_sla.solve_triangular, "solve_triangular")

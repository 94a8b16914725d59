"""Benchmark baseline: google/svcca's own ``dft_ccas.fourier_ccas`` (the reference implementation
of Raghu et al. 2017, appendix C), loaded from a local checkout and made to run on Python 3 /
NumPy 2 / pandas 2 by the few source fixes listed in :data:`FIXES` -- nothing numerical changes.

The reference's code is not part of this repository (Apache-2.0, github.com/google/svcca, the
files ``cca_core.py`` and ``dft_ccas.py``).  Point ``FASTCCA_GOOGLE_SVCCA`` at a directory that
holds those two files (e.g. a clone of github.com/google/svcca), or put them in
``asv_bench/baselines/_google_svcca/`` (git-ignored).  ``load()`` reads them, applies the fixes
in memory (each must match: a changed upstream file is an error, not a silent no-op) and returns
the patched ``dft_ccas`` module; the files on disk stay untouched.  pandas is needed (the
reference accumulates its per-location results in a DataFrame).

``asv_bench/bench_conv.py --only baselines`` times it; the parity fixtures in ``../shared/parity``
(case_5) were made by the same code with the same fixes (see their README).
"""
from __future__ import annotations

import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "_google_svcca")

#: (file, old text, new text, why): the Python 3 / NumPy 2 / pandas 2 fixes, nothing else
FIXES = (
    ("dft_ccas.py", "xrange(", "range(", "Python 3 has no xrange"),
    ("dft_ccas.py", "\t", "<expandtabs>", "a tab/space mix (Python 2 read a tab as up to the next multiple of 8 "
     "columns; Python 3 refuses the mix)"),
    ("dft_ccas.py", 'del results_dict["neuron_coeffs1"]', 'results_dict.pop("neuron_coeffs1", None)',
     "get_cca_similarity never sets these keys: the del raised KeyError"),
    ("dft_ccas.py", 'del results_dict["neuron_coeffs2"]', 'results_dict.pop("neuron_coeffs2", None)',
     "as above"),
    ("dft_ccas.py", "all_results = all_results.append(results_dict, ignore_index=True)",
     "all_results = pd.concat([all_results, pd.DataFrame([results_dict])], ignore_index=True)",
     "pandas 2 removed DataFrame.append; concat of one row is its documented replacement (same "
     "copy-per-location cost)"),
    ("cca_core.py", 'return_dict["full_coef_x"] = np.zeros((numx, numx))',
     'return_dict["full_coef_x"] = np.zeros((numx, numx), dtype=np.result_type(u, float))',
     "NumPy 2's np.place refuses to write complex values into a float array"),
    ("cca_core.py", 'return_dict["full_invsqrt_xx"] = np.zeros((numx, numx))',
     'return_dict["full_invsqrt_xx"] = np.zeros((numx, numx), dtype=np.result_type(invsqrt_xx, float))',
     "as above"),
    ("cca_core.py", 'return_dict["full_coef_y"] = np.zeros((numy, numy))',
     'return_dict["full_coef_y"] = np.zeros((numy, numy), dtype=np.result_type(v, float))',
     "as above"),
    ("cca_core.py", 'return_dict["full_invsqrt_yy"] = np.zeros((numy, numy))',
     'return_dict["full_invsqrt_yy"] = np.zeros((numy, numy), dtype=np.result_type(invsqrt_yy, float))',
     "as above"),
)


class ReferenceUnavailable(RuntimeError):
    """The google/svcca sources (or pandas) are not available here."""


def source_dir() -> str:
    return os.environ.get("FASTCCA_GOOGLE_SVCCA", DEFAULT_DIR)


def load(path: str | None = None):
    """The patched ``dft_ccas`` module (its ``cca_core`` patched too).

    Raises
    ------
    ReferenceUnavailable
        The two files are not in ``path`` (default :func:`source_dir`), pandas is missing, or a
        fix no longer matches the file (then the upstream code changed: check it by hand).
    """
    path = path or source_dir()
    texts = {}
    for name in ("cca_core.py", "dft_ccas.py"):
        f = os.path.join(path, name)
        if not os.path.exists(f):
            raise ReferenceUnavailable(f"{f} not found: set FASTCCA_GOOGLE_SVCCA to a directory holding "
                                       "google/svcca's cca_core.py and dft_ccas.py")
        with open(f, encoding="utf-8") as fh:
            texts[name] = fh.read()
    for name, old, new, why in FIXES:
        if old not in texts[name]:
            raise ReferenceUnavailable(f"{name}: the fix for '{why}' does not match ({old!r} not found)")
        texts[name] = texts[name].expandtabs(8) if new == "<expandtabs>" else texts[name].replace(old, new)
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise ReferenceUnavailable(f"google/svcca's fourier_ccas needs pandas ({exc})") from None
    cca_core = types.ModuleType("cca_core")
    cca_core.__file__ = os.path.join(path, "cca_core.py")
    exec(compile(texts["cca_core.py"], cca_core.__file__, "exec"), cca_core.__dict__)
    saved = sys.modules.get("cca_core")
    sys.modules["cca_core"] = cca_core          # dft_ccas does ``import cca_core``
    try:
        dft = types.ModuleType("dft_ccas")
        dft.__file__ = os.path.join(path, "dft_ccas.py")
        exec(compile(texts["dft_ccas.py"], dft.__file__, "exec"), dft.__dict__)
    finally:
        if saved is None:
            sys.modules.pop("cca_core", None)
        else:
            sys.modules["cca_core"] = saved
    return dft


def per_location(df, h: int, w: int, m: int):
    """The DataFrame of ``fourier_ccas`` -> (h*w, m) coefficients sorted descending per location
    (NaN-padded), rows in ``fft2`` order (the order of ``asv_bench/baselines/conv_reference``)."""
    import numpy as np
    out = np.full((h * w, m), np.nan)
    for loc, s in zip(df["location"], df["cca_coef1"]):
        i, j = loc
        s = np.sort(np.atleast_1d(np.abs(np.asarray(s, dtype=complex))).real)[::-1][:m]
        out[i * w + j, :len(s)] = s
    return out

"""Safe file I/O: loads never execute code, writes are atomic."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np


class FastccaFileError(ValueError):
    """A file fastcca reads is truncated, foreign or of an unknown format version.

    Notes
    -----
    A ``ValueError``.  Files are read with ``numpy.load(..., allow_pickle=False)`` (and
    ``torch.load(weights_only=True)``), so loading never executes code; writes are atomic.

    Examples
    --------
    >>> import fastcca, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "broken.npz"
    >>> _ = path.write_bytes(b"not an archive")
    >>> try:
    ...     fastcca.Moments.load(path)
    ... except fastcca.FastccaFileError:
    ...     print("refused")
    refused
    """


#: the name prefix of the temporary files :func:`write_atomic` makes (next to the target)
TEMP_PREFIX = ".fastcca-"


def write_atomic(path, write) -> None:
    """Write ``path`` atomically: ``write(tmp)`` writes a temporary file in the same folder
    (``tmp``: a path string ending in ``.tmp`` plus the target's suffix, so a writer that picks
    its format by suffix still does), which is flushed to disk and renamed over ``path``.  An
    interrupted or failing write leaves ``path`` as it was and removes the temporary file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder must exist.
    write : callable
        ``write(tmp_path)`` writes the whole content to ``tmp_path``.

    Returns
    -------
    None

    Raises
    ------
    Exception
        Whatever ``write`` raises (also ``KeyboardInterrupt``), after the temporary file is
        removed; ``OSError`` when the folder is missing or not writable.

    Notes
    -----
    The one atomic write of the library (``save`` of ``Moments``, ``ConvMoments``,
    ``JointMoments`` and ``JointConvMoments``) and of
    ``paper_repro`` (figures, records, caches): temporary files start with ``.fastcca-``.

    Examples
    --------
    >>> import pathlib, tempfile, fastcca.io
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "record.json"
    >>> fastcca.io.write_atomic(target, lambda tmp: pathlib.Path(tmp).write_text("{}"))
    >>> target.read_text()
    '{}'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp" + os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)            # on disk before the rename makes it visible
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_npz_atomic(path, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` (.npz, no pickled objects needed to read it back) with
    :func:`write_atomic`, so an interrupted write never leaves a half-written file under ``path``."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    write_atomic(path, write)


def load_npz(path, kind, required) -> dict:
    """Load a .npz written by :func:`save_npz_atomic` with ``format == kind`` (a string, or a
    tuple of the format versions accepted), without pickle.

    The file is opened here and closed whatever happens (``np.load`` on a path leaks its
    handle when the zip is corrupt); a plain ``.npy`` array, an empty, truncated or foreign
    file is a :class:`FastccaFileError` naming the file."""
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    kind = " or ".join(kinds)
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise FastccaFileError(f"{path}: expected a {kind} .npz archive, found a single .npy array "
                                       f"(shape {getattr(z, 'shape', '?')}); a .npy file is not saved moments")
            with z:
                data = {k: z[k] for k in z.files}
    except (FileNotFoundError, FastccaFileError):
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise FastccaFileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    fmt = data.get("format")
    fmt = str(fmt) if isinstance(fmt, np.ndarray) and fmt.shape == () and fmt.dtype.kind == "U" else ""
    if fmt not in kinds:
        raise FastccaFileError(f"{path}: expected a {kind} file, found format {fmt or 'none'!r}")
    require_fields(data, path, required)
    return data


def require_fields(data: dict, path, names) -> None:
    """``FastccaFileError`` naming the file, its format and the fields of ``names`` it lacks."""
    missing = [k for k in names if k not in data]
    if missing:
        raise FastccaFileError(f"{os.fspath(path)}: {data.get('format')} file lacks {', '.join(missing)}")


# ------------------------------------------------------------------------------------------
# Field checks for loaded state: every field's dtype, shape, finiteness and range, with an
# error naming the file and the field (issue 22).
# ------------------------------------------------------------------------------------------
def _field_error(path, name: str, expected: str, a) -> FastccaFileError:
    got = f"dtype {a.dtype}, shape {a.shape}"
    if a.size == 1 and a.dtype.kind in "biufcUS":
        got += f", value {a.reshape(()).item()!r}"
    return FastccaFileError(f"{os.fspath(path)}: field {name!r}: expected {expected}, found {got}")


def field_count(data: dict, path, name: str, minimum: int = 1) -> int:
    """A 0-d integer field ``>= minimum`` (a count such as ``n``)."""
    a = data[name]
    if a.shape != () or a.dtype.kind not in "iu" or int(a) < minimum:
        raise _field_error(path, name, f"a 0-d integer >= {minimum}", a)
    return int(a)


def field_choice(data: dict, path, name: str, choices, default=None) -> str:
    """A 0-d string field among ``choices`` (``default`` when absent: older files)."""
    if name not in data and default is not None:
        return default
    a = data[name]
    if a.shape != () or a.dtype.kind != "U" or str(a) not in choices:
        raise _field_error(path, name, f"a 0-d string, one of {', '.join(map(repr, choices))}", a)
    return str(a)


def field_flag(data: dict, path, name: str, default: bool) -> bool:
    """A 0-d boolean field (``default`` when absent: older files)."""
    if name not in data:
        return default
    a = data[name]
    if a.shape != () or a.dtype != np.bool_:
        raise _field_error(path, name, "a 0-d bool", a)
    return bool(a)


def field_shape(data: dict, path, name: str, length: int) -> tuple:
    """A 1-D integer field of ``length`` positive entries (a saved shape)."""
    a = data[name]
    if a.shape != (length,) or a.dtype.kind not in "iu" or (a < 1).any():
        raise _field_error(path, name, f"{length} positive integers", a)
    return tuple(int(v) for v in a)


def field_ints(data: dict, path, name: str, shape: tuple, lo: int, hi: int | None = None) -> np.ndarray:
    """An integer array field of exactly ``shape`` with every entry in ``[lo, hi]`` (``hi``
    None: no upper bound): layer widths, power-of-two exponents, saved shapes, pair indices."""
    a = data[name]
    if a.shape != tuple(shape) or a.dtype.kind not in "iu" or (a < lo).any() or (hi is not None and (a > hi).any()):
        within = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise _field_error(path, name, f"an integer array of shape {tuple(shape)}, entries {within}", a)
    return a.astype(np.int64)


# Layer keys (any hashable in memory) are written as one JSON list: str, int, float, bool and
# None as themselves, tuples as JSON lists (read back as tuples: a list is never a dict key).
def _key_from_json(v):
    return tuple(_key_from_json(e) for e in v) if isinstance(v, list) else v


def keys_field(keys, what: str = "layer keys") -> np.ndarray:
    """The 0-d JSON string :func:`field_keys` reads back to ``keys`` (a list).  Keys must be
    str, int, float, bool, None or tuples of them (NumPy scalars count as their Python value);
    ``TypeError`` naming the key otherwise."""
    def plain(v):
        if isinstance(v, np.generic):
            return v.item()
        raise TypeError
    out = []
    for k in keys:
        try:
            text = json.dumps(k, default=plain, allow_nan=False)
        except (TypeError, ValueError):
            text = None
        back = None if text is None else json.loads(text)
        if text is None or _key_from_json(back) != k:
            raise TypeError(f"{what}: key {k!r} ({type(k).__name__}) cannot be saved; a saved key must be a "
                            "str, int, float, bool, None or a tuple of them (pickle the accumulator instead)")
        out.append(back)
    return np.array(json.dumps(out))


def field_keys(data: dict, path, name: str) -> list:
    """The layer keys of a 0-d JSON string field written by :func:`keys_field`: a non-empty
    list of distinct keys."""
    a = data[name]
    try:
        v = json.loads(str(a)) if a.shape == () and a.dtype.kind == "U" else None
        keys = [_key_from_json(k) for k in v] if isinstance(v, list) else None
        ok = bool(keys) and len(set(keys)) == len(keys)       # a JSON object is no key: TypeError
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise _field_error(path, name, "a 0-d JSON string: a non-empty list of distinct layer keys", a)
    return keys


def field_array(data: dict, path, name: str, shape: tuple, dtype, *, scatter: bool = False) -> np.ndarray:
    """A finite array field of exactly ``shape`` and ``dtype``.  ``scatter``: a stack of
    Hermitian PSD scatter blocks (last two axes square): a real non-negative diagonal and
    Hermitian within rounding (1e-8 of the largest entry)."""
    a = data[name]
    expected = f"a finite {dtype.__name__} array of shape {shape}"
    if a.shape != tuple(shape) or a.dtype != dtype:
        raise _field_error(path, name, expected, a)
    if not np.isfinite(a).all():
        bad = int(a.size - np.isfinite(a).sum())
        raise FastccaFileError(f"{os.fspath(path)}: field {name!r}: {bad} of its {a.size} entries are NaN or Inf")
    if scatter and a.size:
        diag = np.diagonal(a, axis1=-2, axis2=-1)
        top = float(np.abs(a).max())
        asym = float(np.abs(a - np.swapaxes(a, -1, -2).conj()).max())
        if (np.real(diag) < 0).any() or np.abs(np.imag(diag)).max(initial=0.0) > 1e-8 * top or asym > 1e-8 * top:
            raise FastccaFileError(f"{os.fspath(path)}: field {name!r}: not a scatter block (a negative or complex "
                                   f"diagonal, or not symmetric: largest asymmetry {asym:.3g} of {top:.3g})")
    return a

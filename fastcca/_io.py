"""Safe file I/O: loads never execute code, writes are atomic."""
from __future__ import annotations

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


def save_npz_atomic(path, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` (.npz) through a temporary file in the same folder and a
    rename, so an interrupted write never leaves a half-written file under ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastcca-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_npz(path, kind, required) -> dict:
    """Load a .npz written by :func:`save_npz_atomic` with ``format == kind`` (a string, or a
    tuple of the format versions accepted), without pickle."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise FastccaFileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    fmt = str(data.get("format", ""))
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    if fmt not in kinds:
        raise FastccaFileError(f"{path}: expected a {' or '.join(kinds)} file, found format {fmt or 'none'!r}")
    missing = [k for k in required if k not in data]
    if missing:
        raise FastccaFileError(f"{path}: {fmt} file lacks {', '.join(missing)}")
    return data

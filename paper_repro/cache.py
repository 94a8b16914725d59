"""Disk cache for trained models, recorded moments and activations, keyed by configuration.

An entry is one ``.npz`` file ``<root>/<kind>-<hash>.npz`` where ``hash`` is the SHA-256 (first 16
hex digits) of the canonical JSON of ``{"kind": kind, "config": config}``.  The file also stores
the configuration itself and a format tag; a load checks both, so a hash collision, a foreign or a
truncated file is never taken for the entry (it is recomputed, with a warning).

Writes are atomic (temporary file in the same folder, then ``os.replace``); loads never execute
code (``np.load(allow_pickle=False)``).  Model weights are stored as plain arrays (a state dict
flattened to ``name -> ndarray``), so no ``torch.load`` of pickles is needed; where a torch file is
unavoidable use :func:`load_torch`, which uses ``weights_only=True``.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile

import numpy as np

from fastcca.io import save_npz_atomic as _save_npz_atomic

FORMAT = "paper_repro.cache/1"
_META_CONFIG = "__config__"
_META_FORMAT = "__format__"


def config_hash(kind: str, config: dict) -> str:
    """16 hex digits identifying ``(kind, config)``; config must be JSON-serialisable."""
    text = json.dumps({"kind": kind, "config": config}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def save_npz_atomic(path: str, arrays: dict) -> None:
    """fastcca's atomic .npz write (temporary file + rename), creating the folder first."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _save_npz_atomic(path, arrays)


class Cache:
    """``Cache(root, force=False)``; ``get_or_compute(kind, config, fn)`` returns the dict of
    arrays ``fn()`` produced, from disk when an entry for (kind, config) exists and ``force`` is
    False.  ``hits`` / ``misses`` count lookups (the tests use them)."""

    def __init__(self, root: str, force: bool = False):
        self.root = os.fspath(root)
        self.force = force
        self.hits = 0
        self.misses = 0

    def path(self, kind: str, config: dict) -> str:
        return os.path.join(self.root, f"{kind}-{config_hash(kind, config)}.npz")

    def load(self, kind: str, config: dict) -> dict | None:
        """The stored arrays for (kind, config), or None when absent / unreadable / foreign."""
        path = self.path(kind, config)
        if not os.path.exists(path):
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            warnings.warn(f"cache: {path} is unreadable ({type(exc).__name__}: {exc}); recomputing")
            return None
        if str(data.pop(_META_FORMAT, "")) != FORMAT or str(data.pop(_META_CONFIG, "")) != _canonical(config):
            warnings.warn(f"cache: {path} holds a different entry (format or configuration); recomputing")
            return None
        return data

    def store(self, kind: str, config: dict, arrays: dict) -> str:
        bad = [k for k in arrays if k.startswith("__")]
        if bad:
            raise ValueError(f"arrays: keys starting with '__' are reserved, got {bad}")
        out = {k: np.asarray(v) for k, v in arrays.items()}
        for k, v in out.items():
            if v.dtype == object:
                raise TypeError(f"arrays[{k!r}]: object arrays cannot be cached without pickle")
        out[_META_FORMAT] = np.asarray(FORMAT)
        out[_META_CONFIG] = np.asarray(_canonical(config))
        path = self.path(kind, config)
        save_npz_atomic(path, out)
        with open(path[:-4] + ".json", "w") as fh:   # human-readable sidecar, never read back
            json.dump({"kind": kind, "config": config}, fh, indent=1, sort_keys=True)
        return path

    def get_or_compute(self, kind: str, config: dict, fn) -> dict:
        if not self.force:
            data = self.load(kind, config)
            if data is not None:
                self.hits += 1
                return data
        self.misses += 1
        data = fn()
        self.store(kind, config, data)
        return {k: np.asarray(v) for k, v in data.items()}


def state_dict_to_arrays(state_dict, prefix: str = "") -> dict:
    """torch state dict -> ``{prefix + name: ndarray}`` (CPU, detached, COPIED: on the CPU
    ``.numpy()`` shares memory with the parameter, which the optimiser then updates in place)."""
    return {prefix + k: v.detach().cpu().numpy().copy() for k, v in state_dict.items()}


def arrays_to_state_dict(arrays: dict, prefix: str = ""):
    """Inverse of :func:`state_dict_to_arrays` for keys starting with ``prefix``."""
    import torch
    return {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}


def load_torch(path: str):
    """Load a torch file without executing code (``weights_only=True``)."""
    import torch
    return torch.load(path, map_location="cpu", weights_only=True)

"""What the accumulators share, written once.

:class:`Accumulator` (all four: :class:`fastcca.Moments`, :class:`fastcca.ConvMoments`,
:class:`fastcca.JointMoments`, ``fastcca.conv.joint.JointConvMoments``): the backend they live
on, pickling without the kernels module (so partial states travel between processes: Dask,
multiprocessing), the checks before a merge, an independent copy, and the skeleton of their
``save`` / ``load`` files (``_save_file`` / ``_read_file``: the format tag, ``n``, precision and
float32 bookkeeping; each class writes and checks its own arrays).
:class:`PairAccumulator` (the two pair accumulators) adds Chan's pairwise merge of a part into
the three blocks of the state; the joint accumulators merge one joint scatter with the same rule.

Chan, Golub & LeVeque (1979): merging a part of ``nb`` datapoints with means ``m_b`` and centred
scatter blocks ``S_b`` into a state of ``na`` datapoints, with ``d = m_b - m_a`` per side,

    S = S_a + S_b + d_x d_y^H * na nb / n,    m = m_a + d * nb / n,    n = na + nb,

exact in any order, so shards computed anywhere combine to the one-shot moments.
"""
from __future__ import annotations

import numpy as np

from . import _io
from .backend import get_backend
from ._validation import PRECISIONS


_IMMUTABLE = (str, bytes, tuple, int, float, complex, bool, slice, frozenset, type(None))


def _copied(value):
    """An independent copy of one attribute of a state: arrays (NumPy or device), nested
    accumulators and statistics objects through their ``copy()``, dicts and lists item by item;
    immutable values (and objects without ``copy``, e.g. frozen dataclasses) as they are."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    copy = getattr(value, "copy", None)
    return copy() if callable(copy) else value


class Accumulator:
    """Base of the accumulators.  A subclass sets ``_be`` (kernels module or None) and
    ``_backend_name`` in ``__init__`` and holds ``n``; ``_upgrade_state(state)`` fills the
    defaults of pickles made by older versions."""

    #: the backend of a pickle that names none (older versions)
    _PICKLED_BACKEND_DEFAULT = None

    @property
    def backend(self) -> str:
        """Name of the backend holding the state (``"auto"`` until the first batch)."""
        return self._be.NAME if self._be is not None else self._backend_name

    def copy(self):
        """An independent copy (every state array copied; same backend)."""
        new = type(self).__new__(type(self))
        new.__dict__.update({k: (v if k == "_be" else _copied(v)) for k, v in self.__dict__.items()})
        return new

    @staticmethod
    def _upgrade_state(state: dict) -> None:
        """Defaults for pickles of older versions: ``float32_products`` (pickles from before it
        was kept hold float32 products exactly when made with float32 precision and data); a
        subclass adds its own and calls this one."""
        state.setdefault("float32_products", state.get("precision") == "float32" and state.get("n", 0) > 0)

    def __getstate__(self) -> dict:
        """Pickle the state and the backend's NAME, not the kernels module (modules do not
        pickle); partial moments travel between processes this way (Dask, multiprocessing).
        NumPy arrays go out of band under pickle protocol 5."""
        state = self.__dict__.copy()
        be = state.pop("_be", None)
        state["_be_name"] = None if be is None else be.NAME
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        self._upgrade_state(state)
        name = state.pop("_be_name", self._PICKLED_BACKEND_DEFAULT)
        state.setdefault("_backend_name", name or "auto")
        self.__dict__.update(state)
        self._be = None if name is None else get_backend(name)

    # ------------------------------------------------------------------ files
    def _save_file(self, path, fmt: str, fields: dict) -> None:
        """The skeleton of every ``save``: refuse an empty state (``_require_data``: ValueError),
        then write ``fmt`` (the class's ``kind/version`` tag), ``n``, ``precision``,
        ``float32_products`` and the class's own ``fields`` (NumPy values or arrays of the
        backend, copied to the host) to ``path`` (.npz, no pickle) atomically
        (:func:`fastcca._io.save_npz_atomic`)."""
        self._require_data()
        to_host = self._be.to_numpy
        _io.save_npz_atomic(path, dict(
            format=np.array(fmt), n=np.array(self.n, dtype=np.int64), precision=np.array(self.precision),
            float32_products=np.array(bool(self.float32_products)),
            **{k: to_host(v) for k, v in fields.items()}))

    @staticmethod
    def _read_file(path, formats, required) -> tuple[dict, int, str, bool]:
        """The skeleton of every ``load``: the archive (:func:`fastcca._io.load_npz`, without
        pickle: one of ``formats``, with ``n`` and the ``required`` fields) and its common
        fields checked.  Returns ``(data, n, precision, float32_products)``: ``n`` a 0-d integer
        >= 1; ``precision`` absent in older files: float64; ``float32_products`` absent: as the
        precision.  ``FastccaFileError`` naming the file and the field otherwise."""
        d = _io.load_npz(path, formats, ("n",) + tuple(required))
        n = _io.field_count(d, path, "n")
        precision = _io.field_choice(d, path, "precision", PRECISIONS, default="float64")
        return d, n, precision, _io.field_flag(d, path, "float32_products", default=precision == "float32")

    def _can_merge(self, other) -> bool:
        """The checks every merge makes first: ``other`` is of this class and on the same
        backend (``TypeError`` / ``ValueError`` otherwise); False when it holds nothing."""
        cls = type(self)
        if not isinstance(other, cls):
            raise TypeError(f"other: expected a fastcca.{cls.__name__}, got {type(other).__name__}")
        if other.n == 0:
            return False
        if self._be is not None and other._be is not None and self._be is not other._be:
            raise ValueError(f"other: lives on backend {other.backend!r}, self on {self.backend!r}")
        return True


class PairAccumulator(Accumulator):
    """Mixin of the accumulators of two activation sets.  The class provides ``_be`` (kernels
    module or None), ``_backend_name``, ``n``, ``mean_x``, ``mean_y``, ``sxx``, ``syy``,
    ``sxy`` and ``_upgrade_state(state)`` (defaults for pickles of older versions)."""

    def _chan_merge(self, nb, mx, my, sxx, syy, sxy, rank1, before=None) -> None:
        """Chan's rule: merge a part (``nb`` datapoints, means and scatter blocks already in the
        state's units) into a non-empty state; ``rank1(s, s_b, d_x, d_y, c)`` adds
        ``s_b + c d_x d_y^H`` into ``s`` in place (the backend's dense or per-block kernel);
        ``before(d_x, d_y)`` runs before the blocks change (statistics that need the old ones)."""
        na = self.n
        n = na + nb
        c = na * nb / n
        dx, dy = mx - self.mean_x, my - self.mean_y
        if before is not None:
            before(dx, dy)
        rank1(self.sxx, sxx, dx, dx, c)
        rank1(self.syy, syy, dy, dy, c)
        rank1(self.sxy, sxy, dx, dy, c)
        self.mean_x = self.mean_x + dx * (nb / n)
        self.mean_y = self.mean_y + dy * (nb / n)
        self.n = n

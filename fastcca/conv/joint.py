"""Per-frequency moments of MANY pairs of conv layers observed on the same images, from one
pass: the conv-layer twin of :class:`fastcca.grid.JointMoments`.

:class:`JointConvMoments` holds, for a fixed list of requested layer pairs, exactly the state a
:class:`~fastcca.conv.ConvMoments` of each pair would hold, without repeating per-layer work:

* each layer's centred ``rfft2`` is computed ONCE per batch (chunk of images) and gathered at
  the union of the frequencies its pairs need, however many pairs it is in;
* each layer's diagonal blocks ``S_ll[f] = X_f^H X_f`` (F, c, c) are accumulated once per
  distinct frequency set (one set per spatial size of its partners: with equal spatial sizes,
  once per layer) and shared by all its pairs;
* each requested pair (a, b), a != b, adds one cross block stack ``S_ab[f] = A_f^H B_f``
  (F, c_a, c_b), a batched product of the gathered blocks (real-view GEMMs of
  :func:`fastcca.kernels.cpu.block_scatter_accumulate`, as :class:`ConvMoments` uses).

Frequencies, multiplicities and the overlap-of-low-frequencies rule for layers of different
spatial sizes are those of :func:`fastcca.conv.frequency_grid` for the pair (a, b); a pair is
stored once whatever the order it is requested in (``moments(b, a)`` is ``moments(a, b)`` with
x and y swapped and ``S_ab`` conjugate-transposed; the frequency classes of a pair do not depend
on its order).

Streaming: every chunk of images is centred on its own mean image and merged into the state
with Chan, Golub & LeVeque's pairwise rule (per block, as :meth:`ConvMoments.merge`), so the
result equals :class:`ConvMoments` of the same pair to rounding.

Units: every layer is held in its own power-of-two units ``2**exponents[layer]``
(``fastcca.kernels._scale``; 0 for activations of ordinary size): its diagonal stacks in
``4**exponents[layer]``, a cross stack in ``2**(exponents[a] + exponents[b])``; ``moments(a, b)``
carries them into the :class:`ConvMoments` it returns.

Memory (state, complex128): ``16 F (c_a^2 + c_b^2 + c_a c_b)`` bytes for one pair of layers with
``F`` frequency classes (``F ~ h w / 2`` for the overlap h x w), with the diagonal stacks shared
between the pairs of a layer (so for a whole grid: ``16 F c_l^2`` per layer and frequency set,
plus ``16 F c_a c_b`` per requested pair), plus a mean image (c, h, w) float64 per layer.
Transient, per chunk of images: the layers' centred float64 copies, ``rfft2`` outputs and
gathered blocks, bounded by ``chunk_bytes``, and one real-view product (F, 2 c_a, 2 c_b) float64
plus its complex128 conversion at a time.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import _io
from .._docstrings import fill as fill_doc
from .._accumulator import Accumulator
from ..kernels import _scale
from ..backend import get_backend
from ._grid import FrequencyGrid, frequency_grid
from ._inputs import LAYOUTS, as_conv_batch, check_layout
from .._validation import check_choice
from .moments import PRECISIONS, ConvMoments

#: default bound on one chunk's temporaries (all layers' centred copies, rfft2 outputs, blocks)
CHUNK_BYTES = 64 << 20
#: the ``format`` tag of :meth:`JointConvMoments.save` files
_FORMAT = "fastcca.JointConvMoments/1"


class JointConvMoments(Accumulator):
    """Streaming per-frequency moments of the requested ``pairs`` of conv layers.

    Parameters
    ----------
    pairs : sequence of (a, b)
        Layer keys (any hashables) to compare.  ``(a, a)`` needs no cross state; ``(a, b)`` and
        ``(b, a)`` share one.
    layout : {"nchw", "nhwc"}
        Layout of the batches (``"nchw"``: (b, c, h, w), PyTorch's).
    chunk_bytes : int
        Bound on the temporaries of one chunk of images inside ``update``.
    precision : {"float64", "float32"}
        Arithmetic of the FFT and of each chunk's block products, as in :class:`ConvMoments`
        (the state is complex128 either way).
    backend : {"auto", "cpu", "cuda"}
        Where the state lives, as in :class:`ConvMoments` (``"auto"``: the first batch decides).

    Raises
    ------
    ValueError
        ``pairs`` is empty, or ``layout`` / ``precision`` is not one of the choices.

    Notes
    -----
    ``update({key: (b, c, h, w) array, ...})`` takes one batch holding every layer of ``pairs``
    (the same b images); ``moments(a, b)`` returns the pair's :class:`ConvMoments` (copies),
    usable with :func:`fastcca.conv_cca` / :func:`fastcca.conv_svcca`.  A failing ``update``
    (wrong keys, rank or shape, NaN/Inf) raises before the state changes.  Each layer's
    ``rfft2`` is computed once per batch and its diagonal block stack is shared by all its
    pairs (``fastcca.torch``'s ``conv="fft"`` grids use this class).  :meth:`save` /
    :meth:`load` write and read the state (.npz, no pickle); a loaded accumulator streams on.
    :meth:`merge` adds the state of other images (Chan's rule per frequency block), so shards
    made on several workers combine, and :func:`fastcca.jackknife` takes a list of them.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> from fastcca.conv.joint import JointConvMoments
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal((200, 3, 4, 4))
    >>> jm = JointConvMoments([("a", "b"), ("a", "c")])
    >>> _ = jm.update({"a": a, "b": a[:, :2], "c": rng.standard_normal((200, 2, 2, 2))})
    >>> m = jm.moments("a", "b")
    >>> round(fastcca.conv_cca(m).similarity, 6)
    1.0
    """

    def __init__(self, pairs, *, layout: str = "nchw", chunk_bytes: int = CHUNK_BYTES,
                 precision: str = "float64", backend: str = "auto"):
        self.layout = check_layout(layout)
        self.precision = check_choice(precision, "precision", PRECISIONS)
        #: whether any float32 products are in the state (as :class:`ConvMoments`)
        self.float32_products = False
        self.chunk_bytes = int(chunk_bytes)
        self._backend_name = backend
        self._be = None if backend == "auto" else get_backend(backend)
        self._pairs: dict = {}                       # canonical (a, b) -> None until shapes known
        for p in pairs:
            a, b = tuple(p)
            if (a, b) not in self._pairs and (b, a) not in self._pairs:
                self._pairs[(a, b)] = None
        if not self._pairs:
            raise ValueError("pairs: empty; give at least one (a, b) pair of layer keys")
        self.layers = list(dict.fromkeys(k for p in self._pairs for k in p))
        self.n = 0
        self.shapes: dict = {}                       # layer -> (c, h, w)
        self._mean_img: dict = {}                    # layer -> (c, h, w) float64 running mean
        self._grids: dict = {}                       # canonical pair -> FrequencyGrid
        self._fkey: dict = {}                        # (canonical pair, side) -> diag key
        self._flat: dict = {}                        # diag key -> flat rfft2 indices (F,)
        self._diag: dict = {}                        # diag key -> (F, c, c) complex128
        self._cross: dict = {}                       # canonical pair (a != b) -> (F, ca, cb)
        self._gather: dict = {}                      # layer -> (concatenated flat, {diag key: slice})
        self.exponents: dict = {}                    # layer -> power-of-two units of its state

    def __repr__(self) -> str:
        return (f"JointConvMoments(n={self.n}, layers={len(self.layers)}, pairs={len(self._pairs)}, "
                f"state={self.state_bytes / 2**20:.1f} MiB)")

    @property
    def pairs(self) -> list:
        """The stored pairs, each once, in the orientation first requested."""
        return list(self._pairs)

    @property
    def state_bytes(self) -> int:
        """Bytes held by the block stacks and mean images."""
        return int(sum(a.nbytes for d in (self._diag, self._cross, self._mean_img) for a in d.values()))

    def has_pair(self, a, b) -> bool:
        """Whether the pair ``(a, b)`` (in either order) is accumulated."""
        return (a, b) in self._pairs or (b, a) in self._pairs

    # ------------------------------------------------------------------ streaming
    def update(self, batch: Mapping) -> "JointConvMoments":
        """Add one batch: a mapping ``layer -> (b, c, h, w)`` (or NHWC) real array / CPU tensor.

        Raises
        ------
        ValueError, TypeError
            Missing layers, a wrong rank or shape, different image counts, NaN/Inf; the state is
            then unchanged.
        """
        if not isinstance(batch, Mapping):
            raise TypeError(f"batch: expected a mapping layer -> (b, c, h, w) array, got {type(batch).__name__}")
        missing = [k for k in self.layers if k not in batch]
        if missing:
            raise ValueError(f"batch: missing layer(s) {missing}; the pairs need {self.layers}")
        be = self._be or get_backend(self._backend_name, *(batch[k] for k in self.layers))
        xs = {k: as_conv_batch(batch[k], f"batch[{k!r}]", self.layout, be) for k in self.layers}
        rows = {k: x.shape[0] for k, x in xs.items()}
        if len(set(rows.values())) != 1:
            raise ValueError(f"batch: every layer must hold the same images (samples first); images per layer: {rows}")
        if self.n:
            for k, x in xs.items():
                if tuple(x.shape[1:]) != self.shapes[k]:
                    raise ValueError(f"batch[{k!r}]: (channels, height, width) {tuple(x.shape[1:])} differs from "
                                     f"the first batch's {self.shapes[k]}; the accumulator is unchanged")
        means, units = {}, {}
        for k, x in xs.items():
            st = be.spatial_stats_checked(x, self.exponents.get(k) if self.n else None)
            if st is None:
                raise ValueError(f"batch[{k!r}]: NaN or Inf in the layer's output; the accumulator is unchanged")
            means[k], units[k] = st
        if not self.n:
            self._be = be
            self._setup({k: tuple(x.shape[1:]) for k, x in xs.items()})
            self.exponents = dict(units)
        else:
            self._rescale(units)
        b = next(iter(rows.values()))
        step = max(1, min(b, self.chunk_bytes // max(self._bytes_per_image(), 1)))
        for lo in range(0, b, step):
            chunk = {k: x[lo:lo + step] for k, x in xs.items()}
            cm = means if step >= b else {k: self._chunk_mean(x, k) for k, x in chunk.items()}
            self._add_chunk(chunk, cm)
        self.float32_products |= self.precision == "float32"
        return self

    def _chunk_mean(self, x, key):
        """A chunk's mean image in its layer's units (a chunk's own exponent never exceeds its
        batch's, which the layer's units already cover)."""
        mean, e = self._be.spatial_stats_checked(x, self.exponents[key])
        return _scale.scale_pow2(mean, e - self.exponents[key])

    def _rescale(self, units: dict) -> None:
        """Bring every layer whose batch needs larger units (``units[layer]``) there, in place:
        its mean image, its diagonal stacks and the cross stacks it is part of."""
        for key, e in units.items():
            k = int(e) - self.exponents[key]
            if k <= 0:
                continue
            self._mean_img[key] = _scale.scale_pow2(self._mean_img[key], -k)
            for dk, st in self._diag.items():
                if dk[0] == key:
                    _scale.scale_pow2(st, -2 * k, inplace=True)
            for pair, st in self._cross.items():
                _scale.scale_pow2(st, -k * (pair[0] == key) - k * (pair[1] == key), inplace=True)
            self.exponents[key] = int(e)

    def _setup(self, shapes: dict) -> None:
        xp = self._be.xp
        self.shapes = dict(shapes)
        for a, b in self._pairs:
            g = frequency_grid(shapes[a][1:], shapes[b][1:])
            self._grids[(a, b)] = g
            for side, key in (("x", a), ("y", b)):
                flat = g.flat_index(side)
                dk = (key, flat.tobytes())
                self._fkey[((a, b), side)] = dk
                if dk not in self._flat:
                    self._flat[dk] = flat
                    c = shapes[key][0]
                    self._diag[dk] = xp.zeros((len(flat), c, c), dtype=xp.complex128)
            if a != b:
                self._cross[(a, b)] = xp.zeros((g.n_classes, shapes[a][0], shapes[b][0]), dtype=xp.complex128)
        for key in self.layers:
            dks = [dk for dk in self._flat if dk[0] == key]
            flats = [self._flat[dk] for dk in dks]
            cuts = np.cumsum([0] + [len(f) for f in flats])
            self._gather[key] = (np.concatenate(flats),
                                 {dk: slice(int(lo), int(hi)) for dk, lo, hi in zip(dks, cuts[:-1], cuts[1:])})
            self._mean_img[key] = xp.zeros(shapes[key])

    def _bytes_per_image(self) -> int:
        """Temporaries of one image in a chunk: every layer's gathered blocks (complex, kept
        until the chunk's products are done) plus, on a device backend, the largest layer's
        centred real copy and full ``rfft2`` output (freed after its gather; the CPU backend
        bounds those itself, a few MiB per thread)."""
        item = 8 if self.precision == "float64" else 4
        kept = sum(2 * item * self.shapes[k][0] * len(self._gather[k][0]) for k in self.layers)
        if self._be.NAME == "cpu":
            return kept
        peak = max(item * int(np.prod(self.shapes[k])) + 2 * item * self.shapes[k][0] * self.shapes[k][1]
                   * (self.shapes[k][2] // 2 + 1) for k in self.layers)
        return kept + peak

    def _add_chunk(self, chunk: dict, means: dict) -> None:
        """Fold a chunk of images in: one rfft2 per layer, shared diagonal products, one cross
        product per pair, all centred on the chunk's mean images, then Chan's merge."""
        be = self._be
        dt = np.float32 if self.precision == "float32" else np.float64
        blocks = {}
        for key, x in chunk.items():
            flat, parts = self._gather[key]
            z = be.spatial_rfft_blocks(x, means[key], flat, dt, _scale.pow2(-self.exponents[key]))
            for dk, sl in parts.items():
                blocks[dk] = z[sl]

        def product(dka, dkb):
            a, b = blocks[dka], blocks[dkb]
            p = be.xp.zeros((a.shape[0], 2 * a.shape[2], 2 * b.shape[2]))
            be.block_scatter_accumulate(a, a if dka == dkb else b, p)
            return be.real_view_to_complex(p)

        self._chan_fold(next(iter(chunk.values())).shape[0], means, lambda dk: product(dk, dk),
                        lambda pair: product(self._fkey[(pair, "x")], self._fkey[(pair, "y")]))

    def _chan_fold(self, nb: int, means: dict, diag, cross) -> None:
        """Chan's rule per frequency block: fold a part of ``nb`` images into the state, its
        mean images ``means`` (layer -> (c, h, w), in the state's units) and its centred block
        scatters ``diag(dk)`` (F, c, c) per diagonal key and ``cross(pair)`` (F, ca, cb) per
        stored pair (in the state's units).  The first part (``n == 0``) is taken as it is."""
        be = self._be
        n = self.n + nb
        coef = self.n * nb / n
        deltas = {}
        for key, mean in means.items():
            flat, parts = self._gather[key]
            d_img = mean - self._mean_img[key]
            dz = be.rfft_mean(d_img, flat)                                       # (F_all, c)
            for dk, sl in parts.items():
                deltas[dk] = dz[sl]
            self._mean_img[key] += d_img * (nb / n)
        for dk, s in self._diag.items():
            be.add_block_scatter_rank1(s, diag(dk), deltas[dk], deltas[dk], coef)
        for pair, s in self._cross.items():
            be.add_block_scatter_rank1(s, cross(pair), deltas[self._fkey[(pair, "x")]],
                                       deltas[self._fkey[(pair, "y")]], coef)
        self.n = n

    def merge(self, other: "JointConvMoments") -> "JointConvMoments":
        """Merge the moments of other images (the same pairs, in the same orientation, layout
        and layer shapes) into ``self``; returns ``self``.  Exact (Chan's rule per frequency
        block, both first brought to the larger units of each layer: exact powers of two), so
        shards made on several workers combine in any order; ``other`` is not changed.

        Raises
        ------
        TypeError
            ``other`` is not a JointConvMoments.
        ValueError
            Other pairs, layout or layer shapes, or another backend; ``self`` is then unchanged.
        """
        if not self._can_merge(other):
            return self
        if other.pairs != self.pairs or other.layout != self.layout:
            raise ValueError(f"other: pairs {other.pairs} (layout {other.layout!r}) differ from self's "
                             f"{self.pairs} (layout {self.layout!r}); the accumulator is unchanged")
        if self.n and other.shapes != self.shapes:
            raise ValueError(f"other: layer shapes (channels, height, width) {other.shapes} differ from "
                             f"self's {self.shapes}; the accumulator is unchanged")
        if not self.n:
            self._be = self._be or other._be
            self._setup(other.shapes)
            self.exponents = dict(other.exponents)
        else:
            self._rescale({k: max(self.exponents[k], other.exponents[k]) for k in self.layers})
        shift = {k: self.exponents[k] - other.exponents[k] for k in self.layers}
        self._chan_fold(
            other.n, {k: _scale.scale_pow2(m, -shift[k]) for k, m in other._mean_img.items()},
            lambda dk: _scale.scale_pow2(other._diag[dk], -2 * shift[dk[0]]),
            lambda pair: _scale.scale_pow2(other._cross[pair], -shift[pair[0]] - shift[pair[1]]))
        self.float32_products |= other.float32_products
        return self

    # ------------------------------------------------------------------ results
    def grid(self, a, b) -> FrequencyGrid:
        """The :class:`FrequencyGrid` of the pair (x = ``a``, y = ``b``)."""
        self._require_data()
        pair, swap = self._canonical(a, b)
        return frequency_grid(self.shapes[a][1:], self.shapes[b][1:]) if swap else self._grids[pair]

    def moments(self, a, b, *, copy: bool = True) -> ConvMoments:
        """The :class:`ConvMoments` of the pair (x = layer ``a``, y = layer ``b``).  ``copy=False``
        returns views of the shared state (read-only use, e.g. straight into ``conv_cca``)."""
        self._require_data()
        pair, swap = self._canonical(a, b)
        ka, kb = (pair[1], pair[0]) if swap else pair
        dka, dkb = self._fkey[(pair, "x")], self._fkey[(pair, "y")]
        if swap:
            dka, dkb = dkb, dka
        m = ConvMoments._with_backend_module(self._be, layout=self.layout, precision=self.precision)
        m.float32_products = self.float32_products
        m.n = self.n
        m.exponent_x, m.exponent_y = self.exponents[ka], self.exponents[kb]
        m.grid = self.grid(a, b)
        m.shape_x, m.shape_y = self.shapes[ka], self.shapes[kb]
        m.mean_x = self._be.rfft_mean(self._mean_img[ka], self._flat[dka])
        m.mean_y = self._be.rfft_mean(self._mean_img[kb], self._flat[dkb])
        m.sxx, m.syy = self._diag[dka], self._diag[dkb]
        if pair[0] == pair[1]:
            m.sxy = m.sxx
        else:
            s = self._cross[pair]
            m.sxy = s.conj().transpose(0, 2, 1) if swap else s
        if copy:
            m.sxx, m.syy, m.sxy = m.sxx.copy(), m.syy.copy(), self._be.xp.ascontiguousarray(m.sxy).copy()
        return m

    def _canonical(self, a, b):
        if (a, b) in self._pairs:
            return (a, b), False
        if (b, a) in self._pairs:
            return (b, a), True
        raise KeyError(f"pair ({a!r}, {b!r}) was not accumulated; the stored pairs are {self.pairs}")

    def _require_data(self) -> None:
        if self.n == 0:
            raise ValueError("JointConvMoments: empty; call update({...}) with data first")

    # ------------------------------------------------------------------ files
    @fill_doc
    def save(self, path) -> None:
        """Write the state to ``path`` (.npz, no pickle), atomically (temporary file + rename).

        Saved (format ``fastcca.JointConvMoments/1``): ``n``, ``layout``, ``precision``,
        ``float32_products``, the layer keys (in order) with their (c, h, w) shapes and
        power-of-two exponents, the stored pairs (as indices into the layers), each layer's
        mean image ``mean_<i>`` and the block stacks: ``diag_<j>`` (F, c, c) per layer and
        frequency set, ``cross_<j>`` (F, c_a, c_b) per pair of two layers, in the order the
        pairs and shapes determine.  The frequency grids are not saved: they follow from the
        shapes.  ``chunk_bytes`` and the backend are settings, not state (:meth:`load` takes the
        default and the backend it is given).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        None

        Raises
        ------
        %(raises_save_keys)s

        Examples
        --------
        >>> import numpy as np, pathlib, tempfile, fastcca
        >>> from fastcca.conv.joint import JointConvMoments
        >>> a = np.random.default_rng(0).standard_normal((50, 3, 4, 4))
        >>> jm = JointConvMoments([("a", "b")]).update({"a": a, "b": a[:, :2]})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "conv_grid.npz"
        >>> jm.save(path)
        >>> JointConvMoments.load(path).pairs
        [('a', 'b')]
        """
        self._require_data()
        index = {k: i for i, k in enumerate(self.layers)}
        arrays = dict(layout=np.array(self.layout), layers=_io.keys_field(self.layers),
                      pairs=np.array([[index[a], index[b]] for a, b in self._pairs], dtype=np.int64),
                      shapes=np.array([self.shapes[k] for k in self.layers], dtype=np.int64),
                      exponents=np.array([self.exponents[k] for k in self.layers], dtype=np.int64))
        arrays.update({f"mean_{i}": self._mean_img[k] for i, k in enumerate(self.layers)})
        arrays.update({f"diag_{j}": st for j, st in enumerate(self._diag.values())})
        arrays.update({f"cross_{j}": st for j, st in enumerate(self._cross.values())})
        self._save_file(path, _FORMAT, arrays)

    @classmethod
    @fill_doc
    def load(cls, path, backend: str = "cpu") -> "JointConvMoments":
        """Read joint conv moments written by :meth:`save` (``allow_pickle=False``).

        Every field's dtype, shape, finiteness and range is checked, as in
        :meth:`fastcca.ConvMoments.load`: ``n`` a 0-d integer >= 1; the layer keys a JSON list
        of distinct keys, the pairs indices into them, the shapes positive (c, h, w) and the
        exponents within ``+-EXP_LIMIT``, one per layer; the mean images finite float64 of the
        layers' shapes; the block stacks finite complex128 of the shapes the frequency grids of
        the pairs imply, the diagonal ones Hermitian with a real non-negative diagonal.  The
        result streams (``update``) as the saved accumulator would.

        Parameters
        ----------
        %(load_args)s

        Returns
        -------
        JointConvMoments

        Raises
        ------
        fastcca.FastccaFileError
            A truncated, empty, foreign (a ``.npy`` array, another kind of file such as a
            ``fastcca.ConvMoments`` one) or inconsistent file; the message names the file and
            the field (or the kind found).  The file is closed whatever happens.
        FileNotFoundError
            No file at ``path``.

        Examples
        --------
        A part saved by one process, loaded and streamed on by another:

        >>> import numpy as np, pathlib, tempfile
        >>> from fastcca.conv.joint import JointConvMoments
        >>> rng = np.random.default_rng(1)
        >>> def batch():
        ...     return {"x": rng.standard_normal((20, 2, 4, 4)), "y": rng.standard_normal((20, 3, 2, 2))}
        >>> part = pathlib.Path(tempfile.mkdtemp()) / "part.npz"
        >>> JointConvMoments([("x", "y")]).update(batch()).save(part)
        >>> JointConvMoments.load(part).update(batch()).n
        40
        """
        d, n, precision, f32 = cls._read_file(path, (_FORMAT,), ("layout", "layers", "pairs", "shapes", "exponents"))
        layout = _io.field_choice(d, path, "layout", LAYOUTS)
        keys = _io.field_keys(d, path, "layers")
        shapes = _io.field_ints(d, path, "shapes", (len(keys), 3), 1)
        exponents = _io.field_ints(d, path, "exponents", (len(keys),), -_scale.EXP_LIMIT, _scale.EXP_LIMIT)
        a = d["pairs"]
        rows = a.shape[0] if a.ndim == 2 and a.shape[0] >= 1 else 1      # at least one pair
        index = _io.field_ints(d, path, "pairs", (rows, 2), 0, len(keys) - 1)
        jm = cls([(keys[i], keys[j]) for i, j in index], layout=layout, precision=precision,
                 backend="cpu" if backend == "auto" else backend)
        if jm.layers != keys or len(jm.pairs) != len(index):
            raise _io.FastccaFileError(f"{path}: fields 'pairs' and 'layers' disagree: the pairs {jm.pairs} "
                                       f"name the layers {jm.layers}, the file lists {keys} (or a pair twice)")
        jm._setup({k: tuple(int(v) for v in shp) for k, shp in zip(keys, shapes)})
        means = {f"mean_{i}": (k, jm._mean_img) for i, k in enumerate(keys)}
        stacks = {**{f"diag_{j}": (dk, jm._diag) for j, dk in enumerate(jm._diag)},
                  **{f"cross_{j}": (pk, jm._cross) for j, pk in enumerate(jm._cross)}}
        _io.require_fields(d, path, list(means) + list(stacks))
        host = {name: _io.field_array(d, path, name, store[key].shape, np.float64) for name, (key, store) in means.items()}
        host.update({name: _io.field_array(d, path, name, store[key].shape, np.complex128,
                                           scatter=store is jm._diag)
                     for name, (key, store) in stacks.items()})
        for name, (key, store) in {**means, **stacks}.items():
            store[key] = jm._be.xp.asarray(host[name])
        jm.n, jm.float32_products = n, f32
        jm.exponents = {k: int(e) for k, e in zip(keys, exponents)}
        return jm

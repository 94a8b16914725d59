"""What one pass over the data leaves: :class:`Recording`, the joint moments of the hooked layers
(one :class:`fastcca.JointMoments` per datapoint group, and the per-frequency moments of the
``conv="fft"`` pairs), and the grids and pairs computed from them through the measures."""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ..grid import JointMoments, SimilarityMatrix, check_measure_arguments, similarity_pairs
from ._layers import (_FFT_GROUP, _check_fft_measure, _check_fft_modes, _grid_params, _group_str, _is_fft, _key,
                      _label)


class Recording:
    """The joint moments of the hooked layers of one or two models after one pass (what :func:`record` returns).

    Parameters
    ----------
    layers : dict
        ``(model label, module name)`` -> :class:`LayerInfo`.
    groups : dict
        Datapoint group -> its :class:`fastcca.JointMoments` (one group unless ``conv="fold"``
        layers of different spatial sizes were recorded).
    n_batches : int
        Batches seen.
    models : tuple of str
        The model labels.
    fft : JointConvMoments or None
        The per-frequency moments of the pairs involving ``conv="fft"`` conv layers (those layers
        are in no group).

    Notes
    -----
    Layers may be named by module name alone where that is unambiguous, or as
    ``(model label, name)``.

    Examples
    --------
    >>> import torch
    >>> import fastcca.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
    >>> rec = ft.record(net, ["0", "1"], [torch.randn(50, 8)] * 2, progress=False)
    >>> rec.key("1"), rec.n_batches
    (('A', '1'), 2)
    """

    def __init__(self, layers: dict, groups: dict, n_batches: int, models: tuple, fft=None):
        self.layers = layers
        self.groups = groups
        self.n_batches = n_batches
        self.models = models
        self.fft = fft

    def __repr__(self) -> str:
        return (f"Recording(models={list(self.models)}, layers={len(self.layers)}, "
                f"batches={self.n_batches}, groups={self.n})")

    def _is_fft(self, key) -> bool:
        return _is_fft(self.layers, key)

    def _fft_pair(self, a, b) -> bool:
        """Whether the pair is computed in fft mode (it involves a conv map recorded with conv='fft')."""
        return _is_fft(self.layers, a) or _is_fft(self.layers, b)

    def _n_of(self, key) -> int:
        return self.fft.n if self._is_fft(key) else self.joint(key).n

    def key(self, layer) -> tuple:
        """``(model label, name)`` for a layer given as that tuple or by its name alone."""
        return _key(self.layers, layer)

    def joint(self, layer) -> JointMoments:
        """The joint moments holding ``layer``."""
        key = self.key(layer)
        if self._is_fft(key):
            raise ValueError(f"layer {key} was recorded with conv='fft': it is not in the joint scatter; "
                             "its pairs' per-frequency moments are in .fft (rec.moments(a, b) gives a "
                             "fastcca.ConvMoments)")
        return self.groups[self.layers[key].group]

    @property
    def n(self) -> dict:
        """Datapoints per group (``("fft",)``: images of the conv='fft' pairs)."""
        out = {g: jm.n for g, jm in self.groups.items()}
        if self.fft is not None:
            out[_FFT_GROUP] = self.fft.n
        return out

    def moments(self, a, b):
        """The pair's moments (x = layer ``a``, y = layer ``b``): a :class:`fastcca.Moments` (any
        measure), or for a conv='fft' pair a :class:`fastcca.ConvMoments` (``conv_cca``,
        ``conv_svcca``)."""
        ka, kb = self.key(a), self.key(b)
        if self._fft_pair(ka, kb):
            self._check_fft_pairs([(ka, kb)])
            return self.fft.moments(ka, kb)
        self._same_group([(ka, kb)])
        return self.joint(ka).moments(ka, kb)

    def _check_fft_pairs(self, pairs) -> None:
        for a, b in pairs:
            _check_fft_modes(self.layers, a, b)
            if self.fft is None or not self.fft.has_pair(a, b):
                raise KeyError(f"pair ({a}, {b}) involves a conv='fft' layer but its per-frequency moments were "
                               "not accumulated; pass it (or fft_pairs='all') to record(..., fft_pairs=...)")

    def _same_group(self, pairs) -> None:
        for a, b in pairs:
            ga, gb = self.layers[a].group, self.layers[b].group
            if ga != gb:
                raise ValueError(
                    f"layers {a} and {b} have different datapoints ({_group_str(ga)} vs {_group_str(gb)}): "
                    "conv='fold' makes every spatial position a datapoint, so only layers with the same "
                    "spatial size can be compared; use conv='mean' or 'flatten' for these layers")

    def pairs(self, pairs, measure: str = "svcca", *, progress: bool = False, **kwargs):
        """Values of ``measure`` for each (a, b) pair of layers.

        Parameters
        ----------
        pairs : sequence of (a, b)
            Layer names or ``(model label, name)`` keys.
        measure : str
            As in :func:`compare_layers`; ``**kwargs`` its settings.
        progress : bool, default False

        Returns
        -------
        tuple
            ``(values, notes)``: a float64 array with one value per pair, and the notes.
        """
        keyed = [(self.key(a), self.key(b)) for a, b in pairs]
        fft = [i for i, (a, b) in enumerate(keyed) if self._fft_pair(a, b)]
        if fft:
            _check_fft_measure(measure, f"pair {keyed[fft[0]]}")
            self._check_fft_pairs([keyed[i] for i in fft])
        fft_set = set(fft)
        self._same_group([p for i, p in enumerate(keyed) if i not in fft_set])
        out = np.empty(len(keyed))
        notes = []
        for g, jm in self.groups.items():
            idx = [i for i, (a, _) in enumerate(keyed) if self.layers[a].group == g and i not in fft_set]
            if idx:
                v, nt = similarity_pairs(jm, [keyed[i] for i in idx], measure, progress=progress, **kwargs)
                out[idx] = v
                notes += list(nt)
        if fft:
            v, nt = _fft_values(self.fft, [keyed[i] for i in fft], measure, progress, kwargs)
            out[fft] = v
            notes += nt
        return out, tuple(notes)

    def grid(self, rows=None, columns=None, measure: str = "svcca", *, row_title: str | None = None,
             column_title: str | None = None, progress: bool = False, **kwargs) -> SimilarityMatrix:
        """Every (row layer, column layer) pair as a :class:`fastcca.SimilarityMatrix`.

        Parameters
        ----------
        rows, columns : sequence, optional
            Default: the first model's layers against the second model's (or against themselves
            with one model).
        measure, **kwargs
            As in :func:`compare_layers`.
        row_title, column_title : str, optional
            Axis titles (default: from the model labels).
        progress : bool, default False

        Returns
        -------
        SimilarityMatrix
        """
        rows = [k for k in self.layers if k[0] == self.models[0]] if rows is None else [self.key(r) for r in rows]
        if columns is None:
            columns = [k for k in self.layers if k[0] == self.models[-1]]
        else:
            columns = [self.key(c) for c in columns]
        vals, notes = self.pairs([(a, b) for a in rows for b in columns], measure, progress=progress, **kwargs)
        two = len(self.models) > 1

        def title(keys):
            labels = {k[0] for k in keys}
            return f"layer ({labels.pop()})" if two and len(labels) == 1 else "layer"
        return SimilarityMatrix(
            measure=measure, rows=tuple(_label(k) for k in rows), columns=tuple(_label(k) for k in columns),
            values=vals.reshape(len(rows), len(columns)), row_title=row_title or title(rows),
            column_title=column_title or title(columns), n=self._n_of(rows[0]) if rows else 0,
            params=_grid_params(measure, kwargs, any(self._is_fft(k) for k in rows + columns)), notes=notes)


def _fft_values(bank, pairs, measure, progress, kwargs):
    """conv_cca / conv_svcca similarity of each fft pair from the joint per-frequency moments, by
    the conv measures' ``prepare`` / ``pair``: each layer's per-frequency stack is prepared once
    for all its pairs; symmetric measures, so each unordered pair is computed once."""
    from ..conv.measures import check_conv_moments, pair_fft, prepare_fft, prepare_svcca_fft
    a = check_measure_arguments(measure, kwargs)
    keep, keep_rule, eps, rcond, rank_tol = (a[k] for k in ("keep", "keep_rule", "eps", "rcond", "rank_tol"))
    be = bank._be
    preps: dict = {}

    def prep(s, m):
        # keyed by the layer's block stack (shared by all its pairs of one overlap size); the
        # stack is kept alive with its entry, so its id is not reused
        if id(s) not in preps:
            f32 = m.float32_products
            p = (prepare_svcca_fft(be, s, m.grid.multiplicity, keep=keep, keep_rule=keep_rule, eps=eps,
                                   rank_tol=rank_tol, float32=f32) if measure == "svcca" else
                 prepare_fft(be, s, eps=eps, rcond=rcond, rank_tol=rank_tol, float32=f32))
            preps[id(s)] = (s, p)
        return preps[id(s)][1]

    out = np.empty(len(pairs))
    done, notes = {}, []
    for i, (a, b) in enumerate(tqdm(pairs, disable=not progress, desc=f"{measure} fft pairs", unit="pair")):
        if (b, a) in done or (a, b) in done:
            out[i] = done.get((a, b), done.get((b, a)))
            continue
        m = bank.moments(a, b, copy=False)
        check_conv_moments(m, f"{measure} grid (conv='fft')")     # n >= 2, finite state
        r = pair_fft(m, prep(m.sxx, m), prep(m.syy, m))
        done[(a, b)] = out[i] = r.similarity
        notes += [f"{a} x {b} (fft): {t}" for t in r.notes if not t.startswith("SV step")]
    return out, notes

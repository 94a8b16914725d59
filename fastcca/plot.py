"""Figures of similarity results, in the style of the SVCCA and PWCCA papers (matplotlib).

* :func:`heatmap` -- one :class:`fastcca.grid.SimilarityMatrix` as an image with labelled axes
  and a colour bar: layer x layer similarity (Raghu et al. 2017, Fig 4 panes, Fig 7, Fig A4).
* :func:`heatmaps` -- several matrices side by side with one shared colour bar, e.g. the layer
  x layer grids at successive checkpoints returned by
  ``fastcca.torch.compare_checkpoints(..., pairs="all")`` (SVCCA Fig 4).
* :func:`layer_curves` -- one line per layer over training from a (layers x checkpoints)
  matrix (``compare_checkpoints(..., pairs="same")``): PWCCA Fig 6 (as distances), SVCCA Fig A3.

Needs matplotlib (``pip install 'fastcca[plot]'``); ``import fastcca`` never imports it.  Each
function draws on ``ax`` (or ``axes``) when given, otherwise on a new figure from
``matplotlib.pyplot``, and returns the figure.  Save with ``fig.savefig(path)``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["heatmap", "heatmaps", "layer_curves"]


def _mpl():
    try:
        import matplotlib  # noqa: F401
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(f"fastcca.plot needs matplotlib, which is not installed ({exc}). "
                          "Install it with `pip install 'fastcca[plot]'`.") from None
    return plt


def _kind(matrix) -> str:
    return getattr(matrix, "kind", None) or "similarity"


def _values(matrix, distance: bool):
    """The values to draw: a distance measure's own values, or ``1 - values`` of a similarity
    when ``distance`` is asked for."""
    v = np.asarray(matrix.values, dtype=np.float64)
    return 1.0 - v if distance and _kind(matrix) == "similarity" else v


def _quantity(matrix, distance: bool) -> str:
    return f"{matrix.measure} {'distance' if distance or _kind(matrix) == 'distance' else 'similarity'}"


def _limits(matrix, distance: bool, vmin, vmax):
    """``"auto"`` colour limits: the measure's range from the registry (``[0, 1]`` for a
    similarity or its ``1 -`` distance; e.g. ``[0, pi/2]`` for an angle; None = unbounded)."""
    from .measures.registry import ALIASES, REGISTRY
    spec = REGISTRY.get(ALIASES.get(matrix.measure, matrix.measure))
    lo, hi = (0.0, 1.0) if spec is None else spec.value_range
    if distance and _kind(matrix) == "similarity" and spec is not None:
        lo, hi = (None if hi is None else 1.0 - hi), (None if lo is None else 1.0 - lo)
    return (lo if vmin == "auto" else vmin), (hi if vmax == "auto" else vmax)


def heatmap(matrix, ax=None, *, distance: bool = False, cmap: str = "viridis", vmin="auto",
            vmax="auto", origin: str = "lower", annotate: bool = False, title: str | None = None,
            colorbar: bool = True):
    """Draw a :class:`fastcca.SimilarityMatrix` as an image.

    Parameters
    ----------
    matrix : SimilarityMatrix
    ax : matplotlib Axes, optional
        Draw into it (default: a new figure sized to the matrix).
    distance : bool, default False
        Draw ``1 - values`` of a similarity (a distance measure's matrix is drawn as it is).
    cmap, vmin, vmax : colour map and its range
        Default viridis over the measure's range in the registry (``MeasureSpec.value_range``:
        [0, 1] for the similarities, [0, pi/2] for ``shape_angular``; an unbounded end, e.g. of
        ``shape_euclidean``, is the data's own); a number or None (matplotlib's) overrides it.
    origin : {"lower", "upper"}
        ``"lower"`` puts row 0 at the bottom, as in the SVCCA Fig 4 panes.
    annotate : bool, default False
        Write each value in its cell.
    title : str, optional
    colorbar : bool, default True
        A colour bar labelled with the measure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding ``ax`` (save it with ``fig.savefig``).

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'fastcca[plot]'``).

    Notes
    -----
    Rows run along the y axis (y = layer during training, x = layer at the end in SVCCA Fig 4),
    columns along the x axis; ticks carry the labels and the axis titles are the matrix's
    ``row_title``/``column_title``.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> import fastcca.plot as fp
    >>> m = fastcca.SimilarityMatrix("svcca", ["c1", "c2", "fc"], ["c1", "c2", "fc"], np.eye(3) * 0.5 + 0.5)
    >>> fig = fp.heatmap(m, annotate=True)
    >>> fig.axes[0].get_xlabel()
    'layer'
    """
    plt = _mpl()
    if ax is None:
        size = (1.2 + 0.45 * len(matrix.columns), 0.9 + 0.45 * len(matrix.rows))
        fig, ax = plt.subplots(figsize=(max(size[0], 4.0), max(size[1], 3.2)), layout="constrained")
    fig = ax.figure
    vals = _values(matrix, distance)
    vmin, vmax = _limits(matrix, distance, vmin, vmax)
    im = ax.imshow(vals, cmap=cmap, vmin=vmin, vmax=vmax, origin=origin, aspect="auto",
                   interpolation="nearest")
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=90)
    ax.set_yticks(range(len(matrix.rows)), [str(r) for r in matrix.rows])
    ax.set_xlabel(matrix.column_title)
    ax.set_ylabel(matrix.row_title)
    ax.set_title(title if title is not None else _quantity(matrix, distance))
    if annotate:
        lo, hi = im.get_clim()
        for i in range(vals.shape[0]):
            for j in range(vals.shape[1]):
                ax.text(j, i, f"{vals[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if vals[i, j] < 0.5 * (lo + hi) else "black")
    if colorbar:
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(_quantity(matrix, distance))
    return fig


def heatmaps(matrices, titles=None, *, axes=None, distance: bool = False, cmap: str = "viridis",
             vmin="auto", vmax="auto", origin: str = "lower", suptitle: str | None = None):
    """Several matrices in one row of panes with one shared colour bar.

    Parameters
    ----------
    matrices : sequence of SimilarityMatrix
    titles : sequence of str, optional
        Pane titles (default: each matrix's ``column_title``).
    axes : sequence of Axes, optional
        Draw into them (default: a new figure).
    distance, cmap, vmin, vmax, origin
        As in :func:`heatmap`; an unbounded ``"auto"`` end is the data's over all matrices, so
        the panes share one colour scale.
    suptitle : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One pane per matrix and the shared colour bar.

    Raises
    ------
    ValueError
        No matrices, or as many titles as matrices not given.
    ImportError
        matplotlib is not installed.

    Notes
    -----
    The SVCCA Fig 4 layout: the layer x layer grid at 0%, 35%, 75%, 100% of training.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> import fastcca.plot as fp
    >>> m = fastcca.SimilarityMatrix("svcca", ["c1", "c2", "fc"], ["c1", "c2", "fc"], np.eye(3) * 0.5 + 0.5)
    >>> fig = fp.heatmaps([m, m], titles=["35%", "100%"])
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['35%', '100%']
    """
    plt = _mpl()
    matrices = list(matrices)
    if not matrices:
        raise ValueError("matrices: empty; give at least one SimilarityMatrix")
    if titles is not None and len(titles) != len(matrices):
        raise ValueError(f"titles: {len(titles)} titles for {len(matrices)} matrices")
    if axes is None:
        fig, axes = plt.subplots(1, len(matrices), figsize=(3.0 * len(matrices) + 1.2, 3.4), squeeze=False,
                                 layout="constrained")
        axes = axes[0]
    fig = axes[0].figure
    im = None
    lims = [_limits(m, distance, vmin, vmax) for m in matrices]
    every = np.concatenate([_values(m, distance).ravel() for m in matrices])
    vmin = lims[0][0] if lims[0][0] is not None else float(np.nanmin(every))
    vmax = lims[0][1] if lims[0][1] is not None else float(np.nanmax(every))
    for k, (m, ax) in enumerate(zip(matrices, axes)):
        heatmap(m, ax, distance=distance, cmap=cmap, vmin=vmin, vmax=vmax, origin=origin,
                title=titles[k] if titles is not None else m.row_title, colorbar=False)
        im = ax.images[-1]
        if k:                                     # one y label, on the first pane
            ax.set_ylabel("")
    cb = fig.colorbar(im, ax=list(axes))
    cb.set_label(_quantity(matrices[0], distance))
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def layer_curves(matrix, x=None, ax=None, *, distance: bool = False, xlabel: str | None = None,
                 ylabel: str | None = None, title: str | None = None, legend: bool = True, marker: str = "o"):
    """One line per row (layer) of a (layers x checkpoints) matrix, over the columns.

    Parameters
    ----------
    matrix : SimilarityMatrix
        E.g. :func:`fastcca.torch.compare_checkpoints` with ``pairs="same"``.
    x : sequence of float, optional
        The positions of the columns (e.g. epochs or steps; default: the column labels as
        numbers when they all parse, else 0, 1, ...).
    ax : matplotlib Axes, optional
    distance : bool, default False
        Plot ``1 - values`` of a similarity (the PWCCA Fig 6 "distance to the final
        representation"); a distance measure's values are plotted as they are.
    xlabel, ylabel, title : str, optional
    legend : bool, default True
        Line ``i`` is labelled ``rows[i]``.
    marker : str, default "o"

    Returns
    -------
    matplotlib.figure.Figure
        One line per layer over the checkpoints.

    Raises
    ------
    ValueError
        ``x`` does not have one position per column.
    ImportError
        matplotlib is not installed.

    Notes
    -----
    Morcos et al. 2018, Fig 6: each layer's distance to its final representation over training.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> import fastcca.plot as fp
    >>> g = fastcca.SimilarityMatrix("pwcca", ["fc1", "fc2"], ["1", "5", "20"], [[0.5, 0.8, 1.0], [0.3, 0.6, 1.0]])
    >>> fig = fp.layer_curves(g, distance=True)
    >>> len(fig.axes[0].lines)
    2
    """
    plt = _mpl()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 3.4), layout="constrained")
    fig = ax.figure
    vals = _values(matrix, distance)
    if x is None:
        try:
            x = np.array([float(c) for c in matrix.columns])
        except (TypeError, ValueError):
            x = np.arange(len(matrix.columns), dtype=float)
    x = np.asarray(x, dtype=float)
    if x.shape != (vals.shape[1],):
        raise ValueError(f"x: {x.shape[0] if x.ndim else 'a scalar'} positions for {vals.shape[1]} columns")
    cmap = plt.get_cmap("viridis")
    nrow = vals.shape[0]
    for i, (label, row) in enumerate(zip(matrix.rows, vals)):
        ax.plot(x, row, marker=marker, ms=3, label=str(label), color=cmap(i / max(nrow - 1, 1)))
    ax.set_xlabel(xlabel if xlabel is not None else matrix.column_title)
    ax.set_ylabel(ylabel if ylabel is not None else _quantity(matrix, distance))
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(title=matrix.row_title, fontsize=7)
    return fig

"""fastcca's asv suite (run from ``asv_bench/``; see BENCHMARKS.md).

Modules, one idea each:

``_common``      sizes, data generators, backend/dtype parameters, the measure registry
``primitives``   moment update and merge, whitening (regularised inverse square root),
                 ``eigh_top`` vs full ``eigh``, the Numba kernels vs their NumPy twins
``measures``     every public measure at three sizes x dtype x backend: time and peak memory,
                 from arrays (one pass included) and from a streamed ``Moments``
``baselines``    the plain-NumPy original algorithms at the same sizes (time, peak memory), and
                 ``track_`` speed-ups fastcca vs baseline, so every run records ratios

Where later features plug in (not implemented here):

* [conv] Fourier/conv measures and FFT block moments: add entries to ``_common.MEASURES``
  (name -> fastcca callable on samples-first arrays / a Moments-like object) and
  ``_common.BASELINES`` (name -> reference callable, e.g. ``dft_ccas.fourier_ccas`` rewritten in
  ``asv_bench/baselines/``), and a ``conv.py`` module here for conv-only primitives (rfft2 block
  moments) using ``_common.require_backend`` and ``_common.SIZES``-style labelled sizes.
* [torch] PyTorch capture: a ``torch_capture.py`` module here, parameterised by
  ``_common.BACKENDS``; ``require_backend`` already skips ``cuda`` without a GPU.
* [cuda] kernels: nothing to add; the ``cuda`` parameter of every benchmark starts running as
  soon as ``fastcca.get_backend("cuda")`` succeeds.
"""

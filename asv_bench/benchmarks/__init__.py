"""fastcca's asv suite (run from ``asv_bench/``; see BENCHMARKS.md).

Modules, one idea each:

``_common``      sizes, data generators, backend/dtype parameters, the measure registry
``primitives``   moment update and merge, whitening (regularised inverse square root),
                 ``eigh_top`` vs full ``eigh``, the Numba kernels vs their NumPy twins
``measures``     every public measure at three sizes x dtype x backend: time and peak memory,
                 from arrays (one pass included) and from a streamed ``Moments``
``baselines``    the plain-NumPy original algorithms at the same sizes (time, peak memory), and
                 ``track_`` speed-ups fastcca vs baseline, so every run records ratios
``conv``         [conv] ``ConvMoments.update`` (FFT block moments), ``conv_cca`` / ``conv_svcca``
                 (fft mode) from arrays and from moments, the reference per-frequency loop
                 (``asv_bench/baselines/conv_reference.py``) and the ``track_`` speed-up over it;
                 sizes ``_common.CONV_SIZES``, registries ``CONV_MEASURES`` / ``CONV_BASELINES``
                 (conv measures take 4-D arrays, so they are not in ``MEASURES``)
``grid``         the layer grid: ``JointMoments`` + ``similarity_grid`` (svcca) of a few layers vs
                 per-pair ``fastcca.svcca`` calls, and the ``track_`` speed-up; ``GRID_SIZES``

Where later features plug in (not implemented here):

* [torch] PyTorch capture: a ``torch_capture.py`` module here, parameterised by
  ``_common.BACKENDS``; ``require_backend`` already skips ``cuda`` without a GPU.
* [cuda] kernels: nothing to add; the ``cuda`` parameter of every benchmark starts running as
  soon as ``fastcca.get_backend("cuda")`` succeeds (the conv ones once ``ConvMoments`` accepts
  ``backend="cuda"``: ``_common.require_conv_backend``).
"""

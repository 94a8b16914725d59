"""PyTorch integration: hook named modules, run the data through once, stream every hooked
output into joint moments, and compare every layer with every other (or every checkpoint with
a reference) without ever holding the activations.

Needs PyTorch (``pip install 'fastcca[torch]'``); ``import fastcca`` never imports torch, and
the functions here raise an ``ImportError`` saying so when it is missing.

Data
----
``data`` is a ``torch.utils.data.DataLoader`` or any iterable of batches.  A batch is a tensor
(the model input), or a tuple/list/dict whose element ``input_index`` (default 0: the ``x`` of
``(x, y)`` pairs; a key for dict batches) is the input; ``input_index=None`` passes the batch
itself to the model.  Tensor inputs are moved to the device of the model's first parameter.
The pass runs under ``torch.no_grad()``; with ``eval_mode=True`` (default) the models run in
eval mode (dropout off, BatchNorm running statistics), and every module's train/eval flag is
restored afterwards, also when the forward pass raises.  Hooks are always removed.

Layer outputs
-------------
A hooked module must return one tensor whose first axis is the batch.  ``(b, p)`` outputs are
used as is.  Outputs with more axes are taken as channels-first (``(b, c, h, w)`` from
``Conv2d``, ``(b, c, L)`` from ``Conv1d``), handled per ``conv``:

* ``"flatten"`` (default): ``(b, c*h*w)``, every (channel, position) a neuron;
* ``"fold"``: spatial positions become datapoints, ``(b*h*w, c)``, channels are the neurons
  (the SVCCA paper's treatment of conv layers before the DFT); layers are only comparable with
  layers of the same spatial size (their datapoints are the same (image, position) pairs);
* ``"mean"``: the spatial mean, ``(b, c)``;
* ``"fft"``: SVCCA's per-frequency DFT CCA (Raghu et al. 2017, section 3), computed by the
  conv module (:class:`fastcca.conv.joint.JointConvMoments`, :func:`fastcca.conv_cca`,
  :func:`fastcca.conv_svcca`): ``(b, c, h, w)`` outputs (``(b, c, L)`` as ``(b, c, L, 1)``)
  are NOT put into the joint scatter; instead, for every requested pair involving such a layer,
  the per-frequency block moments are accumulated in the same pass (each layer's ``rfft2``
  once per batch, each pair one batched block product).  A pair's value is ``conv_cca`` /
  ``conv_svcca`` of those moments (mean of the pooled per-frequency coefficients); layers of
  different spatial sizes compare their overlapping low frequencies.  Measures: "svcca",
  "cca"/"mean_cca" only (pwcca and linear_cka are not defined per frequency block).
  Mixed pairs: an fft conv layer against a dense layer (b, p) takes the dense layer as a
  (p, 1, 1) map, so only the DC frequency is compared -- which is CCA of the conv layer's
  spatial MEAN against the dense layer; against a conv layer recorded in another mode it is an
  error.  Pairs of 2-D layers always use the joint scatter (every mode is the identity there).

``conv`` is one mode for every layer or a dict ``{layer name: mode}`` (others: "flatten").

Memory
------
With ``P = sum_l p_l`` features over all hooked layers of both models (after the conv
reshaping), the state is one float64 (P, P) scatter plus a mean: ``8 P^2`` bytes.  A batch is
folded in by row chunks (a float64 buffer of about 4 MiB, at least 64 rows) with an in-place
``syrk``, so the accumulation peak is about ``8 P^2 + max(4 MiB, 512 P)`` bytes plus one batch
of the hooked outputs (``b * P`` values in the model's dtype) and the model's own forward
activations -- independent of the number of datapoints.  Computing the grid adds, per layer,
its whitening factor of at most (p_l, p_l) (at most another ``8 P^2``-ish bytes in all).  Example: 10 layers of 128 features, P = 1280: 13 MiB of state.

With ``conv="fft"``, add the per-frequency state of :class:`fastcca.conv.joint.JointConvMoments`
(complex128): ``16 F (c_a^2 + c_b^2 + c_a c_b)`` bytes for a pair of conv layers with ``F``
frequency classes (``F ~ h w / 2`` of the overlapping size), the diagonal stacks shared by all
pairs of a layer (per layer and partner size ``16 F c_l^2``, per requested pair ``16 F c_a c_b``),
plus per batch chunk its rfft temporaries (bounded by 64 MiB) and one pair's product at a time.
Example: 10 conv layers of 64 channels at 16 x 16 (F = 130), all 45 pairs: 55 x 8.5 MB = 0.47 GB.

Backends: the moments are accumulated on the CPU (``backend="cpu"``) or, for CUDA models with
``backend="auto"``/``"cuda"``, by the CUDA kernels when ``fastcca.kernels.cuda`` is available
(``"auto"`` falls back to copying each batch's outputs to the CPU when it is not); the
``conv="fft"`` per-frequency state too (its outputs then stay on the GPU).
"""
from __future__ import annotations

from ..grid import JointMoments, SimilarityMatrix, similarity_grid
from ._layers import CONV_MODES, FFT_MEASURES, LayerInfo
from .checkpoints import compare_checkpoints
from .hooks import compare_layers, record
from .recording import Recording

__all__ = ["record", "compare_layers", "compare_checkpoints", "Recording", "LayerInfo", "CONV_MODES",
           "FFT_MEASURES", "JointMoments", "SimilarityMatrix", "similarity_grid"]

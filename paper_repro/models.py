"""Model definitions (PyTorch), defined once for every figure.

:class:`ToyMLP` is the SVCCA paper's toy regression net (section 2, Fig 1 and Fig 3): 1-D input,
``depth`` hidden layers of ``width`` tanh units, a linear 4-D output.  Every model here exposes
``hidden(x) -> list of activations`` (samples first) and ``forward_from(i, h)`` which continues
the forward pass from the output of hidden layer ``i`` (used to project a layer and read the
output).

:func:`batchnorm_statistics_from_data` sets a model's BatchNorm running statistics from data (how
an untrained net is evaluated as it would see that data, rather than with BN = identity).
"""
from __future__ import annotations

import torch
from torch import nn


class ToyMLP(nn.Module):
    """x (n, in_dim) -> out (n, out_dim); hidden layers ``layers[i] = tanh(W_i h_{i-1} + b_i)``."""

    def __init__(self, in_dim: int = 1, width: int = 200, depth: int = 4, out_dim: int = 4):
        super().__init__()
        dims = [in_dim] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, out_dim)

    def hidden(self, x: torch.Tensor) -> list:
        hs, h = [], x
        for lin in self.layers:
            h = torch.tanh(lin(h))
            hs.append(h)
        return hs

    def forward_from(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Output given hidden layer i's activations h (n, width)."""
        for lin in self.layers[i + 1:]:
            h = torch.tanh(lin(h))
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x)[-1])


class LSTMLM(nn.Module):
    """A stacked-LSTM language model: tokens (B, T) int64 -> logits (B, T, vocab).

    The layers are separate single-layer ``nn.LSTM`` modules so that :meth:`hidden` returns
    every layer's hidden states, a list of (B, T, hidden) tensors (the representations the
    PWCCA paper compares)."""

    def __init__(self, vocab: int = 32, embed: int = 32, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        dims = [embed] + [hidden] * layers
        self.layers = nn.ModuleList(nn.LSTM(a, b, batch_first=True) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(hidden, vocab)

    def hidden(self, tokens: torch.Tensor) -> list:
        hs, h = [], self.embed(tokens)
        for lstm in self.layers:
            h, _ = lstm(h)
            hs.append(h)
        return hs

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(tokens)[-1])


class _LayeredClassifier(nn.Module):
    """Base of the image classifiers: ``self.stages`` is an ``nn.ModuleList`` of callables, one per
    named layer after the input, ``layer_names = ("in", ..., "logits", "out")``.

    ``hidden(x)`` returns every named layer's output, aligned with ``layer_names``: the input
    itself, each stage's output ((n, c, h, w) for conv layers, (n, d) for dense ones), the logits
    and the softmax ``out``.  ``forward_from(i, h)`` continues the forward pass from layer i's
    output h to the logits (i = the index of "out" returns log h), so a figure can replace a layer
    by a projection of it and read the network's answer.  ``forward(x)`` -> logits (n, classes).
    """

    layer_names: tuple = ()

    def hidden(self, x: torch.Tensor) -> list:
        hs, h = [x], x
        for stage in self.stages:
            h = stage(h)
            hs.append(h)
        hs.append(torch.softmax(h, dim=1))
        return hs

    def forward_from(self, i: int, h: torch.Tensor) -> torch.Tensor:
        n_stages = len(self.stages)
        if i == n_stages + 1:
            return torch.log(h.clamp_min(1e-30))
        if not 0 <= i <= n_stages:
            raise ValueError(f"i: expected a layer index in [0, {n_stages + 1}], got {i}")
        for stage in self.stages[i:]:
            h = stage(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from(0, x)


def _conv_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU())


class SVCCAConvNet(_LayeredClassifier):
    """The SVCCA paper's CIFAR-10 convnet (Raghu et al. 2017, sec. 4 / Fig 4): layers
    in, c1, c2, bn1, p1, c3, c4, c5, bn2, p2, fc1, bn3, fc2, bn4, logits, out.

    Conv layers are 3x3, padding 1, ReLU; c1, c2 have ``width`` channels, c3-c5 ``2 * width``;
    p1, p2 are 2x2 max pools; fc1, fc2 have ``fc`` ReLU units; bn* are BatchNorm layers.  Input
    (n, in_channels, image, image) with image divisible by 4 (8 for digits, 32 for CIFAR-10).
    The paper's widths are 64 / 128 / 512 (``width=64, fc=512``).
    """

    layer_names = ("in", "c1", "c2", "bn1", "p1", "c3", "c4", "c5", "bn2", "p2", "fc1", "bn3", "fc2",
                   "bn4", "logits", "out")

    def __init__(self, in_channels: int = 1, image: int = 8, width: int = 16, fc: int = 64,
                 classes: int = 10):
        super().__init__()
        if image % 4:
            raise ValueError(f"image: expected a side divisible by 4, got {image}")
        w2, flat = 2 * width, 2 * width * (image // 4) ** 2
        self.stages = nn.ModuleList([
            _conv_relu(in_channels, width), _conv_relu(width, width), nn.BatchNorm2d(width), nn.MaxPool2d(2),
            _conv_relu(width, w2), _conv_relu(w2, w2), _conv_relu(w2, w2), nn.BatchNorm2d(w2), nn.MaxPool2d(2),
            nn.Sequential(nn.Flatten(), nn.Linear(flat, fc), nn.ReLU()), nn.BatchNorm1d(fc),
            nn.Sequential(nn.Linear(fc, fc), nn.ReLU()), nn.BatchNorm1d(fc), nn.Linear(fc, classes)])


class _ResidualBlock(nn.Module):
    """relu(x + bn(conv(relu(bn(conv(x)))))), a 1x1 strided projection on the skip when the
    shape changes (He et al. 2016)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                                  nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out
                     else nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False))

    def forward(self, x):
        return torch.relu(self.skip(x) + self.body(x))


class SmallResNet(_LayeredClassifier):
    """The SVCCA paper's ResNet, conv-(blocks x residual block) x 3 stages-bn-fc-out, narrowed.

    Layers: in, conv (3x3, ``width``, ReLU), r1.1 ... r3.<blocks> (stage s has ``width * 2**(s-1)``
    channels; stages 2 and 3 start with stride 2), bn (BatchNorm of the last block), pool (global
    spatial mean, (n, 4*width)), logits, out.  The paper has 10 blocks per stage.
    """

    def __init__(self, in_channels: int = 1, width: int = 16, blocks: int = 3, classes: int = 10):
        super().__init__()
        names, stages, c = ["in", "conv"], [_conv_relu(in_channels, width)], width
        for s in range(3):
            c_out = width * 2 ** s
            for b in range(blocks):
                stages.append(_ResidualBlock(c, c_out, 2 if (s > 0 and b == 0) else 1))
                names.append(f"r{s + 1}.{b + 1}")
                c = c_out
        stages += [nn.BatchNorm2d(c), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), nn.Linear(c, classes)]
        names += ["bn", "pool", "logits", "out"]
        self.stages = nn.ModuleList(stages)
        self.layer_names = tuple(names)


PWCCA_WIDTHS = (64, 64, 128, 128, 128, 256, 256, 256, 512, 512, 512)
PWCCA_STRIDES = (1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1)


def pwcca_widths(width_factor: float) -> list:
    """The 11 conv widths of :class:`PWCCAConvNet` at ``width_factor``: the paper's
    :data:`PWCCA_WIDTHS` times the factor, rounded, at least 1 (without building the net)."""
    return [max(1, int(round(w * width_factor))) for w in PWCCA_WIDTHS]


class PWCCAConvNet(_LayeredClassifier):
    """The PWCCA paper's CIFAR-10 convnet (Morcos et al. 2018, sec. 3.1 / appendix A): 11 conv
    layers, 3x3 kernels, strides 1,1,2,1,1,2,1,1,2,1,1, each conv -> BatchNorm -> ReLU, then a
    global spatial mean and a linear softmax layer.

    Widths are the paper's 64,64,128,128,128,256,256,256,512,512,512 times ``width_factor``
    (rounded, at least 1).  Layers: in, conv1 ... conv11 ((n, c, h, w): the paper compares each
    filter's mean over spatial positions, i.e. ``mode="mean"``), pool, logits, out.
    """

    def __init__(self, in_channels: int = 1, width_factor: float = 0.125, classes: int = 10):
        super().__init__()
        widths = pwcca_widths(width_factor)
        stages, c = [], in_channels
        for w, s in zip(widths, PWCCA_STRIDES):
            stages.append(nn.Sequential(nn.Conv2d(c, w, 3, stride=s, padding=1), nn.BatchNorm2d(w), nn.ReLU()))
            c = w
        stages += [nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), nn.Linear(c, classes)]
        self.stages = nn.ModuleList(stages)
        self.widths = tuple(widths)
        self.layer_names = ("in",) + tuple(f"conv{i + 1}" for i in range(11)) + ("pool", "logits", "out")


def batchnorm_statistics_from_data(model: nn.Module, images: torch.Tensor, batch: int | None = None) -> nn.Module:
    """Set every BatchNorm layer's running mean and variance from ``images`` (n, c, h, w), in
    place; returns ``model`` in eval mode.

    Why: a freshly initialised BatchNorm layer has running mean 0 and variance 1, so a net at init
    evaluated in eval mode (as every checkpoint is) applies BN as the identity -- not how an
    initialised net sees data, where each BN layer normalises its input per channel.

    What: each BN layer's running mean / variance become the per-channel mean and BIASED variance
    (over datapoints and positions) of its input on ``images``, that input computed with every BN
    layer before it already normalising this way.  So in eval mode every BN layer's normalised
    input ``(x - running_mean) / sqrt(running_var + eps)`` on ``images`` (its output before the
    affine weight and bias, which are 1 and 0 at init) has per-channel mean 0 and variance
    ``v / (v + eps)`` ~ 1 (``tests/test_paper_repro.py``).

    How, ``batch`` None: ONE forward pass of all ``images`` in train mode, without gradient, with
    every BN layer's ``momentum=None`` (PyTorch's cumulative average) after
    ``reset_running_stats()``: after a single batch the running statistics ARE that batch's; the
    variance PyTorch stores is the unbiased one (``N / (N - 1)`` times the batch's, N =
    datapoints x positions), scaled back to the biased one.  Memory: every image's activations at
    once (digits: tens of MB for the widest net; CIFAR-10 at 7x the paper's widths: tens of GB).
    ``batch`` an int: the same statistics in batches of ``batch`` images, one BN layer at a time in
    the order the forward pass reaches them (eval mode; each pass stops at the layer being set, its
    per-channel sums accumulated in float64 about the first batch's mean): about L / 2 forward
    passes for L BN layers, memory of one batch.  The momenta are restored afterwards.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if batch is not None and batch < len(images):
        return _batchnorm_statistics_batched(model, bns, images, int(batch))
    momenta = [m.momentum for m in bns]
    counts = {}

    def count(module, inputs):
        x = inputs[0]
        counts[module] = x.numel() // x.shape[1]        # datapoints x positions per channel

    hooks = [m.register_forward_pre_hook(count) for m in bns]
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        with torch.no_grad():
            model(images)
            for m in bns:
                n = counts[m]
                if n > 1:
                    m.running_var.mul_((n - 1) / n)
    finally:
        for h in hooks:
            h.remove()
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.eval()
    return model


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the layer being measured has its input."""


def _batchnorm_statistics_batched(model, bns, images, batch):
    order = []

    def seen(module, inputs):
        if module not in order:
            order.append(module)

    model.eval()
    for m in bns:
        m.reset_running_stats()
    hooks = [m.register_forward_pre_hook(seen) for m in bns]
    try:
        with torch.no_grad():
            model(images[:2])                           # the order the forward pass reaches them
    finally:
        for h in hooks:
            h.remove()
    for m in order:
        acc = {}

        def measure(module, inputs):
            x = inputs[0].double()
            dims = [0] + list(range(2, x.ndim))
            if "shift" not in acc:                      # sums about the first batch's mean: no cancellation
                acc.update(shift=x.mean(dim=dims), s1=0.0, s2=0.0, n=0)
            shape = [1, -1] + [1] * (x.ndim - 2)
            d = x - acc["shift"].view(shape)
            acc["s1"] = acc["s1"] + d.sum(dim=dims)
            acc["s2"] = acc["s2"] + (d * d).sum(dim=dims)
            acc["n"] += x.numel() // x.shape[1]
            raise _StopForward

        hook = m.register_forward_pre_hook(measure)
        try:
            with torch.no_grad():
                for i in range(0, len(images), batch):
                    try:
                        model(images[i:i + batch])
                    except _StopForward:
                        pass
        finally:
            hook.remove()
        mean_d = acc["s1"] / acc["n"]
        m.running_mean.copy_((acc["shift"] + mean_d).to(m.running_mean.dtype))
        m.running_var.copy_((acc["s2"] / acc["n"] - mean_d ** 2).clamp_min(0).to(m.running_var.dtype))
    model.eval()
    return model


MODELS = {"toy_mlp": ToyMLP, "lstm_lm": LSTMLM, "svcca_convnet": SVCCAConvNet, "resnet": SmallResNet,
          "pwcca_convnet": PWCCAConvNet}


def build(spec: dict) -> nn.Module:
    """``{"name": "toy_mlp", **kwargs}`` -> model (a JSON-able spec, so it can key the cache)."""
    spec = dict(spec)
    name = spec.pop("name")
    if name not in MODELS:
        raise ValueError(f"model name: expected one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**spec)

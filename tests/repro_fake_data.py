"""Fake datasets in the REAL on-disk layouts that ``paper_repro.data`` reads at ``--scale paper``
(the real CIFAR-10 / PTB / WikiText-2 files are not shipped and never downloaded in the tests).

- :func:`write_fake_cifar10`: ``<root>/cifar-10-batches-py/data_batch_1..5`` and ``test_batch``,
  python pickles of dicts with the real keys ``b"data"`` (uint8 (n, 3072), channel-major rows as in
  the real files) and ``b"labels"`` (a list of ints), every class present in every batch.
- :func:`write_fake_corpora`: PTB in Mikolov's ``simple-examples/data/ptb.{train,valid,test}.txt``
  layout and WikiText-2 in ``wikitext-2/wiki.{train,valid,test}.tokens``: random sentences over a
  small vocabulary containing ``<unk>``, one sentence per line.
"""
from __future__ import annotations

import pickle

import numpy as np

WORDS = tuple(f"w{i}" for i in range(40)) + ("the", "a", "of", "<unk>", "N")


def write_fake_cifar10(root, n_per_batch: int = 16, n_test: int = 20, seed: int = 0):
    """Write the six CIFAR-10 python batches under ``root/cifar-10-batches-py``; returns root."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    for name, n in names:
        labels = [int(c) for c in np.arange(n) % 10]          # every class present
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [f"img{i}.png".encode() for i in range(n)]}, fh, protocol=2)
    return root


def _sentences(rng, n_words: int) -> str:
    lines, count = [], 0
    while count < n_words:
        k = int(rng.integers(3, 15))
        lines.append(" " + " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), k)) + " ")
        count += k + 1
    return "\n".join(lines) + "\n"


def write_fake_corpora(root, n_train: int = 3000, n_valid: int = 1500, seed: int = 0):
    """Write fake PTB (simple-examples layout) and WikiText-2 splits under ``root``; returns root.
    Every word of valid / test also occurs in train (as in the real corpora, rare words are
    already ``<unk>``)."""
    rng = np.random.default_rng([seed, 1])
    ptb = root / "simple-examples" / "data"
    wt2 = root / "wikitext-2"
    ptb.mkdir(parents=True, exist_ok=True)
    wt2.mkdir(parents=True, exist_ok=True)
    vocab_line = " " + " ".join(WORDS) + " \n"                # train holds the whole vocabulary
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_valid)):
        text = _sentences(rng, n)
        (ptb / f"ptb.{split}.txt").write_text((vocab_line if split == "train" else "") + text)
        (wt2 / f"wiki.{split}.tokens").write_text((vocab_line if split == "train" else "") + _sentences(rng, n))
    return root

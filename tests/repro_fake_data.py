"""Fake datasets in the REAL on-disk layouts that ``paper_repro.data`` reads at ``--scale paper``
(the real CIFAR-10 / PTB / WikiText-2 files are not shipped and never downloaded in the tests).

- :func:`write_fake_cifar10`: ``<root>/cifar-10-batches-py/data_batch_1..5`` and ``test_batch``,
  pickles byte for byte in the format of the real files (:func:`py2_cifar_pickle`: Python 2's
  cPickle, protocol 2) of dicts with the real keys ``b"batch_label"``, ``b"labels"`` (a list of
  ints), ``b"data"`` (uint8 (n, 3072), channel-major rows) and ``b"filenames"``, every class
  present in every batch.
- :func:`write_fake_corpora`: PTB in Mikolov's ``simple-examples/data/ptb.{train,valid,test}.txt``
  layout and WikiText-2 in ``wikitext-2/wiki.{train,valid,test}.tokens``: random sentences over a
  small vocabulary containing ``<unk>``, one sentence per line.
"""
from __future__ import annotations

import struct

import numpy as np

WORDS = tuple(f"w{i}" for i in range(40)) + ("the", "a", "of", "<unk>", "N")


def py2_cifar_pickle(name: bytes, data: np.ndarray, labels) -> bytes:
    """A CIFAR-10 batch as Python 2's cPickle (protocol 2) wrote the real files: str keys and
    values as SHORT_BINSTRING, labels a list of ints, the uint8 (n, 3072) array as
    ``numpy.core.multiarray._reconstruct`` + ``numpy.dtype('u1')`` + one BINSTRING buffer (what
    ``pickle.load(f, encoding="bytes")`` reads on Python 3; a Python 3 ``pickle.dump`` would write
    other opcodes and globals, so it would not exercise the real files' path)."""
    def s(b):
        return b"U" + bytes([len(b)]) + b

    def i(v):
        return b"K" + bytes([v]) if v < 256 else b"M" + struct.pack("<H", v) if v < 65536 else b"J" + struct.pack("<i", v)

    n, d = data.shape
    out = b"\x80\x02}(" + s(b"batch_label") + s(name)
    out += s(b"labels") + b"](" + b"".join(i(int(v)) for v in labels) + b"e"
    out += s(b"data") + b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + i(0) + b"\x85" + s(b"b") + b"\x87R"
    out += b"(" + i(1) + i(n) + i(d) + b"\x86" + b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R"
    out += b"(" + i(3) + s(b"|") + b"NNN" + b"J\xff\xff\xff\xff" + b"J\xff\xff\xff\xff" + i(0) + b"tb"
    raw = np.ascontiguousarray(data, dtype=np.uint8).tobytes()
    out += b"\x89" + b"T" + struct.pack("<I", len(raw)) + raw + b"tb"
    out += s(b"filenames") + b"](" + b"".join(s(f"img_{k}.png".encode()) for k in range(n)) + b"e"
    return out + b"u."


def write_fake_cifar10(root, n_per_batch: int = 16, n_test: int = 20, seed: int = 0):
    """Write the six CIFAR-10 python batches under ``root/cifar-10-batches-py``; returns root."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    for name, n in names:
        labels = [int(c) for c in np.arange(n) % 10]          # every class present
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        (folder / name).write_bytes(py2_cifar_pickle(name.encode(), data, labels))
    return root


def _sentences(rng, n_words: int) -> str:
    lines, count = [], 0
    while count < n_words:
        k = int(rng.integers(3, 15))
        lines.append(" " + " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), k)) + " ")
        count += k + 1
    return "\n".join(lines) + "\n"


def write_fake_corpora(root, n_train: int = 3000, n_valid: int = 40000, seed: int = 0):
    """Write fake PTB (simple-examples layout) and WikiText-2 splits under ``root``; returns root.
    Every word of valid / test also occurs in train (as in the real corpora, rare words are
    already ``<unk>``).  The default valid / test size, 40000 tokens (1333 windows of 30), lies
    between pwcca-fig6's 1000 held-out windows (so they are drawn from more, as from PTB's 2458)
    and pwcca-figA3's 5000 (more than there are, as with PTB's valid split)."""
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

"""PTB / WikiText-2 loading for the recurrent figures at --scale paper (on small fake corpora in
the real files' layouts; the real corpora are not shipped)."""
import numpy as np
import pytest

from paper_repro.context import RunContext
from paper_repro.data import token_windows, word_corpus
from paper_repro.lm import held_out, hidden_states, train_lm

PTB_TRAIN = " the cat sat on the mat \n the dog sat on the <unk> \n a cat and a dog \n" * 20
PTB_VALID = " the cat sat \n the mouse ran \n"          # "mouse", "ran" are not in train -> <unk>


def _fake_ptb(root, layout="simple-examples"):
    d = root / ("simple-examples/data" if layout == "simple-examples" else "penn")
    d.mkdir(parents=True)
    names = {"simple-examples": "ptb.{}.txt", "penn": "{}.txt"}[layout]
    (d / names.format("train")).write_text(PTB_TRAIN)
    (d / names.format("valid")).write_text(PTB_VALID)
    (d / names.format("test")).write_text(PTB_VALID)
    return root


@pytest.mark.parametrize("layout", ["simple-examples", "penn"])
def test_word_corpus_vocab_from_train_and_unk(tmp_path, layout):
    root = _fake_ptb(tmp_path, layout)
    ids, vocab = word_corpus(str(root), "ptb", "train")
    assert vocab[:6] == ("the", "cat", "sat", "on", "mat", "<eos>")
    words = PTB_TRAIN.split("\n")[0].split() + ["<eos>"]
    assert [vocab[i] for i in ids[:len(words)]] == words
    assert len(ids) == sum(len(line.split()) + 1 for line in PTB_TRAIN.splitlines())
    vids, vvocab = word_corpus(str(root), "ptb", "valid")
    assert vvocab == vocab
    assert [vocab[i] for i in vids] == ["the", "cat", "sat", "<eos>", "the", "<unk>", "<unk>", "<eos>"]


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="simple-examples.tgz"):
        word_corpus(str(tmp_path), "ptb")
    with pytest.raises(FileNotFoundError, match="wikitext-2"):
        word_corpus(None, "wikitext2")
    with pytest.raises(ValueError, match="corpus"):
        word_corpus(str(tmp_path), "imdb")


def test_token_windows_are_consecutive_disjoint_and_seeded():
    ids = np.arange(103)
    w = token_windows(ids, 100, 10, seed=0)
    assert w.shape == (10, 10) and np.array_equal(w.ravel(), np.arange(100))
    a, b = token_windows(ids, 4, 10, seed=1), token_windows(ids, 4, 10, seed=1)
    assert np.array_equal(a, b) and a.shape == (4, 10)
    assert np.all(np.diff(a[:, 0]) > 0) and np.all(a[:, 0] % 10 == 0) and np.all(np.diff(a, axis=1) == 1)


def test_lm_trains_on_a_corpus_per_depth(tmp_path):
    root = _fake_ptb(tmp_path / "data")
    ctx = RunContext(scale="paper", out=str(tmp_path / "out"), data_dir=str(root), progress=False)
    cfg = {"vocab": None, "corpus": {"2": "ptb"}, "embed": 4, "hidden": 6, "length": 5, "n_train": 1000,
           "steps": 3, "batch": 4, "lr": 1e-2}
    tcfg, run = train_lm(ctx, cfg, 2, [0, 3], seed=0)
    _, vocab = word_corpus(str(root), "ptb")
    assert tcfg["model"]["vocab"] == len(vocab) and tcfg["data"]["name"] == "ptb"
    tokens = held_out(cfg, 5, 3, seed=0, layers=2, data_dir=str(root))
    assert tokens.shape == (2, 3) and tokens.max() < len(vocab)      # 8 valid tokens: 2 windows of 3
    hs = hidden_states(tcfg, run["states"][-1], tokens, device="cpu")
    assert len(hs) == 2 and hs[0].shape == (2, 3, 6)
    with pytest.raises(ValueError, match="3-layer"):
        train_lm(ctx, cfg, 3, [3], seed=0)

"""Recurrent language models, trained once per configuration (shared by the recurrent figures).

Data: at the tiny / small scales :func:`~paper_repro.data.markov_sequences` (no text corpus
ships with the installed packages), or, in a config with ``"synthetic": "words"`` (pwcca-figA8),
:func:`~paper_repro.data.word_sequences` from the lexicon of ``"lexicon_seed"`` (vocabulary:
the letters and the separator); a config with ``"corpus"`` (``"ptb"`` or ``"wikitext2"``, or a
dict ``{"<layers>": name}`` giving each model depth its own corpus, as the PWCCA paper's 3-layer
PTB and 5-layer WikiText-2 models) reads that corpus from ``--data-dir``
(:func:`~paper_repro.data.word_corpus`): training windows from the train split, held-out ones
from the valid split, and the model's vocabulary is the corpus's.
"""
from __future__ import annotations

import numpy as np

from .data import WORD_LETTERS, markov_sequences, token_windows, word_corpus, word_sequences


def corpus_of(cfg: dict, layers: int | None = None) -> str | None:
    """The corpus name a config uses for a model with ``layers`` layers (None: synthetic)."""
    c = cfg.get("corpus")
    if isinstance(c, dict):
        if str(layers) not in c:
            raise ValueError(f"corpus: no corpus given for a {layers}-layer model in {c}")
        c = c[str(layers)]
    return c


#: how figures name each corpus (None: the synthetic default)
CORPUS_LABELS = {None: "synthetic Markov sequences", "ptb": "PTB", "wikitext2": "WikiText-2"}
#: how figures name each synthetic stand-in (a config's ``"synthetic"``, default "markov")
SYNTHETIC_LABELS = {"markov": CORPUS_LABELS[None], "words": "synthetic word sequences"}


def _synthetic(cfg: dict) -> str:
    """The config's synthetic stand-in: "markov" (the default) or "words"."""
    kind = cfg.get("synthetic", "markov")
    if kind not in SYNTHETIC_LABELS:
        raise ValueError(f"synthetic: expected one of {sorted(SYNTHETIC_LABELS)}, got {kind!r}")
    return kind


def _label(cfg: dict, layers) -> str:
    corpus = corpus_of(cfg, layers)
    return SYNTHETIC_LABELS[_synthetic(cfg)] if corpus is None else CORPUS_LABELS.get(corpus, str(corpus))


def _synthetic_tokens(cfg: dict, n: int, length: int, seed: int) -> np.ndarray:
    """(n, length) tokens of the config's synthetic stand-in."""
    if _synthetic(cfg) == "words":
        if cfg["vocab"] != WORD_LETTERS + 1:                # the model's embedding must cover every token
            raise ValueError(f"vocab: word sequences have {WORD_LETTERS + 1} tokens, the config says {cfg['vocab']}")
        return word_sequences(n, length, seed, lexicon_seed=cfg["lexicon_seed"])
    return markov_sequences(n, length, cfg["vocab"], seed)


def corpus_label(cfg: dict, depths) -> str:
    """What the LMs of ``depths`` were trained on, for titles and claim notes: e.g.
    ``"synthetic Markov sequences"`` or ``"PTB (3-layer) / WikiText-2 (5-layer)"``."""
    depths = list(depths)
    names = [_label(cfg, d) for d in depths]
    if len(set(names)) <= 1:
        return names[0] if names else SYNTHETIC_LABELS[_synthetic(cfg)]
    return " / ".join(f"{n} ({d}-layer)" for n, d in zip(names, depths))


def stored_corpus_label(data: dict) -> str:
    """The corpus label a figure's JSON stored (``"data_label"``); JSON written before labels
    were stored came from the synthetic default."""
    return data.get("data_label", CORPUS_LABELS[None])


def synthetic_note(label: str) -> str:
    """The caveat a claim note carries when the LMs saw a synthetic stand-in, else ''."""
    return ", not PTB / WikiText-2" if label in SYNTHETIC_LABELS.values() else ""


def lm_train_config(cfg: dict, layers: int, checkpoints: list, seed: int, vocab: int | None = None) -> dict:
    """The cache key / training config of an LSTM LM; cfg holds vocab, embed, hidden, length,
    n_train, steps, batch, lr (and optionally corpus, or synthetic and lexicon_seed); ``vocab`` overrides cfg's (a corpus's size)."""
    corpus = corpus_of(cfg, layers)
    if corpus is not None:
        data = {"name": corpus, "split": "train", "n": cfg["n_train"], "length": cfg["length"], "seed": seed}
    elif _synthetic(cfg) == "words":
        data = {"name": "word_sequences", "n": cfg["n_train"], "length": cfg["length"],
                "lexicon_seed": cfg["lexicon_seed"], "seed": seed}
    else:
        data = {"name": "markov_sequences", "n": cfg["n_train"], "length": cfg["length"], "vocab": cfg["vocab"],
                "seed": seed}
    return {"model": {"name": "lstm_lm", "vocab": int(vocab or cfg["vocab"]), "embed": cfg["embed"],
                      "hidden": cfg["hidden"], "layers": layers},
            "data": data,
            "steps": cfg["steps"], "lr": cfg["lr"], "batch_size": cfg["batch"], "loss": "lm",
            "checkpoints": sorted(set(checkpoints)), "seed": 1000 * seed + layers}


def train_lm(ctx, cfg: dict, layers: int, checkpoints: list, seed: int):
    """Train (or load) an LSTM LM; returns (train config, run dict of :func:`train_cached`)."""
    from .training import train_cached
    corpus = corpus_of(cfg, layers)
    if corpus is None:
        train, vocab = _synthetic_tokens(cfg, cfg["n_train"], cfg["length"], seed), None
    else:
        ids, words = word_corpus(ctx.data_dir, corpus, "train")
        train, vocab = token_windows(ids, cfg["n_train"], cfg["length"], seed), len(words)
    tcfg = lm_train_config(cfg, layers, checkpoints, seed, vocab=vocab)
    return tcfg, train_cached(ctx, tcfg, train, train, desc=f"{layers}-layer LSTM LM")


def held_out(cfg: dict, n: int, length: int, seed: int, layers: int | None = None,
             data_dir: str | None = None) -> np.ndarray:
    """(n, length) held-out token sequences: from the same Markov chain (a separate draw: a
    different (n, length) stream), or windows of the corpus's valid split."""
    corpus = corpus_of(cfg, layers)
    if corpus is None:
        return _synthetic_tokens(cfg, n, length + 1, seed)[:, 1:]
    ids, _ = word_corpus(data_dir, corpus, "valid")
    return token_windows(ids, n, length, seed)


def hidden_states(tcfg: dict, state, tokens: np.ndarray, *, device) -> list:
    """Every layer's hidden states, a list of (n, T, hidden) float64 host arrays; the model runs on
    ``device``."""
    import torch
    from .training import host, load_model
    model = load_model(tcfg, state, device=device)
    with torch.no_grad():
        return [host(h) for h in model.hidden(torch.as_tensor(tokens, device=device))]

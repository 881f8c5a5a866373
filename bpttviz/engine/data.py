"""Corpora and vocabularies: loading text safely, and the sequence tasks the presets train on."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

#: A corpus larger than this is refused with the limit named: a character model of this size
#: learns nothing more from 10 MB than from 1 MB (min-char-rnn's own example is 1 MB).
MAX_CORPUS_BYTES = 10 * 1024 * 1024
#: More distinct characters than this makes one-hot inputs and the output layer meaningless
#: for a teaching-size model (and the V x T heatmaps unreadable).
MAX_VOCAB = 256


class CorpusError(ValueError):
    """A corpus cannot be used; the message says why in words a user understands."""


@dataclass
class Vocabulary:
    """Characters in a fixed order. ``chars[i]`` is index i; ``index[c]`` is its inverse."""

    chars: List[str]

    def __post_init__(self):
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) indices; raises CorpusError for a character outside the vocabulary."""
        # Vectorised through code points: a 10 MB corpus encodes in a fraction of a second
        # instead of the seconds a per-character dict lookup takes.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        order = np.argsort(table)
        pos = np.searchsorted(table[order], codes)
        pos = np.minimum(pos, len(table) - 1)
        found = table[order][pos] == codes
        if not np.all(found):
            bad = chr(int(codes[np.argmin(found)]))
            raise CorpusError(f"character {bad!r} is not in the vocabulary")
        return order[pos].astype(np.intp)

    def decode(self, indices) -> str:
        return "".join(self.chars[int(i)] if int(i) >= 0 else "" for i in indices)

    def label(self, i: int) -> str:
        """A printable label for index i (newline, tab and space spelled out for axes)."""
        c = self.chars[int(i)]
        return {"\n": "\\n", "\t": "\\t", " ": "␣", "\r": "\\r"}.get(c, c)


def read_corpus(path: str, max_bytes: int = MAX_CORPUS_BYTES) -> str:
    """Read a UTF-8 text corpus with clear errors: missing, a folder, unreadable, empty,
    too large (limit named), binary or not UTF-8, fewer than two distinct characters, or more
    distinct characters than MAX_VOCAB."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CorpusError(f"corpus file not found: {path}")
    if os.path.isdir(path):
        raise CorpusError(f"corpus must be a text file, but {path} is a folder")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise CorpusError(f"corpus {os.path.basename(path)} is {size / 1e6:.1f} MB; the limit is "
                          f"{max_bytes / 1e6:.0f} MB (a small model learns as much from a 1 MB excerpt)")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror or e}") from None
    return decode_corpus(raw, os.path.basename(path))


def decode_corpus(raw: bytes, name: str = "corpus") -> str:
    """Validate and decode corpus bytes (see :func:`read_corpus` for the rules)."""
    if not raw.strip():
        raise CorpusError(f"{name} is empty: it needs some text to learn from")
    if b"\x00" in raw[:65536]:
        raise CorpusError(f"{name} looks like a binary file, not text (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{name} is not UTF-8 text (undecodable byte at offset {e.start}); "
                          "save it as UTF-8 and try again") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    distinct = len(set(text))
    if distinct < 2:
        raise CorpusError(f"{name} has only {distinct} distinct character; a model needs at least 2 "
                          "to predict anything")
    if distinct > MAX_VOCAB:
        raise CorpusError(f"{name} has {distinct} distinct characters; the limit is {MAX_VOCAB} "
                          "(use a plain-text excerpt in one language)")
    if len(text) < 2:
        raise CorpusError(f"{name} is too short: it needs at least 2 characters")
    return text


def delay_task(length: int, delay: int, symbols: int, seed: int = 0):
    """The long-range copy task: random symbols where the target at step t is the input at
    step t - delay (and the blank symbol 0 before that).  Truncating BPTT to fewer than
    ``delay`` steps cuts exactly the path the model needs.

    Returns ``(inputs, targets)``, each (length,) indices into a vocabulary of
    ``symbols + 1`` entries (0 = blank).
    """
    rng = np.random.default_rng(seed)
    inputs = rng.integers(1, symbols + 1, size=length)
    targets = np.zeros(length, dtype=np.intp)
    targets[delay:] = inputs[:length - delay]
    return inputs.astype(np.intp), targets


def name_example(name: str, vocab: Vocabulary, newline: str = "\n"):
    """The dinosaurs assignment's example: inputs start with the zero vector (index -1),
    targets end with the newline. Returns ``(inputs, targets)``, each (len(name) + 1,)."""
    ix = vocab.encode(name)
    nl = vocab.index[newline]
    return np.concatenate([[-1], ix]).astype(np.intp), np.concatenate([ix, [nl]]).astype(np.intp)


def split_names(text: str) -> List[str]:
    """Non-empty lines of a name list, stripped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def text_window(data: np.ndarray, pointer: int, seq_length: int):
    """min-char-rnn's window: inputs data[p : p+T], targets data[p+1 : p+T+1]. Both (T,)."""
    return data[pointer:pointer + seq_length], data[pointer + 1:pointer + seq_length + 1]


def check_seq_length(seq_length: int, corpus_len: int, name: Optional[str] = None) -> int:
    if isinstance(seq_length, bool) or not isinstance(seq_length, (int, np.integer)) or seq_length < 1:
        raise ValueError(f"seq_length must be a whole number >= 1; got {seq_length!r}")
    if seq_length + 1 > corpus_len:
        raise ValueError(f"seq_length {seq_length} is longer than the corpus allows: "
                         f"{name or 'the corpus'} has {corpus_len} characters, so seq_length "
                         f"can be at most {corpus_len - 1}")
    return int(seq_length)

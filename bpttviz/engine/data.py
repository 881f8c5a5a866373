"""Corpora and vocabularies: loading text safely, and the sequence tasks the presets train on."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from . import limits as _limits

#: A corpus larger than this is refused with the limit named (see limits.CORPUS_BYTES).
MAX_CORPUS_BYTES = int(_limits.CORPUS_BYTES.high)
#: More distinct characters than this makes one-hot inputs and the output layer meaningless
#: for a teaching-size model (and the V x T heatmaps unreadable); see limits.VOCAB_SIZE.
MAX_VOCAB = int(_limits.VOCAB_SIZE.high)

#: Byte order marks, longest first (UTF-32 LE starts with UTF-16 LE's).
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))


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
    """Read a text corpus with clear errors: missing, a folder, not a regular file (a FIFO,
    device or socket is refused by type before it is opened, so nothing blocks), unreadable,
    empty, too large (limit named; the read itself is bounded, so /dev/zero-like files whose
    size says 0 cannot exhaust memory), binary (a NUL byte anywhere), not UTF-8 (UTF-16 and
    UTF-32 with a byte order mark are decoded), fewer than two distinct characters, or more
    distinct characters than MAX_VOCAB."""
    import stat as _stat
    path = os.fspath(path)
    name = os.path.basename(path) or path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CorpusError(f"corpus file not found: {path}") from None
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror or e}") from None
    if _stat.S_ISDIR(st.st_mode):
        raise CorpusError(f"corpus must be a text file, but {path} is a folder")
    if not _stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if _stat.S_ISFIFO(st.st_mode) else
                "a device" if _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode) else
                "a socket" if _stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise CorpusError(f"corpus must be a regular text file, but {path} is {kind}")
    too_large = (f"corpus {name} is larger than the limit of {max_bytes / 1e6:.0f} MB "
                 f"({_limits.CORPUS_BYTES.reason})")
    if st.st_size > max_bytes:
        raise CorpusError(f"corpus {name} is {st.st_size / 1e6:.1f} MB; the limit is "
                          f"{max_bytes / 1e6:.0f} MB (a small model learns as much from a 1 MB excerpt)")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            if not _stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped since the stat
                raise CorpusError(f"corpus must be a regular text file, but {path} is not")
            raw = f.read(max_bytes + 1)  # bounded: the size on disk may lie
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror or e}") from None
    if len(raw) > max_bytes:
        raise CorpusError(too_large)
    return decode_corpus(raw, name)


def decode_corpus(raw: bytes, name: str = "corpus") -> str:
    """Validate and decode corpus bytes (see :func:`read_corpus` for the rules)."""
    encoding = "utf-8"
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            encoding = enc
            raw = raw[len(bom):]
            break
    if encoding == "utf-8":
        if not raw.strip():
            raise CorpusError(f"{name} is empty: it needs some text to learn from")
        nul = raw.find(b"\x00")  # anywhere, not only near the start
        if nul >= 0:
            raise CorpusError(f"{name} looks like a binary file, not text (it contains a NUL byte "
                              f"at offset {nul})")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        if encoding != "utf-8":
            raise CorpusError(f"{name} starts with a {encoding.upper()} byte order mark but is not "
                              f"valid {encoding.upper()} (undecodable at offset {e.start})") from None
        raise CorpusError(f"{name} is not UTF-8 text (undecodable byte at offset {e.start}); "
                          "save it as UTF-8 and try again") from None
    if "\x00" in text:
        raise CorpusError(f"{name} looks like a binary file, not text (it contains NUL characters)")
    if not text.strip():
        raise CorpusError(f"{name} is empty: it needs some text to learn from")
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

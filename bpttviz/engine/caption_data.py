"""The captioning dataset: cs231n-style (features, captions, vocabulary), a shipped synthetic
"shapes" set, and its files.  Re-exported by :mod:`bpttviz.engine.captioning`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

NULL_TOKEN, START_TOKEN, END_TOKEN = "<NULL>", "<START>", "<END>"


def _check_size(name: str, value, low: int = 1, high: int = 100_000) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return int(value)


def _check_captions(captions, V: int, N: Optional[int] = None) -> np.ndarray:
    arr = np.asarray(captions)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.dtype.kind not in "iu":
        raise ValueError("captions must be an integer (N, T+1) array of word indices with T+1 >= 2; "
                         f"got shape {arr.shape}, dtype {arr.dtype}")
    if N is not None and arr.shape[0] != N:
        raise ValueError(f"captions must have one row per feature vector (N = {N}); got "
                         f"{arr.shape[0]} rows")
    if arr.size and (arr.min() < 0 or arr.max() >= V):
        raise ValueError(f"captions must hold word indices in [0, {V}) (V = vocabulary size); got "
                         f"values from {arr.min()} to {arr.max()}")
    return arr.astype(np.intp, copy=False)



# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------

#: Vocabulary of the synthetic "shapes" dataset, in index order.
SHAPES_VOCAB = (NULL_TOKEN, START_TOKEN, END_TOKEN, "a", "big", "small",
                "red", "blue", "green", "yellow", "circle", "square", "triangle", "star",
                "on", "left", "right", "top", "bottom")
_COLOURS = ("red", "blue", "green", "yellow")
_SHAPES = ("circle", "square", "triangle", "star")
_SIZES = ("big", "small")
_PLACES = ("left", "right", "top", "bottom")


@dataclass
class CaptionDataset:
    """Feature vectors and their captions.

    features (N, D) float64; captions (N, T+1) int64 word indices, each
    ``<START> words... <END> <NULL>...``; vocab: V words in index order;
    word_to_idx: word -> index; null, start, end: the indices of the special tokens.
    """

    features: np.ndarray
    captions: np.ndarray
    vocab: List[str]
    word_to_idx: Dict[str, int] = field(default_factory=dict)
    null: int = 0
    start: int = 1
    end: int = 2

    @property
    def num_examples(self) -> int:
        return int(self.features.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def T(self) -> int:
        """Timesteps per caption (captions hold T+1 words)."""
        return int(self.captions.shape[1]) - 1


def _make_dataset(features, captions, vocab, source: str) -> CaptionDataset:
    """Validate arrays and build a CaptionDataset; ValueError names ``source`` on failure."""
    features, captions, vocab = np.asarray(features), np.asarray(captions), list(vocab)
    if features.ndim != 2 or features.shape[0] < 1 or features.shape[1] < 1 \
            or features.dtype.kind not in "fiu":
        raise ValueError(f"{source}: features must be a real (N, D) array; got shape "
                         f"{features.shape}, dtype {features.dtype}")
    features = features.astype(np.float64)
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{source}: features must be finite; it holds NaN or infinity")
    if not all(isinstance(w, str) and w for w in vocab) or len(set(vocab)) != len(vocab):
        raise ValueError(f"{source}: vocab must be distinct non-empty words")
    missing = [w for w in (NULL_TOKEN, START_TOKEN, END_TOKEN) if w not in vocab]
    if missing:
        raise ValueError(f"{source}: vocab must contain {NULL_TOKEN}, {START_TOKEN} and "
                         f"{END_TOKEN}; it lacks {', '.join(missing)}")
    try:
        captions = _check_captions(captions, len(vocab), features.shape[0]).astype(np.int64)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    word_to_idx = {w: i for i, w in enumerate(vocab)}
    return CaptionDataset(features=features, captions=captions, vocab=vocab,
                          word_to_idx=word_to_idx, null=word_to_idx[NULL_TOKEN],
                          start=word_to_idx[START_TOKEN], end=word_to_idx[END_TOKEN])


def make_synthetic_dataset(seed: int = 0, num_examples: int = 200, noise: float = 0.1) -> CaptionDataset:
    """The "shapes" dataset: a feature vector describes one coloured shape and the caption
    says what it is, e.g. ``<START> a big red circle on left <END>`` or, with no size and no
    place, ``<START> a blue star <END> <NULL> <NULL> <NULL>``.

    Features (num_examples, 16): dims 0-3 one-hot colour (red, blue, green, yellow), 4-7
    one-hot shape (circle, square, triangle, star), 8-9 one-hot size (big, small; both 0 for
    no size word), 10-13 one-hot place (left, right, top, bottom; all 0 for no place), 14-15
    unused; then Gaussian noise of standard deviation ``noise`` on every dim.
    Captions (num_examples, 8) int64 over :data:`SHAPES_VOCAB`, padded with ``<NULL>``.
    The caption is a function of the noiseless features, so it is learnable.
    """
    n = _check_size("num_examples", num_examples, 1, 1_000_000)
    noise = float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0; got {noise!r}")
    rng = np.random.default_rng(seed)
    ix = {w: i for i, w in enumerate(SHAPES_VOCAB)}
    colour = rng.integers(0, len(_COLOURS), n)
    shape = rng.integers(0, len(_SHAPES), n)
    size = rng.integers(0, len(_SIZES) + 1, n)       # len(_SIZES) = no size word
    place = rng.integers(0, len(_PLACES) + 2, n)     # >= len(_PLACES) = no place (1 in 3)
    features = np.zeros((n, 16))
    rows = np.arange(n)
    features[rows, colour] = 1.0
    features[rows, 4 + shape] = 1.0
    has_size, has_place = size < len(_SIZES), place < len(_PLACES)
    features[rows[has_size], 8 + size[has_size]] = 1.0
    features[rows[has_place], 10 + place[has_place]] = 1.0
    features += noise * rng.standard_normal(features.shape)
    captions = np.full((n, 8), ix[NULL_TOKEN], dtype=np.int64)
    for k in range(n):
        words = [START_TOKEN, "a"]
        if has_size[k]:
            words.append(_SIZES[size[k]])
        words += [_COLOURS[colour[k]], _SHAPES[shape[k]]]
        if has_place[k]:
            words += ["on", _PLACES[place[k]]]
        words.append(END_TOKEN)
        captions[k, :len(words)] = [ix[w] for w in words]
    return _make_dataset(features, captions, SHAPES_VOCAB, "make_synthetic_dataset")


def default_caption_dataset_path() -> str:
    """Path of the shipped ``resources/captioning/shapes.npz``."""
    from ..resources_path import resources_dir

    return str(resources_dir() / "captioning" / "shapes.npz")


def save_caption_dataset(dataset: CaptionDataset, path) -> None:
    """Write ``features``, ``captions`` and ``vocab`` (fixed-width unicode) to an .npz file
    that :func:`load_caption_dataset` (and ``np.load(..., allow_pickle=False)``) reads."""
    np.savez_compressed(os.fspath(path), features=np.asarray(dataset.features, dtype=np.float64),
                        captions=np.asarray(dataset.captions, dtype=np.int64),
                        vocab=np.array(list(dataset.vocab), dtype=str))


def load_caption_dataset(path=None) -> CaptionDataset:
    """Load a caption dataset .npz (default: the shipped shapes dataset) without pickle.

    It must hold ``features`` (N, D) real, ``captions`` (N, T+1) integer indices into
    ``vocab``, and ``vocab`` (V,) unicode words including <NULL>, <START> and <END>.
    Raises ValueError saying what is wrong for a missing, unreadable, corrupt or
    wrong-shaped file.
    """
    path = default_caption_dataset_path() if path is None else os.fspath(path)
    name = os.path.basename(path) or path
    if not os.path.exists(path):
        raise ValueError(f"caption dataset file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"caption dataset must be an .npz file, but {path} is a folder")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("it holds a single array, not an .npz archive")
            missing = [k for k in ("features", "captions", "vocab") if k not in data.files]
            if missing:
                raise ValueError(f"it lacks the array(s) {', '.join(missing)} (it needs "
                                 "features, captions and vocab)")
            features, captions, vocab = data["features"], data["captions"], data["vocab"]
    except ValueError as e:
        raise ValueError(f"{name} is not a usable caption dataset: {e}") from None
    except Exception as e:  # zipfile.BadZipFile, EOFError, OSError, zlib.error, ...
        raise ValueError(f"{name} is not a readable caption dataset .npz file (damaged or "
                         f"truncated?): {type(e).__name__}: {e}") from None
    if not hasattr(vocab, "dtype") or vocab.dtype.kind != "U" or vocab.ndim != 1:
        raise ValueError(f"{name}: vocab must be a 1-D unicode array of words; got "
                         f"shape {getattr(vocab, 'shape', '?')}, dtype {getattr(vocab, 'dtype', '?')}")
    return _make_dataset(features, captions, [str(w) for w in vocab], name)


def decode_captions(captions, vocab: Sequence[str]) -> List[str]:
    """Words of each caption joined by spaces, leaving out <NULL> and <START> and stopping at
    the first <END>.  captions (N, L) or (L,) integer indices; returns N strings (one for a
    1-D caption)."""
    vocab = list(vocab)
    arr = np.asarray(captions)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"captions must be an integer (N, L) or (L,) array; got shape "
                         f"{np.shape(captions)}")
    if arr.size and (arr.min() < 0 or arr.max() >= len(vocab)):
        raise ValueError(f"captions must hold indices in [0, {len(vocab)}) (the vocab size); got "
                         f"values from {arr.min()} to {arr.max()}")
    out = []
    for row in arr:
        words = []
        for i in row:
            w = vocab[int(i)]
            if w == END_TOKEN:
                break
            if w not in (NULL_TOKEN, START_TOKEN):
                words.append(w)
        out.append(" ".join(words))
    return out



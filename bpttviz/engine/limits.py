"""Every size and value limit of bpttviz, named once, each with the reason for it.

One set of limits is shared by :meth:`bpttviz.engine.train.RunConfig.validate` (so by every
edit, preset, command line option and session file), by the session file reader
(:mod:`bpttviz.session_file`), by the corpus reader (:func:`bpttviz.engine.data.read_corpus`)
and by the GUI's spin boxes, which read their ranges from here (``Limit.offer``).

The two sizes that matter most are the hidden size H and the window length T: every panel
draws per-timestep and per-unit pictures (T x H heatmaps, T x T contribution maps, G*H x H
Jacobians per step), so drawing cost grows like T*H^2 and T^2*H.  Measured on today's main
(issue 16): hidden 2048 took 197 s and 5.7 GB to draw every panel, hidden 1024 with T=400
peaked at 11.6 GB, T=2000 with H=512 segfaulted after a MemoryError and T=200,000 froze the
window for minutes.  H <= 512 and T <= 200 keep the largest drawing within a few seconds and
well under 1 GB, and are far above what any preset or seed uses (H=100, T=25).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Limit:
    """A named range ``low .. high`` (``low_inclusive`` False: strictly above ``low``).

    ``offer`` is the range a control offers for typing (defaults to the whole range); it is
    narrower only where the hard limit exists for safety, not for teaching (a learning rate
    of 1e300 is legal: divergence is detected and reported, and the tests use it).
    ``reason`` says why the limit exists, in words a user can be shown.
    """

    name: str
    low: float
    high: float
    reason: str
    integer: bool = True
    low_inclusive: bool = True
    offer_range: Optional[Tuple[float, float]] = None

    @property
    def offer(self) -> Tuple[float, float]:
        return self.offer_range if self.offer_range is not None else (self.low, self.high)

    def describe(self) -> str:
        """``"a whole number from 1 to 512"`` / ``"a finite number > 0 and <= 100"``."""
        kind = "a whole number" if self.integer else "a finite number"
        if self.low_inclusive:
            return f"{kind} from {self.low:g} to {self.high:g}"
        return f"{kind} > {self.low:g} and <= {self.high:g}"

    def contains(self, value) -> bool:
        """True if ``value`` is of the right kind and inside the range (bools never are)."""
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return False
        if self.integer:
            if not _is_int(value):
                return False
        else:
            if not (_is_int(value) or _is_real(value)):
                return False
            if not math.isfinite(float(value)):
                return False
        v = float(value) if not self.integer else int(value)
        above = v >= self.low if self.low_inclusive else v > self.low
        return above and v <= self.high

    def check(self, value, field: Optional[str] = None):
        """Return ``value`` (int or float) or raise ValueError naming the field, the value,
        the limit and its reason."""
        if not self.contains(value):
            raise LimitError(field or self.name, value, self)
        return int(value) if self.integer else float(value)


class LimitError(ValueError):
    """A value outside its :class:`Limit`; the message names the field, value, limit, reason."""

    def __init__(self, field: str, value, limit: Limit):
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(f"{field} must be {limit.describe()}; got {shown} ({limit.reason})")
        self.field, self.value, self.limit = field, value, limit


def _is_int(value) -> bool:
    import numbers
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    import numbers
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --- the model and its window --------------------------------------------------------------
HIDDEN_SIZE = Limit(
    "hidden_size", 1, 512,
    "every panel draws per-unit pictures whose cost grows like H^2 per step: hidden 2048 took "
    "197 s and 5.7 GB to draw, 512 stays within seconds")
SEQ_LENGTH = Limit(
    "seq_length", 1, 200,
    "the timeline has 2T+2 events and the contribution maps are T x T: T=200,000 froze the "
    "window, 200 keeps every view drawable in seconds")
#: A window of any task (a name of the names task, the fixed task's inputs) has this many steps.
TIMESTEPS = Limit(
    "timesteps", 1, 200,
    "a window is drawn one step per column: the same bound as seq_length")
VOCAB_SIZE = Limit(
    "vocabulary size", 2, 256,
    "one-hot inputs and the V x T output heatmaps of more symbols are unreadable for a "
    "teaching-size model (use a plain-text excerpt in one language)")
CORPUS_BYTES = Limit(
    "corpus size (bytes)", 1, 10 * 1024 * 1024,
    "a small model learns as much from a 1 MB excerpt; 10 MB keeps loading within a second")
WORDVEC_DIM = Limit(
    "wordvec_dim", 1, 512,
    "word vectors are drawn per dimension, like the hidden units")
BATCH_SIZE = Limit(
    "batch_size", 1, 1000,
    "one captioning iteration computes this many captions' gradients; 1000 covers any shipped "
    "dataset and keeps an iteration below a second")
DELAY = Limit(
    "delay", 1, 199,
    "the copy task's delay must fit inside a window (delay < seq_length <= 200)")
SYMBOLS = Limit(
    "symbols", 1, 10,
    "the copy task names its symbols A..J")

# --- initialisation and training ------------------------------------------------------------
SEED = Limit(
    "seed", 0, 2 ** 31 - 1,
    "seeds are what a spin box can show and numpy accepts")
INIT_SCALE = Limit(
    "init_scale", 0, 1000.0,
    "randn * scale must stay finite (1e308 gave inf weights and NaN everywhere)",
    integer=False, offer_range=(1e-5, 100.0))
WHH_RADIUS = Limit(
    "whh_radius", 0, 100.0,
    "the orthogonal Whh is scaled to this spectral radius; beyond 100 every step saturates",
    integer=False, low_inclusive=False)
LR = Limit(
    "lr", 0, 1e308,
    "any finite rate is safe: an update that overflows is detected, undone and reported",
    integer=False, low_inclusive=False, offer_range=(1e-6, 100.0))
CLIP_VALUE = Limit(
    "clip_value", 0, 1e308,
    "the clipping threshold is only compared with gradient entries and norms (a huge one never "
    "clips); it must be finite and > 0 even while clipping is off, since the clipping view "
    "uses it whatever the clip mode",
    integer=False, low_inclusive=False, offer_range=(1e-4, 1e6))
TRUNCATION = Limit(
    "truncation", 1, 200,
    "the truncation view compares full BPTT with BPTT cut to this many steps of a window "
    "(T <= 200)")

# --- session files (untrusted input) --------------------------------------------------------
ITERATION = Limit(
    "iteration", 0, 10 ** 15,
    "a count of updates: 10^15 is 15,000 years at 2,000 iterations per second")
HISTORY_LENGTH = Limit(
    "history length", 0, 10_000_000,
    "the training history kept in a session file (4 float64 series: 320 MB at the limit, "
    "about 80 minutes of training at 2,000 iterations per second)")
HISTORY_POINTS = Limit(
    "history points", 2, 2 ** 19,
    "the training history kept in memory: when it holds this many entries, neighbouring ones "
    "are merged in pairs (so each stands for 2, 4, 8 ... iterations), which keeps an hour of "
    "training at 2,000 iterations per second within 16 MB per copy")
SESSION_FILE_BYTES = Limit(
    "session file size (bytes)", 1, 512 * 1024 * 1024,
    "a session after 100,000 iterations is under 2 MB; larger files are not sessions")
SESSION_MEMBER_BYTES = Limit(
    "session member size (bytes)", 0, 128 * 1024 * 1024,
    "the largest legal member is one history series at the history limit (80 MB)")
SESSION_TOTAL_BYTES = Limit(
    "session uncompressed size (bytes)", 0, 512 * 1024 * 1024,
    "everything a session may hold at the limits above, decompressed; more is a zip bomb")
SESSION_MEMBERS = Limit(
    "session members", 1, 200,
    "a session holds at most a few dozen arrays")
JSON_BYTES = Limit(
    "session metadata size (bytes)", 2, 64 * 1024 * 1024,
    "a version 1 file stores its history as JSON text (31 MB after 100,000 iterations)")
JSON_DEPTH = Limit(
    "JSON nesting depth", 0, 32,
    "session metadata is nested three levels deep; deeper nesting only exhausts the stack")
ARRAY_ELEMENTS = Limit(
    "array elements", 0, HISTORY_LENGTH.high,
    "the largest array a session holds is one history series")

#: Every limit by name (what the GUI and the tests iterate over).
LIMITS: Dict[str, Limit] = {
    "hidden_size": HIDDEN_SIZE, "seq_length": SEQ_LENGTH, "timesteps": TIMESTEPS,
    "vocab_size": VOCAB_SIZE, "corpus_bytes": CORPUS_BYTES, "wordvec_dim": WORDVEC_DIM,
    "batch_size": BATCH_SIZE, "delay": DELAY, "symbols": SYMBOLS, "seed": SEED,
    "init_scale": INIT_SCALE, "whh_radius": WHH_RADIUS, "lr": LR, "clip_value": CLIP_VALUE,
    "truncation": TRUNCATION, "iteration": ITERATION, "history_length": HISTORY_LENGTH,
    "history_points": HISTORY_POINTS,
    "session_file_bytes": SESSION_FILE_BYTES, "session_member_bytes": SESSION_MEMBER_BYTES,
    "session_total_bytes": SESSION_TOTAL_BYTES, "session_members": SESSION_MEMBERS,
    "json_bytes": JSON_BYTES, "json_depth": JSON_DEPTH, "array_elements": ARRAY_ELEMENTS,
}

#: The RunConfig fields limited by a Limit above (field name -> Limit).
CONFIG_LIMITS: Dict[str, Limit] = {
    "hidden_size": HIDDEN_SIZE, "seq_length": SEQ_LENGTH, "seed": SEED,
    "init_scale": INIT_SCALE, "lr": LR, "clip_value": CLIP_VALUE, "delay": DELAY,
    "symbols": SYMBOLS, "wordvec_dim": WORDVEC_DIM, "batch_size": BATCH_SIZE,
}

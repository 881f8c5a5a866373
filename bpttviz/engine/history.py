"""The training history: per-iteration records kept as float64 arrays, bounded in memory.

:class:`Series` is a growable float64 array; :class:`History` holds the four series training
records and compacts them (neighbouring entries merged in pairs) when it fills, so an hour of
fast training keeps a bounded history.  ``history_table`` is its table (``loss_history.csv``)
and ``check_history_state`` validates a loaded one.
"""
from __future__ import annotations

from typing import Dict, Iterator, Optional

import numpy as np

from . import limits as L
from .checks import finite as _finite, is_int as _is_int, real_array as _real_array

HISTORY_FIELDS = ("loss", "smooth_loss", "grad_norm_before_clip", "grad_norm_after_clip")


class Series:
    """A growable float64 array (amortised doubling): ``append``, ``extend``, ``len``,
    indexing and slicing (slices are copies), iteration, ``np.asarray(series)``.

    Live training appends one value per iteration; as a Python list that cost ~550 B per
    iteration for the four series, as an array it is 32 B.
    """

    __slots__ = ("_buf", "_n")
    __hash__ = None

    def __init__(self, values=()):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        self._buf = np.empty(max(256, values.size), dtype=np.float64)
        self._buf[:values.size] = values
        self._n = values.size

    def _reserve(self, n: int):
        if n > self._buf.size:
            new = np.empty(max(2 * self._buf.size, n), dtype=np.float64)
            new[:self._n] = self._buf[:self._n]
            self._buf = new

    def append(self, value: float) -> None:
        if self._n == self._buf.size:
            self._reserve(self._n + 1)
        self._buf[self._n] = value
        self._n += 1

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        self._reserve(self._n + values.size)
        self._buf[self._n:self._n + values.size] = values
        self._n += values.size

    @property
    def values(self) -> np.ndarray:
        """(len,) read-only view of the values."""
        v = self._buf[:self._n]
        v.flags.writeable = False
        return v

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __getitem__(self, index):
        out = self._buf[:self._n][index]
        return out.copy() if isinstance(out, np.ndarray) else float(out)

    def __iter__(self) -> Iterator[float]:
        return iter(self._buf[:self._n].tolist())

    def __array__(self, dtype=None, copy=None):
        out = self._buf[:self._n]
        if copy is False and (dtype is None or np.dtype(dtype) == out.dtype):
            return out  # a view, as asked (append-only: entries before len never change)
        return out.astype(dtype) if dtype is not None else out.copy()

    def __eq__(self, other) -> bool:
        try:
            return bool(np.array_equal(self._buf[:self._n], np.asarray(other, dtype=float)))
        except (TypeError, ValueError):
            return NotImplemented

    def tolist(self):
        return self._buf[:self._n].tolist()

    def __repr__(self) -> str:
        return f"Series({self._n} values)"


class History:
    """Per-iteration records, one entry per update while they fit, as :class:`Series`
    (float64 arrays): ``loss``, ``smooth_loss``, ``grad_norm_before_clip``,
    ``grad_norm_after_clip``.

    Memory is bounded: when ``capacity`` entries (``limits.HISTORY_POINTS``) are held, the
    history is **compacted**: neighbouring entries are merged in pairs and ``stride`` (the
    iterations each entry stands for) doubles.  A merged entry holds the *mean* loss and
    gradient norms of its iterations and the smoothed loss at its *last* iteration (the smoothed
    loss is already an average).  While ``stride > 1`` new iterations are averaged in a pending
    block and become one entry when ``stride`` of them are in; entry ``i`` covers iterations
    ``i*stride .. (i+1)*stride - 1`` of the history.  Entries are never changed in place:
    compaction replaces the four Series (so a receiver holding the old ones, or an index
    into them, sees the ``stride`` change).
    """

    __slots__ = ("loss", "smooth_loss", "grad_norm_before_clip", "grad_norm_after_clip",
                 "stride", "capacity", "_pending")
    _MEAN = ("loss", "grad_norm_before_clip", "grad_norm_after_clip")

    def __init__(self, loss=(), smooth_loss=(), grad_norm_before_clip=(),
                 grad_norm_after_clip=(), stride: int = 1, pending=None,
                 capacity: Optional[int] = None):
        self.loss, self.smooth_loss = Series(loss), Series(smooth_loss)
        self.grad_norm_before_clip = Series(grad_norm_before_clip)
        self.grad_norm_after_clip = Series(grad_norm_after_clip)
        cap = int(L.HISTORY_POINTS.high if capacity is None else capacity)
        if cap < 2 or cap % 2:
            raise ValueError(f"the history capacity must be an even number >= 2; got {cap}")
        if not _is_int(stride) or stride < 1:
            raise ValueError(f"the history stride must be a whole number >= 1; got {stride!r}")
        self.capacity, self.stride = cap, int(stride)
        #: [count, mean loss, last smoothed loss, mean norm before clipping, ... after]
        self._pending = np.zeros(5) if pending is None else np.array(pending, dtype=float)
        while len(self.loss) >= self.capacity:
            self.compact()

    # --- recording --------------------------------------------------------------------------
    def record(self, loss: float, smooth_loss: float, before: float, after: float) -> None:
        if self.stride == 1:
            self.loss.append(loss)
            self.smooth_loss.append(smooth_loss)
            self.grad_norm_before_clip.append(before)
            self.grad_norm_after_clip.append(after)
        else:
            p = self._pending  # running means: a sum of large norms could overflow
            p[0] += 1
            w = 1.0 / p[0]
            p[1] += (loss - p[1]) * w
            p[2] = smooth_loss
            p[3] += (before - p[3]) * w
            p[4] += (after - p[4]) * w
            if p[0] < self.stride:
                return
            self.loss.append(p[1])
            self.smooth_loss.append(p[2])
            self.grad_norm_before_clip.append(p[3])
            self.grad_norm_after_clip.append(p[4])
            self._pending = np.zeros(5)
        if len(self.loss) >= self.capacity:
            self.compact()

    def compact(self) -> None:
        """Merge neighbouring entries in pairs and double ``stride`` (an odd last entry
        becomes the pending block)."""
        n = len(self.loss)
        m = n // 2
        arrays = self.arrays()
        merged = {}
        for k, v in arrays.items():  # halves first: the sum of two large norms overflows
            merged[k] = v[1:2 * m:2].copy() if k == "smooth_loss" else \
                v[0:2 * m:2] / 2 + v[1:2 * m:2] / 2
        pending = np.zeros(5)
        if n % 2:  # one entry of `stride` iterations: the start of a block of 2*stride
            pending = np.array([self.stride] + [arrays[k][-1] for k in HISTORY_FIELDS])
        if self._pending[0]:  # an unfinished block of the old stride follows it
            q = self._pending
            w = q[0] / (pending[0] + q[0])
            pending[[1, 3, 4]] += (q[[1, 3, 4]] - pending[[1, 3, 4]]) * w
            pending[2] = q[2]
            pending[0] += q[0]
        for k, v in merged.items():
            setattr(self, k, Series(v))
        self.stride *= 2
        self._pending = pending

    # --- reading ----------------------------------------------------------------------------
    @property
    def pending(self) -> np.ndarray:
        """(5,) copy of the unfinished block: its count of iterations, their mean loss, the
        last smoothed loss, their mean gradient norms before and after clipping (all zero when
        ``stride`` is 1)."""
        return self._pending.copy()

    @property
    def iterations(self) -> int:
        """Iterations recorded: entries x stride, plus the pending block."""
        return len(self.loss) * self.stride + int(self._pending[0])

    def first_iterations(self) -> np.ndarray:
        """(len,) float64: the first iteration (counted from the history's start) of each
        entry."""
        return np.arange(len(self.loss), dtype=float) * self.stride

    def arrays(self) -> Dict[str, np.ndarray]:
        """Field name -> (n,) float64 copy."""
        return {k: np.asarray(getattr(self, k)) for k in HISTORY_FIELDS}

    def state(self) -> dict:
        """The four series (copies) plus ``stride`` and ``pending``: what
        :meth:`from_state` and ``Run.load_state_dict`` take."""
        return dict(self.arrays(), stride=self.stride, pending=self.pending)

    def __deepcopy__(self, memo):
        return History(*(getattr(self, k).values.copy() for k in HISTORY_FIELDS),
                       stride=self.stride, pending=self._pending, capacity=self.capacity)

    def __len__(self) -> int:
        return len(self.loss)

    def __repr__(self) -> str:
        return f"History({len(self)} entries, stride {self.stride})"


#: The columns of the history as a table (``loss_history.csv``): the first iteration of each
#: entry, the four series, and how many iterations the entry averages (1 until compacted).
HISTORY_COLUMNS = ("iteration",) + HISTORY_FIELDS + ("averaged_over",)


def history_table(series: Dict[str, np.ndarray], stride: int) -> np.ndarray:
    """(n, 6) float64 table of a history's entries, columns :data:`HISTORY_COLUMNS`;
    ``series`` maps each of HISTORY_FIELDS to an (n,) array (a shorter one is NaN)."""
    n = len(series["loss"])
    cols = [np.arange(n, dtype=float) * stride]
    for k in HISTORY_FIELDS:
        v = np.asarray(series[k], dtype=float)
        cols.append(v if len(v) == n else np.full(n, np.nan))
    cols.append(np.full(n, float(stride)))
    return np.column_stack(cols)


def check_history_state(history) -> "History":
    """A :class:`History` from a state mapping (the four series, optional ``stride`` and
    ``pending``), every value checked first: ValueError naming the problem."""
    if not isinstance(history, dict) or not set(HISTORY_FIELDS) <= set(history) \
            or not set(history) <= set(HISTORY_FIELDS) | {"stride", "pending"}:
        raise ValueError(f"the history must hold exactly {', '.join(HISTORY_FIELDS)} "
                         "(and optionally stride and pending)")
    series = {k: _real_array(f"history {k}", history[k], None) for k in HISTORY_FIELDS}
    lengths = {v.shape[0] if v.ndim == 1 else -1 for v in series.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise ValueError("the history series are not aligned (each must be 1-D, all equally long)")
    L.HISTORY_LENGTH.check(lengths.pop(), "history length")
    for k, v in series.items():
        _finite(f"history {k}", v)
    stride = history.get("stride", 1)
    if not _is_int(stride) or not 1 <= stride <= L.ITERATION.high:
        raise ValueError(f"the history stride must be a whole number from 1 to "
                         f"{L.ITERATION.high:g}; got {str(stride)[:40]}")
    pending = history.get("pending")
    if pending is not None:
        pending = _real_array("history pending", pending, (5,))
        _finite("history pending", pending)
        if not (0 <= pending[0] < stride and pending[0] == int(pending[0])):
            raise ValueError(f"the history's pending count must be a whole number from 0 to "
                             f"{int(stride) - 1}; got {pending[0]!r}")
    return History(*(series[k] for k in HISTORY_FIELDS), stride=int(stride), pending=pending)

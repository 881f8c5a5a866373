"""Numbers: the CSV tables a panel draws (``Panel.csv_tables()``) and the loss history."""
from __future__ import annotations

import csv
import io
import json
import os
import threading
import weakref
from typing import List, Sequence

import numpy as np

from ..engine.run import HISTORY_COLUMNS as _HISTORY_COLUMNS, HISTORY_FIELDS, history_table
from .pictures import write_bytes

#: Columns that hold timesteps or indices: written as integers, not "10.0".
_INDEX_COLUMNS = {"t", "k", "step", "iteration", "averaged_over", "distance", "input", "target", "index", "unit"}
#: The columns of ``loss_history.csv`` (a panel table with exactly these is that file).
HISTORY_COLUMNS = list(_HISTORY_COLUMNS)


def _cell(v, is_index: bool = False):
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        if is_index and float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def _column_text(values: list, is_index: bool) -> List[str]:
    if is_index:
        arr = np.asarray(values, dtype=float)
        if arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return json.dumps(arr.astype(np.int64).tolist())[1:-1].split(", ")
        return ["" if v != v else (str(int(v)) if float(v).is_integer() else repr(float(v)))
                for v in values]
    # json writes each float with repr (shortest exact round trip), in C: the 100,000-row
    # loss history formats ~5x faster than a Python loop.
    text = json.dumps(values, allow_nan=True)[1:-1]
    if not text:
        return []
    if "N" in text or "I" in text:  # json's NaN / Infinity: blank and inf, on the whole text
        text = text.replace("-Infinity", "-inf").replace("Infinity", "inf").replace("NaN", "")
    return text.split(", ")


def table_csv(columns: Sequence[str], array) -> str:
    """CSV text of a table: a header row then one row per array row, full float precision
    (repr round-trips exactly, so the CSV equals the trace to the last bit)."""
    arr = np.asarray(array)
    if arr.ndim == 1:
        arr = arr[:, None]
    index_cols = [str(c).lower() in _INDEX_COLUMNS for c in columns]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(columns))
    if arr.dtype.kind in "fiub" and arr.size:
        # Column by column (fast for the 100,000-row loss history); same text as per cell.
        num = arr.astype(float) if arr.dtype.kind == "f" else arr
        texts = [(_column_text(col.tolist(), ix) if num.dtype.kind == "f"
                  else [str(int(v)) for v in col.tolist()])
                 for col, ix in zip(num.T, index_cols)]
        out.write("\n".join(map(",".join, zip(*texts))))
        out.write("\n")
        return out.getvalue()
    for row in arr:
        w.writerow([_cell(v, is_index) for v, is_index in zip(row, index_cols)])
    return out.getvalue()


def read_csv_table(path):
    """Read a table written by :func:`table_csv`: ``(columns, float array)`` (blank = NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    cols = rows[0]
    data = np.array([[float(x) if x != "" else np.nan for x in r] for r in rows[1:]], dtype=float)
    return cols, data.reshape(len(rows) - 1, len(cols))


def is_history_table(columns) -> bool:
    return list(columns) == HISTORY_COLUMNS


def save_csv_tables(panel, folder, skip_history: bool = False) -> List[str]:
    """Write every table of a panel as ``<key>.csv`` or ``<key>_<suffix>.csv``. Returns paths.
    ``skip_history``: leave out a table that is the loss history (written once, as
    ``loss_history.csv``)."""
    paths = []
    for suffix, (columns, array) in panel.csv_tables().items():
        if skip_history and is_history_table(columns):
            continue
        name = panel.key + (f"_{suffix}" if suffix else "") + ".csv"
        path = os.path.join(os.fspath(folder), name)
        if is_history_table(columns) and getattr(panel, "session", None) is not None:
            text = history_csv(panel.session).text(array)
        else:
            text = table_csv(columns, array)
        write_bytes(path, text.encode("utf-8"))
        paths.append(path)
    return paths


def history_array(session) -> np.ndarray:
    """The session's history as a table (columns :data:`HISTORY_COLUMNS`)."""
    h = session.history
    return history_table(h.arrays(), h.stride)


#: Rows formatted per call while warming (json.dumps holds the GIL for a whole call: a
#: block this size takes a few ms, so the window's thread is never kept waiting longer).
_BLOCK_ROWS = 8192


def _rows_text(table: np.ndarray) -> str:
    """CSV rows (no header) of history-table rows, in blocks, exactly as :func:`table_csv`."""
    parts = []
    for i in range(0, len(table), _BLOCK_ROWS):
        block = table_csv(HISTORY_COLUMNS, table[i:i + _BLOCK_ROWS])
        parts.append(block[block.index("\n") + 1:])
    return "".join(parts)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


class HistoryCsv:
    """The text of ``loss_history.csv``, formatted as the history grows.

    After a long run the history holds up to half a million entries, and formatting them all
    at full precision takes over a second: export after training would be slower than export
    at its start.  The training worker therefore hands this object the entries it sends the
    window (:meth:`extend`, in the worker's thread: a few dozen rows a signal), and
    :meth:`text` formats only what it has not seen.  Nothing is trusted: :meth:`text`
    compares the rows it formatted, bit for bit, with the history it is asked for, and
    formats from scratch where they differ (another run loaded, the history compacted).
    Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, stride):
        self._stride = stride
        self._tables: List[np.ndarray] = []   # the rows formatted, in the order received
        self._parts: List[str] = []           # their text
        self._rows = 0

    def _append(self, table: np.ndarray):
        if len(table):
            self._tables.append(np.array(table, dtype=float))
            self._parts.append(_rows_text(self._tables[-1]))
            self._rows += len(table)

    def extend(self, entries) -> None:
        """Entries as the training worker sends them (each of HISTORY_FIELDS an array, plus
        "start" and "stride"): formats the new rows.  Entries that do not follow the rows
        already held start the text again from them."""
        start, stride = int(entries["start"]), int(entries["stride"])
        series = {k: np.asarray(entries[k], dtype=float) for k in HISTORY_FIELDS}
        table = history_table(series, stride)
        table[:, 0] += start * stride
        with self._lock:
            if stride != self._stride or start != self._rows:
                if start != 0:
                    self._reset(None)
                    return
                self._reset(stride)
            self._append(table)

    def warm(self, history) -> None:
        """Format what is not yet formatted of a :class:`~bpttviz.engine.run.History` (the
        worker calls this as training starts, so rows recorded before it are ready too)."""
        with self._lock:
            self._catch_up(history_table(history.arrays(), history.stride))

    def text(self, table: np.ndarray) -> str:
        """The whole CSV text (header first) of a history table (columns HISTORY_COLUMNS),
        equal to ``table_csv(HISTORY_COLUMNS, table)``.  A table shorter than the rows held
        but equal to their start (an export while training: the session shows the history
        as training began) is formatted on its own, and the rows held are kept."""
        table = np.asarray(table, dtype=float)
        header = ",".join(HISTORY_COLUMNS) + "\n"
        with self._lock:
            held = self._held()
            if len(table) < self._rows and self._stride == _stride_of(table, self._stride) \
                    and _same_bits(held[:len(table)], table):
                return header + _rows_text(table)
            self._catch_up(table)
            return header + "".join(self._parts)

    # (the lock held)
    def _held(self) -> np.ndarray:
        """The rows formatted so far, as one table (the pieces joined once)."""
        if len(self._tables) > 1:
            self._tables = [np.concatenate(self._tables)]
            self._parts = ["".join(self._parts)]
        return self._tables[0] if self._tables else np.zeros((0, len(HISTORY_COLUMNS)))

    def _catch_up(self, table: np.ndarray) -> None:
        """Make the rows held the text of ``table``: keep them if they are its start (same
        stride, same bits), else start again; then format the rest."""
        stride = _stride_of(table, self._stride)
        if stride != self._stride or self._rows > len(table) \
                or not _same_bits(self._held(), table[:self._rows]):
            self._reset(stride)
        self._append(table[self._rows:])


def _stride_of(table: np.ndarray, default):
    """A history table's stride (its averaged_over column), or ``default`` if it is empty."""
    return int(table[0, -1]) if len(table) else default


_HISTORY_CSV: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_HISTORY_CSV_LOCK = threading.Lock()


def history_csv(session) -> HistoryCsv:
    """The session's :class:`HistoryCsv` (one per session, dropped with it)."""
    with _HISTORY_CSV_LOCK:
        cache = _HISTORY_CSV.get(session)
        if cache is None:
            cache = _HISTORY_CSV[session] = HistoryCsv()
        return cache


def save_loss_history_csv(session, folder) -> str:
    """``loss_history.csv``: per iteration the loss, the smoothed loss and the gradient norm
    before and after clipping, as training recorded them (after a long run, per block of
    ``averaged_over`` iterations: see :class:`~bpttviz.engine.run.History`). Returns the path.
    The rows training already sent are formatted once (:class:`HistoryCsv`)."""
    path = os.path.join(os.fspath(folder), "loss_history.csv")
    text = history_csv(session).text(history_array(session))
    write_bytes(path, text.encode())
    return path

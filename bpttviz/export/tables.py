"""Numbers: the CSV tables a panel draws (``Panel.csv_tables()``) and the loss history."""
from __future__ import annotations

import csv
import io
import json
import os
from typing import List, Sequence

import numpy as np

from ..engine.run import HISTORY_COLUMNS as _HISTORY_COLUMNS, history_table
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
        write_bytes(path, table_csv(columns, array).encode("utf-8"))
        paths.append(path)
    return paths


def history_array(session) -> np.ndarray:
    """The session's history as a table (columns :data:`HISTORY_COLUMNS`)."""
    h = session.history
    return history_table(h.arrays(), h.stride)


def save_loss_history_csv(session, folder) -> str:
    """``loss_history.csv``: per iteration the loss, the smoothed loss and the gradient norm
    before and after clipping, as training recorded them (after a long run, per block of
    ``averaged_over`` iterations: see :class:`~bpttviz.engine.run.History`). Returns the path."""
    path = os.path.join(os.fspath(folder), "loss_history.csv")
    write_bytes(path, table_csv(HISTORY_COLUMNS, history_array(session)).encode())
    return path

"""Per-timestep values of a student's function, captured without changing their code.

Worker side, :class:`Tracer`: ``sys.settrace`` on the functions defined in the student's file.
Their ``for`` loops are found in the source (their header line and body lines).  When a line
event leaves a loop body (back to its header for the next iteration, or out of the loop) the
frame's locals hold that iteration's final values: they are copied, keyed by the loop
variable's value.  So ``dy``, ``dh``, ``dhraw``, ``dhnext`` and the running ``dWxh`` are
recorded per ``t`` whatever order the statements come in.  A function that returns is recorded
with its final locals (``hs``, ``ps`` dicts) keyed by the iteration of the nearest enclosing
student loop, or by the ``context`` the driver sets (cs231n step functions called per step).

Caller side, :func:`loop_steps` and friends pick the records apart by the usual names
(:data:`ALIASES`).  Where nothing is recognised the comparison uses returned values only and
the report says so.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

#: Quantity -> local names students use for it (seed 000, the dinosaur assignment, cs231n).
ALIASES = {
    "h": ("hs", "h", "a", "hidden", "h_states"),
    "p": ("ps", "p", "y_hat", "probs", "yhat", "y_pred", "p_t"),
    "dy": ("dy", "dys", "dlogits", "dscores", "dy_t"),
    "dh": ("dh", "da", "dh_t", "dht", "dh_total"),
    "dhraw": ("dhraw", "daraw", "draw", "dhr", "dtanh", "dz", "dpre", "dhraw_t", "dA", "da_raw"),
    "dhnext": ("dhnext", "da_next", "dh_next", "dhprev", "dh_prev", "dprev_h", "dhnext_t"),
    "Wxh": ("dWxh", "dWax", "dWx", "dU"),
    "Whh": ("dWhh", "dWaa", "dWh", "dW"),
    "Why": ("dWhy", "dWya", "dWy", "dV"),
    "bh": ("dbh", "db", "dba", "db_h"),
    "by": ("dby", "dbo", "db_y"),
}
#: Largest array copied into a record; and the total budget of copied numbers.
MAX_ARRAY = 200_000
MAX_TOTAL = 20_000_000


@dataclass
class LoopInfo:
    header: int
    body: frozenset  # line numbers of the body (nested statements included)
    end: int
    var: Optional[str]  # the loop variable (first name of the target)


@dataclass
class FuncInfo:
    name: str
    loops: List[LoopInfo] = field(default_factory=list)


def function_infos(tree: ast.Module) -> Dict[tuple, FuncInfo]:
    """(name, first line) -> FuncInfo for every function in the tree (methods included)."""
    infos = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            info = FuncInfo(node.name)
            for sub in _walk_own(node):
                if isinstance(sub, (ast.For, ast.While)) and sub.body:
                    names = [n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)] \
                        if isinstance(sub, ast.For) else []
                    end = max(getattr(n, "end_lineno", n.lineno) for n in sub.body)
                    info.loops.append(LoopInfo(sub.lineno, frozenset(range(sub.body[0].lineno,
                                                                           end + 1)),
                                               end, names[0] if names else None))
            infos[(node.name, first)] = info
    return infos


def _walk_own(func):
    """Nodes of a function's body, not descending into nested functions or classes."""
    stack = list(func.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                      ast.Lambda)):
                stack.append(child)


class _Budget(Exception):
    pass


class Tracer:
    """Record loop iterations and returns of the student's functions (see the module doc).

    ``records``: list of dicts ``{"func", "kind": "loop"|"return", "loop": header line,
    "key": loop variable value, "ctx": [func, loop, key] or None, "values": {name: copy}}``.
    ``failed``: why tracing stopped early, or None.
    """

    def __init__(self, filename: str, tree: ast.Module):
        self.filename = filename
        self.infos = function_infos(tree)
        self.records: List[dict] = []
        self.context = None  # set by a driver that calls a student function per step
        self.failed: Optional[str] = None
        self._stack: List[list] = []  # [frame, FuncInfo, prev line, ctx]
        self._total = 0

    def __enter__(self):
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc):
        sys.settrace(None)
        return False

    # --- tracing ------------------------------------------------------------------------
    def _global(self, frame, event, arg):
        if self.failed or event != "call" or frame.f_code.co_filename != self.filename:
            return None
        info = self.infos.get((frame.f_code.co_name, frame.f_code.co_firstlineno))
        if info is None:
            return None
        try:
            ctx = self._context()
        except Exception as e:  # noqa: BLE001 -- never break the student's run
            self._fail(e)
            return None
        self._stack.append([frame, info, None, ctx])
        return self._local

    def _context(self):
        """The innermost enclosing student loop iteration, else the driver's context."""
        for frame, info, _, _ in reversed(self._stack):
            line = frame.f_lineno
            for loop in info.loops:
                if line in loop.body and loop.var is not None:
                    key = frame.f_locals.get(loop.var)
                    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                        return [info.name, loop.header, int(key)]
        return None if self.context is None else ["driver", 0, int(self.context)]

    def _local(self, frame, event, arg):
        if self.failed:
            return None
        try:
            entry = self._stack[-1] if self._stack and self._stack[-1][0] is frame else None
            if entry is None:
                return self._local
            info, prev = entry[1], entry[2]
            line = frame.f_lineno if event == "line" else None
            if event in ("line", "return") and prev is not None:
                for loop in info.loops:
                    if prev in loop.body and (line is None or line == loop.header
                                              or not (loop.header <= line <= loop.end)):
                        self._snapshot_loop(frame, info, loop)
            if event == "line":
                entry[2] = line
            elif event == "return":
                self._record(info.name, "return", None, None, entry[3], frame.f_locals, None)
                self._stack.pop()
        except _Budget:
            self.failed = "the captured values grew too large; only returned values compared"
        except Exception as e:  # noqa: BLE001 -- never break the student's run
            self._fail(e)
        return self._local

    def _fail(self, e):
        self.failed = f"tracing failed ({type(e).__name__}: {e})"

    def _snapshot_loop(self, frame, info, loop):
        key = frame.f_locals.get(loop.var) if loop.var else None
        if not isinstance(key, (int, np.integer)) or isinstance(key, bool):
            return
        ctx = self._stack[-1][3]
        self._record(info.name, "loop", loop.header, int(key), ctx, frame.f_locals, int(key))

    def _record(self, func, kind, loop, key, ctx, f_locals, only_key):
        values = {}
        for name, v in list(f_locals.items()):
            c = self._copy(v, only_key)
            if c is not None:
                values[name] = c
        self.records.append({"func": func, "kind": kind, "loop": loop, "key": key, "ctx": ctx,
                             "values": values})

    def _copy(self, v, only_key, depth=0):
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in "fiub" or v.size > MAX_ARRAY:
                return None
            self._total += v.size
            if self._total > MAX_TOTAL:
                raise _Budget()
            return v.copy()
        if isinstance(v, (bool, int, float, np.floating, np.integer)):
            return v.item() if isinstance(v, np.generic) else v
        if isinstance(v, list) and depth == 0 and only_key is None and v and \
                all(isinstance(item, np.ndarray) for item in v):
            return [self._copy(item, None, depth + 1) for item in v]  # hs.append(...) style
        if isinstance(v, dict) and depth == 0:
            out = {}
            for k, item in list(v.items()):
                if not isinstance(k, (str, int, np.integer)) or isinstance(k, bool):
                    continue
                # In a loop snapshot an int-keyed dict (hs, ps) contributes only entry t.
                if only_key is not None and not isinstance(k, str) and int(k) != only_key:
                    continue
                c = self._copy(item, None, depth + 1)
                if c is not None:
                    out[k if isinstance(k, str) else int(k)] = c
            return out
        return None


# --- reading records (caller side) -------------------------------------------------------
def find_all(values: dict, quantity: str, size: Optional[int] = None) -> List[tuple]:
    """Every local that may hold ``quantity``: its aliases among ``values`` (top-level names,
    then the string keys of dict locals such as the dinosaur ``gradients``), as ``(name,
    array)`` in alias order.  With ``size``, only arrays of that many numbers count."""
    names, out = ALIASES[quantity], []
    for name in names:
        v = values.get(name)
        if isinstance(v, np.ndarray) and (size is None or v.size == size):
            out.append((name, v))
    for dname, d in values.items():
        if isinstance(d, dict):
            for name in names:
                v = d.get(name)
                if isinstance(v, np.ndarray) and (size is None or v.size == size):
                    out.append((f"{dname}[{name!r}]", v))
    return out


def find(values: dict, quantity: str, size: Optional[int] = None):
    """The first of :func:`find_all`, or None."""
    found = find_all(values, quantity, size)
    return found[0] if found else None


def loops_of(records: List[dict], func: str) -> Dict[int, List[dict]]:
    """Loop header line -> that loop's iteration records (in the order they ran)."""
    out: Dict[int, List[dict]] = {}
    for r in records:
        if r["func"] == func and r["kind"] == "loop":
            out.setdefault(r["loop"], []).append(r)
    return out


def time_loop(records: List[dict], func: str, T: int, backward: bool) -> Optional[Dict[int, dict]]:
    """t -> values of the loop of ``func`` that ran over t = 0..T-1 in forward (or backward)
    order, the last record of each t; None if there is no such loop."""
    for _, recs in sorted(loops_of(records, func).items()):
        keys = [r["key"] for r in recs]
        if sorted(set(keys)) != list(range(T)):
            continue
        firsts = list(dict.fromkeys(keys))
        if firsts == (list(range(T - 1, -1, -1)) if backward else list(range(T))) or T == 1:
            return {r["key"]: r["values"] for r in recs}
    return None


def returns_of(records: List[dict], func: str) -> List[dict]:
    return [r for r in records if r["func"] == func and r["kind"] == "return"]


def calls_by_step(records: List[dict], func: str) -> Dict[int, dict]:
    """t -> final locals of the call of ``func`` made during step t (the enclosing student
    loop's iteration, or the driver's step), the last such call per t."""
    out = {}
    for r in returns_of(records, func):
        if r["ctx"] is not None:
            out[r["ctx"][2]] = r["values"]
    return out


def int_dict(values: dict, quantity: str, T: int, size: int):
    """A dict local holding t -> array for t = 0..T-1 (hs, ps), as ``(name, [arrays])``."""
    for name in ALIASES[quantity]:
        d = values.get(name)
        if isinstance(d, list) and len(d) in (T, T + 1) and all(
                isinstance(a, np.ndarray) and a.size == size for a in d):
            return name, d[len(d) - T:]  # a list with the initial state first drops it
        if isinstance(d, dict) and all(isinstance(d.get(t), np.ndarray) and d[t].size == size
                                       for t in range(T)):
            return name, [d[t] for t in range(T)]
    return None

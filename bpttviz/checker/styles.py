"""The three styles of student BPTT code the checker understands, and how each is called.

* ``minchar``: min-char-rnn's ``lossFun(inputs, targets, hprev)`` (seed 000). It reads the
  module-level weights ``Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1)`` (column
  vectors) and ``vocab_size``; returns ``loss, dWxh, dWhh, dWhy, dbh, dby, hprev``.
* ``dinos``: the dinosaur assignment's ``rnn_forward(X, Y, a0, parameters, vocab_size)`` ->
  ``loss, cache`` with ``cache = (y_hat, a, x)`` dicts over t, and ``rnn_backward(X, Y,
  parameters, cache)`` -> ``gradients, a`` with ``gradients`` holding ``dWax (H, V), dWaa (H, H),
  dWya (V, H), db (H, 1), dby (V, 1), da_next (H, 1)``; optionally ``clip(gradients, maxValue)``.
  ``X[0]`` is ``None`` (the zero vector), as in the assignment.
* ``cs231n``: ``rnn_step_forward(x, prev_h, Wx, Wh, b)`` -> ``next_h, cache`` and
  ``rnn_step_backward(dnext_h, cache)`` -> ``dx, dprev_h, dWx, dWh, db`` (row vectors, a
  minibatch of N); and/or ``lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)`` -> ``next_h,
  next_c, cache`` and ``lstm_step_backward(dnext_h, dnext_c, cache)`` -> ``dx, dprev_h,
  dprev_c, dWx, dWh, db``; the whole-sequence ``rnn_forward/rnn_backward`` (and ``lstm_*``)
  are checked too where present.

This module is imported by the worker process: numpy and the standard library only.  The
``drive_*`` functions run there; everything else (detection, the safe subset of a file) runs in
the caller too.
"""
from __future__ import annotations

import ast
import copy
import inspect
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

STYLES = ("minchar", "dinos", "cs231n")
STYLE_TITLES = {"minchar": "min-char-rnn lossFun", "dinos": "dinosaur assignment rnn_forward/"
                "rnn_backward", "cs231n": "cs231n step functions"}
#: What each style looks for, as said in "no recognised function" messages.
LOOKED_FOR = ("lossFun(inputs, targets, hprev) (min-char-rnn), rnn_forward(X, Y, a0, parameters) "
              "with rnn_backward(X, Y, parameters, cache) (dinosaur assignment), or "
              "rnn_step_forward/rnn_step_backward or lstm_step_forward/lstm_step_backward "
              "(cs231n)")
#: Names the cs231n style can use; in the order they are run.
CS231N_FUNCS = ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward")
#: How many values each function returns, and their names (for "wrong arity" messages).
RETURNS = {
    "lossFun": ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "hprev"),
    "dinos.rnn_forward": ("loss", "cache"),
    "dinos.rnn_backward": ("gradients", "a"),
    "rnn_step_forward": ("next_h", "cache"),
    "rnn_step_backward": ("dx", "dprev_h", "dWx", "dWh", "db"),
    "rnn_forward": ("h", "cache"),
    "rnn_backward": ("dx", "dh0", "dWx", "dWh", "db"),
    "lstm_step_forward": ("next_h", "next_c", "cache"),
    "lstm_step_backward": ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
    "lstm_forward": ("h", "cache"),
    "lstm_backward": ("dx", "dh0", "dWx", "dWh", "db"),
}
#: Top-level statements kept from a student's file (a training loop at module level, file
#: reads and prints are not run: bpttviz sets the weights itself).
_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


class DriverError(Exception):
    """The student's function returned something the style cannot use (arity, shape)."""


@dataclass
class SourceInfo:
    """What parsing a student's source found (nothing is executed).

    functions: name -> list of its parameter names (top-level functions only).
    skipped: line numbers of top-level statements that will not be run.
    """

    filename: str
    source: str
    tree: ast.Module
    functions: Dict[str, List[str]] = field(default_factory=dict)
    skipped: List[int] = field(default_factory=list)


def parse_source(source: str, filename: str) -> SourceInfo:
    """Parse; SyntaxError propagates (with its ``lineno``)."""
    tree = ast.parse(source, filename=filename)
    info = SourceInfo(filename=filename, source=source, tree=tree)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            info.functions[node.name] = [p.arg for p in a.posonlyargs + a.args]
        if not _keep(node):
            info.skipped.append(node.lineno)
    return info


def _keep(node) -> bool:
    if isinstance(node, _KEPT):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        # Plain constants (sizes, learning rates) and lambdas; not reads of data files.
        if isinstance(node.value, ast.Lambda):
            return True
        try:
            ast.literal_eval(node.value)
            return True
        except (ValueError, SyntaxError, TypeError):
            return False
    return False


def runnable_code(info: SourceInfo):
    """The file's imports, definitions and constant assignments, compiled with the file's own
    line numbers (so errors point at the student's lines)."""
    body = [n for n in info.tree.body if _keep(n)]
    return compile(ast.Module(body=body, type_ignores=[]), info.filename, "exec")


def detect_style(functions: Dict[str, List[str]]) -> Optional[str]:
    """The style a set of top-level functions (name -> parameter names) is written in."""
    if "lossFun" in functions and len(functions["lossFun"]) >= 3:
        return "minchar"
    if is_dinos(functions):
        return "dinos"
    if cs231n_cells(functions):
        return "cs231n"
    return None


def is_dinos(functions) -> bool:
    fw, bw = functions.get("rnn_forward"), functions.get("rnn_backward")
    return fw is not None and bw is not None and (len(bw) >= 4 or "parameters" in fw)


def cs231n_cells(functions) -> List[str]:
    """The cells whose cs231n step-function pair is present (``rnn``, ``lstm``)."""
    cells = []
    if "rnn_step_forward" in functions and "rnn_step_backward" in functions and \
            "parameters" not in functions["rnn_step_forward"]:
        cells.append("rnn")
    if "lstm_step_forward" in functions and "lstm_step_backward" in functions:
        cells.append("lstm")
    return cells


def missing_for(style: str, functions) -> Optional[str]:
    """None if ``functions`` has what ``style`` needs, else what is missing (for --style)."""
    if style == "minchar":
        return None if "lossFun" in functions else "lossFun(inputs, targets, hprev)"
    if style == "dinos":
        need = [n for n in ("rnn_forward", "rnn_backward") if n not in functions]
        return " and ".join(need) or None
    return None if cs231n_cells(functions) else ("rnn_step_forward and rnn_step_backward (or "
                                                 "lstm_step_forward and lstm_step_backward)")


# --- calling the student's functions (in the worker) -------------------------------------
def _values(name: str, result, key: Optional[str] = None):
    """``result`` as a tuple of the style's arity for ``name``, else DriverError."""
    key = key or name
    want = RETURNS[key]
    if not isinstance(result, (tuple, list)) or len(result) != len(want):
        got = (f"{len(result)} values" if isinstance(result, (tuple, list))
               else f"a single {type(result).__name__}")
        raise DriverError(f"{name} returned {got}; it must return {len(want)}: {', '.join(want)}")
    return tuple(result)


def _array(name: str, what: str, value, shape) -> np.ndarray:
    arr = np.asarray(value) if isinstance(value, (np.ndarray, list, float, int)) else None
    if arr is None or arr.dtype.kind not in "fiu" or arr.shape != tuple(shape):
        got = (f"shape {arr.shape}" if arr is not None and arr.dtype.kind in "fiu"
               else f"a {type(value).__name__}")
        raise DriverError(f"{name} returned {what} with {got}; it must have shape {tuple(shape)}")
    return arr


def drive_minchar(ns: dict, arrays: dict, tracer) -> dict:
    """Set min-char-rnn's globals, call ``lossFun`` once. Returns {"lossFun": result}."""
    V, H = arrays["Why"].shape
    ns.update({k: arrays[k].copy() for k in ("Wxh", "Whh", "Why", "bh", "by")})
    ns.update(vocab_size=V, hidden_size=H, seq_length=int(arrays["inputs"].size),
              learning_rate=0.1)
    ns.setdefault("xrange", range)  # seed 000 is Python 2
    inputs = [int(i) for i in arrays["inputs"]]
    targets = [int(i) for i in arrays["targets"]]
    hprev = arrays["h0"].reshape(H, 1).copy()
    result = ns["lossFun"](inputs, targets, hprev)
    return {"lossFun": list(_values("lossFun", result))}


def _dinos_params(arrays):
    return {"Wax": arrays["Wxh"].copy(), "Waa": arrays["Whh"].copy(), "Wya": arrays["Why"].copy(),
            "b": arrays["bh"].copy(), "by": arrays["by"].copy()}


def _softmax(x):
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def _dinos_step_forward(parameters, a_prev, x):
    a_next = np.tanh(parameters["Wax"] @ x + parameters["Waa"] @ a_prev + parameters["b"])
    return a_next, _softmax(parameters["Wya"] @ a_next + parameters["by"])


def _dinos_step_backward(dy, gradients, parameters, x, a, a_prev):
    gradients["dWya"] += dy @ a.T
    gradients["dby"] += dy
    da = parameters["Wya"].T @ dy + gradients["da_next"]
    daraw = (1 - a * a) * da
    gradients["db"] += daraw
    gradients["dWax"] += daraw @ x.T
    gradients["dWaa"] += daraw @ a_prev.T
    gradients["da_next"] = parameters["Waa"].T @ daraw
    return gradients


def dinos_utils_module():
    """A stand-in for the assignment's ``utils`` (softmax and the step functions), for a file
    that does ``from utils import *`` without the assignment's utils.py next to it."""
    import types
    mod = types.ModuleType("utils")
    mod.np = np
    mod.softmax = _softmax
    mod.rnn_step_forward = _dinos_step_forward
    mod.rnn_step_backward = _dinos_step_backward
    return mod


def drive_dinos(ns: dict, arrays: dict, tracer) -> dict:
    """rnn_forward, rnn_backward and (if defined) clip(gradients, 5), as the assignment's
    optimize() calls them.  X[0] is None (the zero vector)."""
    V, H = arrays["Why"].shape
    ns.setdefault("softmax", _softmax)  # the assignment's utils.softmax
    X = [None if i < 0 else int(i) for i in arrays["inputs"]]
    Y = [int(i) for i in arrays["targets"]]
    a0 = arrays["h0"].reshape(H, 1).copy()
    fw = ns["rnn_forward"]
    try:
        takes_vocab = len(inspect.signature(fw).parameters) >= 5
    except (TypeError, ValueError):
        takes_vocab = False
    args = (X, Y, a0, _dinos_params(arrays)) + ((V,) if takes_vocab else ())
    loss, cache = _values("rnn_forward", fw(*args), "dinos.rnn_forward")
    gradients, a = _values("rnn_backward", ns["rnn_backward"](X, Y, _dinos_params(arrays), cache),
                           "dinos.rnn_backward")
    if not isinstance(gradients, dict):
        raise DriverError(f"rnn_backward returned gradients as a {type(gradients).__name__}; it "
                          "must be a dict with dWax, dWaa, dWya, db, dby")
    out = {"rnn_forward": [loss, cache], "rnn_backward": [gradients, a]}
    if callable(ns.get("clip")):
        try:
            clipped = ns["clip"](copy.deepcopy(gradients), 5)
        except TypeError:
            clipped = None  # a clip() with another signature is not the assignment's
        if clipped is not None:
            out["clip"] = clipped
    return out


def drive_cs231n(ns: dict, arrays: dict, tracer) -> dict:
    """Run the step functions over N sequences of T steps (upstream gradients ``dh_up`` given),
    feeding each step the student's own previous state and gradient, then the whole-sequence
    functions if present.  Returns name -> list of per-step results (or one result)."""
    out = {}
    x, h0 = arrays["x"], arrays["h0"]
    N, T, D = x.shape
    for cell in arrays["cells"].tolist():
        Wx, Wh, b, dh_up = (arrays[f"{cell}_{k}"] for k in ("Wx", "Wh", "b", "dh_up"))
        H = h0.shape[1]
        lstm = cell == "lstm"
        fwd, bwd = ns[f"{cell}_step_forward"], ns[f"{cell}_step_backward"]
        prev_h, prev_c = h0.copy(), np.zeros((N, H))
        caches, steps = [], []
        for t in range(T):
            tracer.context = t
            args = (x[:, t, :].copy(), prev_h, prev_c) if lstm else (x[:, t, :].copy(), prev_h)
            r = _values(fwd.__name__, fwd(*args, Wx.copy(), Wh.copy(), b.copy()),
                        f"{cell}_step_forward")
            prev_h = _array(f"{cell}_step_forward", "next_h", r[0], (N, H))
            if lstm:
                prev_c = _array(f"{cell}_step_forward", "next_c", r[1], (N, H))
            caches.append(r[-1])
            steps.append(list(r[:-1]))
        out[f"{cell}_step_forward"] = steps
        dprev_h, dprev_c, steps = np.zeros((N, H)), np.zeros((N, H)), {}
        for t in reversed(range(T)):
            tracer.context = t
            dnext = dh_up[:, t, :] + dprev_h
            args = (dnext.copy(), dprev_c.copy(), caches[t]) if lstm else (dnext.copy(), caches[t])
            r = _values(bwd.__name__, bwd(*args), f"{cell}_step_backward")
            dprev_h = _array(f"{cell}_step_backward", "dprev_h", r[1], (N, H))
            if lstm:
                dprev_c = _array(f"{cell}_step_backward", "dprev_c", r[2], (N, H))
            steps[t] = list(r)
        tracer.context = None
        out[f"{cell}_step_backward"] = [steps[t] for t in range(T)]
        sf, sb = ns.get(f"{cell}_forward"), ns.get(f"{cell}_backward")
        if callable(sf) and callable(sb):
            h, cache = _values(f"{cell}_forward", sf(x.copy(), h0.copy(), Wx.copy(), Wh.copy(),
                                                     b.copy()), f"{cell}_forward")
            _array(f"{cell}_forward", "h", h, (N, T, H))
            out[f"{cell}_forward"] = [h]
            out[f"{cell}_backward"] = list(_values(f"{cell}_backward", sb(dh_up.copy(), cache),
                                                   f"{cell}_backward"))
    return out


DRIVERS = {"minchar": drive_minchar, "dinos": drive_dinos, "cs231n": drive_cs231n}

"""What the student's run produced, as observations to compare with a reference.

An :class:`Obs` is one quantity at one timestep (or one weight gradient): the student's value
and a function giving the same quantity from a *reference*, which is ``{cell: [Trace per
sequence]}`` -- the engine's traces, or a candidate bug's.  So the same observations are
compared with the correct engine and with every candidate bug.  :func:`observe` builds them
for a style from a :class:`~bpttviz.checker.sandbox.SandboxResult`; a return value of the wrong
shape raises :class:`Unusable` with a one-line message.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from . import capture as cap
from .sandbox import Unsupported

PHASES = ("forward", "loss", "backward", "weights", "clipped")
QUANTITY_ORDER = ("h", "c", "p", "loss", "h_last", "dy", "dh", "dhraw", "dx", "dhnext", "dcnext")
GRAD = {"Wxh": "dWxh", "Whh": "dWhh", "Why": "dWhy", "bh": "dbh", "by": "dby"}
DINOS_GRAD = {"Wxh": "dWax", "Whh": "dWaa", "Why": "dWya", "bh": "db", "by": "dby"}
CS_GRAD = {"Wxh": "dWx", "Whh": "dWh", "bh": "db"}


class Unusable(Exception):
    """The student's code ran but returned something the check cannot use (one line)."""


@dataclass
class Obs:
    section: str
    quantity: str  # canonical name (h, p, dy, ..., dWxh, clipped dWxh)
    t: Optional[int]
    student: np.ndarray
    expected: Callable  # reference -> array
    name: str  # what the student calls it
    phase: str
    steps: Optional[Dict[int, np.ndarray]] = None  # weight rows: per-step student values
    step_expected: Optional[Callable] = None  # (reference, t) -> array
    param: Optional[str] = None  # engine parameter name of a weight row
    #: Other locals that may hold the same quantity ((name, array) pairs): e.g. a loop that
    #: keeps the *received* gradient in ``dhnext`` and the one it sends in ``dh_prev``.
    alternatives: List[tuple] = field(default_factory=list)


@dataclass
class Observed:
    obs: List[Obs] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    forward_captured: bool = False
    backward_captured: bool = False
    #: t -> student dhnext_t (first sequence, flat) where captured.
    dhnext: Dict[int, np.ndarray] = field(default_factory=dict)


def _num(x) -> Optional[float]:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, np.ndarray) and x.size == 1 and x.dtype.kind in "fiu":
        return float(x.reshape(-1)[0])
    return None


def _arr(func: str, what: str, v, shape) -> np.ndarray:
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "fiu" or v.shape != tuple(shape):
        got = f"with shape {v.shape}" if isinstance(v, np.ndarray) else f"as {_what(v)}"
        raise Unusable(f"{func} returned {what} {got}; it must have shape {tuple(shape)}")
    return v.astype(float)


def _stack(ref, cell, fn):
    return np.stack([fn(tr) for tr in ref[cell]])


def source_clips(tree: ast.Module, func: str) -> bool:
    """Whether function ``func`` calls something named ``clip`` (np.clip, x.clip, clip)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    f = sub.func
                    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                    if "clip" in name:
                        return True
    return False


# --- min-char-rnn and the dinosaur assignment (one sequence, column vectors) -------------
def _forward_obs(out: Observed, ret_values: Optional[dict], T, H, V, fallback_dicts=()):
    hs = ps = None
    if ret_values is not None:
        hs, ps = cap.int_dict(ret_values, "h", T, H), cap.int_dict(ret_values, "p", T, V)
    for d in fallback_dicts:  # e.g. the dinosaur cache (y_hat, a, x)
        if not isinstance(d, dict):
            continue
        items = [d.get(t) for t in range(T)]
        if not all(isinstance(a, np.ndarray) for a in items):
            continue
        if hs is None and -1 in d and all(a.size == H for a in items):
            hs = ("cache", items)
        elif ps is None and all(a.size == V and abs(a.sum() - 1) < 1e-6 for a in items):
            ps = ("cache", items)
    for what, found in (("h", hs), ("p", ps)):
        if found is None:
            out.notes.append(f"{what}_t not captured (no dict named "
                             f"{', '.join(cap.ALIASES[what][:3])} over t)")
            continue
        out.forward_captured = True
        name, arrs = found
        for t, a in enumerate(arrs):
            out.obs.append(Obs("", what, t, a.reshape(-1).astype(float),
                               (lambda ref, t=t, w=what: ref["rnn"][0].h[t] if w == "h"
                                else ref["rnn"][0].p[t]), f"{name}[{t}]", "forward"))


def _backward_obs(out: Observed, loop: Optional[Dict[int, dict]], calls: Dict[int, dict], T, H, V,
                  func: str):
    if loop is None:
        out.notes.append(f"the backward loop of {func} was not found (a for loop over t = T-1 "
                         "down to 0): per-step gradients not compared")
        return
    sizes = {"dy": V, "dh": H, "dhraw": H, "dhnext": H}
    missing = set()
    for t in reversed(range(T)):
        merged = dict(calls.get(t, {}))
        merged.update(loop.get(t, {}))
        for q, size in sizes.items():
            found = cap.find_all(merged, q, size)
            if not found:
                missing.add(q)
                continue
            out.backward_captured = True
            name, a = found[0]
            field_ = {"dhraw": "dax"}.get(q, q)
            out.obs.append(Obs("", q, t, a.reshape(-1).astype(float),
                               (lambda ref, t=t, f=field_: getattr(ref["rnn"][0], f)[t]),
                               name, "backward",
                               alternatives=[(n, v.reshape(-1).astype(float)) for n, v in found[1:]]))
            if q == "dhnext":
                out.dhnext[t] = a.reshape(-1).astype(float)
    for q in sorted(missing, key=QUANTITY_ORDER.index):
        out.notes.append(f"{q} not captured at every step (looked for "
                         f"{', '.join(cap.ALIASES[q][:4])})")


def _weight_obs(out, names, returned, loop, shapes, clipped_returned: bool):
    """Weight rows: the raw gradient (captured after the backward loop, with its running sums
    per step) and, when the function clips, the returned clipped one."""
    for p, sname in names.items():
        size = int(np.prod(shapes[p]))
        steps = None
        if loop is not None:
            steps = {}
            for t, v in loop.items():
                found = cap.find(v, p, size)
                if found is not None:
                    steps[t] = found[1].reshape(shapes[p]).astype(float)
            steps = steps if len(steps) == len(loop) else None
        raw = (steps[0] if steps else None) if clipped_returned else returned[p]
        if raw is not None:
            out.obs.append(Obs("", sname, None, raw, (lambda ref, p=p: ref["rnn"][0].grads_raw[p]),
                               sname, "weights", steps=steps,
                               step_expected=(lambda ref, t, p=p: ref["rnn"][0].accumulated_grad(p, t)),
                               param=p))
        elif clipped_returned:
            out.notes.append(f"the raw {sname} (before clipping) was not captured: only the "
                             "clipped one is compared")
        if clipped_returned:
            out.obs.append(Obs("", f"clipped {sname}", None, returned[p],
                               (lambda ref, p=p: ref["rnn"][0].grads[p]), sname, "clipped",
                               param=p))


def observe_minchar(res, prob, tree) -> Observed:
    T, H, V = prob.T, prob.H, prob.V
    out = Observed()
    vals = res.values["lossFun"]
    loss = _num(vals[0])
    if loss is None:
        raise Unusable(f"lossFun returned the loss as {_what(vals[0])}; it must be a number")
    shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}
    returned = {p: _arr("lossFun", GRAD[p], vals[i + 1], shapes[p])
                for i, p in enumerate(GRAD)}
    hlast = vals[6]
    if not isinstance(hlast, np.ndarray) or hlast.size != H:
        raise Unusable(f"lossFun returned hprev as {_what(hlast)}; it must be the last hidden "
                       f"state, {H} numbers (shape ({H}, 1))")
    rets = cap.returns_of(res.records, "lossFun")
    _forward_obs(out, rets[-1]["values"] if rets else None, T, H, V)
    out.obs.append(Obs("", "loss", None, np.array([loss]), lambda ref: np.array([ref["rnn"][0].loss]),
                       "loss", "loss"))
    out.obs.append(Obs("", "h_last", None, hlast.reshape(-1).astype(float),
                       lambda ref: ref["rnn"][0].h_last, "hprev (returned)", "loss"))
    loop = cap.time_loop(res.records, "lossFun", T, backward=True)
    calls = _calls_in(res.records, "lossFun")
    _backward_obs(out, loop, calls, T, H, V, "lossFun")
    shapes_flat = {p: shapes[p] for p in shapes}
    _weight_obs(out, GRAD, {p: a.reshape(shapes[p]) for p, a in returned.items()}, loop,
                shapes_flat, source_clips(tree, "lossFun"))
    return out


def _calls_in(records, func) -> Dict[int, dict]:
    """t -> merged final locals of every call made from iteration t of ``func``'s loops."""
    out: Dict[int, dict] = {}
    for r in records:
        if r["kind"] == "return" and r["ctx"] is not None and r["ctx"][0] == func:
            out.setdefault(r["ctx"][2], {}).update(r["values"])
    return out


def observe_dinos(res, prob, tree) -> Observed:
    T, H, V = prob.T, prob.H, prob.V
    out = Observed()
    loss, cache = res.values["rnn_forward"]
    gradients, _ = res.values["rnn_backward"]
    if _num(loss) is None:
        raise Unusable(f"rnn_forward returned the loss as {_what(loss)}; it must be a number")
    shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}
    for key in DINOS_GRAD.values():
        if key not in gradients:
            raise Unusable(f"rnn_backward's gradients have no {key!r}; they need "
                           f"{', '.join(DINOS_GRAD.values())}")
    returned = {p: _arr("rnn_backward", f"gradients[{k!r}]", gradients[k], shapes[p])
                for p, k in DINOS_GRAD.items()}
    rets = cap.returns_of(res.records, "rnn_forward")
    _forward_obs(out, rets[-1]["values"] if rets else None, T, H, V,
                 cache if isinstance(cache, list) else ())
    out.obs.append(Obs("", "loss", None, np.array([_num(loss)]),
                       lambda ref: np.array([ref["rnn"][0].loss]), "loss", "loss"))
    loop = cap.time_loop(res.records, "rnn_backward", T, backward=True)
    _backward_obs(out, loop, _calls_in(res.records, "rnn_backward"), T, H, V, "rnn_backward")
    _weight_obs(out, DINOS_GRAD, returned, loop, shapes, False)
    clipped = res.values.get("clip")
    if isinstance(clipped, dict):
        for p, key in DINOS_GRAD.items():
            if key in clipped:
                a = _arr("clip", f"gradients[{key!r}]", clipped[key], shapes[p])
                out.obs.append(Obs("", f"clipped {key}", None, a,
                                   (lambda ref, p=p: ref["rnn"][0].grads[p]), key, "clipped",
                                   param=p))
    return out


# --- cs231n (row vectors, a minibatch of N sequences) ------------------------------------
def observe_cs231n(res, prob, tree) -> Observed:
    T, H, V = prob.T, prob.H, prob.V
    N = prob.inputs.shape[0]
    out = Observed()
    for cell in prob.cells:
        G = 4 if cell == "lstm" else 1
        sec = cell if len(prob.cells) > 1 else ""
        fw = res.values[f"{cell}_step_forward"]
        for t in range(T):
            out.obs.append(Obs(sec, "h", t, fw[t][0].astype(float),
                               (lambda ref, t=t, c=cell: _stack(ref, c, lambda tr: tr.h[t])),
                               "next_h", "forward"))
            if cell == "lstm":
                out.obs.append(Obs(sec, "c", t, fw[t][1].astype(float),
                                   (lambda ref, t=t, c=cell: _stack(ref, c, lambda tr: tr.c[t])),
                                   "next_c", "forward"))
        out.forward_captured = True
        bw = res.values[f"{cell}_step_backward"]
        fname = f"{cell}_step_backward"
        calls = cap.calls_by_step(res.records, fname)
        shapes = {"dx": (N, V), "dWx": (V, G * H), "dWh": (H, G * H), "db": (G * H,)}
        steps = {k: {} for k in CS_GRAD}
        for t in reversed(range(T)):
            r = bw[t]
            dx = _arr(fname, "dx", r[0], shapes["dx"])
            raw = cap.find(calls.get(t, {}), "dhraw", N * G * H)
            if raw is not None:
                out.backward_captured = True
                out.obs.append(Obs(sec, "dhraw", t, raw[1].reshape(N, G * H).astype(float),
                                   (lambda ref, t=t, c=cell: _stack(ref, c, lambda tr: tr.dax[t])),
                                   raw[0], "backward"))
            out.obs.append(Obs(sec, "dx", t, dx, (lambda ref, t=t, c=cell: _stack(
                ref, c, lambda tr: tr.dax[t] @ tr.params["Wxh"])), "dx", "backward"))
            out.obs.append(Obs(sec, "dhnext", t, r[1].astype(float), (lambda ref, t=t, c=cell: _stack(
                ref, c, lambda tr: tr.dhnext[t])), "dprev_h", "backward"))
            if cell == prob.cells[0]:
                out.dhnext[t] = np.asarray(r[1], dtype=float)[0]
            if cell == "lstm":
                out.obs.append(Obs(sec, "dcnext", t, _arr(fname, "dprev_c", r[2], (N, H)),
                                   (lambda ref, t=t, c=cell: _stack(ref, c, lambda tr: tr.dcnext[t])),
                                   "dprev_c", "backward"))
            k = 3 if cell == "lstm" else 2
            for i, p in enumerate(CS_GRAD):
                steps[p][t] = _arr(fname, CS_GRAD[p], r[k + i], shapes[CS_GRAD[p]])
        if not calls:
            out.notes.append(f"{fname}'s locals not captured: dhraw not compared")
        for p, sname in CS_GRAD.items():
            total = sum(steps[p][t] for t in range(T))
            out.obs.append(Obs(sec, sname, None, total,
                               (lambda ref, p=p, c=cell: sum(tr.grads_raw[p] for tr in ref[c]).T
                                if p != "bh" else sum(tr.grads_raw[p] for tr in ref[c])),
                               sname, "weights", steps=steps[p],
                               step_expected=(lambda ref, t, p=p, c=cell: sum(
                                   tr.step_grad(p, t).T if p != "bh" else tr.step_grad(p, t)
                                   for tr in ref[c])), param=p))
        _sequence_obs(out, res, cell, prob, N, G)
    return out


def _sequence_obs(out, res, cell, prob, N, G):
    """cs231n's whole-sequence functions (rnn_forward/rnn_backward), where present."""
    T, H, V = prob.T, prob.H, prob.V
    if f"{cell}_forward" not in res.values:
        return
    sec = f"{cell}_forward/backward"
    h = res.values[f"{cell}_forward"][0]
    out.obs.append(Obs(sec, "h", None, h.astype(float), (lambda ref, c=cell: _stack(
        ref, c, lambda tr: tr.h)), "h", "forward"))
    fname = f"{cell}_backward"
    dx, dh0, dWx, dWh, db = res.values[fname]
    out.obs.append(Obs(sec, "dx", None, _arr(fname, "dx", dx, (N, T, V)), (lambda ref, c=cell: _stack(
        ref, c, lambda tr: tr.dax @ tr.params["Wxh"])), "dx", "backward"))
    loop = cap.time_loop(res.records, fname, T, backward=True)
    if loop is not None:
        for t in reversed(range(T)):
            found = cap.find(loop[t], "dhnext", N * H)
            if found is not None:
                out.obs.append(Obs(sec, "dhnext", t, found[1].reshape(N, H).astype(float),
                                   (lambda ref, t=t, c=cell: _stack(ref, c, lambda tr: tr.dhnext[t])),
                                   found[0], "backward"))
    out.obs.append(Obs(sec, "dhnext", 0, _arr(fname, "dh0", dh0, (N, H)), (lambda ref, c=cell: _stack(
        ref, c, lambda tr: tr.dhnext[0])), "dh0", "backward"))
    for p, a, shape in (("Wxh", dWx, (V, G * H)), ("Whh", dWh, (H, G * H)), ("bh", db, (G * H,))):
        out.obs.append(Obs(sec, CS_GRAD[p], None, _arr(fname, CS_GRAD[p], a, shape),
                           (lambda ref, p=p, c=cell: sum(tr.grads_raw[p] for tr in ref[c]).T
                            if p != "bh" else sum(tr.grads_raw[p] for tr in ref[c])),
                           CS_GRAD[p], "weights", param=p))


def _what(v) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    if isinstance(v, Unsupported):
        return f"a {v.type_name}"
    return f"a {type(v).__name__}"


OBSERVERS = {"minchar": observe_minchar, "dinos": observe_dinos, "cs231n": observe_cs231n}

"""Compare the student's observations with the engine and name the first difference.

Timeline order: the forward pass step by step (h_t, c_t, p_t for t = 0..T-1), the loss (a sum
over the whole window) and the returned last state, the backward pass for t = T-1 down to 0
(dy_t, dh_t, dhraw_t, dx_t, dhnext_t, dcnext_t), each weight gradient (its row's timestep is
the first step whose running sum differs), then the clipped gradients.  Two arrays match when
``max|a - b| <= 1e-8 * max|b|`` (relative to the engine array's magnitude, so exact zeros and
rounding-sized entries do not trip it).

A difference is explained, best first, by re-running the engine with each bug of the gallery
(``run_bptt(..., backprop_bug=NAME)``; names the engine does not know are skipped) and seeing
whether it reproduces every number the student produced; then the in-place clip; then by the
exact form of the first difference (e.g. dy off by exactly one at the target).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from .observe import PHASES, QUANTITY_ORDER, Obs, Observed
from .problem import DroppedDcTrace, InPlaceClipTrace, Problem, engine_traces
from .report import HINTS, QUANTITY_HINTS, RTOL, Row, excerpt

#: Bug-gallery names tried with the engine (in this order).
BUG_NAMES = ("forget-dhnext", "no-tanh-derivative", "h-instead-of-hprev", "dy-without-minus-one",
             "dhnext-from-dh", "no-carry-state", "lstm-drop-dc")


def diff(student: np.ndarray, engine: np.ndarray) -> Tuple[bool, float, float]:
    """(match, max abs diff, max abs diff / max |engine|)."""
    a = np.asarray(student, dtype=float).reshape(-1)
    b = np.asarray(engine, dtype=float).reshape(-1)
    if a.shape != b.shape:
        return False, float("inf"), float("inf")
    bad_a, bad_b = ~np.isfinite(a), ~np.isfinite(b)
    if bad_a.any() or bad_b.any():
        same = np.array_equal(bad_a, bad_b) and np.array_equal(a[bad_a], b[bad_b], equal_nan=True)
        if not same:
            return False, float("inf"), float("inf")
        a, b = a[~bad_a], b[~bad_b]
    if a.size == 0:
        return True, 0.0, 0.0
    d = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(b)))
    rel = d / scale if scale > 0 else (0.0 if d == 0 else float("inf"))
    return d <= RTOL * scale or d == 0.0, d, rel


def _sort_key(o: Obs, T: int, sections: List[str]):
    phase = PHASES.index(o.phase)
    t = -1 if o.t is None else o.t
    trank = (T - 1 - t if o.t is not None else T) if o.phase == "backward" else (t if o.t is not None else T)
    q = o.quantity.replace("clipped ", "")
    qrank = QUANTITY_ORDER.index(q) if q in QUANTITY_ORDER else len(QUANTITY_ORDER)
    return sections.index(o.section), phase, trank, qrank


def order(observed: Observed, T: int) -> List[Obs]:
    sections = list(dict.fromkeys(o.section for o in observed.obs))
    return sorted(observed.obs, key=lambda o: _sort_key(o, T, sections))


def compare(obs: List[Obs], ref, T: int) -> List[Row]:
    rows = []
    for o in obs:
        expected = o.expected(ref)
        ok, d, rel = diff(o.student, expected)
        t = o.t
        if o.steps is not None and o.step_expected is not None:
            # The first step (backward order) whose running sum / contribution differs.
            t = None
            for s in sorted(o.steps, reverse=True):
                if not diff(o.steps[s], o.step_expected(ref, s))[0]:
                    t = s
                    ok = False
                    break
        rows.append(Row(o.section, o.quantity, t, o.name, ok, d, rel, excerpt(expected),
                        excerpt(o.student)))
    return rows


def _all_match(obs: List[Obs], ref, T) -> bool:
    try:
        return all(r.match for r in compare(obs, ref, T))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return False


def explain(prob: Problem, obs: List[Obs], first: Row) -> Tuple[Optional[str], str, str]:
    """(bug name or None, evidence "engine"/"pattern"/"", hint text)."""
    for name in BUG_NAMES:
        try:
            ref = {cell: engine_traces(prob, cell, backprop_bug=name) for cell in prob.cells}
        except Exception:  # noqa: BLE001 -- the engine does not know this bug (yet), or not for this cell
            continue
        if _all_match(obs, ref, prob.T):
            return name, "engine", HINTS[name]
    if prob.style != "cs231n":
        ref = {"rnn": [InPlaceClipTrace(tr) for tr in prob.traces["rnn"]]}
        if _all_match(obs, ref, prob.T):
            return "in-place-clip", "engine", HINTS["in-place-clip"]
    if "lstm" in prob.cells:
        ref = {cell: ([DroppedDcTrace(tr) for tr in prob.traces[cell]] if cell == "lstm"
                      else prob.traces[cell]) for cell in prob.cells}
        if _all_match(obs, ref, prob.T):
            return "lstm-drop-dc", "engine", HINTS["lstm-drop-dc"]
    name = _pattern(prob, obs, first)
    if name:
        return name, "pattern", HINTS[name]
    q = first.quantity.replace("clipped ", "")
    hint = QUANTITY_HINTS.get(q, "")
    if first.quantity.startswith("clipped"):
        hint = QUANTITY_HINTS["clipped"]
    if q == "dhraw" and first.section.startswith("lstm") or (q == "dhraw" and prob.cells == ["lstm"]):
        hint = ("the gradient at the four gate pre-activations (blocks i, f, o, g) is "
                "di*i*(1-i), df*f*(1-f), do*o*(1-o), dg*(1-g**2), with "
                "dc = dnext_c + dnext_h*o*(1-tanh(c)**2), di = g*dc, df = c_prev*dc, "
                "do = tanh(c)*dnext_h, dg = i*dc.")
    if prob.style == "cs231n":
        hint = {"dWxh": "dWx sums x_t^T · dhraw_t over t (and the batch).",
                "dWhh": "dWh sums h_{t-1}^T · dhraw_t over t (and the batch).",
                "dbh": "db sums dhraw_t over t and over the batch (axis 0)."}.get(
            _engine_grad_name(first.quantity), hint)
    return None, "", hint


def _engine_grad_name(q: str) -> str:
    return {"dWx": "dWxh", "dWh": "dWhh", "db": "dbh"}.get(q, q)


def _close(a, b) -> bool:
    return diff(a, b)[0]


def _pattern(prob: Problem, obs: List[Obs], first: Row) -> Optional[str]:
    """A gallery bug whose exact formula the first difference follows."""
    o = next((o for o in obs if o.quantity == first.quantity and o.section == first.section
              and (o.t == first.t or o.steps is not None)), None)
    if o is None:
        return None
    cell = first.section.split("_")[0] if first.section else prob.cells[0]
    tr = prob.traces[cell][0]
    t, s = first.t, o.student.reshape(-1)
    one_seq = prob.style != "cs231n"
    q = first.quantity
    if one_seq and q == "dy" and t is not None:
        return "dy-without-minus-one" if _close(s, tr.dy[t] + np.eye(prob.V)[tr.targets[t]]) else None
    if one_seq and q == "dh" and t is not None:
        return "forget-dhnext" if _close(s, tr.dh_from_output[t]) else None
    if one_seq and q == "dhraw" and t is not None:
        dh = next((x.student.reshape(-1) for x in obs if x.quantity == "dh" and x.t == t), tr.dh[t])
        return "no-tanh-derivative" if _close(s, dh) else None
    if one_seq and q == "dhnext" and t is not None:
        return "dhnext-from-dh" if _close(s, tr.params["Whh"].T @ tr.dh[t]) else None
    if one_seq and q == "h" and t == 0:
        x = tr.x[0]
        return "no-carry-state" if _close(s, np.tanh(tr.params["Wxh"] @ x + tr.params["bh"])) else None
    if q in ("dWhh", "dWaa", "clipped dWhh", "clipped dWaa") and one_seq:
        wrong = tr.dax.T @ tr.h
        if q.startswith("clipped"):
            wrong = np.clip(wrong, -5, 5)
        return "h-instead-of-hprev" if _close(s, wrong) else None
    if not one_seq and q == "dhnext" and t is not None:
        Wh = tr.params["Whh"].T
        dh = np.stack([x.dh[t] for x in prob.traces[cell]])
        if _close(o.student, dh @ Wh.T if cell == "rnn" else dh):
            return "no-tanh-derivative"
    if not one_seq and q == "dcnext" and t is not None and cell == "lstm":
        wrong = []
        for x in prob.traces[cell]:
            c = x.caches[t]
            wrong.append(x.dh[t] * c.gates["o"] * (1 - c.tanh_c ** 2) * c.gates["f"])
        return "lstm-drop-dc" if _close(o.student, np.stack(wrong)) else None
    return None


_WEIGHT_QUANTITIES = {"dWxh", "dWhh", "dWhy", "dbh", "dby", "dWax", "dWaa", "dWya", "db", "dWx", "dWh"}


def resolve(obs: List[Obs], ref) -> None:
    """Where several locals may hold a quantity, use the one that agrees with the engine (the
    first alias if none does): a name alone cannot tell a received gradient from a sent one."""
    for o in obs:
        if o.alternatives and not diff(o.student, o.expected(ref))[0]:
            for name, a in o.alternatives:
                if diff(a, o.expected(ref))[0]:
                    o.name, o.student = name, a
                    break
        o.alternatives = []


def run_comparison(prob: Problem, observed: Observed):
    """(rows in timeline order, first differing row or None, bug, evidence, hint)."""
    obs = order(observed, prob.T)
    ref = {cell: prob.traces[cell] for cell in prob.cells}
    resolve(obs, ref)
    rows = compare(obs, ref, prob.T)
    first = next((r for r in rows if not r.match), None)
    if first is not None and first.quantity in _WEIGHT_QUANTITIES and first.t is not None:
        # Of the weight gradients that differ, the one whose running sum went wrong first.
        same = [r for r in rows if not r.match and r.section == first.section
                and r.quantity in _WEIGHT_QUANTITIES and r.t is not None]
        first = max(same, key=lambda r: r.t)
    bug, evidence, hint = (None, "", "")
    if first is not None:
        bug, evidence, hint = explain(prob, obs, first)
    return rows, first, bug, evidence, hint

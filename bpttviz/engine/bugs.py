"""The bug gallery: classic mistakes in a BPTT backward pass, each a named variant that
``run_bptt(..., bug=NAME)`` computes, for bug-hunt exercises.

Every bug changes the gradients (never the forward pass, except ``no-carry-state``, whose
mistake *is* in the state the pass starts from), so a gradient check against finite
differences of the true loss finds it.  Which cells a bug applies to (ValueError otherwise):

====================  ==================  ====================================================
name                  cells               where the change is
====================  ==================  ====================================================
forget-dhnext         all                 dh = Whyᵀ·dy only: the future's dhnext never added
no-tanh-derivative    rnn, lstm, gru      every (1 - tanh²) factor left out (rnn: dhraw = dh;
                                          lstm: in dc and dg; gru: in dn)
h-instead-of-hprev    all                 dWhh += dhraw·h_tᵀ instead of h_{t-1}ᵀ
dy-without-minus-one  all                 dy = p: the -1 at the target is missing
dhnext-from-dh        one gate block      dhnext = Whhᵀ·dh instead of Whhᵀ·dhraw (needs a
                      (rnn)               square Whh, so no gated cell)
no-carry-state        all                 forward and backward start from h0 = 0 (and c0 = 0)
                                          whatever state is carried in
lstm-drop-dc          cells with a cell   dcnext not added to dc: the cell state's own
                      state (lstm)        gradient path is cut
====================  ==================  ====================================================

How they show (the ``symptom`` of :data:`BUG_INFO`), e.g. for a hunt's explanation:

* ``no-carry-state`` is invisible to a gradient check when the window starts from h0 = 0 (the
  first window, or ``carry_state`` off): the buggy pass then *is* the correct one.  From the
  second window on h0 is the carried state, the forward pass the check differentiates starts
  from it, and every parameter's gradient disagrees (the pass differentiated a different loss,
  the one from zeros).  In training the model never learns anything that crosses a window
  boundary: the loss at a window's first steps stays high and samples lose context.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from .cellspec import CellSpec, get_cell


@dataclass(frozen=True)
class BugInfo:
    """One gallery entry. description: one line a student understands; wrong: the buggy line
    of code, right: the correct one (seed 000's notation); symptom: how it shows in the
    gradient check, the dhnext view and training; cells: which cells it applies to, in words."""

    name: str
    description: str
    wrong: str
    right: str
    symptom: str
    cells: str
    applies: Callable[[CellSpec], bool]


_GALLERY = (
    BugInfo(
        "forget-dhnext",
        "dh uses only the gradient from the step's own output: dhnext from the future is "
        "never added (dh = Why.T @ dy)",
        "dh = Why.T @ dy", "dh = Why.T @ dy + dhnext",
        "Only the last step's gradient is right; every step's dh_from_future is zero, so the "
        "dhnext view shows nothing arriving from the future; dWhh is too small and the model "
        "learns no dependency longer than one step.",
        "all cells", lambda spec: True),
    BugInfo(
        "no-tanh-derivative",
        "the derivative of tanh, (1 - h²), is left out: the gradient passes through tanh as if "
        "it were the identity (dhraw = dh)",
        "dhraw = dh", "dhraw = (1 - hs[t] * hs[t]) * dh",
        "Every weight gradient but dWhy and dby is off; the error grows where units saturate "
        "(|h| near 1), where the true gradient is nearly zero; dhnext stays large where it "
        "should vanish.",
        "rnn, lstm (in dc and dg), gru (in dn)",
        lambda spec: "no-tanh-derivative" in spec.cell_bugs),
    BugInfo(
        "h-instead-of-hprev",
        "dWhh multiplies by the new state h_t instead of the previous one h_{t-1} "
        "(dWhh += dhraw @ hs[t].T)",
        "dWhh += dhraw @ hs[t].T", "dWhh += dhraw @ hs[t-1].T",
        "Only dWhh fails the gradient check; dh, dhnext and every other gradient are right, "
        "so the dhnext view looks correct.",
        "all cells", lambda spec: True),
    BugInfo(
        "dy-without-minus-one",
        "the gradient at the logits forgets to subtract 1 at the target: dy = p instead of "
        "p - onehot(target)",
        "dy = np.copy(ps[t])", "dy = np.copy(ps[t]); dy[targets[t]] -= 1",
        "Every gradient fails the check (dby is off by exactly 1 per step at each target); "
        "training pushes every probability down, the loss does not fall.",
        "all cells", lambda spec: True),
    BugInfo(
        "dhnext-from-dh",
        "dhnext is computed from dh, before the tanh derivative, instead of from dhraw "
        "(dhnext = Whh.T @ dh)",
        "dhnext = Whh.T @ dh", "dhnext = Whh.T @ dhraw",
        "The last step's gradients are right, earlier steps' are wrong: dWxh, dWhh and dbh "
        "fail the check; dhnext is too large where units saturate.",
        "cells with one gate block (rnn): Whh.T @ dh needs a square Whh",
        lambda spec: spec.G == 1),
    BugInfo(
        "no-carry-state",
        "the hidden state is not carried between windows: every window's forward and backward "
        "pass start from h0 = 0 whatever state was passed in",
        "hs[-1] = np.zeros_like(hprev)", "hs[-1] = np.copy(hprev)",
        "Invisible to a gradient check of a window that starts from zeros (the first one); "
        "from the second window on every gradient disagrees with the finite differences of "
        "the loss from the carried state. In training, nothing across a window boundary is "
        "learned: the first steps of each window keep a high loss.",
        "all cells", lambda spec: True),
    BugInfo(
        "lstm-drop-dc",
        "LSTM: the cell state's gradient from the next step, dcnext, is not added to dc, so "
        "the cell state's long memory path carries no gradient",
        "dc = dh * o * (1 - np.tanh(cs[t])**2)",
        "dc = dh * o * (1 - np.tanh(cs[t])**2) + dcnext",
        "The last step is right; earlier steps lose every path through c, so dWxh, dWhh and dbh "
        "fail the check (most in the forget-gate block); long dependencies are not learned.",
        "lstm only (the cell with a cell state c)", lambda spec: spec.has_cell_state),
)

#: name -> BugInfo, in gallery order.
BUG_INFO: Dict[str, BugInfo] = {b.name: b for b in _GALLERY}
#: name -> one-line description a student understands.
BUGS: Dict[str, str] = {b.name: b.description for b in _GALLERY}


def applies(bug: str, cell: str) -> bool:
    """Whether gallery bug ``bug`` can be computed for registered cell ``cell``."""
    return BUG_INFO[bug].applies(get_cell(cell))


def bugs_for(cell: str) -> Tuple[str, ...]:
    """The gallery bugs that apply to ``cell``, in gallery order (what a hunt picks from)."""
    spec = get_cell(cell)
    return tuple(name for name, b in BUG_INFO.items() if b.applies(spec))


def check_bug(bug, cell: Optional[str] = None, keyword: str = "bug") -> Optional[str]:
    """Return ``bug`` (None for no bug) if it names a gallery bug that applies to ``cell``;
    else raise ValueError naming the known bugs (or the cells it applies to). ``keyword``
    is the argument name the message uses."""
    if bug is None:
        return None
    if not isinstance(bug, str) or bug not in BUG_INFO:
        raise ValueError(f"{keyword} must be None or one of the known bugs "
                         f"{', '.join(BUG_INFO)}; got {bug!r}")
    if cell is not None and not applies(bug, cell):
        raise ValueError(f"{keyword} {bug!r} does not apply to cell {cell!r}: it applies to "
                         f"{BUG_INFO[bug].cells}")
    return bug

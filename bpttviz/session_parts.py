"""Parts of the session kept in a module of their own (session.py stays readable): its error,
its undo commands, the run's loan, and the cached teaching analyses.  Import them from
:mod:`bpttviz.session`, which re-exports what callers use."""
from __future__ import annotations

import copy
from typing import Optional

import numpy as np

from .engine import analysis
from .engine.gradcheck import gradient_check
from .undo import Command

#: The window's gradient check: a five-point centered stencil at eps 1e-3 stays below 1e-7 on
#: every preset, including min-char-rnn's ~1e-4 starting gradients where (f(x+e)-f(x-e))/2e
#: at 1e-5 is dominated by the rounding of a summed loss (measured: 5e-7 for Whh).
GRADCHECK_STENCIL = {"eps": 1e-3, "order": 4}
#: Smaller steps for the entries the main step misjudges (each keeps the best agreeing): at
#: 1e-3 alone the exploding preset's correct backward pass was called WRONG (bh 0.34).
GRADCHECK_REFINE = (1e-4, 1e-5)


class SessionError(Exception):
    """Something the user asked for cannot be done; the message says why. State unchanged."""


class _EditCommand(Command):
    """An undoable config edit: redo applies ``new``, undo restores ``old``."""

    def __init__(self, session, old: dict, new: dict, text: str):
        super().__init__(text)
        self._session, self._old, self._new = session, old, new

    def redo(self):
        self._session._apply_config(self._new)

    def undo(self):
        self._session._apply_config(self._old)


class _ScaleWhhCommand(Command):
    """An undoable multiplication of the recurrent weights by a factor."""

    def __init__(self, session, factor: float):
        super().__init__(f"scale Whh by {factor:g}")
        self._session, self._factor = session, factor

    def redo(self):
        self._session._scale_whh(self._factor)

    def undo(self):
        self._session._scale_whh(1.0 / self._factor)




class _PresetCommand(Command):
    """An undoable preset switch: undo puts back the very run object (and its preset, corpus
    path and cursor) that was current before; redo the new one, as it was left."""

    def __init__(self, session, new: tuple, text: str):
        super().__init__(text)
        self._session = session
        self._old = (session.preset, session.corpus_path, session._run, session.cursor)
        self._new = new

    def redo(self):
        self._old = self._session._swap_run(*self._new)

    def undo(self):
        self._new = self._session._swap_run(*self._old)


class _Published:
    """What readers see while the run is lent: the trace and numbers at the start of the loan."""

    def __init__(self, run):
        self.trace = run.trace()
        self.config = copy.deepcopy(run.config)
        self.vocab = run.vocab
        self.iteration = run.iteration
        self.smooth_loss = float(run.smooth_loss)
        self.history = copy.deepcopy(run.history)


class RunLoan:
    """``with session.lend_run() as run:`` — the borrower (the training worker) alone may use
    ``run`` until the loan ends; the session refuses every change meanwhile and, when the run
    comes back, publishes its new trace (cursor at the start) with one ``sigTraceChanged``.
    ``end()`` may be called instead of leaving a ``with`` block (from the GUI thread)."""

    def __init__(self, session):
        self._session = session
        self.run = None

    def __enter__(self):
        self.run = self._session._begin_loan(self)
        return self.run

    def __exit__(self, *exc) -> None:
        self.end()

    def end(self) -> None:
        if self.run is not None:
            self.run = None
            self._session._end_loan(self)


class TeachingAnalyses:
    """The session's teaching analyses (a mixin of :class:`bpttviz.session.Session`)."""

    # Teaching analyses, computed once per trace and cached (the GUI never recomputes maths).
    def _cached(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def contributions(self):
        return self._cached("contributions", lambda: analysis.contributions(self.trace))

    def jacobian_norms(self):
        return self._cached("jacobian", lambda: analysis.jacobian_norms(self.trace))

    def whh_spectrum(self):
        return self._cached("spectrum", lambda: analysis.whh_spectrum(self.trace))

    def truncation(self, window: Optional[int] = None):
        """Full vs truncated BPTT on the current window (character models only)."""
        if self.config.task == "captioning":
            raise SessionError("truncation is compared on the character models (try the "
                               "long-range preset); a 7-word caption has nothing to truncate")
        window = int(window or self.config.truncation or max(1, self.trace.T // 4))
        tr = self.trace
        try:
            return self._cached(("truncation", window), lambda: analysis.compare_truncation(
                tr.params, tr.inputs, tr.targets, window, h0=tr.h0, cell=tr.cell, c0=tr.c0))
        except ValueError as e:  # e.g. huge (finite) weights overflow the state mid-window
            raise SessionError(f"truncated BPTT cannot be compared on this window: {e}") from None

    def clip_comparison(self):
        return self._cached("clipping", lambda: analysis.compare_clipping(
            self.trace.grads_raw, self.config.clip_value))

    def gradient_check(self, max_entries: int = 20):
        tr = self.trace
        if self.config.task == "captioning":
            from .engine.captioning import caption_forward_backward
            from .engine.gradcheck import check_gradients
            feats, caps = tr.features[None, :], np.concatenate([tr.inputs[:1], tr.targets])[None, :]
            null = self.run.dataset.null
            analytic = caption_forward_backward(tr.params, feats, caps, tr.cell, null).grads
            work = {k: v.copy() for k, v in tr.params.items()}
            return self._cached(("gradcheck", max_entries), lambda: check_gradients(
                work, lambda p: caption_forward_backward(p, feats, caps, tr.cell, null).loss,
                analytic, max_entries=max_entries, refine=GRADCHECK_REFINE, **GRADCHECK_STENCIL))
        if getattr(tr, "bptt_window", None):
            raise SessionError("a gradient truncated to windows is not the gradient of any loss, "
                               "so finite differences cannot check it: set 'Truncate BPTT' to "
                               "full to check the backward pass")
        return self._cached(("gradcheck", max_entries), lambda: gradient_check(
            tr.params, tr.inputs, tr.targets, h0=tr.h0, c0=tr.c0, cell=tr.cell,
            max_entries=max_entries, backprop_bug=tr.backprop_bug,
            last_step_only=getattr(tr, "loss_steps", "all") == "last", refine=GRADCHECK_REFINE,
            **GRADCHECK_STENCIL))

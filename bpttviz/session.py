"""The session: the one model every panel reads, and the only way to change the run.

It owns the current run (preset, config, parameters, optimizer, carried state), the trace of
the current window, and the cursor on the timeline.  Its signals say *what* changed:

``sigCursorChanged(index)``
    the cursor moved over the same trace;
``sigTraceChanged(serial)``
    a new trace (next iteration, an edit, a preset, an opened file, training returned the
    run); ``serial`` is a number that grows with every new trace — compare it, never ``id()``
    (CPython reuses the address of a freed trace).  The cursor was set too;
``sigConfigChanged(names)``
    these config fields changed (a frozenset; every field for a new preset or file), emitted
    before the ``sigTraceChanged`` of the same change;
``sigBusyChanged(busy)``
    the run was lent to the training worker (True) or given back (False).

While the run is lent (:meth:`lend_run`) every method that would change the run or the cursor
refuses with :class:`SessionError`, and readers (``trace``, ``config``, ``state``, ...) see the
trace published when the loan began: nothing the GUI thread draws touches the live run.

Problems a user should hear about (a bad corpus, divergence, a corrupt file) are raised as
``SessionError`` by the method that was asked to do the thing, and the state is unchanged.
Qt is used only for the signals and the undo stack; no widget is created here, so exports and
the command line use the same object without a display.
"""
from __future__ import annotations

import copy
import json
import math
import os
import threading
from dataclasses import asdict, fields
from typing import Dict, FrozenSet, Optional

import numpy as np
from PyQt5.QtCore import QObject, pyqtSignal

from ._version import __version__
from .engine import limits
from .engine.data import CorpusError, read_corpus
from .engine.model import check_params
from .engine.presets import list_presets, load_preset
from .engine.train import CharRun, DivergenceError, RunConfig, make_run
from .session_file import (SESSION_FORMAT, SESSION_VERSION, SessionFileError,  # noqa: F401
                           atomic_write, read_session, write_session)
from .explain import describe
from .timeline import CursorState, Event, cursor_state, parse_event, timeline
from .session_parts import (GRADCHECK_REFINE, GRADCHECK_STENCIL, RunLoan, SessionError,  # noqa: F401 (re-exported)
                            TeachingAnalyses, _EditCommand, _PresetCommand, _Published,
                            _ScaleWhhCommand)
from .undo import UndoStack

CONFIG_FIELDS: FrozenSet[str] = frozenset(f.name for f in fields(RunConfig))

DEFAULT_PRESET = "min-char-rnn"
#: Largest init scale an edit accepts (see bpttviz.engine.limits.INIT_SCALE).
MAX_INIT_SCALE = limits.INIT_SCALE.high
#: Config fields whose change needs new parameters (their shapes or their draw change).
REINIT_FIELDS = {"task", "text", "cell", "hidden_size", "seed", "init_scale", "whh_radius",
                 "symbols", "vocab", "dataset", "wordvec_dim"}


class Session(TeachingAnalyses, QObject):
    """See the module docstring."""

    sigCursorChanged = pyqtSignal(int)
    sigTraceChanged = pyqtSignal(int)
    sigConfigChanged = pyqtSignal(object)
    sigBusyChanged = pyqtSignal(bool)

    def __init__(self, preset: Optional[str] = DEFAULT_PRESET, parent=None):
        super().__init__(parent)
        self.undo_stack = UndoStack(self)
        self.preset = None
        self.corpus_path: Optional[str] = None
        self._run: Optional[CharRun] = None
        self._cursor = 0
        self._cache: Dict[str, object] = {}
        self._update_preview = None
        self._serial = 0           # grows with every new trace (sigTraceChanged)
        self._run_serial = 0       # grows whenever the run object is replaced
        self._events = []          # the timeline of the current trace, built once per trace
        self._state: Optional[CursorState] = None  # cursor_state at the cursor, once per move
        self._loan: Optional[RunLoan] = None
        self._published: Optional[_Published] = None
        self._lock = threading.Lock()
        if preset is not None:
            self.load_preset(preset)

    # --- the run and its loan ----------------------------------------------------------
    @property
    def run(self):
        """The run itself. While it is lent (``busy``) it belongs to the borrower: reading it
        here raises SessionError (read ``trace``, ``config``, ``iteration`` instead)."""
        if self._loan is not None:
            raise SessionError("training is using the run; pause training first")
        return self._run

    @run.setter
    def run(self, run) -> None:
        self._check_free()
        self._run = run
        self._run_serial += 1

    @property
    def has_run(self) -> bool:
        return self._run is not None

    @property
    def busy(self) -> bool:
        """True while the run is lent (to the training worker)."""
        return self._loan is not None

    def lend_run(self) -> RunLoan:
        """Lend the run to one borrower (see :class:`RunLoan`). SessionError if already lent."""
        return RunLoan(self)

    def _begin_loan(self, loan: RunLoan):
        with self._lock:
            if self._loan is not None:
                raise SessionError("the run is already being trained")
            if self._run is None:
                raise SessionError("there is no run to train")
            self.update_preview()  # cached now: the optimizer changes during the loan
            self._published = _Published(self._run)
            self._loan = loan
        self.sigBusyChanged.emit(True)
        return self._run

    def _end_loan(self, loan: RunLoan) -> None:
        with self._lock:
            if self._loan is not loan:
                return
            self._loan = None
            self._published = None
        self.sigBusyChanged.emit(False)
        # Back in sole charge: the run moved on, so show its current window from the start.
        self._run._trace = None
        self._new_trace(0)

    def _check_free(self) -> None:
        if self._loan is not None:
            raise SessionError("training is running: pause it first (Ctrl+T)")

    # --- reading -----------------------------------------------------------------------
    @property
    def config(self) -> RunConfig:
        return self._published.config if self._published is not None else self._run.config

    @property
    def trace(self):
        return self._published.trace if self._published is not None else self._run.trace()

    @property
    def trace_serial(self) -> int:
        """Grows with every new trace: what a panel compares to know the trace changed."""
        return self._serial

    @property
    def run_serial(self) -> int:
        """Grows whenever the run is replaced (a preset, an edit that rebuilds it, a file)."""
        return self._run_serial

    @property
    def vocab(self):
        return self._published.vocab if self._published is not None else self._run.vocab

    @property
    def params(self):
        """The parameters of the trace shown (while training, the published trace's copy)."""
        return self._published.trace.params if self._published is not None else self._run.params

    @property
    def iteration(self) -> int:
        return self._published.iteration if self._published is not None else self._run.iteration

    @property
    def smooth_loss(self) -> float:
        return self._published.smooth_loss if self._published is not None else float(self._run.smooth_loss)

    @property
    def history(self):
        """The run's per-iteration records (while training, a copy from when it began)."""
        return self._published.history if self._published is not None else self._run.history

    @property
    def events(self):
        if not self._events:
            self._events = timeline(self.trace.T)
        return self._events

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def state(self) -> CursorState:
        if self._state is None:
            self._state = cursor_state(self.trace.T, self._cursor)
        return self._state

    @property
    def current_event(self) -> Event:
        return self.state.event

    def describe_event(self, event=None):
        """``(words, equation)`` for the event at the cursor (or for ``event``, one of
        :attr:`events`)."""
        c = self.config
        return describe(self.current_event if event is None else event, c.cell, c.clip,
                        c.optimizer, self.trace.T,
                        task=c.task, carry_state=c.carry_state, batch_size=c.batch_size,
                        loss_steps=getattr(c, "loss_steps", "all"))

    def update_preview(self) -> Dict[str, np.ndarray]:
        """What the update event will add to each parameter (params' shapes), computed on a
        copy so the run itself changes only at ``next_iteration``."""
        if self._update_preview is None:
            params = {k: v.copy() for k, v in self.run.params.items()}
            opt = copy.deepcopy(self.run.optimizer)  # (raises while lent: cached at the loan)
            # what update() applies: the window's gradient (captioning: its minibatch's)
            self._update_preview = opt.step(params, self.run.update_gradient(self.trace))
        return self._update_preview

    def refresh(self) -> None:
        """Re-read the run (after something outside the session advanced it): new trace,
        cursor to the start, one ``sigTraceChanged``."""
        self._check_free()
        self._run._trace = None
        self._new_trace(0)

    # --- cursor ------------------------------------------------------------------------
    def set_cursor(self, index: int) -> None:
        self._check_free()
        index = max(0, min(int(index), len(self.events) - 1))
        if index != self._cursor:
            self._cursor = index
            self._state = None
            self.sigCursorChanged.emit(index)

    def step(self, delta: int = 1) -> None:
        """Move the cursor; stepping past ``update`` starts the next iteration."""
        self._check_free()
        if delta > 0 and self._cursor + delta >= len(self.events):
            self.next_iteration()
            return
        self.set_cursor(self._cursor + delta)

    def home(self):
        self.set_cursor(0)

    def end(self):
        self.set_cursor(len(self.events) - 1)

    def set_event(self, text: str) -> None:
        """Move to an event named like ``forward:3`` (ValueError with the forms if malformed)."""
        self._check_free()
        ev = parse_event(text, self.trace.T)
        self.set_cursor(self.events.index(ev))

    def next_iteration(self) -> None:
        """Apply the update, carry the state, load the next window; cursor to its start."""
        self._check_free()
        try:
            self._run.update()
        except DivergenceError as e:
            raise SessionError(str(e)) from None
        self._new_trace(0)

    def train(self, n: int, should_stop=None, progress=None, on_batch_end=None) -> int:
        """Train n iterations at full speed (no drawing) through ``run.train`` (the one
        training loop: the same updates as stepping and live training); the cursor returns
        to the start.  ``progress(done)`` and ``on_batch_end(run)`` are called after every
        iteration, ``should_stop()`` is polled before every one."""
        self._check_free()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise SessionError(f"the number of iterations must be a whole number >= 0; got {n!r}")
        after = _AfterBatch(progress, on_batch_end) if (progress or on_batch_end) else None
        try:
            done = self._run.train(int(n), should_stop=should_stop, on_batch_end=after)
        except DivergenceError as e:
            self._new_trace(0)
            raise SessionError(str(e)) from None
        self._new_trace(0)
        return done

    def _new_trace(self, cursor: int, config_names=None):
        """A new trace is current: derived state is rebuilt once, then the signals go out
        (``sigConfigChanged(names)`` first when the change edited the config)."""
        self._cache.clear()
        self._update_preview = None
        self._serial += 1
        self._events = timeline(self.trace.T)
        self._cursor = max(0, min(cursor, len(self._events) - 1))
        self._state = None
        if config_names:
            self.sigConfigChanged.emit(frozenset(config_names))
        self.sigTraceChanged.emit(self._serial)

    # --- configuration -----------------------------------------------------------------
    def load_preset(self, name: str) -> None:
        """Start a fresh run from a preset: an undoable step (undo brings back the previous
        run object itself, trained as it was); :attr:`unsaved` stays what it was before."""
        self._check_free()
        try:
            preset = load_preset(name)
        except (ValueError, CorpusError, FileNotFoundError, KeyError, json.JSONDecodeError) as e:
            raise SessionError(str(e)) from None
        try:
            run = make_run(preset.config, preset.weights)
            run.trace()
        except (ValueError, CorpusError, ArithmeticError) as e:
            raise SessionError(str(e)) from None
        # where the preset opens (lstm-gates: at the end of the backward pass, where the
        # gradient through c and through h stand side by side); refused before anything
        # changes
        T = run.trace().T
        try:
            start = timeline(T).index(parse_event(preset.at, T, what=f"preset {preset.name}: 'at'"))
        except ValueError as e:
            raise SessionError(str(e)) from None
        # Unsaved work before stays unsaved work after (it is one undo away, and lost on
        # quit); otherwise the fresh run counts as saved.  Marked before the signals go out
        # (the window's title reads it): the new trace will be serial + 1.
        self._saved_mark = None if self.has_run and self.unsaved else (self._serial + 1,
                                                                        run.iteration)
        if self._run is None:  # the first run of this session: nothing to go back to
            self.preset, self.corpus_path, self.run = preset, None, run
            self.undo_stack.clear()
            self._new_trace(start, CONFIG_FIELDS)
            return
        # An undoable step that keeps the old run object (its training, optimizer, carried
        # state), preset, corpus and cursor: one wheel tick costs nothing.
        command = _PresetCommand(self, (preset, None, run, start), f"preset {preset.name}")
        command.redo()
        self.undo_stack.push(command)

    def load_corpus(self, path: str) -> None:
        """Use a text file as the corpus (an undoable edit). SessionError if unusable."""
        self._check_free()
        try:
            text = read_corpus(path)
        except CorpusError as e:
            raise SessionError(str(e)) from None
        changes = {"text": text}
        if self.config.task not in ("text", "names"):
            changes["task"] = "text"
        self.edit(f"load corpus {os.path.basename(path)}", **changes)
        self.corpus_path = os.fspath(path)

    def edit(self, description: str = "edit", /, **changes) -> None:
        """Change config fields as one undoable step. SessionError (state unchanged) if invalid."""
        self._check_free()
        old = asdict(self.config)
        new = dict(old, **changes)
        unknown = set(changes) - set(old)
        if unknown:
            raise SessionError(f"unknown setting {sorted(unknown)[0]!r}")
        if new == old:
            return
        self._apply_config(new)
        self.undo_stack.push(_EditCommand(self, old, new, description))

    def _apply_config(self, values: dict) -> None:
        self._check_free()
        old_run, old_event = self._run, self.current_event
        config = RunConfig(**values)
        try:
            # Every field against the one set of limits (bpttviz.engine.limits), including
            # the ones not in use (the clip threshold while clipping is off, init_scale while
            # a preset's own weights are used): a bad value must not surface later.
            config.validate()
        except ValueError as e:
            raise SessionError(str(e)) from None
        reinit = any(getattr(old_run.config, f) != getattr(config, f) for f in REINIT_FIELDS)
        try:
            if reinit:
                weights = self.preset.weights if self.preset is not None else None
                if weights is not None:
                    try:
                        V = len(CharRun._build_data(config)[0])
                        check_params(weights, config.cell)
                        if weights["Why"].shape != (V, config.hidden_size):
                            weights = None
                    except ValueError:
                        weights = None
                run = make_run(config, weights)
            else:
                run = make_run(config, old_run.params)
                for attr in ("iteration", "pointer", "h", "c", "smooth_loss", "history", "rng"):
                    setattr(run, attr, getattr(old_run, attr))
                # The smoothed loss is a window's loss: a longer window (or every step's loss
                # instead of the last one's) sums more steps.  Kept per step, not as a sum:
                # 25 steps' 101.9 beside 100 steps' loss of 407.8 said training had quartered it.
                chance = old_run.loss_at_chance()
                ratio = run.loss_at_chance() / chance if chance > 0 else 1.0
                if ratio != 1.0:  # (an lr or clip edit keeps it to the last bit)
                    run.smooth_loss = old_run.smooth_loss * ratio
                if config.optimizer == old_run.config.optimizer:
                    run.optimizer = old_run.optimizer
                    run.optimizer.lr = config.lr
                run.pointer = min(run.pointer, max(0, len(run._data) - config.seq_length - 1)) \
                    if run._data is not None else 0
            run.trace()  # surface errors now, not in a panel's slot
            if not all(np.all(np.isfinite(v)) for v in run.params.values()):
                # e.g. init_scale 1e308 or whh_radius nan: every panel would show NaN
                raise SessionError("these settings give non-finite (inf/NaN) initial weights "
                                   "(check the init scale and whh_radius)")
        except (ValueError, TypeError, CorpusError, ArithmeticError) as e:
            # TypeError: a value of the wrong kind, e.g. seed 1.5 (numpy's SeedSequence)
            raise SessionError(str(e)) from None
        self.run = run
        # Keep the cursor on the same kind of event if the new window still has it.
        T = run.trace().T
        evs = timeline(T)
        if old_event.t is not None and old_event.t >= T:
            old_event = Event(old_event.phase, T - 1)
        changed = {f for f in CONFIG_FIELDS if getattr(old_run.config, f) != getattr(config, f)}
        self._new_trace(evs.index(old_event) if old_event in evs else 0, changed)

    def scale_whh(self, factor: float) -> None:
        """Multiply the recurrent weights Whh by ``factor`` (undoable): the gradient-decay
        view's control for moving the model between vanishing and exploding."""
        self._check_free()
        try:
            factor = float(factor)
        except (TypeError, ValueError):
            raise SessionError(f"the Whh scale must be a number; got {factor!r}") from None
        if not (math.isfinite(factor) and 1e-3 <= abs(factor) <= 1e3):
            raise SessionError(f"the Whh scale must be between 0.001 and 1000; got {factor!r}")
        if factor == 1.0:
            return
        W = np.asarray(self._run.params[self.trace.recurrent_name], dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            finite = bool(np.all(np.isfinite(W * factor)))
        if not finite:
            big = float(np.max(np.abs(W))) if W.size else 0.0
            raise SessionError(f"scaling {self.trace.recurrent_name} by {factor:g} would overflow "
                               f"(its largest entry is {big:.3g}): scale it down, or undo the "
                               "changes that made it this large")
        command = _ScaleWhhCommand(self, factor)
        command.redo()
        self.undo_stack.push(command)

    def _scale_whh(self, factor: float) -> None:
        self._check_free()
        self._run.params[self.trace.recurrent_name] *= factor
        self._run._trace = None
        self._new_trace(self._cursor)

    # --- files -------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write the session (config, params, optimizer state, carried state, history,
        cursor) as a compact version 2 file (bpttviz.session_file), atomically: a crash
        mid-write leaves the old file intact."""
        self._check_free()
        write_session(path, self.config, self.run.state_dict(),
                      preset=self.preset.name if self.preset else None, cursor=self._cursor,
                      app_version=__version__)

    def open(self, path: str) -> None:
        """Load a session file (version 1 or 2), checked as untrusted input by
        bpttviz.session_file. SessionError naming the file and the problem for a missing,
        non-regular, truncated, corrupt, foreign, wrong-version, oversized or inconsistent
        file; the current session is untouched then."""
        self._check_free()
        try:
            loaded = read_session(path)
            run = loaded.make_run()
        except SessionFileError as e:
            raise SessionError(str(e)) from None
        trace = run.trace()
        try:
            preset = load_preset(loaded.preset) if loaded.preset in list_presets() else None
        except (ValueError, CorpusError, KeyError, OSError, json.JSONDecodeError):
            preset = None  # (its file broke since: the session's own run is what counts)
        self.run, self.preset, self.corpus_path = run, preset, None
        self.undo_stack.clear()
        self._new_trace(min(loaded.cursor, 2 * trace.T + 1), CONFIG_FIELDS)

    def snapshot(self) -> "Session":
        """An independent, view-only Session: a deep copy of the run at the same cursor (for
        drawing frames offscreen without moving this session's cursor)."""
        snap = Session(preset=None)
        snap.preset, snap.corpus_path = self.preset, self.corpus_path
        snap.run = copy.deepcopy(self.run)
        snap._cursor = self._cursor
        return snap

    # --- unsaved work (issue 16) -------------------------------------------------------
    def _swap_run(self, preset, corpus_path, run, cursor) -> tuple:
        """Make ``run`` (with its preset, corpus path, cursor) current; return what was."""
        self._check_free()
        was = (self.preset, self.corpus_path, self._run, self._cursor)
        self.preset, self.corpus_path, self.run = preset, corpus_path, run
        self._new_trace(cursor, CONFIG_FIELDS)
        return was

    @property
    def unsaved(self) -> bool:
        """True after anything that made a new trace (an iteration, training, an edit, a Whh
        scale, an undo, training) since :meth:`mark_saved` (the window calls it after a save
        or an open; a new session starts saved); cursor moves do not count."""
        mark = getattr(self, "_saved_mark", None)
        return mark is None or mark != (self._serial, self.iteration)

    def mark_saved(self) -> None:
        """What is current now is safe (just saved, opened or a fresh preset)."""
        self._saved_mark = (self._serial, self.iteration)

    def mark_unsaved(self) -> None:
        """Count the current state as unsaved (e.g. restored from an autosave)."""
        self._saved_mark = None


class _AfterBatch:
    """``on_batch_end`` for :meth:`Session.train`: counts and forwards to the callbacks."""

    def __init__(self, progress, on_batch_end):
        self.progress, self.on_batch_end, self.done = progress, on_batch_end, 0

    def __call__(self, run):
        self.done += 1
        if self.on_batch_end is not None:
            self.on_batch_end(run)
        if self.progress is not None:
            self.progress(self.done)


MAX_SEED = limits.SEED.high


def check_seed(seed) -> int:
    """Seeds are whole numbers from 0 to 2**31 - 1 (see bpttviz.engine.limits.SEED)."""
    return limits.SEED.check(seed, "seed")

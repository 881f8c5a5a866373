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
import io
import threading
import json
import math
import os
import tempfile
import zipfile
from dataclasses import asdict, fields
from typing import Dict, FrozenSet, Optional

import numpy as np
from PyQt5.QtCore import QObject, pyqtSignal

from . import __version__
from .engine import analysis
from .engine.clipping import check_clip
from .engine.data import CorpusError, read_corpus
from .engine.gradcheck import gradient_check
from .engine.model import check_params
from .engine.presets import list_presets, load_preset
from .engine.train import CharRun, DivergenceError, RunConfig, make_run
from .explain import describe
from .timeline import CursorState, Event, cursor_state, parse_event, timeline
from .undo import Command, UndoStack

#: The window's gradient check: a five-point centered stencil at eps 1e-3 stays below 1e-7 on
#: every preset, including min-char-rnn's ~1e-4 starting gradients where (f(x+e)-f(x-e))/2e
#: at 1e-5 is dominated by the rounding of a summed loss (measured: 5e-7 for Whh).
GRADCHECK_STENCIL = {"eps": 1e-3, "order": 4}
SESSION_FORMAT = "bpttviz-session"
SESSION_VERSION = 1
DEFAULT_PRESET = "min-char-rnn"
#: Largest init scale an edit accepts (the controls offer up to 100).
MAX_INIT_SCALE = 1000.0
#: Config fields whose change needs new parameters (their shapes or their draw change).
REINIT_FIELDS = {"task", "text", "cell", "hidden_size", "seed", "init_scale", "whh_radius",
                 "symbols", "vocab", "dataset", "wordvec_dim"}


class SessionError(Exception):
    """Something the user asked for cannot be done; the message says why. State unchanged."""


class _EditCommand(Command):
    """An undoable config edit: redo applies ``new``, undo restores ``old``."""

    def __init__(self, session: "Session", old: dict, new: dict, text: str):
        super().__init__(text)
        self._session, self._old, self._new = session, old, new

    def redo(self):
        self._session._apply_config(self._new)

    def undo(self):
        self._session._apply_config(self._old)


class _ScaleWhhCommand(Command):
    """An undoable multiplication of the recurrent weights by a factor."""

    def __init__(self, session: "Session", factor: float):
        super().__init__(f"scale Whh by {factor:g}")
        self._session, self._factor = session, factor

    def redo(self):
        self._session._scale_whh(self._factor)

    def undo(self):
        self._session._scale_whh(1.0 / self._factor)


class _PresetCommand(Command):
    """An undoable preset switch: undo puts back the very run object (and its preset, corpus
    path and cursor) that was current before; redo the new one, as it was left."""

    def __init__(self, session: "Session", new: tuple, text: str):
        super().__init__(text)
        self._session = session
        self._old = (session.preset, session.corpus_path, session._run, session.cursor)
        self._new = new

    def redo(self):
        self._old = self._session._swap_run(*self._new)

    def undo(self):
        self._new = self._session._swap_run(*self._old)


CONFIG_FIELDS: FrozenSet[str] = frozenset(f.name for f in fields(RunConfig))


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

    def __init__(self, session: "Session"):
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


class Session(QObject):
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

    def describe_event(self):
        """``(words, equation)`` for the event at the cursor."""
        c = self.config
        return describe(self.current_event, c.cell, c.clip, c.optimizer, self.trace.T)

    def update_preview(self) -> Dict[str, np.ndarray]:
        """What the update event will add to each parameter (params' shapes), computed on a
        copy so the run itself changes only at ``next_iteration``."""
        if self._update_preview is None:
            params = {k: v.copy() for k, v in self.run.params.items()}
            opt = copy.deepcopy(self.run.optimizer)  # (raises while lent: cached at the loan)
            self._update_preview = opt.step(params, self.trace.grads)
        return self._update_preview

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
                analytic, max_entries=max_entries, **GRADCHECK_STENCIL))
        return self._cached(("gradcheck", max_entries), lambda: gradient_check(
            tr.params, tr.inputs, tr.targets, h0=tr.h0, c0=tr.c0, cell=tr.cell,
            max_entries=max_entries, backprop_bug=tr.backprop_bug, **GRADCHECK_STENCIL))

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

    def train(self, n: int, should_stop=None, progress=None) -> int:
        """Train n iterations at full speed (no drawing); the cursor returns to the start."""
        self._check_free()
        try:
            done = self._run.train(n, should_stop=should_stop, progress=progress)
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
        # Unsaved work before stays unsaved work after (it is one undo away, and lost on
        # quit); otherwise the fresh run counts as saved.  Marked before the signals go out
        # (the window's title reads it): the new trace will be serial + 1.
        self._saved_mark = None if self.has_run and self.unsaved else (self._serial + 1,
                                                                        run.iteration)
        if self._run is None:  # the first run of this session: nothing to go back to
            self.preset, self.corpus_path, self.run = preset, None, run
            self.undo_stack.clear()
            self._new_trace(0, CONFIG_FIELDS)
            return
        # An undoable step that keeps the old run object (its training, optimizer, carried
        # state), preset, corpus and cursor: one wheel tick costs nothing.
        command = _PresetCommand(self, (preset, None, run, 0), f"preset {preset.name}")
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
            # The threshold must be valid even while clipping is off: the clipping view
            # compares clipping at it whatever the mode (a negative one raised in its slot).
            check_clip("value", config.clip_value)
            # init_scale too, even while a preset's own weights are used (nothing is drawn
            # with it then): otherwise a bad value surfaces at an unrelated later edit. The
            # bound keeps randn * scale finite (1e308 gave inf weights and NaN everywhere).
            if not isinstance(config.carry_state, (bool, np.bool_)):
                raise ValueError(f"carry_state must be True or False; got {config.carry_state!r}")
            k = config.truncation
            if k is not None and (isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer))
                                  or k < 1):
                raise ValueError(f"truncation must be None or a whole number of steps >= 1; "
                                 f"got {k!r}")
            if config.task != "captioning":
                scale = float(config.init_scale)
                if not (math.isfinite(scale) and 0 <= scale <= MAX_INIT_SCALE):
                    raise ValueError(f"init_scale must be a number from 0 to {MAX_INIT_SCALE:g}; "
                                     f"got {config.init_scale!r}")
        except (ValueError, TypeError) as e:
            raise SessionError(str(e)) from None
        reinit = any(getattr(old_run.config, f) != getattr(config, f) for f in REINIT_FIELDS)
        try:
            check_seed(config.seed)
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
        """Write the session (config, params, optimizer state, carried state, cursor) to a
        versioned ``.npz``, atomically: a crash mid-write leaves the old file intact."""
        self._check_free()
        meta = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "app_version": __version__,
                "preset": self.preset.name if self.preset else None, "cursor": self._cursor,
                "iteration": self.run.iteration, "pointer": self.run.pointer,
                "smooth_loss": self.run.smooth_loss, "history": asdict(self.run.history),
                "config": asdict(self.config)}
        arrays = {"meta_json": np.array(json.dumps(meta)), "state_h": self.run.h, "state_c": self.run.c}
        arrays.update({f"param_{k}": v for k, v in self.run.params.items()})
        arrays.update({f"opt_{k}": v for k, v in self.run.optimizer.state.items()})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(path, buf.getvalue())

    def open(self, path: str) -> None:
        """Load a session file. SessionError for a missing, truncated, corrupt, foreign,
        wrong-version or inconsistent file; the current session is untouched then."""
        self._check_free()
        name = os.path.basename(os.fspath(path))
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise SessionError(f"session file not found: {path}") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
            raise SessionError(f"{name} is not a readable bpttviz session (corrupt or truncated): "
                               f"{type(e).__name__}") from None
        try:
            meta = json.loads(str(data["meta_json"]))
            if not isinstance(meta, dict) or meta.get("format") != SESSION_FORMAT:
                raise SessionError(f"{name} is not a bpttviz session file")
            if meta.get("version") != SESSION_VERSION:
                raise SessionError(f"{name} has session format version {meta.get('version')!r}; this "
                                   f"bpttviz reads version {SESSION_VERSION}")
            known = {f.name for f in fields(RunConfig)}
            cfg = {k: v for k, v in dict(meta["config"]).items() if k in known}
            for k in ("inputs", "targets", "vocab"):
                if k in cfg:
                    cfg[k] = tuple(cfg[k])
            config = RunConfig(**cfg)
            check_seed(config.seed)
            check_clip("value", config.clip_value)  # see _apply_config
            params = {k[len("param_"):]: np.asarray(v, dtype=float) for k, v in data.items()
                      if k.startswith("param_")}
            run = make_run(config, params)
            if config.task != "captioning":
                check_params(run.params, config.cell)
                if run.params["Why"].shape[0] != len(run.vocab):
                    raise SessionError(f"{name}: the parameters do not fit the saved corpus's vocabulary")
            if not all(np.all(np.isfinite(v)) for v in run.params.values()):
                raise SessionError(f"{name} holds non-finite parameters")
            run.optimizer.load_state_arrays({k[len("opt_"):]: v for k, v in data.items()
                                             if k.startswith("opt_")})
            H = config.hidden_size
            run.h = np.asarray(data["state_h"], dtype=float).reshape(H)
            run.c = np.asarray(data["state_c"], dtype=float).reshape(H)
            run.iteration = int(meta["iteration"])
            run.pointer = int(meta["pointer"])
            if run._data is not None and not 0 <= run.pointer <= len(run._data) - config.seq_length - 1:
                raise SessionError(f"{name}: saved data position is outside the corpus")
            run.smooth_loss = float(meta["smooth_loss"])
            hist = meta.get("history", {})
            for k in ("loss", "smooth_loss", "grad_norm_before_clip", "grad_norm_after_clip"):
                getattr(run.history, k).extend(float(x) for x in hist.get(k, []))
            trace = run.trace()
            cursor = int(meta.get("cursor", 0))
            preset = None
            if meta.get("preset") in list_presets():
                preset = load_preset(meta["preset"])
        except SessionError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, CorpusError, ArithmeticError) as e:
            raise SessionError(f"{name} is damaged or inconsistent ({type(e).__name__}: "
                               f"{str(e)[:120]})") from None
        self.run, self.preset, self.corpus_path = run, preset, None
        self.undo_stack.clear()
        self._new_trace(min(max(cursor, 0), 2 * trace.T + 1), CONFIG_FIELDS)

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


MAX_SEED = 2 ** 31 - 1


def check_seed(seed) -> int:
    """Seeds are whole numbers from 0 to 2**31 - 1 (what a spin box can show)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}; got {seed!r}")
    return int(seed)


def atomic_write(path: str, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and a rename, so the
    target is either the old file or the complete new one. OSError with the reason if the
    folder cannot be written."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".bpttviz-", suffix=".tmp", dir=folder)
    try:
        # mkstemp makes the file private (0600); a saved session or slide should get the
        # permissions any other new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

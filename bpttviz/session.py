"""The session: the one model every panel reads.

It owns the current run (preset, config, parameters, optimizer, carried state), the trace of
the current window, and the cursor on the timeline.  Whenever any of that changes it emits
``sigChanged`` once; panels redraw from the session alone and never talk to each other.
Problems a user should hear about (a bad corpus, divergence, a corrupt file) are raised as
``SessionError`` by the method that was asked to do the thing, and the state is unchanged.

Qt is used only for the signal and the undo stack; no widget is created here, so exports and
the command line use the same object without a display.
"""
from __future__ import annotations

import copy
import io
import json
import math
import os
import tempfile
import zipfile
from dataclasses import asdict, fields
from typing import Dict, Optional

import numpy as np
from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QUndoCommand, QUndoStack

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


class _EditCommand(QUndoCommand):
    """An undoable config edit: redo applies ``new``, undo restores ``old``."""

    def __init__(self, session: "Session", old: dict, new: dict, text: str):
        super().__init__(text)
        self._session, self._old, self._new = session, old, new
        self._first = True

    def redo(self):
        if self._first:  # push() calls redo(); the edit was already applied and validated
            self._first = False
            return
        self._session._apply_config(self._new)

    def undo(self):
        self._session._apply_config(self._old)


class _ScaleWhhCommand(QUndoCommand):
    """An undoable multiplication of the recurrent weights by a factor."""

    def __init__(self, session: "Session", factor: float):
        super().__init__(f"scale Whh by {factor:g}")
        self._session, self._factor = session, factor

    def redo(self):
        self._session._scale_whh(self._factor)

    def undo(self):
        self._session._scale_whh(1.0 / self._factor)


class Session(QObject):
    """See the module docstring. ``sigChanged`` is the only state signal."""

    sigChanged = pyqtSignal()

    def __init__(self, preset: Optional[str] = DEFAULT_PRESET, parent=None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.preset = None
        self.corpus_path: Optional[str] = None
        self.run: Optional[CharRun] = None
        self._cursor = 0
        self._cache: Dict[str, object] = {}
        self._update_preview = None
        if preset is not None:
            self.load_preset(preset)

    # --- reading -----------------------------------------------------------------------
    @property
    def config(self) -> RunConfig:
        return self.run.config

    @property
    def trace(self):
        return self.run.trace()

    @property
    def vocab(self):
        return self.run.vocab

    @property
    def params(self):
        return self.run.params

    @property
    def iteration(self) -> int:
        return self.run.iteration

    @property
    def events(self):
        return timeline(self.trace.T)

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def state(self) -> CursorState:
        return cursor_state(self.trace.T, self._cursor)

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
            opt = copy.deepcopy(self.run.optimizer)
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
        return self._cached(("truncation", window), lambda: analysis.compare_truncation(
            tr.params, tr.inputs, tr.targets, window, h0=tr.h0, cell=tr.cell, c0=tr.c0))

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
        """Re-read the run (after something outside the session, e.g. the training thread,
        advanced it): new trace, cursor to the start, one ``sigChanged``."""
        self.run._trace = None
        self._new_trace(0)

    # --- cursor ------------------------------------------------------------------------
    def _changed(self):
        self.sigChanged.emit()

    def set_cursor(self, index: int) -> None:
        index = max(0, min(int(index), len(self.events) - 1))
        if index != self._cursor:
            self._cursor = index
            self._changed()

    def step(self, delta: int = 1) -> None:
        """Move the cursor; stepping past ``update`` starts the next iteration."""
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
        ev = parse_event(text, self.trace.T)
        self.set_cursor(self.events.index(ev))

    def next_iteration(self) -> None:
        """Apply the update, carry the state, load the next window; cursor to its start."""
        try:
            self.run.update()
        except DivergenceError as e:
            raise SessionError(str(e)) from None
        self._new_trace(0)

    def train(self, n: int, should_stop=None, progress=None) -> int:
        """Train n iterations at full speed (no drawing); the cursor returns to the start."""
        try:
            done = self.run.train(n, should_stop=should_stop, progress=progress)
        except DivergenceError as e:
            self._new_trace(0)
            raise SessionError(str(e)) from None
        self._new_trace(0)
        return done

    def _new_trace(self, cursor: int):
        self._cache.clear()
        self._update_preview = None
        self._cursor = max(0, min(cursor, len(self.events) - 1))
        self._changed()

    # --- configuration -----------------------------------------------------------------
    def load_preset(self, name: str) -> None:
        """Start a fresh run from a preset (clears undo history: it is a new document)."""
        try:
            preset = load_preset(name)
        except (ValueError, CorpusError, FileNotFoundError, KeyError, json.JSONDecodeError) as e:
            raise SessionError(str(e)) from None
        try:
            run = make_run(preset.config, preset.weights)
            run.trace()
        except (ValueError, CorpusError, ArithmeticError) as e:
            raise SessionError(str(e)) from None
        self.preset = preset
        self.corpus_path = None
        self.run = run
        self.undo_stack.clear()
        self._new_trace(0)

    def load_corpus(self, path: str) -> None:
        """Use a text file as the corpus (an undoable edit). SessionError if unusable."""
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
        old_run, old_event = self.run, self.current_event
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
        self._new_trace(evs.index(old_event) if old_event in evs else 0)

    def scale_whh(self, factor: float) -> None:
        """Multiply the recurrent weights Whh by ``factor`` (undoable): the gradient-decay
        view's control for moving the model between vanishing and exploding."""
        try:
            factor = float(factor)
        except (TypeError, ValueError):
            raise SessionError(f"the Whh scale must be a number; got {factor!r}") from None
        if not (math.isfinite(factor) and 1e-3 <= abs(factor) <= 1e3):
            raise SessionError(f"the Whh scale must be between 0.001 and 1000; got {factor!r}")
        if factor == 1.0:
            return
        self.undo_stack.push(_ScaleWhhCommand(self, factor))

    def _scale_whh(self, factor: float) -> None:
        self.run.params[self.trace.recurrent_name] *= factor
        self.run._trace = None
        self._new_trace(self._cursor)

    # --- files -------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write the session (config, params, optimizer state, carried state, cursor) to a
        versioned ``.npz``, atomically: a crash mid-write leaves the old file intact."""
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
        self._new_trace(min(max(cursor, 0), 2 * trace.T + 1))

    def snapshot(self) -> "Session":
        """An independent, view-only Session: a deep copy of the run at the same cursor (for
        drawing frames offscreen without moving this session's cursor)."""
        snap = Session(preset=None)
        snap.preset, snap.corpus_path = self.preset, self.corpus_path
        snap.run = copy.deepcopy(self.run)
        snap._cursor = self._cursor
        return snap


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

"""What every run shares: its configuration (:class:`RunConfig` with the one
:meth:`RunConfig.validate`), the :class:`Run` protocol and the one training loop (the
training history it records is :mod:`bpttviz.engine.history`).

The protocol (implemented by :class:`~bpttviz.engine.train.CharRun` and
:class:`~bpttviz.engine.caption_run.CaptionRun`, both through :class:`RunBase`):

* ``config``: the :class:`RunConfig`.
* ``trace()``: the trace of the current iteration's window with the current parameters
  (cached until the next update).
* ``update(trace=None)``: **one iteration**: apply the optimizer with the update gradient of
  ``trace`` (default: the current one), carry the state, advance the data.  For the character
  models that is the window's (clipped) gradient; for captioning it is the (clipped) gradient of
  the iteration's **minibatch** of ``batch_size`` captions, as in cs231n (the window steps
  through the first caption of that minibatch; see caption_run).
* ``train(n, should_stop=None, on_batch_end=None) -> int``: ``n`` iterations, each exactly
  ``update()``.  ``should_stop()`` is polled before every iteration; ``on_batch_end(run)`` is
  called after every one (cheap: the GUI worker checks the clock there and sends progress
  every ~33 ms).  Returns how many iterations ran.  Everything that trains (the window's
  stepping, ``Session.train``, the GUI worker, ``bpttviz export --train``) goes through
  ``update``, so all of them train identically.
* ``sample_text(n, temperature, seed)`` (alias ``sample``): text from the model.
* ``state_dict() -> dict`` / ``load_state_dict(d)``: everything that changes while training
  (parameters, optimizer state, carried state, position, history), as plain scalars and
  float arrays; loading validates every shape and value first and raises ValueError naming
  the problem, leaving the run unchanged.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from typing import Callable, Dict, Optional, Protocol, runtime_checkable

import numpy as np

from . import limits as L
from .cells import CELLS
from .checks import finite as _finite, is_bool as _is_bool, is_int as _is_int, \
    real_array as _real_array
from .clipping import CLIP_MODES
from .history import (HISTORY_COLUMNS, HISTORY_FIELDS, History, Series,  # noqa: F401 (re-exported)
                      check_history_state, history_table)
from .model import BACKPROP_BUGS
from .optim import OPTIMIZERS

TASKS = ("text", "names", "delay", "fixed", "captioning")
LOSS_STEPS = ("all", "last")


class DivergenceError(ArithmeticError):
    """Training produced inf/NaN. ``iteration`` names the update that failed; the run's
    parameters are left at the last good values."""

    def __init__(self, iteration: int, what: str):
        super().__init__(f"training diverged at iteration {iteration}: {what} became inf/NaN "
                         "(the learning rate is probably too high); the last good parameters "
                         "were kept")
        self.iteration = iteration


@dataclass
class RunConfig:
    """Everything that defines a run. ``task`` is one of TASKS:

    text: min-char-rnn windows of ``seq_length`` over ``text``.
    names: one line of ``text`` per window, zero vector first, newline last (dinosaurs).
    delay: a fresh random copy task per window: target[t] = input[t - delay].
    fixed: the same ``inputs``/``targets`` every window (the one-step notebook).
    captioning: cs231n's CaptioningRNN on the caption ``dataset`` (a path under resources/).

    :meth:`validate` checks every field against :mod:`bpttviz.engine.limits`.
    """

    task: str = "text"
    text: str = ""
    cell: str = "rnn"
    hidden_size: int = 100
    seq_length: int = 25
    seed: int = 0
    init_scale: float = 0.01
    whh_radius: Optional[float] = None
    clip: Optional[str] = "value"
    clip_value: float = 5.0
    optimizer: str = "adagrad"
    lr: float = 0.1
    delay: int = 8
    symbols: int = 4
    inputs: tuple = ()
    targets: tuple = ()
    vocab: tuple = ()  # fixed/delay tasks name their symbols here
    carry_state: bool = True
    backprop_bug: Optional[str] = None
    truncation: Optional[int] = None  # teaching: the window the truncation view compares
    #: "all": the loss is summed over every step (the seed); "last": only the last step's
    #: loss is backpropagated (the others are still computed and shown): Trace.loss_steps.
    loss_steps: str = "all"
    #: None: training uses full BPTT over the window; k: gradients truncated to windows of
    #: k steps (Trace.bptt_window), for the trace the views step through and for training.
    train_truncation: Optional[int] = None
    # captioning (cs231n CaptioningRNN) only:
    dataset: str = ""
    wordvec_dim: int = 16
    batch_size: int = 25

    def with_changes(self, **changes) -> "RunConfig":
        return replace(self, **changes)

    def validate(self) -> "RunConfig":
        """Check every field against the limits (:mod:`bpttviz.engine.limits`); return self.

        Raises ValueError (a :class:`~bpttviz.engine.limits.LimitError` for a range) whose
        message names the field, the value, the limit and the reason.  Cheap enough for every
        edit (a 10 MB corpus costs ~50 ms).
        """
        def choice(name, value, options):
            if not any(value is o or (type(value) is type(o) and value == o) for o in options):
                shown = ", ".join("None" if o is None else repr(o) for o in options)
                raise ValueError(f"{name} must be one of {shown}; got {value!r}")

        choice("task", self.task, TASKS)
        choice("cell", self.cell, CELLS)
        for name, limit in L.CONFIG_LIMITS.items():
            limit.check(getattr(self, name), name)
        if self.whh_radius is not None:
            L.WHH_RADIUS.check(self.whh_radius, "whh_radius")
            if self.cell != "rnn":
                raise ValueError(f"whh_radius applies to cell 'rnn' only; got cell {self.cell!r}")
        choice("clip", self.clip, CLIP_MODES)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("backprop_bug", self.backprop_bug, BACKPROP_BUGS)
        if not _is_bool(self.carry_state):
            raise ValueError(f"carry_state must be True or False; got {self.carry_state!r}")
        if self.truncation is not None:
            L.TRUNCATION.check(self.truncation, "truncation")
        choice("loss_steps", self.loss_steps, LOSS_STEPS)
        if self.train_truncation is not None:
            L.TRUNCATION.check(self.train_truncation, "train_truncation")
        if self.task == "captioning" and (self.loss_steps != "all" or self.train_truncation is not None):
            raise ValueError("loss_steps 'last' and train_truncation apply to the character "
                             "model only, not to the captioning task")
        if not isinstance(self.text, str):
            raise ValueError(f"text must be a string; got {type(self.text).__name__}")
        if len(self.text) > L.CORPUS_BYTES.high:
            raise L.LimitError("text (corpus characters)", f"{len(self.text)} characters",
                               L.CORPUS_BYTES)
        self._validate_symbols()
        self._validate_task()
        return self

    def _validate_symbols(self):
        for name in ("inputs", "targets", "vocab"):
            v = getattr(self, name)
            if not isinstance(v, (tuple, list)):
                raise ValueError(f"{name} must be a list; got {type(v).__name__}")
            if len(v) > L.CORPUS_BYTES.high:
                raise ValueError(f"{name} has {len(v)} entries; far more than any window")
        if not all(isinstance(s, str) for s in self.vocab) or len(set(self.vocab)) != len(self.vocab):
            raise ValueError("vocab must be distinct strings")
        if len(self.vocab) > L.VOCAB_SIZE.high:
            raise L.LimitError("vocab", f"{len(self.vocab)} symbols", L.VOCAB_SIZE)

    def _validate_task(self):
        task = self.task
        if task == "text":
            if not self.text:
                raise ValueError("the text task needs a corpus (text is empty)")
            self._check_distinct(self.text)
            if self.seq_length + 1 > len(self.text):
                raise ValueError(f"seq_length {self.seq_length} is longer than the corpus allows: "
                                 f"the corpus has {len(self.text)} characters, so seq_length can "
                                 f"be at most {len(self.text) - 1}")
        elif task == "names":
            lines = [s.strip() for s in self.text.split("\n") if s.strip()]
            if not lines:
                raise ValueError("the names task needs a name list (text has no names)")
            self._check_distinct("".join(lines) + "\n")
            longest = max(len(s) for s in lines) + 1
            if longest > L.TIMESTEPS.high:
                raise L.LimitError("names (longest name + 1)", f"{longest} steps", L.TIMESTEPS)
        elif task == "delay":
            if not self.delay < self.seq_length:
                raise ValueError(f"delay must be from 1 to seq_length - 1 ({self.seq_length - 1}); "
                                 f"got {self.delay}")
            if self.vocab and len(self.vocab) < self.symbols + 1:
                raise ValueError(f"vocab names {len(self.vocab)} symbols; the delay task with "
                                 f"symbols={self.symbols} needs {self.symbols + 1} (blank first)")
        elif task == "fixed":
            ins, outs = self.inputs, self.targets
            if not ins or len(ins) != len(outs):
                raise ValueError(f"inputs and targets must be equally long and not empty; got "
                                 f"{len(ins)} and {len(outs)}")
            if len(ins) > L.TIMESTEPS.high:
                raise L.LimitError("inputs", f"{len(ins)} steps", L.TIMESTEPS)
            if not all(_is_int(i) and i >= -1 for i in ins) or \
                    not all(_is_int(i) and i >= 0 for i in outs):
                raise ValueError("inputs must be symbol indices >= -1 (-1: the zero vector) and "
                                 "targets indices >= 0")
            V = len(self.vocab) if self.vocab else max(max(ins), max(outs)) + 1
            if max(max(ins), max(outs)) >= V:
                raise ValueError(f"inputs/targets use index {max(max(ins), max(outs))} but vocab "
                                 f"names only {V} symbols")
            if V > L.VOCAB_SIZE.high:
                raise L.LimitError("vocabulary size", V, L.VOCAB_SIZE)
        elif task == "captioning":
            d = self.dataset
            if not isinstance(d, str):
                raise ValueError(f"dataset must be a path; got {type(d).__name__}")
            parts = d.replace("\\", "/").split("/")
            if d and (os.path.isabs(d) or ".." in parts or not d.endswith(".npz")):
                raise ValueError(f"dataset must be an .npz file under the resources folder "
                                 f"(a relative path without '..'); got {d!r}")

    @staticmethod
    def _check_distinct(text: str):
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        distinct = int(np.count_nonzero(np.bincount(codes))) if codes.size else 0
        if distinct < L.VOCAB_SIZE.low:
            raise ValueError(f"the corpus has only {distinct} distinct character; a model needs "
                             "at least 2 to predict anything")
        if distinct > L.VOCAB_SIZE.high:
            raise L.LimitError("vocabulary size (distinct characters)", distinct, L.VOCAB_SIZE)


def config_from_dict(values: dict) -> RunConfig:
    """A RunConfig from a plain dict (e.g. JSON): unknown keys are ignored, list fields become
    tuples.  Not validated (call ``validate()``); TypeError-free: ValueError if not a dict."""
    if not isinstance(values, dict):
        raise ValueError(f"the config must be a mapping; got {type(values).__name__}")
    known = {f.name for f in fields(RunConfig)}
    cfg = {k: v for k, v in values.items() if k in known}
    for k in ("inputs", "targets", "vocab"):
        if isinstance(cfg.get(k), list):
            cfg[k] = tuple(cfg[k])
    return RunConfig(**cfg)


@runtime_checkable
class Run(Protocol):
    """The interface of every run (see the module docstring for the contract)."""

    config: RunConfig
    params: Dict[str, np.ndarray]
    iteration: int
    history: History

    def trace(self): ...

    def loss_at_chance(self) -> float: ...

    def update(self, trace=None) -> Dict[str, np.ndarray]: ...

    def update_gradient(self, trace) -> Dict[str, np.ndarray]: ...

    def train(self, n: int, should_stop: Optional[Callable[[], bool]] = None,
              on_batch_end: Optional[Callable[["Run"], None]] = None) -> int: ...

    def sample_text(self, n: int = 200, temperature: float = 1.0, seed: Optional[int] = None) -> str: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


_STATE_KEYS = ("iteration", "pointer", "smooth_loss", "h", "c", "params", "optimizer", "history")


class RunBase:
    """The shared half of CharRun and CaptionRun: the optimizer step with divergence checks,
    the one training loop, and the state dict.  Subclasses set ``config, params, optimizer,
    iteration, pointer, h, c, smooth_loss, history, _trace`` and implement ``trace`` and
    ``update``; ``SMOOTHING`` is the smoothed loss's decay."""

    SMOOTHING = 0.999

    def _apply(self, loss: float, grads: Dict[str, np.ndarray], before: float,
               after: float) -> Dict[str, np.ndarray]:
        """The optimizer step; DivergenceError (params and optimizer untouched) on inf/NaN."""
        if not math.isfinite(loss) or not math.isfinite(before):
            raise DivergenceError(self.iteration, "the loss or gradient")
        backup = {k: v.copy() for k, v in self.params.items()}
        opt_backup = {k: v.copy() for k, v in self.optimizer.state.items()}
        with np.errstate(over="ignore", invalid="ignore"):  # detected just below
            updates = self.optimizer.step(self.params, grads)
        if not all(np.all(np.isfinite(v)) for v in self.params.values()):
            self.params.update(backup)
            self.optimizer.state = opt_backup
            raise DivergenceError(self.iteration, "a parameter")
        a = self.SMOOTHING
        self.smooth_loss = self.smooth_loss * a + loss * (1 - a)
        self.history.record(loss, self.smooth_loss, before, after)
        return updates

    def train(self, n: int, should_stop: Optional[Callable[[], bool]] = None,
              on_batch_end: Optional[Callable[["RunBase"], None]] = None) -> int:
        """Run ``n`` iterations, each one ``update()``: the only training loop.

        ``should_stop()`` is polled before every iteration (True: return at once);
        ``on_batch_end(run)`` is called after every iteration.  Returns how many ran.
        DivergenceError propagates (the failed iteration is not counted; ``on_batch_end``
        has been called for every one that succeeded).
        """
        if not _is_int(n) or n < 0:
            raise ValueError(f"the number of iterations must be a whole number >= 0; got {n!r}")
        done = 0
        for _ in range(int(n)):
            if should_stop is not None and should_stop():
                break
            self.update()
            done += 1
            if on_batch_end is not None:
                on_batch_end(self)
        return done

    def sample(self, n: int = 200, temperature: float = 1.0, seed: Optional[int] = None) -> str:
        """Same as ``sample_text``."""
        return self.sample_text(n, temperature, seed)

    # --- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything training changes, as copies: ``iteration, pointer`` (int),
        ``smooth_loss`` (float), ``h, c`` (H,), ``params`` and ``optimizer`` (name -> array),
        ``history`` (field -> (n,) float64, plus its ``stride`` and ``pending`` block)."""
        return {"iteration": int(self.iteration), "pointer": int(self.pointer),
                "smooth_loss": float(self.smooth_loss),
                "h": np.array(self.h, dtype=float), "c": np.array(self.c, dtype=float),
                "params": {k: v.copy() for k, v in self.params.items()},
                "optimizer": {k: np.array(v, dtype=float) for k, v in self.optimizer.state.items()},
                "history": self.history.state()}

    def _max_pointer(self) -> int:
        return 0

    def load_state_dict(self, state: dict) -> None:
        """Replace the run's training state by ``state`` (as from :meth:`state_dict`).

        Everything is checked before anything changes: known keys only, iteration >= 0, the
        data position inside the corpus, finite smoothed loss, parameter names and shapes equal
        to this run's, optimizer state names/shapes matching the parameters (adagrad memory and
        adam's second moment >= 0), h and c (H,), history four aligned finite (n,) series
        within the history limit.  ValueError naming the problem otherwise.
        """
        if not isinstance(state, dict):
            raise ValueError(f"the run state must be a mapping; got {type(state).__name__}")
        missing = [k for k in _STATE_KEYS if k not in state]
        unknown = sorted(set(state) - set(_STATE_KEYS))
        if missing or unknown:
            raise ValueError(f"the run state {'lacks ' + ', '.join(missing) if missing else ''}"
                             f"{'; ' if missing and unknown else ''}"
                             f"{'has unknown entries ' + ', '.join(unknown) if unknown else ''}")
        iteration, pointer = state["iteration"], state["pointer"]
        L.ITERATION.check(iteration, "iteration")
        if not _is_int(pointer) or not 0 <= pointer <= self._max_pointer():
            raise ValueError(f"the data position (pointer) must be from 0 to {self._max_pointer()} "
                             f"for this corpus; got {pointer!r}")
        smooth = state["smooth_loss"]
        if isinstance(smooth, bool) or not isinstance(smooth, (int, float, np.floating, np.integer)) \
                or not math.isfinite(float(smooth)):
            raise ValueError(f"smooth_loss must be a finite number; got {smooth!r}")
        H = self.config.hidden_size
        h = _real_array("h", state["h"], (H,))
        c = _real_array("c", state["c"], (H,))
        params = _array_dict("params", state["params"])
        if set(params) != set(self.params):
            raise ValueError(f"the parameters are {', '.join(sorted(params)) or 'none'}; this model "
                             f"has {', '.join(sorted(self.params))}")
        for k, v in params.items():
            if v.shape != self.params[k].shape:
                raise ValueError(f"parameter {k} has shape {v.shape}; this model needs "
                                 f"{self.params[k].shape}")
            _finite(f"parameter {k}", v)
        opt = _array_dict("optimizer state", state["optimizer"])
        self.optimizer.check_state(opt, params)
        history = check_history_state(state["history"])
        # All checked: now change the run.
        self.iteration, self.pointer, self.smooth_loss = int(iteration), int(pointer), float(smooth)
        self.h, self.c = h.copy(), c.copy()
        self.params = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
        self.optimizer.state = {k: np.array(v, dtype=float, copy=True) for k, v in opt.items()}
        self.history = history
        self._trace = None



def _array_dict(name: str, value) -> Dict[str, np.ndarray]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{name} must map names to arrays")
    return {k: _real_array(f"{name} {k}", v, None) for k, v in value.items()}

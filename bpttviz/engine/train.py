"""A training run of the character model: where the next window comes from, the carried
hidden state, the optimizer, the smoothed loss and the histories the GUI plots.

The GUI steps one window at a time (``trace()`` then ``update()``); live training and the
command line call ``train(n)``.  Both go through the same two methods, so what the timeline
shows is exactly what training does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional

import numpy as np

from .data import (CorpusError, Vocabulary, check_seq_length, delay_task, name_example,
                   split_names, text_window)
from .model import init_params, run_bptt, sample
from .optim import make_optimizer

TASKS = ("text", "names", "delay", "fixed", "captioning")


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
    # captioning (cs231n CaptioningRNN) only:
    dataset: str = ""
    wordvec_dim: int = 16
    batch_size: int = 25

    def with_changes(self, **changes) -> "RunConfig":
        return replace(self, **changes)


@dataclass
class History:
    """Per-iteration records (lists of floats, one entry per update)."""

    loss: List[float] = field(default_factory=list)
    smooth_loss: List[float] = field(default_factory=list)
    grad_norm_before_clip: List[float] = field(default_factory=list)
    grad_norm_after_clip: List[float] = field(default_factory=list)


def make_run(config: RunConfig, params: Optional[Dict[str, np.ndarray]] = None):
    """A CharRun, or a CaptionRun for ``task="captioning"`` (same interface)."""
    if config.task == "captioning":
        from .caption_run import CaptionRun
        return CaptionRun(config, params)
    return CharRun(config, params)


class CharRun:
    """One run of the character model.  ``params`` are updated in place by ``update``."""

    def __init__(self, config: RunConfig, params: Optional[Dict[str, np.ndarray]] = None):
        if config.task not in TASKS or config.task == "captioning":
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {config.task!r}")
        self.config = config
        self.vocab, self._data, self._names = self._build_data(config)
        V = len(self.vocab)
        if params is None:
            params = init_params(config.cell, V, config.hidden_size, seed=config.seed,
                                 scale=config.init_scale, whh_radius=config.whh_radius)
        self.params = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.rng = np.random.default_rng(config.seed)
        self.iteration = 0
        self.pointer = 0
        H = config.hidden_size
        self.h = np.zeros(H)
        self.c = np.zeros(H)
        self.smooth_loss = -math.log(1.0 / V) * self._expected_len()
        self.history = History()
        self._trace = None

    # --- data ---------------------------------------------------------------------------
    @staticmethod
    def _build_data(config: RunConfig):
        if config.task == "text":
            if not config.text:
                raise CorpusError("the text task needs a corpus")
            vocab = Vocabulary.from_text(config.text)
            data = vocab.encode(config.text)
            check_seq_length(config.seq_length, data.size)
            return vocab, data, None
        if config.task == "names":
            names = split_names(config.text)
            if not names:
                raise CorpusError("the name list is empty")
            vocab = Vocabulary.from_text("".join(names) + "\n")
            rng = np.random.default_rng(config.seed)
            order = rng.permutation(len(names))
            return vocab, None, [names[i] for i in order]
        if config.task == "delay":
            if not 1 <= config.delay < config.seq_length:
                raise ValueError(f"delay must be from 1 to seq_length - 1 ({config.seq_length - 1}); "
                                 f"got {config.delay}")
            labels = tuple(config.vocab) or ("_",) + tuple("ABCDEFGHIJ"[:config.symbols])
            return Vocabulary(list(labels)), None, None
        labels = tuple(config.vocab) or tuple(str(i) for i in range(max(max(config.inputs), max(config.targets)) + 1))
        return Vocabulary(list(labels)), None, None

    def _expected_len(self) -> int:
        c = self.config
        if c.task == "names":
            return max(1, int(np.mean([len(n) + 1 for n in self._names])))
        if c.task == "fixed":
            return len(c.inputs)
        return c.seq_length

    def window(self):
        """The current window: ``(inputs, targets)``, each (T,) indices."""
        c = self.config
        if c.task == "text":
            return text_window(self._data, self.pointer, c.seq_length)
        if c.task == "names":
            return name_example(self._names[self.iteration % len(self._names)], self.vocab)
        if c.task == "delay":
            return delay_task(c.seq_length, c.delay, c.symbols, seed=c.seed * 100_003 + self.iteration)
        return np.asarray(c.inputs, dtype=np.intp), np.asarray(c.targets, dtype=np.intp)

    def _starts_fresh(self) -> bool:
        c = self.config
        if c.task == "text":
            return self.iteration == 0 or not c.carry_state
        return c.task in ("delay", "fixed") or not c.carry_state

    # --- one iteration ------------------------------------------------------------------
    def trace(self):
        """The trace of the current window with the current parameters (cached until update)."""
        if self._trace is None:
            inputs, targets = self.window()
            fresh = self._starts_fresh()
            H = self.config.hidden_size
            h0 = np.zeros(H) if fresh else self.h
            c0 = (np.zeros(H) if fresh else self.c) if self.config.cell == "lstm" else None
            self._trace = run_bptt(self.params, inputs, targets, h0=h0, c0=c0, cell=self.config.cell,
                                   clip=self.config.clip, clip_value=self.config.clip_value,
                                   backprop_bug=self.config.backprop_bug)
        return self._trace

    def update(self, trace=None) -> Dict[str, np.ndarray]:
        """Apply the optimizer with the (clipped) gradients of ``trace`` (default: the current
        one), carry the hidden state, advance the data.  Returns the update applied per
        parameter.  Raises DivergenceError, leaving params untouched, on inf/NaN."""
        trace = trace if trace is not None else self.trace()
        if not math.isfinite(trace.loss) or not math.isfinite(trace.grad_norm_before_clip):
            raise DivergenceError(self.iteration, "the loss or gradient")
        backup = {k: v.copy() for k, v in self.params.items()}
        opt_backup = {k: v.copy() for k, v in self.optimizer.state.items()}
        with np.errstate(over="ignore", invalid="ignore"):  # detected just below
            updates = self.optimizer.step(self.params, trace.grads)
        if not all(np.all(np.isfinite(v)) for v in self.params.values()):
            self.params.update(backup)
            self.optimizer.state = opt_backup
            raise DivergenceError(self.iteration, "a parameter")
        self.smooth_loss = self.smooth_loss * 0.999 + trace.loss * 0.001
        hist = self.history
        hist.loss.append(trace.loss)
        hist.smooth_loss.append(self.smooth_loss)
        hist.grad_norm_before_clip.append(trace.grad_norm_before_clip)
        hist.grad_norm_after_clip.append(trace.grad_norm_after_clip)
        self.h = trace.h_last.copy()
        if trace.c_last is not None:
            self.c = trace.c_last.copy()
        self.iteration += 1
        if self.config.task == "text":
            self.pointer += self.config.seq_length
            # min-char-rnn: at the end of the data, go back to the start with a fresh state.
            if self.pointer + self.config.seq_length + 1 > self._data.size:
                self.pointer = 0
                self.h = np.zeros_like(self.h)
                self.c = np.zeros_like(self.c)
        self._trace = None
        return updates

    def train(self, n: int, should_stop: Optional[Callable[[], bool]] = None,
              progress: Optional[Callable[[int], None]] = None) -> int:
        """Run ``n`` iterations (or until ``should_stop()``). Returns how many ran."""
        done = 0
        for _ in range(int(n)):
            if should_stop is not None and should_stop():
                break
            self.update()
            done += 1
            if progress is not None:
                progress(done)
        return done

    def sample_text(self, n: int = 200, temperature: float = 1.0, seed: Optional[int] = None) -> str:
        """Text sampled from the model (a name per line for the names task)."""
        rng = np.random.default_rng(seed) if seed is not None else self.rng
        V = len(self.vocab)
        if self.config.task == "names":
            nl = self.vocab.index["\n"]
            out = sample(self.params, None, -1, min(int(n), 50), self.config.cell,
                         temperature=temperature, rng=rng, stop_ix=nl)
            return self.vocab.decode(out).strip("\n")
        start = int(self.window()[0][0])
        out = sample(self.params, self.h, start if start >= 0 else rng.integers(V), int(n),
                     self.config.cell, c=self.c, temperature=temperature, rng=rng)
        return self.vocab.decode(out)

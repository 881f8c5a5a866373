"""A training run of the character model: where the next window comes from, the carried
hidden state, the optimizer, the smoothed loss and the histories the GUI plots.

The GUI steps one window at a time (``trace()`` then ``update()``); live training and the
command line call ``train(n)``, which is ``update()`` n times (:class:`RunBase.train`, the one
training loop), so what the timeline shows is exactly what training does.  The shared
interface (:class:`Run`), :class:`RunConfig` and its ``validate()`` live in
:mod:`bpttviz.engine.run` and are re-exported here.
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

from .data import (CorpusError, Vocabulary, check_seq_length, delay_task, name_example,
                   split_names, text_window)
from .model import init_params, param_shapes, run_bptt
from .sampling import sample
from .optim import make_optimizer
from .run import (HISTORY_FIELDS, TASKS, DivergenceError, History, Run, RunBase, RunConfig,
                  Series, config_from_dict)

__all__ = ["CharRun", "DivergenceError", "History", "HISTORY_FIELDS", "Run", "RunBase",
           "RunConfig", "Series", "TASKS", "config_from_dict", "make_run"]


def make_run(config: RunConfig, params: Optional[Dict[str, np.ndarray]] = None) -> Run:
    """A CharRun, or a CaptionRun for ``task="captioning"`` (both follow :class:`Run`).
    The config is validated first (ValueError naming the field and limit)."""
    if config.task == "captioning":
        from .caption_run import CaptionRun
        return CaptionRun(config, params)
    return CharRun(config, params)


class CharRun(RunBase):
    """One run of the character model (the :class:`Run` protocol).  ``params`` are updated
    in place by ``update``; given ``params`` must have this config's names and shapes."""

    def __init__(self, config: RunConfig, params: Optional[Dict[str, np.ndarray]] = None):
        if config.task not in TASKS or config.task == "captioning":
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {config.task!r}")
        config.validate()
        self.config = config
        self.vocab, self._data, self._names = self._build_data(config)
        V = len(self.vocab)
        if params is None:
            params = init_params(config.cell, V, config.hidden_size, seed=config.seed,
                                 scale=config.init_scale, whh_radius=config.whh_radius)
        else:
            shapes = param_shapes(config.cell, V, config.hidden_size)
            if set(params) != set(shapes):
                raise ValueError(f"the parameters are {', '.join(sorted(params))}; a {config.cell} "
                                 f"model has {', '.join(sorted(shapes))}")
            for k, shape in shapes.items():
                if np.shape(params[k]) != shape:
                    raise ValueError(f"parameter {k} has shape {np.shape(params[k])}; this model "
                                     f"(V={V}, H={config.hidden_size}) needs {shape}")
        self.params = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.rng = np.random.default_rng(config.seed)
        self.iteration = 0
        self.pointer = 0
        H = config.hidden_size
        self.h = np.zeros(H)
        self.c = np.zeros(H)
        self.smooth_loss = self.loss_at_chance()
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

    def loss_at_chance(self) -> float:
        """A window's loss for a uniform guess, ln V per step with a loss (the smoothed loss
        starts there, as in min-char-rnn)."""
        return -math.log(1.0 / len(self.vocab)) * self._expected_len()

    def _expected_len(self) -> int:
        """How many steps' losses the loss sums (the smoothed loss starts at that x ln V)."""
        c = self.config
        if c.loss_steps == "last":
            return 1
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
                                   backprop_bug=self.config.backprop_bug,
                                   last_step_only=self.config.loss_steps == "last",
                                   bptt_window=self.config.train_truncation)
        return self._trace

    def update_gradient(self, trace) -> Dict[str, np.ndarray]:
        """The gradients ``update(trace)`` applies: the window's clipped gradients."""
        return trace.grads

    def update(self, trace=None) -> Dict[str, np.ndarray]:
        """One iteration: apply the optimizer with the (clipped) gradients of ``trace``
        (default: the current one), carry the hidden state, advance the data.  Returns the
        update applied per parameter.  Raises DivergenceError, leaving params untouched, on
        inf/NaN."""
        trace = trace if trace is not None else self.trace()
        updates = self._apply(trace.loss, trace.grads, trace.grad_norm_before_clip,
                              trace.grad_norm_after_clip)
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

    def _max_pointer(self) -> int:
        if self.config.task != "text":
            return 0
        return max(0, self._data.size - self.config.seq_length - 1)

    def sample_text(self, n: int = 200, temperature: float = 1.0, seed: Optional[int] = None) -> str:
        """Text sampled from the model (a name per line for the names task); ``seed`` None
        uses (and advances) the run's own generator."""
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

"""cs231n's CaptioningRNN as a steppable run: the :class:`~bpttviz.engine.run.Run` protocol,
so the window, the exports and the teaching views step through a caption exactly as through
text.

**One iteration is one minibatch update**, as in cs231n: iteration i draws a minibatch of
``batch_size`` distinct captions (a pure function of ``seed`` and ``i``, so saving and
reopening a session, stepping, ``train(n)`` and the GUI worker all see the same batches) and
applies the optimizer to the minibatch's (clipped) mean gradient.  The timeline steps through
the **first caption of that minibatch** (its image features set h0; the trace's loss and
gradients are that caption's, N = 1); the update event then applies the whole minibatch's
gradient (``trace.batch_grads``, ``update_gradient(trace)``).  Stepping past the update and
``train(1)`` therefore give identical parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
import os
import stat
from typing import Dict, Optional

import numpy as np

from .captioning import (caption_forward_backward, caption_sample, decode_captions,
                         init_caption_params, check_caption_params, load_caption_dataset)
from .cells import step_forward
from .clipping import clip_gradients
from .data import Vocabulary
from .model import Trace
from .optim import make_optimizer
from .run import History, RunBase


@dataclass
class CaptionStepTrace(Trace):
    """A :class:`Trace` of one caption through CaptioningRNN, with cs231n's parameter names
    (``W_embed, W_proj, b_proj, Wx, Wh, b, W_vocab, b_vocab``; weights multiply row vectors).

    Fields as in Trace with ``x`` (T, W) the word vectors; additionally ``features`` (D,),
    ``mask`` (T,) (False where the target is <NULL>) and ``dx`` (T, W) the gradient at the
    word vectors.  Step contributions: W_embed gets dx_t in the row of word t; W_proj and
    b_proj receive the gradient only through h0, i.e. at backward step 0.
    """

    features: np.ndarray = None
    mask: np.ndarray = None
    dx: np.ndarray = None
    #: The iteration's minibatch: (N,) dataset indices (the stepped caption is batch[0]),
    #: its mean loss, its clipped gradients (what the update applies) and its ClipReport.
    batch: np.ndarray = None
    batch_loss: float = float("nan")
    batch_grads: Dict[str, np.ndarray] = None
    batch_clip: object = None

    @property
    def recurrent_weights(self) -> np.ndarray:
        return self.params["Wh"]

    @property
    def recurrent_name(self) -> str:
        return "Wh"

    def step_grad(self, name: str, t: int) -> np.ndarray:
        if name == "Wx":
            return np.outer(self.x[t], self.dax[t])
        if name == "Wh":
            return np.outer(self.h_prev[t], self.dah[t])
        if name == "b":
            return self.dax[t].copy()
        if name == "W_vocab":
            return np.outer(self.h[t], self.dy[t])
        if name == "b_vocab":
            return self.dy[t].copy()
        if name == "W_embed":
            out = np.zeros_like(self.params["W_embed"])
            out[self.inputs[t]] += self.dx[t]
            return out
        if name in ("W_proj", "b_proj"):
            if t != 0:
                return np.zeros_like(self.params[name])
            return np.outer(self.features, self.dhnext[0]) if name == "W_proj" else self.dhnext[0].copy()
        raise KeyError(name)

    def step_grad_norms(self, name: str) -> np.ndarray:
        return np.array([np.linalg.norm(self.step_grad(name, t)) for t in range(self.T)])

    def accumulated_grad(self, name: str, t: int) -> np.ndarray:
        total = np.zeros_like(self.params[name])
        for s in range(t, self.T):
            total += self.step_grad(name, s)
        return total


def caption_step_trace(params, features, caption, cell: str, null: int, clip, clip_value) -> CaptionStepTrace:
    """The trace of one caption: features (D,), caption (T+1,) word indices."""
    ct = caption_forward_backward(params, features[None, :], caption[None, :], cell=cell, null=null)
    Wh, b, Wx = params["Wh"], params["b"], params["Wx"]
    x = ct.x[0]
    ax = x @ Wx + b
    h0 = ct.h0[0]
    H = h0.size
    # Step caches for the analyses that replay steps (contributions, Jacobians).
    caches, h, c = [], h0, (np.zeros(H) if cell == "lstm" else None)
    for t in range(ct.T):
        cache = step_forward(cell, ax[t], h, Wh, c)
        caches.append(cache)
        h, c = cache.h, cache.c
    hs = ct.h[0]
    h_prev = np.vstack([h0[None], hs[:-1]])
    grads_raw = {k: v.copy() for k, v in ct.grads.items()}
    grads, report = clip_gradients(grads_raw, clip, clip_value)
    lstm = cell == "lstm"
    c_arr = ct.c[0] if lstm else None
    return CaptionStepTrace(
        x=x, h_prev=h_prev, preact=ct.preact[0], gates={k: v[0] for k, v in ct.gates.items()},
        h=hs, c=c_arr, c_prev=np.vstack([np.zeros((1, H)), c_arr[:-1]]) if lstm else None,
        logits=ct.scores[0], p=ct.p[0], losses=ct.losses[0], loss=ct.loss, caches=caches,
        cell=cell, inputs=ct.captions_in[0].astype(np.intp), targets=ct.captions_out[0].astype(np.intp),
        h0=h0.copy(), c0=np.zeros(H) if lstm else None,
        params={k: np.array(v, dtype=float, copy=True) for k, v in params.items()},
        dy=ct.dscores[0], dh_from_output=ct.dh_from_output[0],
        dh_from_future=ct.dh[0] - ct.dh_from_output[0], dh=ct.dh[0], dax=ct.dax[0], dah=ct.dah[0],
        dhnext=ct.dhnext[0], dc=ct.dc[0] if lstm else None, dcnext=ct.dcnext[0] if lstm else None,
        grads_raw=grads_raw, grads=grads, grad_norms_raw=report.norms_before,
        grad_norms=report.norms_after, grad_norm_before_clip=report.grad_norm_before_clip,
        grad_norm_after_clip=report.grad_norm_after_clip, clip=report,
        h_last=hs[-1].copy(), c_last=c_arr[-1].copy() if lstm else None,
        features=np.asarray(features, dtype=float).copy(), mask=ct.mask[0], dx=ct.dx[0],
    )


class CaptionRun(RunBase):
    """Stepping and training CaptioningRNN on a caption dataset (see the module docstring)."""

    SMOOTHING = 0.99

    def __init__(self, config, params: Optional[Dict[str, np.ndarray]] = None):
        from ..resources_path import resources_dir
        config.validate()
        self.config = config
        path = config.dataset or "captioning/shapes.npz"
        full = str(resources_dir() / path)
        try:
            mode = os.stat(full).st_mode
        except OSError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):  # a FIFO would block the read
            raise ValueError(f"caption dataset {path} is not a regular file")
        self.dataset = load_caption_dataset(full)
        if config.cell not in ("rnn", "lstm", "gru"):
            raise ValueError(f"cell must be one of rnn, lstm, gru; got {config.cell!r}")
        self.vocab = Vocabulary(list(self.dataset.vocab))
        if params is None:
            params = init_caption_params(config.cell, len(self.dataset.vocab), self.dataset.input_dim,
                                         config.wordvec_dim, config.hidden_size, seed=config.seed)
        self.params = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
        check_caption_params(self.params, config.cell)
        expected = init_caption_params(config.cell, len(self.dataset.vocab), self.dataset.input_dim,
                                       config.wordvec_dim, config.hidden_size, seed=0)
        for k, v in expected.items():
            if self.params[k].shape != v.shape:
                raise ValueError(f"parameter {k} has shape {self.params[k].shape}; this model "
                                 f"needs {v.shape}")
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.rng = np.random.default_rng(config.seed)
        self._order = np.random.default_rng(config.seed).permutation(self.dataset.num_examples)
        self.iteration = 0
        self.pointer = 0
        self._data = None  # no text corpus; the session checks this
        H = config.hidden_size
        self.h, self.c = np.zeros(H), np.zeros(H)
        self.smooth_loss = self.loss_at_chance()
        self.history = History()
        self._trace = None

    def loss_at_chance(self) -> float:
        """A caption's loss for a uniform guess, ln V per step (the smoothed loss starts there)."""
        return math.log(len(self.vocab)) * self.dataset.T

    def batch(self, iteration: Optional[int] = None) -> np.ndarray:
        """(N,) distinct dataset indices of an iteration's minibatch (default: the current
        one), N = min(batch_size, dataset size); a function of (seed, iteration) only."""
        it = self.iteration if iteration is None else int(iteration)
        rng = np.random.default_rng([int(self.config.seed), it])
        n = self.dataset.num_examples
        return rng.choice(n, size=min(self.config.batch_size, n), replace=False)

    @property
    def example(self) -> int:
        """Index (into the dataset) of the caption the timeline steps through: the first of
        the iteration's minibatch."""
        return int(self.batch()[0])

    def window(self):
        cap = self.dataset.captions[self.example]
        return cap[:-1].astype(np.intp), cap[1:].astype(np.intp)

    def _batch_gradient(self, batch: np.ndarray):
        """``(loss, clipped grads, ClipReport)`` of a minibatch with the current parameters."""
        ds = self.dataset
        ct = caption_forward_backward(self.params, ds.features[batch], ds.captions[batch],
                                      cell=self.config.cell, null=ds.null)
        grads, report = clip_gradients(ct.grads, self.config.clip, self.config.clip_value)
        return ct.loss, grads, report

    def trace(self) -> CaptionStepTrace:
        if self._trace is None:
            batch = self.batch()
            i = int(batch[0])
            tr = caption_step_trace(self.params, self.dataset.features[i],
                                    self.dataset.captions[i], self.config.cell,
                                    self.dataset.null, self.config.clip, self.config.clip_value)
            tr.batch = batch
            tr.batch_loss, tr.batch_grads, tr.batch_clip = self._batch_gradient(batch)
            self._trace = tr
        return self._trace

    def update_gradient(self, trace) -> Dict[str, np.ndarray]:
        """The gradients ``update(trace)`` applies: the minibatch's clipped mean gradient."""
        return trace.batch_grads

    def update(self, trace=None):
        """One iteration: one update with the minibatch's (clipped) gradient.  Without a
        cached trace, the minibatch gradient is computed directly (no step trace is built)."""
        if trace is None:
            trace = self._trace
        if trace is not None:
            loss, grads, report = trace.batch_loss, trace.batch_grads, trace.batch_clip
        else:
            loss, grads, report = self._batch_gradient(self.batch())
        updates = self._apply(loss, grads, report.grad_norm_before_clip,
                              report.grad_norm_after_clip)
        self.iteration += 1
        self._trace = None
        return updates

    def sample_text(self, n: int = 200, temperature: float = 1.0, seed=None) -> str:
        """Greedy captions of a few images next to their true captions."""
        ds = self.dataset
        idx = self._order[:4]
        out = caption_sample(self.params, ds.features[idx], ds.start, ds.null, max_length=ds.T,
                             cell=self.config.cell, end=ds.end)
        said = decode_captions(out, ds.vocab)
        truth = decode_captions(ds.captions[idx, 1:], ds.vocab)
        return "\n".join(f"model: {s:32s} true: {t}" for s, t in zip(said, truth))

"""cs231n's CaptioningRNN as a steppable run: the same interface as :class:`CharRun`, so the
window, the exports and the teaching views step through a caption exactly as through text.

The timeline steps through **one caption** per iteration (its image features set h0; the
loss is that caption's masked cross-entropy, N = 1).  ``train(n)`` uses minibatches of
``batch_size`` captions, as the assignment does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from .captioning import (_check_size, caption_forward_backward, caption_sample, decode_captions,
                         init_caption_params, check_caption_params, load_caption_dataset)
from .cells import step_forward
from .clipping import clip_gradients
from .data import Vocabulary
from .model import Trace
from .optim import make_optimizer
from .train import DivergenceError, History


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


class CaptionRun:
    """Stepping and training CaptioningRNN on a caption dataset (see the module docstring)."""

    def __init__(self, config, params: Optional[Dict[str, np.ndarray]] = None):
        from ..resources_path import resources_dir
        self.config = config
        path = config.dataset or "captioning/shapes.npz"
        full = path if path.startswith("/") else str(resources_dir() / path)
        self.dataset = load_caption_dataset(full)
        if config.cell not in ("rnn", "lstm", "gru"):
            raise ValueError(f"cell must be one of rnn, lstm, gru; got {config.cell!r}")
        # a batch of 0 or fewer captions would fail inside train(), not here
        _check_size("batch_size", config.batch_size, 1, 100_000)
        self.vocab = Vocabulary(list(self.dataset.vocab))
        if params is None:
            params = init_caption_params(config.cell, len(self.dataset.vocab), self.dataset.input_dim,
                                         config.wordvec_dim, config.hidden_size, seed=config.seed)
        self.params = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
        check_caption_params(self.params, config.cell)
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.rng = np.random.default_rng(config.seed)
        self._order = np.random.default_rng(config.seed).permutation(self.dataset.num_examples)
        self.iteration = 0
        self.pointer = 0
        self._data = None  # no text corpus; the session checks this
        H = config.hidden_size
        self.h, self.c = np.zeros(H), np.zeros(H)
        self.smooth_loss = math.log(len(self.vocab)) * self.dataset.T
        self.history = History()
        self._trace = None

    @property
    def example(self) -> int:
        """Index (into the dataset) of the caption the timeline steps through."""
        return int(self._order[self.iteration % len(self._order)])

    def window(self):
        cap = self.dataset.captions[self.example]
        return cap[:-1].astype(np.intp), cap[1:].astype(np.intp)

    def trace(self) -> CaptionStepTrace:
        if self._trace is None:
            i = self.example
            self._trace = caption_step_trace(self.params, self.dataset.features[i],
                                             self.dataset.captions[i], self.config.cell,
                                             self.dataset.null, self.config.clip, self.config.clip_value)
        return self._trace

    def _apply(self, loss: float, grads, report):
        if not math.isfinite(loss) or not math.isfinite(report.grad_norm_before_clip):
            raise DivergenceError(self.iteration, "the loss or gradient")
        backup = {k: v.copy() for k, v in self.params.items()}
        opt_backup = {k: v.copy() for k, v in self.optimizer.state.items()}
        with np.errstate(over="ignore", invalid="ignore"):
            updates = self.optimizer.step(self.params, grads)
        if not all(np.all(np.isfinite(v)) for v in self.params.values()):
            self.params.update(backup)
            self.optimizer.state = opt_backup
            raise DivergenceError(self.iteration, "a parameter")
        self.smooth_loss = self.smooth_loss * 0.99 + loss * 0.01
        for name, value in (("loss", loss), ("smooth_loss", self.smooth_loss),
                            ("grad_norm_before_clip", report.grad_norm_before_clip),
                            ("grad_norm_after_clip", report.grad_norm_after_clip)):
            getattr(self.history, name).append(value)
        self.iteration += 1
        self._trace = None
        return updates

    def update(self, trace=None):
        """One update from the stepped caption's gradient (N = 1)."""
        trace = trace if trace is not None else self.trace()
        return self._apply(trace.loss, trace.grads, trace.clip)

    def train(self, n: int, should_stop=None, progress=None) -> int:
        """n minibatch updates of ``batch_size`` random captions each."""
        done = 0
        ds = self.dataset
        for _ in range(int(n)):
            if should_stop is not None and should_stop():
                break
            batch = self.rng.choice(ds.num_examples, size=min(self.config.batch_size, ds.num_examples),
                                    replace=False)
            ct = caption_forward_backward(self.params, ds.features[batch], ds.captions[batch],
                                          cell=self.config.cell, null=ds.null)
            grads, report = clip_gradients(ct.grads, self.config.clip, self.config.clip_value)
            self._apply(ct.loss, grads, report)
            done += 1
            if progress is not None:
                progress(done)
        return done

    def sample_text(self, n: int = 200, temperature: float = 1.0, seed=None) -> str:
        """Greedy captions of a few images next to their true captions."""
        ds = self.dataset
        idx = self._order[:4]
        out = caption_sample(self.params, ds.features[idx], ds.start, ds.null, max_length=ds.T,
                             cell=self.config.cell, end=ds.end)
        said = decode_captions(out, ds.vocab)
        truth = decode_captions(ds.captions[idx, 1:], ds.vocab)
        return "\n".join(f"model: {s:32s} true: {t}" for s, t in zip(said, truth))

"""Sampling text from the character model (:func:`sample`), split from :mod:`.model`
(which re-exports it)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import kernels as _kernels
from .cells import get_cell
from .model import _check_state, _kernel_array, check_params


def _sampling_probs(logits: np.ndarray) -> np.ndarray:
    """softmax(logits), defined also when they overflowed (weights of a run that is about to
    diverge): +inf logits share all the probability, NaN ones get none, all NaN is uniform.
    (A plain softmax gave inf - inf = NaN there, and rng.choice raised in the live panel.)"""
    z = np.where(np.isnan(logits), -np.inf, logits)
    top = z.max()
    if top == -np.inf:
        return np.full(z.size, 1.0 / z.size)
    if top == np.inf:
        p = (z == np.inf).astype(float)
        return p / p.sum()
    e = np.exp(z - top)
    return e / e.sum()


def sample(params, h, seed_ix: int, n: int, cell: str = "rnn", c=None, temperature: float = 1.0,
           rng: Optional[np.random.Generator] = None, stop_ix: Optional[int] = None) -> list:
    """Sample ``n`` indices from the model, starting from state h (H,) (and c for lstm) and
    input index ``seed_ix`` (-1 for the zero vector). Stops early after ``stop_ix`` if given.
    ``temperature`` < 1 sharpens the distribution, > 1 flattens it. Returns a list of ints."""
    V, H = check_params(params, cell)
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
    if not -1 <= int(seed_ix) < V:
        raise ValueError(f"seed_ix must be -1 (no character) or an index in [0, {V}); got {seed_ix!r}")
    rng = rng if rng is not None else np.random.default_rng()
    h = _check_state("h", h, H)
    c = _check_state("c", c, H)
    Wh = params["Whh"].T
    spec = get_cell(cell)
    fast = spec.fast_kernel == "tanh-rnn"
    if fast:
        rnn_forward = _kernels.get().rnn_forward
        rnn_args = [_kernel_array(params[k]) for k in ("Wxh", "bh", "Whh")]
    ix, out = int(seed_ix), []
    for _ in range(int(n)):
        if fast:
            # The same kernel as forward(), one step at a time, so a sampled sequence fed back
            # through forward() (with the same kernel set) retraces these states bit for bit: a
            # chaotic Whh amplifies any change in rounding until the two pick different
            # characters.
            step = np.empty((3, 1, H))
            rnn_forward(np.array([ix], dtype=np.intp), *rnn_args, h, np.zeros((1, V)), step[0],
                        step[1], step[2])
            h = step[2, 0]
        else:
            ax = params["bh"] + (params["Wxh"][:, ix] if ix >= 0 else 0.0)
            cache = spec.step_forward(ax, h, Wh, c if spec.has_cell_state else None)
            h = cache.h
            if spec.has_cell_state:
                c = cache.c
        with np.errstate(over="ignore", invalid="ignore"):
            logits = (params["Why"] @ h + params["by"]) / temperature
        ix = int(rng.choice(V, p=_sampling_probs(logits)))
        out.append(ix)
        if stop_ix is not None and ix == stop_ix:
            break
    return out

"""Numerical gradient check by centered differences, per parameter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np


@dataclass
class GradCheckEntry:
    """Analytic vs numerical gradient of one parameter (both the parameter's shape).

    checked (K, ndim) indices of the entries compared (all entries when K = size).
    rel_error: ||a - n|| / max(||a|| + ||n||, tiny) over the checked entries.
    max_rel_error: the largest entry-wise |a - n| / (|a| + |n|) (0/0 counts as 0).
    """

    analytic: np.ndarray
    numeric: np.ndarray
    checked: np.ndarray
    rel_error: float
    max_rel_error: float


def relative_error(a: np.ndarray, n: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), 0 when both are zero."""
    denom = float(np.linalg.norm(a) + np.linalg.norm(n))
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


#: Five-point central stencil: offsets and weights of f'(x) ~ sum w * f(x + o*eps) / eps.
#: Its error is O(eps^4), so eps can be 1e-3, far above the rounding noise of a summed loss
#: (min-char-rnn's starting gradients are ~1e-4, where the 2-point rule at 1e-5 drowns).
_STENCILS = {2: ((1, 0.5), (-1, -0.5)),
             4: ((2, -1 / 12), (1, 8 / 12), (-1, -8 / 12), (-2, 1 / 12))}


def numerical_gradient(loss_fn: Callable[[], float], array: np.ndarray, index_list,
                       eps: float = 1e-5, order: int = 2) -> np.ndarray:
    """Centered differences of ``loss_fn()`` with respect to the listed entries of ``array``,
    perturbed in place and restored. ``order`` 2 is the classic (f(x+e) - f(x-e)) / 2e;
    ``order`` 4 the five-point stencil. Returns (K,) derivatives in ``index_list``'s order."""
    if order not in _STENCILS:
        raise ValueError(f"order must be 2 or 4; got {order!r}")
    stencil = _STENCILS[order]
    out = np.empty(len(index_list))
    for j, ix in enumerate(index_list):
        ix = tuple(ix)
        old = array[ix]
        total = 0.0
        for offset, weight in stencil:
            array[ix] = old + offset * eps
            total += weight * loss_fn()
        array[ix] = old
        out[j] = total / eps
    return out


def check_gradients(params: Dict[str, np.ndarray], loss_fn: Callable[[Dict[str, np.ndarray]], float],
                    analytic: Dict[str, np.ndarray], max_entries: Optional[int] = None,
                    eps: float = 1e-5, seed: int = 0, order: int = 2) -> Dict[str, GradCheckEntry]:
    """Compare ``analytic`` gradients to centered differences of ``loss_fn(params)``.

    max_entries: check at most this many randomly chosen entries per parameter (all if None).
    ``params`` is perturbed in place during the check and restored exactly afterwards.
    """
    rng = np.random.default_rng(seed)
    result = {}
    for name, arr in params.items():
        all_ix = np.array(list(np.ndindex(arr.shape))).reshape(-1, arr.ndim)
        if max_entries is not None and len(all_ix) > max_entries:
            all_ix = all_ix[rng.choice(len(all_ix), size=max_entries, replace=False)]
        num = numerical_gradient(lambda: loss_fn(params), arr, all_ix, eps, order)
        ana = np.array([analytic[name][tuple(ix)] for ix in all_ix])
        numeric_full = np.full(arr.shape, np.nan)
        for ix, v in zip(all_ix, num):
            numeric_full[tuple(ix)] = v
        denom = np.abs(ana) + np.abs(num)
        with np.errstate(invalid="ignore", divide="ignore"):
            entry = np.where(denom > 0, np.abs(ana - num) / denom, 0.0)
        result[name] = GradCheckEntry(analytic=analytic[name].copy(), numeric=numeric_full,
                                      checked=all_ix, rel_error=relative_error(ana, num),
                                      max_rel_error=float(entry.max()) if entry.size else 0.0)
    return result


def gradient_check(params, inputs, targets, h0=None, cell: str = "rnn", c0=None,
                   max_entries: Optional[int] = None, eps: float = 1e-5, seed: int = 0,
                   backprop_bug: Optional[str] = None, order: int = 2,
                   bug: Optional[str] = None,
                   last_step_only: bool = False) -> Dict[str, GradCheckEntry]:
    """Check :func:`run_bptt`'s raw gradients for the character model on one window against
    centered differences of the true loss (from the given h0, c0).  ``bug`` (or its older name
    ``backprop_bug``) checks a deliberately broken backward pass of the bug gallery
    (:data:`bpttviz.engine.bugs.BUGS`), which the check then reports as failing.
    ``last_step_only``: the loss is the last step's alone (as ``run_bptt``'s option)."""
    from .model import forward, run_bptt

    trace = run_bptt(params, inputs, targets, h0=h0, c0=c0, cell=cell, clip=None,
                     backprop_bug=backprop_bug, bug=bug, last_step_only=last_step_only)
    work = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}

    def loss(p):
        f = forward(p, inputs, targets, h0, c0, cell)
        return float(f.losses[-1]) if last_step_only else f.loss

    return check_gradients(work, loss, trace.grads_raw, max_entries=max_entries, eps=eps,
                           seed=seed, order=order)

"""Numerical gradient check by centered differences, per parameter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

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
    #: (K,) per checked entry: the step its numerical value was taken with, and the floor
    #: F of its error (see :func:`entry_errors`); None when no ``refine`` steps were asked.
    eps: Optional[np.ndarray] = None
    floor: Optional[np.ndarray] = None


def relative_error(a: np.ndarray, n: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), 0 when both are zero."""
    denom = float(np.linalg.norm(a) + np.linalg.norm(n))
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


#: Five-point central stencil: offsets and weights of f'(x) ~ sum w * f(x + o*eps) / eps.
#: Its error is O(eps^4), so eps can be 1e-3, far above the rounding noise of a summed loss
#: (min-char-rnn's starting gradients are ~1e-4, where the 2-point rule at 1e-5 drowns).
_STENCILS = {2: ((1, 0.5), (-1, -0.5)),
             4: ((2, -1 / 12), (1, 8 / 12), (-1, -8 / 12), (-2, 1 / 12))}


#: Double precision's machine epsilon: one evaluation of the loss is rounded by ~ this x |L|.
MACHINE_EPS = float(np.finfo(float).eps)
#: An entry error below this is "correct" (cs231n's rule of thumb for relative errors).
GOOD = 1e-7
#: How many times the rounding noise |a - n| may be for an entry that is ~0.
NOISE_FACTOR = 10.0


def fd_noise(loss: float, eps: float, order: int) -> float:
    """The rounding noise of one numerical derivative: sum|w| x MACHINE_EPS x |loss| / eps
    (each of the stencil's loss evaluations is rounded by about MACHINE_EPS x |loss|)."""
    w = sum(abs(weight) for _, weight in _STENCILS[int(order)])
    return w * MACHINE_EPS * max(abs(float(loss)), 1.0) / float(eps)


def error_floor(loss: float, eps: float, order: int) -> float:
    """The floor F of the entry error: NOISE_FACTOR x fd_noise / GOOD, so that an entry
    below it is correct exactly when |a - n| < NOISE_FACTOR x noise."""
    return NOISE_FACTOR * fd_noise(loss, eps, order) / GOOD


def entry_errors(analytic, numeric, floor) -> np.ndarray:
    """Per entry |a - n| / max(|a| + |n|, floor): relative for real gradients, absolute (in
    units of the floor, scalar or per entry) for entries that are ~0, so a 0 against 1e-12
    is not "100 % wrong"; NaN counts as inf."""
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numeric, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)
    return np.where(np.isnan(err), np.inf, err)


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
                    eps: float = 1e-5, seed: int = 0, order: int = 2,
                    refine: Sequence[float] = ()) -> Dict[str, GradCheckEntry]:
    """Compare ``analytic`` gradients to centered differences of ``loss_fn(params)``.

    max_entries: check at most this many randomly chosen entries per parameter (all if None).
    refine: smaller steps, in order, for the entries the steps before judge not correct
    (:func:`entry_errors` >= GOOD, each with its own floor): such an entry keeps the step
    that agrees best; a correct one keeps the main step.  A step too large
    for a sharply curved loss (an exploding network's saturated tanh) misjudges a correct
    entry, one too small drowns in rounding: a wrong gradient disagrees at every step.
    ``params`` is perturbed in place during the check and restored exactly afterwards.
    """
    rng = np.random.default_rng(seed)
    result = {}
    steps = [float(eps)] + [float(e) for e in refine]
    loss0 = float(loss_fn(params)) if len(steps) > 1 else 0.0
    for name, arr in params.items():
        all_ix = np.array(list(np.ndindex(arr.shape))).reshape(-1, arr.ndim)
        if max_entries is not None and len(all_ix) > max_entries:
            all_ix = all_ix[rng.choice(len(all_ix), size=max_entries, replace=False)]
        ana = np.array([analytic[name][tuple(ix)] for ix in all_ix])
        num = numerical_gradient(lambda: loss_fn(params), arr, all_ix, steps[0], order)
        used = floors = None
        if len(steps) > 1:
            used = np.full(len(all_ix), steps[0])
            floors = np.full(len(all_ix), error_floor(loss0, steps[0], order))
            best = entry_errors(ana, num, floors)
            for step in steps[1:]:
                # only entries the larger steps misjudge are differenced again: one that
                # is right at the main step keeps it (a smaller step is noisier, and its
                # larger floor would flatter a ~0 entry)
                todo = np.flatnonzero(best >= GOOD)
                if not todo.size:
                    break
                other = numerical_gradient(lambda: loss_fn(params), arr, all_ix[todo], step, order)
                f = error_floor(loss0, step, order)
                err = entry_errors(ana[todo], other, f)
                better = err < best[todo]
                pick = todo[better]
                num[pick], best[pick] = other[better], err[better]
                used[pick], floors[pick] = step, f
        numeric_full = np.full(arr.shape, np.nan)
        for ix, v in zip(all_ix, num):
            numeric_full[tuple(ix)] = v
        denom = np.abs(ana) + np.abs(num)
        with np.errstate(invalid="ignore", divide="ignore"):
            entry = np.where(denom > 0, np.abs(ana - num) / denom, 0.0)
        result[name] = GradCheckEntry(analytic=analytic[name].copy(), numeric=numeric_full,
                                      checked=all_ix, rel_error=relative_error(ana, num),
                                      max_rel_error=float(entry.max()) if entry.size else 0.0,
                                      eps=used, floor=floors)
    return result


def gradient_check(params, inputs, targets, h0=None, cell: str = "rnn", c0=None,
                   max_entries: Optional[int] = None, eps: float = 1e-5, seed: int = 0,
                   backprop_bug: Optional[str] = None, order: int = 2,
                   bug: Optional[str] = None,
                   last_step_only: bool = False,
                   refine: Sequence[float] = ()) -> Dict[str, GradCheckEntry]:
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
                           seed=seed, order=order, refine=refine)

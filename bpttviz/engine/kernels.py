"""The few loops of the tanh RNN's BPTT that are not one numpy call over all timesteps.

Everything else in :func:`bpttviz.engine.model.run_bptt` is batched over T.  What is left: the
two recurrences (25 dependent mat-vecs each at min-char-rnn's size), the row-wise softmax with
its cross-entropy, and value clipping with its statistics.  As numpy calls from Python these cost
more than all the batched work together, because each call's fixed overhead is comparable to a
100 x 100 mat-vec.  Numba compiles them to machine code once and caches the result on disk.

Every kernel exists twice with one signature and one meaning:

* ``numpy_*`` here: the readable reference, one numpy call per operation;
* the same name in :mod:`bpttviz.engine._compiled_kernels`: the loop Numba compiles.  Sums
  inside the mat-vecs run in a different order, so the two agree to rounding (~1e-16
  relative); the tests run both against each other and against the seeds.

:func:`get` returns the set in use: compiled when Numba imports and ``BPTTVIZ_NO_JIT`` is unset
or ``0``, otherwise the numpy one (slower; the same numbers to rounding).  Rounding can still
show in a statistic that counts exact zeros: where tanh saturates (|x| ~ 19) numpy may return
exactly 1.0 and the compiled tanh the neighbouring double, so a norm-clipping "fraction of
entries changed" can count one entry more.
"""
from __future__ import annotations

import logging
import os
import threading
from types import SimpleNamespace
from typing import Optional, Tuple

import numpy as np

KERNEL_NAMES = ("rnn_forward", "rnn_backward", "softmax_xent", "value_clip")
log = logging.getLogger(__name__)


def numpy_rnn_forward(inputs: np.ndarray, Wxh: np.ndarray, bh: np.ndarray, Whh: np.ndarray,
                      h0: np.ndarray, x: np.ndarray, preact: np.ndarray, h_prev: np.ndarray,
                      h: np.ndarray) -> None:
    """The tanh RNN's forward recurrence, h_t = tanh(Wxh x_t + Whh h_{t-1} + bh), in place.

    inputs (T,) character indices (-1: the zero vector); Wxh (H, V); bh (H,); Whh (H, H);
    h0 (H,) the state before step 0.
    Out: x (T, V) zeros on entry, receives the one-hot rows; preact (T, H) the pre-activations;
    h_prev (T, H) the state each step starts from; h (T, H) every h_t.
    """
    rows = np.flatnonzero(inputs >= 0)
    x[rows, inputs[rows]] = 1.0
    # The input part does not depend on the recurrence: one gather for all steps.
    preact[:] = bh
    preact[rows] += Wxh.T[inputs[rows]]
    prev = h0
    for t in range(preact.shape[0]):
        h_prev[t] = prev
        preact[t] += Whh @ prev
        np.tanh(preact[t], out=h[t])
        prev = h[t]


def numpy_rnn_backward(dh_from_output: np.ndarray, dy: np.ndarray, h: np.ndarray,
                       Whh: np.ndarray, inputs: np.ndarray, dh: np.ndarray,
                       dh_from_future: np.ndarray, dhraw: np.ndarray, dhnext: np.ndarray,
                       dWxh: np.ndarray, dbh: np.ndarray, dby: np.ndarray, carry: bool) -> None:
    """Seed 000's backward loop over t = T-1..0, in place.

    dh_from_output (T, H): the gradient reaching h_t from its own output (``Why^T dy_t``).
    dy (T, V): the gradient at the logits; h (T, H): the hidden states; Whh (H, H);
    inputs (T,) character indices (-1: none).
    Out: dh_from_future (T, H) receives ``dhnext`` of step t+1 (zeros for the last step, and
    everywhere when not ``carry``); dh (T, H) their sum, the total gradient at h_t;
    dhraw (T, H) ``(1 - h_t^2) * dh_t``; dhnext (T, H) ``Whh^T dhraw_t``, what step t sends back
    into h_{t-1}.  dWxh (H, V), dbh (H,) and dby (V,) must be zeros on entry and receive the
    sums of ``dhraw_t`` (into column ``inputs[t]`` of dWxh: the one-hot product is a column
    add) and of ``dy_t``, accumulated from the last step back as the seed does.
    carry: False reproduces the classic bug of never adding ``dhnext`` into ``dh``.
    """
    T = dh.shape[0]
    tanh_grad = 1.0 - h * h  # does not depend on the recurrence: one batched call
    dh_from_future[T - 1] = 0.0
    for t in range(T - 1, -1, -1):
        if t + 1 < T:
            dh_from_future[t] = dhnext[t + 1] if carry else 0.0
        np.add(dh_from_output[t], dh_from_future[t], out=dh[t])
        np.multiply(tanh_grad[t], dh[t], out=dhraw[t])
        np.dot(dhraw[t], Whh, out=dhnext[t])
        dbh += dhraw[t]
        dby += dy[t]
        if inputs[t] >= 0:
            dWxh[:, inputs[t]] += dhraw[t]


def numpy_softmax_xent(shifted: np.ndarray, targets: np.ndarray, p: np.ndarray, dy: np.ndarray,
                       losses: np.ndarray) -> None:
    """Row-wise softmax and cross-entropy from ``exp`` of the shifted logits, in place.

    shifted (T, V): logits minus each row's maximum; targets (T,) indices.
    p (T, V): ``exp(shifted)`` on entry (numpy's vectorised exp is several times faster than a
      compiled scalar loop, so the caller computes it); the probabilities on exit.
    dy (T, V) receives ``p - onehot(target)``, the gradient at the logits; losses (T,)
    ``-log p[target]`` from the shifted logits, finite even where p underflows to 0.
    """
    rows = np.arange(shifted.shape[0])
    total = p.sum(axis=1)
    p /= total[:, None]
    np.copyto(dy, p)
    dy[rows, targets] -= 1.0
    np.subtract(np.log(total), shifted[rows, targets], out=losses)


def numpy_value_clip(g: np.ndarray, threshold: float, out: np.ndarray) -> Tuple[float, int, float, float]:
    """out = g clipped elementwise to [-threshold, threshold]; g and out are (n,).

    Returns ``(sum of squares of g, number of entries changed, dot(g, out), sum of squares of
    out)``: everything a clip report needs, in the one pass the compiled version makes.
    """
    np.minimum(np.maximum(g, -threshold), threshold, out=out)
    sumsq = float(np.vdot(g, g))
    changed = int(np.count_nonzero(out != g))
    if not changed:
        return sumsq, 0, sumsq, sumsq
    return sumsq, changed, float(np.vdot(g, out)), float(np.vdot(out, out))


NUMPY_KERNELS = SimpleNamespace(rnn_forward=numpy_rnn_forward, rnn_backward=numpy_rnn_backward,
                                softmax_xent=numpy_softmax_xent, value_clip=numpy_value_clip,
                                compiled=False)


def _compiled():
    """The Numba set, compiled (or loaded from Numba's disk cache) and tried once on a tiny
    problem; None when Numba is missing, broken or switched off, so numpy runs instead (the
    reason is kept for :func:`status` and logged as a warning)."""
    global _WHY_NUMPY
    if os.environ.get("BPTTVIZ_NO_JIT", "").strip() not in ("", "0"):
        _WHY_NUMPY = "BPTTVIZ_NO_JIT is set"
        return None
    try:
        from . import _compiled_kernels as jit
        compiled = SimpleNamespace(**{name: getattr(jit, name) for name in KERNEL_NAMES},
                                   compiled=True)
        _warm_up(compiled)
    except Exception as e:  # not installed, an llvmlite that does not load, a failed compile
        _WHY_NUMPY = f"{type(e).__name__}: {e}"
        log.warning("compiled kernels unavailable (%s); using numpy, about half the speed",
                    _WHY_NUMPY)
        return None
    return compiled


def _warm_up(k: SimpleNamespace) -> None:
    """Call every kernel once with the argument types run_bptt passes (C-contiguous float64,
    intp indices), so that compiling or loading happens here and not in the middle of a step."""
    T, H, V = 2, 5, 3
    inputs, targets = np.array([0, -1], dtype=np.intp), np.array([1, 2], dtype=np.intp)
    Wxh, bh, Whh, h0 = np.ones((H, V)), np.zeros(H), np.eye(H) * 0.5, np.zeros(H)
    x, preact, h_prev, h = np.zeros((T, V)), np.empty((T, H)), np.empty((T, H)), np.empty((T, H))
    k.rnn_forward(inputs, Wxh, bh, Whh, h0, x, preact, h_prev, h)
    shifted = np.zeros((T, V))
    p, dy, losses = np.exp(shifted), np.empty((T, V)), np.empty(T)
    k.softmax_xent(shifted, targets, p, dy, losses)
    out = [np.empty((T, H)) for _ in range(4)]
    k.rnn_backward(dy @ np.ones((V, H)), dy, h, Whh, inputs, *out, np.zeros((H, V)), np.zeros(H),
                   np.zeros(V), True)
    k.value_clip(Wxh.reshape(-1), 5.0, np.empty(H * V))
    if not np.allclose(h, numpy_forward_reference(inputs, Wxh, bh, Whh, h0)):
        raise RuntimeError("compiled rnn_forward disagrees with numpy; using numpy")


def numpy_forward_reference(inputs, Wxh, bh, Whh, h0) -> np.ndarray:
    """(T, H) hidden states from :func:`numpy_rnn_forward` (a convenience for checks)."""
    T, H = inputs.size, Whh.shape[0]
    h = np.empty((T, H))
    numpy_rnn_forward(inputs, Wxh, bh, Whh, h0, np.zeros((T, Wxh.shape[1])), np.empty((T, H)),
                      np.empty((T, H)), h)
    return h


_KERNELS = None
_LOADING = None  # the background thread of preload(), while it runs
_DEFERRED = False
_WHY_NUMPY = ""  # why the numpy set is in use, once the compiled one was tried
_LOCK = threading.Lock()


def get() -> SimpleNamespace:
    """The kernels in use (attributes named as in ``KERNEL_NAMES``, plus ``compiled``).

    The first call loads the compiled set (about 0.4 s from Numba's cache, a few seconds the
    very first time).  After :func:`defer_loading`, and while :func:`preload` is loading them
    in the background, the numpy set is returned instead of waiting.
    """
    global _KERNELS
    if _KERNELS is not None:
        return _KERNELS
    if _LOADING is not None or _DEFERRED:
        return NUMPY_KERNELS
    with _LOCK:
        if _KERNELS is None:
            _KERNELS = _compiled() or NUMPY_KERNELS
    return _KERNELS


def preload() -> Optional[threading.Thread]:
    """Load the compiled kernels on a daemon thread (the window calls this at start-up so that
    importing Numba does not delay its first paint); :func:`get` serves numpy until then.
    Returns the loading thread, or None when the kernels are already loaded."""
    global _LOADING

    def load():
        global _KERNELS, _LOADING, _DEFERRED
        kernels = _compiled() or NUMPY_KERNELS
        with _LOCK:
            _KERNELS, _LOADING, _DEFERRED = kernels, None, False

    with _LOCK:
        if _KERNELS is not None or _LOADING is not None:
            return _LOADING
        _LOADING = threading.Thread(target=load, name="bpttviz-kernels", daemon=True)
        _LOADING.start()
        return _LOADING


def defer_loading() -> None:
    """Serve the numpy kernels until :func:`preload` is called: the window defers the ~0.4 s
    of loading Numba until after its first paint (start-up target 1.5 s)."""
    global _DEFERRED
    with _LOCK:
        if _KERNELS is None:
            _DEFERRED = True


def status() -> str:
    """One line for the About box and bug reports: which kernel set runs, and why."""
    if _KERNELS is None:
        return "loading the compiled kernels…" if (_LOADING is not None or _DEFERRED) else \
            "not loaded yet (loaded by the first rnn pass)"
    if _KERNELS.compiled:
        import numba
        return f"compiled with Numba {numba.__version__}"
    return f"numpy ({_WHY_NUMPY or 'compiled kernels not available'})"

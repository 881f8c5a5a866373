"""Teaching quantities computed from a trace: where dWhh comes from, how fast the gradient
decays, and what truncating BPTT loses.  All pure numpy, all read by the GUI as-is."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .cells import step_backward
from .clipping import CLIP_SPECS, check_clip, clip_gradients
from .model import PARAM_NAMES, Trace, backward_step, carries, run_bptt

#: Above this many numbers the per-(t, k) parts of dWhh are not kept, only their norms.
MAX_PARTS = 4_000_000


def _rows_first(trace) -> bool:
    """True when the trace stores its recurrent matrix as the cells use it, (H, G*H) (cs231n's
    ``Wh``: the captioning traces), False when it stores the transpose (seed 000's ``Whh``,
    (G*H, H)).  ``recurrent_weights`` is always the (H, G*H) matrix: it is either the stored
    parameter itself or a transposed view of it (whose strides are reversed)."""
    W = trace.recurrent_weights
    P = trace.params[trace.recurrent_name]
    return W is P or (W.shape == P.shape and W.strides == P.strides and np.shares_memory(W, P))


@dataclass
class Contributions:
    """Seed 001's question answered: the loss at step t reaches Whh through every step k <= t.

    norms (T, T): norms[t, k] = ||part of dWhh from the loss at t passing through step k||
      (zero above the diagonal: a loss cannot reach a step after it).
    dah_parts (T, T, G*H) or None: dah_parts[t, k] is the gradient at step k's recurrent
      pre-activation due to the loss at step t alone; part (t, k) of dWhh is
      ``outer(dah_parts[t, k], h_prev[k])`` (the transpose for a trace whose recurrent matrix
      is stored (H, G*H), see ``rows_first``).  None when larger than MAX_PARTS numbers.
    by_step (T,): norm of step k's whole contribution (summed over losses).
    by_loss (T,): norm of loss t's whole contribution (summed over steps); computed on first
      use (no view draws it; above MAX_PARTS it replays the losses again).
    h_prev (T, H): the right factor of every part (``h`` for the "h-instead-of-hprev" bug).
    rows_first: True when parts have the (H, G*H) shape of a cs231n ``Wh`` (captioning
      traces), False for the (G*H, H) of seed 000's ``Whh``.
    """

    norms: np.ndarray
    dah_parts: Optional[np.ndarray]
    by_step: np.ndarray
    h_prev: np.ndarray
    rows_first: bool = False
    _trace: object = field(default=None, repr=False, compare=False)
    _by_loss: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def by_loss(self) -> np.ndarray:
        """(T,) ||sum over k of part (t, k)||: exact at every size (see the class docstring)."""
        if self._by_loss is None:
            self._by_loss = _by_loss(self._trace, self.dah_parts, self.h_prev)
        return self._by_loss

    def part(self, t: int, k: int) -> np.ndarray:
        """The part of the recurrent gradient from the loss at step t passing through step
        k, in the recurrent parameter's own shape: (G*H, H) for ``Whh``, (H, G*H) for ``Wh``."""
        if self.dah_parts is None:
            raise ValueError("parts were not kept for a trace this large; use norms")
        if self.rows_first:
            return np.outer(self.h_prev[k], self.dah_parts[t, k])
        return np.outer(self.dah_parts[t, k], self.h_prev[k])


def _replay(trace, losses: slice, on_step) -> None:
    """Back-propagate each loss in ``losses`` on its own, as one row of a batch through the
    trace's steps (with the trace's gallery bug, so the parts add up to its gradient).
    Calls ``on_step(k, rows, dah)`` for k = last loss .. 0: ``rows`` a slice of loss indices
    (those at or after k), ``dah`` (len(rows), G*H) their gradients at step k's recurrent
    pre-activation."""
    T, H = trace.h.shape
    Wh = trace.recurrent_weights
    bug = getattr(trace, "backprop_bug", None)
    carry_dh, carry_dc = carries(bug)
    first, stop = losses.start, losses.stop
    dh = np.zeros((stop - first, H))  # row i: gradient at the current h from loss first + i
    dc = np.zeros((stop - first, H)) if trace.c is not None else None
    for k in reversed(range(stop)):
        if k >= first:
            dh[k - first] += trace.dh_from_output[k]
        rows = slice(max(k, first) - first, stop - first)  # only losses >= k reach step k
        g = backward_step(trace.cell, dh[rows], trace.caches[k], Wh,
                          dc[rows] if dc is not None else None, bug)
        on_step(k, slice(rows.start + first, rows.stop + first), g.dah)
        dh[rows] = g.dh_prev if carry_dh else 0.0
        if dc is not None:
            dc[rows] = g.dc_prev if carry_dc else 0.0


def contributions(trace: Trace) -> Contributions:
    """Split dWhh of a trace into (loss t, step k) parts.  Works for every cell: each loss's
    gradient is back-propagated on its own, as one row of a batch through the same steps.

    ``by_loss`` is exact at every size: below MAX_PARTS it comes from the kept parts, above
    it the losses are replayed again in chunks whose parts fit in MAX_PARTS numbers (on first
    use only: it costs about as much as the split itself)."""
    T, H = trace.h.shape
    GH = trace.recurrent_weights.shape[1]
    right = trace.h if getattr(trace, "backprop_bug", None) == "h-instead-of-hprev" else trace.h_prev
    keep = T * T * GH <= MAX_PARTS
    parts = np.zeros((T, T, GH)) if keep else None
    norms = np.zeros((T, T))
    right_norm = np.linalg.norm(right, axis=1)
    by_step_sum = np.zeros((T, GH))

    def record(k, rows, dah):
        norms[rows, k] = np.linalg.norm(dah, axis=1) * right_norm[k]
        by_step_sum[k] = dah.sum(axis=0)
        if keep:
            parts[rows, k] = dah

    _replay(trace, slice(0, T), record)
    by_step = np.linalg.norm(by_step_sum, axis=1) * right_norm
    return Contributions(norms=norms, dah_parts=parts, by_step=by_step, h_prev=right,
                         rows_first=_rows_first(trace), _trace=trace)


def _by_loss(trace, parts: Optional[np.ndarray], right: np.ndarray) -> np.ndarray:
    """(T,) norm of each loss's whole contribution sum_k outer(part[t, k], right[k]), from
    the kept parts (T, T, G*H) or, when they were not kept, by replaying the losses in chunks
    whose parts fit in MAX_PARTS numbers.  right (T, H) the parts' right factors."""
    T = right.shape[0]
    by_loss = np.empty(T)
    if parts is not None:
        for t in range(T):
            by_loss[t] = np.linalg.norm(parts[t, :t + 1].T @ right[:t + 1])
        return by_loss
    GH = trace.recurrent_weights.shape[1]
    chunk = max(1, MAX_PARTS // (T * GH))
    for first in range(0, T, chunk):
        stop = min(T, first + chunk)
        block = np.zeros((stop - first, T, GH))

        def keep_block(k, rows, dah, block=block, first=first):
            block[rows.start - first:rows.stop - first, k] = dah

        _replay(trace, slice(first, stop), keep_block)
        for t in range(first, stop):
            by_loss[t] = np.linalg.norm(block[t - first, :t + 1].T @ right[:t + 1])
    return by_loss


def jacobian_norms(trace: Trace, ord=2) -> np.ndarray:
    """(T, T) matrix J with J[t, k] = ||dh_t / dh_k|| for k <= t (1 on the diagonal,
    0 above it), spectral norm by default (``ord="fro"`` for Frobenius).  For the LSTM it is
    the partial derivative with c_k held fixed (every path from h_k, through later h and c)."""
    T, H = trace.h.shape
    Wh = trace.recurrent_weights
    J = np.zeros((T, T))
    for t in range(T):
        rows = np.eye(H)  # row i: d h_t[i] / d (current h)
        # Between k and t the LSTM's cell state is a second path; only c_k itself is held fixed.
        rows_c = np.zeros((H, H)) if trace.c is not None else None
        J[t, t] = 1.0
        for s in range(t, 0, -1):
            g = step_backward(trace.cell, rows, trace.caches[s], Wh, rows_c)
            rows, rows_c = g.dh_prev, g.dc_prev
            # Huge weights overflow the product (inf, then NaN): its norm is inf, not an
            # SVD that does not converge (LinAlgError in the decay view's slot).
            J[t, s - 1] = np.linalg.norm(rows, ord=ord) if np.all(np.isfinite(rows)) else np.inf
    return J


def decay_by_distance(J: np.ndarray) -> np.ndarray:
    """(T,) mean of ||dh_t/dh_k|| over all pairs with t - k = d, for d = 0 .. T-1."""
    T = J.shape[0]
    return np.array([np.mean(np.diagonal(J, offset=-d)) for d in range(T)])


@dataclass
class WhhSpectrum:
    """spectral_radius: max |eigenvalue| of the square recurrent matrix (None if not square,
    i.e. for gated cells, where the candidate block's radius is reported instead).
    largest_singular_value: sigma_max, the bound on how much one step can stretch a gradient."""

    spectral_radius: Optional[float]
    largest_singular_value: float


def whh_spectrum(trace_or_params, cell: str = "rnn") -> WhhSpectrum:
    """The spectrum of a trace's (or a char-model parameter dict's) recurrent matrix.  The
    block that plays Whh's role is the last one for every cell (the whole matrix for one gate
    block), so ``cell`` is not needed; it is kept for older callers."""
    if isinstance(trace_or_params, Trace):
        W = np.asarray(trace_or_params.recurrent_weights).T
    else:
        W = np.asarray(trace_or_params["Whh"])
    H = W.shape[1]
    # For gated cells the candidate block (g for lstm, n for gru: the last block) plays Whh's
    # role; with one block, W[-H:] is W itself.
    square = W[-H:]
    radius = float(np.max(np.abs(np.linalg.eigvals(square)))) if np.all(np.isfinite(square)) else float("nan")
    sigma = float(np.linalg.norm(square, 2)) if np.all(np.isfinite(square)) else float("nan")
    return WhhSpectrum(spectral_radius=radius, largest_singular_value=sigma)


@dataclass
class Truncated:
    """Truncated BPTT over one sequence: windows of ``window`` steps, the hidden state carried
    forward across boundaries but no gradient carried back across them.

    windows: the Trace of each window, in order.
    starts (W,): first timestep of each window.
    grads_raw: summed raw gradients (params' shapes); loss: summed loss.
    reach (T,): how many steps back the gradient of loss t can travel (t - window start).
    h_last (H,): final hidden state.
    """

    windows: List[Trace]
    starts: np.ndarray
    grads_raw: Dict[str, np.ndarray]
    loss: float
    reach: np.ndarray
    h_last: np.ndarray


def truncated_bptt(params, inputs, targets, window: int, h0=None, cell: str = "rnn", c0=None) -> Truncated:
    """Run BPTT in windows of length ``window`` over (T,) inputs and targets."""
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    T = inputs.size
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a whole number >= 1; got {window!r}")
    h, c = h0, c0
    windows, starts = [], []
    grads = None
    reach = np.zeros(T, dtype=int)
    for s in range(0, T, int(window)):
        e = min(T, s + int(window))
        tr = run_bptt(params, inputs[s:e], targets[s:e], h0=h, c0=c, cell=cell, clip=None)
        windows.append(tr)
        starts.append(s)
        reach[s:e] = np.arange(e - s)
        grads = ({k: v.copy() for k, v in tr.grads_raw.items()} if grads is None
                 else {k: grads[k] + tr.grads_raw[k] for k in grads})
        h, c = tr.h_last, tr.c_last
    return Truncated(windows=windows, starts=np.array(starts), grads_raw=grads,
                     loss=float(sum(w.loss for w in windows)), reach=reach, h_last=h)


@dataclass
class TruncationComparison:
    """Full BPTT against truncated windows on the same sequence.

    full: the full Trace; truncated: the Truncated run.
    diff_norms: name -> ||g_full - g_trunc||;  rel_diff: name -> that / ||g_full||.
    cosine: name -> cosine between the two gradients (1 = same direction).
    cosine_total: over all parameters together.
    lost_by_distance (T,): norm of the full dWhh parts that travel d steps back, for the
      distances truncation cuts (d >= window) — exactly what truncation cannot see.
    """

    full: Trace
    truncated: Truncated
    diff_norms: Dict[str, float]
    rel_diff: Dict[str, float]
    cosine: Dict[str, float]
    cosine_total: float
    lost_by_distance: np.ndarray


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    d = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.vdot(a, b) / d) if d > 0 else 1.0


def compare_truncation(params, inputs, targets, window: int, h0=None, cell: str = "rnn", c0=None) -> TruncationComparison:
    full = run_bptt(params, inputs, targets, h0=h0, c0=c0, cell=cell, clip=None)
    trunc = truncated_bptt(params, inputs, targets, window, h0=h0, cell=cell, c0=c0)
    diff = {k: float(np.linalg.norm(full.grads_raw[k] - trunc.grads_raw[k])) for k in PARAM_NAMES}
    rel = {k: diff[k] / n if (n := float(np.linalg.norm(full.grads_raw[k]))) > 0 else 0.0
           for k in PARAM_NAMES}
    cos = {k: _cos(full.grads_raw[k], trunc.grads_raw[k]) for k in PARAM_NAMES}
    flat_f = np.concatenate([full.grads_raw[k].ravel() for k in PARAM_NAMES])
    flat_t = np.concatenate([trunc.grads_raw[k].ravel() for k in PARAM_NAMES])
    norms = contributions(full).norms
    T = norms.shape[0]
    lost = np.array([np.sqrt(np.sum(np.diagonal(norms, offset=-d) ** 2)) if d >= window else 0.0
                     for d in range(T)])
    return TruncationComparison(full=full, truncated=trunc, diff_norms=diff, rel_diff=rel,
                                cosine=cos, cosine_total=_cos(flat_f, flat_t), lost_by_distance=lost)


@dataclass
class ClipComparison:
    """The same raw gradient under several clip modes: mode -> (clipped grads, ClipReport)."""

    raw: Dict[str, np.ndarray]
    results: Dict[str, tuple]


def compare_clipping(grads_raw: Dict[str, np.ndarray], threshold: float,
                     modes=None) -> ClipComparison:
    """``modes`` default: every mode of the clip-mode registry (CLIP_SPECS)."""
    modes = tuple(CLIP_SPECS) if modes is None else modes
    for m in modes:
        check_clip(m, threshold)
    return ClipComparison(raw=grads_raw, results={m: clip_gradients(grads_raw, m, threshold) for m in modes})

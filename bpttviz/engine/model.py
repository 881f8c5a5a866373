"""The character-level model of min-char-rnn (seed 000) with a choice of cell, and its trace.

Parameters use seed 000's names and orientation (weights multiply column vectors):

=====  ============  =============================================
name   shape         role
=====  ============  =============================================
Wxh    (G*H, V)      input (one-hot character) to every gate block
Whh    (G*H, H)      previous hidden state to every gate block
Why    (V, H)        hidden state to output logits
bh     (G*H,)        gate-block biases
by     (V,)          output biases
=====  ============  =============================================

``G`` is the cell's number of gate blocks (``CELLS[cell].G``): 1 for the tanh RNN, 4 for the
LSTM (blocks i, f, o, g), 3 for the GRU (z, r, n).  Everything cell-specific is read from the
cell registry (:mod:`bpttviz.engine.cellspec`), so a registered cell works here unchanged.
The loss is softmax cross-entropy **summed** over timesteps, as in the seed.

Inputs are character indices ``(T,)``; an index of ``-1`` stands for the zero vector
(the dinosaurs assignment feeds "no character" at the first step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Dict, Optional

import numpy as np

from . import kernels as _kernels
from .bugs import BUGS, check_bug
from .cells import CELLS, CellSpec, StepCache, StepGrad, get_cell
from .clipping import ClipReport, check_clip, clip_gradients

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
#: None and every gallery bug (kept for older callers; see bpttviz.engine.bugs.BUGS).
BACKPROP_BUGS = (None,) + tuple(BUGS)
#: Bugs that leave the per-step arithmetic alone, so the compiled tanh-RNN kernels compute them.
_KERNEL_BUGS = (None, "forget-dhnext", "h-instead-of-hprev", "dy-without-minus-one",
                "no-carry-state")


def param_shapes(cell: str, vocab_size: int, hidden_size: int) -> Dict[str, tuple]:
    """Shapes of every parameter for a cell, vocabulary size V and hidden size H."""
    G, V, H = get_cell(cell).G, vocab_size, hidden_size
    return {"Wxh": (G * H, V), "Whh": (G * H, H), "Why": (V, H), "bh": (G * H,), "by": (V,)}


def _check_size(name: str, value, low: int = 1, high: int = 100_000) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return int(value)


def init_params(cell: str = "rnn", vocab_size: int = 65, hidden_size: int = 100, seed: int = 0,
                scale: float = 0.01, whh_radius: Optional[float] = None) -> Dict[str, np.ndarray]:
    """Random parameters as min-char-rnn draws them: ``randn * scale`` weights, zero biases.

    whh_radius: if given (cells with one gate block: rnn), Whh is instead a random orthogonal matrix times
    ``whh_radius``, so its spectral radius and largest singular value both equal it; the
    vanishing and exploding presets use this to put the model on either side of 1.
    Returns a dict of float64 arrays with the shapes of :func:`param_shapes`.
    """
    spec = get_cell(cell)
    V = _check_size("vocab_size", vocab_size, 1, 10_000)
    H = _check_size("hidden_size", hidden_size, 1, 4096)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a finite number >= 0; got {scale!r}") from None
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0; got {scale!r}")
    rng = np.random.default_rng(seed)
    shapes = param_shapes(cell, V, H)
    params = {}
    for name in PARAM_NAMES:
        if name.startswith("b"):
            params[name] = np.zeros(shapes[name])
        else:
            params[name] = rng.standard_normal(shapes[name]) * scale
    if whh_radius is not None:
        if spec.G != 1:
            square = " or ".join(repr(c) for c, sp in CELLS.items() if sp.G == 1)
            raise ValueError(f"whh_radius applies to cell {square} only (a square Whh); "
                             f"got cell {cell!r}")
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        params["Whh"] = q * np.sign(np.diag(r)) * float(whh_radius)
    return params


def check_params(params: Dict[str, np.ndarray], cell: str) -> tuple:
    """Validate a parameter dict for ``cell``; return ``(V, H)``."""
    G = get_cell(cell).G
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}; it needs {', '.join(PARAM_NAMES)}")
    shapes = {k: np.shape(params[k]) for k in PARAM_NAMES}
    if len(shapes["Why"]) != 2:
        raise ValueError(f"params['Why'] must be a (V, H) matrix; got shape {shapes['Why']}")
    V, H = shapes["Why"]
    expected = {"Wxh": (G * H, V), "Whh": (G * H, H), "Why": (V, H), "bh": (G * H,), "by": (V,)}
    if shapes != expected:
        k = next(k for k in PARAM_NAMES if shapes[k] != expected[k])
        raise ValueError(f"params[{k!r}] has shape {shapes[k]}; cell {cell!r} with "
                         f"V={V}, H={H} needs {expected[k]}")
    return V, H


def _check_indices(name: str, seq, V: int, allow_blank: bool) -> np.ndarray:
    arr = np.asarray(seq)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a non-empty 1-D sequence of integer indices; got {seq!r}"[:200])
    low, high = -1 if allow_blank else 0, V - 1
    lowest, highest = arr.min(), arr.max()
    if lowest < low or highest > high:
        what = "-1 (no character) or " if allow_blank else ""
        raise ValueError(f"{name} must hold {what}indices in [0, {V}); got values from "
                         f"{lowest} to {highest}")
    return arr.astype(np.intp)


def _kernel_array(a) -> np.ndarray:
    """``a`` as a writeable C-contiguous float64 array, copied only when it is not one: the
    compiled kernels are built for exactly that type, and a read-only or Fortran-ordered array
    would make Numba compile a new version (a pause of about a second) on first use."""
    if (type(a) is np.ndarray and a.dtype == np.float64 and a.flags.c_contiguous
            and a.flags.writeable):
        return a
    return np.array(a, dtype=np.float64, order="C")


def _check_state(name: str, value, H: int) -> np.ndarray:
    """A carried state as a contiguous (H,) float array (zeros for None); ValueError naming it
    if its size is not H or it is not finite."""
    if value is None:
        return np.zeros(H)
    arr = _kernel_array(np.reshape(value, -1))
    if arr.size != H:
        raise ValueError(f"{name} must hold hidden_size = {H} numbers; got shape {np.shape(value)}")
    # One sum is finite exactly when every entry is, except for a sum that overflows; only then
    # is the entrywise test needed.
    if not math.isfinite(arr.sum()) and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it holds inf or NaN")
    return arr


@dataclass
class Forward:
    """Forward intermediates of one window. T timesteps, H hidden, V vocabulary, G blocks.

    x (T, V): one-hot inputs (a zero row for index -1).
    h_prev (T, H): the state each step starts from (row 0 is h0).
    preact (T, G*H): pre-activations of every gate block (rnn: ``Wxh x + Whh h + bh``).
    gates: name -> (T, H): lstm i, f, o, g; gru z, r, n; empty for rnn.
    h (T, H); c (T, H) and c_prev (T, H) for lstm, else None.
    logits (T, V): unnormalised log-probabilities (seed's ``ys``).
    p (T, V): softmax probabilities (seed's ``ps``).
    losses (T,): cross-entropy of each step; loss: their sum.
    """

    x: np.ndarray
    h_prev: np.ndarray
    preact: np.ndarray
    gates: Dict[str, np.ndarray]
    h: np.ndarray
    c: Optional[np.ndarray]
    c_prev: Optional[np.ndarray]
    logits: np.ndarray
    p: np.ndarray
    losses: np.ndarray
    loss: float
    caches: list = field(repr=False, default_factory=list)


def forward(params, inputs, targets, h0=None, c0=None, cell: str = "rnn") -> Forward:
    """Run the forward pass over one window.  See :class:`Forward` for every shape.

    inputs, targets: (T,) indices; h0, c0: (H,) initial states (zeros if None).
    """
    return Forward(**_forward(params, inputs, targets, h0, c0, cell)[0])


def _forward(params, inputs, targets, h0, c0, cell):
    """:func:`forward`'s fields as a dict (run_bptt builds its Trace from them directly), plus
    what the backward pass reuses: dy (T, V) = p - onehot(targets) (the softmax kernel gives it
    for free) and the validated inputs and targets (T,)."""
    V, H = check_params(params, cell)
    inputs = _check_indices("inputs", inputs, V, allow_blank=True)
    targets = _check_indices("targets", targets, V, allow_blank=False)
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs and targets must have the same length; got {inputs.size} "
                         f"and {targets.size}")
    T = inputs.size
    spec = get_cell(cell)
    h = _check_state("h0", h0, H)
    c = _check_state("c0", c0, H) if spec.has_cell_state else None
    kernels = _kernels.get()
    x = np.zeros((T, V))
    if spec.fast_kernel == "tanh-rnn":
        # The whole forward recurrence is one kernel call (compiled when Numba is there) that
        # writes straight into the trace's rows.
        preact, h_prev, hs = np.empty((T, H)), np.empty((T, H)), np.empty((T, H))
        kernels.rnn_forward(inputs, _kernel_array(params["Wxh"]), _kernel_array(params["bh"]),
                            _kernel_array(params["Whh"]), h, x, preact, h_prev, hs)
        caches = _RnnCaches(h_prev, hs, preact)
    else:
        # The input projection does not depend on the recurrence: one gather for all T.
        has_char = inputs >= 0
        x[np.flatnonzero(has_char), inputs[has_char]] = 1.0
        ax = np.array(np.broadcast_to(params["bh"], (T, params["bh"].size)), dtype=float)
        ax[has_char] += params["Wxh"][:, inputs[has_char]].T
        Wh = params["Whh"].T
        caches = []
        for t in range(T):
            cache = spec.step_forward(ax[t], h, Wh, c)
            caches.append(cache)
            h = cache.h
            if spec.has_cell_state:
                c = cache.c
        hs = np.stack([cc.h for cc in caches])
        h_prev = np.stack([cc.h_prev for cc in caches])
        preact = np.stack([cc.preact for cc in caches])
    logits = hs @ np.asarray(params["Why"], dtype=float).T
    logits += params["by"]
    # Shifting by the row maximum keeps exp finite; the loss is computed from the shifted
    # logits (log-softmax), so it stays finite where p underflows to 0.
    shifted = logits - logits.max(axis=1, keepdims=True)
    p, dy, losses = np.exp(shifted), np.empty((T, V)), np.empty(T)
    kernels.softmax_xent(shifted, targets, p, dy, losses)
    gates = {name: np.stack([cc.gates[name] for cc in caches]) for name in spec.gate_names}
    lstm = spec.has_cell_state
    fw = dict(
        x=x, h_prev=h_prev, preact=preact, gates=gates, h=hs,
        c=np.stack([cc.c for cc in caches]) if lstm else None,
        c_prev=np.stack([cc.c_prev for cc in caches]) if lstm else None,
        logits=logits, p=p, losses=losses, loss=float(losses.sum()), caches=caches,
    )
    return fw, dy, inputs, targets


class _RnnCaches:
    """Step caches of a tanh RNN built on demand from the stacked arrays (the fast path does
    not create T cache objects; analyses that replay steps still get them)."""

    def __init__(self, h_prev, h, preact):
        self._h_prev, self._h, self._preact = h_prev, h, preact

    def __len__(self):
        return len(self._h)

    def __getitem__(self, t):
        return StepCache(h_prev=self._h_prev[t], h=self._h[t], preact=self._preact[t])


# How each parameter's gradient is built from per-step factors of the trace:
# (left field, right field or None).  Weight contribution of step t = outer(left[t], right[t]);
# bias contribution = left[t].  Keeping the factors instead of (T, *shape) arrays makes the trace
# O(T*(H+V)) in memory while any step's contribution is one outer product away.
_CONTRIB_FACTORS = {"Wxh": ("dax", "x"), "Whh": ("dah", "h_prev"), "Why": ("dy", "h"),
                    "bh": ("dax", None), "by": ("dy", None)}


@dataclass
class Trace(Forward):
    """Everything one forward + backward pass computed, per timestep.

    Adds to :class:`Forward` (T timesteps, H hidden, V vocabulary, G gate blocks):

    cell (str); inputs (T,), targets (T,) indices; h0 (H,), c0 (H,) or None.
    params: the parameters the trace was computed with (copies; name -> array).
    dy (T, V): gradient at the logits, ``p - onehot(target)``.
    dh_from_output (T, H): gradient reaching h_t from step t's own loss, ``Why^T dy_t``.
    dh_from_future (T, H): gradient reaching h_t from later steps (``dhnext`` of step t+1;
      zeros for the last step).
    dh (T, H): their sum, the total gradient at h_t.
    dax (T, G*H): gradient at the input part of the pre-activation; for the rnn this is
      seed 000's ``dhraw`` (also available as ``dhraw``).
    dah (T, G*H): gradient at the recurrent part (equals dax except the GRU's n block).
    dhnext (T, H): what step t sends back into h_{t-1} (seed's ``dhnext`` after step t).
    dc (T, H), dcnext (T, H): lstm total gradient at c_t and what step t sends to c_{t-1}.
    grads_raw, grads: name -> array with the params' shapes, before and after clipping.
    grad_norms_raw, grad_norms: name -> float L2 norms before and after clipping.
    grad_norm_before_clip, grad_norm_after_clip: global L2 norms.
    clip: the ClipReport (mode, fraction of entries clipped, cosine raw vs clipped).
    h_last (H,), c_last (H,) or None: final states, to carry into the next window.
    backprop_bug (also ``bug``): None, or the gallery bug the backward pass was computed with
      (:data:`bpttviz.engine.bugs.BUGS`).  With "h-instead-of-hprev" the Whh step
      contributions are ``outer(dah_t, h_t)``, so they still sum to ``grads_raw['Whh']``;
      with "dy-without-minus-one" ``dy`` is ``p``; with "no-carry-state" ``h0``/``c0`` are the
      states passed in while ``h_prev[0]`` (and ``c_prev[0]``) are the zeros the pass used.
    loss_steps: "all" (the seed: the loss is the sum over every step) or "last" (only the last
      step's loss is backpropagated).  With "last", ``losses`` still holds every step's
      cross-entropy (computed and shown) but ``loss`` is ``losses[-1]`` alone, ``dy`` is zero
      on every row but the last, so ``dh_from_output`` is zero there too and every gradient
      is that of ``losses[-1]``: ``dhnext`` then shows the pure decay of one loss's gradient.
    bptt_window: None (full BPTT) or k: truncated BPTT in windows of k steps starting at step
      0 (steps 0..k-1, k..2k-1, ...); the forward pass is unchanged (the state flows across
      window boundaries) but no gradient crosses one: ``dh_from_future[t]`` (and the LSTM's
      carried ``dcnext``) is zero wherever step t+1 starts a window, while ``dhnext[t+1]``
      still shows what that step would have sent.  The gradients equal
      :func:`bpttviz.engine.analysis.truncated_bptt`'s summed over the windows.
    """

    cell: str = "rnn"
    inputs: np.ndarray = None
    targets: np.ndarray = None
    h0: np.ndarray = None
    c0: Optional[np.ndarray] = None
    params: Dict[str, np.ndarray] = None
    dy: np.ndarray = None
    dh_from_output: np.ndarray = None
    dh_from_future: np.ndarray = None
    dh: np.ndarray = None
    dax: np.ndarray = None
    dah: np.ndarray = None
    dhnext: np.ndarray = None
    dc: Optional[np.ndarray] = None
    dcnext: Optional[np.ndarray] = None
    grads_raw: Dict[str, np.ndarray] = None
    grads: Dict[str, np.ndarray] = None
    grad_norms_raw: Dict[str, float] = None
    grad_norms: Dict[str, float] = None
    grad_norm_before_clip: float = 0.0
    grad_norm_after_clip: float = 0.0
    clip: ClipReport = None
    h_last: np.ndarray = None
    c_last: Optional[np.ndarray] = None
    backprop_bug: Optional[str] = None
    loss_steps: str = "all"
    bptt_window: Optional[int] = None

    @property
    def T(self) -> int:
        return int(self.inputs.size)

    @property
    def hidden_size(self) -> int:
        return int(self.h.shape[1])

    @property
    def vocab_size(self) -> int:
        return int(self.p.shape[1])

    @property
    def recurrent_weights(self) -> np.ndarray:
        """(H, G*H) the recurrent matrix in the row-vector orientation the cells use."""
        return self.params["Whh"].T

    @property
    def recurrent_name(self) -> str:
        """The parameter name of the recurrent matrix ("Whh" here; "Wh" in cs231n's model)."""
        return "Whh"

    @property
    def bug(self) -> Optional[str]:
        """The gallery bug the backward pass was computed with (same as ``backprop_bug``)."""
        return self.backprop_bug

    def _factors(self, name: str) -> tuple:
        if name == "Whh" and self.backprop_bug == "h-instead-of-hprev":
            return "dah", "h"
        return _CONTRIB_FACTORS[name]

    @property
    def dhraw(self) -> np.ndarray:
        """(T, G*H) seed 000's name for the gradient through the nonlinearity (= dax)."""
        return self.dax

    def step_grad(self, name: str, t: int) -> np.ndarray:
        """Step t's contribution to ``grads_raw[name]``; the params' shape for ``name``.
        The contributions of all steps sum to ``grads_raw[name]``."""
        left, right = self._factors(name)
        a = getattr(self, left)[t]
        return a.copy() if right is None else np.outer(a, getattr(self, right)[t])

    def step_grad_norms(self, name: str) -> np.ndarray:
        """(T,) L2 norm of each step's contribution to ``grads_raw[name]``."""
        left, right = self._factors(name)
        # The Frobenius norm of an outer product is the product of the two vector norms.
        n = np.linalg.norm(getattr(self, left), axis=1)
        return n if right is None else n * np.linalg.norm(getattr(self, right), axis=1)

    def accumulated_grad(self, name: str, t: int) -> np.ndarray:
        """The raw gradient as the backward loop holds it right after processing step t:
        the sum of the contributions of steps t..T-1. Shape of ``params[name]``."""
        left, right = self._factors(name)
        a = getattr(self, left)[t:]
        return a.sum(axis=0) if right is None else a.T @ getattr(self, right)[t:]


def backward_step(cell, dh: np.ndarray, cache: StepCache, Wh: np.ndarray,
                  dc_next: Optional[np.ndarray] = None, bug: Optional[str] = None) -> StepGrad:
    """One backward step of a registered cell (a name or its CellSpec) with the per-step
    part of a gallery bug applied: the cell's own bugs (``CellSpec.cell_bugs``) and
    "dhnext-from-dh".  The loop-level bugs (what is carried between steps) are the caller's:
    see :func:`carries`.  Shapes as in :func:`bpttviz.engine.cells.step_backward`."""
    spec = cell if isinstance(cell, CellSpec) else get_cell(cell)
    if bug is not None and bug in spec.cell_bugs:
        g = spec.step_backward(dh, cache, Wh, dc_next, bug=bug)
    else:
        g = spec.step_backward(dh, cache, Wh, dc_next)
    if bug == "dhnext-from-dh":
        g.dh_prev = dh @ Wh.T  # the bug: from dh, before the nonlinearity's derivative
    return g


def carries(bug: Optional[str]) -> tuple:
    """``(carry dhnext, carry dcnext)``: whether the backward loop adds what step t+1 sends
    back into h_t and into c_t (False for "forget-dhnext" and "lstm-drop-dc" respectively)."""
    return bug != "forget-dhnext", bug != "lstm-drop-dc"


def run_bptt(params, inputs, targets, h0=None, cell: str = "rnn", clip: Optional[str] = "value",
             clip_value: float = 5.0, c0=None, backprop_bug: Optional[str] = None,
             bug: Optional[str] = None, last_step_only: bool = False,
             bptt_window: Optional[int] = None) -> Trace:
    """Forward and backward pass over one window, recording everything (see :class:`Trace`).

    params: dict as from :func:`init_params`; inputs, targets: (T,) indices (input -1 = zero
    vector); h0, c0: (H,) carried states (zeros if None); clip: None, "none", "value", "norm"
    or "param-norm" with threshold ``clip_value``; bug (or its older name backprop_bug): None
    or a gallery bug of :data:`bpttviz.engine.bugs.BUGS` that applies to the cell (a teaching
    toggle computing a classic mistake); ValueError naming the known bugs otherwise.
    last_step_only: backpropagate only the last step's loss (``Trace.loss_steps`` "last").
    bptt_window: None, or a whole number k >= 1: truncated BPTT in windows of k steps
      (``Trace.bptt_window``).
    """
    clip = check_clip(clip, clip_value)
    if not isinstance(last_step_only, (bool, np.bool_)):
        raise ValueError(f"last_step_only must be True or False; got {last_step_only!r}")
    if bptt_window is not None:
        if isinstance(bptt_window, (bool, np.bool_)) or not isinstance(bptt_window, (int, np.integer)) \
                or bptt_window < 1:
            raise ValueError(f"bptt_window must be None or a whole number >= 1; got {bptt_window!r}")
        bptt_window = int(bptt_window)
    if bug is not None and backprop_bug is not None and bug != backprop_bug:
        raise ValueError(f"give bug or backprop_bug, not two different bugs; got bug={bug!r} and "
                         f"backprop_bug={backprop_bug!r}")
    keyword = "backprop_bug" if backprop_bug is not None else "bug"
    bug = check_bug(bug if bug is not None else backprop_bug, None, keyword)
    spec = get_cell(cell)
    check_bug(bug, cell, keyword)
    lstm = spec.has_cell_state
    if bug == "no-carry-state":
        # Validate what was passed, then ignore it: the mistake is starting from zeros.
        _, H = check_params(params, cell)
        h0 = _check_state("h0", h0, H)
        c0 = _check_state("c0", c0, H) if lstm else None
        fields, dy, inputs, targets = _forward(params, inputs, targets, None, None, cell)
    else:
        fields, dy, inputs, targets = _forward(params, inputs, targets, h0, c0, cell)
    fw = SimpleNamespace(**fields)
    if bug == "dy-without-minus-one":
        dy = fw.p.copy()
    T, H = fw.h.shape
    if last_step_only:
        dy[:-1] = 0.0  # only losses[-1] is backpropagated
        fields["loss"] = float(fw.losses[-1])
    # Steps t whose carried gradient from t+1 is cut (step t+1 starts a truncation window).
    cut = np.zeros(T, dtype=bool)
    if bptt_window is not None:
        cut[bptt_window - 1:T - 1:bptt_window] = True
    Why = np.asarray(params["Why"], dtype=float)
    dh_from_output = dy @ Why
    Wh = params["Whh"].T
    GH = Wh.shape[1]
    dax, dah = np.empty((T, GH)), np.empty((T, GH))
    dhnext, dh_from_future, dh_total = np.empty((T, H)), np.empty((T, H)), np.empty((T, H))
    dc = np.empty((T, H)) if lstm else None
    dcnext = np.empty((T, H)) if lstm else None
    carry_dh, carry_dc = carries(bug)
    if spec.fast_kernel == "tanh-rnn" and bug in _KERNEL_BUGS and not cut.any():
        # Same arithmetic as the rnn's step_backward, as one kernel call (compiled when Numba
        # is there) that also sums dWxh and dbh as it goes, in the seed's order.
        V = dy.shape[1]
        dWxh, dbh, dby = np.zeros((H, V)), np.zeros(H), np.zeros(V)
        _kernels.get().rnn_backward(dh_from_output, dy, fw.h, _kernel_array(params["Whh"]),
                                    inputs, dh_total, dh_from_future, dax, dhnext, dWxh, dbh,
                                    dby, carry_dh)
        if not np.isfinite(dbh).all():
            # Diverged: the seed's dhraw·xᵀ spreads inf/NaN into every column (NaN·0 = NaN);
            # the kernel's column add would leave the other columns finite.
            dWxh = dax.T @ fw.x
        dah = dax
    else:
        carry_h, carry_c = np.zeros(H), np.zeros(H) if lstm else None
        for t in reversed(range(T)):
            if cut[t]:  # truncation: nothing crosses the window boundary after step t
                carry_h = np.zeros(H)
                carry_c = np.zeros(H) if lstm else None
            dh_from_future[t] = carry_h if carry_dh else 0.0
            dh_total[t] = dh_from_output[t] + dh_from_future[t]
            g: StepGrad = backward_step(spec, dh_total[t], fw.caches[t], Wh, carry_c, bug)
            dax[t], dah[t], dhnext[t] = g.dax, g.dah, g.dh_prev
            carry_h = g.dh_prev
            if lstm:
                dc[t], dcnext[t] = g.dc, g.dc_prev
                carry_c = g.dc_prev if carry_dc else np.zeros(H)
        # Weight gradients are sums over t of outer products: one matmul each, not a loop.
        dWxh, dbh, dby = dax.T @ fw.x, dax.sum(axis=0), dy.sum(axis=0)
    whh_right = fw.h if bug == "h-instead-of-hprev" else fw.h_prev
    grads_raw = {"Wxh": dWxh, "Whh": dah.T @ whh_right, "Why": dy.T @ fw.h, "bh": dbh,
                 "by": dby}
    grads, report = clip_gradients(grads_raw, clip, clip_value)
    if bug == "no-carry-state":
        h0_arr, c0_arr = h0.copy(), (c0.copy() if lstm else None)
    else:
        h0_arr, c0_arr = fw.h_prev[0].copy(), (fw.c_prev[0].copy() if lstm else None)
    return Trace(
        **fields,
        cell=cell, inputs=inputs, targets=targets, h0=h0_arr, c0=c0_arr,
        params={k: np.array(params[k], dtype=float, copy=True) for k in PARAM_NAMES},
        dy=dy, dh_from_output=dh_from_output, dh_from_future=dh_from_future, dh=dh_total,
        dax=dax, dah=dah, dhnext=dhnext, dc=dc, dcnext=dcnext,
        grads_raw=grads_raw, grads=grads, grad_norms_raw=report.norms_before,
        grad_norms=report.norms_after, grad_norm_before_clip=report.grad_norm_before_clip,
        grad_norm_after_clip=report.grad_norm_after_clip, clip=report,
        h_last=fw.h[-1].copy(), c_last=fw.c[-1].copy() if lstm else None,
        backprop_bug=bug, loss_steps="last" if last_step_only else "all",
        bptt_window=bptt_window,
    )

"""Recurrent cells: one forward step and one backward step each, as paired functions, and
their registry entries (:mod:`bpttviz.engine.cellspec`).

Every cell works on row vectors with any leading shape ``(..., H)``: a single sequence
passes ``(H,)`` vectors, a cs231n minibatch passes ``(N, H)``, and the contribution
analysis passes ``(T, H)`` (one row per loss term).  Shapes below use ``(..., H)``.

All cells split the pre-activation into an *input part* ``ax = x @ Wx + b`` (computed
for all timesteps at once by the caller, because it does not depend on the recurrence)
and a *recurrent part* ``ah = h_prev @ Wh``.  ``G`` is the number of gate blocks
(``CELLS[cell].G``), so ``ax`` and ``ah`` are ``(..., G*H)``.

* ``rnn``:  ``h = tanh(ax + ah)``  (seed 000, cs231n ``rnn_step_forward``)
* ``lstm``: blocks in the order i, f, o, g;  ``c = f*c_prev + i*g``, ``h = o*tanh(c)``
  (cs231n ``lstm_step_forward``)
* ``gru``:  blocks in the order z, r, n;  ``z = sigmoid(ax_z + ah_z)``,
  ``r = sigmoid(ax_r + ah_r)``, ``n = tanh(ax_n + r * ah_n)``,
  ``h = (1 - z) * n + z * h_prev`` (the cuDNN/PyTorch form, with a single bias so the
  parameter shapes match the other cells).

The backward step returns the gradient at the input part (``dax``, which feeds ``dWx``
and ``db``) and at the recurrent part (``dah``, which feeds ``dWh`` and flows on to
``h_prev``).  They differ only for the GRU's n block, where ``ah_n`` is gated by ``r``.

The three backward steps also implement the gallery bug ``no-tanh-derivative`` (every
``1 - tanh²`` factor of the cell left out); the other gallery bugs live in the BPTT loop
(:mod:`bpttviz.engine.bugs`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .cellspec import (CELLS, GATE_NAMES, GATES, CellSpec, GateSpec, check_cell, get_cell,
                       parse_listing, register_cell, registered_cell, unregister_cell)

__all__ = ["CELLS", "GATES", "GATE_NAMES", "CellSpec", "GateSpec", "StepCache", "StepGrad",
           "check_cell", "get_cell", "parse_listing", "register_cell", "registered_cell",
           "unregister_cell", "sigmoid", "step_forward", "step_backward"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow warnings for large ``|x|``. Shape of ``x``."""
    # exp(-|x|) never overflows; the two branches are the same function rearranged.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass
class StepCache:
    """What one forward step keeps for its backward step. All arrays ``(..., H)``
    unless noted; gate entries exist only for the cells that have them."""

    h_prev: np.ndarray
    h: np.ndarray
    preact: np.ndarray  # (..., G*H) the true pre-activation of every block
    c_prev: Optional[np.ndarray] = None  # lstm
    c: Optional[np.ndarray] = None  # lstm
    tanh_c: Optional[np.ndarray] = None  # lstm
    gates: dict = field(default_factory=dict)  # name -> (..., H)
    ah_n: Optional[np.ndarray] = None  # gru: h_prev @ Wh_n, needed for dr


@dataclass
class StepGrad:
    """Gradients produced by one backward step.

    dax (..., G*H): gradient at the input part of the pre-activation (-> dWx, db).
    dah (..., G*H): gradient at the recurrent part h_prev @ Wh (-> dWh).
    dh_prev (..., H): gradient sent back into h_{t-1} (min-char-rnn's ``dhnext``).
    dc (..., H) or None: total gradient at c_t (lstm).
    dc_prev (..., H) or None: gradient sent back into c_{t-1} (lstm).
    """

    dax: np.ndarray
    dah: np.ndarray
    dh_prev: np.ndarray
    dc: Optional[np.ndarray] = None
    dc_prev: Optional[np.ndarray] = None


def step_forward(cell: str, ax: np.ndarray, h_prev: np.ndarray, Wh: np.ndarray,
                 c_prev: Optional[np.ndarray] = None) -> StepCache:
    """One forward step of a registered cell.

    ax (..., G*H): input part of the pre-activation, bias included.
    h_prev (..., H); Wh (H, G*H); c_prev (..., H) for cells with a cell state (zeros if None).
    Returns a StepCache whose ``h`` (and ``c``) are the new state, ``(..., H)``.
    """
    return get_cell(cell).step_forward(ax, h_prev, Wh, c_prev)


def step_backward(cell: str, dh: np.ndarray, cache: StepCache, Wh: np.ndarray,
                  dc_next: Optional[np.ndarray] = None, bug: Optional[str] = None) -> StepGrad:
    """One backward step of a registered cell.

    dh (..., H): total gradient reaching h_t (from the output and from the future).
    dc_next (..., H) or None: gradient reaching c_t from step t+1 (lstm).
    Wh (H, G*H). bug: a gallery bug the cell implements itself (``CellSpec.cell_bugs``) or
    None. Returns StepGrad (shapes in its docstring).
    """
    spec = get_cell(cell)
    if bug is None:
        return spec.step_backward(dh, cache, Wh, dc_next)
    if bug not in spec.cell_bugs:
        raise ValueError(f"cell {cell!r} does not implement bug {bug!r} in its step")
    return spec.step_backward(dh, cache, Wh, dc_next, bug=bug)


# --------------------------------------------------------------------------------------------
# tanh RNN
# --------------------------------------------------------------------------------------------

def rnn_step_forward(ax, h_prev, Wh, c_prev=None) -> StepCache:
    preact = ax + h_prev @ Wh
    return StepCache(h_prev=h_prev, h=np.tanh(preact), preact=preact)


def rnn_step_backward(dh, cache, Wh, dc_next=None, bug=None) -> StepGrad:
    # (a copy for the bug: callers may overwrite dh in place once the step returns)
    dax = dh.copy() if bug == "no-tanh-derivative" else (1.0 - cache.h * cache.h) * dh
    return StepGrad(dax=dax, dah=dax, dh_prev=dax @ Wh.T)


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------

def lstm_step_forward(ax, h_prev, Wh, c_prev=None) -> StepCache:
    H = h_prev.shape[-1]
    if c_prev is None:
        c_prev = np.zeros_like(h_prev)
    preact = ax + h_prev @ Wh
    i = sigmoid(preact[..., :H])
    f = sigmoid(preact[..., H:2 * H])
    o = sigmoid(preact[..., 2 * H:3 * H])
    g = np.tanh(preact[..., 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    return StepCache(h_prev=h_prev, h=o * tanh_c, preact=preact, c_prev=c_prev, c=c,
                     tanh_c=tanh_c, gates={"i": i, "f": f, "o": o, "g": g})


def lstm_step_backward(dh, cache, Wh, dc_next=None, bug=None) -> StepGrad:
    gt = cache.gates
    i, f, o, g = gt["i"], gt["f"], gt["o"], gt["g"]
    no_tanh = bug == "no-tanh-derivative"
    dc = dh * o if no_tanh else dh * o * (1.0 - cache.tanh_c * cache.tanh_c)
    if dc_next is not None:
        dc = dc + dc_next
    da = np.concatenate([
        dc * g * i * (1.0 - i),
        dc * cache.c_prev * f * (1.0 - f),
        dh * cache.tanh_c * o * (1.0 - o),
        dc * i if no_tanh else dc * i * (1.0 - g * g),
    ], axis=-1)
    return StepGrad(dax=da, dah=da, dh_prev=da @ Wh.T, dc=dc, dc_prev=dc * f)


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------

def gru_step_forward(ax, h_prev, Wh, c_prev=None) -> StepCache:
    H = h_prev.shape[-1]
    ah = h_prev @ Wh
    z = sigmoid(ax[..., :H] + ah[..., :H])
    r = sigmoid(ax[..., H:2 * H] + ah[..., H:2 * H])
    ah_n = ah[..., 2 * H:]
    n_pre = ax[..., 2 * H:] + r * ah_n
    n = np.tanh(n_pre)
    preact = np.concatenate([ax[..., :2 * H] + ah[..., :2 * H], n_pre], axis=-1)
    return StepCache(h_prev=h_prev, h=(1.0 - z) * n + z * h_prev, preact=preact,
                     gates={"z": z, "r": r, "n": n}, ah_n=ah_n)


def gru_step_backward(dh, cache, Wh, dc_next=None, bug=None) -> StepGrad:
    gt = cache.gates
    z, r, n = gt["z"], gt["r"], gt["n"]
    dn_pre = dh * (1.0 - z) if bug == "no-tanh-derivative" else dh * (1.0 - z) * (1.0 - n * n)
    dz_pre = dh * (cache.h_prev - n) * z * (1.0 - z)
    dr_pre = dn_pre * cache.ah_n * r * (1.0 - r)
    dax = np.concatenate([dz_pre, dr_pre, dn_pre], axis=-1)
    dah = np.concatenate([dz_pre, dr_pre, dn_pre * r], axis=-1)
    # h_prev also reaches h directly through the update gate's "keep" path.
    return StepGrad(dax=dax, dah=dah, dh_prev=dah @ Wh.T + dh * z)


# --------------------------------------------------------------------------------------------
# Registry entries: texts in seed 000's notation (column vectors, xs/hs/ps, dhnext)
# --------------------------------------------------------------------------------------------

RNN = register_cell(CellSpec(
    name="rnn", title="tanh RNN", G=1, gates=(),
    step_forward=rnn_step_forward, step_backward=rnn_step_backward,
    blurb="plain tanh RNN (min-char-rnn)", fast_kernel="tanh-rnn",
    cell_bugs=frozenset({"no-tanh-derivative"}),
    forward_eq=("h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh);  y_t = Why·h_t + by;  "
                "p_t = softmax(y_t);  loss_t = -log p_t[target_t]"),
    backward_eq=("dy = p_t - onehot(target_t);  dh = Whyᵀ·dy + dhnext;  "
                 "dhraw = (1 - h_t²)⊙dh;  dhnext = Whhᵀ·dhraw"),
    forward_code="""\
 |# forward pass: one event per step t
f|for t in range(len(inputs)):
f|    xs[t] = np.zeros((vocab_size, 1)); xs[t][inputs[t]] = 1  # one-hot
F|    hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t-1] + bh)  # new state
f|    ys[t] = Why @ hs[t] + by                      # logits
f|    ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))  # softmax
f|    loss += -np.log(ps[t][targets[t], 0])         # cross-entropy
""",
    backward_code="""\
 |dhnext = np.zeros_like(hs[0])
b|for t in reversed(range(len(inputs))):
b|    dy = np.copy(ps[t]); dy[targets[t]] -= 1      # into the logits
b|    dWhy += dy @ hs[t].T;  dby += dy
b|    dh = Why.T @ dy + dhnext                      # own loss + future
b|    dhraw = (1 - hs[t] * hs[t]) * dh              # through tanh
b|    dWxh += dhraw @ xs[t].T;  dWhh += dhraw @ hs[t-1].T;  dbh += dhraw
B|    dhnext = Whh.T @ dhraw                        # sent to h[t-1]
""",
    backward_values=(("dhraw", "dax"),),
    formulas=(("h", "h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh)"),),
    backward_formula="dhnext = Whhᵀ·dhraw,  dhraw = (1 - h²)⊙dh",
))

LSTM = register_cell(CellSpec(
    name="lstm", title="LSTM", G=4, has_cell_state=True,
    gates=(GateSpec("i", "input gate", "σ(·): how much of g is written"),
           GateSpec("f", "forget gate", "σ(·): how much of c_{t-1} is kept"),
           GateSpec("o", "output gate", "σ(·): how much of tanh(c_t) is shown"),
           GateSpec("g", "candidate", "tanh(·): what would be written", "tanh")),
    step_forward=lstm_step_forward, step_backward=lstm_step_backward,
    blurb="long short-term memory (gates i, f, o, g and a cell state c)",
    cell_bugs=frozenset({"no-tanh-derivative"}),
    forward_eq=("i,f,o,g = σ,σ,σ,tanh(Wxh·x_t + Whh·h_{t-1} + bh);  c_t = f⊙c_{t-1} + i⊙g;  "
                "h_t = o⊙tanh(c_t);  p_t = softmax(Why·h_t + by)"),
    backward_eq=("dh = Whyᵀ·dy + dhnext;  dc = dh⊙o⊙(1 - tanh²c_t) + dcnext;  "
                 "da = [di,df,do,dg]⊙gate';  dhnext = Whhᵀ·da;  dcnext = f⊙dc"),
    forward_code="""\
 |# forward pass: one event per step t (gate blocks i, f, o, g)
f|for t in range(len(inputs)):
f|    xs[t] = np.zeros((vocab_size, 1)); xs[t][inputs[t]] = 1
f|    a = Wxh @ xs[t] + Whh @ hs[t-1] + bh          # 4H pre-activations
f|    i, f, o = sigmoid(a[:H]), sigmoid(a[H:2*H]), sigmoid(a[2*H:3*H])
f|    g = np.tanh(a[3*H:])                          # candidate
f|    cs[t] = f * cs[t-1] + i * g                   # cell state
F|    hs[t] = o * np.tanh(cs[t])                    # new state
f|    ys[t] = Why @ hs[t] + by
f|    ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
f|    loss += -np.log(ps[t][targets[t], 0])
""",
    backward_code="""\
 |dhnext, dcnext = np.zeros_like(hs[0]), np.zeros_like(cs[0])
b|for t in reversed(range(len(inputs))):
b|    dy = np.copy(ps[t]); dy[targets[t]] -= 1
b|    dWhy += dy @ hs[t].T;  dby += dy
b|    dh = Why.T @ dy + dhnext                      # own loss + future
b|    dc = dh * o * (1 - np.tanh(cs[t])**2) + dcnext
b|    di, df, do, dg = dc * g, dc * cs[t-1], dh * np.tanh(cs[t]), dc * i
b|    da = np.vstack([di*i*(1-i), df*f*(1-f), do*o*(1-o), dg*(1-g*g)])
b|    dWxh += da @ xs[t].T;  dWhh += da @ hs[t-1].T;  dbh += da
B|    dhnext = Whh.T @ da;  dcnext = f * dc         # sent to step t-1
""",
    forward_values=(("i", "gates.i"), ("f", "gates.f"), ("o", "gates.o"), ("g", "gates.g"),
                    ("cs", "c")),
    backward_values=(("dc", "dc"), ("da", "dax")),
    formulas=(("h", "h_t = o⊙tanh(c_t)"), ("c", "c_t = f⊙c_{t-1} + i⊙g"),
              ("i", "i = σ(a_i)"), ("f", "f = σ(a_f)"), ("o", "o = σ(a_o)"),
              ("g", "g = tanh(a_g)")),
    backward_formula="dhnext = Whhᵀ·da over the 4 gate blocks;  dcnext = f⊙dc",
))

GRU = register_cell(CellSpec(
    name="gru", title="GRU", G=3,
    gates=(GateSpec("z", "update gate", "σ(·): how much of h_{t-1} is kept"),
           GateSpec("r", "reset gate", "σ(·): how much of h_{t-1} feeds n"),
           GateSpec("n", "candidate", "tanh(·): the new content", "tanh")),
    step_forward=gru_step_forward, step_backward=gru_step_backward,
    blurb="gated recurrent unit (gates z, r and a candidate n)",
    cell_bugs=frozenset({"no-tanh-derivative"}),
    forward_eq=("z,r = σ(Wxh·x_t + Whh·h_{t-1} + bh);  n = tanh(Wxn·x_t + r⊙(Whn·h_{t-1}) + bn);  "
                "h_t = (1-z)⊙n + z⊙h_{t-1};  p_t = softmax(Why·h_t + by)"),
    backward_eq=("dh = Whyᵀ·dy + dhnext;  dn,dz from h_t = (1-z)⊙n + z⊙h_{t-1};  "
                 "dhnext = Whhᵀ·dah + z⊙dh"),
    forward_code="""\
 |# forward pass: one event per step t (gate blocks z, r, n)
f|for t in range(len(inputs)):
f|    xs[t] = np.zeros((vocab_size, 1)); xs[t][inputs[t]] = 1
f|    ax = Wxh @ xs[t] + bh;  ah = Whh @ hs[t-1]    # input / recurrent parts
f|    z = sigmoid(ax[:H] + ah[:H]);  r = sigmoid(ax[H:2*H] + ah[H:2*H])
f|    n = np.tanh(ax[2*H:] + r * ah[2*H:])          # candidate
F|    hs[t] = (1 - z) * n + z * hs[t-1]             # new state
f|    ys[t] = Why @ hs[t] + by
f|    ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
f|    loss += -np.log(ps[t][targets[t], 0])
""",
    backward_code="""\
 |dhnext = np.zeros_like(hs[0])
b|for t in reversed(range(len(inputs))):
b|    dy = np.copy(ps[t]); dy[targets[t]] -= 1
b|    dWhy += dy @ hs[t].T;  dby += dy
b|    dh = Why.T @ dy + dhnext                      # own loss + future
b|    dn = dh * (1 - z);  dz = dh * (hs[t-1] - n);  dan = dn * (1 - n*n)
b|    dax = np.vstack([dz*z*(1-z), dan * ah[2*H:] * r*(1-r), dan])
b|    dah = np.vstack([dax[:2*H], dan * r])
b|    dWxh += dax @ xs[t].T;  dWhh += dah @ hs[t-1].T;  dbh += dax
B|    dhnext = Whh.T @ dah + dh * z                 # sent to h[t-1]
""",
    forward_values=(("z", "gates.z"), ("r", "gates.r"), ("n", "gates.n")),
    backward_values=(("dax", "dax"), ("dah", "dah")),
    formulas=(("h", "h_t = (1-z)⊙n + z⊙h_{t-1}"), ("z", "z = σ(a_z)"), ("r", "r = σ(a_r)"),
              ("n", "n = tanh(ax_n + r⊙ah_n)")),
    backward_formula="dhnext = Whhᵀ·dah + z⊙dh",
))

"""Recurrent cells: one forward step and one backward step each, as paired functions.

Every cell works on row vectors with any leading shape ``(..., H)``: a single sequence
passes ``(H,)`` vectors, a cs231n minibatch passes ``(N, H)``, and the contribution
analysis passes ``(T, H)`` (one row per loss term).  Shapes below use ``(..., H)``.

All cells split the pre-activation into an *input part* ``ax = x @ Wx + b`` (computed
for all timesteps at once by the caller, because it does not depend on the recurrence)
and a *recurrent part* ``ah = h_prev @ Wh``.  ``G`` is the number of gate blocks
(``GATES[cell]``), so ``ax`` and ``ah`` are ``(..., G*H)``.

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
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
GATE_NAMES = {"rnn": (), "lstm": ("i", "f", "o", "g"), "gru": ("z", "r", "n")}
CELLS = tuple(GATES)


def check_cell(cell: str) -> str:
    """Return ``cell`` if it names a known cell, else raise ``ValueError`` naming the choices."""
    if cell not in GATES:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    return cell


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
    """One forward step.

    ax (..., G*H): input part of the pre-activation, bias included.
    h_prev (..., H); Wh (H, G*H); c_prev (..., H) for lstm (zeros if None).
    Returns a StepCache whose ``h`` (and ``c``) are the new state, ``(..., H)``.
    """
    H = h_prev.shape[-1]
    if cell == "rnn":
        preact = ax + h_prev @ Wh
        return StepCache(h_prev=h_prev, h=np.tanh(preact), preact=preact)
    if cell == "lstm":
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
    if cell == "gru":
        ah = h_prev @ Wh
        z = sigmoid(ax[..., :H] + ah[..., :H])
        r = sigmoid(ax[..., H:2 * H] + ah[..., H:2 * H])
        ah_n = ah[..., 2 * H:]
        n_pre = ax[..., 2 * H:] + r * ah_n
        n = np.tanh(n_pre)
        preact = np.concatenate([ax[..., :2 * H] + ah[..., :2 * H], n_pre], axis=-1)
        return StepCache(h_prev=h_prev, h=(1.0 - z) * n + z * h_prev, preact=preact,
                         gates={"z": z, "r": r, "n": n}, ah_n=ah_n)
    raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")


def step_backward(cell: str, dh: np.ndarray, cache: StepCache, Wh: np.ndarray,
                  dc_next: Optional[np.ndarray] = None) -> StepGrad:
    """One backward step.

    dh (..., H): total gradient reaching h_t (from the output and from the future).
    dc_next (..., H) or None: gradient reaching c_t from step t+1 (lstm).
    Wh (H, G*H). Returns StepGrad (shapes in its docstring).
    """
    if cell == "rnn":
        dax = (1.0 - cache.h * cache.h) * dh
        return StepGrad(dax=dax, dah=dax, dh_prev=dax @ Wh.T)
    if cell == "lstm":
        gt = cache.gates
        i, f, o, g = gt["i"], gt["f"], gt["o"], gt["g"]
        dc = dh * o * (1.0 - cache.tanh_c * cache.tanh_c)
        if dc_next is not None:
            dc = dc + dc_next
        da = np.concatenate([
            dc * g * i * (1.0 - i),
            dc * cache.c_prev * f * (1.0 - f),
            dh * cache.tanh_c * o * (1.0 - o),
            dc * i * (1.0 - g * g),
        ], axis=-1)
        return StepGrad(dax=da, dah=da, dh_prev=da @ Wh.T, dc=dc, dc_prev=dc * f)
    if cell == "gru":
        gt = cache.gates
        z, r, n = gt["z"], gt["r"], gt["n"]
        dn_pre = dh * (1.0 - z) * (1.0 - n * n)
        dz_pre = dh * (cache.h_prev - n) * z * (1.0 - z)
        dr_pre = dn_pre * cache.ah_n * r * (1.0 - r)
        dax = np.concatenate([dz_pre, dr_pre, dn_pre], axis=-1)
        dah = np.concatenate([dz_pre, dr_pre, dn_pre * r], axis=-1)
        # h_prev also reaches h directly through the update gate's "keep" path.
        return StepGrad(dax=dax, dah=dah, dh_prev=dah @ Wh.T + dh * z)
    raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")

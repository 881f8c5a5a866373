"""Optimizers that update a parameter dict in place, as the seeds do.

* ``sgd``: ``p -= lr * g`` (the dinosaurs assignment, lr 0.01).
* ``adagrad``: ``mem += g*g; p -= lr * g / sqrt(mem + eps)`` (min-char-rnn, lr 0.1, eps 1e-8).
* ``adam``: cs231n's ``adam`` with bias correction (beta1 0.9, beta2 0.999, eps 1e-8).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np



@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer, everything the app shows about it: ``tooltip`` for controls,
    ``equation`` for the header at the update event, ``code`` the code panel's lines."""

    name: str
    tooltip: str
    equation: str
    code: Tuple[Tuple[str, str], ...]


#: The one registry of optimizers (controls, header, code panel, make_optimizer read it).
OPTIMIZER_SPECS: Dict[str, OptimizerSpec] = {s.name: s for s in (
    OptimizerSpec("sgd", "Plain gradient descent (the dinosaurs assignment)",
                  "param -= lr · dparam",
                  (("for param, dparam in zip(params, grads):", "u"),
                   ("    param += -learning_rate * dparam", "U"))),
    OptimizerSpec("adagrad", "Adagrad, as min-char-rnn: each entry's step shrinks with its "
                  "accumulated squared gradient",
                  "mem += dparam²;  param -= lr · dparam / sqrt(mem + 1e-8)",
                  (("for param, dparam, mem in zip(params, grads, mems):", "u"),
                   ("    mem += dparam * dparam", "u"),
                   ("    param += -learning_rate * dparam / np.sqrt(mem + 1e-8)", "U"))),
    OptimizerSpec("adam", "Adam (cs231n's captioning): momentum and per-entry scaling",
                  "m = β1·m + (1-β1)·dparam;  v = β2·v + (1-β2)·dparam²;  param -= lr · m̂ / (sqrt(v̂) + ε)",
                  (("for param, dparam, m, v in zip(params, grads, ms, vs):", "u"),
                   ("    m = b1 * m + (1 - b1) * dparam;  v = b2 * v + (1 - b2) * dparam**2", "u"),
                   ("    param += -learning_rate * m_hat / (np.sqrt(v_hat) + eps)", "U"))),
)}
OPTIMIZERS = tuple(OPTIMIZER_SPECS)


class Optimizer:
    """Base class: ``step(params, grads)`` updates ``params`` in place and returns the
    update applied to each parameter (name -> array of the parameter's shape)."""

    name = "base"

    def __init__(self, lr: float):
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise ValueError(f"lr (learning rate) must be a finite number > 0; got {lr!r}") from None
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr (learning rate) must be a finite number > 0; got {lr!r}")
        self.lr = lr
        self.state: Dict[str, np.ndarray] = {}

    def step(self, params: Dict[str, np.ndarray], grads: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def state_arrays(self) -> Dict[str, np.ndarray]:
        """Flat name -> array view of the optimizer state, for saving sessions."""
        return dict(self.state)

    def load_state_arrays(self, arrays: Dict[str, np.ndarray]) -> None:
        self.state = {k: np.array(v, dtype=float) for k, v in arrays.items()}

    def state_shapes(self, params: Dict[str, np.ndarray]) -> Dict[str, tuple]:
        """Name -> shape of every state entry this optimizer keeps for ``params`` (entries
        are created on the first step, so a fresh optimizer holds none of them)."""
        return {}

    #: State entries that must be >= 0 (sums of squares).
    _nonnegative = ()

    def check_state(self, arrays: Dict[str, np.ndarray], params: Dict[str, np.ndarray]) -> None:
        """ValueError unless ``arrays`` is a valid state for ``params``: known names only,
        each entry's shape matching its parameter, finite, sums of squares >= 0."""
        shapes = self.state_shapes(params)
        unknown = sorted(set(arrays) - set(shapes))
        if unknown:
            raise ValueError(f"optimizer state {unknown[0]!r} does not belong to {self.name} "
                             f"with these parameters")
        for k, v in arrays.items():
            v = np.asarray(v)
            if v.shape != shapes[k]:
                raise ValueError(f"optimizer state {k} has shape {v.shape}; its parameter needs "
                                 f"{shapes[k]}")
            if v.dtype.kind not in "fiu" or not np.all(np.isfinite(v)):
                raise ValueError(f"optimizer state {k} holds non-finite values (inf or NaN) or non-numbers")
            if k.startswith(self._nonnegative) and np.any(v < 0):
                raise ValueError(f"optimizer state {k} holds negative values (it is a sum of squares)")


class SGD(Optimizer):
    name = "sgd"

    def step(self, params, grads):
        updates = {}
        for k in params:
            updates[k] = -self.lr * grads[k]
            params[k] += updates[k]
        return updates


class Adagrad(Optimizer):
    name = "adagrad"
    _nonnegative = ("mem_",)

    def state_shapes(self, params):
        return {"mem_" + k: v.shape for k, v in params.items()}

    def __init__(self, lr: float = 0.1, eps: float = 1e-8):
        super().__init__(lr)
        self.eps = eps

    def step(self, params, grads):
        updates = {}
        for k in params:
            mem = self.state.setdefault("mem_" + k, np.zeros_like(params[k]))
            mem += grads[k] * grads[k]
            updates[k] = -self.lr * grads[k] / np.sqrt(mem + self.eps)
            params[k] += updates[k]
        return updates


class Adam(Optimizer):
    name = "adam"
    _nonnegative = ("v_", "t")

    def state_shapes(self, params):
        out = {"t": (1,)}
        for k, v in params.items():
            out["m_" + k] = v.shape
            out["v_" + k] = v.shape
        return out

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def step(self, params, grads):
        t = self.state.get("t", np.zeros(1))
        t = t + 1
        self.state["t"] = t
        updates = {}
        for k in params:
            m = self.state.setdefault("m_" + k, np.zeros_like(params[k]))
            v = self.state.setdefault("v_" + k, np.zeros_like(params[k]))
            m *= self.beta1
            m += (1 - self.beta1) * grads[k]
            v *= self.beta2
            v += (1 - self.beta2) * grads[k] * grads[k]
            mhat = m / (1 - self.beta1 ** t[0])
            vhat = v / (1 - self.beta2 ** t[0])
            updates[k] = -self.lr * mhat / (np.sqrt(vhat) + self.eps)
            params[k] += updates[k]
        return updates


def make_optimizer(name: str, lr: float) -> Optimizer:
    """An optimizer by name (one of ``OPTIMIZERS``) with learning rate ``lr``."""
    classes = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}
    if name not in classes:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    return classes[name](lr=lr)

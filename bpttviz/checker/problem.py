"""The weights and inputs both sides run on, and the engine's traces of them.

Weights are drawn large enough (``randn * 0.5..1.5``, nonzero biases and a nonzero initial
state) that a missing term changes every number and min-char-rnn's value clip at ±5 bites on
a few entries; the inputs are drawn from a skewed distribution so characters repeat.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..engine.model import PARAM_NAMES, init_params, run_bptt

DEFAULT_T = 8
DEFAULT_HIDDEN = 5
VOCAB = 6
CLIP = 5.0
BATCH = 2  # cs231n minibatch: sums over the batch must use the right axis
_SCALES = {"Wxh": 0.9, "Whh": 0.7, "Why": 1.6, "bh": 0.3, "by": 0.3}


@dataclass
class Problem:
    """style; T steps, H hidden, V vocabulary; seed.  ``params[cell]``: engine-form params
    (biases (G*H,)); ``inputs``/``targets``/``h0``: (N, T) / (N, T) / (N, H) with N = 1
    except for cs231n.  ``cells``: the cells checked (cs231n may check rnn and lstm)."""

    style: str
    T: int
    H: int
    V: int
    seed: int
    cells: List[str]
    params: Dict[str, Dict[str, np.ndarray]]
    inputs: np.ndarray
    targets: np.ndarray
    h0: np.ndarray
    traces: Dict[str, list] = field(default_factory=dict)


def make_problem(style: str, seed: int = 0, T: int = DEFAULT_T, H: int = DEFAULT_HIDDEN,
                 cells=("rnn",)) -> Problem:
    rng = np.random.default_rng(seed)
    V = VOCAB
    N = BATCH if style == "cs231n" else 1
    probs = np.array([0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
    data = rng.choice(V, size=(N, T + 1), p=probs)
    inputs, targets = data[:, :-1].copy(), data[:, 1:].copy()
    if style == "dinos":
        inputs[:, 0] = -1  # the assignment's X[0] = None: the zero vector
        targets[:, -1] = V - 1  # and a name ends with "\n"
    h0 = rng.uniform(-0.6, 0.6, size=(N, H))
    params = {}
    for cell in cells:
        p = init_params(cell, V, H, seed=int(rng.integers(1 << 30)), scale=1.0)
        for k in PARAM_NAMES:
            if k.startswith("b"):
                p[k] = rng.standard_normal(p[k].shape)
            p[k] = p[k] * _SCALES[k]
        params[cell] = p
    prob = Problem(style, T, H, V, seed, list(cells), params, inputs, targets, h0)
    prob.traces = {cell: engine_traces(prob, cell) for cell in cells}
    return prob


def engine_traces(prob: Problem, cell: str, backprop_bug: Optional[str] = None) -> list:
    """One engine trace per sequence (value clip at ±5 recorded in ``grads``)."""
    kw = {} if backprop_bug is None else {"backprop_bug": backprop_bug}
    return [run_bptt(prob.params[cell], prob.inputs[n], prob.targets[n], h0=prob.h0[n], cell=cell,
                     clip="value", clip_value=CLIP, **kw) for n in range(prob.inputs.shape[0])]


def student_arrays(prob: Problem) -> dict:
    """The job's arrays in the style's own orientation."""
    if prob.style in ("minchar", "dinos"):
        p = prob.params["rnn"]
        return {"Wxh": p["Wxh"], "Whh": p["Whh"], "Why": p["Why"], "bh": p["bh"][:, None],
                "by": p["by"][:, None], "inputs": prob.inputs[0], "targets": prob.targets[0],
                "h0": prob.h0[0]}
    N, T = prob.inputs.shape
    x = np.zeros((N, T, prob.V))
    for n in range(N):
        x[n, np.arange(T), prob.inputs[n]] = 1.0
    out = {"x": x, "h0": prob.h0, "cells": np.array(prob.cells)}
    for cell in prob.cells:
        p = prob.params[cell]
        out[f"{cell}_Wx"], out[f"{cell}_Wh"], out[f"{cell}_b"] = p["Wxh"].T, p["Whh"].T, p["bh"]
        out[f"{cell}_dh_up"] = np.stack([tr.dh_from_output for tr in prob.traces[cell]])
    return out


class InPlaceClipTrace:
    """A trace as it would be if every running weight gradient were clipped to ±clip in place
    at every step of the backward loop (the clip indented into the loop): the raw gradient, and
    its norm, are never seen.  Everything else is the wrapped trace's."""

    def __init__(self, trace, clip: float = CLIP):
        self._trace = trace
        self._acc = {}
        for name in PARAM_NAMES:
            s = np.zeros(trace.params[name].shape)
            acc = {}
            for t in reversed(range(trace.T)):
                s = np.clip(s + trace.step_grad(name, t), -clip, clip)
                acc[t] = s
            self._acc[name] = acc
        self.grads_raw = {k: self._acc[k][0] for k in PARAM_NAMES}
        self.grads = dict(self.grads_raw)

    def accumulated_grad(self, name: str, t: int) -> np.ndarray:
        return self._acc[name][t]

    def __getattr__(self, name):
        return getattr(self._trace, name)


class DroppedDcTrace:
    """An LSTM trace as it would be if each backward step ignored the cell-state gradient
    coming from step t+1 (``dc = dh * o * (1 - tanh(c)^2)`` only): the gallery's
    "lstm-drop-dc", built from the engine's own step_backward with no ``dc_next``."""

    def __init__(self, trace):
        from ..engine.cells import step_backward
        self._trace = trace
        T, H = trace.h.shape
        Wh = trace.params["Whh"].T
        self.dax, self.dah = np.empty_like(trace.dax), np.empty_like(trace.dah)
        self.dhnext, self.dcnext = np.empty((T, H)), np.empty((T, H))
        self.dh, self.dc = np.empty((T, H)), np.empty((T, H))
        carry = np.zeros(H)
        for t in reversed(range(T)):
            self.dh[t] = trace.dh_from_output[t] + carry
            g = step_backward("lstm", self.dh[t], trace.caches[t], Wh, None)
            self.dax[t], self.dah[t], self.dhnext[t] = g.dax, g.dah, g.dh_prev
            self.dc[t], self.dcnext[t] = g.dc, g.dc_prev
            carry = g.dh_prev
        self.grads_raw = {"Wxh": self.dax.T @ trace.x, "Whh": self.dah.T @ trace.h_prev,
                          "Why": trace.grads_raw["Why"], "bh": self.dax.sum(axis=0),
                          "by": trace.grads_raw["by"]}

    def step_grad(self, name: str, t: int) -> np.ndarray:
        if name == "Wxh":
            return np.outer(self.dax[t], self._trace.x[t])
        if name == "Whh":
            return np.outer(self.dah[t], self._trace.h_prev[t])
        if name == "bh":
            return self.dax[t].copy()
        return self._trace.step_grad(name, t)

    def __getattr__(self, name):
        return getattr(self._trace, name)

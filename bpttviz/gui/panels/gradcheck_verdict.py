"""The gradient check's verdict and help, in words and numbers (no Qt): the error of each
checked entry against a floor set by the finite differences' rounding noise, the verdict of
the worst one, and the help text built from the stencil the engine really runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ...engine.gradcheck import (_STENCILS, GOOD, MACHINE_EPS, NOISE_FACTOR, entry_errors,  # noqa: F401
                                 error_floor as _error_floor, fd_noise as _fd_noise)
from ...session import GRADCHECK_REFINE, GRADCHECK_STENCIL

#: Error thresholds (cs231n's rule of thumb) and their colours (with a word, so the verdict
#: never depends on colour alone).
SUSPICIOUS = 1e-4
COLORS = {"good": "#1a9850", "suspicious": "#e69f00", "wrong": "#d73027"}
TINTS = {"good": "#d9f0d3", "suspicious": "#fdebc8", "wrong": "#f8d0cc"}
WORDS = {"good": "correct", "suspicious": "suspicious", "wrong": "WRONG"}
MAX_ENTRIES = 20
_FLOOR = 1e-16
# The criterion is the engine's (bpttviz.engine.gradcheck): one definition of "correct".
def verdict(error: float) -> str:
    """"good" (< 1e-7), "suspicious" (< 1e-4) or "wrong"."""
    if not np.isfinite(error):
        return "wrong"
    return "good" if error < GOOD else "suspicious" if error < SUSPICIOUS else "wrong"


def _stencil_weights(order: int):
    return _STENCILS[int(order)]


def fd_noise(loss: float, eps: float = GRADCHECK_STENCIL["eps"],
             order: int = GRADCHECK_STENCIL["order"]) -> float:
    """The rounding noise of one numerical derivative (see the engine's fd_noise)."""
    return _fd_noise(loss, eps, order)


def error_floor(loss: float, eps: float = GRADCHECK_STENCIL["eps"],
                order: int = GRADCHECK_STENCIL["order"]) -> float:
    """The floor F of the entry error at the main step (see the engine's error_floor)."""
    return _error_floor(loss, eps, order)


@dataclass
class ParamCheck:
    """What the panel shows for one parameter: its worst checked entry under
    :func:`entry_errors`, and the verdict of that same number.

    errors (K,): entry errors in the engine's ``checked`` order; worst: their index of the
    largest; index: that entry's index in the parameter; analytic, numeric: its two values.
    """

    errors: np.ndarray
    worst: int
    index: tuple
    analytic: float
    numeric: float

    @property
    def error(self) -> float:
        return float(self.errors[self.worst]) if self.errors.size else 0.0

    @property
    def kind(self) -> str:
        return verdict(self.error)


def summarize(entry, floor: float) -> ParamCheck:
    """The panel's numbers for one engine GradCheckEntry."""
    ix = tuple(np.asarray(entry.checked).T)
    a = np.asarray(entry.analytic)[ix].ravel()
    n = np.asarray(entry.numeric)[ix].ravel()
    # each entry at the floor of the step it was differenced with, when the check refined
    own = getattr(entry, "floor", None)
    err = entry_errors(a, n, own if own is not None else floor)
    if not err.size:
        return ParamCheck(err, 0, (), 0.0, 0.0)
    w = int(np.argmax(err))
    return ParamCheck(err, w, tuple(int(i) for i in np.asarray(entry.checked)[w]),
                      float(a[w]), float(n[w]))


def _fraction(x: float) -> str:
    f = Fraction(x).limit_denominator(1000)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def stencil_formula(order: int = GRADCHECK_STENCIL["order"]) -> str:
    """The engine's stencil as a formula, e.g. "(f(x+ε) − f(x−ε)) / 2ε", built from its
    weights (so the help states what really runs)."""
    stencil = sorted(_stencil_weights(order), key=lambda ow: -ow[0])
    coefs = [Fraction(w).limit_denominator(1000) for _, w in stencil]
    den = math.lcm(*(c.denominator for c in coefs))
    terms = []
    for k, ((off, _), c) in enumerate(zip(stencil, coefs)):
        mag = abs(c * den)
        coef = "" if mag == 1 else _fraction(float(mag))
        shift = f"x{'+' if off > 0 else chr(0x2212)}{'' if abs(off) == 1 else abs(off)}\u03b5"
        term = f"{coef}f({shift})"
        if k == 0:
            terms.append(("\u2212" if c < 0 else "") + term)
        else:
            terms.append(f" {chr(0x2212) if c < 0 else '+'} {term}")
    return f"({''.join(terms)}) / {'' if den == 1 else den}ε"


def help_text(stencil=None, refine=None) -> str:
    """The panel's help for ``stencil`` and ``refine`` steps (default: the session's
    GRADCHECK_STENCIL and GRADCHECK_REFINE, what the window's check really uses)."""
    if refine is None:
        refine = GRADCHECK_REFINE if stencil is None else ()
    stencil = GRADCHECK_STENCIL if stencil is None else stencil
    again = ""
    if refine:
        steps = " and ".join(f"{e:g}" for e in refine)
        again = (f" An entry that step does not judge correct is differenced again with "
                 f"ε = {steps} and keeps the step that agrees best, judged with that step's "
                 "own floor F: a large step misjudges a sharply curved loss (an exploding "
                 "network), a small one drowns in rounding, while a wrong gradient disagrees "
                 "at every step.")
    eps, order = float(stencil["eps"]), int(stencil["order"])
    points = len(_stencil_weights(order)) + 1
    return (
        "<p>Is backpropagation right? For up to 20 randomly chosen entries of every parameter "
        "the <b>analytic</b> gradient a (what backprop through time computed) is compared with "
        f"a <b>numerical</b> one n: a {points}-point centred difference with step "
        f"ε = {eps:g}, n = {stencil_formula(order)} (f is the window's loss, each "
        f"f(…) a forward pass with that one entry nudged).{again}</p>"
        "<p><b>Left</b>: each dot is one checked entry of the chosen parameter, analytic on x, "
        "numerical on y, coloured by its own error. If backprop is right every dot lies on the "
        "dashed diagonal y = x; a thin line joins a wrong dot to the diagonal. Tick <b>show "
        "n \u2212 a</b> to plot the difference instead: a right dot sits on the line y = 0, a "
        "wrong one as far from it as it is wrong.</p>"
        "<p><b>Right</b> and <b>table</b>: per parameter the error of its worst checked entry, "
        "|a − n| / max(|a| + |n|, F), on a log scale, and the verdict of that same number. "
        "F is the floor below which a gradient is too small for finite differences: "
        f"F = {NOISE_FACTOR:g} × noise / 1e-7, where noise = "
        f"{sum(abs(w) for _, w in _stencil_weights(order)):g} (the sum of |weights|) · "
        f"{MACHINE_EPS:.1e} · |loss| / ε is the rounding of the loss divided by the "
        "step (this window's F is printed above the plots). So an entry that is ~0 is judged by its "
        f"difference alone: it is correct when |a − n| is below {NOISE_FACTOR:g}× the "
        "noise. "
        "<span style='color:#1a9850'><b>green</b></span> below 1e-7: correct; "
        "<span style='color:#e69f00'><b>amber</b></span> below 1e-4: suspicious; "
        "<span style='color:#d73027'><b>red</b></span>: the gradient is wrong.</p>"
        "<p>Tick <b>Forget dhnext</b> to make the classic mistake: the gradient arriving from "
        "later steps (dhnext) is not added to dh. Wxh, Whh and bh turn red, Why and by (which "
        "do not go back through time) stay green, and training learns far worse. Untick (or "
        "undo) to fix it.</p>")

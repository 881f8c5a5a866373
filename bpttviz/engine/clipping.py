"""Gradient clipping in the four modes the app compares side by side.

* ``None`` / ``"none"``: gradients pass unchanged.
* ``"value"``: every entry clipped to ``[-threshold, threshold]`` (min-char-rnn, the
  dinosaurs assignment).  Cheap, but it changes the gradient's direction.
* ``"norm"``: if the global L2 norm over all parameters exceeds ``threshold``, every
  gradient is scaled by ``threshold / norm`` (Pascanu et al. 2013): the direction is kept.
* ``"param-norm"``: the same rule applied to each parameter's own norm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from . import kernels as _kernels



@dataclass(frozen=True)
class ClipSpec:
    """One clip mode, everything the app shows about it: ``label`` is its name in menus and
    files ("none", "value", ...), ``mode`` the value of ``clip=`` (None for no clipping),
    ``tooltip`` one line for controls, ``words`` the header's sentence at the clip event,
    ``equation`` the header's equation, ``code`` the code panel's lines ``(text, tag)``.
    ``bounds`` says which L2 norm the threshold c caps after this clipping: "global" (the
    norm over all parameters), "each" (every parameter's own norm) or "" (no norm: none, or
    value clipping, whose c caps each entry)."""

    label: str
    mode: Optional[str]
    tooltip: str
    words: str
    equation: str
    code: Tuple[Tuple[str, str], ...]
    bounds: str = ""


#: The one registry of clip modes (controls, views, header, code panel and checks read it).
CLIP_SPECS: Dict[str, ClipSpec] = {s.label: s for s in (
    ClipSpec("none", None, "No clipping: the update uses the raw gradient",
             "Clip: no clipping (the update uses the raw gradient)",
             "no clipping: grads = grads_raw",
             (("# no clipping: the update uses the raw gradients", "C"),)),
    ClipSpec("value", "value", "Clip every entry to [-c, c] (min-char-rnn): cheap, but it can "
             "change the gradient's direction",
             "Clip: cut every gradient entry to [−c, c]",
             "np.clip(dparam, -c, c) for every parameter (changes the direction)",
             (("for dparam in [dWxh, dWhh, dWhy, dbh, dby]:", "c"),
              ("    np.clip(dparam, -c, c, out=dparam)            # each entry", "C"))),
    ClipSpec("norm", "norm", "If the global norm over all parameters exceeds c, scale every "
             "gradient by c / norm: keeps the direction",
             "Clip: if the global gradient norm exceeds c, rescale every gradient by c / norm",
             "g ← g · c / ||g||  if ||g|| > c, over all parameters together (keeps the direction)",
             (("norm = np.sqrt(sum(np.sum(d * d) for d in grads))", "c"),
              ("if norm > c:", "c"),
              ("    grads = [d * c / norm for d in grads]         # keeps direction", "C")),
             bounds="global"),
    ClipSpec("param-norm", "param-norm", "The same norm rule applied to each parameter separately",
             "Clip: rescale each parameter's gradient whose own norm exceeds c by c / its norm",
             "dparam ← dparam · c / ||dparam||  if ||dparam|| > c, per parameter",
             (("for dparam in [dWxh, dWhh, dWhy, dbh, dby]:", "c"),
              ("    n = np.linalg.norm(dparam)", "c"),
              ("    if n > c: dparam *= c / n                     # each parameter", "C")),
             bounds="each"),
)}
#: Every value ``clip=`` accepts (None and "none" both mean no clipping).
CLIP_MODES = (None,) + tuple(CLIP_SPECS)


def clip_spec(clip: Optional[str]) -> ClipSpec:
    """The registry entry of a ``clip=`` value (None -> "none"); KeyError for an unknown one."""
    return CLIP_SPECS["none" if clip is None else clip]


def check_clip(clip: Optional[str], threshold: float) -> Optional[str]:
    """Validate a clip mode and threshold; return the mode with ``"none"`` folded to None."""
    if clip not in CLIP_MODES:
        raise ValueError("clip must be one of None, 'none', 'value', 'norm', 'param-norm'; "
                         f"got {clip!r}")
    if clip in (None, "none"):
        return None
    try:
        ok = (not isinstance(threshold, bool) and math.isfinite(float(threshold))
              and float(threshold) > 0)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"clip_value must be a finite number > 0; got {threshold!r}")
    return clip


def _norm(g: np.ndarray) -> float:
    # vdot on the flat view: the same value as np.linalg.norm without its per-call overhead.
    return math.sqrt(float(np.vdot(g, g)))


def _scaled_cosine(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> float:
    """Cosine between two gradient dicts (same keys) taken as single vectors, each divided by
    its largest |entry| first so that squares of huge finite entries do not overflow."""
    fa = np.concatenate([np.ravel(a[k]) for k in a]).astype(float)
    fb = np.concatenate([np.ravel(b[k]) for k in a]).astype(float)
    sa, sb = float(np.max(np.abs(fa), initial=0.0)), float(np.max(np.abs(fb), initial=0.0))
    if sa == 0 or sb == 0:
        return 1.0
    fa, fb = fa / sa, fb / sb
    return float(np.vdot(fa, fb) / (np.linalg.norm(fa) * np.linalg.norm(fb)))


def global_norm(grads: Dict[str, np.ndarray]) -> float:
    """L2 norm of all gradients taken together as one vector."""
    return float(math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


@dataclass
class ClipReport:
    """What clipping did.

    mode, threshold: the rule applied (mode None means no clipping).
    norms_before, norms_after: per-parameter L2 norms.
    grad_norm_before_clip, grad_norm_after_clip: global L2 norms.
    fraction_clipped: per parameter, the fraction of entries the rule changed.
    fraction_clipped_total: the same over all entries.
    cosine: cosine between the raw and the clipped gradient as one vector
      (1 for no clipping and for norm clipping; below 1 when value clipping bends it;
      NaN in every mode when the raw gradient holds inf or NaN: it has no direction).
    """

    mode: Optional[str]
    threshold: float
    norms_before: Dict[str, float]
    norms_after: Dict[str, float]
    grad_norm_before_clip: float
    grad_norm_after_clip: float
    fraction_clipped: Dict[str, float]
    fraction_clipped_total: float
    cosine: float


def clip_gradients(grads: Dict[str, np.ndarray], clip: Optional[str], threshold: float = 5.0):
    """Clip a dict of gradients.  Returns ``(clipped, report)``; ``clipped`` holds new
    arrays with the same keys and shapes as ``grads`` (the input is never modified; "value"
    mode returns float64 arrays).  A gradient holding inf or NaN has no direction: its cosine
    is NaN."""
    mode = check_clip(clip, threshold)
    threshold = float(threshold)
    clipped, norms_before, norms_after, fraction, dot = {}, {}, {}, {}, 0.0
    n_changed = total_size = 0
    sq_total_before = sq_total_after = 0.0
    if mode == "value":
        # One kernel pass per parameter clips and measures at once: this runs on every
        # training step, right after the recurrence.
        value_clip = _kernels.get().value_clip
        for k, g in grads.items():
            out = np.empty(g.shape)
            flat = np.reshape(g, -1)
            if not (flat.dtype == np.float64 and flat.flags.c_contiguous and flat.flags.writeable):
                flat = np.array(flat, dtype=np.float64)  # the one type the kernel is built for
            sq, changed, g_dot_out, sq_out = value_clip(flat, threshold, out.reshape(-1))
            clipped[k] = out
            norms_before[k], norms_after[k] = math.sqrt(sq), math.sqrt(sq_out)
            fraction[k] = changed / g.size if g.size else 0.0
            sq_total_before += sq
            sq_total_after += sq_out
            dot += g_dot_out
            n_changed += changed
            total_size += g.size
    else:
        sq_before = {k: float(np.vdot(g, g)) for k, g in grads.items()}
        sq_total_before = sum(sq_before.values())
        total = math.sqrt(sq_total_before)
        for k, g in grads.items():
            norms_before[k] = math.sqrt(sq_before[k])
            if mode == "norm":
                scale = threshold / total if total > threshold else 1.0
            elif mode == "param-norm":
                scale = threshold / norms_before[k] if norms_before[k] > threshold else 1.0
            else:
                scale = 1.0
            # Scaling changes every nonzero entry; scale 1 changes nothing.
            changed = int(np.count_nonzero(g)) if scale < 1.0 else 0
            clipped[k] = g * scale if changed else g.copy()
            norms_after[k] = _norm(clipped[k]) if changed else norms_before[k]
            fraction[k] = changed / g.size if g.size else 0.0
            sq_total_after += norms_after[k] ** 2
            if changed:
                dot += float(np.vdot(g, clipped[k]))
            else:
                dot += sq_before[k]
            n_changed += changed
            total_size += g.size
    total_before, total_after = math.sqrt(sq_total_before), math.sqrt(sq_total_after)
    # A sum of squares is finite exactly when every entry is, unless it overflows: only then
    # is the entrywise test needed.
    has_direction = math.isfinite(sq_total_before) or all(
        bool(np.isfinite(g).all()) for g in grads.values())
    if not has_direction:
        # inf or NaN anywhere: the raw gradient has no direction to compare, whatever the mode
        # (norm clipping used to say 1.0 here, and every mode did for NaN).
        cosine = math.nan
    elif not math.isfinite(sq_total_before) and n_changed and mode != "norm":
        # Finite entries whose squares overflow: measure the two directions scaled down.
        cosine = _scaled_cosine(grads, clipped)
    elif not n_changed or mode == "norm":
        # Nothing changed, or one positive scale for everything: exactly the same direction
        # (computing it would give 1 - rounding, and a reader compares the number with 1).
        cosine = 1.0
    else:
        denom = total_before * total_after
        # A zero gradient has no direction; calling it unchanged (cosine 1) is what a reader
        # expects.  inf/NaN give NaN, not the -1 that clamping a NaN with max() would make up.
        cosine = dot / denom if denom > 0 else 1.0
        if not math.isfinite(cosine):
            cosine = math.nan
    report = ClipReport(
        mode=mode, threshold=threshold, norms_before=norms_before, norms_after=norms_after,
        grad_norm_before_clip=total_before, grad_norm_after_clip=total_after,
        fraction_clipped=fraction,
        fraction_clipped_total=n_changed / total_size if total_size else 0.0,
        cosine=cosine if math.isnan(cosine) else float(min(1.0, max(-1.0, cosine))),
    )
    return clipped, report

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
from typing import Dict, Optional

import numpy as np

CLIP_MODES = (None, "none", "value", "norm", "param-norm")


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
      (1 for no clipping and for norm clipping; below 1 when value clipping bends it).
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
    arrays with the same keys and shapes as ``grads`` (the input is never modified)."""
    mode = check_clip(clip, threshold)
    threshold = float(threshold)
    sq_before = {k: float(np.vdot(g, g)) for k, g in grads.items()}
    norms_before = {k: math.sqrt(v) for k, v in sq_before.items()}
    total_before = math.sqrt(sum(sq_before.values()))
    changed = {}
    if mode is None:
        clipped = {k: g.copy() for k, g in grads.items()}
        changed = {k: 0 for k in grads}
    elif mode == "value":
        clipped, changed = {}, {}
        for k, g in grads.items():
            if g.size == 0 or (g.max() <= threshold and g.min() >= -threshold):
                # The common case: nothing to clip, so skip the elementwise work.
                clipped[k], changed[k] = g.copy(), 0
            else:
                # minimum/maximum are np.clip without its Python wrapper's overhead.
                clipped[k] = np.minimum(np.maximum(g, -threshold), threshold)
                changed[k] = int(np.count_nonzero(clipped[k] != g))
    elif mode == "norm":
        scale = threshold / total_before if total_before > threshold else 1.0
        clipped = {k: g * scale for k, g in grads.items()}
        changed = {k: (int(np.count_nonzero(g)) if scale < 1.0 else 0) for k, g in grads.items()}
    else:  # param-norm
        clipped, changed = {}, {}
        for k, g in grads.items():
            n = norms_before[k]
            scale = threshold / n if n > threshold else 1.0
            clipped[k] = g * scale
            changed[k] = int(np.count_nonzero(g)) if scale < 1.0 else 0
    sizes = {k: g.size for k, g in grads.items()}
    total_size = sum(sizes.values())
    norms_after = {k: (norms_before[k] if not changed[k] else _norm(g)) for k, g in clipped.items()}
    total_after = math.sqrt(sum(n * n for n in norms_after.values()))
    if not any(changed.values()) or mode == "norm":
        # Nothing changed, or one positive scale for everything: exactly the same direction
        # (computing it would give 1 - rounding, and a reader compares the number with 1).
        cosine = 1.0
    else:
        dot = sum(float(np.vdot(grads[k], clipped[k])) for k in grads)
        denom = total_before * total_after
        # A zero gradient has no direction; calling it unchanged (cosine 1) is what a reader expects.
        cosine = dot / denom if denom > 0 else 1.0
    report = ClipReport(
        mode=mode, threshold=threshold, norms_before=norms_before,
        norms_after=norms_after,
        grad_norm_before_clip=total_before, grad_norm_after_clip=total_after,
        fraction_clipped={k: changed[k] / sizes[k] if sizes[k] else 0.0 for k in grads},
        fraction_clipped_total=sum(changed.values()) / total_size if total_size else 0.0,
        cosine=float(min(1.0, max(-1.0, cosine))),
    )
    return clipped, report

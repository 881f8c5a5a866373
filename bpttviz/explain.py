"""Words and equations for every timeline event, per cell, in seed 000's notation.
Shared by the window (status line, code panel) and by exports (manifest, GIF captions).
The cell equations come from the cell registry (``CellSpec.forward_eq``/``backward_eq``)."""
from __future__ import annotations

from .engine.cellspec import get_cell
from .timeline import Event


def forward_eq(cell: str) -> str:
    """The equations of a forward event for a registered cell (from the cell registry)."""
    return get_cell(cell).forward_eq


def backward_eq(cell: str) -> str:
    """The equations of a backward event for a registered cell (from the cell registry)."""
    return get_cell(cell).backward_eq


CLIP_EQ = {
    None: "no clipping: grads = grads_raw",
    "value": "np.clip(dparam, -c, c) for every parameter (changes the direction)",
    "norm": "g ← g · c / ||g||  if ||g|| > c, over all parameters together (keeps the direction)",
    "param-norm": "dparam ← dparam · c / ||dparam||  if ||dparam|| > c, per parameter",
}
UPDATE_EQ = {
    "adagrad": "mem += dparam²;  param -= lr · dparam / sqrt(mem + 1e-8)",
    "sgd": "param -= lr · dparam",
    "adam": "m = β1·m + (1-β1)·dparam;  v = β2·v + (1-β2)·dparam²;  param -= lr · m̂ / (sqrt(v̂) + ε)",
}


def describe(event: Event, cell: str = "rnn", clip=None, optimizer: str = "adagrad", T: int = 1):
    """``(words, equation)`` for an event."""
    if event.phase == "forward":
        return (f"Forward, step {event.t} of {T - 1}: compute h_{event.t} from x_{event.t} and "
                f"h_{event.t - 1}, then p_{event.t} and the loss of step {event.t}",
                forward_eq(cell))
    if event.phase == "backward":
        return (f"Backward, step {event.t}: the gradient at h_{event.t} (from loss {event.t} and from "
                f"the future) goes through the cell and sends dhnext back to h_{event.t - 1}",
                backward_eq(cell))
    if event.phase == "clip":
        return ("Clip: compare each gradient's norm with the threshold", CLIP_EQ.get(clip, CLIP_EQ[None]))
    return ("Update: the optimizer changes the parameters; the next window starts from the last h",
            UPDATE_EQ.get(optimizer, ""))

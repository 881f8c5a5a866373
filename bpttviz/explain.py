"""Words and equations for every timeline event, per cell, in seed 000's notation.
Shared by the window (status line, code panel) and by exports (manifest, GIF captions)."""
from __future__ import annotations

from .timeline import Event

FORWARD_EQ = {
    "rnn": "h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh);  y_t = Why·h_t + by;  p_t = softmax(y_t);  loss_t = -log p_t[target_t]",
    "lstm": "i,f,o,g = σ,σ,σ,tanh(Wxh·x_t + Whh·h_{t-1} + bh);  c_t = f⊙c_{t-1} + i⊙g;  h_t = o⊙tanh(c_t);  p_t = softmax(Why·h_t + by)",
    "gru": "z,r = σ(Wxh·x_t + Whh·h_{t-1} + bh);  n = tanh(Wxn·x_t + r⊙(Whn·h_{t-1}) + bn);  h_t = (1-z)⊙n + z⊙h_{t-1};  p_t = softmax(Why·h_t + by)",
}
BACKWARD_EQ = {
    "rnn": "dy = p_t - onehot(target_t);  dh = Whyᵀ·dy + dhnext;  dhraw = (1 - h_t²)⊙dh;  dhnext = Whhᵀ·dhraw",
    "lstm": "dh = Whyᵀ·dy + dhnext;  dc = dh⊙o⊙(1 - tanh²c_t) + dcnext;  da = [di,df,do,dg]⊙gate'  ;  dhnext = Whhᵀ·da;  dcnext = f⊙dc",
    "gru": "dh = Whyᵀ·dy + dhnext;  dn,dz from h_t = (1-z)⊙n + z⊙h_{t-1};  dhnext = Whhᵀ·dah + z⊙dh",
}
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
                FORWARD_EQ[cell])
    if event.phase == "backward":
        return (f"Backward, step {event.t}: the gradient at h_{event.t} (from loss {event.t} and from "
                f"the future) goes through the cell and sends dhnext back to h_{event.t - 1}",
                BACKWARD_EQ[cell])
    if event.phase == "clip":
        return ("Clip: compare each gradient's norm with the threshold", CLIP_EQ.get(clip, CLIP_EQ[None]))
    return ("Update: the optimizer changes the parameters; the next window starts from the last h",
            UPDATE_EQ.get(optimizer, ""))

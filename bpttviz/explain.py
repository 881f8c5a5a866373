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


def clip_eq(clip) -> str:
    """The clip event's equation (from the clip-mode registry)."""
    from .engine.clipping import clip_spec
    return clip_spec(clip).equation


def update_eq(optimizer: str) -> str:
    """The update event's equation (from the optimizer registry; '' for an unknown one)."""
    from .engine.optim import OPTIMIZER_SPECS
    spec = OPTIMIZER_SPECS.get(optimizer)
    return spec.equation if spec is not None else ""


def steps(lo: int, hi: int) -> str:
    """``"steps 3–24"``, or ``"step 24"`` for one ("steps 24–24", "steps 0–0" read as typos)."""
    return f"step {lo}" if lo == hi else f"steps {lo}\u2013{hi}"


def step_of(t: int, T: int) -> str:
    """``"step 3 of 0–24"``, or ``"step 0, the only one"`` in a one-step window."""
    return f"step {t} of 0\u2013{T - 1}" if T > 1 else f"step {t}, the only one"


def describe(event: Event, cell: str = "rnn", clip=None, optimizer: str = "adagrad", T: int = 1,
             task: str = "text", carry_state: bool = True, batch_size: int = 1,
             loss_steps: str = "all"):
    """``(words, equation)`` for an event; the words never claim what does not happen (no
    gradient "from the future" at the last step, the update as this task really does it)."""
    t = event.t
    if event.phase == "forward":
        start = (f"h_{t - 1}" if t > 0 else "the state the window starts from (h_prev)")
        # ("step 7 of 24" beside "25 steps" everywhere else: the steps are t = 0..T-1)
        then = (f"p_{t} and the loss of step {t}" if loss_steps != "last" or t == T - 1
                else f"p_{t} (only the last step has a loss)")
        return (f"Forward, {step_of(t, T)}: compute h_{t} from x_{t} and {start}, then "
                f"{then}", forward_eq(cell))
    if event.phase == "backward":
        # (no longer than the usual step's words: the header keeps room for the longest, so
        # a long first or last step would take a projector's lines from every step)
        back = f"h_{t - 1}" if t > 0 else "h_prev"
        end = " (the end)" if t == 0 else ""
        if loss_steps == "last" and t < T - 1:
            words = (f"Backward, step {t}{end}: the gradient at h_{t} comes from the future only "
                     f"(only the last step has a loss) and goes back to {back}")
        elif t == T - 1:
            words = (f"Backward, step {t} (the last): nothing comes from the future; the "
                     f"gradient at h_{t} is loss {t}'s and goes back to {back}")
        elif t == 0:
            words = (f"Backward, step 0{end}: the gradient at h_0 (from loss 0 and from the "
                     f"future) sends dhnext back to {back}")
        else:
            words = (f"Backward, step {t}: the gradient at h_{t} (from loss {t} and from the "
                     f"future) goes through the cell, sending dhnext to {back}")
        return words, backward_eq(cell)
    if event.phase == "clip":
        from .engine.clipping import clip_spec
        words = clip_spec(clip).words
        return words, clip_eq(clip)
    if task == "captioning":
        words = (f"Update: the optimizer ({optimizer}) applies the gradient of the whole "
                 f"minibatch of {batch_size} captions (the timeline showed the first); the next "
                 "iteration draws a new one")
    elif task in ("text", "names") and carry_state:  # as CharRun._starts_fresh decides
        words = (f"Update: the optimizer ({optimizer}) changes the parameters; the next window "
                 "starts from the last h")
    else:
        words = (f"Update: the optimizer ({optimizer}) changes the parameters; the next window "
                 "starts from h = 0")
    return words, update_eq(optimizer)

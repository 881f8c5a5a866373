"""The timeline of one training iteration, as events a cursor moves over.

``forward:0 .. forward:T-1`` reveal h_t, p_t and the loss of step t; ``backward:T-1 ..
backward:0`` reveal dy_t, dh_t, dhraw_t, the dhnext sent back and step t's gradient
contribution; ``clip`` reveals the norms before and after clipping; ``update`` the change
to the parameters.  Pure Python: the command line parses ``--at`` with it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, NamedTuple, Optional

PHASES = ("forward", "backward", "clip", "update")


class Event(NamedTuple):
    phase: str
    t: Optional[int] = None

    def __str__(self) -> str:
        return self.phase if self.t is None else f"{self.phase}:{self.t}"


def timeline(T: int) -> List[Event]:
    """All events of an iteration over T steps, in order: 2T + 2 of them."""
    return ([Event("forward", t) for t in range(T)] + [Event("backward", t) for t in reversed(range(T))]
            + [Event("clip"), Event("update")])


def parse_event(text: str, T: int, what: str = "--at") -> Event:
    """Parse ``forward:3``, ``backward:0``, ``clip``, ``update``, or ``start``/``end``, for a
    window of T steps.  Negative step numbers count from the end (``forward:-1``).
    ValueError with the accepted forms on anything else, naming ``what`` was parsed (the
    command line's ``--at``, or a preset's ``at``)."""
    s = str(text).strip().lower()
    forms = (f"forward:N or backward:N with N from 0 to {T - 1} (negative counts from the end), "
             "clip, update, start or end")
    if s == "start":
        return Event("forward", 0)
    if s == "end":
        return Event("update")
    if s in ("clip", "update"):
        return Event(s)
    phase, sep, num = s.partition(":")
    if sep and phase in ("forward", "backward"):
        try:
            t = int(num)
        except ValueError:
            raise ValueError(f"{what} must be {forms}; got {text!r}") from None
        if -T <= t < T:
            return Event(phase, t % T)
        raise ValueError(f"{what} step {t} is outside the window of {T} steps; use {forms}")
    raise ValueError(f"{what} must be {forms}; got {text!r}")


@dataclass(frozen=True)
class CursorState:
    """What is computed at a cursor position, for panels to decide what to draw.

    forward_count: how many forward steps are revealed (h, p, loss for steps < forward_count).
    backward_from: backward quantities are revealed for steps t >= backward_from (T = none).
    clipped: the clip event has happened; updated: the update event has happened.
    current_t: the timestep of the current event (None for clip/update).
    """

    event: Event
    index: int
    T: int
    forward_count: int
    backward_from: int
    clipped: bool
    updated: bool

    @property
    def current_t(self) -> Optional[int]:
        return self.event.t

    @property
    def in_backward(self) -> bool:
        return self.event.phase != "forward"


def cursor_state(T: int, index: int) -> CursorState:
    events = timeline(T)
    index = max(0, min(index, len(events) - 1))
    ev = events[index]
    if ev.phase == "forward":
        return CursorState(ev, index, T, ev.t + 1, T, False, False)
    if ev.phase == "backward":
        return CursorState(ev, index, T, T, ev.t, False, False)
    return CursorState(ev, index, T, T, 0, True, ev.phase == "update")

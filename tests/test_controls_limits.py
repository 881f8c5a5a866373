"""The controls offer exactly the ranges of the one set of limits (issue 11: the spin box, the
session and the engine used to disagree: hidden size 1..1024 against 1..4096)."""
import pytest

from bpttviz.engine import limits
from bpttviz.gui.controls import ControlsPanel
from bpttviz.session import Session, SessionError


@pytest.mark.parametrize("field, limit", [
    ("hidden_size", limits.HIDDEN_SIZE), ("seq_length", limits.SEQ_LENGTH), ("seed", limits.SEED),
    ("init_scale", limits.INIT_SCALE), ("lr", limits.LR), ("clip_value", limits.CLIP_VALUE)])
def test_spin_ranges_are_the_limits(qtbot, field, limit):
    c = ControlsPanel(Session("notebook-one-step"))
    qtbot.addWidget(c)
    w = getattr(c, field)
    assert (w.minimum(), w.maximum()) == pytest.approx(limit.offer)
    # one past the offered top is refused by the session too, state unchanged
    if limit.integer:
        before = c.session.config
        with pytest.raises(SessionError):
            c.session.edit(field, **{field: int(limit.high) + 1})
        assert c.session.config == before

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


def test_clip_modes_and_optimizers_come_from_one_registry(qtbot):
    """Issue 11: the controls, the clip view, the header and the code panel list the same
    clip modes and optimizers, from bpttviz.engine.clipping / optim."""
    from bpttviz.engine.clipping import CLIP_SPECS
    from bpttviz.engine.optim import OPTIMIZER_SPECS
    from bpttviz.gui.panels.clipcompare import MODES
    from bpttviz.gui.panels.code import code_lines
    from bpttviz.gui.panels.gradnorms import CLIP_CHOICES
    from bpttviz.timeline import Event

    from bpttviz.explain import describe
    c = ControlsPanel(Session("notebook-one-step"))
    qtbot.addWidget(c)
    assert [c.clip.itemText(i) for i in range(c.clip.count())] == list(CLIP_SPECS)
    assert [c.optimizer.itemText(i) for i in range(c.optimizer.count())] == list(OPTIMIZER_SPECS)
    assert list(MODES) == list(CLIP_SPECS) and [x[0] for x in CLIP_CHOICES] == list(CLIP_SPECS)
    for spec in CLIP_SPECS.values():
        words, eq = describe(Event("clip"), clip=spec.mode)
        assert (words, eq) == (spec.words, spec.equation)
        assert all(line in code_lines("rnn", spec.mode, "sgd") for line in spec.code)
    for spec in OPTIMIZER_SPECS.values():
        assert describe(Event("update"), optimizer=spec.name)[1] == spec.equation
        assert all(line in code_lines("rnn", None, spec.name) for line in spec.code)


def test_loss_steps_and_truncated_training_are_controls(qtbot):
    c = ControlsPanel(Session("long-range"))
    qtbot.addWidget(c)
    assert c.train_truncation.value() == 0 and c.train_truncation.text() == "full BPTT"
    c.train_truncation.setValue(4)
    assert c.session.config.train_truncation == 4
    c.train_truncation.setValue(0)
    assert c.session.config.train_truncation is None
    i = c.loss_steps.findText("last")
    c.loss_steps.setCurrentIndex(i)
    c.loss_steps.activated.emit(i)
    assert c.session.config.loss_steps == "last"
    c.session.load_preset("vanishing")
    assert c.loss_steps.currentText() == "last"  # the controls follow the preset

"""Issue 11: a cell added through the registry only (the ReLU Elman cell of
test_cell_registry.py) reaches every panel, the controls, the command line and the exports."""
from __future__ import annotations

import os

import numpy as np
import pytest

from bpttviz.engine.cellspec import registered_cell
from bpttviz.gui.panels import PANELS
from bpttviz.session import Session
from test_cell_registry import RELU


@pytest.fixture
def relu_session():
    with registered_cell(RELU):
        s = Session("min-char-rnn")
        s.edit("relu cell", cell="relu", hidden_size=16, seq_length=12)
        yield s


def test_every_panel_draws_a_registered_cell_at_every_kind_of_event(qtbot, relu_session):
    s = relu_session
    assert s.trace.cell == "relu" and np.all(s.trace.h >= 0)  # it really is the ReLU cell
    panels = []
    for cls in PANELS:
        p = cls(s)
        qtbot.addWidget(p)
        p.resize(900, 500)
        p.show()
        panels.append(p)
    for event in ("forward:0", "forward:-1", "backward:-1", "backward:0", "clip", "update"):
        s.set_event(event)
        for p in panels:
            p.refresh()
            for name, (cols, arr) in p.csv_tables().items():
                arr = np.asarray(arr)
                if arr.ndim == 2 and arr.size:
                    assert arr.shape[1] == len(cols), (p.key, name)
    s.next_iteration()
    for p in panels:
        p.refresh()
    hidden = next(p for p in panels if p.key == "hidden_states")
    assert [hidden.combo.itemData(i) for i in range(hidden.combo.count())] == ["h"]
    gates = next(p for p in panels if p.key == "gates")
    assert gates.stack.currentIndex() == 0  # no gates: the view says so
    code = next(p for p in panels if p.key == "code")
    assert "relu" in code.code.toPlainText().lower() or "max" in code.code.toPlainText()
    for p in panels:
        p.detach()
        p.hide()


def test_controls_offer_a_registered_cell(qtbot):
    from bpttviz.gui.controls import ControlsPanel

    with registered_cell(RELU):
        # The controls list the registry as it is when they are built.
        c = ControlsPanel(Session("notebook-one-step"))
        qtbot.addWidget(c)
        items = [c.cell.itemText(i) for i in range(c.cell.count())]
        assert items[:3] == ["rnn", "lstm", "gru"] and "relu" in items
        c.cell.setCurrentIndex(items.index("relu"))
        c.cell.activated.emit(items.index("relu"))
        assert c.session.config.cell == "relu"


def test_exports_draw_a_registered_cell(relu_session, tmp_path, qtbot):
    from bpttviz.export import export_panels

    s = relu_session
    s.set_event("backward:2")
    copies = [cls(s) for cls in PANELS]
    for p in copies:
        p.resize(960, 540)
        p.show()
    export_panels(s, copies, os.fspath(tmp_path), ["png", "csv"], 480, False)
    pngs = sorted(f.name for f in tmp_path.glob("*.png"))
    assert len(pngs) == len(PANELS), pngs
    for p in copies:
        p.detach()
        p.hide()

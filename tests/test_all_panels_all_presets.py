"""Every panel, for every preset, at every phase of the timeline: it draws without an
exception (pytest-qt fails the test on one raised in a slot) and exports its numbers."""
import gc

import numpy as np
import pytest

from bpttviz.engine.presets import list_presets
from bpttviz.gui.panels import PANELS
from bpttviz.session import Session


@pytest.mark.parametrize("preset", list_presets())
def test_every_panel_draws_every_phase(qtbot, preset):
    s = Session(preset)
    panels = []
    for cls in PANELS:
        p = cls(s)
        # (not qtbot.addWidget: this test deletes its panels itself, below)
        p.resize(800, 450)
        p.show()
        panels.append(p)
    T = s.trace.T
    for ev in ["forward:0", f"forward:{T - 1}", f"backward:{T - 1}", "backward:0", "clip", "update"]:
        s.set_event(ev)
        for p in panels:
            p.refresh()
            tables = p.csv_tables()
            for name, (cols, arr) in tables.items():
                arr = np.asarray(arr)
                assert arr.ndim in (1, 2), (p.key, name)
                if arr.ndim == 2 and arr.size:
                    assert arr.shape[1] == len(cols), (p.key, name, arr.shape, len(cols))
                if arr.dtype.kind == "f":
                    assert not np.any(np.isinf(arr)), (p.key, name)
    # Stepping into the next iteration redraws everything once more.
    s.next_iteration()
    for p in panels:
        p.refresh()
    # Tear down while Qt can still paint nothing: pyqtgraph items garbage-collected later,
    # in the middle of another test's paint, crash (the app keeps its panels for its life).
    for p in panels:
        s.sigTraceChanged.disconnect(p._on_trace_change)
        s.sigCursorChanged.disconnect(p._on_cursor_change)
        p.hide()
        p.deleteLater()
    qtbot.wait(1)
    gc.collect()

"""File ▸ Check my code… (issue 15): the report as a view, with the first divergent step marked
and both dhnext series; a file that loops forever never freezes the window."""
import os
import time

import numpy as np

from window_helpers import show_window

HERE = os.path.dirname(__file__)


def _run(qtbot, win, name, timeout=10.0):
    from bpttviz.gui.check_view import CheckRunner
    win.checker = CheckRunner(win)
    assert win.checker.start(os.path.join(HERE, "student_code", name), timeout=timeout)
    qtbot.waitUntil(lambda: not win.checker.running, timeout=30_000)
    return win.checker.dialog


def test_the_report_marks_the_first_difference_and_steps_through_both_dhnexts(qtbot):
    win = show_window(qtbot, "notebook-one-step")
    dlg = _run(qtbot, win, "minchar_forget_dhnext.py")
    r = dlg.report
    assert r.usable and not r.matches and r.first.quantity == "dh"
    assert dlg.first_line.isVisible() and dlg.first_line.value() == r.first.t
    assert dlg.slider.value() == r.first.t
    x, y = dlg.engine_curve.getData()
    np.testing.assert_allclose(y, r.dhnext_engine)
    xs, ys = dlg.student_curve.getData()
    assert len(xs) > 0 and "forget-dhnext" in dlg.hint.text()
    # the table shows what was compared at the chosen step, and follows the slider
    texts = {dlg.table.item(i, 0).text() for i in range(dlg.table.rowCount())}
    assert "dh" in texts
    dlg.slider.setValue(r.first.t + 1)
    steps = {dlg.table.item(i, 1).text() for i in range(dlg.table.rowCount())}
    assert str(r.first.t + 1) in steps and str(r.first.t) not in steps
    results = [dlg.table.item(i, 3).text() for i in range(dlg.table.rowCount())
               if dlg.table.item(i, 1).text() == str(r.first.t + 1)]
    assert results and all(v == "ok" for v in results)  # one step later nothing differs yet
    dlg.close()


def test_a_file_that_loops_forever_does_not_freeze_the_window(qtbot):
    win = show_window(qtbot, "notebook-one-step")
    t0 = time.monotonic()
    from bpttviz.gui.check_view import CheckRunner
    win.checker = CheckRunner(win)
    win.checker.start(os.path.join(HERE, "student_code", "loops_forever.py"), timeout=2.0)
    ticks = []
    while win.checker.running and time.monotonic() - t0 < 20:
        qtbot.wait(50)  # the event loop keeps turning while the student's code runs
        ticks.append(1)
    assert not win.checker.running and len(ticks) >= 5
    dlg = win.checker.dialog
    assert not dlg.report.usable and "did not finish" in dlg.headline.text()
    dlg.close()

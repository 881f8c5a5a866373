"""The main window, its actions and controls, driven as a user would (pytest-qt, offscreen).

Most tests use two tiny stand-in panels so they are fast and independent of the real panels;
one smoke test builds the window with the real PANELS when they exist.
"""
from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QFileDialog, QLabel, QMessageBox, QVBoxLayout

from window_helpers import show_window
from bpttviz.gui import main_window as mw
from bpttviz.gui.app import make_session
from bpttviz.gui.main_window import MainWindow, app_settings, remembered_preset
from bpttviz.gui.panels.base import Panel
from bpttviz.session import Session


class CursorPanel(Panel):
    key = "cursor-test"
    title = "Cursor (test)"
    help_html = "<p>Shows the cursor: <b>test panel one</b>.</p>"

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        self.label = QLabel()
        QVBoxLayout(self).addWidget(self.label)
        self.draws = 0

    def redraw(self):
        self.draws += 1
        self.label.setText(str(self.session.state.event))


class LossPanel(CursorPanel):
    key = "loss-test"
    title = "Loss (test)"
    help_html = "<p>Shows the loss: <b>test panel two</b>.</p>"


TEST_PANELS = [CursorPanel, LossPanel]


@pytest.fixture
def warnings(monkeypatch):
    """Every QMessageBox.warning/critical/about, recorded instead of shown."""
    calls = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: calls.append((_n, title, text)) or QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: calls.append(("about",) + a[1:])))
    return calls


def make_window(qtbot, preset="min-char-rnn", panels=TEST_PANELS, remember=False):
    return show_window(qtbot, preset, panels, remember=remember)


@pytest.fixture
def win(qtbot, warnings):
    return make_window(qtbot)


def test_every_timeline_shortcut_steps_the_cursor(qtbot, win):
    s = win.session
    n = len(s.events)
    qtbot.keyClick(win, Qt.Key_Right)
    assert s.cursor == 1
    qtbot.keyClick(win, Qt.Key_Right)
    qtbot.keyClick(win, Qt.Key_Left)
    assert s.cursor == 1
    qtbot.keyClick(win, Qt.Key_End)
    assert s.cursor == n - 1
    assert str(s.state.event) == "update"
    qtbot.keyClick(win, Qt.Key_Home)
    assert s.cursor == 0
    it = s.iteration
    qtbot.keyClick(win, Qt.Key_N, Qt.ControlModifier)
    assert s.iteration == it + 1 and s.cursor == 0
    qtbot.keyClick(win, Qt.Key_N)
    assert s.iteration == it + 2
    # the central area follows
    assert win.scrubber.label.text().startswith("forward:0")
    assert "Forward" in win.header.words.text()
    assert "tanh" in win.header.equation.text()


def test_shortcuts_work_while_a_spinbox_or_combo_has_focus(qtbot, win):
    s = win.session
    for w in (win.controls.hidden_size, win.controls.cell, win.controls.lr):
        w.setFocus()
        qtbot.waitUntil(w.hasFocus, timeout=1000)
        before = s.cursor
        qtbot.keyClick(w, Qt.Key_Right)
        assert s.cursor == before + 1, type(w).__name__
        qtbot.keyClick(w, Qt.Key_Left)
        assert s.cursor == before
    # Up/Down still belong to the spin box (and make an undoable edit)
    win.controls.hidden_size.setFocus()
    qtbot.keyClick(win.controls.hidden_size, Qt.Key_Up)
    assert s.config.hidden_size == 101


def test_every_action_has_its_shortcuts_on_the_window(win):
    from bpttviz.gui.actions import SPECS

    for name, (_text, keys, _tip) in SPECS.items():
        action = win.acts.all[name]
        assert action in win.actions()
        assert [k.toString() for k in action.shortcuts()] == keys, name
        if keys:
            assert action.shortcutContext() == Qt.WindowShortcut
            assert keys[0] in action.toolTip() and keys[0] in action.statusTip()


def test_tooltips_name_shortcuts(win):
    a = win.acts
    assert "Right" in a.step_forward.toolTip()
    assert "Space" in a.play.toolTip()
    assert "F1" in a.help.toolTip()
    assert "Ctrl+Y" in a.redo.toolTip() and "Ctrl+Shift+Z" in a.redo.toolTip()
    assert win.slider.focusPolicy() == Qt.NoFocus


def test_scrubbing_the_slider_moves_the_cursor(qtbot, win):
    s = win.session
    win.slider.setValue(30)
    assert s.cursor == 30
    assert win.scrubber.label.text().startswith(str(s.state.event))
    s.set_cursor(5)  # and the slider follows the session
    assert win.slider.value() == 5
    assert win.slider.maximum() == len(s.events) - 1


def test_play_then_pause(qtbot, win):
    s = win.session
    win.controls.speed.setValue(50)
    qtbot.keyClick(win, Qt.Key_Space)
    assert win.playing
    assert "Pause" in win.scrubber.buttons["play"].text()
    qtbot.waitUntil(lambda: s.cursor >= 3, timeout=3000)
    qtbot.keyClick(win, Qt.Key_Space)
    assert not win.playing
    stopped = s.cursor
    qtbot.wait(150)
    assert s.cursor == stopped


def test_play_stops_at_the_end_of_the_iteration_then_continues(qtbot, win):
    s = win.session
    win.controls.speed.setValue(60)
    s.set_cursor(len(s.events) - 4)
    win.acts.play.trigger()
    qtbot.waitUntil(lambda: not win.playing, timeout=3000)
    assert s.cursor == len(s.events) - 1 and s.iteration == 0
    win.acts.play.trigger()  # at the update event: next iteration, and plays on
    assert s.iteration == 1
    qtbot.waitUntil(lambda: s.cursor >= 1, timeout=3000)
    win.acts.play.trigger()
    assert not win.playing


def test_preset_change_through_the_controls(qtbot, win):
    combo = win.controls.preset
    i = combo.findData("long-range")
    assert i >= 0
    assert "5 steps earlier" in combo.itemData(i, Qt.ToolTipRole)
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    assert win.session.preset.name == "long-range"
    assert win.session.config.task == "delay"
    assert win.controls.hidden_size.value() == win.session.config.hidden_size


def test_refused_preset_warns_and_keeps_state(qtbot, win, warnings, monkeypatch):
    from bpttviz.session import SessionError

    def refuse(name):
        raise SessionError(f"preset {name!r} cannot be stepped in the window")

    monkeypatch.setattr(win.session, "load_preset", refuse)
    combo = win.controls.preset
    i = combo.findData("cs231n-captioning-rnn")
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    assert warnings and "cannot be stepped" in warnings[-1][2]
    assert win.session.preset.name == "min-char-rnn"
    assert combo.currentData() == "min-char-rnn"


def test_edit_then_undo_redo_restores_values_and_trace(qtbot, win):
    s = win.session
    h0 = s.trace.h.copy()
    win.controls.hidden_size.setValue(16)
    assert s.config.hidden_size == 16 and s.trace.h.shape[1] == 16
    h16 = s.trace.h.copy()
    win.controls.lr.setValue(0.05)
    assert s.config.lr == pytest.approx(0.05)
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert s.config.lr == pytest.approx(0.1)
    assert win.controls.lr.value() == pytest.approx(0.1)
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert s.config.hidden_size == 100 and win.controls.hidden_size.value() == 100
    np.testing.assert_allclose(s.trace.h, h0)
    qtbot.keyClick(win, Qt.Key_Y, Qt.ControlModifier)
    assert s.config.hidden_size == 16 and win.controls.hidden_size.value() == 16
    np.testing.assert_allclose(s.trace.h, h16)
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert s.config.lr == pytest.approx(0.05)
    # combo edits too
    i = win.controls.cell.findText("gru")
    win.controls.cell.setCurrentIndex(i)
    win.controls.cell.activated.emit(i)
    assert s.config.cell == "gru"
    win.acts.undo.trigger()
    assert s.config.cell == "rnn" and win.controls.cell.currentText() == "rnn"


def test_refused_edit_warns_and_restores_widget(qtbot, win, warnings, monkeypatch):
    from bpttviz.session import SessionError

    s = win.session

    def refuse(*a, **k):
        raise SessionError("sequence length 300 is longer than the corpus allows")

    monkeypatch.setattr(s, "edit", refuse)
    win.controls.seq_length.setValue(300)
    assert warnings and "longer than the corpus" in warnings[-1][2]
    assert win.controls.seq_length.value() == s.config.seq_length == 25


def test_save_and_open_round_trip_through_file_actions(qtbot, win, tmp_path, monkeypatch):
    s = win.session
    s.next_iteration()
    s.set_cursor(7)
    path = str(tmp_path / "lesson")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (path, "")))
    qtbot.keyClick(win, Qt.Key_S, Qt.ControlModifier)
    assert (tmp_path / "lesson.npz").exists()
    assert win.path == path + ".npz"
    saved_params = {k: v.copy() for k, v in s.params.items()}
    s.next_iteration()
    s.edit(lr=0.01)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (path + ".npz", "")))
    qtbot.keyClick(win, Qt.Key_O, Qt.ControlModifier)
    assert s.iteration == 1 and s.cursor == 7 and s.config.lr == pytest.approx(0.1)
    for k, v in saved_params.items():
        np.testing.assert_array_equal(s.params[k], v)
    assert win.controls.lr.value() == pytest.approx(0.1)
    # Save (Ctrl+S) now writes to the same file without asking
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: pytest.fail("asked")))
    win.acts.save.trigger()


def test_open_a_corrupt_session_warns_and_keeps_state(qtbot, win, tmp_path, monkeypatch, warnings):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    s = win.session
    s.set_cursor(3)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bad), "")))
    win.acts.open.trigger()
    assert warnings and "bad.npz" in warnings[-1][2]
    assert s.cursor == 3 and s.preset.name == "min-char-rnn"


def test_bad_corpus_warns_and_keeps_state(qtbot, win, tmp_path, monkeypatch, warnings):
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    s = win.session
    text, cursor = s.config.text, s.cursor
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(binary), "")))
    qtbot.keyClick(win, Qt.Key_L, Qt.ControlModifier)
    assert warnings and "binary" in warnings[-1][2]
    assert s.config.text == text and s.cursor == cursor
    assert not s.undo_stack.canUndo()
    # a good corpus is used, and is undoable
    good = tmp_path / "abc.txt"
    good.write_text("abcabcabd " * 20, encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(good), "")))
    win.controls.corpus_button.click()
    assert s.config.text.startswith("abcabc")
    assert "abc.txt" in win.controls.corpus_label.text()
    win.acts.undo.trigger()
    assert s.config.text == text


def test_docks_hide_restore_and_reset(qtbot, win):
    assert set(win.docks) == {"controls", "cursor-test", "loss-test"}
    dock = win.docks["cursor-test"]
    assert dock.objectName() == "cursor-test"
    toggle = dock.toggleViewAction()
    assert toggle in win.view_menu.actions()
    toggle.trigger()
    assert dock.isHidden()
    toggle.trigger()
    assert dock.isVisible()
    dock.close()
    win.docks["controls"].setFloating(True)
    win.acts.reset_layout.trigger()
    assert dock.isVisible() and not win.docks["controls"].isFloating()
    assert win.dockWidgetArea(win.docks["controls"]) == Qt.LeftDockWidgetArea


def test_hidden_panel_does_not_redraw_until_shown(qtbot, win):
    panel = win.panels["loss-test"]
    win.docks["loss-test"].hide()
    n = panel.draws
    win.session.step(1)
    win.session.step(1)
    assert panel.draws == n
    win.docks["loss-test"].show()
    qtbot.waitUntil(lambda: panel.draws > n, timeout=1000)
    assert panel.label.text() == str(win.session.state.event)


def test_help_shows_every_panel(qtbot, win):
    qtbot.keyClick(win, Qt.Key_F1)
    dlg = win._help_dialog
    assert dlg.isVisible()
    text = win.help_browser.toPlainText()
    for cls in TEST_PANELS:
        assert cls.title in text
    assert "test panel one" in text and "test panel two" in text
    assert "Space" in text
    dlg.close()


def test_about_names_the_version(qtbot, win, warnings):
    import numpy

    from bpttviz import __version__
    from bpttviz.engine import kernels

    win.acts.about.trigger()
    text = warnings[-1][2]
    assert warnings[-1][0] == "about" and __version__ in text
    # what a bug report needs: library versions, which engine kernels run, where the log is
    assert numpy.__version__ in text and "bpttviz.log" in text
    assert kernels.status() in text


def test_status_bar_shows_iteration_and_losses(qtbot, win):
    s = win.session
    assert "Iteration 0" in win.status.text() and "smooth loss" in win.status.text()
    s.end()
    assert f"loss {s.trace.loss:.3f}" in win.status.text()
    s.next_iteration()
    assert "Iteration 1" in win.status.text()


def test_settings_remember_last_preset_and_layout(qtbot, warnings):
    w1 = make_window(qtbot, remember=True)
    i = w1.controls.preset.findData("vanishing")
    w1.controls.preset.setCurrentIndex(i)
    w1.controls.preset.activated.emit(i)
    w1.docks["loss-test"].hide()
    w1.close()
    assert remembered_preset() == "vanishing"
    assert app_settings().value("window/state") is not None
    # the next start (no --preset) opens the remembered preset, with the saved layout
    session = make_session(remembered=remembered_preset())
    assert session.preset.name == "vanishing"
    w2 = MainWindow(session, panels=TEST_PANELS, remember=True)
    qtbot.addWidget(w2)
    w2.show()
    assert w2.controls.preset.currentData() == "vanishing"
    assert w2.docks["loss-test"].isHidden()
    w2.acts.reset_layout.trigger()
    w2.close()


def test_make_session_falls_back_and_reports(tmp_path):
    from bpttviz.gui.app import StartupError

    s = make_session(remembered="no-such-preset")
    assert s.preset is not None
    with pytest.raises(StartupError, match="preset"):
        make_session("no-such-preset")
    with pytest.raises(StartupError, match="binary"):
        bad = tmp_path / "x.bin"
        bad.write_bytes(b"\x00\x01" * 50)
        make_session("min-char-rnn", corpus=str(bad))
    with pytest.raises(StartupError, match="--at"):
        make_session("notebook-one-step", at="sideways:2")
    s = make_session("min-char-rnn", cell="lstm", at="backward:3")
    assert s.config.cell == "lstm" and str(s.state.event) == "backward:3"
    assert not s.undo_stack.canUndo()


def test_real_panels_build_and_step(qtbot, warnings):
    panels = mw.available_panels()
    assert len(panels) >= 13
    win = make_window(qtbot, panels=None)
    assert [k for k in win.docks if k != "controls"] == [c.key for c in panels]
    for key, widget in win.panels.items():
        assert isinstance(widget, Panel), f"panel {key} failed to build: {widget}"
    for _ in range(3):
        qtbot.keyClick(win, Qt.Key_Right)
    qtbot.keyClick(win, Qt.Key_End)
    assert win.session.cursor == len(win.session.events) - 1
    assert all(cls.help_html for cls in panels)


def test_shortcuts_work_in_a_floating_dock(qtbot, win):
    dock = win.docks["cursor-test"]
    dock.setFloating(True)
    assert win.acts.step_forward in dock.actions()
    dock.show()
    dock.activateWindow()
    qtbot.waitUntil(dock.isActiveWindow, timeout=2000)
    before = win.session.cursor
    qtbot.keyClick(dock, Qt.Key_Right)
    assert win.session.cursor == before + 1


def test_crash_hook_logs_and_tells_the_user(monkeypatch, warnings, qapp):
    import io
    import sys

    from bpttviz.gui import app as appmod

    qapp.setOrganizationName("bpttviz")
    qapp.setApplicationName("bpttviz")
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(sys, "__stderr__", io.StringIO())
    appmod.install_excepthook()
    try:
        raise RuntimeError("a slot went wrong")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    with open(appmod.log_path(), encoding="utf-8") as f:
        text = f.read()
    assert "a slot went wrong" in text and "Traceback" in text
    assert warnings[-1][0] == "critical" and "a slot went wrong" in warnings[-1][2]
    assert appmod.log_path().endswith("bpttviz.log")


def test_window_is_freed_without_the_cycle_collector(qtbot):
    """No Python reference cycles through the window: otherwise it is deleted at interpreter
    exit, possibly after the QApplication (a segfault at the end of `bpttviz export`)."""
    import gc
    import weakref

    gc.disable()
    try:
        w = MainWindow(Session("notebook-one-step"), panels=TEST_PANELS)
        ref = weakref.ref(w)
        w.acts.step_forward.trigger()
        w.controls.hidden_size.setValue(4)
        del w
        assert ref() is None
    finally:
        gc.enable()


def test_controls_show_true_values_outside_their_typing_range(qtbot):
    from bpttviz.gui.controls import ControlsPanel
    s = Session("long-range")
    c = ControlsPanel(s)
    qtbot.addWidget(c)
    # (hidden_size 2000 used to be shown here; it is now outside the one limit, H <= 512,
    # that the session enforces: see bpttviz/engine/limits.py)
    s.edit("lr", lr=1e3)
    assert c.lr.value() == pytest.approx(1e3)


def test_status_bar_with_the_last_steps_loss_alone_does_not_sum_earlier_steps(qtbot):
    """lstm-gates backpropagates the last step's loss alone: at forward:5 the status bar
    said "loss so far (steps 0-5) 14.843" beside a smooth loss of 4.078 (= ln V)."""
    from window_helpers import show_window
    w = show_window(qtbot, "lstm-gates")
    s = w.session
    assert s.trace.loss_steps == "last"
    s.set_event("forward:5")
    assert f"loss (last step only): at step {s.trace.T - 1}" in w.status.text()
    assert "so far" not in w.status.text() and "–" not in w.status.text()
    s.end()
    assert f"loss (last step only) {float(s.trace.losses[-1]):.3f}" in w.status.text()


def test_a_dock_title_bar_floats_and_hides_its_view(qtbot):
    """The normal window's title bars (the whole title, for tabs that may show the short
    one) keep the float and close buttons of Qt's own."""
    from bpttviz.gui.dock_title import DockTitleBar
    win = show_window(qtbot, size=(1366, 768))
    dock = win.docks["grad_norms"]
    bar = dock.titleBarWidget()
    assert isinstance(bar, DockTitleBar)
    assert bar.label.text() == "Gradient norms and clipping"
    bar.float_button.click()
    qtbot.waitUntil(dock.isFloating, timeout=2000)
    bar.float_button.click()
    qtbot.waitUntil(lambda: not dock.isFloating(), timeout=2000)
    bar.close_button.click()
    qtbot.waitUntil(lambda: not dock.isVisible(), timeout=2000)
    dock.toggleViewAction().trigger()   # the View menu's entry brings it back
    qtbot.waitUntil(dock.isVisible, timeout=2000)

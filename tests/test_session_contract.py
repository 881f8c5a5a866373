"""The panels' contract with the session (issue 11): specific signals, one owner of the run,
no connection outliving a rebuilt panel, no change detected by id()."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from PyQt5.QtCore import QCoreApplication, QEvent
from PyQt5.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox,
                             QMessageBox)

from bpttviz.session import Session, SessionError
from window_helpers import show_window


def _flush_deletes():
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()


@pytest.fixture
def dialogs(monkeypatch):
    """Every message box the app would show, recorded instead of shown."""
    shown = []

    def record(kind):
        def box(parent, title, text, *a, **k):
            shown.append((kind, title, text))
            return QMessageBox.Ok
        return staticmethod(box)

    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind, record(kind))
    return shown


# --- signals that say what changed -------------------------------------------------------
def test_signals_say_what_changed(qtbot):
    s = Session("min-char-rnn")
    got = []
    s.sigCursorChanged.connect(lambda i: got.append(("cursor", i)))
    s.sigTraceChanged.connect(lambda n: got.append(("trace", n)))
    s.sigConfigChanged.connect(lambda names: got.append(("config", names)))
    serial = s.trace_serial
    s.step(1)
    assert got == [("cursor", 1)]
    got.clear()
    s.set_cursor(1)  # no move, no signal
    assert got == []
    s.next_iteration()
    assert got == [("trace", serial + 1)] and s.cursor == 0
    got.clear()
    s.edit("lr", lr=0.05)
    assert got == [("config", frozenset({"lr"})), ("trace", serial + 2)]
    got.clear()
    s.undo_stack.undo()
    assert got[0] == ("config", frozenset({"lr"})) and got[1][0] == "trace"
    got.clear()
    s.load_preset("vanishing")
    assert got[0][0] == "config" and {"cell", "hidden_size", "text"} <= got[0][1]
    assert got[1] == ("trace", s.trace_serial)


def test_derived_state_is_built_once_per_change(monkeypatch):
    import bpttviz.session as session_module

    calls = {"timeline": 0, "state": 0}
    real_timeline, real_state = session_module.timeline, session_module.cursor_state

    def timeline(T):
        calls["timeline"] += 1
        return real_timeline(T)

    def cursor_state(T, c):
        calls["state"] += 1
        return real_state(T, c)

    monkeypatch.setattr(session_module, "timeline", timeline)
    monkeypatch.setattr(session_module, "cursor_state", cursor_state)
    s = Session("min-char-rnn")
    calls.update(timeline=0, state=0)
    for _ in range(10):
        s.step(1)
        for _reader in range(5):  # five panels reading the same state
            assert s.state.event == s.events[s.cursor]
    assert calls == {"timeline": 0, "state": 10}
    s.next_iteration()
    s.state, s.events, s.state
    assert calls == {"timeline": 1, "state": 11}


# --- one owner of the run -----------------------------------------------------------------
def test_a_lent_run_refuses_every_change_and_readers_see_the_published_trace():
    s = Session("min-char-rnn")
    s.set_event("backward:3")
    before = s.trace
    with s.lend_run() as run:
        assert s.busy
        run.train(5)  # the borrower trains; the session's readers do not move
        assert s.trace is before and s.iteration == 0
        np.testing.assert_array_equal(s.params["Whh"], before.params["Whh"])
        for change in (lambda: s.edit("lr", lr=0.5), lambda: s.set_cursor(0), lambda: s.step(1),
                       lambda: s.next_iteration(), lambda: s.scale_whh(2.0),
                       lambda: s.load_preset("vanishing"), lambda: s.train(1),
                       lambda: s.set_event("forward:0"), lambda: s.refresh()):
            with pytest.raises(SessionError, match="pause"):
                change()
        with pytest.raises(SessionError):
            s.run
        with pytest.raises(SessionError, match="already"):
            with s.lend_run():
                pass
    assert not s.busy and s.iteration == 5 and s.cursor == 0
    assert s.trace is not before and s.trace_serial > 0
    s.edit("lr", lr=0.5)  # free again


def _interactive(panel):
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider)
    return [w for w in panel.findChildren(kinds) if w.isEnabled() and w.isVisibleTo(panel)]


def _poke(w):
    if isinstance(w, QComboBox):
        if w.count() > 1:
            w.setCurrentIndex((w.currentIndex() + 1) % w.count())
            w.activated.emit(w.currentIndex())
    elif isinstance(w, QAbstractSpinBox):
        w.stepUp()
        w.editingFinished.emit()
    elif isinstance(w, QAbstractSlider):
        w.setValue(w.value() + max(1, w.pageStep()))
    elif isinstance(w, QAbstractButton):
        w.click()


@pytest.mark.parametrize("preset", ["min-char-rnn", "dinosaurs"])
def test_during_training_editors_are_disabled_and_view_controls_are_harmless(qtbot, dialogs, preset):
    win = show_window(qtbot, preset, size=(1600, 900))
    s = win.session
    run = s._run
    assert win.controller.start()
    qtbot.waitUntil(lambda: s.busy, timeout=2000)
    try:
        for key, panel in win.panels.items():
            for w in panel.editors():
                assert not w.isEnabled(), (key, w)
        for w in win.controls.findChildren((QComboBox, QAbstractSpinBox)):
            if w is not win.controls.speed:
                assert not w.isEnabled(), w.objectName()
        for name in ("step_forward", "next_iteration", "undo", "open", "save", "load_corpus",
                     "export_all", "train"):
            assert not win.acts.all[name].isEnabled(), name
        assert win.acts.pause_training.isEnabled()
        # Everything still enabled is a view control: show each panel, use them all.
        for key, panel in win.panels.items():
            win.docks[key].raise_()
            qtbot.wait(5)
            for w in _interactive(panel):
                if w is not getattr(panel, "pause_button", None):  # that one ends training
                    _poke(w)
            qtbot.wait(5)
        assert s._run is run and s.busy  # nothing replaced the run being trained
        with pytest.raises(SessionError):
            s.edit("clip", clip="norm")
    finally:
        win.controller.stop()
    assert not s.busy and s._run is run and s.iteration > 0
    assert dialogs == []
    # After training every editor is back.
    for key, panel in win.panels.items():
        for w in panel.editors():
            if key != "gradcheck" or w is panel.run_button:
                assert w.isEnabled(), (key, w)


# --- no connection outlives a panel -------------------------------------------------------
def _receivers(win):
    s, c = win.session, win.controller
    return {name: obj.receivers(getattr(obj, name)) for obj, names in (
        (s, ("sigCursorChanged", "sigTraceChanged", "sigConfigChanged", "sigBusyChanged")),
        (c, ("sigRunningChanged", "sigProgress", "sigSample", "sigDiverged", "sigStopped")))
        for name in names}


#: The panels that listen to the controller or edit the session (where stale connections
#: bit), plus one plain view: the rebuild test needs no more to prove the point.
REBUILT = ("GatesPanel", "TrainingPanel", "GradCheckPanel", "DecayPanel", "HiddenStatesPanel")


def test_ten_rebuilds_then_train_and_pause_raise_nothing(qtbot, dialogs):
    import bpttviz.gui.panels as panels_module

    win = show_window(qtbot, "lstm-gates", size=(1366, 768),
                      panels=[getattr(panels_module, n) for n in REBUILT])
    gc.enable()
    try:
        win.set_presentation(True, fullscreen=False)
        win.set_presentation(False)
        _flush_deletes()
        counts = _receivers(win)
        for i in range(10):
            if i % 2:
                win.set_theme_name("dark" if i % 4 == 1 else "light")
            else:
                win.set_presentation(i % 4 == 0, fullscreen=False)
            _flush_deletes()
        win.set_presentation(False)
        win.set_theme_name("light")
        _flush_deletes()
        assert _receivers(win) == counts
        for _ in range(2):  # train and pause twice, the teaching flow
            win.acts.train.trigger()
            qtbot.waitUntil(lambda: win.training and win.controller.worker.done >= 3, timeout=10000)
            win.acts.pause_training.trigger()
            qtbot.waitUntil(lambda: not win.training, timeout=5000)
        gc.collect()
    finally:
        gc.disable()
    assert dialogs == [] and win.session.iteration >= 6
    assert win.panels["gates"].switch_button.isEnabled() is False or win.session.config.cell == "lstm"


# --- change is detected by serial, never by id() -----------------------------------------
def test_a_panel_behind_a_tab_catches_up_with_the_current_trace(qtbot):
    from bpttviz.gui.panels import DecayPanel, DhnextPanel, UnrolledPanel

    win = show_window(qtbot, "min-char-rnn", size=(1600, 900),
                      panels=[UnrolledPanel, DhnextPanel, DecayPanel])
    s = win.session
    win.docks["dhnext_flow"].raise_()
    s.end()
    qtbot.wait(10)
    panel = win.panels["dhnext_flow"]
    win.docks["decay"].raise_()  # same tab stack: dhnext_flow is now behind a tab
    qtbot.wait(10)
    assert not panel._shown
    for _ in range(12):
        s.next_iteration()
        gc.collect()  # frees the old trace: CPython may give the new one its address
        s.end()
    win.docks["dhnext_flow"].raise_()
    qtbot.waitUntil(lambda: panel._shown, timeout=2000)
    truth = np.linalg.norm(s.trace.dhnext, axis=1)
    np.testing.assert_allclose(panel.norms, truth, rtol=1e-12)
    _x, y = panel.norm_curve.getData()
    np.testing.assert_allclose(y, np.maximum(truth, 0) if not panel.log_box.isChecked()
                               else np.maximum(truth, 1e-30), rtol=1e-12)


def test_trace_serial_differs_even_when_the_address_is_reused():
    s = Session("notebook-one-step")
    seen = set()
    for _ in range(20):
        serial = s.trace_serial
        assert serial not in seen
        seen.add(serial)
        s.next_iteration()
        gc.collect()


def test_no_gui_code_detects_change_with_id_or_connects_a_lambda():
    """Guard rails for the two bugs above: ``id()`` of a freed object is reused, and a
    lambda/partial connected as a slot outlives the widget it calls."""
    import ast
    import pathlib

    import bpttviz.gui

    bad = []
    for path in pathlib.Path(bpttviz.gui.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id == "id":
                bad.append(f"{path.name}:{node.lineno} id()")
            if isinstance(f, ast.Attribute) and f.attr == "connect" and node.args:
                a = node.args[0]
                if isinstance(a, ast.Lambda) or (
                        isinstance(a, ast.Call) and getattr(a.func, "attr", getattr(a.func, "id", "")) == "partial"):
                    bad.append(f"{path.name}:{node.lineno} connect(lambda/partial)")
    assert bad == []


def test_panels_keep_their_identity_attributes(qtbot):
    """``key``/``title`` name a view everywhere (docks, exports, --view): an instance attribute
    of the same name (a plot's key label once) broke every export."""
    from bpttviz.gui.panels import PANELS

    s = Session("notebook-one-step")
    for cls in PANELS:
        p = cls(s)
        qtbot.addWidget(p)
        assert isinstance(p.key, str) and p.key == cls.key, cls
        assert isinstance(p.title, str) and p.title == cls.title, cls
        p.detach()

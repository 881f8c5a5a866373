"""Window modes: presentation mode (F11) and themes, the preset's own view in front, the
training lock-out, and the layout at classroom resolutions."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel, QMessageBox, QTabBar, QVBoxLayout

from window_helpers import show_window
from bpttviz.gui import style
from bpttviz.gui.panels import (DecayPanel, DhnextPanel, GatesPanel, HiddenStatesPanel,
                                OutputsPanel, TruncationPanel, UnrolledPanel)
from bpttviz.gui.panels.base import Panel


class TinyPanel(Panel):
    key = "tiny-test"
    title = "Tiny (test)"
    help_html = "<p>test</p>"

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        self.label = QLabel()
        QVBoxLayout(self).addWidget(self.label)

    def redraw(self):
        self.label.setText(str(self.session.state.event))


@pytest.fixture
def messages(monkeypatch):
    calls = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: calls.append((_n, title, text)) or QMessageBox.Ok))
    return calls


@pytest.fixture(autouse=True)
def _light_theme_after():
    yield
    style.set_theme(style.LIGHT)


def make_window(qtbot, preset="min-char-rnn", panels=(TinyPanel,), size=(1600, 900)):
    return show_window(qtbot, preset, panels, size=size)


def in_front(win, key) -> bool:
    """Shown and not behind another tab (Qt moves a hidden tab's dock off the window)."""
    return win.docks[key].isVisible() and not win.docks[key].visibleRegion().isEmpty()


# --- presentation mode --------------------------------------------------------------------
def test_f11_presentation_mode_grows_everything_and_restores_it(qtbot, messages):
    win = make_window(qtbot, panels=[HiddenStatesPanel, TinyPanel])
    before_words = win.header.words.font().pointSizeF()
    before_button = win.scrubber.buttons["play"].font().pointSizeF()
    before_pen = win.panels["hidden_states"].heatmap.cursor.pen().widthF()
    before_tick = win.panels["hidden_states"].plot.getAxis("bottom").style.get("tickFont") \
        or win.panels["hidden_states"].plot.getAxis("bottom").tickFont
    old_panel = win.panels["hidden_states"]
    assert not win.windowState() & Qt.WindowFullScreen

    qtbot.keyClick(win, Qt.Key_F11)
    assert win.presenting and win.acts.presentation.isChecked()
    assert win.windowState() & Qt.WindowFullScreen
    t = style.theme()
    assert t.scale == 1.5 and t.laser and t.name == "high-contrast"
    assert t.pt(t.tick_pt) >= 18
    for w in [win.header.words, win.header.equation, win.header.phase, win.scrubber.label,
              win.status] + list(win.scrubber.buttons.values()):
        assert w.font().pointSizeF() >= 18, w.objectName()
    assert win.font().pointSizeF() >= 18
    win.show_view("hidden_states")  # behind the tiny view's tab: rebuilt when raised
    panel = win.panels["hidden_states"]
    assert panel is not old_panel  # rebuilt in the presentation theme
    assert panel.heatmap.cursor.pen().widthF() >= 1.5 * before_pen  # thicker cursor
    assert panel.heatmap.cursor.brush().color().alpha() > 0  # the laser band
    tick = panel.plot.getAxis("bottom").style.get("tickFont") or panel.plot.getAxis("bottom").tickFont
    assert tick.pointSizeF() >= 18 > before_tick.pointSizeF()
    assert not win.docks["controls"].isVisible()  # put away while presenting

    qtbot.keyClick(win, Qt.Key_F11)
    assert not win.presenting and not win.acts.presentation.isChecked()
    assert not win.windowState() & Qt.WindowFullScreen
    assert style.theme() == style.LIGHT
    assert win.header.words.font().pointSizeF() == before_words
    assert win.scrubber.buttons["play"].font().pointSizeF() == before_button
    win.show_view("hidden_states")
    panel = win.panels["hidden_states"]
    assert panel.heatmap.cursor.pen().widthF() == before_pen
    assert panel.heatmap.cursor.brush().style() == Qt.NoBrush
    assert win.docks["controls"].isVisible()
    # the session went on as before: stepping still works
    qtbot.keyClick(win, Qt.Key_Right)
    assert win.session.cursor == 1 and not messages


def test_presentation_mode_can_stay_windowed(qtbot):
    win = make_window(qtbot)
    win.set_presentation(True, fullscreen=False)
    assert win.presenting and not win.windowState() & Qt.WindowFullScreen
    win.set_presentation(False)
    assert not win.presenting


def test_dark_theme_switches_backgrounds_and_back(qtbot):
    win = make_window(qtbot, panels=[HiddenStatesPanel])
    light_bg = win.panels["hidden_states"].view.backgroundBrush().color() \
        if hasattr(win.panels["hidden_states"], "view") else None
    assert [a.text().replace("&", "") for a in win.theme_menu.actions()] == \
        ["Light", "Light, high contrast", "Dark"]
    win.acts.themes["dark"].trigger()
    assert win.theme_name == "dark" and style.theme().name == "dark"
    assert win.palette().color(win.backgroundRole()).lightness() < 80
    import pyqtgraph as pg
    views = win.panels["hidden_states"].findChildren(pg.GraphicsView)
    assert views and all(v.backgroundBrush().color().lightness() < 60 for v in views)
    # presenting in the dark keeps it dark (and big)
    win.set_presentation(True, fullscreen=False)
    assert style.theme().name == "dark" and style.theme().scale == 1.5
    win.set_presentation(False)
    win.acts.themes["light"].trigger()
    assert style.theme() == style.LIGHT
    assert win.palette().color(win.backgroundRole()).lightness() > 200
    views = win.panels["hidden_states"].findChildren(pg.GraphicsView)
    assert all(v.backgroundBrush().color().lightness() > 240 for v in views)
    del light_bg


def test_view_toggles_survive_a_theme_change_and_presentation_mode(qtbot):
    """Panels are rebuilt with the new theme's colours and fonts; the reader's own view
    choices (log scale, quantity shown, colour range, truncation window) come along."""
    win = make_window(qtbot, panels=[HiddenStatesPanel, DhnextPanel, TruncationPanel])
    win.session.edit(cell="lstm")
    hidden, dhnext, trunc = (win.panels[k] for k in ("hidden_states", "dhnext_flow", "truncation"))
    hidden.refresh()
    hidden.set_quantity("f")
    hidden.set_fit_range(True)
    dhnext.log_box.setChecked(True)
    trunc.spin.setValue(trunc.spin.value() + 2)
    k = trunc.spin.value()
    win.acts.themes["dark"].trigger()
    win.set_presentation(True, fullscreen=False)
    hidden2, dhnext2, trunc2 = (win.panels[k] for k in ("hidden_states", "dhnext_flow", "truncation"))
    assert hidden2 is not hidden and dhnext2 is not dhnext  # really rebuilt
    assert hidden2.quantity == "f" and hidden2.fit_range
    f = win.session.trace.gates["f"]
    assert hidden2.heatmap.levels == pytest.approx((f.min(), f.max()))
    assert dhnext2.log_box.isChecked() and trunc2.spin.value() == k
    win.set_presentation(False)
    win.acts.themes["light"].trigger()
    assert win.panels["hidden_states"].quantity == "f" and win.panels["dhnext_flow"].log_box.isChecked()


def test_colour_maps_diverging_for_signed_sequential_for_magnitudes(qtbot):
    win = make_window(qtbot, panels=[HiddenStatesPanel, OutputsPanel, DhnextPanel])
    div, seq = style.diverging_cmap(), style.sequential_cmap()
    assert win.panels["hidden_states"].heatmap.bar.colorMap() is div   # h in [-1, 1]
    assert win.panels["dhnext_flow"].heatmap.bar.colorMap() is div     # signed gradients
    assert win.panels["outputs"].heatmap.bar.colorMap() is seq         # probabilities
    # diverging: white in the middle (zero), blue below, red above; sequential: monotonic
    mid = div.map(0.5, mode="qcolor")
    assert mid.lightness() > 240
    lo, hi = div.map(0.0, mode="qcolor"), div.map(1.0, mode="qcolor")
    assert lo.blue() > lo.red() and hi.red() > hi.blue()
    luminance = [0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF()
                 for c in (seq.map(x, mode="qcolor") for x in (0.0, 0.25, 0.5, 0.75, 1.0))]
    assert luminance == sorted(luminance)  # reads in greyscale too


# --- the preset opens its view ----------------------------------------------------------------
RIGHT = [UnrolledPanel, DhnextPanel, DecayPanel, TruncationPanel, GatesPanel, HiddenStatesPanel]


@pytest.mark.parametrize("preset,key", [("vanishing", "decay"), ("long-range", "truncation"),
                                        ("lstm-gates", "gates")])
def test_a_preset_opens_on_its_view(qtbot, preset, key):
    win = make_window(qtbot, preset=preset, panels=RIGHT)
    assert win.dock_for_view(win.session.preset.view) == key
    assert in_front(win, key)
    others = [k for k in ("dhnext_flow", "decay", "truncation", "gates") if k != key]
    assert not any(in_front(win, k) for k in others)  # same tab stack, behind


def test_min_char_rnn_opens_on_the_network_it_steps_through(qtbot):
    """Its view was dhnext: at forward:0, where the app opens, an empty plot (it said why),
    and at 1280x720 and 1366x768 the only view on screen.  The unrolled network is what
    Karpathy's lossFun computes, step by step, from the first step; beside it (two
    columns) the gradient flow waits for the backward pass."""
    win = make_window(qtbot, preset="min-char-rnn", panels=RIGHT)
    assert win.session.preset.view == "unrolled" and in_front(win, "unrolled")
    assert in_front(win, "dhnext_flow")   # (1600x900: the right column's first view)
    for size in ((1366, 768), (1280, 720)):
        small = make_window(qtbot, preset="min-char-rnn", panels=RIGHT, size=size)
        assert small.dock_layout.mode == "single"
        assert in_front(small, "unrolled") and not in_front(small, "dhnext_flow")
        small.session.set_event("forward:0")
        assert small.panels["unrolled"].x_nodes.data.size == 1   # step 0 drawn


def test_changing_preset_brings_its_view_to_the_front(qtbot, messages):
    win = make_window(qtbot, panels=RIGHT)
    assert in_front(win, "dhnext_flow")
    combo = win.controls.preset
    i = combo.findData("exploding")
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    assert win.session.preset.name == "exploding" and in_front(win, "decay")
    win.docks["truncation"].close()
    i = combo.findData("long-range")
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    assert in_front(win, "truncation")  # shown again although it had been closed
    assert win.dock_for_view("hidden") == "hidden_states"
    assert win.dock_for_view("nonsense") is None


# --- training lock-out -------------------------------------------------------------------------
def test_training_locks_stepping_and_editing_until_paused(qtbot, messages):
    win = make_window(qtbot)
    s, a = win.session, win.acts
    it = s.iteration
    locked = [a.step_forward, a.step_back, a.play, a.home, a.end, a.next_iteration, a.open,
              a.save, a.load_corpus, a.export_png, a.export_all, a.copy_image, a.export_gif,
              a.train]
    s.edit(lr=0.05)  # something to undo
    assert a.undo.isEnabled()
    qtbot.keyClick(win, Qt.Key_T, Qt.ControlModifier)  # Run ▸ Train
    assert win.training
    for action in locked + [a.undo, a.redo]:
        assert not action.isEnabled(), action.objectName()
    assert a.pause_training.isEnabled()
    # Presentation mode stays free: panels redraw from the trace published at the start.
    assert a.presentation.isEnabled()
    assert not win.slider.isEnabled() and not win.controls.preset.isEnabled()
    assert not win.controls.hidden_size.isEnabled() and win.controls.speed.isEnabled()
    qtbot.keyClick(win, Qt.Key_Right)  # refused quietly: the worker owns the run
    qtbot.waitUntil(lambda: win.controller.worker is not None and win.controller.worker.done >= 3,
                    timeout=10000)
    qtbot.keyClick(win, Qt.Key_T, Qt.ControlModifier)  # Run ▸ Pause (the same key)
    qtbot.waitUntil(lambda: not win.training, timeout=10000)
    assert s.iteration > it
    for action in locked:
        assert action.isEnabled(), action.objectName()
    assert a.undo.isEnabled() and not a.pause_training.isEnabled()
    assert win.slider.isEnabled() and win.controls.preset.isEnabled()
    assert win.controls.hidden_size.isEnabled()
    assert s.cursor == 0 and not messages
    qtbot.keyClick(win, Qt.Key_Right)
    assert s.cursor == 1


def test_run_menu_has_train_and_pause(qtbot):
    win = make_window(qtbot)
    texts = [x.text().replace("&", "") for x in win.run_menu.actions()]
    assert texts == ["Train in the background", "Pause training"]
    assert win.acts.train.shortcut().toString() == "Ctrl+T"
    assert win.acts.presentation.shortcut().toString() == "F11"


# --- layout -------------------------------------------------------------------------------------
def test_default_layout_shows_two_full_height_columns(qtbot):
    """At the default 1600x900 (and up to 1920x1080) two views side by side, each over the
    whole height: rows at 1920x1080 left each view ~350 px."""
    from bpttviz.gui.panels import PANELS
    win = make_window(qtbot, panels=PANELS)
    assert win.dock_layout.mode == "columns"
    front = {k for k in win.panels if in_front(win, k)}
    assert front == {"unrolled", "dhnext_flow"}
    for key in front:
        dock = win.docks[key]
        assert dock.width() >= 600 and dock.height() >= 500, (key, dock.size())
    # the header's words are not clipped
    words = win.header.words
    assert words.height() >= words.heightForWidth(words.width())


def test_a_tall_screen_shows_three_readable_panels(qtbot):
    from bpttviz.gui.panels import PANELS
    win = make_window(qtbot, panels=PANELS, size=(2560, 1440))
    front = {k for k in win.panels if in_front(win, k)}
    assert front == {"unrolled", "dhnext_flow", "grad_norms"}
    for key in front:
        dock = win.docks[key]
        assert dock.width() >= 500 and dock.height() >= 400, (key, dock.size())
    # the dhnext view is full height, not crushed
    assert win.docks["dhnext_flow"].height() >= 900
    # the header's words are not clipped
    words = win.header.words
    assert words.height() >= words.heightForWidth(words.width())


def test_short_screen_gets_one_stack_with_the_preset_view_large(qtbot):
    """At 1280x720 two columns beside the controls would be under 600 px each: one stack,
    the preset's view (vanishing: gradient decay) in front, as wide as the room allows."""
    win = make_window(qtbot, preset="vanishing", size=(1280, 720),
                      panels=[UnrolledPanel, HiddenStatesPanel, DhnextPanel, DecayPanel])
    assert win.dock_layout.mode == "single"
    assert in_front(win, "decay")
    assert not any(in_front(win, k) for k in ("unrolled", "hidden_states", "dhnext_flow"))
    dock = win.docks["decay"]
    assert dock.width() >= 1280 - win.docks["controls"].width() - 20 and dock.height() >= 380


def test_layout_follows_the_window_until_the_user_moves_a_dock(qtbot):
    win = make_window(qtbot, panels=[UnrolledPanel, HiddenStatesPanel, DhnextPanel], size=(1280, 720))
    assert win.dock_layout.mode == "single"
    win.resize(1920, 1080)
    qtbot.waitUntil(lambda: win.dock_layout.mode == "columns", timeout=2000)
    win.resize(2560, 1440)
    qtbot.waitUntil(lambda: win.dock_layout.mode == "stacks", timeout=2000)
    assert in_front(win, "unrolled") and in_front(win, "dhnext_flow")
    win.docks["unrolled"].setFloating(True)  # the user takes over
    assert win.dock_layout.mode is None
    win.resize(1280, 720)
    qtbot.wait(50)
    assert win.docks["unrolled"].isFloating() and win.dock_layout.mode is None
    win.reset_layout()
    assert win.dock_layout.mode == "single" and not win.docks["unrolled"].isFloating()


def test_a_presentation_switch_rebuilds_the_views_on_screen_and_the_others_when_raised(qtbot):
    """Rebuilding all 13 views took ~0.6 s of every switch: only those in front are rebuilt at
    once; one behind a tab is rebuilt in the new theme the moment it is raised (or asked
    for by an export), keeping its view state."""
    win = make_window(qtbot, panels=[HiddenStatesPanel, TinyPanel])
    tiny, behind = win.panels["tiny-test"], win.panels["hidden_states"]
    def on_window(key):  # (Qt moves a tab behind another off the window)
        return win.docks[key].geometry().intersects(win.rect())
    win.set_presentation(True, fullscreen=False)
    assert win.panels["tiny-test"] is not tiny        # in front: rebuilt at once
    qtbot.waitUntil(lambda: on_window("tiny-test"), timeout=2000)
    assert not on_window("hidden_states")
    assert win.panels["hidden_states"] is behind
    assert behind.heatmap.cursor.brush().style() == Qt.NoBrush  # no laser band: not rebuilt
    win.show_view("hidden_states")
    qtbot.waitUntil(lambda: on_window("hidden_states"), timeout=2000)
    raised = win.panels["hidden_states"]
    assert raised is not behind and raised.heatmap.cursor.brush().color().alpha() > 0
    win.show_view("tiny-test")
    win.set_presentation(False)
    behind = win.panels["hidden_states"]
    fresh = win.looks.fresh("hidden_states")   # what an export of it draws
    assert fresh is not behind and fresh.heatmap.cursor.brush().style() == Qt.NoBrush
    assert win.panels["hidden_states"] is fresh


def test_check_boxes_grow_with_presentation_fonts_and_shrink_back(qtbot):
    """A 13 px box beside 18 pt words (log scale, show n - a, Forget dhnext) was hard to see
    from the back of a room."""
    from PyQt5.QtWidgets import QCheckBox, QStyle
    win = make_window(qtbot, panels=[DhnextPanel])

    def box():
        cb = win.panels["dhnext_flow"].findChildren(QCheckBox)[0]
        return cb.style().pixelMetric(QStyle.PM_IndicatorWidth, None, cb), cb
    normal, _ = box()
    win.set_presentation(True, fullscreen=False)
    win.show_view("dhnext_flow")
    big, cb = box()
    assert big >= 0.7 * cb.fontMetrics().height() > normal
    # the dock tabs keep the window's presentation font (a style sheet on the window had
    # shrunk them)
    bars = [b for b in win.findChildren(QTabBar) if b.objectName() != "plotPager"]
    assert all(b.fontInfo().pointSizeF() >= 0.95 * win.fontInfo().pointSizeF() for b in bars)
    win.set_presentation(False)
    win.show_view("dhnext_flow")
    assert box()[0] == normal


def test_a_dark_theme_stays_dark_when_presenting(qtbot):
    """The check boxes' style sheet, set on each view, gave the views the application's
    light palette when presenting in the dark theme: light grey behind light text."""
    from PyQt5.QtGui import QColor
    from PyQt5.QtWidgets import QCheckBox, QStyle
    win = make_window(qtbot, panels=[DhnextPanel])
    win.set_theme_name("dark")
    try:
        win.set_presentation(True, fullscreen=False)
        win.show_view("dhnext_flow")
        qtbot.wait(30)
        panel = win.looks.fresh("dhnext_flow")
        bg = panel.palette().color(panel.backgroundRole())
        assert bg.lightnessF() < 0.25, bg.name()
        label_fg = panel.note.palette().color(panel.note.foregroundRole())
        assert label_fg.lightnessF() > 0.7, label_fg.name()
        cb = panel.findChildren(QCheckBox)[0]
        assert cb.style().pixelMetric(QStyle.PM_IndicatorWidth, None, cb) >= 0.7 * cb.fontMetrics().height()
        assert f"color: {QColor(style.theme().foreground).name()}" in cb.styleSheet().lower()
    finally:
        win.set_presentation(False)
        win.set_theme_name("light")


@pytest.mark.parametrize("preset", ["lstm-gates", "min-char-rnn"])
def test_views_in_front_after_presentation_mode_follow_the_cursor(qtbot, preset):
    """A view rebuilt for presentation mode while in front was told it was off screen (its
    visible region was still empty before a paint) and skipped every redraw: the gates view
    showed step 0 at forward:10.  Every view, raised, is drawn at the cursor."""
    from bpttviz.gui.panels import PANELS as ALL
    win = show_window(qtbot, preset, panels=list(ALL), size=(1366, 768))
    win.set_presentation(True, fullscreen=False)
    win.session.set_event("forward:10")
    qtbot.wait(30)
    # the views in front now (Qt parks a tab behind another outside the window)
    front = [c.key for c in ALL if win.docks[c.key].geometry().intersects(win.rect())]
    assert front
    for key in front:
        assert not win.panels[key]._dirty, key
    for cls in ALL:
        win.show_view(cls.key)
        qtbot.wait(10)
        p = win.panels[cls.key]
        assert not p._dirty, cls.key      # drawn at the cursor, not left for later
    gates = win.panels["gates"]
    if preset == "lstm-gates":
        assert int(np.isfinite(gates.data["f"]).sum()) == 11 * win.session.trace.hidden_size
    win.set_presentation(False)


def test_leaving_presentation_with_an_unreadable_saved_layout_keeps_every_view(qtbot):
    """Leaving presentation mode takes the docks out of the window (to change their title
    bars cheaply) and puts them back as they were; a saved layout Qt cannot read must not
    leave them out (an empty window)."""
    win = make_window(qtbot, panels=[HiddenStatesPanel, DhnextPanel, TinyPanel])
    win.set_presentation(True, fullscreen=False)
    win.looks._before_presentation["layout"] = b"not a layout"
    win.set_presentation(False)
    qtbot.wait(10)
    for key in ("hidden_states", "dhnext_flow", "tiny-test"):
        dock = win.docks[key]
        assert not dock.isHidden() and win.dockWidgetArea(dock) != Qt.NoDockWidgetArea, key
    assert any(in_front(win, k) for k in ("hidden_states", "dhnext_flow", "tiny-test"))

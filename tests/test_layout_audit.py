"""The layout audit (issue 12): for every view, at 1280x720, 1366x768 and 1920x1080, in the
normal window and in presentation mode, the main plot is at least 300x200 px, no view needs a
sideways scroll bar and no label of the app's own (nor a pager's tab name) is cut; and on a
3840x2160 screen, unscaled and with HiDPI scaling at 200 % (1920x1080 logical pixels).
``python tests/layout_audit.py`` prints the whole table.  The 4K screens and the other themes
are in test_layout_audit_4k_themes.py (a file per worker: the two halves run side by side)."""
import pytest
from PyQt5.QtWidgets import QApplication

from layout_audit import MIN_PLOT, SIZES, audit

MODES = {"normal": False, "presentation": True}


@pytest.fixture(scope="module")
def measured(qapp):
    """(size, mode) -> {view: Measure}, each window measured once."""
    cache = {}

    def get(size, mode):
        if (size, mode) not in cache:
            cache[(size, mode)] = {m.view: m for m in audit(size, MODES[mode])}
        return cache[(size, mode)]
    return get


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_view_is_readable(measured, size, mode):
    table = measured(size, mode)
    from bpttviz.gui.panels import PANELS
    assert set(table) == {c.key for c in PANELS if hasattr(c, "refresh")}
    bad = [str(m) for m in table.values() if not m.ok]
    assert bad == [], "\n".join(bad)


def test_the_audit_fails_a_squeezed_plot(measured):
    """The criterion itself: a main plot under the minimum, or a sideways scroll bar, fails."""
    from layout_audit import Measure
    assert not Measure("x", (1, 1), False, (MIN_PLOT[0] - 1, 500), False, []).ok
    assert not Measure("x", (1, 1), False, (500, MIN_PLOT[1] - 1), False, []).ok
    assert not Measure("x", (1, 1), False, (500, 500), True, []).ok
    assert not Measure("x", (1, 1), False, (500, 500), False, ["a cut label"]).ok
    assert Measure("x", (1, 1), False, (500, 500), False, []).ok


@pytest.mark.parametrize("key", ["outputs", "contrib"])
def test_plots_side_by_side_still_show_every_step(qtbot, key):
    """Linked x axes drag each other by pixels while a view reflows: side by side, a narrow
    plot once cut the wide one's range to 19 of 25 steps."""
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session

    s = Session("min-char-rnn")
    s.set_event("backward:3")
    p = panel_by_key(key)(s)
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    qtbot.wait(20)
    p.resize(1400, 420)  # wide and short: side by side
    qtbot.waitUntil(lambda: p.plot_flow.side_by_side, timeout=2000)
    qtbot.wait(20)
    T = s.trace.T
    plots = [p.plot, p.loss_plot] if key == "outputs" else [p.heat_plot, p.bar_plot]
    for plot in plots:
        lo, hi = plot.viewRange()[0]
        assert lo <= 0 and hi >= T - 1, (key, lo, hi)


def test_a_short_view_shows_one_plot_at_a_time_with_a_pager(qtbot):
    """Too short for rows and too narrow for one row: pages, the main plot first and large;
    the pager turns to the others, which are then shown alone (nothing squeezed)."""
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session

    s = Session("min-char-rnn")
    s.set_event("backward:3")
    p = panel_by_key("clipping")(s)
    qtbot.addWidget(p)
    p.resize(1200, 900)
    p.show()
    qtbot.waitUntil(lambda: p.plot_flow.arrangement == "rows", timeout=2000)
    assert not p.plot_flow.pager.isVisible()
    p.resize(1000, 420)
    qtbot.waitUntil(lambda: p.plot_flow.arrangement == "pages", timeout=2000)
    flow = p.plot_flow
    assert flow.pager.isVisible() and flow.pager.count() == 4
    assert p.norm_plot.isVisible() and not p.heat_plot.isVisible()
    qtbot.waitUntil(lambda: p.norm_plot.getViewBox().height() >= MIN_PLOT[1], timeout=2000)
    flow.show_page(1)
    qtbot.waitUntil(lambda: p.heat_plot.isVisible(), timeout=2000)
    assert not p.norm_plot.isVisible() and p.heatmap.bar.isVisible()
    qtbot.waitUntil(lambda: p.heat_plot.getViewBox().width() >= MIN_PLOT[0], timeout=2000)


def test_truncation_window_survives_presentation_mode(qtbot):
    """A view behind a tab that never drew kept its construction default (k = 1) and
    presentation mode carried it over: it showed 1 where the setting is T // 4."""
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    win = MainWindow(Session("min-char-rnn"))
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    win.set_presentation(True, fullscreen=False)
    win.show_view("truncation")
    qtbot.waitUntil(lambda: win.panels["truncation"].window > 1, timeout=2000)
    assert win.panels["truncation"].window == win.session.trace.T // 4
    win.set_presentation(False)


def test_a_control_row_wraps_instead_of_widening_the_view(qtbot):
    """FlowLayout: a row of controls too wide for its view goes onto more lines, the view's
    minimum width stays that of its widest control, and a slider takes the room left."""
    from PyQt5.QtWidgets import QPushButton, QSizePolicy, QSlider, QWidget
    from PyQt5.QtCore import Qt

    from bpttviz.gui.flow_layout import FlowLayout

    box = QWidget()
    qtbot.addWidget(box)
    flow = FlowLayout(box, spacing=6)
    flow.setContentsMargins(0, 0, 0, 0)
    buttons = [QPushButton(f"a fairly long button {i}") for i in range(4)]
    for b in buttons:
        flow.addWidget(b)
    slider = QSlider(Qt.Horizontal)
    slider.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
    flow.addWidget(slider)
    widest = max(b.sizeHint().width() for b in buttons)
    assert box.minimumSizeHint().width() <= widest + 2
    box.resize(4 * widest + 200 + slider.sizeHint().width(), 200)
    box.show()
    qtbot.waitExposed(box)
    assert len({b.y() for b in buttons}) == 1            # wide: one line
    assert slider.width() > slider.sizeHint().width()    # ... the slider takes what is left
    box.resize(widest + 20, 400)
    qtbot.waitUntil(lambda: len({b.y() for b in buttons}) == 4, timeout=2000)
    assert all(b.x() + b.width() <= box.width() for b in buttons)
    assert flow.heightForWidth(widest + 20) > 4 * buttons[0].height()


def test_separators_part_groups_of_controls_and_never_begin_or_end_a_line(qtbot):
    """"auto-check" beside "scatter:" read as one phrase on a projector: FlowLayout draws a
    line between groups, but not at the start or end of a wrapped line."""
    from PyQt5.QtWidgets import QPushButton, QWidget

    from bpttviz.gui.flow_layout import FlowLayout

    box = QWidget()
    qtbot.addWidget(box)
    flow = FlowLayout(box, spacing=6)
    flow.setContentsMargins(0, 0, 0, 0)
    a, b, c = (QPushButton(f"a fairly long button {i}") for i in range(3))
    flow.addWidget(a)
    s1 = flow.add_separator()
    flow.addWidget(b)
    s2 = flow.add_separator()
    flow.addWidget(c)
    wide = sum(w.sizeHint().width() for w in (a, b, c)) + 200
    box.resize(wide, 200)
    box.show()
    qtbot.waitExposed(box)
    for left, sep, right in ((a, s1, b), (b, s2, c)):
        assert sep.height() >= 0.7 * a.height() and sep.width() > 0
        assert left.geometry().right() < sep.x() and sep.geometry().right() < right.x()
    # narrow: one button a line, and no separator drawn (each would begin or end a line)
    box.resize(a.sizeHint().width() + 10, 400)
    qtbot.waitUntil(lambda: len({w.y() for w in (a, b, c)}) == 3, timeout=2000)
    assert s1.geometry().isEmpty() and s2.geometry().isEmpty()
    assert flow.heightForWidth(a.sizeHint().width() + 10) < 4 * a.height() + 3 * 6


def test_gradient_check_controls_come_in_three_groups(qtbot):
    from PyQt5.QtWidgets import QFrame

    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session

    p = panel_by_key("gradcheck")(Session("min-char-rnn"))
    qtbot.addWidget(p)
    p.resize(1300, 600)
    p.show()
    qtbot.waitExposed(p)
    seps = sorted((f for f in p.findChildren(QFrame, "flowSeparator")), key=lambda f: f.x())
    assert len(seps) == 2 and all(not f.geometry().isEmpty() for f in seps)
    scatter_label = p.param_combo.parentWidget()
    assert p.auto_box.geometry().right() < seps[0].x() < p.bug_box.x()
    assert p.bug_box.geometry().right() < seps[1].x() < scatter_label.x()


def test_gradient_check_on_a_short_view_shows_the_scatter_large_and_the_table_on_its_page(qtbot):
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session

    s = Session("min-char-rnn")
    p = panel_by_key("gradcheck")(s)
    qtbot.addWidget(p)
    p.resize(930, 400)
    p.show()
    qtbot.waitUntil(lambda: p.plot_flow.arrangement == "pages", timeout=2000)
    qtbot.waitUntil(lambda: p.checks is not None, timeout=5000)
    assert p.scatter_plot.isVisible() and not p.bar_plot.isVisible()
    assert not p.table.isVisible()
    qtbot.waitUntil(lambda: p.scatter_plot.getViewBox().height() >= MIN_PLOT[1], timeout=2000)
    p.plot_flow.show_page(1)
    qtbot.waitUntil(lambda: p.table.isVisible() and p.bar_plot.isVisible(), timeout=2000)
    assert not p.scatter_plot.isVisible()
    p.resize(1400, 1000)   # tall: both plots and the table at once
    qtbot.waitUntil(lambda: p.plot_flow.arrangement == "rows", timeout=2000)
    assert p.scatter_plot.isVisible() and p.bar_plot.isVisible() and p.table.isVisible()


def _paged_view(qtbot, key):
    """The view ``key`` of min-char-rnn at backward:3, short enough to show pages."""
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session
    from window_helpers import show_panel

    s = Session("min-char-rnn")
    s.set_event("backward:3")
    p = show_panel(qtbot, panel_by_key(key), s, (900, 380))
    qtbot.waitUntil(lambda: p.plot_flow.arrangement == "pages", timeout=2000)
    return p


def test_contribution_key_shows_only_with_the_plot_it_describes(qtbot):
    """Paged (a 1280x720 window), the key of the bar plot ("step k's own part", "running
    total") sat above the heatmap's page, naming marks not in sight."""
    p = _paged_view(qtbot, "contrib")
    assert p.heat_plot.isVisible() and not p.bar_plot.isVisible()
    assert not p.plot_key.isVisible()
    p.plot_flow.show_page(1)
    qtbot.waitUntil(lambda: p.bar_plot.isVisible(), timeout=2000)
    assert p.plot_key.isVisible() and "running&nbsp;total" in p.plot_key.text()
    p.resize(1000, 1000)  # tall: both plots, and the key with them
    qtbot.waitUntil(lambda: p.plot_flow.arrangement == "rows", timeout=2000)
    assert p.heat_plot.isVisible() and p.bar_plot.isVisible() and p.plot_key.isVisible()


def test_dhnext_heatmap_notes_show_only_with_the_heatmap(qtbot):
    """Paged (1366x768 presentation), the ||dhnext|| line's page said "dhnext colour range
    ..." and "Hover a heatmap cell" about a heatmap not in sight."""
    p = _paged_view(qtbot, "dhnext_flow")
    assert p.norm_plot.isVisible() and not p.heat_plot.isVisible()
    assert not p.note.isVisible() and not p.readout.isVisible()
    assert p.log_box.isVisible()  # (the log scale is the line's)
    p.plot_flow.show_page(2)
    qtbot.waitUntil(lambda: p.heat_plot.isVisible(), timeout=2000)
    assert p.note.isVisible() and "colour range" in p.note.text() and p.readout.isVisible()


def test_page_names_are_in_the_presenting_size(qtbot):
    """The pager's names kept the application's 12 pt on a projector, the smallest text on
    the screen beside 18 pt ticks (a style sheet on each view gave it the application's font
    and palette): now the window's presentation size (shrunk to 80 % at most to fit)."""
    from bpttviz.gui import style
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    win = MainWindow(Session("min-char-rnn"), remember=False)
    qtbot.addWidget(win)
    win.set_presentation(True, fullscreen=False)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    try:
        win.show_view("clipping")
        qtbot.wait(50)  # (the view is rebuilt in the presenting scale once on screen)
        flow = win.looks.fresh("clipping").plot_flow
        qtbot.waitUntil(lambda: flow.arrangement == "pages" and flow.pager.isVisible(),
                        timeout=3000)
        t = style.theme()
        assert t.scale > 1
        assert flow.pager.font().pointSizeF() >= 0.8 * t.pt(t.tick_pt) - 1e-6
    finally:
        win.set_presentation(False, fullscreen=False)
        win.close()


def test_dhnext_plots_show_the_window_steps_in_a_1920x1080_window(qtbot):
    """At 1920x1080 the gradient-flow view opened in pages and its ||dhnext|| plot showed
    steps -30..40 of 25: the hidden ||dh|| split plot, linked by pixels, dragged its range."""
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    win = MainWindow(Session("min-char-rnn"))
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    qtbot.waitExposed(win)
    win.session.set_event("backward:3")
    win.show_view("dhnext_flow")
    qtbot.wait(100)
    p = win.panels["dhnext_flow"]
    T = win.session.trace.T
    for page in (0, 1, 0):
        p.plot_flow.show_page(page)
        qtbot.wait(30)
        plot = (p.norm_plot, p.split_plot)[page]
        lo, hi = plot.viewRange()[0]
        assert -1.5 <= lo <= 0 and T - 1 <= hi <= T + 0.5, (p.plot_flow.arrangement, page, lo, hi)


@pytest.mark.parametrize("preset, size, presenting", [
    ("min-char-rnn", (1280, 720), True), ("min-char-rnn", (1366, 768), True),
    ("lstm-gates", (1366, 768), True), ("min-char-rnn", (1920, 1080), False)])
def test_the_views_do_not_move_while_stepping_through_an_iteration(qtbot, preset, size, presenting):
    """The header keeps room for the iteration's longest description: stepping from the
    forward pass into the backward pass (or to clip and update) pushed the views down by
    10-36 px at 1366x768 and 1280x720 in presentation mode."""
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    win = MainWindow(Session(preset))
    qtbot.addWidget(win)
    if presenting:
        win.set_presentation(True, fullscreen=False)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    s = win.session
    qtbot.waitUntil(lambda: win.timeline_bar.height() == win.timeline_bar.sizeHint().height(),
                    timeout=3000)   # (the window settled after presentation mode)
    tops = set()
    for i in range(len(s.events)):
        s.set_cursor(i)
        for _ in range(3):
            QApplication.processEvents()
        tops.add((win.header.height(), win.timeline_bar.height()))
    assert len(tops) == 1, (preset, size, sorted(tops))
    if presenting:
        win.set_presentation(False)

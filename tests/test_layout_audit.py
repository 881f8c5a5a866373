"""The layout audit (issue 12), on a projector's 1366x768: no view needs a sideways scroll bar,
and the stepping core and the teaching views listed below show their main plot at least
300x200 px in presentation mode.  ``python tests/layout_audit.py`` prints every view at every
size (1280x720, 1366x768, 1920x1080, normal and presentation)."""
import pytest

from layout_audit import MIN_PLOT, audit

#: Views whose main plot meets MIN_PLOT at 1366x768 in presentation mode: every view but the
#: gradient check (its table and controls still stack too much; see the audit script's table).
MEETS_AT_1366_PRESENTING = ("unrolled", "hidden_states", "outputs", "dhnext_flow", "grad_norms",
                            "code", "contrib", "decay", "clipping", "truncation", "loss", "gates")
#: ... and at 1280x720 in the normal window (not yet: code, gradient check, training live).
MEETS_AT_1280_NORMAL = ("unrolled", "hidden_states", "outputs", "dhnext_flow", "grad_norms",
                        "contrib", "decay", "clipping", "truncation", "gates")


@pytest.fixture(scope="module")
def presenting_1366(qapp):
    return {m.view: m for m in audit((1366, 768), True)}


def test_no_view_scrolls_sideways_at_1366x768_presenting(presenting_1366):
    assert [m.view for m in presenting_1366.values() if m.sideways_scroll] == []


@pytest.mark.parametrize("view", MEETS_AT_1366_PRESENTING)
def test_main_plot_is_readable_at_1366x768_presenting(presenting_1366, view):
    m = presenting_1366[view]
    assert m.plot[0] >= MIN_PLOT[0] and m.plot[1] >= MIN_PLOT[1], str(m)



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


@pytest.fixture(scope="module")
def normal_1280(qapp):
    return {m.view: m for m in audit((1280, 720), False, views=list(MEETS_AT_1280_NORMAL))}


@pytest.mark.parametrize("view", MEETS_AT_1280_NORMAL)
def test_main_plot_is_readable_at_1280x720(normal_1280, view):
    m = normal_1280[view]
    assert m.ok, str(m)


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

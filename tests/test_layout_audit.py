"""The layout audit (issue 12), on a projector's 1366x768: no view needs a sideways scroll bar,
and the stepping core and the teaching views listed below show their main plot at least
300x200 px in presentation mode.  ``python tests/layout_audit.py`` prints every view at every
size (1280x720, 1366x768, 1920x1080, normal and presentation)."""
import pytest

from layout_audit import MIN_PLOT, audit

#: Views whose main plot meets MIN_PLOT at 1366x768 in presentation mode.  The others
#: (code listing, clipping compared, truncation compared, gradient check) still stack too much
#: for 1366x768 at presentation font sizes: see the audit script's table.
MEETS_AT_1366_PRESENTING = ("unrolled", "hidden_states", "outputs", "dhnext_flow", "grad_norms",
                            "contrib", "decay", "loss", "gates")


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
    p.resize(930, 360)  # wide and short: side by side
    qtbot.waitUntil(lambda: p.plot_flow.side_by_side, timeout=2000)
    qtbot.wait(20)
    T = s.trace.T
    plots = [p.plot, p.loss_plot] if key == "outputs" else [p.heat_plot, p.bar_plot]
    for plot in plots:
        lo, hi = plot.viewRange()[0]
        assert lo <= 0 and hi >= T - 1, (key, lo, hi)

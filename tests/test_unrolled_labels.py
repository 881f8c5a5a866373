"""The unrolled network never drops a character (issue 12): every step's input and target is
labelled, visibly, without two labels overlapping, up to T = 100, at panel widths 700-1366 px,
in the normal and the presentation theme; the current step's labels are visible and marked."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtGui import QColor

from bpttviz.gui import style
from bpttviz.gui.panels.unrolled import UnrolledPanel
from bpttviz.session import Session

TEXT = "From fairest creatures we desire increase, That thereby beauty's rose might never die"


def _label(ch):
    return {"\n": "\\n", "\t": "\\t", " ": "\u2423", "\r": "\\r"}.get(ch, ch)


@pytest.fixture(params=["normal", "presentation"])
def themed(request):
    t = style.LIGHT if request.param == "normal" else \
        style.THEMES["high-contrast"][1].presenting(1.5)
    style.set_theme(t)
    yield t
    style.set_theme(style.LIGHT)


def _check_labels(panel, session):
    tr = session.trace
    T = tr.T
    vocab = session.vocab
    view = panel.plot.vb.sceneBoundingRect()
    for labels, ids in ((panel.in_labels, tr.inputs), (panel.out_labels, tr.targets)):
        assert len(labels) == T
        assert labels.isVisible()
        rects = []
        for t, ix in enumerate(ids):
            # the character itself (spelled out from the corpus, not from the panel)
            assert labels.text(t) == _label(vocab.chars[int(ix)]), t
            r = labels.scene_rect(t)
            assert r.width() > 0 and view.contains(r), (t, r, view)
            rects.append(r)
        for a in range(T):
            for b in range(a + 1, min(T, a + 8)):   # farther ones are farther apart in x
                assert not rects[a].intersects(rects[b]), (a, b)
    # the input labels (below x) never reach the target labels (above y)
    top_of_inputs = min(r.top() for r in panel.in_labels.scene_rects())
    bottom_of_targets = max(r.bottom() for r in panel.out_labels.scene_rects())
    assert bottom_of_targets < top_of_inputs


@pytest.mark.parametrize("T", [25, 40, 100])
def test_every_step_labelled_without_overlap(qtbot, themed, T):
    s = Session("min-char-rnn")
    s.edit("window", seq_length=T)
    assert s.trace.T == T
    p = UnrolledPanel(s)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    for width in (700, 1000, 1366):
        p.resize(width, 360)
        qtbot.wait(5)
        for event in ("forward:0", f"backward:{T // 2}", f"forward:{T - 1}"):
            s.set_event(event)
            p.refresh()
            _check_labels(p, s)
            cur = s.state.current_t
            for strip in (p.in_labels, p.out_labels):
                assert strip.color(cur) == QColor(themed.backward)
            others = [i for i in range(T) if i != cur]
            assert all(p.in_labels.color(i) == QColor(themed.foreground) for i in others)


def test_labels_spell_the_corpus_at_t40(qtbot):
    """The issue's example: at T = 40 and 1366 px the inputs read the text itself."""
    style.set_theme(style.LIGHT)
    s = Session("min-char-rnn")
    s.edit("window", seq_length=40)
    p = UnrolledPanel(s)
    qtbot.addWidget(p)
    p.resize(1366, 360)
    p.show()
    qtbot.waitExposed(p)
    p.refresh()
    shown = "".join(p.in_labels.texts()).replace("\u2423", " ")
    want = "".join(s.vocab.chars[int(i)] for i in s.trace.inputs)
    assert shown == want and shown.startswith(TEXT[:25])


def test_arrow_width_states_its_scale(qtbot):
    style.set_theme(style.LIGHT)
    s = Session("min-char-rnn")
    p = UnrolledPanel(s)
    qtbot.addWidget(p)
    p.resize(1000, 360)
    p.show()
    qtbot.waitExposed(p)
    s.set_event("backward:12")
    p.refresh()
    norms = np.linalg.norm(s.trace.dhnext, axis=1)
    text = p.legend.text().replace("\u2060", "")   # (word joiners keep "||dhnext||" whole)
    assert "arrow width \u221d ||dhnext||" in text
    assert f"widest ({9 * style.LIGHT.scale:.0f} px) = {norms.max():.3g}" in text
    assert f"at step 12: {norms[12]:.3g}" in text
    # and the widest arrow drawn is the window's largest norm, once the backward pass is over
    s.set_event("backward:0")
    p.refresh()
    assert p.arrow_widths[int(np.argmax(norms))] == pytest.approx(9 * style.LIGHT.scale)


@pytest.mark.parametrize("preset, zero", [("dinosaurs", True), ("min-char-rnn", False)])
def test_the_zero_input_is_explained(qtbot, preset, zero):
    """Andrew Ng's model reads a zero vector first: its "∅" under x_0 had no word."""
    from window_helpers import show_panel
    p = show_panel(qtbot, UnrolledPanel, Session(preset), (1000, 360))
    assert (p.in_labels.text(0) == "∅") is zero
    assert ("∅: the zero vector, no character" in p.legend.text()) is zero


def test_nodes_stay_half_a_step_wide_on_a_projector_and_after_a_resize(qtbot):
    """The theme's scale multiplied half the step (nodes 0.75 of a step wide on a
    projector), and the size was kept from the last draw's width: in a lesson's narrower
    view the h nodes touched and hid the arrows between them."""
    style.set_theme(style.LIGHT.presenting())
    try:
        from window_helpers import show_panel
        s = Session("min-char-rnn")
        s.set_event("forward:24")
        p = show_panel(qtbot, UnrolledPanel, s, (1300, 420))
        for width in (1300, 800):
            p.resize(width, 420)
            qtbot.wait(30)
            step = p.plot.vb.boundingRect().width() / (s.trace.T + 1.2)
            size = p.h_nodes.opts["size"]
            assert size <= 0.5 * step + 0.5, (width, size, step)
            assert size >= 0.45 * step, (width, size, step)  # ... and follows the width
    finally:
        style.set_theme(style.LIGHT)


def test_the_state_carried_in_is_named_inside_the_plot(qtbot):
    """The lone node left of step 0 is h_-1, the state carried in: named above it, inside
    the plot and clear of step 0; where a step is too narrow for the name (T = 100) it is
    left out rather than drawn over step 0's arrows."""
    from bpttviz.gui.panels.unrolled import ROW_H
    from window_helpers import show_panel
    for T in (25, 100):
        s = Session("min-char-rnn")
        if T != 25:
            s.edit("T", seq_length=T)
        panel = show_panel(qtbot, UnrolledPanel, s, (1280, 420))
        qtbot.wait(50)
        label = panel.prev_label
        assert label.textItem.toPlainText() == "h\u208b\u2081"
        assert label.isVisible() is (T == 25)
        if not label.isVisible():
            continue
        vb = panel.plot.vb
        box = vb.mapSceneToView(label.mapToScene(label.boundingRect())).boundingRect()
        lo, hi = vb.viewRange()[0]
        assert lo <= box.left() and box.right() < -0.2, (T, box, lo)   # left of step 0, in sight
        assert box.top() > ROW_H or box.bottom() > ROW_H               # above the h row


def test_labels_are_painted_and_the_current_pair_stays_marked_after_a_resize(qtbot):
    """The labels are drawn by one item (plot_items.LabelStrip): what it paints is each
    step's character, the current step's pair in the backward colour, and a resize with no
    step after it (the legend or the dock growing) keeps that mark."""
    style.set_theme(style.LIGHT)
    s = Session("min-char-rnn")
    p = UnrolledPanel(s)
    qtbot.addWidget(p)
    p.resize(1000, 400)
    p.show()
    qtbot.waitExposed(p)
    s.set_event("backward:10")
    p.refresh()
    p.resize(1100, 420)
    qtbot.wait(30)
    assert p.in_labels.color(10) == QColor(style.LIGHT.backward)
    img = p.plot_widget.grab().toImage()
    view = p.plot_widget

    def colours(strip, i):
        r = view.mapFromScene(strip.scene_rect(i)).boundingRect()
        return {img.pixelColor(x, y).name() for x in range(r.left(), r.right() + 1)
                for y in range(r.top(), r.bottom() + 1)}

    def near(cols, target, tol=60):
        c = QColor(target)
        return any(abs(QColor(n).red() - c.red()) + abs(QColor(n).green() - c.green())
                   + abs(QColor(n).blue() - c.blue()) < tol for n in cols)

    for strip in (p.in_labels, p.out_labels):
        assert near(colours(strip, 10), style.LIGHT.backward)       # the current pair, red
        assert near(colours(strip, 3), "#000000")                    # others in black ink
        assert not near(colours(strip, 3), style.LIGHT.backward)

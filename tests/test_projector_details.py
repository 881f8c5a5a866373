"""Details a student at the back of the room sees on a projector (1366x768 and 1280x720, in
presentation mode): glyphs that touch, text cut short, ranges that lose steps, marks too faint
to read.  Each test measures the geometry Qt and pyqtgraph actually use."""
import numpy as np
import pytest
from PyQt5.QtGui import QFontMetricsF, QImage, QPainter
from PyQt5.QtWidgets import QApplication

from bpttviz.session import Session

from window_helpers import show_panel, show_window

PROJECTORS = [(1366, 768), (1280, 720)]
IDS = ["1366x768", "1280x720"]


def settle(n=6):
    for _ in range(n):
        QApplication.processEvents()


@pytest.fixture(scope="module")
def _shared_windows(qapp):
    """(preset, size) -> a presenting window, shared by this module's read-only tests (each
    window costs 2-4 s to build and lay out: a fresh one per test made this file the
    suite's longest)."""
    windows = {}
    yield windows
    for win in windows.values():
        win.set_presentation(False)
        win.close()
        win.deleteLater()
    settle()


@pytest.fixture
def presenting(qtbot, _shared_windows):
    """open(size, view, preset, at) -> the view's panel in a presenting window at that size.
    The window is shared with the module's other tests that only look (``fresh=True``: one
    of the test's own, for a test that resizes or edits)."""
    own = []

    def open_view(size, view, preset="min-char-rnn", at="backward:3", fresh=False):
        key = (preset, tuple(size))
        win = None if fresh else _shared_windows.get(key)
        if win is None:
            win = show_window(qtbot, preset, size=size, presenting=True, owned=False)
            (own.append(win) if fresh else _shared_windows.__setitem__(key, win))
            settle()
        win.session.set_event(at)
        if view is None:
            return win
        win.show_view(view)
        settle()
        return win.panels[view]
    yield open_view
    for win in own:
        win.set_presentation(False)
        win.close()
        win.deleteLater()


def draw_specs(axis):
    img = QImage(8, 8, QImage.Format_ARGB32)
    qp = QPainter(img)
    try:
        return axis.generateDrawSpecs(qp)
    finally:
        qp.end()


def title_ink_top(axis) -> float:
    """The top of the ink of an axis title, in the axis' coordinates."""
    label = axis.label
    block = label.document().firstBlock()
    line = block.layout().lineAt(0)
    font = block.begin().fragment().charFormat().font()
    tight = QFontMetricsF(font).tightBoundingRect(block.text())
    return label.pos().y() + block.layout().position().y() + line.y() + line.ascent() + tight.top()


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_space_tick_glyph_clears_the_x_axis_title(presenting, size):
    """The "␣" tick (a space) hangs below the baseline: it touched "input character x_t"."""
    p = presenting(size, "outputs")
    axis = p.plot.getAxis("bottom")
    _, _, texts = draw_specs(axis)
    strings = [s for _, _, s in texts]
    assert "␣" in strings
    fm = QFontMetricsF(axis.style["tickFont"])
    ink_bottom = max(rect.top() + fm.ascent() + fm.tightBoundingRect(s).bottom()
                     for rect, _, s in texts)
    assert ink_bottom + 1 <= title_ink_top(axis), (ink_bottom, title_ink_top(axis))


def _title_to_ticks_gap(axis) -> float:
    """px between a left axis' (rotated) title and the left end of its widest tick label."""
    fm = QFontMetricsF(axis.style["tickFont"])
    ticks_left = min(rect.right() - fm.horizontalAdvance(text) for rect, _, text in draw_specs(axis)[2])
    label = axis.label
    return ticks_left - label.mapRectToParent(label.boundingRect()).right()


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_left_axis_titles_keep_clear_of_their_tick_labels(presenting, size):
    """At 1366x768 presenting the gates' "gradient norm" touched its "0.001" tick."""
    gates = presenting(size, "gates", preset="lstm-gates", at="backward:10")
    assert _title_to_ticks_gap(gates.flow_plot.getAxis("left")) >= 4
    dhnext = presenting(size, "dhnext_flow", at="backward:10")
    shown = [p for p in (dhnext.norm_plot, dhnext.split_plot) if p.isVisible()]
    assert shown   # (a short projector pages the plots: one at a time)
    for plot in shown:
        assert _title_to_ticks_gap(plot.getAxis("left")) >= 4


def test_outputs_plots_show_every_step_after_any_resize(qtbot):
    """Stacked, the loss plot is linked to the heatmap by pixels: spanning the colour bar's
    column as well it was wider, and setting its range after the heatmap's dragged the
    heatmap to steps 0..21 of 25.  After every resize (rows, side by side and back) both
    show exactly the window's steps, and stacked their steps line up."""
    from bpttviz.gui.panels import panel_by_key

    s = Session("min-char-rnn")
    s.set_event("backward:3")
    p = panel_by_key("outputs")(s)
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    qtbot.waitExposed(p)
    T = s.trace.T
    seen = set()
    for w, h in [(900, 700), (700, 900), (1400, 420), (900, 700), (600, 1000), (1200, 800),
                 (1400, 430), (500, 900), (800, 600)]:
        p.resize(w, h)
        settle(5)
        seen.add(p.plot_flow.arrangement)
        for plot in (p.plot, p.loss_plot):
            lo, hi = plot.viewRange()[0]
            assert lo == pytest.approx(-0.5, abs=0.02) and hi == pytest.approx(T - 0.5, abs=0.02), \
                ((w, h), p.plot_flow.arrangement, plot is p.plot, lo, hi)
        if p.plot_flow.arrangement == "rows":
            heat, loss = p.plot.vb.sceneBoundingRect(), p.loss_plot.vb.sceneBoundingRect()
            assert abs(heat.left() - loss.left()) < 1 and abs(heat.right() - loss.right()) < 1
    assert {"rows", "side"} <= seen


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_outputs_colour_bar_sits_beside_its_heatmap(presenting, size):
    """Side by side the heatmap kept the empty right axis that lines it up with the loss
    plot below it when stacked: its colour bar stood ~85 px away."""
    p = presenting(size, "outputs")
    assert p.plot_flow.arrangement == "side"
    heat = p.plot.vb.sceneBoundingRect()
    bar = p.heatmap.bar.sceneBoundingRect()
    assert 0 <= bar.left() - heat.right() < 0.5 * p._right_w, (heat, bar)


def combo_text_room(combo) -> int:
    """The width the combo's style gives its text (the edit field, without the arrow)."""
    from PyQt5.QtWidgets import QStyle, QStyleOptionComboBox
    opt = QStyleOptionComboBox()
    combo.initStyleOption(opt)
    opt.rect = combo.rect()
    return combo.style().subControlRect(QStyle.CC_ComboBox, opt, QStyle.SC_ComboBoxEditField,
                                        combo).width()


@pytest.mark.parametrize("preset", ["min-char-rnn", "lstm-gates"])
@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_hidden_states_quantity_combo_shows_its_whole_text(presenting, size, preset):
    """The combo asked for five characters and showed "h  hidden" cut in presentation."""
    from PyQt5.QtGui import QFontMetrics
    p = presenting(size, "hidden_states", preset=preset)
    combo = p.combo
    assert combo.count() >= 1
    fm = QFontMetrics(combo.font())   # the font the combo paints its text with
    need = fm.horizontalAdvance(combo.currentText())
    assert combo_text_room(combo) >= need, (combo.currentText(), combo.width(), need)
    longest = max(fm.horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
    assert combo.sizeHint().width() >= longest


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
@pytest.mark.parametrize("preset, at", [("min-char-rnn", "backward:3"), ("lstm-gates", "forward:3"),
                                        ("min-char-rnn", "update")])
def test_code_lines_fit_and_the_running_loop_shows_from_its_start(presenting, size, preset, at):
    """Every code line (comments too) fits the pane without a sideways scroll bar or a
    wrap, and the loop the event runs is shown from its first line, running line included."""
    panel = presenting(size, "code", preset=preset, at=at)
    code = panel.code
    fm = QFontMetricsF(code.font())
    room = code.viewport().width() - 2 * code.document().documentMargin()
    longest = max((text for text, _ in panel.lines), key=len)
    assert fm.horizontalAdvance(longest) <= room, (longest, fm.horizontalAdvance(longest), room)
    assert not code.horizontalScrollBar().isVisible()
    # still projector-sized: not shrunk below 60 % of the presentation font
    assert code.font().pointSizeF() >= 0.6 * panel._theme.font(panel._theme.mono_pt, mono=True).pointSizeF()
    top = code.firstVisibleBlock().blockNumber()
    first, last = min(panel.highlighted_lines), max(panel.highlighted_lines)
    rows = code.viewport().height() // fm.lineSpacing()
    assert top <= first, (top, first)  # the loop's head is on screen
    assert panel.main_line < top + rows  # ... and so is the running line
    if last - first + 2 <= rows:
        assert last < top + rows  # the whole loop when it fits


@pytest.mark.parametrize("theme", ["light", "dark", "high-contrast"])
def test_highlighted_code_lines_are_readable_in_every_theme(qtbot, theme):
    """The running lines' light bands kept the theme's text colour: in the dark theme light
    text on light yellow, the loop unreadable."""
    from PyQt5.QtGui import QTextFormat
    from bpttviz.gui import style
    from bpttviz.gui.panels.code import CodePanel
    t = style.THEMES[theme][1]
    style.set_theme(t)
    try:
        s = Session("min-char-rnn")
        s.set_event("backward:10")
        panel = CodePanel(s)
        qtbot.addWidget(panel)
        from bpttviz.gui.looks import qt_palette
        if qt_palette(t) is not None:
            panel.setPalette(qt_palette(t))  # as the window gives its views
        panel.redraw()
        sels = panel.code.extraSelections()
        assert len(sels) == len(panel.highlighted_lines) > 1
        for sel in sels:
            bg = sel.format.background().color()
            fg = sel.format.foreground().color() if sel.format.hasProperty(QTextFormat.ForegroundBrush) \
                else panel.code.palette().color(panel.code.foregroundRole())
            assert abs(bg.lightnessF() - fg.lightnessF()) > 0.5, (theme, bg.name(), fg.name())
    finally:
        style.set_theme(style.LIGHT)


def test_code_reports_norm_clipping_as_rescaled(qtbot):
    """Norm clipping rescales every entry by one factor: the numbers say "rescaled by",
    never "% of entries clipped" (that is value clipping's effect)."""
    s = Session("min-char-rnn")
    s.edit("clip", clip="norm", clip_value=0.05)
    s.set_event("clip")
    from bpttviz.gui.panels.code import CodePanel
    panel = CodePanel(s)
    qtbot.addWidget(panel)
    panel.redraw()
    lines = panel.value_lines()
    per_param = [ln for ln in lines if ln.startswith("||d")]
    assert per_param and all("rescaled by" in ln for ln in per_param), lines
    assert not any("entries clipped" in ln for ln in lines)
    s.edit("clip", clip="value", clip_value=0.05)
    s.set_event("clip")
    panel.redraw()
    assert any("entries clipped" in ln for ln in panel.value_lines())


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
@pytest.mark.parametrize("preset", ["min-char-rnn", "vanishing"])
def test_decay_labels_its_top_tick_one(presenting, size, preset):
    """Distance 0 is the identity (||dh_t/dh_t|| = 1): its tick '1' keeps its label however
    many decades the plot spans (pyqtgraph drops a label that sticks out of the plot)."""
    panel = presenting(size, "decay", preset=preset, fresh=True)
    axis = panel.plot.getAxis("left")
    texts = [text for _, _, text in draw_specs(axis)[2]]
    assert "1" in texts or "10⁰" in texts, texts
    panel.resize(panel.width(), panel.height() - 120)  # ... also after the view shrinks
    settle()
    texts = [text for _, _, text in draw_specs(axis)[2]]
    assert "1" in texts or "10⁰" in texts, texts


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
@pytest.mark.parametrize("preset", ["exploding", "vanishing", "min-char-rnn"])
def test_decay_labels_its_highest_grid_line(presenting, size, preset):
    """The top decade line inside the plot has its number: exploding's mean ends at 3.7e3
    and 0.6 decade of room above it drew the 10^4 line with no label (pyqtgraph drops a
    label that sticks out of the plot)."""
    panel = presenting(size, "decay", preset=preset, at="forward:0")
    axis = panel.plot.getAxis("left")
    texts = [text for _, _, text in draw_specs(axis)[2]]
    lo, hi = panel.plot.getViewBox().viewRange()[1]
    spacing, major = axis.tickValues(lo, hi, axis.height())[0]
    top = max(v for v in major if lo <= v <= hi)
    assert axis.tickStrings([top], 1.0, spacing)[0] in texts, (top, hi, texts)


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_decay_keeps_its_lowest_dot_whole(presenting, size):
    """0.3 decade under the lowest value, of 25 decades in 300 px, left the last distance's
    dot cut in half by the x axis."""
    from PyQt5.QtCore import QPointF
    panel = presenting(size, "decay")
    vals = panel.pairs[:, 3]
    lowest = float(np.log10(vals[vals > 0].min()))
    vb = panel.plot.getViewBox()
    y = vb.mapViewToScene(QPointF(0.0, lowest)).y()
    radius = panel.scatter.opts["symbolSize"] / 2
    assert vb.sceneBoundingRect().bottom() - y >= radius, (y, vb.sceneBoundingRect(), radius)


def test_gates_box_the_current_step_in_both_passes_and_explain_the_empty_flow(qtbot):
    """The heatmaps frame the current step's column in the backward pass too (its gates are
    what the step's gradient goes through), and the gradient-flow plot, empty during the
    forward pass, says what fills it."""
    from bpttviz.gui.panels.gates import GatesPanel
    s = Session("lstm-gates")
    panel = GatesPanel(s)
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    settle()
    for at, t, empty in (("forward:5", 5, True), ("backward:3", 3, False)):
        s.set_event(at)
        panel.refresh()
        settle()
        for hm in panel.heatmaps.values():
            assert hm.cursor.isVisible(), at
            assert hm.cursor.rect().center().x() == pytest.approx(t)
        assert panel.flow_empty.isVisible() is empty, at
        assert panel.flow_cursor.isVisible() is not empty


def test_grad_norms_key_names_the_threshold_line_only_when_drawn(qtbot):
    """Value clipping draws no threshold line (it limits entries, not a norm): the key
    leaves it out then; with a norm mode the line is drawn and keyed with heavy dashes."""
    from bpttviz.gui.panels.gradnorms import GradNormsPanel
    s = Session("min-char-rnn")
    s.set_event("clip")
    panel = GradNormsPanel(s)
    qtbot.addWidget(panel)
    panel.refresh()
    assert s.config.clip == "value"
    assert "threshold" not in panel.key_label.text()
    assert len(panel.threshold.xData if panel.threshold.xData is not None else []) == 0
    s.edit("clip", clip="norm")
    s.set_event("clip")
    panel.refresh()
    assert "threshold" in panel.key_label.text() and "\u2501" in panel.key_label.text()
    assert len(panel.threshold.xData) == 2
    assert "from the clip event" not in panel.key_label.text()
    s.set_event("backward:3")  # no purple bar yet: the key says when they come
    panel.refresh()
    assert "after&nbsp;clipping&nbsp;(from&nbsp;the&nbsp;clip&nbsp;event)" in panel.key_label.text()


def test_controls_never_touch_their_neighbours(presenting):
    """In every view's rows of controls on a 1280x720 projector, an input (button, box,
    slider) and what follows it are apart: a following label by a group gap, a following
    input by a small one ("Pause" touched "stop after", a combo the next label)."""
    from PyQt5.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox,
                                 QHBoxLayout, QLabel, QWidget)
    inputs = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox)
    win = presenting((1280, 720), None)
    touching, rows_seen = [], 0
    for key in list(win.panels):
        win.show_view(key)
        settle(4)
        panel = win.panels[key]
        layouts = [w.layout() for w in [panel] + panel.findChildren(QWidget)
                   if w.layout() is not None and not isinstance(w, inputs)]
        while layouts:
            layout = layouts.pop()
            layouts.extend(layout.itemAt(i).layout() for i in range(layout.count())
                           if layout.itemAt(i).layout() is not None)
            if not isinstance(layout, QHBoxLayout):
                continue
            row = [layout.itemAt(i).widget() for i in range(layout.count())]
            row = sorted((w for w in row if w is not None and w.isVisible()), key=lambda w: w.x())
            rows_seen += 1
            for a, b in zip(row, row[1:]):
                if not isinstance(a, inputs):
                    continue
                gap = b.x() - (a.x() + a.width())
                need = 8 if isinstance(b, QLabel) else 4
                if gap < need:
                    touching.append((key, getattr(a, "text", str)(), getattr(b, "text", str)(), gap))
    assert rows_seen >= 8
    assert not touching, touching


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
@pytest.mark.parametrize("view, at, item", [("loss", "backward:3", "empty_texts"),
                                            ("contrib", "forward:7", "empty_text"),
                                            ("contrib", "forward:7", "bar_empty_text"),
                                            ("clipping", "forward:7", "empty_text"),
                                            ("grad_norms", "forward:7", "empty_text"),
                                            ("dhnext_flow", "forward:7", "empty_texts")])
def test_empty_plot_messages_stay_inside_their_plot(presenting, size, view, at, item):
    """What fills an empty plot is said inside that plot, whole: wrapped to its width and
    centred ("No training yet" lost its first and last letters side by side at 1366x768)."""
    panel = presenting(size, view, at=at)
    messages = getattr(panel, item)
    messages = messages if isinstance(messages, list) else [messages]
    shown = [m for m in messages if m.getViewBox().isVisible() and m.getViewBox().width() > 0]
    assert shown, view   # the plot on screen has its message (a pager shows one of them)
    for message in shown:
        assert message.isVisible() and message.textItem.toPlainText()
        inside = message.getViewBox().sceneBoundingRect()
        text = message.mapRectToScene(message.boundingRect())
        assert inside.contains(text), (view, text, inside)
    if at.startswith("forward"):
        panel.session.set_event("backward:3")
        settle()
        assert not any(m.isVisible() for m in messages)   # gone once there is something to draw


def test_label_rows_prefers_the_marked_targets():
    from bpttviz.gui.panels.outputs import label_rows
    rows = label_rows(62, 4, targets=[1, 30, 31, 50], current_t=2)
    assert 31 in rows and 1 in rows and 50 in rows  # the current target first, then the others
    assert 30 not in rows  # ... unless too close to a kept one
    assert all(b - a >= 4 for a, b in zip(rows, rows[1:]))
    assert label_rows(10, 1, targets=[3]) == list(range(10))  # room for all: all


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
@pytest.mark.parametrize("at", ["backward:3", "forward:7"])
def test_outputs_character_axis_labels_the_current_target_without_overlap(presenting, size, at):
    """The row of the current step's target is labelled (a space as '␣', not left beside
    the '\\n' label to be misread), and no two labels of the character axis overlap."""
    panel = presenting(size, "outputs", at=at)
    s = panel.session
    t = s.state.current_t
    target = int(s.trace.targets[t])
    specs = draw_specs(panel.plot.getAxis("left"))[2]
    texts = [text for _, _, text in specs]
    assert s.vocab.label(target) in texts, (s.vocab.label(target), texts)
    rects = sorted((rect for rect, _, _ in specs), key=lambda r: r.top())
    inked = [QFontMetricsF(panel.plot.getAxis("left").style["tickFont"]).height() for _ in rects]
    for (a, b), h in zip(zip(rects, rects[1:]), inked):
        assert b.center().y() - a.center().y() >= 0.9 * h, (a, b)


def test_step_frame_goes_around_the_column_and_keeps_its_cells_visible(qapp):
    """The current step's frame is drawn outside the column (its cells keep their colour
    under at most a faint band), with a dark edge so it shows on yellow cells too."""
    from PyQt5.QtCore import QRectF
    from PyQt5.QtGui import QColor
    from bpttviz.gui import style
    t = style.theme().presenting()
    frame = style.StepFrame(t)
    frame.setRect(QRectF(3.5, 0.0, 1.0, 4.0))  # column 4 of a heatmap, 10 px a cell
    img = QImage(100, 60, QImage.Format_ARGB32)
    img.fill(QColor("#2166ac"))  # a blue cell everywhere
    qp = QPainter(img)
    qp.scale(10, 10)
    qp.translate(0, 1)
    frame.paint(qp, None)
    qp.end()
    inside = QColor(img.pixel(40, 30))  # the column's middle
    blue = QColor("#2166ac")
    assert abs(inside.red() - blue.red()) < 60 and inside.blue() > 130  # still blue
    hi, fg = QColor(t.highlight), QColor(t.foreground)
    left = [QColor(img.pixel(x, 30)) for x in range(28, 35)]  # just left of the column
    assert any(abs(c.red() - hi.red()) < 40 and abs(c.green() - hi.green()) < 40 for c in left)
    assert any(abs(c.red() - fg.red()) < 40 and abs(c.blue() - fg.blue()) < 40 for c in left)
    assert QColor(img.pixel(36, 30)).blue() > 130  # the column's own first pixels: a cell
    # Its top and bottom are inside the column (which fills the plot's height, and a view
    # box clips what is outside it: the screen showed two bare lines, no frame)
    def framed(c):
        return (abs(c.red() - hi.red()) < 40 and abs(c.green() - hi.green()) < 40) or \
            (abs(c.red() - fg.red()) < 40 and abs(c.blue() - fg.blue()) < 40)
    assert any(framed(QColor(img.pixel(40, y))) for y in range(10, 15))   # top edge, inside
    assert any(framed(QColor(img.pixel(40, y))) for y in range(45, 50))   # bottom edge
    assert not any(framed(QColor(img.pixel(40, y))) for y in range(0, 10))  # nothing above


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_presentation_tabs_are_all_in_sight_and_say_their_whole_title_on_hover(qtbot, size):
    """Presenting, the view tabs use short titles and a font that fits them all in the bar
    (thirteen whole titles ran off a 1366 px projector: "Outputs and los"); each tab's
    tooltip is the whole title, and leaving presentation mode brings the whole titles back."""
    from PyQt5.QtWidgets import QTabBar
    from bpttviz.gui.panels import PANELS
    win = show_window(qtbot, size=size, presenting=True)
    settle(10)
    shorts = {cls.tab_title: cls.title for cls in PANELS}
    bars = [b for b in win.findChildren(QTabBar) if b.parent() is win and b.isVisible()]
    assert bars
    for bar in bars:
        texts = [bar.tabText(i) for i in range(bar.count())]
        assert all(t in shorts for t in texts), texts
        assert all(bar.tabToolTip(i) == shorts[t] for i, t in enumerate(texts))
        right = max(bar.tabRect(i).right() for i in range(bar.count()))
        assert right <= bar.width(), (right, bar.width(), bar.font().pointSizeF())
        assert bar.font().pointSizeF() >= 12
    assert win.exports._title("grad_norms") == "Gradient norms and clipping"
    win.set_presentation(False)
    settle(6)
    # The normal window: each dock's title bar says the whole title; the tabs say the whole
    # or, where those do not fit, the short titles, every tab in sight (the unrolled network's
    # scrolled out of sight at 1366x768), each naming its whole title on hover.
    from bpttviz.gui.dock_title import DockTitleBar
    for key, dock in win.docks.items():
        bar = dock.titleBarWidget()
        assert isinstance(bar, DockTitleBar) and bar.label.text() == win.dock_layout.title(key)
    bars = [b for b in win.findChildren(QTabBar) if b.parent() is win and b.isVisible()]
    assert bars
    for bar in bars:
        right = max(bar.tabRect(i).right() for i in range(bar.count()))
        assert right <= bar.width(), (right, bar.width(), bar.font().pointSizeF())
        assert bar.font().pointSizeF() >= 8
        for i in range(bar.count()):
            assert bar.tabToolTip(i) in {full for full, _ in win.dock_layout.titles.values()}


@pytest.mark.parametrize("size, present", [((1600, 900), False), ((1366, 768), True)],
                         ids=["1600x900", "1366x768-presenting"])
def test_no_label_is_cut_short(qtbot, presenting, size, present):
    """Every one-line label of every view shows its whole text (a shrinkable label cuts its
    text without an ellipsis: "... (largest |entry| this window" at 1600x900)."""
    import re
    from PyQt5.QtGui import QFontMetrics
    from PyQt5.QtWidgets import QLabel
    if present:
        win = presenting(size, None)
    else:
        win = show_window(qtbot, size=size)
        settle()
        win.session.set_event("backward:3")
    cut = []
    for key in list(win.panels):
        win.show_view(key)
        settle(4)
        for label in win.panels[key].findChildren(QLabel):
            if not label.isVisible() or label.wordWrap() or not label.text():
                continue
            text = re.sub(r"<[^>]+>", "", label.text()).replace("&nbsp;", " ")
            need = QFontMetrics(label.font()).horizontalAdvance(text)
            if need > label.contentsRect().width() + 2:
                cut.append((key, text[:50], need, label.contentsRect().width()))
    assert not cut, cut


def test_code_numbers_name_which_dhnext_is_which(qtbot):
    """The numbers print two vectors both called dhnext in the code: the one that arrives
    from step t+1 and the one sent to step t-1; each says which it is, by step number."""
    from bpttviz.gui.panels.code import CodePanel
    s = Session("min-char-rnn")
    s.set_event("backward:3")
    panel = CodePanel(s)
    qtbot.addWidget(panel)
    lines = panel.value_lines()
    assert any("+ dhnext" in ln and "sent by step 4" in ln for ln in lines), lines
    assert any(ln.startswith("dhnext") and "sent to step 2" in ln for ln in lines), lines
    s.set_event("backward:0")
    assert any(ln.startswith("dhnext") and "not used" in ln for ln in panel.value_lines())


def test_outputs_say_why_an_untrained_map_is_flat(qtbot):
    """At iteration 0 every p is about 1/V (one flat colour on a 0..1 scale): the note says
    the model is untrained; once trained it no longer says so."""
    from bpttviz.gui.panels.outputs import OutputsPanel
    s = Session("min-char-rnn")
    s.set_event("forward:5")
    panel = OutputsPanel(s)
    qtbot.addWidget(panel)
    panel.refresh()
    assert "untrained" in panel.loss_sum.text()
    # ... and names a way to train that works from any view (a presenting screen shows no
    # "▶ Run" button beside it)
    assert "Ctrl+T" in panel.loss_sum.text()
    s.train(300)
    s.set_event("forward:5")
    panel.refresh()
    assert float(s.trace.p[:6].max()) > 2 / s.trace.vocab_size
    assert "untrained" not in panel.loss_sum.text()


def test_clipping_compared_draws_c_only_over_the_bars_it_caps(qtbot):
    """One dashed line across every bar said value clipping's norms were capped at c too
    (min-char-rnn: value-clipped Wxh ~ 10 > c = 5).  The dashes sit over the global bar of
    norm clipping and over each parameter's bar of param-norm clipping, nowhere else, and
    those bars really are at or under c."""
    from bpttviz.gui.panels.clipcompare import MODES, ClipComparePanel
    s = Session("min-char-rnn")
    s.set_event("clip")
    panel = ClipComparePanel(s)
    qtbot.addWidget(panel)
    panel.refresh()
    names = list(s.trace.grads_raw)
    xs = panel.threshold.xData
    centres = (xs[0::2] + xs[1::2]) / 2
    norm_j, each_j = MODES.index("norm"), MODES.index("param-norm")
    expect = sorted([len(names) + (norm_j - 1.5) * 0.2]
                    + [i + (each_j - 1.5) * 0.2 for i in range(len(names))])
    np.testing.assert_allclose(sorted(centres), expect)
    np.testing.assert_array_equal(panel.threshold.yData, s.config.clip_value)
    # every bar a dash sits on is capped (numbers from the comparison itself)
    table = panel.norm_table(panel.comparison, names)
    c = s.config.clip_value
    assert table[norm_j, -1] <= c * (1 + 1e-12)
    assert np.all(table[each_j, :-1] <= c * (1 + 1e-12))
    # and value clipping, which has no dash, is not capped: a norm over c
    assert np.any(table[MODES.index("value")] > c)
    assert "cap&nbsp;c" in panel.key_label.text()


def test_outputs_names_the_current_target_beside_its_ring(presenting):
    """60 characters in a projector's plot: the axis labels one row in several, so the ring
    of the current step's target is named beside it, inside the plot, at either end."""
    panel = presenting((1366, 768), "outputs")
    s = panel.session
    tr = s.trace
    vb = panel.plot.vb
    for t in (0, 7, tr.T - 1):
        s.set_event(f"forward:{t}")
        settle(3)
        tag = panel.target_tag
        tgt = int(tr.targets[t])
        assert tag.isVisible()
        assert tag.textItem.toPlainText() == \
            f"target '{s.vocab.label(tgt)}'  p = {tr.p[t, tgt]:.3f}"
        assert abs(tag.pos().x() - t) < 1
        inside = vb.mapSceneToView(tag.mapToScene(tag.boundingRect())).boundingRect()
        lo, hi = vb.viewRange()[0]
        assert lo <= inside.left() and inside.right() <= hi, (t, inside, lo, hi)
        # beside its row (the row within the tag's height), and inside the plot's height
        assert inside.top() <= tgt <= inside.bottom(), (t, tgt, inside)
        ylo, yhi = vb.viewRange()[1]
        assert ylo - 0.01 <= inside.top() and inside.bottom() <= yhi + 0.01, (t, inside, ylo, yhi)
        if t == 7:  # forward: beside the ring over the columns not computed yet
            assert inside.left() > t
    s.set_event("clip")
    settle(2)
    assert not panel.target_tag.isVisible()   # no current step: nothing to name


@pytest.mark.parametrize("at", ["backward:10", "forward:10"])
def test_code_numbers_wrap_under_their_name_and_keep_counts_whole(presenting, at):
    """Beside the code on a 1280x720 projector the numbers wrap: a wrapped vector's next
    line is indented under its name (it read as a new entry), and "(100 values)" or
    "||dhnext|| = 0.01" is never split across two lines."""
    import re
    edit = presenting((1280, 720), "code", at=at).values
    settle(4)
    doc = edit.document()
    wrapped = 0
    block = doc.begin()
    while block.isValid():
        layout, text = block.layout(), block.text()
        lines = [layout.lineAt(i) for i in range(layout.lineCount())]
        for a, b in zip(lines, lines[1:]):
            wrapped += 1
            assert b.x() > lines[0].x() + 5, text   # continuation indented
            head, tail = text[:b.textStart()], text[b.textStart():]
            assert not re.search(r"\(\d+\s*$", head), text            # "(100" | "values)"
            assert not re.match(r"\s*\u00a0?=", tail), text            # "||dhnext||" | "= 0.01"
            assert not re.search(r"(so|most)\s*$", head), text         # "loss so" | "far", "(most" | "likely"
        block = block.next()
    assert wrapped > 0   # the case is real: the narrow pane does wrap
    if at.startswith("backward"):
        assert "||dhnext|| = " in edit.toPlainText()   # (toPlainText: no-break spaces as spaces)
    else:
        assert "loss so far = " in edit.toPlainText()


@pytest.mark.parametrize("key, label", [("truncation", "summary"), ("decay", "info"),
                                        ("gradcheck", "status")])
def test_whole_window_views_say_they_do_not_follow_the_cursor(qtbot, key, label):
    """In the forward pass these views already show the whole window's backward results; a
    class stepping through the forward pass took them for the current step's."""
    from bpttviz.gui.panels import PANELS
    from bpttviz.gui.panels.base import WHOLE_WINDOW
    s = Session("vanishing")
    s.set_event("forward:3")
    (cls,) = [c for c in PANELS if c.key == key]
    panel = cls(s)
    qtbot.addWidget(panel)
    panel.show()
    panel.refresh()
    qtbot.waitUntil(lambda: WHOLE_WINDOW in getattr(panel, label).text(), timeout=10000)


def test_decay_dots_are_drawn_over_the_mean_line(qtbot):
    """The vanishing preset's dots all lie near their mean: under its thick line they were
    invisible."""
    from bpttviz.gui.panels.decay import DecayPanel
    panel = DecayPanel(Session("vanishing"))
    qtbot.addWidget(panel)
    assert panel.scatter.zValue() > panel.mean_curve.zValue()
    assert panel.current.zValue() > panel.scatter.zValue()


def test_log_axes_label_their_decades_in_one_style(qtbot):
    """pyqtgraph wrote 10 as "10¹" above "1" and "0.1" on the same axis (the gates' flow
    plot), and switched from "0.0001" to "10⁻⁶" further down (decay)."""
    from bpttviz.gui.style import log_tick_strings
    labels = log_tick_strings([1, 0, -1, -3, -4, -6, 4], 1.0, 1.0)
    assert labels == ["10", "1", "0.1", "0.001", "10\u207b\u2074", "10\u207b\u2076", "10\u2074"]
    assert log_tick_strings([np.log10(2e-5), np.log10(0.02)], 1.0, 1.0) == ["2\u00b710\u207b\u2075", "0.02"]
    # ... and a styled plot's axes use it in log mode (the gates' flow plot among them)
    from bpttviz.gui.panels.gates import GatesPanel
    s = Session("lstm-gates")
    s.set_event("backward:10")
    panel = GatesPanel(s)
    qtbot.addWidget(panel)
    panel.refresh()
    axis = panel.flow_plot.getAxis("left")
    axis.setLogMode(False, True)
    assert axis.tickStrings([1.0, 0.0, -1.0], 1.0, 1.0) == ["10", "1", "0.1"]


def test_linear_axes_write_ticks_without_trailing_zeros(qtbot):
    """The gradient check's x axis read "-0.0010" beside its y axis' "-0.001"."""
    from bpttviz.gui.style import linear_tick_strings
    assert linear_tick_strings([-0.001, -0.0005, 0.0, 0.0005, 0.001], 1.0, 0.0005) == \
        ["-0.001", "-0.0005", "0", "0.0005", "0.001"]
    assert linear_tick_strings([0.0, 0.5, 1.0, 1.5, 20.0], 1.0, 0.5) == ["0", "0.5", "1", "1.5", "20"]
    assert linear_tick_strings([-1e-18], 1.0, 0.1) == ["-1e-18"]
    from bpttviz.gui.panels.gradcheck import GradCheckPanel
    s = Session("min-char-rnn")
    panel = GradCheckPanel(s)
    qtbot.addWidget(panel)
    for name in ("bottom", "left"):
        axis = panel.scatter_plot.getAxis(name)
        assert axis.tickStrings([-0.001, 0.0, 0.001], 1.0, 0.0005) == ["-0.001", "0", "0.001"]
        axis.setLogMode(name == "bottom", name == "left")   # (log mode keeps its own style)
        assert axis.tickStrings([1.0, 0.0], 1.0, 1.0) == ["10", "1"]


def test_outputs_target_name_moves_when_the_plot_widens(qtbot):
    """Drawn while the plot was still narrow (a screenshot's first layout), the name went
    to the left; once the plot has its width it goes back beside the ring, to the right."""
    from bpttviz.gui.panels.outputs import OutputsPanel
    s = Session("min-char-rnn")
    s.set_event("forward:7")
    panel = show_panel(qtbot, OutputsPanel, s, (260, 300))
    settle()
    panel.resize(1300, 600)
    qtbot.waitUntil(lambda: panel.target_tag.pos().x() > 7, timeout=3000)


def test_every_preset_name_fits_its_box_in_a_1280x720_window(qtbot):
    """The preset box sat beside a "Preset" label and cut the names ("min-char-rnn on
    Shakesp", "LSTM gates on the sonn")."""
    from PyQt5.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox
    win = show_window(qtbot, size=(1280, 720))
    settle()
    combo = win.findChild(QComboBox, "preset")
    cut = []
    for i in range(combo.count()):
        opt = QStyleOptionComboBox()
        combo.initStyleOption(opt)
        field = combo.style().subControlRect(QStyle.CC_ComboBox, opt, QStyle.SC_ComboBoxEditField, combo)
        need = combo.fontMetrics().horizontalAdvance(combo.itemText(i))
        if need > field.width():
            cut.append((combo.itemText(i), need, field.width()))
    assert not cut, cut
    # the list says each preset's whole title beside its name, and is wide enough for it
    from PyQt5.QtWidgets import QStyleOptionViewItem
    from bpttviz.gui.controls import preset_infos
    view = combo.view()
    for i, (name, title, _) in enumerate(preset_infos()):
        option = QStyleOptionViewItem()
        combo.itemDelegate().initStyleOption(option, combo.model().index(i, 0))
        assert combo.itemText(i) == name
        assert option.text == (f"{title}  ({name})" if title != name else name)
        assert view.minimumWidth() >= combo.fontMetrics().horizontalAdvance(option.text)


def test_truncation_key_never_breaks_inside_its_formula(qtbot):
    """Wrapped at 1280x720 presenting, "||g_full||" stood alone on the key's last line (Qt
    breaks after '|', no-break spaces or not).  (The key's text at every width: no window.)"""
    from PyQt5.QtGui import QTextDocument
    from bpttviz.gui.panels.truncation import TruncationPanel
    panel = TruncationPanel(Session("long-range"))
    qtbot.addWidget(panel)
    label = panel.key_label
    formula = "Δ = ||gfull − gtrunc|| / ||gfull||"
    for width in range(420, 1400, 60):
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setHtml(label.text())
        doc.setTextWidth(width)
        doc.size()   # (lays the text out)
        block = doc.firstBlock()
        layout = block.layout()
        lines = [block.text()[layout.lineAt(i).textStart():][:layout.lineAt(i).textLength()]
                 .replace("\u2060", "").replace("\u00a0", " ").strip()
                 for i in range(layout.lineCount())]
        assert any(formula in line for line in lines), (width, lines)


def _line_breaks(label, width):
    """The wrapped lines of a label's text at ``width`` px, as Qt lays them out."""
    from PyQt5.QtCore import Qt
    from PyQt5.QtGui import QTextDocument
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    if label.textFormat() == Qt.PlainText:
        doc.setPlainText(label.text())
    else:
        doc.setHtml(label.text())
    doc.setTextWidth(width)
    doc.size()
    lines = []
    block = doc.firstBlock()
    while block.isValid():
        layout = block.layout()
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            lines.append(block.text()[line.textStart():line.textStart() + line.textLength()])
        block = block.next()
    return lines


@pytest.mark.parametrize("view", ["unrolled", "decay", "contrib", "dhnext_flow"])
def test_norm_bars_never_end_a_wrapped_line_before_their_name(qtbot, view):
    """Qt breaks a line after '|': a legend could end "... ||" and go on "dhnext||, ..."."""
    from PyQt5.QtWidgets import QLabel
    from bpttviz.gui.panels import panel_by_key
    s = Session("vanishing")
    s.set_event("backward:10")
    panel = show_panel(qtbot, panel_by_key(view), s, (900, 600))
    labels = [lab for lab in panel.findChildren(QLabel) if "|" in lab.text()]
    assert labels, view
    for lab in labels:
        # (from 300 px: narrower, a key entry longer than the line is cut anywhere)
        for width in range(300, 900, 17):
            lines = [ln.replace("\u2060", "") for ln in _line_breaks(lab, width)]
            for a, b in zip(lines, lines[1:]):   # (a line broken at a space ends in it)
                assert not (a.endswith("|") and b[:1].isalnum()), (view, width, a, b)


def test_gradient_norm_bars_print_three_significant_digits_each():
    """0.3995 was printed "0.4" beside "0.485" and "0.042" (as if it were rounder)."""
    from bpttviz.gui.panels.gradnorms import fmt_norm
    assert [fmt_norm(v) for v in (0.3995, 0.485, 0.042, 5.0, 123.4, 100.0, 0.0)] == \
        ["0.400", "0.485", "0.0420", "5.00", "123", "100", "0"]
    assert fmt_norm(float("inf")) == "inf" and fmt_norm(float("nan")) == "n/a"


def test_clipping_norms_alone_on_a_page_leave_no_gap_left_of_their_axis(qtbot):
    """The norms' left axis is as wide as the cosines' ("param-norm") only where the two are
    stacked and must line up; alone on a page it kept that room as a gap between its title
    and its numbers."""
    from bpttviz.gui.panels.clipcompare import ClipComparePanel
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    p = ClipComparePanel(s)
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitExposed(p)
    p.refresh()
    flow = p.plot_flow
    qtbot.waitUntil(lambda: flow.arrangement == "rows", timeout=2000)
    norm_axis, cos_axis = p.norm_plot.getAxis("left"), p.cos_plot.getAxis("left")
    assert norm_axis.width() == cos_axis.width()          # stacked: lined up
    p.resize(900, 380)
    qtbot.waitUntil(lambda: flow.arrangement == "pages", timeout=2000)
    qtbot.waitUntil(lambda: norm_axis.width() < cos_axis.width(), timeout=2000)


def test_norm_bars_headroom_follows_the_plots_height(qtbot):
    """The room above the largest norm (for its printed value) was fixed at the first draw,
    when the view was still small: a 1280x720 window's plot ran to 19 over bars of 7.6."""
    from bpttviz.gui.panels import panel_by_key
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    p = show_panel(qtbot, panel_by_key("grad_norms"), s, (900, 260))
    for height in (700, 420):
        p.resize(900, height)
        qtbot.wait(30)
        settle()
        top = p.plot.viewRange()[1][1]
        vb_h = p.plot.getViewBox().height()
        empty = 1 - p._ymax / top  # the share of the plot above the largest norm
        assert empty <= max(0.23, p._value_text_px() / vb_h) + 0.01, (height, top, p._ymax)
        assert empty >= 0.2  # ... still room for the value


@pytest.mark.parametrize("at", ["forward:12", "forward:0"])
def test_outputs_target_tag_stays_inside_the_heatmap(qtbot, at):
    """At the top row ('\\n', the dinosaurs' last target) half the tag stood above the plot,
    cut; at the bottom row ('y', its first target) half below."""
    from bpttviz.gui.panels import panel_by_key
    s = Session("dinosaurs")
    s.set_event(at)
    p = show_panel(qtbot, panel_by_key("outputs"), s, (1000, 420))
    settle()
    p.refresh()
    tag = p.target_tag
    assert tag.isVisible()
    inside = p.plot.vb.sceneBoundingRect()
    box = tag.mapRectToScene(tag.boundingRect())
    assert inside.top() - 0.5 <= box.top() and box.bottom() <= inside.bottom() + 0.5, (box, inside)


@pytest.mark.parametrize("key", ["outputs", "hidden_states", "contrib"])
def test_colour_strips_are_as_tall_as_their_heatmaps(qtbot, key):
    """The colour bar spanned its row, the heatmap's x axis and title included: its 0 sat
    beside the tick labels, not beside the bottom row."""
    from bpttviz.gui.panels import panel_by_key
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    p = show_panel(qtbot, panel_by_key(key), s, (1200, 700))
    settle()
    plot = p.heat_plot if key == "contrib" else p.plot
    heat = plot.vb.sceneBoundingRect()
    strip = p.heatmap.bar.vb.sceneBoundingRect()
    assert abs(strip.top() - heat.top()) <= 2 and abs(strip.bottom() - heat.bottom()) <= 2, (strip, heat)


def test_bottom_axis_labels_never_run_together(qtbot):
    """18 pt labels 2,000 iterations apart ran together under a 350 px training curve
    ("2000400060008000"): the major ticks widen until their labels fit side by side."""
    import pyqtgraph as pg
    from bpttviz.gui import style
    style.set_theme(style.LIGHT.presenting())
    try:
        w = pg.GraphicsLayoutWidget()
        qtbot.addWidget(w)
        plot = style.style_plot(w.addPlot(), "iteration", "loss")
        w.resize(420, 300)
        w.show()
        settle()
        axis = plot.getAxis("bottom")
        for hi in (8000.0, 10000.0, 24.5, 1.5e6):
            plot.setXRange(0, hi, padding=0)
            settle()
            major = axis.tickSpacing(0, hi, axis.width())[0][0]
            fm = QFontMetricsF(axis.style["tickFont"])
            widest = max(fm.horizontalAdvance(s) for s in axis.tickStrings([0, hi, major], 1.0, major))
            gap = axis.width() * major / hi - widest  # between two neighbouring labels (px)
            assert gap > 4, (hi, major, gap)
        plot.setXRange(-0.5, 24.5, padding=0)  # a window's steps keep their 5-step ticks
        assert axis.tickSpacing(-0.5, 24.5, axis.width())[0][0] <= 10
    finally:
        style.set_theme(style.LIGHT)

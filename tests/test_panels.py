"""The six panels: each builds from a Session, draws exactly what is computed at the cursor,
exports the numbers it draws, and redraws for every cell and at T=100/H=256.
Exceptions inside Qt slots fail the test (pytest-qt's default capture)."""
from __future__ import annotations

import math
import string

import numpy as np
import pyqtgraph as pg
import pytest

from bpttviz.engine.model import PARAM_NAMES
from bpttviz.gui import style
from bpttviz.gui.panels import (CORE_PANELS, PANELS, TEACHING_PANELS, CodePanel, DhnextPanel, GradNormsPanel, HiddenStatesPanel,
                                OutputsPanel, UnrolledPanel, panel_by_key)
from bpttviz.session import Session, SessionError

_TEXT = ("From fairest creatures we desire increase, that thereby beauty's rose might never die,\n"
         + string.ascii_letters + string.digits + " .,;:!?'-\n") * 20


def make_session(preset: str = "min-char-rnn") -> Session:
    """The preset, or (before the corpora are installed) the same model on a built-in text."""
    try:
        return Session(preset)
    except SessionError:
        s = Session("long-range")
        s.edit(task="text", text=_TEXT, hidden_size=100, seq_length=25, whh_radius=None,
               init_scale=0.01, clip="value", clip_value=5.0)
        return s


@pytest.fixture
def session():
    return make_session()


def show(qtbot, cls, session, w=900, h=500):
    panel = cls(session)
    qtbot.addWidget(panel)
    panel.resize(w, h)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def cursor_at(s, phase, t=None):
    s.set_event(phase if t is None else f"{phase}:{t}")


# --- registry and style ------------------------------------------------------------------------
def test_registry_and_style():
    assert [c.key for c in CORE_PANELS] == ["unrolled", "hidden_states", "outputs", "dhnext_flow",
                                            "grad_norms", "code"]
    assert PANELS == CORE_PANELS + TEACHING_PANELS
    keys = [c.key for c in PANELS]
    assert len(set(keys)) == len(keys)
    assert panel_by_key("code") is CodePanel
    with pytest.raises(KeyError):
        panel_by_key("nope")
    for cls in PANELS:
        assert cls.title and cls.help_html
    style.configure_pyqtgraph()
    style.configure_pyqtgraph()  # idempotent
    import pyqtgraph as pg
    assert pg.getConfigOption("imageAxisOrder") == "row-major"
    t = style.theme()
    assert t.tick_pt >= 11 and t.label_pt >= 12 and t.background == "#ffffff"
    assert style.DARK.background != t.background and t.with_scale(2).pt(10) == 20
    div = style.diverging_cmap().map([0.0, 0.5, 1.0], mode="byte").astype(int)
    assert div[0][2] > div[0][0] and div[2][0] > div[2][2]  # blue low, red high
    assert min(div[1][:3]) > 240  # white middle
    seq = style.sequential_cmap().map([0.0, 1.0], mode="byte").astype(int)
    assert sum(seq[1][:3]) > sum(seq[0][:3])  # dark to light
    assert style.format_values("h[3]", np.arange(100) / 100) == \
        "h[3] = [ 0.000  0.010  0.020  0.030  0.040  0.050 … (100 values)]"


# --- hidden states ---------------------------------------------------------------------------------
def test_hidden_states_reveal_left_to_right(qtbot, session):
    p = show(qtbot, HiddenStatesPanel, session)
    tr = session.trace
    for t in (0, 7, tr.T - 1):
        cursor_at(session, "forward", t)
        data = p.heatmap.image.image
        assert data.shape == (tr.hidden_size, tr.T)
        assert np.array_equal(data[:, :t + 1], tr.h[:t + 1].T)
        assert np.isnan(data[:, t + 1:]).all()
        m = float(np.max(np.abs(tr.h)))  # range "auto": tiny values at init are fitted, and
        assert p.heatmap.levels == pytest.approx((-m, m))  # do not change while revealing
        assert p.heatmap.cursor.isVisible() and p.heatmap.cursor.rect().center().x() == t
    names, table = p.csv_tables()["h"]
    assert names[0] == "t" and np.array_equal(table[:, 1:], tr.h)
    cursor_at(session, "backward", 3)
    assert np.isfinite(p.heatmap.image.image).all()
    text = p.describe_cell(5, 3)
    assert f"{tr.h[3, 5]:.4f}" in text and "tanh" in text and f"{tr.preact[3, 5]:.4f}" in text


def test_hidden_states_range_can_fit_the_window(qtbot, session):
    """At initialisation |h| is ~0.01: white on [-1, 1]. Fitted, the colours span the
    window's own values, and the note says which range is shown."""
    p = show(qtbot, HiddenStatesPanel, session)
    cursor_at(session, "forward", 3)
    tr = session.trace
    p.set_fit_range(False)  # the default "auto" fits these tiny values (tests/test_preset_points.py)
    assert p.heatmap.levels == (-1.0, 1.0) and "[-1, 1]" in p.note.text()
    p.set_fit_range(True)
    m = float(np.max(np.abs(tr.h)))  # the whole window, not only the revealed steps
    assert m < 0.5 and p.heatmap.levels == pytest.approx((-m, m))
    assert "fitted" in p.note.text() and f"{m:.3g}" in p.note.text()
    session.edit(cell="lstm")
    p.set_quantity("f")
    f = session.trace.gates["f"]
    assert p.heatmap.levels == pytest.approx((f.min(), f.max()))
    p.set_fit_range(False)
    assert p.heatmap.levels == (0.0, 1.0) and "fitted" not in p.note.text()


def test_hidden_states_gates_for_lstm_and_gru(qtbot, session):
    p = show(qtbot, HiddenStatesPanel, session)
    assert p.combo.count() == 1
    session.edit(cell="lstm")
    cursor_at(session, "forward", 4)
    assert [p.combo.itemData(i) for i in range(p.combo.count())] == ["h", "c", "i", "f", "o", "g"]
    tr = session.trace
    p.set_quantity("f")
    assert np.array_equal(p.heatmap.image.image[:, :5], tr.gates["f"][:5].T)
    assert p.heatmap.levels == (0.0, 1.0)
    assert "σ" in p.describe_cell(2, 1)
    p.set_quantity("c")
    m = np.max(np.abs(tr.c))
    assert p.heatmap.levels == pytest.approx((-m, m))
    assert "f·c_prev + i·g" in p.describe_cell(2, 1)
    session.edit(cell="gru")
    assert [p.combo.itemData(i) for i in range(p.combo.count())] == ["h", "z", "r", "n"]
    p.set_quantity("z")
    assert np.array_equal(p.heatmap.image.image[:, :5], session.trace.gates["z"][:5].T)
    p.set_quantity("h")
    assert "(1-z)·n + z·h_prev" in p.describe_cell(0, 0)


# --- outputs ------------------------------------------------------------------------------------------
def test_outputs_probabilities_targets_and_loss(qtbot, session):
    p = show(qtbot, OutputsPanel, session)
    tr = session.trace
    cursor_at(session, "forward", 9)
    data = p.heatmap.image.image
    assert data.shape == (tr.vocab_size, tr.T)
    assert np.array_equal(data[:, :10], tr.p[:10].T) and np.isnan(data[:, 10:]).all()
    assert p.heatmap.levels == (0.0, 1.0)
    x, y = p.targets_outer.getData()
    assert np.array_equal(x, np.arange(10)) and np.array_equal(y, tr.targets[:10])
    assert np.allclose(p.bars.opts["height"], tr.losses[:10])
    left = p.plot.getAxis("left")._tickLevels[0]
    bottom = p.plot.getAxis("bottom")._tickLevels[0]
    assert all(text == session.vocab.label(row) for row, text in left)
    cur = session.state.current_t
    assert int(tr.targets[cur]) in [row for row, _ in left]  # the current target's row
    assert bottom[0] == (0, session.vocab.label(int(tr.inputs[0])))
    if tr.vocab_size > 40:
        assert len(left) < tr.vocab_size  # thinned to stay readable
    tables = p.csv_tables()
    assert np.array_equal(tables["probabilities"][1][:, 3:], tr.p[:10])
    assert np.array_equal(tables["loss"][1][:, 1], tr.losses[:10])
    tg = int(tr.targets[2])
    text = p.describe_cell(tg, 2)
    assert "target" in text and f"{tr.p[2, tg]:.4f}" in text and "exp" in text
    assert "not computed" in p.describe_cell(0, 20)


# --- dhnext -------------------------------------------------------------------------------------------
def test_dh_plot_key_is_outside_the_plot(qtbot, session):
    """A legend inside the small ||dh|| plot covered the tops of its curves; the key is a
    line above the plots, each mark in the colour it is drawn with."""
    p = show(qtbot, DhnextPanel, session)
    t = style.theme()
    assert p.split_plot.legend is None
    text = p.key_label.text().replace("\u2060", "")   # (word joiners keep "||dh||" whole)
    for curve, colour in ((p.total_curve, t.foreground), (p.out_curve, t.raw), (p.fut_curve, t.clipped)):
        assert curve.name().replace(" ", "&nbsp;") in text
        assert pg.mkColor(colour).name() in text
    assert p.key_label.geometry().bottom() <= p.view.geometry().top()


def test_dhnext_fills_right_to_left(qtbot, session):
    p = show(qtbot, DhnextPanel, session)
    tr = session.trace
    T = tr.T
    cursor_at(session, "forward", 5)
    x, _ = p.norm_curve.getData()
    assert x is None or len(x) == 0
    norms = np.linalg.norm(tr.dhnext, axis=1)
    for b in (T - 1, 10, 0):
        cursor_at(session, "backward", b)
        x, y = p.norm_curve.getData()
        assert len(x) == T - b == session.state.T - session.state.backward_from
        assert np.array_equal(x, np.arange(b, T)) and np.allclose(y, norms[b:])
        data = p.heatmap.image.image
        assert np.array_equal(data[:, b:], tr.dhnext[b:].T) and np.isnan(data[:, :b]).all()
        _, yo = p.out_curve.getData()
        _, yf = p.fut_curve.getData()
        assert np.allclose(yo, np.linalg.norm(tr.dh_from_output[b:], axis=1))
        assert np.allclose(yf, np.linalg.norm(tr.dh_from_future[b:], axis=1))
    levels = p.heatmap.levels
    cursor_at(session, "backward", 12)
    assert p.heatmap.levels == levels == pytest.approx((-np.abs(tr.dhnext).max(), np.abs(tr.dhnext).max()))
    p.log_box.setChecked(True)
    x, y = p.norm_curve.getData()
    assert len(x) == T - 12
    p.log_box.setChecked(False)
    tables = p.csv_tables()
    assert np.allclose(tables["norms"][1][:, 1], norms[12:])
    assert np.array_equal(tables["dhnext"][1][:, 1:], tr.dhnext[12:])
    assert "Whh" in p.describe_cell(3, 15) and "not computed" in p.describe_cell(3, 2)


# --- gradient norms ------------------------------------------------------------------------------
def test_grad_norms_before_and_after_clip(qtbot, session):
    p = show(qtbot, GradNormsPanel, session)
    tr = session.trace
    cursor_at(session, "forward", 3)
    assert np.isnan(p.raw_heights).all() and np.isnan(p.clip_heights).all()
    cursor_at(session, "backward", 10)
    acc = [np.linalg.norm(tr.accumulated_grad(k, 10)) for k in PARAM_NAMES]
    assert np.allclose(p.raw_heights[:5], acc)
    assert p.raw_heights[5] == pytest.approx(math.sqrt(sum(a * a for a in acc)))
    assert np.isnan(p.clip_heights).all()
    cursor_at(session, "clip")
    assert np.allclose(p.raw_heights, [tr.grad_norms_raw[k] for k in PARAM_NAMES]
                       + [tr.grad_norm_before_clip])
    assert np.allclose(p.clip_heights, [tr.grad_norms[k] for k in PARAM_NAMES]
                       + [tr.grad_norm_after_clip])
    assert np.allclose(p.raw_bars.opts["height"], p.raw_heights)
    assert "cos(raw, clipped)" in p.info.text()
    names, rows = p.csv_tables()["norms"]
    assert np.allclose(rows[:, 1], p.raw_heights) and np.allclose(rows[:, 2], p.clip_heights)


def test_grad_norms_combo_changes_session_live(qtbot, session):
    p = show(qtbot, GradNormsPanel, session)
    p.scale_combo.setCurrentIndex(p.scale_combo.findData("linear"))  # threshold in data units
    session.edit(clip_value=0.5)
    cursor_at(session, "clip")
    assert p.combo.currentData() == "value"
    p.combo.setCurrentIndex(p.combo.findData("norm"))
    assert session.config.clip == "norm"
    assert session.state.event.phase == "clip"  # still on the clip event
    tr = session.trace
    assert p.clip_heights[5] == pytest.approx(tr.grad_norm_after_clip)
    assert p.clip_heights[5] == pytest.approx(min(0.5, tr.grad_norm_before_clip))
    x, y = p.threshold.getData()
    assert len(x) == 2 and np.allclose(y, 0.5)
    p.combo.setCurrentIndex(p.combo.findData("none"))
    assert session.config.clip is None
    assert np.allclose(p.clip_heights, p.raw_heights)
    p.combo.setCurrentIndex(p.combo.findData("param-norm"))
    assert session.config.clip == "param-norm"
    assert np.all(p.clip_heights[:5] <= 0.5 + 1e-9)
    session.undo_stack.undo()
    assert session.config.clip is None and p.combo.currentData() == "none"


# --- code -----------------------------------------------------------------------------------------------
def test_code_panel_highlights_the_running_line(qtbot, session):
    p = show(qtbot, CodePanel, session)
    cursor_at(session, "forward", 4)
    assert "hs[t] = np.tanh" in p.lines[p.main_line][0]
    assert p.words.text() == session.describe_event()[0]
    assert "h[4]" in p.words.text().replace("h_4", "h[4]")
    text = p.values.toPlainText()
    assert "hs[4] = [" in text and f"({session.trace.hidden_size} values)" in text
    cursor_at(session, "backward", 7)
    assert p.lines[p.main_line][0].strip().startswith("dhnext = Whh.T @ dhraw")
    assert all(p.lines[i][1].lower() == "b" for i in p.highlighted_lines)
    assert len(p.code.extraSelections()) == len(p.highlighted_lines)
    assert "dhnext = [" in p.values.toPlainText()
    np.testing.assert_array_equal(p.csv_tables()["values"][1][:, 1], session.trace.dhnext[7])
    cursor_at(session, "clip")
    assert "np.clip" in p.lines[p.main_line][0]
    cursor_at(session, "update")
    assert "param" in p.lines[p.main_line][0] and "ΔWxh" in p.values.toPlainText()
    for cell in ("lstm", "gru"):
        session.edit(cell=cell)
        cursor_at(session, "backward", 2)
        assert p.lines[p.main_line][0].strip().startswith("dhnext = Whh.T @")
        cursor_at(session, "forward", 2)
        assert p.lines[p.main_line][0].strip().startswith("hs[t] =")


# --- unrolled ---------------------------------------------------------------------------------------
def test_unrolled_nodes_and_gradient_arrows(qtbot, session):
    p = show(qtbot, UnrolledPanel, session)
    tr = session.trace
    T = tr.T
    cursor_at(session, "forward", 6)
    assert len(p.x_nodes.data) == 7 and len(p.todo_nodes.data) == 3 * (T - 7)
    assert len(p.arrow_steps) == 0
    assert p.in_labels.text(0) == session.vocab.label(int(tr.inputs[0]))
    assert p.out_labels.text(3) == session.vocab.label(int(tr.targets[3]))
    assert p.band.getRegion() == pytest.approx((5.5, 6.5))
    cursor_at(session, "backward", 5)
    assert np.array_equal(p.arrow_steps, np.arange(5, T))
    norms = np.linalg.norm(tr.dhnext, axis=1)[5:]
    order = np.argsort(norms)
    assert np.all(np.diff(p.arrow_widths[order]) >= 0)  # wider arrow = bigger ||dhnext||
    assert np.allclose(p.csv_tables()["steps"][1][5:, 4], norms)
    cursor_at(session, "update")
    assert not p.band.isVisible() and len(p.arrow_steps) == T


# --- every panel, every cell, big sizes ------------------------------------------------------------
def _step_everywhere(qtbot, s, panels):
    T = s.trace.T
    for idx in (0, T // 2, T - 1, T, T + T // 2, 2 * T - 1, 2 * T, 2 * T + 1):
        s.set_cursor(idx)
        for p in panels:
            assert p.isVisible()
            for name, (cols, rows) in p.csv_tables().items():
                assert rows.ndim == 2 and rows.shape[1] == len(cols), (p.key, name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_all_panels_for_each_cell(qtbot, session, cell):
    if cell != "rnn":
        session.edit(cell=cell)
    panels = [show(qtbot, cls, session, 640, 420) for cls in CORE_PANELS]
    _step_everywhere(qtbot, session, panels)
    session.step(1)  # past update: next iteration, new trace
    assert session.cursor == 0


@pytest.mark.parametrize("width", [900, 560])
def test_unrolled_word_labels_never_overlap(qtbot, width):
    """Captioning tokens are words ("yellow", "<END>"): they are shortened to fit their step
    ("yel…") instead of running into each other, and kept whole where they fit."""
    s = Session("cs231n-captioning-rnn")
    p = show(qtbot, UnrolledPanel, s, width, 420)
    s.set_event("forward:3")
    qtbot.wait(20)
    words = [s.vocab.label(int(i)) for i in s.trace.inputs]
    for labels in (p.in_labels, p.out_labels):
        assert labels.isVisible() and len(labels) == len(words)
        rects = labels.scene_rects()
        for a, b in zip(rects, rects[1:]):   # (neighbours may sit on staggered rows)
            assert not a.intersects(b), "neighbouring labels overlap"
    for text, word in zip(p.in_labels.texts(), words):
        assert text == word or (text.endswith("…") and word.startswith(text[:-1]))
    if any(text.endswith("…") for text in p.in_labels.texts()):
        assert " ".join(words) in p.plot_widget.toolTip()  # the whole words on hover
    p.resize(2400, 420)
    # room enough: whole words, without waiting for the next step
    qtbot.waitUntil(lambda: p.in_labels.texts() == words, timeout=3000)
    assert p.plot_widget.toolTip() == ""


def test_all_panels_big_window(qtbot):
    s = make_session()
    s.edit(hidden_size=256, seq_length=100)
    assert (s.trace.T, s.trace.hidden_size) == (100, 256)
    panels = [show(qtbot, cls, s, 640, 420) for cls in CORE_PANELS]
    _step_everywhere(qtbot, s, panels)
    up = panels[0]
    s.set_cursor(50)
    # every step labelled (tests/test_unrolled_labels.py: no overlap)
    assert up.in_labels.isVisible() and len(up.in_labels) == 100
    assert all(up.in_labels.texts()) and all(r.width() > 0 for r in up.in_labels.scene_rects())
    code = panels[-1]
    s.set_event("forward:3")
    assert "(256 values)" in code.values.toPlainText()


def test_lstm_gates_preset_if_available(qtbot):
    s = Session("lstm-gates")
    panels = [show(qtbot, cls, s, 640, 420) for cls in CORE_PANELS]
    _step_everywhere(qtbot, s, panels)


def test_hidden_panel_catches_up_when_shown(qtbot, session):
    p = HiddenStatesPanel(session)
    qtbot.addWidget(p)
    session.set_event("forward:5")  # hidden: no redraw yet
    p.show()
    qtbot.waitExposed(p)
    assert np.isfinite(p.heatmap.image.image[:, :6]).all()


def test_a_colour_bar_axis_is_as_wide_as_its_ticks_need(qtbot):
    """A fixed room for "-0.0005" put the label of a bar with ticks "-2".."-7" far from
    them, beside the next plot's label (contributions view on a projector)."""
    from bpttviz.gui import style
    short = style.color_bar(style.sequential_cmap(), (-8.0, -2.0), "log10 ||part||")
    long = style.color_bar(style.sequential_cmap(), (-0.0005, 0.0005), "log10 ||part||")
    from PyQt5.QtGui import QFontMetricsF
    fm = QFontMetricsF(style.theme().font(style.theme().tick_pt))
    w_short, w_long = short.axis.minimumWidth(), long.axis.minimumWidth()  # (set, fixed)
    assert w_long - w_short >= fm.horizontalAdvance("0.0000") - fm.horizontalAdvance("0")
    assert w_short >= fm.horizontalAdvance("-8") + 10          # the ticks and a label fit


@pytest.mark.parametrize("size", [(1280, 330), (700, 300), (1600, 700)])
def test_gradient_norm_values_stay_inside_a_short_plot(qtbot, size):
    """At 1280x720 in presentation the upright "7.06" above the by bar ran off the plot's
    top: the headroom is the printed values' own height, not a fixed 30 %."""
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session
    s = Session("min-char-rnn")
    s.set_event("backward:3")
    p = panel_by_key("grad_norms")(s)
    qtbot.addWidget(p)
    p.resize(*size)
    p.show()
    qtbot.waitExposed(p)
    p.refresh()
    qtbot.wait(30)
    p.refresh()
    top = p.plot.getViewBox().sceneBoundingRect().top()
    shown = [ti for pair in p.value_texts for ti in pair if ti.isVisible() and ti.toPlainText()]
    assert shown
    for ti in shown:
        assert ti.sceneBoundingRect().top() >= top - 1, (ti.toPlainText(), size)


@pytest.mark.parametrize("event", ["backward:3", "backward:20", "backward:12"])
def test_dhnext_readout_is_not_crossed_by_the_cursor_line(qtbot, event):
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session
    s = Session("min-char-rnn")
    s.set_event(event)
    p = panel_by_key("dhnext_flow")(s)
    qtbot.addWidget(p)
    p.resize(1300, 450)
    p.show()
    qtbot.waitExposed(p)
    p.refresh()
    qtbot.wait(30)
    vb = p.norm_plot.getViewBox()
    text = p.norm_text.sceneBoundingRect()
    line_x = vb.mapViewToScene(pg.Point(p.norm_cursor.value(), 0)).x()
    assert not (text.left() - 2 <= line_x <= text.right() + 2), (event, text, line_x)
    assert text.left() >= vb.sceneBoundingRect().left()     # clear of the axis


def test_gradient_norms_near_the_float_maximum_keep_a_finite_range(qtbot):
    """The 10,000-action monkey (action 665): a norm near 1.8e308 made the headroom above
    the bars overflow, "Cannot set range [0, inf]"."""
    from bpttviz.gui.panels import panel_by_key
    from bpttviz.session import Session
    s = Session("min-char-rnn")
    s.set_event("clip")
    tr = s.trace
    for d in (tr.grad_norms_raw, tr.grad_norms):
        for k in d:
            d[k] = 1.5e308
    p = panel_by_key("grad_norms")(s)
    qtbot.addWidget(p)
    p.resize(900, 300)
    p.show()
    qtbot.waitExposed(p)
    p.refresh()                      # raised "Cannot set range [0, inf]"
    lo, hi = p.plot.viewRange()[1]
    assert np.isfinite(lo) and np.isfinite(hi) and hi > lo

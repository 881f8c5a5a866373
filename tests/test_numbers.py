"""Numbers that never contradict each other (issue 12): every number a panel prints or draws
is checked against an independent computation (seed formulas, numpy), not the panel's code."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bpttviz.gui import style
from bpttviz.gui.panels.gradcheck import COLORS, GradCheckPanel, help_text
from bpttviz.session import GRADCHECK_REFINE, GRADCHECK_STENCIL, Session

EPS64 = 2.220446049250313e-16


@pytest.fixture
def build(qtbot):
    """A shown panel of ``cls`` on ``session`` (light theme, 960x540 unless told)."""
    style.set_theme(style.LIGHT)

    def make(cls, session, size=(960, 540)):
        p = cls(session)
        qtbot.addWidget(p)
        p.resize(*size)
        p.show()
        qtbot.waitExposed(p)
        p.refresh()
        return p

    yield make
    style.set_theme(style.LIGHT)


# --- gradient check -----------------------------------------------------------------------
def _independent_errors(session, entry):
    """The criterion the help states, computed here from the engine's raw numbers: per
    entry |a-n| / max(|a|+|n|, F), F = 10 * noise / 1e-7, noise = 1.5 * eps64 * |L| / eps
    (1.5 = the five-point stencil's |1/12| + |8/12| + |-8/12| + |-1/12|), eps the step the
    entry was differenced with (1e-3, else the refining 1e-4 or 1e-5).  Returns the floor
    at the main step 1e-3 (the one the status line prints) last."""
    assert GRADCHECK_STENCIL == {"eps": 1e-3, "order": 4} and GRADCHECK_REFINE == (1e-4, 1e-5)
    steps = np.asarray(entry.eps)
    assert set(np.unique(steps)) <= {1e-3, 1e-4, 1e-5}
    noise = 1.5 * EPS64 * max(abs(session.trace.loss), 1.0) / steps
    floors = 10 * noise / 1e-7
    ix = tuple(np.asarray(entry.checked).T)
    a, n = entry.analytic[ix], entry.numeric[ix]
    main_floor = 10 * 1.5 * EPS64 * max(abs(session.trace.loss), 1.0) / 1e-3 / 1e-7
    return a, n, np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floors), main_floor


def _word(err):
    return "correct" if err < 1e-7 else "suspicious" if err < 1e-4 else "WRONG"


def _rows(panel):
    return {panel.table.item(r, 0).text(): [panel.table.item(r, c).text() for c in range(1, 4)]
            for r in range(panel.table.rowCount())}


def test_trained_min_char_rnn_is_called_correct_and_worst_entry_agrees(build):
    s = Session("min-char-rnn")
    s.train(200)
    p = build(GradCheckPanel, s)
    res = s.gradient_check(20)
    rows = _rows(p)
    zero_entries = 0
    for name, e in res.items():
        a, n, err, floor = _independent_errors(s, e)
        # A zero analytic entry (an unused character's column of Wxh) is not "100 % wrong",
        # whether its numerical twin is exactly 0 or rounding noise (numpy/Numba builds
        # differ; test_zero_gradient_parameter_is_not_wrong pins the noisy case).
        zero = a == 0
        zero_entries += int(zero.sum())
        worst = float(err.max())
        shown_err, _where, word = rows[name]
        assert float(shown_err) == pytest.approx(worst, rel=5e-3)
        assert word == _word(worst) == "correct", (name, worst)
        if np.any(zero):
            # Today's "worst entry" was 1.00e+00 on such an entry, next to "correct".
            assert float(shown_err) < 1e-7
    assert zero_entries > 0   # the window really has such entries (the case in point)
    assert p.status.text().startswith("\u2714") and "suspicious" not in p.status.text()
    assert f"{floor:.1e}" in p.status.text()
    # F is said as what it is, the floor of the error's denominator, not as a second error
    # bound ("below 1e-7 (noise floor F = 3.4e-03)" read as a contradiction)
    assert f"max(|a| + |n|, F) with F\u00a0=\u00a0{floor:.1e}" in p.status.text()
    assert "noise floor" not in p.status.text()


def test_exploding_preset_correct_backprop_is_called_correct(build):
    """At step 1e-3 alone the exploding preset's (correct) backward pass was called WRONG
    (bh 0.34): its saturated tanh curves the loss too sharply for that step.  An entry that
    step misjudges is now differenced at 1e-4, then 1e-5, and keeps the best; the numbers it keeps are
    true five-point differences at the step it names, recomputed here."""
    from bpttviz.engine.model import forward
    s = Session("exploding")
    p = build(GradCheckPanel, s)
    res = s.gradient_check(20)
    rows = _rows(p)
    tr = s.trace
    for name, e in res.items():
        _a, _n, err, _ = _independent_errors(s, e)
        assert rows[name][2] == _word(float(err.max())) == "correct", (name, float(err.max()))
    e = res["bh"]
    k = int(np.argmin(np.asarray(e.eps)))     # an entry refined to a small step
    ix, step = tuple(e.checked[k]), float(e.eps[k])
    assert step < 1e-3
    params = {n: np.array(v, dtype=float) for n, v in tr.params.items()}

    def loss_at(delta):
        q = {n: v.copy() for n, v in params.items()}
        q["bh"][ix] += delta
        return forward(q, tr.inputs, tr.targets, tr.h0, tr.c0, tr.cell).loss
    # the five-point rule, its weights summed in the stencil's order (rounding alike)
    five = 0.0
    for offset, weight in ((2, -1 / 12), (1, 8 / 12), (-1, -8 / 12), (-2, 1 / 12)):
        five += weight * loss_at(offset * step)
    five /= step
    assert e.numeric[ix] == pytest.approx(five, rel=1e-9, abs=1e-15)
    assert p.status.text().startswith("\u2714")


def test_the_refined_check_still_fails_forget_dhnext_at_every_step(build):
    s = Session("exploding")
    s.edit("bug", backprop_bug="forget-dhnext")
    p = build(GradCheckPanel, s)
    rows = _rows(p)
    assert rows["Whh"][2] == rows["bh"][2] == "WRONG" and rows["Why"][2] == "correct"


def test_zero_gradient_parameter_is_not_wrong(build):
    # notebook-one-step: one step from h = 0, so dWhh is exactly 0 and the numerical one is
    # rounding noise; the old norm-based ratio called that 1.0 = WRONG.
    s = Session("notebook-one-step")
    p = build(GradCheckPanel, s)
    e = s.gradient_check(20)["Whh"]
    a, n, err, _ = _independent_errors(s, e)
    assert np.all(a == 0) and float(err.max()) < 1e-7
    assert _rows(p)["Whh"][2] == "correct"
    assert p.status.text().startswith("\u2714")


def test_forget_dhnext_dots_are_drawn_where_they_are(build, qtbot):
    s = Session("min-char-rnn")
    s.edit("bug", backprop_bug="forget-dhnext")
    p = build(GradCheckPanel, s)
    p.param_combo.setCurrentIndex(p.param_combo.findText("Whh"))
    e = s.gradient_check(20)["Whh"]
    a, n, err, _ = _independent_errors(s, e)
    wrong = err >= 1e-4
    assert wrong.sum() >= 5
    x, y = p.scatter.getData()
    np.testing.assert_array_equal(x, a)
    np.testing.assert_array_equal(y, n)     # not moved onto the diagonal
    # Each dot coloured by its own error: the wrong ones red.
    brushes = [b.color().name() for b in p.scatter.data["brush"]]
    for i in range(len(a)):
        want = COLORS["wrong"] if wrong[i] else COLORS["good"] if err[i] < 1e-7 else None
        if want is not None:
            assert brushes[i] == want, (i, err[i])
    # Every dot inside the view (none hidden by the range).
    (x0, x1), (y0, y1) = p.scatter_plot.vb.viewRange()
    assert np.all((x0 < a) & (a < x1) & (y0 < n) & (n < y1))
    # A line joins each wrong dot to the diagonal: from (a, a) to (a, n).
    # (and each suspicious one: every dot not green)
    off = err >= 1e-7
    sx, sy = p.sticks.getData()
    assert len(sx) == 2 * off.sum()
    np.testing.assert_array_equal(sx[0::2], a[off])
    np.testing.assert_array_equal(sy[0::2], a[off])
    np.testing.assert_array_equal(sy[1::2], n[off])
    # "show n - a": the worst miss is far from the zero line on screen.
    p.diff_box.setChecked(True)
    x, y = p.scatter.getData()
    np.testing.assert_allclose(y, n - a, rtol=0, atol=0)
    vb = p.scatter_plot.vb
    (y0, y1) = vb.viewRange()[1]
    assert y0 < float(np.min(n - a)) and float(np.max(n - a)) < y1
    i = int(np.argmax(np.abs(n - a)))
    from PyQt5.QtCore import QPointF
    on_line = vb.mapViewToScene(QPointF(a[i], 0.0))
    dot = vb.mapViewToScene(QPointF(a[i], (n - a)[i]))
    assert abs(dot.y() - on_line.y()) > 30


def test_correct_dots_stay_on_the_zero_line_in_difference_mode(build):
    s = Session("min-char-rnn")
    p = build(GradCheckPanel, s)
    p.diff_box.setChecked(True)
    e = s.gradient_check(20)["Whh"]
    a, n, _, _ = _independent_errors(s, e)
    vb = p.scatter_plot.vb
    from PyQt5.QtCore import QPointF
    px = [abs(vb.mapViewToScene(QPointF(x, d)).y() - vb.mapViewToScene(QPointF(x, 0)).y())
          for x, d in zip(a, n - a)]
    assert max(px) < 1.0     # rounding noise is not drawn as a miss


def test_help_states_the_stencil_really_used():
    eps, order = GRADCHECK_STENCIL["eps"], GRADCHECK_STENCIL["order"]
    assert (eps, order) == (1e-3, 4)
    text = GradCheckPanel.help_html
    assert text == help_text(GRADCHECK_STENCIL, GRADCHECK_REFINE)
    assert "differenced again with \u03b5 = 0.0001 and 1e-05" in text
    assert "5-point" in text and "\u03b5 = 0.001" in text
    assert "8f(x+\u03b5)" in text and "12\u03b5" in text
    assert "0.00001" not in text and "0.00002" not in text
    # Read from the constant: another stencil gives other words.
    other = help_text({"eps": 1e-4, "order": 2})
    assert "3-point" in other and "\u03b5 = 0.0001" in other
    assert "(f(x+\u03b5) \u2212 f(x\u2212\u03b5)) / 2\u03b5" in other


def test_help_formula_is_the_engines_stencil():
    # Evaluate the printed five-point formula on sin at 0.3 and compare with cos(0.3).
    f, x, h = math.sin, 0.3, 1e-3
    printed = (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)
    assert "(\u2212f(x+2\u03b5) + 8f(x+\u03b5) \u2212 8f(x\u2212\u03b5) + f(x\u22122\u03b5)) / 12\u03b5" \
        in GradCheckPanel.help_html
    from bpttviz.engine.gradcheck import numerical_gradient
    arr = np.array([x])
    got = numerical_gradient(lambda: math.sin(arr[0]), arr, [(0,)], eps=h, order=4)[0]
    assert got == pytest.approx(printed, rel=1e-12) and got == pytest.approx(math.cos(x), abs=1e-12)


# --- clipping: what the rule did, bars readable at 40:1 --------------------------------------
def _raw_grads(trace):
    return {k: np.asarray(v, dtype=float) for k, v in trace.grads_raw.items()}


def test_norm_clipping_says_rescaled_by_the_factor(build):
    from bpttviz.gui.panels.gradnorms import GradNormsPanel
    s = Session("exploding")
    assert s.config.clip == "norm"
    p = build(GradNormsPanel, s)
    s.set_event("clip")
    g = _raw_grads(s.trace)
    total = math.sqrt(sum(float(np.sum(v * v)) for v in g.values()))
    c = s.config.clip_value
    assert total / c > 30      # the 40:1 case
    text = p.info.text()
    assert f"rescaled by c / norm = {c / total:.3g}" in text
    assert "entries" not in text and "%" not in text


def test_value_clipping_says_entries_clipped(build):
    from bpttviz.gui.panels.gradnorms import GradNormsPanel
    s = Session("exploding")
    s.edit("value", clip="value")
    p = build(GradNormsPanel, s)
    s.set_event("clip")
    g = _raw_grads(s.trace)
    c = s.config.clip_value
    cut = sum(int(np.sum(np.abs(v) > c)) for v in g.values())
    size = sum(v.size for v in g.values())
    assert cut > 0
    text = p.info.text()
    assert f"{100 * cut / size:.2f}% of the entries clipped" in text
    assert "rescaled" not in text
    for k, v in g.items():
        assert f"{k} {100 * np.mean(np.abs(v) > c):.1f}%" in text


def test_param_norm_clipping_names_the_rescaled_parameters(build):
    from bpttviz.gui.panels.gradnorms import GradNormsPanel
    s = Session("exploding")
    s.edit("param", clip="param-norm", clip_value=20.0)
    p = build(GradNormsPanel, s)
    s.set_event("clip")
    g = _raw_grads(s.trace)
    c = 20.0
    norms = {k: float(np.linalg.norm(v)) for k, v in g.items()}
    over = [k for k, n in norms.items() if n > c]
    under = [k for k, n in norms.items() if n <= c]
    assert over and under
    text = p.info.text()
    assert "entries" not in text
    head, _, tail = text.partition("unchanged:")
    for k in over:
        assert f"{k} by {c / norms[k]:.3g}" in head
    for k in under:
        assert k in tail and f"{k} by" not in text


def _bar_px(plot, x, y0, y1):
    from PyQt5.QtCore import QPointF
    vb = plot.vb
    return abs(vb.mapViewToScene(QPointF(x, y0)).y() - vb.mapViewToScene(QPointF(x, y1)).y())


@pytest.mark.parametrize("size", [(700, 420), (1366, 768)])
def test_clip_bars_stay_readable_at_40_to_1(build, qtbot, size):
    from bpttviz.gui.panels.gradnorms import GradNormsPanel
    s = Session("exploding")
    p = build(GradNormsPanel, s, size=size)
    s.set_event("clip")
    qtbot.wait(10)
    g = _raw_grads(s.trace)
    c = s.config.clip_value
    total = math.sqrt(sum(float(np.sum(v * v)) for v in g.values()))
    after = {k: float(np.linalg.norm(v)) * min(1.0, c / total) for k, v in g.items()}
    after["global"] = min(total, c)
    opts = p.clip_bars.opts
    y0 = np.broadcast_to(np.asarray(opts["y0"], dtype=float), (len(p.groups),))
    h = np.asarray(opts["height"], dtype=float)
    plot_h = p.plot.vb.boundingRect().height()
    for i, name in enumerate(p.groups):
        # Every clipped bar is at least 20 px tall (on a linear axis the smallest, 0.31 of
        # 195, would be under 1 % of the plot: 2 px).
        assert _bar_px(p.plot, i, y0[i], y0[i] + h[i]) > max(20.0, 0.06 * plot_h), name
        # and its value is printed on it, inside the view.
        ti = p.value_texts[i][1]
        assert ti.isVisible() and ti.toPlainText() == f"{after[name]:#.3g}".rstrip(".")
        view = p.plot.vb.sceneBoundingRect()
        assert view.contains(ti.sceneBoundingRect()), name
    # No two printed values overlap.
    rects = [ti.sceneBoundingRect() for pair in p.value_texts for ti in pair if ti.isVisible()]
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            assert not rects[a].intersects(rects[b]), (a, b)
    # A chosen linear axis is linear, still with every value printed.
    p.scale_combo.setCurrentIndex(p.scale_combo.findData("linear"))
    assert not p.log_scale
    np.testing.assert_allclose(p.clip_bars.opts["height"], [after[k] for k in p.groups])
    assert [ti.toPlainText() for _, ti in p.value_texts] == [f"{after[k]:#.3g}".rstrip(".") for k in p.groups]


# --- "from the future" at the last step --------------------------------------------------
def _all_text(panel):
    from PyQt5.QtWidgets import QLabel
    import pyqtgraph as pg
    texts = [w.text() for w in panel.findChildren(QLabel) if w.isVisible()]
    for plot in (getattr(panel, n) for n in ("norm_plot", "split_plot", "heat_plot", "plot",
                                             "loss_plot") if hasattr(panel, n)):
        texts += [it.toPlainText() for it in plot.items if isinstance(it, pg.TextItem)
                  and it.isVisible()]
    return texts


def test_nothing_is_said_to_come_from_the_future_at_the_last_step(build):
    from bpttviz.gui.panels.dhnext import DhnextPanel
    from bpttviz.gui.panels.outputs import OutputsPanel
    s = Session("min-char-rnn")
    T = s.trace.T
    panels = [build(DhnextPanel, s), build(OutputsPanel, s)]
    s.set_event(f"backward:{T - 1}")
    # independently: at t = T-1 the gradient from later steps is exactly zero
    assert np.all(s.trace.dh_from_future[T - 1] == 0)
    for p in panels:
        p.refresh()
        for text in _all_text(p):
            low = text.replace("&nbsp;", " ").lower()
            low = low.replace("nothing comes from the future at the last step", "")
            assert "future" not in low, (p.key, text)
    key = panels[0].key_label.text().replace("&nbsp;", " ")
    assert "nothing comes from the future at the last step" in key
    # one step earlier the future is real again, and named
    s.set_event(f"backward:{T - 2}")
    panels[0].refresh()
    assert np.linalg.norm(s.trace.dh_from_future[T - 2]) > 0
    assert "from&nbsp;future" in panels[0].key_label.text()


# --- the loss plot's words at a short size ----------------------------------------------
def test_loss_texts_do_not_cover_the_bars_and_are_not_cut(build, qtbot):
    from bpttviz.gui.panels.outputs import OutputsPanel
    s = Session("min-char-rnn")
    p = build(OutputsPanel, s, size=(700, 300))
    s.set_event("forward:-1")
    p.refresh()
    qtbot.wait(10)
    if p.plot_flow.arrangement == "pages":  # this short, one plot at a time: the loss page
        p.plot_flow.show_page(1)
        qtbot.waitUntil(p.loss_plot.isVisible, timeout=2000)
        qtbot.wait(10)
    tr = s.trace
    total = float(np.sum(tr.losses))
    V = tr.vocab_size
    # The sum, read by a student: the bars' sum, on a line outside the plots.
    lab = p.loss_sum
    assert lab.isVisible() and f"sum so far = {total:.3f}" in lab.text()
    assert f"ln V = {math.log(V):.3f}" in lab.text()
    assert not lab.geometry().intersects(p.view.geometry())
    assert lab.geometry().bottom() <= p.rect().bottom()
    assert lab.heightForWidth(lab.width()) <= lab.height() + 1      # not cut
    # "ln V" is a tick on the loss plot's right axis: beside the bars, inside the panel.
    ax = p.loss_plot.getAxis("right")
    assert ax.isVisible()
    ticks = ax._tickLevels[0] if hasattr(ax, "_tickLevels") else None
    assert ticks is not None and ticks[0][0] == pytest.approx(math.log(V))
    assert ticks[0][1] == "ln V"
    vb = p.loss_plot.vb.sceneBoundingRect()
    from PyQt5.QtCore import QRectF
    ar = ax.mapRectToScene(QRectF(0, 0, ax.geometry().width(), ax.geometry().height()))
    assert ar.left() >= vb.right() - 1                      # never over the bars
    y0, y1 = p.loss_plot.vb.viewRange()[1]
    assert y0 < math.log(V) < y1                            # the tick is drawn ...
    from PyQt5.QtGui import QFontMetrics
    fm = QFontMetrics(ax.style.get("tickFont") or ax.font())
    assert ar.width() >= fm.horizontalAdvance("ln V") + 4   # ... whole
    view = p.view.rect()
    assert view.contains(p.view.mapFromScene(ar.topRight()).x(), view.center().y())
    # The sum is no longer a text on top of the bars.
    import pyqtgraph as pg
    assert not [it for it in p.loss_plot.items if isinstance(it, pg.TextItem) and it.isVisible()]


def test_clip_comparison_norms_readable_at_40_to_1(build, qtbot):
    from PyQt5.QtCore import QPointF
    from bpttviz.gui.panels.clipcompare import MODES, ClipComparePanel
    s = Session("exploding")
    p = build(ClipComparePanel, s, size=(1366, 768))
    s.set_event("clip")
    p.refresh()
    g = _raw_grads(s.trace)
    c = s.config.clip_value
    total = math.sqrt(sum(float(np.sum(v * v)) for v in g.values()))
    assert total / c > 30
    # the norm-clipped global bar (c) is at least 20 px tall, not 1/40 of the raw one's
    j = MODES.index("norm")
    opts = p.mode_bars["norm"].opts
    gi = len(g)                                   # the "global" group is last
    y0 = float(np.broadcast_to(np.asarray(opts["y0"], dtype=float), (gi + 1,))[gi])
    h = float(np.asarray(opts["height"], dtype=float)[gi])
    vb = p.norm_plot.vb
    px = abs(vb.mapViewToScene(QPointF(gi, y0)).y() - vb.mapViewToScene(QPointF(gi, y0 + h)).y())
    assert px > 20 and p.log_scale
    assert h + y0 == pytest.approx(math.log10(c), abs=1e-9) and j == 2

"""The teaching views (contributions, decay, clipping, truncation) draw the engine's numbers."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from bpttviz.engine.analysis import compare_clipping, compare_truncation, decay_by_distance
from bpttviz.gui import style
from bpttviz.gui.panels import decay
from bpttviz.gui.panels.clipcompare import MODES, ClipComparePanel
from bpttviz.gui.panels.contrib import ContributionsPanel
from bpttviz.gui.panels.decay import DecayPanel
from bpttviz.gui.panels.truncation import TruncationPanel
from bpttviz.session import Session

ALL = (ContributionsPanel, DecayPanel, ClipComparePanel, TruncationPanel)


def shown(qtbot, cls, session):
    p = cls(session)
    qtbot.addWidget(p)
    p.resize(960, 540)
    p.show()
    return p


def test_keys_and_titles():
    assert [c.key for c in ALL] == ["contrib", "decay", "clipping", "truncation"]
    assert ContributionsPanel.title == "Where dWhh comes from"
    assert DecayPanel.title == "Gradient decay"
    assert ClipComparePanel.title == "Clipping compared"
    assert TruncationPanel.title == "Truncation compared"
    assert all(c.help_html for c in ALL)


# --- contributions -----------------------------------------------------------------------
def test_contributions_full_at_clip_and_partial_during_backward(qtbot):
    s = Session("long-range")
    p = shown(qtbot, ContributionsPanel, s)
    T = s.trace.T
    s.set_event("clip")
    norms = s.contributions().norms
    np.testing.assert_array_equal(p.matrix, norms)
    np.testing.assert_array_equal(p.step_norms, s.trace.step_grad_norms("Whh"))
    cols, mat = p.csv_tables()["contrib_matrix"]
    assert cols[0] == "t" and len(cols) == T + 1
    np.testing.assert_array_equal(mat[:, 1:], norms)
    cols, by = p.csv_tables()["contrib_by_step"]
    np.testing.assert_array_equal(by[:, 1], s.trace.step_grad_norms("Whh"))
    for k in (0, 7, T - 1):
        assert by[k, 2] == pytest.approx(np.linalg.norm(s.trace.accumulated_grad("Whh", k)), rel=1e-10)

    s.set_event("backward:12")
    assert np.all(np.isnan(p.matrix[:, :12]))
    np.testing.assert_array_equal(p.matrix[:, 12:], norms[:, 12:])
    assert np.all(np.isnan(p.step_norms[:12])) and np.all(np.isfinite(p.step_norms[12:]))
    assert p.running_total[12] == pytest.approx(
        np.linalg.norm(s.trace.accumulated_grad("Whh", 12)), rel=1e-10)
    _cols, mat = p.csv_tables()["contrib_matrix"]
    assert np.all(np.isnan(mat[:, 1:13]))

    s.set_event("forward:3")
    assert np.all(np.isnan(p.matrix))
    p.log_box.setChecked(False)  # linear colour scale redraws too
    s.set_event("update")
    np.testing.assert_array_equal(p.matrix, norms)


# --- decay ---------------------------------------------------------------------------------
def test_decay_mean_and_spectrum_equal_the_engine(qtbot):
    s = Session("vanishing")
    p = shown(qtbot, DecayPanel, s)
    J = s.jacobian_norms()
    np.testing.assert_array_equal(p.mean, decay_by_distance(J))
    spec = s.whh_spectrum()
    assert p.rho == spec.spectral_radius and p.sigma == spec.largest_singular_value
    assert f"ρ = {spec.spectral_radius:.4g}" in p.rho_label.text()
    assert f"σ = {spec.largest_singular_value:.4g}" in p.rho_label.text()
    tables = p.csv_tables()
    _cols, mean = tables["decay_mean"]
    np.testing.assert_array_equal(mean[:, 1], decay_by_distance(J))
    np.testing.assert_allclose(mean[:, 2], spec.spectral_radius ** np.arange(s.trace.T))
    _cols, pairs = tables["decay_pairs"]
    T = s.trace.T
    assert pairs.shape == (T * (T + 1) // 2, 4)
    t, k = pairs[:, 0].astype(int), pairs[:, 1].astype(int)
    np.testing.assert_array_equal(pairs[:, 3], J[t, k])
    np.testing.assert_array_equal(pairs[:, 2], t - k)


def test_scale_control_multiplies_whh_and_raises_rho(qtbot):
    s = Session("vanishing")
    p = shown(qtbot, DecayPanel, s)
    W0 = s.params["Whh"].copy()
    rho0 = p.rho
    p.slider.setValue(decay.STEPS_PER_OCTAVE)  # x2
    qtbot.waitUntil(lambda: not p._timer.isActive(), timeout=2000)
    np.testing.assert_allclose(s.params["Whh"], 2.0 * W0, rtol=1e-12)
    assert p.rho == pytest.approx(2 * rho0, rel=1e-9)
    assert f"{p.rho:.4g}" in p.rho_label.text()
    np.testing.assert_array_equal(p.mean, decay_by_distance(s.jacobian_norms()))
    # Dragging on (debounced) applies only the final factor, relative to the start.
    p.slider.setValue(decay.STEPS_PER_OCTAVE + 5)
    p.slider.setValue(2 * decay.STEPS_PER_OCTAVE)  # x4
    p.apply_scale()
    np.testing.assert_allclose(s.params["Whh"], 4.0 * W0, rtol=1e-12)
    assert p.rho > 2 * rho0
    # Undo brings Whh back and the slider follows it.
    s.undo_stack.undo()
    np.testing.assert_allclose(s.params["Whh"], 2.0 * W0, rtol=1e-12)
    assert p.slider.value() == decay.STEPS_PER_OCTAVE
    s.undo_stack.undo()
    np.testing.assert_allclose(s.params["Whh"], W0, rtol=1e-12)
    assert p.slider.value() == 0
    # A new preset resets the control to x1.
    s.load_preset("exploding")
    assert p.slider.value() == 0 and p.scale_label.text() == "×1.00"


def test_vanishing_decreases_exploding_increases(qtbot):
    s = Session("vanishing")
    p = shown(qtbot, DecayPanel, s)
    assert np.all(np.diff(p.mean) < 0)
    s.load_preset("exploding")
    assert np.all(np.diff(p.mean[:6]) > 0)
    assert p.rho > 1


def test_decay_key_names_every_mark_outside_the_plot(qtbot):
    """No legend inside the plot to cover dots (in a narrow dock it hid half of them); the
    key above names every mark in the colour it is drawn with."""
    s = Session("min-char-rnn")  # (its Whh has ρ 0.11 and σ 0.19: two reference lines)
    p = shown(qtbot, DecayPanel, s)
    assert p.plot.legend is None
    text = p.key_label.text()
    t = style.theme()
    for name, colour in [("pairs (t, k)", t.forward), ("mean per distance", t.backward),
                         ("ρ^d", t.raw), ("σ^d", t.clipped), ("pairs ending at the current t", t.highlight)]:
        assert name.replace(" ", "&nbsp;") in text and pg.mkColor(colour).name() in text, name
    assert p.key_label.isVisible() and p.key_label.geometry().bottom() <= p.plot_widget.geometry().top()


@pytest.mark.parametrize("preset", ["vanishing", "exploding"])
def test_decay_draws_one_reference_line_where_rho_equals_sigma(qtbot, preset):
    """A scaled orthogonal Whh (the vanishing and exploding presets) has ρ = σ: the dotted
    σ^d over the dashed ρ^d read as neither, under a key naming two lines."""
    s = Session(preset)
    p = shown(qtbot, DecayPanel, s)
    assert p.rho == pytest.approx(p.sigma, rel=1e-6)
    assert p.rho_curve.isVisible() and not p.sigma_curve.isVisible()
    text = p.key_label.text()
    assert "ρ^d&nbsp;=&nbsp;σ^d" in text and pg.mkColor(style.theme().clipped).name() not in text
    # ... drawn over the mean's line, which lies on it for the vanishing preset
    assert p.rho_curve.zValue() > p.mean_curve.zValue()
    s.edit(whh_radius=None)  # a random Whh: ρ < σ, both lines and both names again
    p.refresh()
    assert p.rho < p.sigma and p.sigma_curve.isVisible()
    assert "σ^d" in p.key_label.text() and "here&nbsp;ρ" not in p.key_label.text()


def test_decay_skips_large_traces_with_a_message(qtbot, monkeypatch):
    s = Session("long-range")
    monkeypatch.setattr(decay, "MAX_TTH", 10)
    called = []
    monkeypatch.setattr(s, "jacobian_norms", lambda: called.append(1))
    p = shown(qtbot, DecayPanel, s)
    assert p.skipped and not called
    assert "too large for the live decay plot" in p.message.textItem.toPlainText()
    assert p.csv_tables()["decay_pairs"][1].shape == (0, 4)
    assert decay.too_large(100, 256)  # the brief's big trace


# --- clipping ------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["exploding", "min-char-rnn"])
def test_clip_cosines_equal_the_clip_reports(qtbot, preset):
    s = Session(preset)
    p = shown(qtbot, ClipComparePanel, s)
    s.set_event("clip")
    comp = s.clip_comparison()
    _cols, cos = p.csv_tables()["clipping_cosine"]
    for i, m in enumerate(MODES):
        assert cos[i, 1] == comp.results[m][1].cosine
        assert p.cos_texts[i].textItem.toPlainText() == f"{comp.results[m][1].cosine:.4f}"
    assert cos[MODES.index("norm"), 1] == pytest.approx(1.0, abs=1e-12)  # rounding only
    cols, norms = p.csv_tables()["clipping_norms"]
    assert cols[1:] == ["Wxh", "Whh", "Why", "bh", "by", "global"]
    for i, m in enumerate(MODES):
        rep = comp.results[m][1]
        np.testing.assert_array_equal(norms[i, 1:-1], [rep.norms_after[n] for n in cols[1:-1]])
        assert norms[i, -1] == rep.grad_norm_after_clip


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf * 0 while clipping an inf norm
def test_clip_view_says_n_a_for_a_gradient_without_direction(qtbot, monkeypatch):
    """An inf entry (a diverging step) leaves value and param-norm clipping with no cosine
    (NaN, not a made-up -1): the view draws no bar and says so."""
    s = Session("exploding")
    p = shown(qtbot, ClipComparePanel, s)
    s.set_event("clip")
    grads = {k: v.copy() for k, v in s.trace.grads_raw.items()}
    grads["Whh"][0, 0] = np.inf
    comp = compare_clipping(grads, s.config.clip_value)
    monkeypatch.setattr(s, "clip_comparison", lambda: comp)
    p.refresh()
    texts = [t.textItem.toPlainText() for t in p.cos_texts]
    assert np.isnan(comp.results["value"][1].cosine)
    assert texts[MODES.index("value")] == "n/a (inf/NaN)"
    assert np.isfinite(p.cos_bars.opts["width"]).all()


def test_clip_during_backward_uses_the_accumulated_gradient(qtbot):
    s = Session("exploding")
    p = shown(qtbot, ClipComparePanel, s)
    s.set_event("forward:5")
    assert p.comparison is None
    assert np.all(np.isnan(p.csv_tables()["clipping_cosine"][1][:, 1]))
    s.set_event("backward:20")
    acc = {k: s.trace.accumulated_grad(k, 20) for k in s.trace.grads_raw}
    ref = compare_clipping(acc, s.config.clip_value)
    _cols, cos = p.csv_tables()["clipping_cosine"]
    for i, m in enumerate(MODES):
        assert cos[i, 1] == pytest.approx(ref.results[m][1].cosine, rel=1e-12)
    assert cos[MODES.index("norm"), 1] == pytest.approx(1.0, abs=1e-12)  # rounding only
    # The heatmap marks exactly the entries value clipping changed.
    name = p.heat_name
    changed = ref.results["value"][0][name] != acc[name]
    assert len(p.marks.data) == int(np.count_nonzero(changed))


# --- truncation ----------------------------------------------------------------------------
def test_truncation_keys_sit_outside_the_plots(qtbot):
    """The distance and reach plots' legends covered their tallest bars and the top of the
    reach line; their keys are a line above the plots now."""
    s = Session("long-range")
    p = shown(qtbot, TruncationPanel, s)
    assert p.lost_plot.legend is None and p.reach_plot.legend is None
    key = p.key2_label.text() + p.key3_label.text()
    for name in ("all parts", "cut by truncation", "full BPTT reach", "truncated reach",
                 "window boundary"):
        assert name.replace(" ", "&nbsp;") in key
    for lab in (p.key2_label, p.key3_label):
        assert lab.geometry().bottom() <= p.view.geometry().top()


def test_truncation_numbers_equal_compare_truncation(qtbot):
    s = Session("long-range")
    p = shown(qtbot, TruncationPanel, s)
    assert p.window == 4  # the preset's truncation
    tr = s.trace

    def check(k):
        ref = compare_truncation(tr.params, tr.inputs, tr.targets, k, h0=tr.h0, cell=tr.cell, c0=tr.c0)
        cols, rows = p.csv_tables()["truncation_norms"]
        names = list(ref.full.grads_raw)
        for i, n in enumerate(names):
            assert rows[i, 1] == pytest.approx(np.linalg.norm(ref.full.grads_raw[n]), rel=1e-12)
            assert rows[i, 2] == pytest.approx(np.linalg.norm(ref.truncated.grads_raw[n]), rel=1e-12)
            assert rows[i, 4] == pytest.approx(ref.rel_diff[n], rel=1e-12)
            assert rows[i, 5] == pytest.approx(ref.cosine[n], rel=1e-12)
        _cols, lost = p.csv_tables()["truncation_lost"]
        np.testing.assert_allclose(lost[:, 1], ref.lost_by_distance, rtol=1e-12)
        assert f"{ref.cosine_total:.4f}" in p.summary.text()
        np.testing.assert_array_equal(p.lost_bars.opts["height"], ref.lost_by_distance[k:])
        return rows

    rows4 = check(4)
    assert np.all(np.asarray(check(4))[:, 0] == rows4[:, 0])
    p.set_window(10)
    rows10 = check(10)
    assert not np.allclose(rows4[:, 2], rows10[:, 2])  # the truncated norms changed
    p.set_window(s.trace.T)  # one window: truncation is full BPTT
    rows_all = check(s.trace.T)
    np.testing.assert_allclose(rows_all[:, 5], 1.0)


def test_truncation_bars_are_relative_to_full_bptt_when_the_norms_differ_widely(qtbot):
    """min-char-rnn: by's full gradient (~7.5) beside Whh's (~0.05) drew Whh, the parameter
    the view is about, as a 2 px sliver.  'auto' draws each pair over its full-BPTT norm when
    the norms differ 20x or more; the y axis says so; 'norms' and 'relative' are the reader's
    to choose, and the choice survives a rebuild (a theme change)."""
    from bpttviz.gui.panels.truncation import AUTO_RELATIVE_RATIO
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    p = shown(qtbot, TruncationPanel, s)
    tr = s.trace
    ref = compare_truncation(tr.params, tr.inputs, tr.targets, p.window, h0=tr.h0, cell=tr.cell, c0=tr.c0)
    names = list(ref.full.grads_raw)
    full = np.array([np.linalg.norm(ref.full.grads_raw[n]) for n in names])
    trunc = np.array([np.linalg.norm(ref.truncated.grads_raw[n]) for n in names])
    assert full.max() >= AUTO_RELATIVE_RATIO * full.min()       # the preset's spread
    assert p.bars_combo.currentData() == "auto" and p.relative
    np.testing.assert_allclose(p.full_bars.opts["height"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(p.trunc_bars.opts["height"], trunc / full, rtol=1e-12)
    assert "g<sub>full</sub>" in p.norm_plot.getAxis("left").labelText
    # each relative bar is readable: the smallest at least a quarter of the tallest
    assert np.min(p.trunc_bars.opts["height"]) >= 0.25 * np.max(p.full_bars.opts["height"])
    p.bars_combo.setCurrentIndex(p.bars_combo.findData("norms"))
    assert not p.relative
    np.testing.assert_allclose(p.full_bars.opts["height"], full, rtol=1e-12)
    assert p.norm_plot.getAxis("left").labelText == "gradient L2 norm"
    again = shown(qtbot, TruncationPanel, s)
    again.restore_view_state(p.view_state())
    assert again.bars_combo.currentData() == "norms" and not again.relative
    # long-range's norms are alike: auto keeps the norms
    s2 = Session("long-range")
    p2 = shown(qtbot, TruncationPanel, s2)
    assert not p2.relative
    cols, rows = p2.csv_tables()["truncation_norms"]
    np.testing.assert_allclose(p2.full_bars.opts["height"], rows[:, 1], rtol=1e-12)


def test_truncation_steps_move_only_its_cursor(qtbot):
    """The comparison covers the whole window: a step moves the reach plot's cursor line and
    leaves the bars and their numbers as drawn (redrawing them cost ~15 ms a step); a new
    k or a new run redraws them."""
    s = Session("long-range")
    s.set_event("forward:3")
    p = shown(qtbot, TruncationPanel, s)
    texts = list(p.cos_texts)
    for ev, t in (("forward:7", 7), ("backward:12", 12)):
        s.set_event(ev)
        p.refresh()
        assert p.cursor_line.value() == t and p.cursor_line.isVisibleTo(p.reach_plot)
        assert all(a is b for a, b in zip(p.cos_texts, texts)) and len(p.cos_texts) == len(texts)
    s.set_event("update")
    p.refresh()
    assert not p.cursor_line.isVisibleTo(p.reach_plot)
    before = p.comparison
    p.set_window(10)
    assert p.comparison is not before and not any(a is b for a, b in zip(p.cos_texts, texts))
    full = np.array([np.linalg.norm(p.comparison.full.grads_raw[n]) for n in p.comparison.full.grads_raw])
    if not p.relative:
        np.testing.assert_allclose(p.full_bars.opts["height"], full, rtol=1e-12)


# --- every cell, every view ---------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_all_views_redraw_for_every_cell(qtbot, cell):
    s = Session("long-range")
    if cell != "rnn":
        s.edit(f"cell {cell}", cell=cell)
    panels = [shown(qtbot, cls, s) for cls in ALL]
    T = s.trace.T
    for ev in ("forward:0", f"forward:{T - 1}", f"backward:{T - 1}", "backward:3", "clip", "update"):
        s.set_event(ev)
        for p in panels:
            tables = p.csv_tables()
            assert tables and all(len(cols) == arr.shape[1] for cols, arr in tables.values()
                                  if arr.ndim == 2 and arr.size)
    s.set_event("clip")
    np.testing.assert_array_equal(panels[0].matrix, s.contributions().norms)
    np.testing.assert_array_equal(panels[1].mean, decay_by_distance(s.jacobian_norms()))
    s.next_iteration()  # a new trace redraws everything


def test_one_step_and_lstm_presets_redraw(qtbot):
    for name in ("notebook-one-step", "lstm-gates"):
        s = Session(name)
        panels = [shown(qtbot, cls, s) for cls in ALL]
        s.end()
        for p in panels:
            p.csv_tables()
            p.grab()

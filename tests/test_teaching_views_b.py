"""Gradient check, gates and live-training views against the engine's numbers (pytest-qt,
offscreen).  Every training test stops and joins its worker thread before it ends."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import QMessageBox

from bpttviz.gui.panels.base import Panel
from bpttviz.gui.panels.gates import GatesPanel
from bpttviz.gui.panels.gradcheck import COLORS, GradCheckPanel
from bpttviz.gui.panels.training_live import FRAME_MS, TrainingPanel
from bpttviz.gui.training import TrainingController
from bpttviz.session import Session

HIST = ("loss", "smooth_loss", "grad_norm_before_clip", "grad_norm_after_clip")


@pytest.fixture
def make_panel(qtbot):
    """Build a shown panel on a fresh session; stop any training thread at the end."""
    sessions = []
    controllers = {}

    def make(cls, preset):
        s = Session(preset)
        sessions.append(s)
        controllers[s] = TrainingController(s, parent=s)
        p = cls(s, controller=controllers[s])
        qtbot.addWidget(p)
        p.resize(960, 540)
        p.show()
        qtbot.waitExposed(p)
        return p

    yield make
    for s in sessions:
        c = controllers[s]
        c.shutdown()
        assert not c.running and c.thread is None


@pytest.fixture
def warnings(monkeypatch):
    calls = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(
        lambda parent, title, text, *a, **k: calls.append((title, text)) or QMessageBox.Ok))
    return calls


# --- gradient check ------------------------------------------------------------------------
def _table(panel):
    rows = {}
    for r in range(panel.table.rowCount()):
        rows[panel.table.item(r, 0).text()] = [panel.table.item(r, c).text() for c in range(1, 4)]
    return rows


def test_gradcheck_shows_the_engines_errors_all_below_1e7(make_panel):
    p = make_panel(GradCheckPanel, "long-range")
    s = p.session
    expected = s.gradient_check(20)
    assert p.results is not None and list(p.results) == list(expected)
    # The panel's number per parameter: the worst checked entry's |a-n| / max(|a|+|n|, F)
    # (tests/test_numbers.py checks F and the criterion independently).
    cols, table = p.csv_tables()[""]
    assert cols[:2] == ["parameter", "worst_entry_error"]
    worst = {}
    for row, (name, e) in zip(table, expected.items()):
        ix = tuple(e.checked.T)
        a, n = e.analytic[ix], e.numeric[ix]
        # each entry at the floor of the step it kept (the status line's F is the 1e-3 one)
        floor = e.floor if e.floor is not None else row[6]
        err = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)
        assert row[0] == name and row[1] == pytest.approx(err.max(), rel=1e-12)
        assert row[1] < 1e-7 and row[5] == "correct"
        worst[name] = row[1]
    rows = _table(p)
    assert all(v[2] == "correct" for v in rows.values())
    assert rows["Whh"][0] == f"{worst['Whh']:.2e}"
    # The bar heights are the log10 of those errors.
    opts = p.bars.opts
    np.testing.assert_allclose(np.asarray(opts["y0"]) + np.asarray(opts["height"]),
                               np.log10(np.maximum(list(worst.values()), 1e-16)))
    # Scatter: the chosen parameter's checked entries, analytic vs numeric.
    assert p.param_combo.currentText() == "Whh"
    x, y = p.scatter.getData()
    e = expected["Whh"]
    ix = tuple(e.checked.T)
    np.testing.assert_array_equal(x, e.analytic[ix])
    np.testing.assert_array_equal(y, e.numeric[ix])
    cols, entries = p.csv_tables()["entries"]
    assert cols[:4] == ["parameter", "index", "analytic", "numeric"]
    assert len(entries) == sum(len(e.checked) for e in expected.values())
    assert p.status.text().startswith("\u2714")


def test_forget_dhnext_fails_the_check_and_unticking_restores(make_panel):
    p = make_panel(GradCheckPanel, "long-range")
    s = p.session
    p.bug_box.click()
    assert s.config.backprop_bug == "forget-dhnext"
    res = s.gradient_check(20)
    assert res["Whh"].rel_error > 1e-3
    assert p.results["Whh"].rel_error == res["Whh"].rel_error
    assert p.checks["Whh"].error > 1e-3
    rows = _table(p)
    assert rows["Whh"][2] == "WRONG" and rows["Why"][2] == "correct"
    whh = list(res).index("Whh")
    assert p.bars.opts["brushes"][whh].color().name() == COLORS["wrong"]
    assert "WRONG" in p.status.text()
    p.bug_box.click()
    assert s.config.backprop_bug is None
    assert p.results["Whh"].rel_error < 1e-7 and not p.bug_box.isChecked()
    assert p.checks["Whh"].kind == "good"
    s.undo_stack.undo()  # undo the fix: the bug is back, and the box follows
    assert s.config.backprop_bug == "forget-dhnext" and p.bug_box.isChecked()


def test_forget_dhnext_degrades_training(make_panel, qtbot):
    losses = {}
    for bug in (None, "forget-dhnext"):
        p = make_panel(TrainingPanel, "long-range")
        p.session.edit("bug", backprop_bug=bug)
        p.stop_spin.setValue(400)
        p.run_button.click()
        qtbot.waitUntil(lambda: not p.running, timeout=10_000)
        losses[bug] = np.mean(p.session.run.history.loss[-50:])
    assert losses["forget-dhnext"] > 1.5 * losses[None]


# --- gates ---------------------------------------------------------------------------------
def test_gates_reveal_with_the_forward_pass_and_flow_with_the_backward(make_panel):
    p = make_panel(GatesPanel, "lstm-gates")
    # 960x540 is too small for six readable plots: "auto" shows the key gate and the flow
    assert list(p.heatmaps) == [next(g for g in p.KEY_GATE if g in "ifogc")]
    p.show_combo.setCurrentIndex(p.show_combo.findData("all"))
    s = p.session
    tr = s.trace
    s.set_event("forward:9")
    assert set(p.data) == {"i", "f", "o", "g", "c"}
    for name in "ifog":
        d = p.data[name]
        np.testing.assert_array_equal(d[:, :10], tr.gates[name][:10].T)
        assert np.isnan(d[:, 10:]).all()
        np.testing.assert_array_equal(p.heatmaps[name].image.image, d)
    np.testing.assert_array_equal(p.data["c"][:, :10], tr.c[:10].T)
    assert all(len(c.getData()[0] if c.getData()[0] is not None else []) == 0
               for c in p.flow_curves.values())
    s.set_event("backward:15")
    for key, arr in (("dc", tr.dc), ("dh", tr.dh), ("dhnext", tr.dhnext)):
        c = p.flow_curves[key]
        x, y = c.xData, c.yData  # the data given (getData is log10 on a log axis)
        np.testing.assert_array_equal(x, np.arange(15, tr.T))
        np.testing.assert_allclose(y, np.linalg.norm(arr, axis=1)[15:], rtol=0, atol=0)
    cols, flow = p.csv_tables()["flow"]
    assert cols[:3] == ["t", "dc_norm", "dh_norm"]
    np.testing.assert_array_equal(flow[:, 1], np.linalg.norm(tr.dc, axis=1)[15:])
    np.testing.assert_array_equal(flow[:, 2], np.linalg.norm(tr.dh, axis=1)[15:])
    cols, gi = p.csv_tables()["i"]
    np.testing.assert_array_equal(gi[:, 1:], tr.gates["i"])
    assert p.flow_plot.legend is None and "||dc_t||" in p.flow_key.text().replace("\u2060", "")


def test_gates_for_a_gru(make_panel):
    p = make_panel(GatesPanel, "lstm-gates")
    p.session.edit("cell", cell="gru")
    s = p.session
    s.end()
    assert set(p.data) == {"z", "r", "n"}
    np.testing.assert_array_equal(p.data["z"], s.trace.gates["z"].T)
    assert "dc" not in p.flow_curves
    # The flow plot's key sits outside the plot and names only the curves drawn.
    assert p.flow_plot.legend is None
    key = p.flow_key.text().replace("\u2060", "")
    assert "||dh_t||" in key and "||dhnext_t||" in key and "||dc_t||" not in key


def test_rnn_shows_the_message_and_the_button_switches_to_lstm(make_panel, qtbot):
    p = make_panel(GatesPanel, "min-char-rnn")
    assert p.stack.currentIndex() == 0
    assert "needs an LSTM or GRU" in p.message.text() and "lstm-gates" in p.message.text()
    qtbot.mouseClick(p.switch_button, Qt.LeftButton)
    assert p.session.config.cell == "lstm"
    assert p.stack.currentIndex() == 1 and set(p.data) == {"i", "f", "o", "g", "c"}
    p.session.undo_stack.undo()
    assert p.session.config.cell == "rnn" and p.stack.currentIndex() == 0


# --- live training -------------------------------------------------------------------------
def _assert_csv_is_history(p):
    cols, arr = p.csv_tables()[""]
    h = p.session.run.history
    assert cols == ["iteration"] + list(HIST) + ["averaged_over"]
    assert arr.shape == (len(h.loss), 6)
    np.testing.assert_array_equal(arr[:, 0], np.arange(len(h.loss)))
    for j, k in enumerate(HIST, start=1):
        np.testing.assert_array_equal(arr[:, j], getattr(h, k))
    assert np.all(arr[:, 5] == 1)  # not compacted: one iteration per row
    x, y = p.smooth_curve.getData()
    np.testing.assert_array_equal(y, h.smooth_loss)


def test_run_pause_shows_the_paused_iteration_and_stays_responsive(make_panel, qtbot):
    p = make_panel(TrainingPanel, "min-char-rnn")
    s = p.session
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    changed = []
    s.sigTraceChanged.connect(lambda _serial: changed.append(s.iteration))
    p.run_button.click()
    assert p.running and not p.run_button.isEnabled() and p.pause_button.isEnabled()
    qtbot.waitUntil(lambda: p.iteration >= 100, timeout=10_000)
    frames = p.frames
    qtbot.wait(300)
    assert p.frames > frames           # curves redraw while training...
    qtbot.mouseClick(p.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not p.running, timeout=5_000)
    timer.stop()
    assert len(ticks) >= 10            # ...and the event loop kept running
    assert s.iteration >= 100 and changed and changed[-1] == s.iteration
    assert s.cursor == 0 and len(s.run.history.loss) == s.iteration
    tr = s.trace
    for k, v in s.run.params.items():
        np.testing.assert_array_equal(tr.params[k], v)  # the trace of the paused iteration
    assert p.iteration == s.iteration and p.rate_label.text().startswith("paused")
    _assert_csv_is_history(p)
    assert p.sample_text and f"iteration {s.iteration}" in p.sample_box.toPlainText()
    paused_at = s.iteration
    s.step(len(s.events))  # the regular timeline continues from there
    assert s.iteration == paused_at + 1 and p.iteration == paused_at + 1


def test_stop_after_n_stops_at_n(make_panel, qtbot):
    p = make_panel(TrainingPanel, "dinosaurs")
    s = p.session
    assert p.empty_text.isVisible() and "Run" in p.empty_text.textItem.toPlainText()
    assert p.norm_empty_text.isVisible() and "gradient norm" in p.norm_empty_text.textItem.toPlainText()
    # the empty loss axis reaches the loss training starts from (0..1 beside "smooth loss
    # 39.550" read as a contradiction), not far beyond it
    top = p.loss_plot.viewRange()[1][1]
    assert s.smooth_loss <= top <= 2 * s.smooth_loss, (top, s.smooth_loss)
    s.train(7)
    assert not p.empty_text.isVisible()  # the curves say it now
    assert not p.norm_empty_text.isVisible()
    p.stop_spin.setValue(150)
    p.run_button.click()
    qtbot.waitUntil(lambda: not p.running, timeout=10_000)
    assert s.iteration == 157 and p.controller.last_reason == "limit"
    _assert_csv_is_history(p)
    # Frames are coalesced: never more than one per FRAME_MS of training.
    assert p.frames <= 2 + 1.2 * (1000 / FRAME_MS) * 10


def test_divergence_stops_with_a_message_and_finite_params(make_panel, qtbot, warnings):
    p = make_panel(TrainingPanel, "long-range")
    s = p.session
    s.edit("diverge", optimizer="sgd", lr=1e308, clip=None, init_scale=1.0)
    p.run_button.click()
    qtbot.waitUntil(lambda: not p.running, timeout=10_000)
    assert p.controller.last_reason == "diverged"
    assert len(warnings) == 1
    title, text = warnings[0]
    assert "diverged" in title.lower() and "iteration 0" in text and "kept" in text
    assert all(np.all(np.isfinite(v)) for v in s.run.params.values())
    assert s.iteration == 0 and s.cursor == 0


def test_temperature_and_sampling_while_paused(make_panel):
    p = make_panel(TrainingPanel, "min-char-rnn")
    p.temp_spin.setValue(0.5)
    assert "temperature 0.5" in p.sample_box.toPlainText()
    assert p.sample_text == p.session.run.sample_text(200, 0.5, seed=p.session.iteration)


def test_panels_follow_the_contract():
    for cls, key in ((GradCheckPanel, "gradcheck"), (GatesPanel, "gates"), (TrainingPanel, "loss")):
        assert issubclass(cls, Panel) and cls.key == key and cls.help_html and cls.title


def test_a_loss_at_the_float_maximum_does_not_break_the_live_plot(make_panel, qtbot):
    """A loss of 1.7e308 is finite, but its axis top (x 1.02, rounded up to a nice number)
    is inf: pyqtgraph raised "Cannot set range [0.0, inf]" from the redraw (10,000-action
    monkey, action 2175).  The plot keeps a finite range instead."""
    p = make_panel(TrainingPanel, "min-char-rnn")
    from bpttviz.gui.panels.training_live import HISTORY_FIELDS
    new = {k: np.array([1.0, 2.0]) for k in HISTORY_FIELDS}
    new["loss"] = np.array([3.0, 1.7e308])
    new["smooth_loss"] = np.array([3.0, 1.7e308])
    for k in HISTORY_FIELDS:
        p.hist[k].extend(new[k])
    with qtbot.capture_exceptions() as raised:
        p._draw_curves()
    assert not raised
    lo, hi = p.loss_plot.viewRange()[1]
    assert np.isfinite(lo) and np.isfinite(hi)


def test_live_curves_follow_a_history_compacted_while_training(make_panel, qtbot):
    """Issue 16: the history merges its entries when it fills (bounded memory).  The worker
    then sends the whole compacted history and the live plot replaces its copy: its curve
    puts each entry at the centre of the iterations it averages."""
    from bpttviz.engine.run import History
    from bpttviz.gui.training import TrainingWorker
    p = make_panel(TrainingPanel, "min-char-rnn")
    s = p.session
    s.run.history = History(capacity=8)
    s.train(6)
    p.redraw()
    worker = TrainingWorker(s.run)
    msgs = []
    for _ in range(12):  # 6 -> 18 iterations: compacted at 8 and at 16
        s.run.update()
        msgs.append(worker._new_entries())
    h = s.run.history
    assert h.stride == 4 and [m["stride"] for m in msgs].count(4) == 3
    strides = [m["stride"] for m in msgs]
    changed = [i for i in range(1, len(msgs)) if strides[i] != strides[i - 1]]
    assert len(changed) == 2 and all(msgs[i]["start"] == 0 for i in changed)
    assert all(msgs[i]["start"] > 0 for i in range(1, len(msgs)) if i not in changed)
    for m in msgs:
        p._on_progress(s.run.iteration, 1.0, m)
    assert p.hist_stride == 4
    for k in HIST:
        np.testing.assert_array_equal(p.hist[k].values, getattr(h, k).values)
    p._draw_curves()
    x, y = p.loss_curve.getData()
    np.testing.assert_array_equal(x, [1.5, 5.5, 9.5, 13.5][:len(h)])
    np.testing.assert_array_equal(y, h.loss.values)
    cols, table = p.csv_tables()[""]
    assert cols[-1] == "averaged_over" and np.all(table[:, -1] == 4)
    for plot in (p.loss_plot, p.norm_plot):  # the axis says what a point is
        assert "mean of 4" in plot.getAxis("bottom").labelText
    # A stale message of the old stride is ignored.
    p._on_progress(s.run.iteration, 1.0, dict(msgs[0], start=len(h)))
    assert p.hist["loss"].n == len(h)


def test_training_sample_box_keeps_its_share_of_a_widening_view(qtbot):
    """Beside the plots (a short view) the sample box takes 30 % of the width: set once,
    when it moved there, it stayed as narrow as the view was then."""
    p = TrainingPanel(Session("min-char-rnn"))
    qtbot.addWidget(p)
    p.resize(900, 500)
    p.show()
    qtbot.waitExposed(p)
    assert p.sample_box.maximumWidth() == int(900 * 0.3)
    p.resize(1800, 500)
    qtbot.waitUntil(lambda: p.sample_box.maximumWidth() == int(1800 * 0.3), timeout=2000)
    qtbot.waitUntil(lambda: p.sample_box.width() > 400, timeout=2000)
    p.resize(900, 900)    # tall: under the plots, as wide as the view
    qtbot.waitUntil(lambda: p.sample_box.width() > 800, timeout=2000)


def test_training_sample_box_under_the_plots_shows_whole_lines(qtbot):
    """Under the plots (a tall view) the sample box shows three whole lines, the rest
    scrolling: a height of 3.4 lines showed a fourth line cut through its middle."""
    p = TrainingPanel(Session("min-char-rnn"))
    qtbot.addWidget(p)
    p.resize(900, 900)
    p.show()
    qtbot.waitExposed(p)
    box = p.sample_box
    box.setPlainText("the quick brown fox jumps over the lazy dog " * 12)
    qtbot.waitUntil(lambda: box.verticalScrollBar().maximum() > 0, timeout=2000)
    usable = box.viewport().height() - 2 * box.document().documentMargin()
    lines = usable / box.fontMetrics().lineSpacing()
    assert 3.0 <= lines < 3.1, lines   # (a tenth of a line: 2 px of the next one's top)

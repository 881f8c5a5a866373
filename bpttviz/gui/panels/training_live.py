"""Training live: run / pause / stop after N, the loss curve, the gradient norms before and
after clipping, and text sampled from the model as it learns.

Training runs in a worker thread (``bpttviz.gui.training``); this panel only draws the numbers
the worker sends, at most every 33 ms (a coalescing timer), so input is never blocked.  While
training runs the panel never reads ``session.run``; when it stops the session is reset to the
start of the current window and every panel shows the paused iteration.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import (QBoxLayout, QDoubleSpinBox, QHBoxLayout, QLabel, QMessageBox, QPlainTextEdit,
                             QPushButton, QSpinBox, QVBoxLayout)

from .. import style
from ...engine.run import HISTORY_COLUMNS, HISTORY_FIELDS, history_table
from .base import Panel

#: Milliseconds between two redraws while training (<= 30 frames per second).
FRAME_MS = 33
SAMPLE_CHARS = 200
_TINY = 1e-30


def _nice_up(v: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7.5 times a power of ten that is >= v (v > 0)."""
    e = 10.0 ** np.floor(np.log10(v))
    for m in (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0):
        if m * e >= v * (1 - 1e-12):
            return m * e
    return 10.0 * e


class _Growing:
    """A float array that grows by appending (amortised doubling; no per-frame copies)."""

    def __init__(self):
        self._buf = np.empty(1024)
        self.n = 0

    def clear(self):
        self.n = 0

    def extend(self, values):
        k = len(values)
        if self.n + k > self._buf.size:
            new = np.empty(max(2 * self._buf.size, self.n + k))
            new[:self.n] = self._buf[:self.n]
            self._buf = new
        self._buf[self.n:self.n + k] = values
        self.n += k

    @property
    def values(self) -> np.ndarray:
        return self._buf[:self.n]


class TrainingPanel(Panel):
    key = "loss"
    title = "Training live"
    tab_title = "Training"
    question = 'Does training lower the loss? (run, pause, step)'
    aliases = ('training',)
    view_widgets = ("stop_spin", "temp_spin")
    help_html = (
        "<p><b>Run</b> trains the model in the background at full speed; <b>Pause</b> stops it "
        "after the current update, and the timeline then shows one ordinary iteration at that "
        "point, so you can step through it. <b>Stop after</b> N trains exactly N iterations "
        "(\u221e: until paused).</p>"
        "<p><b>Left</b>: the loss of every iteration (thin grey) and the smoothed loss "
        "(0.999 \u00b7 previous + 0.001 \u00b7 this one, thick blue) against the iteration. "
        "<b>Right</b>: the size of the whole gradient before clipping (orange) and after it "
        "(purple), on a logarithmic axis; where they differ, clipping stopped an explosion. "
        "After a long run (over half a million iterations) neighbouring points are merged to "
        "keep memory bounded: each point is then the mean of 2, 4, 8 ... iterations, as the "
        "iteration axis says.</p>"
        "<p><b>Bottom</b>: text sampled from the model every second or so. Low temperature "
        "picks the likeliest characters, high temperature is more adventurous.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        font = t.font(t.tick_pt)

        def label(text, tip):
            lab = QLabel(text)
            lab.setFont(font)
            lab.setToolTip(tip)
            return lab

        self.run_button = self.editor(QPushButton("\u25b6 Run"))
        self.run_button.setToolTip("Train in the background at full speed until Pause (or for "
                                   "the number of iterations set in 'stop after')")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Stop after the current update; the timeline then shows this "
                                     "iteration step by step")
        self.stop_spin = QSpinBox()
        self.stop_spin.setRange(0, 10_000_000)
        self.stop_spin.setSingleStep(100)
        self.stop_spin.setSpecialValueText("\u221e")
        self.stop_spin.setValue(0)
        self.stop_spin.setToolTip("Run trains this many iterations, then stops by itself "
                                  "(\u221e = until you press Pause)")
        self.temp_spin = QDoubleSpinBox()
        self.temp_spin.setRange(0.1, 2.0)
        self.temp_spin.setSingleStep(0.1)
        self.temp_spin.setDecimals(1)
        self.temp_spin.setValue(1.0)
        self.temp_spin.setToolTip("Sampling temperature: below 1 the likeliest characters win, "
                                  "above 1 the choice is more random")
        self.sample_button = self.editor(QPushButton("Sample now"))
        self.sample_button.setToolTip("Sample text from the model at this iteration (while paused)")
        self.rate_label = label("", "Where training is: iteration, smoothed loss and speed "
                                "(iterations per second while running)")
        self.rate_label.setFont(t.font(t.label_pt, bold=True))
        for w in (self.run_button, self.pause_button, self.stop_spin, self.temp_spin,
                  self.sample_button):
            w.setFont(font)
        self.run_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.sample_button.clicked.connect(self.sample_now)
        self.temp_spin.valueChanged.connect(self._temperature_changed)

        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.run_button)
        top.addWidget(self.pause_button)
        top.addWidget(label("stop after", self.stop_spin.toolTip()))
        top.addWidget(self.stop_spin)
        top.addSpacing(int(12 * t.scale))
        top.addWidget(label("temperature", self.temp_spin.toolTip()))
        top.addWidget(self.temp_spin)
        top.addWidget(self.sample_button)
        top.addStretch(1)

        from ..widgets import ExplainBox
        self.explain = ExplainBox(
            "Smoothed loss falls as the model learns; the gradient size before (orange) and "
            "after (purple) clipping shows when clipping steps in.", t)

        self.view = style.make_layout_widget(t)
        self.view.setToolTip("Left: loss per iteration. Right: gradient norm before/after "
                             "clipping (log scale)")
        self.loss_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.loss_plot, "iteration", "loss")
        self.norm_plot = self.view.addPlot(row=0, col=1)
        style.style_plot(self.norm_plot, "iteration", "gradient norm")
        self.norm_plot.setLogMode(x=False, y=True)
        # Fixed axis widths: ticks like "0.001" or "1e+04" would otherwise widen an axis as
        # training changes the ranges, and the plots beside each other would jump.
        for plot in (self.loss_plot, self.norm_plot):
            plot.getAxis("left").setWidth(int(80 * t.scale))
        # The key sits above the plots: legends inside them covered the curves and the
        # "no training yet" note.
        # One key per plot, shown with its plot (on a short view the pager shows one at a time).
        self.loss_key = style.key_label([(t.muted, "─", "loss"), (t.forward, "━", "smoothed loss")],
                                        t, prefix="loss: ")
        self.norm_key = style.key_label([(t.raw, "━", "before clipping"),
                                         (t.clipped, "━", "after clipping")], t,
                                        prefix="gradient norm: ")
        keys = QHBoxLayout()
        keys.setContentsMargins(0, 0, 0, 0)
        keys.addWidget(self.loss_key, 1)
        keys.addWidget(self.norm_key, 1)
        self.loss_curve = pg.PlotDataItem([], [], pen=pg.mkPen(t.muted, width=1), name="loss")
        self.smooth_curve = pg.PlotDataItem([], [], pen=t.pen(t.forward, 3), name="smoothed loss")
        self.before_curve = pg.PlotDataItem([], [], pen=t.pen(t.raw, 2), name="before clipping")
        self.after_curve = pg.PlotDataItem([], [], pen=t.pen(t.clipped, 2), name="after clipping")
        for curve in (self.loss_curve, self.before_curve, self.after_curve):
            # Noisy thin lines: antialiasing makes no visible difference but costs paint time.
            curve.opts["antialias"] = False
            curve.curve.opts["antialias"] = False
        for curve in (self.loss_curve, self.smooth_curve, self.before_curve, self.after_curve):
            # Live curves must be cheap to paint (the GUI holds the GIL while Qt rasterises):
            # at most ~1 bin per pixel (2 peaks), and thick lines drawn as segments, which Qt
            # rasterises about 7x faster than one long antialiased path.
            curve.opts["autoDownsampleFactor"] = 1.0
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            curve.curve.setSegmentedLineMode("on")
        # The smoothed loss is smooth: one sample per pixel draws it exactly as well.
        self.smooth_curve.setDownsampling(auto=True, method="subsample")
        self.loss_plot.addItem(self.loss_curve)
        self.loss_plot.addItem(self.smooth_curve)
        # Before the first update the plots are empty: say what fills them (an exported
        # picture of empty axes explained nothing).
        self.empty_text = style.PlotMessage(
            self.loss_plot, "No training yet: ▶ Run (or Ctrl+T) fills these curves", t=t)
        # (the norms' plot too: on its own page, or beside the loss's, it was empty axes)
        self.norm_empty_text = style.PlotMessage(
            self.norm_plot, "Training adds each update's gradient norm here", t=t)
        self.empty_texts = [self.empty_text, self.norm_empty_text]
        self.norm_plot.addItem(self.before_curve)
        self.norm_plot.addItem(self.after_curve)

        self.sample_box = QPlainTextEdit()
        self.sample_box.setReadOnly(True)
        self.sample_box.setFont(t.font(t.mono_pt, mono=True))
        self.sample_box.setToolTip("Text sampled from the model (200 characters)")
        # Three whole lines of sample (3.4 showed a 4th line cut in half): enough to read,
        # and the curves keep the room; the rest scrolls.
        box = self.sample_box
        self._sample_lines_h = (3 * box.fontMetrics().lineSpacing()
                                + int(round(2 * box.document().documentMargin()))
                                + box.contentsMargins().top() + box.contentsMargins().bottom())
        self.sample_box.setMaximumHeight(self._sample_lines_h)
        self.sample_box.setPlaceholderText("Sampled text appears here.")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        self.rate_label.setContentsMargins(6, 0, 6, 0)
        lay.addWidget(self.rate_label)
        lay.addWidget(self.explain)
        lay.addLayout(keys)
        from ..reflow import PlotFlow
        self.plot_flow = PlotFlow(self.view, [[self.loss_plot], [self.norm_plot]], rows=[[0, 1]],
                                  names=["loss", "norm"],
                                  tips=["loss per iteration", "gradient norm before and after clipping"],
                                  extras={0: [self.loss_key], 1: [self.norm_key]})
        # The curves and the sampled text: one over the other in a tall view, side by side
        # in a short, wide one (a projector), where three lines of text would take the plots'
        # room.
        self.body = QBoxLayout(QBoxLayout.TopToBottom)
        self.body.setSpacing(4)
        self.body.addLayout(self.plot_flow.row(), 1)
        self.body.addWidget(self.sample_box)
        lay.addLayout(self.body, 1)

        self.hist = {k: _Growing() for k in HISTORY_FIELDS}
        self.hist_stride = 1           # iterations per history entry (see engine History)
        self._labelled_stride = 1      # the stride the iteration axes name
        self._ranges = {}
        self._run_serial = None
        self._data_dirty = False
        self._rate_marks = []          # (time, iteration) of recent progress signals
        self.iteration = session.iteration if session.has_run else 0
        self.smooth_loss = float("nan")
        self.rate = 0.0
        self.sample_text = ""
        self._sampled_at = None        # (iteration, temperature) of the shown sample
        self.frame_timer = QTimer(self)
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self._frame)
        self.frames = 0

        c = self.controller
        if c is not None:
            self.listen(c.sigProgress, self._on_progress)
            self.listen(c.sigSample, self._on_sample)
            self.listen(c.sigDiverged, self._on_diverged)
            self.listen(c.sigStopped, self._on_stopped)
        else:
            self.run_button.setToolTip("Training runs from the window (Run ▸ Train)")
        self._set_buttons(session.busy)
        self._set_live_pens(session.busy)
        if session.busy:
            self.frame_timer.start()

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        side = self.height() < 620 and self.width() > 800
        if side != (self.body.direction() == QBoxLayout.LeftToRight):
            self.body.setDirection(QBoxLayout.LeftToRight if side else QBoxLayout.TopToBottom)
            self.body.setStretch(0, 3 if side else 1)
            self.body.setStretch(1, 1 if side else 0)
            self.sample_box.setMaximumHeight(16777215 if side else self._sample_lines_h)
        # (at every resize: set once when the box went beside the plots, it kept 30 % of the
        # width it had then, however wide the view grew)
        width = int(self.width() * 0.3) if side else 16777215
        if self.sample_box.maximumWidth() != width:
            self.sample_box.setMaximumWidth(width)

    # --- controls -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.session.busy

    def start(self):
        if self.controller is None:
            return
        n = self.stop_spin.value()
        self.controller.set_temperature(self.temp_spin.value())
        self.controller.start(n if n > 0 else None)

    def pause(self):
        if self.controller is not None:
            self.controller.pause()

    def _temperature_changed(self, value):
        if self.controller is not None:
            self.controller.set_temperature(value)
        if not self.running:
            self.sample_now()

    def sample_now(self):
        """Sample text in the GUI thread (only while paused: the worker owns the run)."""
        if self.running or not self.session.has_run or not hasattr(self.session.run, "sample_text"):
            return
        run = self.session.run
        temp = self.temp_spin.value()
        text = run.sample_text(SAMPLE_CHARS, temp, seed=run.iteration)
        self._show_sample(run.iteration, temp, text)

    def _show_sample(self, iteration, temperature, text):
        self.sample_text = text
        self._sampled_at = (iteration, temperature)
        self.sample_box.setPlainText(f"[iteration {iteration}, temperature {temperature:.1f}]\n{text}")

    # --- from the controller ------------------------------------------------------------
    def _set_buttons(self, running: bool):
        # Run and Sample are session editors (the base class disables them while training).
        self.pause_button.setEnabled(running and self.controller is not None)

    def _set_live_pens(self, running: bool):
        """Thick gradient-norm lines cost ~1.5 ms each per frame to rasterise (time the
        training thread cannot run): while training they are drawn 1 px wide, thick again
        when paused."""
        t = self._theme
        width = 1 if running else 2
        self.before_curve.setPen(pg.mkPen(t.raw, width=width * (1 if running else t.scale)))
        self.after_curve.setPen(pg.mkPen(t.clipped, width=width * (1 if running else t.scale)))

    def on_busy(self, running: bool):
        self._set_buttons(running)
        self._set_live_pens(running)
        if running:
            self._resync()  # the history published when the loan began
            self._rate_marks = [(time.perf_counter(), self.iteration)]
            self.frame_timer.start()
        else:
            self.frame_timer.stop()

    def _on_progress(self, iteration: int, smooth_loss: float, new: dict):
        start, stride = new.get("start"), new.get("stride", 1)
        if start == 0 and stride != self.hist_stride:  # the history was compacted: all of it
            for k in HISTORY_FIELDS:
                self.hist[k].clear()
            self.hist_stride = stride
        if start != self.hist["loss"].n or stride != self.hist_stride:
            return  # stale (already re-read from the run) or for another run
        for k in HISTORY_FIELDS:
            self.hist[k].extend(new[k])
        self.iteration, self.smooth_loss = iteration, smooth_loss
        now = time.perf_counter()
        self._rate_marks.append((now, iteration))
        while len(self._rate_marks) > 2 and now - self._rate_marks[0][0] > 1.0:
            self._rate_marks.pop(0)
        t0, i0 = self._rate_marks[0]
        if now > t0:
            self.rate = (iteration - i0) / (now - t0)
        self._data_dirty = True  # drawn by the next frame, never here

    def _on_sample(self, iteration, temperature, text):
        self._show_sample(iteration, temperature, text)

    def _on_diverged(self, iteration: int, message: str):
        QMessageBox.warning(
            self, "Training diverged",
            f"{message}.\n\nTraining stopped at iteration {iteration}. Nothing needs restoring: "
            f"the run has kept the last good parameters (from before iteration {iteration}), "
            "and the timeline now shows that iteration. Lower the learning rate, turn clipping "
            "on, or undo the last change (Ctrl+Z) before training again.")

    def _on_stopped(self, reason: str):
        self._frame()

    def _frame(self):
        """One coalesced redraw from the latest data (at most every FRAME_MS while training)."""
        if self._data_dirty:
            self._data_dirty = False
            self._draw_curves()
        self._draw_status()
        self.frames += 1

    # --- drawing ------------------------------------------------------------------------
    def _resync(self):
        """Re-read the whole history from the session (the published copy while training)."""
        s = self.session
        h = s.history
        if self._run_serial != s.run_serial or self.hist["loss"].n != len(h.loss) \
                or self.hist_stride != h.stride:
            self._run_serial, self.hist_stride = s.run_serial, h.stride
            for k in HISTORY_FIELDS:
                self.hist[k].clear()
                self.hist[k].extend(getattr(h, k))
            self._data_dirty = True
        self.iteration, self.smooth_loss = s.iteration, s.smooth_loss

    def redraw(self):
        if self.running:
            self._frame()  # the worker owns the run: draw what it sent
            return
        self._resync()
        self._data_dirty = False
        self._draw_curves()
        self._draw_status()
        if self._sampled_at is None or self._sampled_at[0] != self.iteration:
            self.sample_now()

    def _draw_curves(self):
        n = self.hist["loss"].n
        for message in self.empty_texts:
            message.setVisible(n == 0)
        stride = self.hist_stride  # an entry is the mean of `stride` iterations: at their centre
        if stride != self._labelled_stride:
            self._labelled_stride = stride
            t = self._theme
            text = "iteration" if stride == 1 else f"iteration (a point: mean of {stride:,})"
            for plot in (self.loss_plot, self.norm_plot):
                plot.setLabel("bottom", text, color=t.foreground,
                              **{"font-size": f"{t.pt(t.label_pt):.0f}pt"})
        x = np.arange(n, dtype=float) * stride + (stride - 1) / 2
        loss, smooth = self.hist["loss"].values, self.hist["smooth_loss"].values
        before = self.hist["grad_norm_before_clip"].values
        after = self.hist["grad_norm_after_clip"].values
        self.loss_curve.setData(x, loss)
        self.smooth_curve.setData(x, smooth)
        self.before_curve.setData(x, np.maximum(before, _TINY))
        self.after_curve.setData(x, np.maximum(after, _TINY))
        # Ranges move in "nice" steps only, so the axes (costly to redraw) rarely change.
        self._set_range(self.loss_plot, "x", 0.0, _nice_up(max(float(n * stride), 10.0)))
        self._set_range(self.norm_plot, "x", 0.0, _nice_up(max(float(n * stride), 10.0)))
        if n:
            finite = loss[np.isfinite(loss)]
            top = max(float(finite.max()) if finite.size else 1.0,
                      float(np.nanmax(smooth)) if np.isfinite(smooth).any() else 1.0)
            self._set_range(self.loss_plot, "y", 0.0, _nice_up(top * 1.02) if top > 0 else 1.0)
            both = np.concatenate([before, after])
            both = both[np.isfinite(both) & (both > 0)]
            if both.size:
                lo, hi = np.log10(both.min()), np.log10(both.max())
                self._set_range(self.norm_plot, "y", float(np.floor(lo - 0.1)),
                                float(np.ceil(hi + 0.1)))
        else:
            # up to the loss training starts from (0..1 beside "smooth loss 101.938" read
            # as a contradiction)
            start = self.smooth_loss if np.isfinite(self.smooth_loss) and self.smooth_loss > 0 else 1.0
            self._set_range(self.loss_plot, "y", 0.0, _nice_up(start * 1.02))
            self._set_range(self.norm_plot, "y", -3.0, 2.0)

    def _set_range(self, plot, axis, lo, hi):
        # A loss near the float maximum rounds up to inf (1.02 * 1.7e308): keep the last
        # range rather than raise from pyqtgraph (found by the 10,000-action monkey).
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            return
        key = ("loss" if plot is self.loss_plot else "norm", axis)
        if self._ranges.get(key) == (lo, hi):
            return
        self._ranges[key] = (lo, hi)
        (plot.setXRange if axis == "x" else plot.setYRange)(lo, hi, padding=0)

    def _draw_status(self):
        state = "training" if self.running else "paused"
        sl = f"{self.smooth_loss:.3f}" if np.isfinite(self.smooth_loss) else "\u2013"
        rate = f"{self.rate:,.0f} it/s" if self.running else "\u2013 it/s"
        self.rate_label.setText(f"{state}: iteration {self.iteration:,}, smooth loss {sl}, {rate}")

    def export_widget(self):
        return self.view

    def csv_tables(self):
        if not self.running:
            self._resync()
        table = history_table({k: self.hist[k].values.copy() for k in HISTORY_FIELDS},
                              self.hist_stride)
        return {"": (list(HISTORY_COLUMNS), table)}

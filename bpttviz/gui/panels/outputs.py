"""Output probabilities p_t (vocabulary x time) with the targets marked, and the loss per step."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtGui import QFontMetrics
from PyQt5.QtWidgets import QVBoxLayout

from .. import style
from .base import Panel


def label_rows(V: int, step: int, targets, current_t=None) -> list:
    """The rows of the character axis to label when only one in ``step`` fits: the rows the
    window's targets are marked in come first (the current step's target before the others),
    then the regular grid, each kept only if no kept row is closer than ``step`` rows.  A
    regular grid alone labelled every 4th character, so a target marked in an unlabelled
    row was read as the labelled row beside it (a space as '\\n')."""
    targets = [int(c) for c in np.asarray(targets).ravel() if 0 <= int(c) < V]
    first = [int(targets[current_t])] if current_t is not None and 0 <= current_t < len(targets) else []
    order = first + sorted(set(targets) - set(first)) + list(range(0, V, step))
    kept: list = []
    for row in order:
        if all(abs(row - k) >= step for k in kept):
            kept.append(row)
    return sorted(kept)


class OutputsPanel(Panel):
    key = "outputs"
    title = "Outputs and loss"
    tab_title = "Outputs"
    question = 'What does the network predict at each step, and how wrong is it?'
    help_html = (
        "<p><b>Top</b>: the probability p_t[c] the model gives to each character c (rows) "
        "as the next character, for each timestep t (columns, labelled with the input "
        "character x_t). Colour: dark purple = 0, yellow = 1. The <b>ringed cell</b> in each "
        "column is the target (the character that really comes next): training pushes it "
        "towards yellow. Grey columns are not computed yet.</p>"
        "<p><b>Bottom</b>: the loss of each step, -log p_t[target_t], in nats. The dashed line "
        "is ln V, the loss of a uniform guess. Hover a cell to read p, the logit and the "
        "formula.</p>"
        "<p>The line under the plots gives the sum of the bars so far (the window's loss once "
        "every step is computed) and ln V.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self.view = style.make_layout_widget(t)
        self.view.setToolTip("Hover a cell: probability, logit and formula")
        self.plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.plot, "input character x_t (timestep →)", "next character c")
        self.heatmap = style.Heatmap(self.plot, style.sequential_cmap(), (0, 1), "p_t[c]",
                                     describe=self.describe_cell, on_hover=self._show_hover,
                                     insert_bar=False)
        self.view.addItem(self.heatmap.bar, row=0, col=1)
        ring_pen = pg.mkPen("#000000", width=3.0 * t.scale)
        self.targets_outer = pg.ScatterPlotItem(symbol="s", pen=ring_pen, brush=None, size=14,
                                                pxMode=True)
        self.targets_inner = pg.ScatterPlotItem(symbol="s", pen=pg.mkPen("#ffffff", width=1.5 * t.scale),
                                                brush=None, size=9, pxMode=True)
        for it in (self.targets_outer, self.targets_inner):
            it.setZValue(5)
            self.plot.addItem(it)
        # The current step's target named beside its ring: the character axis can label only
        # one row in several (60 rows in a projector's 300 px), so the ring alone left the
        # class guessing which character it marks.
        fill = pg.mkColor(t.background)
        fill.setAlpha(215)   # (the rings it covers in the backward pass still show through)
        self.target_tag = pg.TextItem("", color=t.foreground, anchor=(0, 0.5),
                                      fill=pg.mkBrush(fill), border=t.pen(t.foreground, 1))
        self.target_tag.setFont(t.font(t.tick_pt, bold=True))
        self.target_tag.setZValue(7)
        self.target_tag.setVisible(False)
        self.plot.addItem(self.target_tag)
        # (its side depends on the plot's width in pixels: placed again when that changes)
        self.plot.vb.sigResized.connect(self._on_plot_resized)
        self.loss_plot = self.view.addPlot(row=1, col=0)
        style.style_plot(self.loss_plot, "timestep t", "loss (nats)")
        self.loss_plot.setXLink(self.plot)
        from ..reflow import PlotFlow
        # Tall: the probabilities over the per-step losses; wide and short: side by side.
        self.plot_flow = PlotFlow(self.view, [[self.plot, self.heatmap.bar], [self.loss_plot]],
                                  stretch=[3, 1], side_stretch=[2, 1],
                                  x_links=[(self.loss_plot, self.plot)],
                                  names=["probabilities", "loss"],
                                  tips=["p_t of every character per step", "loss per step"])
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.75, brush=t.forward,
                                    pen=pg.mkPen(t.foreground, width=1))
        self.loss_plot.addItem(self.bars)
        self.uniform = pg.InfiniteLine(angle=0, pen=t.pen("#555555", 2, style=pg.QtCore.Qt.DashLine))
        self.loss_plot.addItem(self.uniform)
        self.uniform.setZValue(5)  # over the bars: an untrained model's bars all reach it
        # "ln V" is a tick on the right axis and the sum is a line under the plots: as texts
        # inside a short loss plot they sat on the bars or were cut off at its top.
        right = self.loss_plot.getAxis("right")
        self.loss_plot.showAxis("right")
        fm = QFontMetrics(t.font(t.tick_pt))
        self._right_w = int(fm.horizontalAdvance("ln V") + 14 * t.scale)
        for plot in (self.plot, self.loss_plot):
            if plot is self.plot:
                plot.showAxis("right")
            ax = plot.getAxis("right")
            ax.setWidth(self._right_w)
            ax.setTickFont(t.font(t.tick_pt))
            ax.setTextPen(t.pen(t.foreground, 1))
            ax.setPen(t.pen(t.foreground, 1.2) if plot is self.loss_plot else
                      pg.mkPen(None))
            ax.setStyle(tickTextOffset=int(4 * t.scale))
            if plot is self.plot:   # an empty twin, so the two plots' x axes line up
                ax.setStyle(showValues=False, tickLength=0)
                ax.setTicks([[], []])
        self.uniform_axis = right
        self.loss_sum = style.readout_label("", t, mono=False)
        self.plot_flow.extras[1] = [self.loss_sum]  # the loss plot's line: shown with it
        self.loss_sum.setToolTip("The window's loss is the sum of the bars; the dashed line is "
                                 "ln V, the loss of a uniform guess over the V characters")
        self.loss_cursor = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.loss_plot.addItem(self.loss_cursor)
        # behind the bars: over them, the full-height line hid the current step's bar and
        # read as a taller one
        self.loss_cursor.setZValue(-5)
        self.readout = style.readout_label("Hover a cell to see p, the logit and the formula.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(self.plot_flow.row(), 1)
        lay.addWidget(self.loss_sum)
        lay.addWidget(self.readout)
        self._trace_serial = None
        self._tick_key = None
        self._ticks_set = {}
        self.data = np.zeros((0, 0))
        # Align the two plots' left edges (the heatmap's axis labels are characters).
        self.plot.getAxis("left").setWidth(int(64 * t.scale))
        self.loss_plot.getAxis("left").setWidth(int(64 * t.scale))
        self.plot_flow.sigReflowed.connect(self._on_arrangement)
        # The "␣" of a space hangs below the baseline: room for it above the axis title
        # (both plots alike, so side by side their x axes stay level).
        for plot in (self.plot, self.loss_plot):
            style.room_for_descenders(plot.getAxis("bottom"), t)

    def _on_arrangement(self):
        # The heatmap's empty right axis lines its x axis up with the loss plot's below it
        # ("ln V"); side by side it only pushed the colour bar away from its heatmap.
        stacked = self.plot_flow.arrangement in ("rows", "column")
        if self.plot.getAxis("right").isVisible() != stacked:
            self.plot.showAxis("right", stacked)

    def on_reflow(self):
        self._show_every_step()

    def _show_every_step(self):
        T = self.session.trace.T
        self.plot_flow.set_x_range([self.plot, self.loss_plot], -0.5, T - 0.5)

    def _new_trace(self, tr):
        T, V = tr.T, tr.vocab_size
        self.heatmap.set_shape(V, T)
        top = max(float(np.max(tr.losses)), math.log(V)) * 1.12
        self.loss_plot.setYRange(0, top, padding=0)
        # Both plots span every step (linked when stacked, side by side each on its own).
        self._show_every_step()
        self.uniform.setPos(math.log(V))
        self.uniform_axis.setTicks([[(math.log(V), "ln V")], []])
        self._tick_key = None

    def _update_ticks(self, tr):
        """Characters on both axes, thinned to fit the plot's size (big fonts first)."""
        vocab = self.session.vocab
        vb = self.plot.vb.boundingRect()
        T, V = tr.T, tr.vocab_size
        cur = self.session.state.current_t
        key = (self.session.trace_serial, int(vb.width()) // 20, int(vb.height()) // 20, cur)
        if key == self._tick_key:
            return
        self._tick_key = key
        px_row = max(vb.height(), 1) / V
        # one label per line height of the axis' own font (20 px let presentation-size
        # labels overlap: ';', ':' and 'C' at 1280x720)
        from PyQt5.QtGui import QFontMetrics
        axis = self.plot.getAxis("left")
        line = QFontMetrics(axis.style["tickFont"] or axis.font()).height()
        step_v = max(1, math.ceil(max(20, line) / px_row)) if V > 12 else 1
        if V > 40:
            step_v = max(step_v, 2)
        left = [(i, vocab.label(i)) for i in label_rows(V, step_v, tr.targets, cur)]
        px_col = max(vb.width(), 1) / T
        step_t = max(1, math.ceil(16 / px_col))
        bottom = [(t, vocab.label(i) if i >= 0 else "∅") for t, i in enumerate(tr.inputs)][::step_t]
        # (setting ticks redraws the axis: ~1.5 ms a step for the unchanged bottom one)
        for name, ticks in (("left", left), ("bottom", bottom)):
            if self._ticks_set.get(name) != ticks:
                self._ticks_set[name] = ticks
                self.plot.getAxis(name).setTicks([ticks, []])

    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        if self.session.trace_serial != self._trace_serial:
            self._trace_serial = self.session.trace_serial
            self._new_trace(tr)
        self._update_ticks(tr)
        n = st.forward_count
        data = np.full((tr.vocab_size, tr.T), np.nan)
        data[:, :n] = tr.p[:n].T
        self.data = data
        self.heatmap.set_data(data)
        self.heatmap.set_cursor(st.current_t)
        xs = np.arange(n, dtype=float)
        ys = tr.targets[:n].astype(float)
        self.targets_outer.setData(xs, ys)
        self.targets_inner.setData(xs, ys)
        self._tag_target(tr, st.current_t, n)
        self.bars.setOpts(x=xs, height=tr.losses[:n], width=0.75)
        if st.current_t is None:
            self.loss_cursor.setVisible(False)
        else:
            self.loss_cursor.setVisible(True)
            self.loss_cursor.setPos(st.current_t)
        total = float(np.sum(tr.losses[:n]))
        V = tr.vocab_size
        # An untrained model guesses p ≈ 1/V everywhere: the map is one flat colour, say why
        flat = n > 0 and float(np.max(tr.p[:n])) < 2.0 / V
        self.loss_sum.setText(f"Loss plot: sum so far = {total:.3f} ({n} of {tr.T} "
                              f"steps); dashed line: ln V = {math.log(V):.3f}, a "
                              "uniform guess." + (f" Every p ≈ 1/V = {1 / V:.3f}: the model "
                                                  "is untrained (Ctrl+T, or ▶ Run in Training, trains it)." if flat else ""))

    def _on_plot_resized(self, *_):
        if not self._dirty and self.session is not None and self.session.has_run:
            st = self.session.state
            # the heatmap's height changes without the panel's (another arrangement of its
            # plots): the character labels thinned for the old height overlapped
            self._update_ticks(self.session.trace)
            self._tag_target(self.session.trace, st.current_t, st.forward_count)

    def _tag_target(self, tr, t, n):
        """Name the ringed target of step t (computed steps only), on the side with room."""
        if t is None or not 0 <= t < n:
            self.target_tag.setVisible(False)
            return
        tgt = int(tr.targets[t])
        text = f"target '{self.session.vocab.label(tgt)}'  p = {tr.p[t, tgt]:.3f}"
        if text != self.target_tag.textItem.toPlainText():   # (a new layout of the text
            self.target_tag.setText(text)                      # costs a ms a step)
        # To the right while it fits: in the forward pass the columns there are not computed
        # yet (no rings to hide); flipped to the left near the end.
        px, py = self.plot.vb.viewPixelSize()
        width = self.target_tag.boundingRect().width() * (px if px > 0 else 0.0)
        right = t + 0.8 + width <= tr.T - 0.5
        self.target_tag.setAnchor((0, 0.5) if right else (1, 0.5))
        # beside its row, but inside the plot: at the top row ('\n', the dinosaurs' last
        # target) half the tag stood above the heatmap, cut
        half = self.target_tag.boundingRect().height() * (py if py > 0 else 0.0) / 2
        V = tr.p.shape[1]
        y = float(np.clip(tgt, half - 0.5, max(half - 0.5, V - 0.5 - half)))
        self.target_tag.setPos(t + (0.8 if right else -0.8), y)
        self.target_tag.setVisible(True)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._tick_key = None
        if not self._dirty and self.session is not None:
            self._update_ticks(self.session.trace)
            self._show_every_step()

    def _show_hover(self, text):
        self.readout.setText(text)
        self.view.setToolTip(text)

    def describe_cell(self, row: int, col: int) -> str:
        s = self.session
        tr, st, vocab = s.trace, s.state, s.vocab
        k, t = row, col
        if t >= st.forward_count:
            return f"p_{t}['{vocab.label(k)}']: not computed yet (forward step {t} comes later)"
        tgt = int(tr.targets[t])
        mark = "  ← target" if k == tgt else f"  (target '{vocab.label(tgt)}': p = {tr.p[t, tgt]:.4f})"
        return (f"p_{t}['{vocab.label(k)}'] = {tr.p[t, k]:.4f} = exp(y = {tr.logits[t, k]:.3f}) / "
                f"Σ_c exp(y_{t}[c]),  y = Why·h_{t} + by{mark},  loss_{t} = {tr.losses[t]:.3f}")

    def csv_tables(self):
        tr, st, vocab = self.session.trace, self.session.state, self.session.vocab
        n = st.forward_count
        V = tr.vocab_size
        pcols = ["t", "input", "target"] + [f"p[{vocab.label(k)}]" for k in range(V)]
        p = np.column_stack([np.arange(n), tr.inputs[:n], tr.targets[:n], tr.p[:n]]) if n \
            else np.zeros((0, len(pcols)))
        loss = np.column_stack([np.arange(n), tr.losses[:n]]) if n else np.zeros((0, 2))
        return {"probabilities": (pcols, p), "loss": (["t", "loss"], loss)}

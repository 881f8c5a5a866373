"""Where dWhh comes from: the (loss t, step k) parts of the recurrent gradient as a heatmap,
and dWhh accumulating step by step during the backward pass."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF
from PyQt5.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout

from ...explain import step_of, steps
from .. import style
from .base import Panel

#: Decades shown by the log colour scale below the largest part.
LOG_DECADES = 6.0

EXPLAIN = ("<b>Does dL/dWhh depend on all previous timesteps?</b> Yes. Row t is the loss at "
           "step t; it reaches Whh through <i>every</i> step k ≤ t (cells left of the diagonal), "
           "and dWhh is the sum of all these parts. Far-left cells are dark when the gradient "
           "vanishes on its way back. Columns appear right to left as the backward pass runs.")


def explain_label(html: str, t: Optional[style.Theme] = None):
    """A view's explanation (shared by the teaching views): open in the normal window,
    folded in presentation mode (see :class:`bpttviz.gui.widgets.ExplainBox`)."""
    from ..widgets import ExplainBox
    return ExplainBox(html, t)


def legend_for(plot: pg.PlotItem, t: style.Theme, offset=(6, 4), cols: int = 1):
    return plot.addLegend(offset=offset, colCount=cols, labelTextSize=f"{t.pt(t.tick_pt - 1):.0f}pt",
                          labelTextColor=t.foreground, brush=style.legend_brush(t, 215),
                          pen=pg.mkPen("#888888"))


class ContributionsPanel(Panel):
    key = "contrib"
    title = "Where dWhh comes from"
    tab_title = "dWhh"
    question = 'Does dL/dWhh depend on all previous timesteps?'
    view_widgets = ("log_box",)
    help_html = (
        "<p><b>Top</b>: cell (row t, column k) is the size ||part(t, k)|| of the piece of dWhh "
        "that the loss at step t sends through step k (a Frobenius norm). Only k ≤ t is "
        "possible: a loss cannot reach a step that comes after it (white triangle). Colours use "
        "the sequential scale, dark purple = small, yellow = large; with <b>log colour</b> "
        f"ticked the scale covers {LOG_DECADES:.0f} decades below the largest part. Grey "
        "columns are not computed yet: they appear right to left during the backward pass, "
        "all of them from the clip event on. The orange frame is the current step.</p>"
        "<p><b>Bottom</b>: orange bars are each step k's own contribution ||dWhh from step k|| "
        "(summed over all losses); the purple line is the running total ||dWhh|| as the "
        "backward loop holds it after processing step k (it is read right to left). Hover a "
        "cell for its value.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.log_box = QCheckBox("log colour scale")
        self.log_box.setFont(t.font(t.tick_pt))
        self.log_box.setChecked(True)
        self.log_box.setToolTip("Colour the parts by log10 of their size: they span many "
                                "decades, so a linear scale shows only the largest few")
        self.log_box.toggled.connect(self._on_view_option_change)
        self.note = QLabel("")
        self.note.setWordWrap(True)  # a narrow dock wraps it instead of cutting it
        self.note.setFont(t.font(t.tick_pt))
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.log_box)
        top.addSpacing(int(16 * t.scale))
        top.addWidget(self.note, 1)

        self.view = style.make_layout_widget(t)
        self.heat_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.heat_plot, "step k", "loss t")
        self.heatmap = style.Heatmap(self.heat_plot, style.sequential_cmap(), (0.0, 1.0),
                                     "log10 ||part||", describe=self.describe_cell,
                                     on_hover=self._show_hover, insert_bar=False)
        self.view.addItem(self.heatmap.bar, row=0, col=1)
        self.mask = pg.ImageItem(axisOrder="row-major")
        self.mask.setZValue(5)
        self.heat_plot.addItem(self.mask)
        self.bar_plot = self.view.addPlot(row=1, col=0)
        # (the key names both marks; "‖part‖" here, beside the colour bar's "log10 ||part||",
        # read as one crowded label on a projector)
        style.style_plot(self.bar_plot, "step k (backward: right to left)", "norm")
        self.bar_plot.setXLink(self.heat_plot)
        self.bar_plot.getAxis("left").setWidth(int(92 * t.scale))
        self.heat_plot.getAxis("left").setWidth(int(92 * t.scale))
        # Tall: the heatmap over the bars (x linked); wide and short (presentation on a
        # projector): side by side, so neither is squeezed flat.
        from ..reflow import PlotFlow
        # The key sits above the plots (a legend inside the small bar plot covered its data);
        # it names the bar plot's marks, so it shows only while that plot does (in pages, on
        # its page: on the heatmap's page it described a plot not in sight).
        self.plot_key = style.key_label([(t.raw, "■", "step k's own part"),
                                         (t.clipped, "●", "running total ||dWhh||")], t)
        self.plot_flow = PlotFlow(self.view, [[self.heat_plot, self.heatmap.bar], [self.bar_plot]],
                             stretch=[3, 2], x_links=[(self.bar_plot, self.heat_plot)],
                                  names=["parts", "shares"], extras={1: [self.plot_key]})
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=t.raw,
                                    pen=pg.mkPen(t.foreground, width=1))
        self.bar_plot.addItem(self.bars)
        self.total = pg.PlotDataItem([], [], pen=t.pen(t.clipped, 3), symbol="o",
                                     symbolSize=7 * t.scale, symbolBrush=t.clipped, symbolPen=None)
        self.bar_plot.addItem(self.total)
        self.bar_cursor = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.bar_plot.addItem(self.bar_cursor)
        self.empty_text = style.PlotMessage(self.heat_plot, t=t)
        # (the bars' plot too: side by side on a projector it was empty under a key naming
        # its bars and line)
        self.bar_empty_text = style.PlotMessage(self.bar_plot, t=t)

        self.readout = style.readout_label("Hover a cell to read its value.")
        self.explain = explain_label(EXPLAIN, t)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.plot_key)
        lay.addLayout(self.plot_flow.row(), 1)
        lay.addWidget(self.readout)
        lay.addWidget(self.explain)
        self.view.setToolTip("Hover a cell: which loss, which step, and the size of that part of dWhh")

        self._trace_key = None
        self._running = np.zeros(0)
        self.matrix = np.zeros((0, 0))      # drawn ||part(t, k)|| (NaN = not shown)
        self.step_norms = np.zeros(0)       # drawn bar heights (NaN = not shown)
        self.running_total = np.zeros(0)    # drawn running total (NaN = not shown)

    def on_reflow(self):
        T = self.session.trace.T
        self.plot_flow.set_x_range([self.heat_plot, self.bar_plot], -0.5, T - 0.5)

    # --- numbers ----------------------------------------------------------------------------
    def _running_totals(self, tr) -> np.ndarray:
        """(T,) ||accumulated_grad(Whh, k)|| for every k (cached per trace)."""
        key = self.session.trace_serial
        if self._trace_key != key:
            self._trace_key = key
            name = tr.recurrent_name
            self._running = np.array([float(np.linalg.norm(tr.accumulated_grad(name, k)))
                                      for k in range(tr.T)])
        return self._running

    def shown(self):
        """``(matrix (T, T), step_norms (T,), running (T,))`` as drawn at the cursor; NaN for
        what is not computed yet (columns k < backward_from; everything during forward)."""
        s = self.session
        tr, st = s.trace, s.state
        T = tr.T
        matrix = np.full((T, T), np.nan)
        bars = np.full(T, np.nan)
        run = np.full(T, np.nan)
        b = 0 if st.clipped else st.backward_from
        if b < T:
            c = s.contributions()
            matrix[:, b:] = c.norms[:, b:]
            bars[b:] = tr.step_grad_norms(tr.recurrent_name)[b:]
            run[b:] = self._running_totals(tr)[b:]
        return matrix, bars, run

    # --- drawing ----------------------------------------------------------------------------
    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        t = self._theme
        T = tr.T
        c = s.contributions()
        matrix, bars, run = self.shown()
        self.matrix, self.step_norms, self.running_total = matrix, bars, run
        full = c.norms
        top = float(np.max(full)) if full.size else 0.0
        log = self.log_box.isChecked()
        if log:
            hi = np.log10(top) if top > 0 else 0.0
            lo = hi - LOG_DECADES
            shown = np.where(matrix > 0, np.log10(np.where(matrix > 0, matrix, 1.0)), lo)
            shown = np.where(np.isnan(matrix), np.nan, np.maximum(shown, lo))
            self.heatmap.set_levels((lo, hi))
            self.heatmap.bar.axis.setLabel("log10 ||part||", color=t.foreground,
                                           **{"font-size": f"{t.pt(t.label_pt):.0f}pt"})
        else:
            shown = matrix
            self.heatmap.set_levels((0.0, top if top > 0 else 1.0))
            self.heatmap.bar.axis.setLabel("||part||", color=t.foreground,
                                           **{"font-size": f"{t.pt(t.label_pt):.0f}pt"})
        # Cells above the diagonal (k > t) can never hold anything: white, not "pending" grey.
        shown = np.where(np.tril(np.ones((T, T), dtype=bool)), shown, np.nan)
        self.heatmap.set_data(shown)
        mask = np.zeros((T, T, 4), dtype=np.ubyte)
        bg = pg.mkColor(t.background)
        mask[np.triu(np.ones((T, T), dtype=bool), 1)] = (bg.red(), bg.green(), bg.blue(), 255)
        self.mask.setImage(mask, autoLevels=False)
        self.mask.setRect(QRectF(-0.5, -0.5, T, T))
        self.heatmap.set_cursor(st.current_t if st.in_backward and st.current_t is not None else None)
        # Axis ticks: pyqtgraph's own, spaced for the plot's width in pixels (a fixed "every
        # second step" ran together as "10121416" on a projector's narrow plot).

        x = np.arange(T, dtype=float)
        ok = np.isfinite(bars)
        self.bars.setOpts(x=x[ok], height=bars[ok], width=0.7)
        self.total.setData(x[ok], run[ok])
        ymax = max(float(np.max(tr.step_grad_norms(tr.recurrent_name))) if T else 0.0,
                   float(np.max(self._running_totals(tr))) if T else 0.0, 1e-12)
        self.bar_plot.setYRange(0, ymax * 1.6, padding=0)
        if st.in_backward and st.current_t is not None:
            self.bar_cursor.setPos(st.current_t)
            self.bar_cursor.setVisible(True)
        else:
            self.bar_cursor.setVisible(False)

        if not st.in_backward:
            # (no line breaks of their own: the message wraps to its plot's width, and a
            # fixed break left "pass" alone on a line)
            self.empty_text.setText("Filled during the backward pass (step forward or press End)")
            self.bar_empty_text.setText("Each step's part and the running total come in the "
                                        "backward pass")
        for message in (self.empty_text, self.bar_empty_text):
            message.setVisible(not st.in_backward)
        if st.clipped:
            self.note.setText(style.unbroken_norms(
                f"All {T} steps back-propagated: ||dWhh|| = {run[0]:.4g}"))
        elif st.in_backward:
            b = st.backward_from
            self.note.setText(style.unbroken_norms(f"Backward at step {b}: {steps(b, T - 1)} "
                                                   f"added, ||dWhh so far|| = {run[b]:.4g}"))
        else:
            self.note.setText(f"Forward pass ({step_of(st.current_t, T)}): no gradient yet")

    def _show_hover(self, text):
        self.readout.setText(text)

    def describe_cell(self, row: int, col: int) -> str:
        t, k = row, col
        if k > t:
            return f"loss t={t}, step k={k}: impossible (the loss at {t} comes before step {k})"
        v = self.matrix[t, k] if self.matrix.shape == (self.session.trace.T,) * 2 else np.nan
        if np.isnan(v):
            return f"loss t={t}, step k={k}: not back-propagated yet (step {k} comes later in backward)"
        return (f"loss at t={t} through step k={k} (distance {t - k}): "
                f"||part of dWhh|| = {v:.4g}")

    def csv_tables(self):
        matrix, bars, run = self.shown()
        T = matrix.shape[0]
        cols = ["t"] + [f"k={k}" for k in range(T)]
        mat = np.column_stack([np.arange(T), matrix]) if T else np.zeros((0, 1))
        by = np.column_stack([np.arange(T), bars, run]) if T else np.zeros((0, 3))
        return {"contrib_matrix": (cols, mat),
                "contrib_by_step": (["k", "step_part_norm", "running_total_norm"], by)}

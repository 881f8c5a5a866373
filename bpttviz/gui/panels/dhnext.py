"""The gradient flowing back through time: ||dhnext_t||, the dhnext heatmap, and dh_t split
into the part from step t's own loss and the part from the future."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout

from .. import style
from .base import Panel

_TINY = 1e-30
#: What the panel says at t = T-1, where no later step sends a gradient back.
NO_FUTURE = "nothing comes from the future at the last step"


class DhnextPanel(Panel):
    key = "dhnext_flow"
    title = "Gradient flow back in time"
    tab_title = "dhnext"
    question = 'How does the gradient flow back from step to step?'
    aliases = ('dhnext',)
    view_widgets = ("log_box",)
    help_html = (
        "<p><b>Top left</b>: ||dhnext_t||, the size of the gradient step t sends back to "
        "h_{t-1}. It fills <b>right to left</b> as the backward pass runs. If it shrinks "
        "towards the left the gradient <i>vanishes</i> (early inputs barely learn); if it grows "
        "it <i>explodes</i>. Tick <b>log scale</b> to see many orders of magnitude.</p>"
        "<p><b>Top right</b>: ||dh_t||, the total gradient at h_t, and its two sources: from step "
        "t's own loss (Whyᵀ·dy_t, orange) and from the future (the dhnext of step t+1, purple). "
        "At the last step t = T−1 nothing comes from the future: dh = Whyᵀ·dy.</p>"
        "<p><b>Bottom</b>: every entry of dhnext_t (rows: hidden unit, columns: t); blue "
        "negative, red positive, on a symmetric range fixed for this window. Hover a cell for "
        "its value and formula.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.log_box = QCheckBox("log scale")
        self.log_box.setFont(t.font(t.tick_pt))
        self.log_box.setToolTip("Show the norms on a logarithmic axis (vanishing and exploding "
                                "gradients span many orders of magnitude)")
        self.log_box.toggled.connect(self._log_toggled)
        self.note = QLabel("")
        self.note.setFont(t.font(t.tick_pt))
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.log_box)
        top.addSpacing(int(20 * t.scale))   # ("log scale dhnext colour range ..." read as one)
        top.addWidget(self.note, 1)
        style.shrinkable(self.note)
        self.note.setWordWrap(True)  # (shrunk without wrapping, it was cut at 1600x900)
        self.note.setToolTip("The heatmap's colour range, fixed for this window")
        self.view = style.make_layout_widget(t)
        self.norm_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.norm_plot, "timestep t", "||dhnext||")
        self.split_plot = self.view.addPlot(row=0, col=1)
        style.style_plot(self.split_plot, "timestep t", "||dh||")
        self.heat_plot = self.view.addPlot(row=1, col=0, colspan=2)
        style.style_plot(self.heat_plot, "timestep t", "hidden unit")
        # Left axes wide enough for "0.0005" beside the axis title (they touched at 18 pt).
        for plot in (self.norm_plot, self.split_plot):
            style.room_for_ticks(plot.getAxis("left"), "0.0005", t)
        from ..reflow import PlotFlow
        # Tall: the two norm plots over the heatmap; wide and short: all three in a row.
        self.plot_flow = PlotFlow(self.view, [[self.norm_plot], [self.split_plot], [self.heat_plot]],
                                  rows=[[0, 1], [2]], side_stretch=[1, 1, 2],
                                  x_links=[(self.split_plot, self.norm_plot)],
                                  names=["||dhnext||", "split", "heatmap"],
                                  tips=["||dhnext_t|| per step", "||dh_t|| split: from its own loss and from the future",
                                        "dhnext_t, unit by unit"])
        sym = dict(symbol="o", symbolSize=8 * t.scale)
        self.norm_curve = pg.PlotDataItem([], [], pen=t.pen(t.backward, 3), symbolBrush=t.backward,
                                          symbolPen=None, **sym)
        self.norm_plot.addItem(self.norm_curve)
        # A TextItem, not the plot title: changing a title re-lays out the whole view.
        self.norm_text = pg.TextItem("", color=t.foreground, anchor=(0, 0))
        self.norm_text.setFont(t.font(t.tick_pt - 1))
        self.norm_text.setZValue(4)
        self.norm_plot.addItem(self.norm_text)
        self.norm_cursor = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.norm_plot.addItem(self.norm_cursor)
        self.total_curve = pg.PlotDataItem([], [], pen=t.pen(t.foreground, 2, Qt.DashLine),
                                           name="total ||dh_t||")
        self.out_curve = pg.PlotDataItem([], [], pen=t.pen(t.raw, 3), symbolBrush=t.raw,
                                         symbolPen=None, name="from own loss", **sym)
        self.fut_curve = pg.PlotDataItem([], [], pen=t.pen(t.clipped, 3), symbolBrush=t.clipped,
                                         symbolPen=None, symbol="t", symbolSize=9 * t.scale,
                                         name="from future")
        for c in (self.total_curve, self.out_curve, self.fut_curve):
            self.split_plot.addItem(c)
        self.split_cursor = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.split_plot.addItem(self.split_cursor)
        self.heatmap = style.Heatmap(self.heat_plot, style.diverging_cmap(), (-1, 1), "dhnext",
                                     describe=self.describe_cell, on_hover=self._show_hover)
        # In the forward pass the three plots are empty: each says why, in its middle (a
        # corner note alone read as a broken plot from the back of the room)
        self.empty_texts = [style.PlotMessage(p, "dhnext comes in the backward pass:\nstep on, or press End",
                                              t=t)
                            for p in (self.norm_plot, self.split_plot, self.heat_plot)]
        self.readout = style.readout_label("Hover a heatmap cell to see its value and formula.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        # The ||dh|| plot's key, outside it: in the small top-right plot a legend covered the
        # tops of the curves.
        self.key_label = style.key_label(self._key_entries(False), t, prefix="||dh|| split: ")
        self.plot_flow.extras[1] = [self.key_label]
        # The colour range and the hover read-out are the heatmap's: in pages, on its page
        # only (beside the ||dhnext|| line they spoke of a heatmap not in sight)
        self.plot_flow.extras[2] = [self.note, self.readout]
        self._key_last = False
        lay.addLayout(top)
        lay.addWidget(self.key_label)
        lay.addLayout(self.plot_flow.row(), 1)
        lay.addWidget(self.readout)
        self._trace_serial = None
        self.data = np.zeros((0, 0))

    def _key_entries(self, last: bool):
        """The ||dh|| plot's key; at the last step nothing comes from the future, and the key
        says so instead of naming a source that is not there."""
        t = self._theme
        fut = (NO_FUTURE if last else "from future")
        return [(t.foreground, "╌╌", "total ||dh_t||"), (t.raw, "●", "from own loss"),
                (t.clipped, "▼", fut)]

    def _set_key(self, last: bool):
        if last != self._key_last:
            self._key_last = last
            self.key_label.setText(style.key_html(self._key_entries(last), "||dh|| split: "))

    # --- ranges fixed per trace (no flicker while stepping) --------------------------------
    def _new_trace(self, tr):
        T = tr.T
        self.norms = np.linalg.norm(tr.dhnext, axis=1)
        self.n_out = np.linalg.norm(tr.dh_from_output, axis=1)
        self.n_fut = np.linalg.norm(tr.dh_from_future, axis=1)
        self.n_dh = np.linalg.norm(tr.dh, axis=1)
        m = float(np.max(np.abs(tr.dhnext))) if tr.dhnext.size else 0.0
        m = m if m > 0 else 1.0
        self.heatmap.set_levels((-m, m))
        self._range_text = style.unbroken_norms(
            f"dhnext colour range ±{m:.3g} (largest |entry| this window)")
        for p in (self.norm_plot, self.split_plot):
            p.setXRange(-0.5, T - 0.5, padding=0)
        self._set_y_ranges()

    def on_reflow(self):
        # a plot hidden by the pager, linked by pixels, once dragged the other's range to
        # -30..40 of 25 steps: put the steps back
        T = self.session.trace.T
        self.plot_flow.set_x_range([self.norm_plot, self.split_plot], -0.5, T - 0.5)

    def _set_y_ranges(self):
        log = self.log_box.isChecked()
        # Headroom above the data: the dhnext plot has a line of text at its top.
        for plot, arrays, room in ((self.norm_plot, [self.norms], 0.25),
                                   (self.split_plot, [self.n_out, self.n_fut, self.n_dh], 0.1)):
            allv = np.concatenate(arrays)
            allv = allv[np.isfinite(allv)]
            top = float(np.max(allv)) if allv.size else 1.0
            top = top if top > 0 else 1.0
            if log:
                pos = allv[allv > 0]
                low = float(np.min(pos)) if pos.size else top / 10
                plot.setLogMode(x=False, y=True)
                y1 = np.log10(top) + room * max(1.0, np.log10(top / low))
                plot.setYRange(np.log10(low) - 0.3, y1, padding=0)
            else:
                plot.setLogMode(x=False, y=False)
                y1 = top * (1.0 + room)
                plot.setYRange(0, y1, padding=0)
            if plot is self.norm_plot:
                self._text_top = y1
                self._place_norm_text()

    def _log_toggled(self, _on):
        if self._trace_serial is not None:
            self._set_y_ranges()
        self.refresh()

    def _y(self, v):
        # Zeros (nothing from the future at the last step) cannot be drawn on a log axis.
        return np.maximum(v, _TINY) if self.log_box.isChecked() else v

    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        if self.session.trace_serial != self._trace_serial:
            self._trace_serial = self.session.trace_serial
            self._new_trace(tr)
        b = st.backward_from
        ts = np.arange(b, tr.T, dtype=float)
        self.norm_curve.setData(ts, self._y(self.norms[b:]))
        self.total_curve.setData(ts, self._y(self.n_dh[b:]))
        self.out_curve.setData(ts, self._y(self.n_out[b:]))
        fut_t = ts[self.n_fut[b:] > 0] if self.log_box.isChecked() else ts
        fut_v = self.n_fut[b:][self.n_fut[b:] > 0] if self.log_box.isChecked() else self.n_fut[b:]
        self.fut_curve.setData(fut_t, fut_v)
        data = np.full((tr.hidden_size, tr.T), np.nan)
        data[:, b:] = tr.dhnext[b:].T
        self.data = data
        self.heatmap.set_data(data)
        cur = st.current_t if st.in_backward else None
        self.heatmap.set_cursor(cur)
        for line in (self.norm_cursor, self.split_cursor):
            line.setVisible(cur is not None)
            if cur is not None:
                line.setPos(cur)
        last = st.in_backward and cur == tr.T - 1
        self._set_key(last)
        empty = b >= tr.T
        for message in self.empty_texts:
            message.setVisible(empty)
        self.note.setText("dhnext: not computed yet (forward pass)" if empty else self._range_text)
        self.norm_text.setText("" if empty else f"||dhnext_{b}|| = {self.norms[b]:.3g}")
        self._place_norm_text(cur, tr.T)

    def _place_norm_text(self, cur=None, T=None) -> None:
        """The readout in the top corner away from the cursor line (it ran through the
        text at the early steps), clear of the axis."""
        if T is None:
            T, cur = getattr(self, "_text_T", None), getattr(self, "_text_cur", None)
        self._text_T, self._text_cur = T, cur
        top = getattr(self, "_text_top", None)
        if T is None or top is None:
            return
        right = cur is not None and cur < T / 2
        self.norm_text.setAnchor((1, 0) if right else (0, 0))
        self.norm_text.setPos((T - 0.8) if right else -0.2, top)

    def _show_hover(self, text):
        self.readout.setText(text)
        self.view.setToolTip(text)

    def describe_cell(self, row: int, col: int) -> str:
        s = self.session
        tr, st = s.trace, s.state
        j, t = row, col
        if t < st.backward_from:
            return f"dhnext[{j}, t={t}]: not computed yet (backward step {t} comes later)"
        v = tr.dhnext[t, j]
        if tr.cell == "rnn":
            return (f"dhnext[{j}, t={t}] = {v:.4g} = Σ_k Whh[k,{j}]·dhraw[k,{t}],  dhraw = (1-h²)⊙dh,"
                    f"  ||dhraw_{t}|| = {np.linalg.norm(tr.dax[t]):.3g},  ||dh_{t}|| = "
                    f"{self.n_dh[t]:.3g}  (goes to h_{t - 1})")
        if tr.cell == "lstm":
            return (f"dhnext[{j}, t={t}] = {v:.4g} = Σ_k Whh[k,{j}]·da[k,{t}] over the 4 gate blocks,"
                    f"  ||da_{t}|| = {np.linalg.norm(tr.dah[t]):.3g}  (goes to h_{t - 1}; the cell "
                    f"state gets dcnext = f⊙dc = {tr.dcnext[t, j]:.4g})")
        z = tr.gates["z"][t, j]
        return (f"dhnext[{j}, t={t}] = {v:.4g} = Σ_k Whh[k,{j}]·dah[k,{t}] + z·dh = ... + "
                f"{z:.3f}·{tr.dh[t, j]:.4g}  (goes to h_{t - 1})")

    def csv_tables(self):
        tr, st = self.session.trace, self.session.state
        b = st.backward_from
        ts = np.arange(b, tr.T)
        norms = np.column_stack([ts, np.linalg.norm(tr.dhnext[b:], axis=1),
                                 np.linalg.norm(tr.dh[b:], axis=1),
                                 np.linalg.norm(tr.dh_from_output[b:], axis=1),
                                 np.linalg.norm(tr.dh_from_future[b:], axis=1)]) \
            if ts.size else np.zeros((0, 5))
        H = tr.hidden_size
        heat = np.column_stack([ts, tr.dhnext[b:]]) if ts.size else np.zeros((0, H + 1))
        return {"norms": (["t", "norm_dhnext", "norm_dh", "norm_dh_from_output",
                           "norm_dh_from_future"], norms),
                "dhnext": (["t"] + [f"dhnext[{j}]" for j in range(H)], heat)}

"""Truncation compared: full BPTT against BPTT truncated to windows of k steps on the same
sequence — per-parameter gradients, their cosine, and where the truncated one goes blind."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFontMetrics
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from ...session import SessionError
from .. import style
from .base import WHOLE_WINDOW, Panel
from .contrib import explain_label

FULL_COLOR = "#1f4e9c"     # full BPTT (blue)
TRUNC_COLOR = "#e08214"    # truncated (orange): blue/orange is colour-blind safe
LOST_COLOR = "#c0392b"     # gradient truncation cannot see (red)
KEPT_COLOR = "#bdbdbd"     # gradient it keeps (grey)
BAR_W = 0.38
#: "auto" bar heights are relative to full BPTT when the largest parameter's full gradient is
#: this many times the smallest's (min-char-rnn: by's ~7.5 beside Whh's ~0.05 drew Whh, the
#: parameter the view is about, as a 2 px sliver).
AUTO_RELATIVE_RATIO = 20.0
#: The bar-height choices: (data, shown name, tooltip).
BAR_SCALES = (
    ("auto", "auto", "Relative to full BPTT when the parameters' norms differ 20\u00d7 or more, "
                     "else the norms"),
    ("norms", "norms", "Each bar is a gradient's L2 norm"),
    ("relative", "relative", "Each pair divided by its full-BPTT norm: full = 1, "
                             "truncated = ||g_trunc|| / ||g_full||"),
)

EXPLAIN = ("Truncated BPTT back-propagates only inside windows of k steps (the hidden state "
           "still flows forward across boundaries). Any dependency longer than the window is "
           "<b>invisible</b> to it: on the <b>long-range</b> preset the target is the input 5 steps "
           "earlier, so windows of 4 never see the path that explains it — the red bars at "
           "distance ≥ k are exactly the gradient it throws away.")


class TruncationPanel(Panel):
    key = "truncation"
    title = "Truncation compared"
    tab_title = "Truncation"
    question = 'What does truncated BPTT miss?'
    view_widgets = ("spin", "bars_combo")
    help_html = (
        "<p>The same sequence and weights, two ways of computing the gradient: <b>full BPTT</b> "
        "over the whole window and <b>truncated BPTT</b> in windows of k steps (set k above; "
        "it starts at the preset's truncation, or T/4).</p>"
        "<p><b>Top left</b>: L2 norm of each parameter's gradient, full (blue) and truncated "
        "(orange); above each pair the cosine between the two (1 = same direction) and the "
        "relative difference ||g_full − g_trunc|| / ||g_full||.</p>"
        "<p><b>Top right</b>: the size of the full dWhh parts that travel d steps back "
        "(grey, all of them for d ≥ 1), and in red the ones truncation cuts (d ≥ k).</p>"
        "<p><b>Bottom</b>: for each loss step t, how many steps back its gradient can travel: "
        "all the way to step 0 with full BPTT (blue line), only to the start of its window when "
        "truncated (orange bars). Dashed lines are the window boundaries; the orange line is "
        "the current step. The comparison covers the whole window and does not follow the "
        "cursor.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.spin = QSpinBox()
        self.spin.setFont(t.font(t.label_pt))
        self.spin.setRange(1, 1)
        self.spin.setToolTip("Truncation window k: gradients flow back at most k−1 steps, "
                             "inside windows [0, k), [k, 2k), … (the session's setting is not changed)")
        self.spin.valueChanged.connect(self._on_view_option_change)
        self.summary = QLabel("")
        self.summary.setFont(t.font(t.label_pt, bold=True))
        self.summary.setWordWrap(True)
        self.summary.setProperty("keepInExport", True)   # (the view's number, on its slide too)
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.summary.setToolTip("Cosine between the full and the truncated gradient over all "
                                "parameters as one vector")
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        lab = QLabel("window k:")
        lab.setFont(t.font(t.label_pt))
        lab.setToolTip(self.spin.toolTip())
        top.addWidget(lab)
        top.addWidget(self.spin)
        top.addSpacing(16)
        top.addWidget(self.summary, 1)

        self.view = style.make_layout_widget(t)
        self.norm_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.norm_plot, "", "gradient L2 norm")
        self.lost_plot = self.view.addPlot(row=0, col=1)
        style.style_plot(self.lost_plot, "distance d (steps back)", "||dWhh part||")
        self.reach_plot = self.view.addPlot(row=1, col=0, colspan=2)
        style.style_plot(self.reach_plot, "loss step t", "steps back")
        from ..reflow import PlotFlow
        # Tall: norms and losses over the reach map; wide and short: all three in a row.
        self.plot_flow = PlotFlow(self.view, [[self.norm_plot], [self.lost_plot], [self.reach_plot]],
                                  rows=[[0, 1], [2]], stretch=[3, 3, 2],
                                  names=["norms", "cut", "reach"])
        for p in (self.norm_plot, self.lost_plot, self.reach_plot):
            p.getAxis("left").setWidth(int(80 * t.scale))
        # The bar plot's axis has no title: pyqtgraph sizes it for digits and cut the
        # descenders of "Why" and "by" at big fonts.
        self.norm_plot.getAxis("bottom").setHeight(
            int(QFontMetrics(t.font(t.tick_pt)).height() + 10 * t.scale))

        pen = pg.mkPen(t.foreground, width=0.8)
        self.full_bars = pg.BarGraphItem(x=[], height=[], width=BAR_W, brush=FULL_COLOR, pen=pen)
        self.trunc_bars = pg.BarGraphItem(x=[], height=[], width=BAR_W, brush=TRUNC_COLOR, pen=pen)
        self.norm_plot.addItem(self.full_bars)
        self.norm_plot.addItem(self.trunc_bars)
        big = f"font-size:{t.pt(t.label_pt + 2):.0f}pt"
        self.key_label = QLabel(
            # (no break inside a formula: wrapped at 1280x720 presenting, "||g_full||" stood
            # alone on the last line)
            f"<span style='color:{FULL_COLOR}; {big}'>■</span>&nbsp;full&nbsp;BPTT &nbsp; "
            f"<span style='color:{TRUNC_COLOR}; {big}'>■</span>&nbsp;truncated &nbsp;&nbsp; numbers above "
            "the bars: cosine(full,&nbsp;truncated) and "
            + style.unbroken_norms("Δ&nbsp;=&nbsp;||g<sub>full</sub>&nbsp;−&nbsp;g<sub>trunc</sub>||"
                                   "&nbsp;/&nbsp;||g<sub>full</sub>||"))
        self.key_label.setFont(t.font(t.tick_pt))
        self.key_label.setTextFormat(Qt.RichText)
        self.key_label.setWordWrap(True)
        self.key_label.setContentsMargins(6, 0, 6, 0)
        self.key_label.setToolTip("Blue bars: full BPTT gradient norms; orange: truncated BPTT")
        self.key_label.setProperty("keepInExport", True)
        self.bars_combo = style.choice_combo(
            [(name, data, tip) for data, name, tip in BAR_SCALES],
            "Bar heights: the norms, or each pair relative to its full-BPTT norm (auto: "
            "relative when the norms differ 20\u00d7)", t)
        self.bars_combo.currentIndexChanged.connect(self._on_view_option_change)
        bars_lab = QLabel("bars:")
        bars_lab.setFont(t.font(t.tick_pt))
        bars_lab.setToolTip(self.bars_combo.toolTip())
        # the key and the bars' scale in one row, shown while the norms plot is
        self.norm_key = QWidget()
        row = QHBoxLayout(self.norm_key)
        row.setContentsMargins(0, 0, 4, 0)
        row.addWidget(self.key_label, 1)
        row.addWidget(bars_lab)
        row.addWidget(self.bars_combo)
        #: whether the bars are drawn relative to full BPTT (public, for tests and exports)
        self.relative = False
        self.cos_texts = []

        self.kept_bars = pg.BarGraphItem(x=[], height=[], width=0.75, brush=KEPT_COLOR, pen=pen)
        self.lost_bars = pg.BarGraphItem(x=[], height=[], width=0.75, brush=LOST_COLOR, pen=pen)
        self.lost_plot.addItem(self.kept_bars)
        self.lost_plot.addItem(self.lost_bars)
        self.cut_line = pg.InfiniteLine(angle=90, pen=t.pen(LOST_COLOR, 2.5, Qt.DashLine))
        self.lost_plot.addItem(self.cut_line)

        self.reach_bars = pg.BarGraphItem(x=[], height=[], width=0.75, brush=TRUNC_COLOR, pen=pen)
        self.full_reach = pg.PlotDataItem([], [], pen=t.pen(FULL_COLOR, 3), symbol="o",
                                          symbolSize=6 * t.scale, symbolBrush=FULL_COLOR, symbolPen=None)
        self.reach_plot.addItem(self.reach_bars)
        self.reach_plot.addItem(self.full_reach)
        self.boundaries = pg.PlotDataItem([], [], pen=t.pen(t.foreground, 2, Qt.DashLine), connect="pairs")
        self.reach_plot.addItem(self.boundaries)
        self.cursor_line = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.reach_plot.addItem(self.cursor_line)
        # The two lower plots' keys, outside them: inside, the legends covered the tallest
        # distance bars and the top of the reach line (long-range preset screenshot).
        self.key2_label = style.key_label([], t)
        self.key2_label.setText(
            style.key_html([(KEPT_COLOR, "■", "all parts (d ≥ 1)"),
                            (LOST_COLOR, "■", "cut by truncation (d ≥ k)")], "what is cut: "))
        self.key3_label = style.key_label([], t)
        self.key3_label.setText(
            style.key_html([(FULL_COLOR, "━●━", "full BPTT reach (t steps)"),
                            (TRUNC_COLOR, "■", "truncated reach"),
                            (t.foreground, "╌╌", "window boundary")], "reach: "))
        # each key shows while its plot does (one plot at a time when the view is short)
        self.plot_flow.extras.update({0: [self.norm_key], 1: [self.key2_label],
                                      2: [self.key3_label]})
        self.message = style.PlotMessage(self.norm_plot, t=t, bold=True)

        self.explain = explain_label(EXPLAIN, t)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.norm_key)
        keys = QHBoxLayout()
        keys.setSpacing(24)
        keys.addWidget(self.key2_label)
        keys.addWidget(self.key3_label, 1)
        lay.addLayout(keys)
        lay.addLayout(self.plot_flow.row(), 1)
        lay.addWidget(self.explain)
        self.view.setToolTip("Full vs truncated BPTT on this window's sequence")

        self._T = None
        self._default = None
        self.comparison = None
        self._drawn = None   # (trace serial, k, bar scale) of the bars on screen

    # --- numbers ----------------------------------------------------------------------------
    def _sync_spin(self, T: int, default: int):
        if (T, default) == (self._T, self._default):
            return
        self._T, self._default = T, default
        self.spin.blockSignals(True)
        self.spin.setRange(1, max(1, T))
        self.spin.setValue(min(max(1, default), max(1, T)))
        self.spin.blockSignals(False)

    @property
    def window(self) -> int:
        return int(self.spin.value())

    def set_window(self, k: int):
        self.spin.setValue(int(k))

    def current(self):
        """``(comparison, all_parts)`` for the spin box's window, or ``(None, message)``."""
        s = self.session
        try:
            comp = s.truncation(self.window)
            everything = s.truncation(1).lost_by_distance  # all parts at d >= 1
        except SessionError as e:
            return None, str(e)
        return comp, everything

    def norm_rows(self, comp) -> np.ndarray:
        """Rows per parameter: full norm, truncated norm, diff norm, rel diff, cosine."""
        names = list(comp.full.grads_raw)
        return np.array([[float(np.linalg.norm(comp.full.grads_raw[n])),
                          float(np.linalg.norm(comp.truncated.grads_raw[n])),
                          comp.diff_norms[n], comp.rel_diff[n], comp.cosine[n]] for n in names])

    def bar_heights(self, norms: np.ndarray) -> np.ndarray:
        """(P, 2) bar heights for the (P, 2) full and truncated norms, and sets
        :attr:`relative`: the norms, or each pair over its full norm (see BAR_SCALES)."""
        choice = self.bars_combo.currentData() or "auto"
        full = norms[:, 0]
        if choice == "auto":
            ok = np.isfinite(full) & (full > 0)
            self.relative = bool(ok.sum() >= 2 and full[ok].max() >= AUTO_RELATIVE_RATIO * full[ok].min())
        else:
            self.relative = choice == "relative"
        if not self.relative:
            return norms.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = norms / full[:, None]
        return np.where(full[:, None] > 0, out, 0.0)

    # --- drawing ----------------------------------------------------------------------------
    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        t = self._theme
        T = tr.T
        cfg_k = getattr(s.config, "truncation", None) if s.config is not None else None
        self._sync_spin(T, int(cfg_k or max(1, T // 4)))
        comp, extra = self.current()
        self.comparison = comp
        # The comparison covers the whole window: a step moves only the cursor line (the
        # whole redraw took ~15 ms a step at presentation size).
        drawn = (s.trace_serial, self.window, self.bars_combo.currentData())
        if comp is not None and drawn == self._drawn:
            self._place_cursor(st.current_t)
            return
        self._drawn = drawn if comp is not None else None
        for ti in self.cos_texts:
            self.norm_plot.removeItem(ti)
        self.cos_texts = []
        if comp is None:
            for b in (self.full_bars, self.trunc_bars, self.kept_bars, self.lost_bars, self.reach_bars):
                b.setOpts(x=[], height=[])
            self.full_reach.setData([], [])
            self.boundaries.setData([], [])
            self.message.setText(extra)
            self.message.setVisible(True)
            self.summary.setText("")
            return
        self.message.setVisible(False)
        k = self.window
        names = list(comp.full.grads_raw)
        rows = self.norm_rows(comp)
        x = np.arange(len(names), dtype=float)
        heights = self.bar_heights(rows[:, :2])
        self.full_bars.setOpts(x=x - BAR_W / 2, height=heights[:, 0], width=BAR_W)
        self.trunc_bars.setOpts(x=x + BAR_W / 2, height=heights[:, 1], width=BAR_W)
        ylabel = "||g|| / ||g<sub>full</sub>||" if self.relative else "gradient L2 norm"
        if self.norm_plot.getAxis("left").labelText != ylabel:   # (a new title re-lays out)
            self.norm_plot.getAxis("left").setLabel(ylabel)
        top = float(np.nanmax(heights)) if heights.size and np.any(np.isfinite(heights)) else 1.0
        top = top if top > 0 else 1.0
        self.norm_plot.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)], []])
        self.norm_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.norm_plot.setYRange(0, top * 1.55, padding=0)
        for i, n in enumerate(names):
            ti = pg.TextItem(f"{comp.cosine[n]:.3f}\nΔ {100 * comp.rel_diff[n]:.0f}%",
                             color=t.foreground, anchor=(0.5, 1.0))
            ti.setFont(t.font(t.tick_pt - 1))
            ti.setPos(i, float(np.nanmax(heights[i])) + 0.02 * top)
            self.norm_plot.addItem(ti)
            self.cos_texts.append(ti)
        # Where truncation goes blind.
        d = np.arange(T, dtype=float)
        lost = comp.lost_by_distance
        kept_mask = (d >= 1)
        self.kept_bars.setOpts(x=d[kept_mask], height=extra[kept_mask], width=0.75)
        lm = d >= k
        self.lost_bars.setOpts(x=d[lm], height=lost[lm], width=0.75)
        self.cut_line.setPos(k - 0.5)
        ltop = float(extra.max()) if extra.size and extra.max() > 0 else 1.0
        self.lost_plot.setXRange(-0.6, max(T - 0.4, 1.0), padding=0)
        self.lost_plot.setYRange(0, ltop * 1.5, padding=0)
        # Reach over the timesteps, with the window boundaries.
        reach = comp.truncated.reach
        self.reach_bars.setOpts(x=d, height=reach.astype(float), width=0.75)
        self.full_reach.setData(d, d)
        starts = comp.truncated.starts[1:]
        bx = np.repeat(starts - 0.5, 2).astype(float)
        by = np.tile([0.0, float(T)], len(starts))
        self.boundaries.setData(bx, by)
        self.reach_plot.setXRange(-0.6, T - 0.4, padding=0)
        self.reach_plot.setYRange(0, max(T - 1, 1) * 1.6, padding=0)
        self._place_cursor(st.current_t)
        self.summary.setText(f"{len(comp.truncated.starts)} windows of ≤ {k} steps over T = {T}:  "
                             # (the bars' cosines are per parameter: a total of 1.0000 over
                             # bars of 0.999 read as a contradiction without "all together")
                             f"all parameters together, cos(full,\u00a0truncated)\u00a0=\u00a0{comp.cosine_total:.4f}  "
                             f"({WHOLE_WINDOW})")

    def _place_cursor(self, t) -> None:
        if t is not None:
            self.cursor_line.setPos(t)
        self.cursor_line.setVisible(t is not None)

    def csv_tables(self):
        comp, _extra = self.current()
        label = "param_index(" + "|".join(self.session.trace.grads_raw) + ")"
        cols = [label, "full_norm", "truncated_norm", "diff_norm", "rel_diff", "cosine"]
        if comp is None:
            return {"truncation_norms": (cols, np.zeros((0, len(cols)))),
                    "truncation_lost": (["distance", "lost_norm"], np.zeros((0, 2)))}
        rows = self.norm_rows(comp)
        T = comp.lost_by_distance.shape[0]
        return {"truncation_norms": (cols, np.column_stack([np.arange(len(rows)), rows])),
                "truncation_lost": (["distance", "lost_norm"],
                                    np.column_stack([np.arange(T), comp.lost_by_distance]))}

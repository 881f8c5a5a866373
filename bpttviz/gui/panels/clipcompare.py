"""Clipping compared: the same raw gradient under none / value / norm / param-norm clipping,
side by side: per-parameter norms, the cosine to the raw direction, and which entries value
clipping cut."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFontMetrics
from PyQt5.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout

from ...explain import step_of, steps
from ...engine.analysis import compare_clipping
from ...engine.clipping import CLIP_SPECS
from .. import style
from .base import Panel
from .contrib import explain_label

#: The modes compared, from the clip-mode registry.
MODES = tuple(CLIP_SPECS)
#: Okabe-Ito-like colours, distinct for colour-blind viewers; "none" is the raw orange (a mode
#: added to the registry gets a grey until it is given one here).
_COLOURS = {"none": "#e08214", "value": "#0072b2", "norm": "#542788", "param-norm": "#009e73"}
MODE_COLORS = {m: _COLOURS.get(m, "#777777") for m in MODES}
MODE_TIPS = {m: CLIP_SPECS[m].tooltip for m in MODES}
AUTO = "auto"

EXPLAIN = ("Same raw gradient, four clip rules, same threshold c. <b>Norm</b> clipping only "
           "shortens it (cosine exactly 1); <b>value</b> clipping cuts the large entries (crosses) "
           "and <b>param-norm</b> shrinks parameters unequally, so both can bend the step "
           "(cosine &lt; 1).")


class ClipComparePanel(Panel):
    key = "clipping"
    title = "Clipping compared"
    tab_title = "Clipping"
    question = 'What does clipping do to the direction of the gradient?'
    aliases = ('clip',)
    view_widgets = ("combo", "scale_combo")
    help_html = (
        "<p><b>Top left</b>: for each parameter (and all together, <i>global</i>) the L2 norm "
        "of the gradient under each clip mode: <span style='color:#e08214'>none</span>, "
        "<span style='color:#0072b2'>value</span>, <span style='color:#542788'>norm</span>, "
        "<span style='color:#009e73'>param-norm</span>. The red dashes mark the threshold c "
        "over the bars it caps: the <i>global</i> bar of norm clipping and each parameter's "
        "bar of param-norm clipping (value clipping's c caps entries, not a norm: see the "
        "crosses on the right). <b>norms</b>: <i>log</i> keeps a 40:1 ratio "
        "(195 before, 5 after norm clipping) readable; <i>auto</i> switches to log when a rule "
        "shrinks a bar ten times or more.</p>"
        "<p><b>Bottom left</b>: the cosine between each clipped gradient and the raw one, over "
        "all parameters as one vector (1 = same direction).</p>"
        "<p><b>Top right</b>: the raw gradient of one parameter (blue negative, red positive, "
        "symmetric range); a cross marks every entry that value clipping changed (|g| &gt; c). "
        "<b>Bottom right</b>: the fraction of each parameter's entries value clipping changed.</p>"
        "<p>During the backward pass the comparison uses the raw gradient accumulated so far "
        "(steps t–T−1); from the clip event on, the full raw gradient of the window.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.combo = QComboBox()
        self.combo.setFont(t.font(t.tick_pt))
        self.combo.setToolTip("Which parameter's gradient the heatmap shows; 'auto' picks the one "
                              "with the most entries changed by value clipping")
        self.combo.currentIndexChanged.connect(self._on_view_option_change)
        self.note = QLabel("")
        self.note.setWordWrap(True)  # a narrow dock wraps it instead of cutting it
        self.note.setFont(t.font(t.tick_pt))
        self.note.setContentsMargins(6, 0, 6, 0)
        # The colour key as one line of text above the plots (a legend would hide bars).
        # (a wrapped line breaks only between entries: a swatch stays with its name)
        key = " &nbsp; ".join(f"<span style='color:{MODE_COLORS[m]}; font-size:{t.pt(t.label_pt + 2):.0f}pt'>"
                              f"■</span>&nbsp;{m}" for m in MODES)
        key += (" &nbsp; <span style='color:#d7191c'>\u2501&nbsp;\u2501</span>&nbsp;cap&nbsp;c")
        self.key_label = QLabel(key)
        self.key_label.setFont(t.font(t.tick_pt))
        self.key_label.setTextFormat(Qt.RichText)
        self.key_label.setWordWrap(True)
        self.key_label.setProperty("keepInExport", True)   # (a slide needs the colours' key)
        self.key_label.setToolTip("<br>".join(f"<b>{m}</b>: {MODE_TIPS[m]}" for m in MODES)
                                  + "<br><b>red dashes</b>: the threshold c, over the bars whose "
                                  "norm it caps (norm: the global bar; param-norm: each "
                                  "parameter's bar). Value clipping caps entries, not norms.")
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        lab = QLabel("heatmap of:")
        lab.setFont(t.font(t.tick_pt))
        lab.setToolTip(self.combo.toolTip())
        top.addWidget(lab)
        top.addWidget(self.combo)
        self.scale_combo = QComboBox()
        self.scale_combo.setFont(t.font(t.tick_pt))
        for name in ("auto", "linear", "log"):
            self.scale_combo.addItem(name, name)
        self.scale_combo.setToolTip("The norms' axis: linear, log, or auto (log when a clip rule "
                                    "shrinks a bar 10\u00d7 or more, e.g. 195 \u2192 5)")
        self.scale_combo.currentIndexChanged.connect(self._on_view_option_change)
        ylab = QLabel("norms:")
        ylab.setFont(t.font(t.tick_pt))
        top.addSpacing(6)
        top.addWidget(ylab)
        top.addWidget(self.scale_combo)
        top.addSpacing(10)
        top.addWidget(self.key_label, 1)

        self.view = style.make_layout_widget(t)
        self.norm_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.norm_plot, "", "L2 norm")
        self.cos_plot = self.view.addPlot(row=1, col=0)
        style.style_plot(self.cos_plot, "cos(clipped, raw): 1 = same direction", "")
        self.heat_plot = self.view.addPlot(row=0, col=1)
        style.style_plot(self.heat_plot, "column", "row")
        self.heatmap = style.Heatmap(self.heat_plot, style.diverging_cmap(), (-1.0, 1.0), "raw grad",
                                     describe=self.describe_cell, on_hover=self._show_hover,
                                     insert_bar=False)
        self.view.addItem(self.heatmap.bar, row=0, col=2)
        self.frac_plot = self.view.addPlot(row=1, col=1, colspan=2)
        style.style_plot(self.frac_plot, "", "entries cut (%)")
        self.frac_plot.getAxis("left").setWidth(int(78 * t.scale))
        from ..reflow import PlotFlow
        # Tall: norms and heatmap over cosines and cut fractions (the norms' column wider: six
        # groups of four bars and their names); short: the norms large, the rest beside them.
        self.plot_flow = PlotFlow(
            self.view, [[self.norm_plot], [self.heat_plot, self.heatmap.bar], [self.cos_plot],
                        [self.frac_plot]], rows=[[0, 1], [2, 3]], side_stretch=[2, 1.4, 1, 1],
            col_stretch=[0.7, 0.4, 0],
            names=["norms", "heatmap", "cosines", "cut"])
        # Left axes as wide as "param-norm" (the cosine rows) plus the norm axis's label, so
        # the two left plots line up without wasting the width the group names need.
        fm = QFontMetrics(t.font(t.tick_pt))
        left_w = int(max(fm.horizontalAdvance("param-norm") + 14 * t.scale,
                         fm.horizontalAdvance("1e+03") + 40 * t.scale))
        self._left_w = left_w
        for p in (self.norm_plot, self.cos_plot):
            p.getAxis("left").setWidth(left_w)
        # (lined up only where they are stacked: alone on a page, or beside the others, the
        # norms kept the room of "param-norm" as a gap left of its axis)
        self._norm_left_w = int(fm.horizontalAdvance("1e+03")
                                + QFontMetrics(t.font(t.label_pt)).height() + 14 * t.scale)
        self.plot_flow.sigReflowed.connect(self._on_arrangement)
        # Bottom axes without a title are sized by pyqtgraph for the digits: room for the
        # descenders of "Why" and "by" at big fonts.
        for p in (self.norm_plot, self.frac_plot):
            p.getAxis("bottom").setHeight(int(fm.height() + 10 * t.scale))
        self.log_scale = False

        self.mode_bars = {}
        for m in MODES:
            b = pg.BarGraphItem(x=[], height=[], width=0.2, brush=MODE_COLORS[m],
                                pen=pg.mkPen(t.foreground, width=0.8))
            self.norm_plot.addItem(b)
            self.mode_bars[m] = b
        # The threshold c drawn only over the bars it caps (the registry's ``bounds``): the
        # global bar of a "global" rule, each parameter's bar of an "each" rule.  One line
        # across every bar said that value clipping's norms were capped at c too.
        self.threshold = pg.PlotDataItem([], [], pen=t.pen("#d7191c", 2.5, Qt.DashLine),
                                         connect="pairs")
        self.threshold.setZValue(5)
        self.norm_plot.addItem(self.threshold)
        # Horizontal bars: one row per mode, the cosine written at the end of each bar.
        self.cos_bars = pg.BarGraphItem(x0=np.zeros(len(MODES)), y=np.arange(len(MODES), dtype=float),
                                        width=np.zeros(len(MODES)), height=0.6,
                                        brushes=[pg.mkBrush(MODE_COLORS[m]) for m in MODES],
                                        pen=pg.mkPen(t.foreground, width=0.8))
        self.cos_plot.addItem(self.cos_bars)
        self.cos_plot.invertY(True)
        self.cos_plot.getAxis("left").setTicks([[(i, m) for i, m in enumerate(MODES)], []])
        self.cos_plot.getAxis("bottom").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")], []])
        self.cos_plot.setYRange(-0.6, len(MODES) - 0.4, padding=0)
        self.cos_plot.setXRange(-0.04, 1.45, padding=0)
        self.cos_one = pg.InfiniteLine(pos=1.0, angle=90, pen=t.pen(t.muted, 1.5, Qt.DashLine))
        self.cos_plot.addItem(self.cos_one)
        self.cos_texts = []
        for i in range(len(MODES)):
            ti = pg.TextItem("", color=t.foreground, anchor=(0.0, 0.5))
            ti.setFont(t.font(t.tick_pt, bold=True))
            ti.setPos(0.02, i)
            self.cos_plot.addItem(ti)
            self.cos_texts.append(ti)
        self.frac_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=MODE_COLORS["value"],
                                         pen=pg.mkPen(t.foreground, width=0.8))
        self.frac_plot.addItem(self.frac_bars)
        self.marks = pg.ScatterPlotItem([], [], symbol="x", size=0.8, pxMode=False,
                                        brush=pg.mkBrush("#000000"), pen=pg.mkPen("#ffffff", width=1))
        self.marks.setZValue(6)
        self.heat_plot.addItem(self.marks)
        self.empty_text = style.PlotMessage(self.norm_plot, t=t)

        self.explain = explain_label(EXPLAIN, t)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.note)
        lay.addLayout(self.plot_flow.row(), 1)
        lay.addWidget(self.explain)
        self.view.setToolTip("Bars: norms and cosines per clip mode. Heatmap: hover a cell for "
                             "the raw and the value-clipped entry")

        self._names = ()
        self._cache_key = None
        self._cache = None
        self.comparison = None          # the ClipComparison drawn (None before backward)
        self.heat_name: Optional[str] = None

    # --- numbers ----------------------------------------------------------------------------
    def current_comparison(self):
        """The ClipComparison for the cursor: None during forward; the raw gradient
        accumulated so far during backward; the whole window's raw gradient from clip on."""
        s = self.session
        tr, st = s.trace, s.state
        if st.clipped:
            return s.clip_comparison()
        if not st.in_backward:
            return None
        key = (self.session.trace_serial, st.backward_from, s.config.clip_value)
        if key != self._cache_key:
            acc = {k: tr.accumulated_grad(k, st.backward_from) for k in tr.grads_raw}
            self._cache = compare_clipping(acc, s.config.clip_value)
            self._cache_key = key
        return self._cache

    def _sync_combo(self, names):
        names = tuple(names)
        if names == self._names:
            return
        self._names = names
        current = self.combo.currentData() or AUTO
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(AUTO, AUTO)
        self.combo.setItemData(0, "the parameter with the most value-clipped entries", Qt.ToolTipRole)
        for n in names:
            self.combo.addItem(n, n)
        i = self.combo.findData(current)
        self.combo.setCurrentIndex(i if i >= 0 else 0)
        self.combo.blockSignals(False)

    # --- drawing ----------------------------------------------------------------------------
    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        t = self._theme
        c = float(s.config.clip_value)
        names = list(tr.grads_raw)
        self._sync_combo(names)
        groups = names + ["global"]
        G = len(groups)
        self.norm_plot.getAxis("bottom").setTicks([[(i, g) for i, g in enumerate(groups)], []])
        self.norm_plot.setXRange(-0.6, G - 0.4, padding=0)
        self.frac_plot.getAxis("bottom").setTicks([[(i, g) for i, g in enumerate(names)], []])
        self.frac_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        comp = self.current_comparison()
        self.comparison = comp
        if comp is None:
            for b in self.mode_bars.values():
                b.setOpts(x=[], height=[])
            self.cos_bars.setOpts(width=np.zeros(len(MODES)))
            for ti in self.cos_texts:
                ti.setText("")
            self.frac_bars.setOpts(x=[], height=[])
            self.frac_plot.setYRange(0, 1.25, padding=0)
            self.frac_plot.getAxis("left").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")], []])
            self.threshold.setData([], [])
            rec = getattr(tr, "recurrent_name", names[0])
            shape = np.shape(tr.grads_raw.get(rec, tr.grads_raw[names[0]]))
            self.heatmap.set_data(np.full(shape if len(shape) == 2 else (1, max(shape[0], 1)), np.nan))
            self._heat_axes(len(shape))
            self.heat_plot.setTitle(f"raw d{rec}: not computed yet", color=t.foreground,
                                    size=f"{t.pt(t.tick_pt):.0f}pt")
            self.frac_plot.setTitle("value clipping: no gradient yet", color=t.foreground,
                                    size=f"{t.pt(t.tick_pt):.0f}pt")
            self.marks.setData([], [])
            self.norm_plot.setLogMode(x=False, y=False)
            self.log_scale = False
            self.norm_plot.setYRange(0, 1, padding=0)
            self.empty_text.setText("No gradient yet:\nstep to the backward pass")
            self.empty_text.setVisible(True)
            self.note.setText(f"Forward pass ({step_of(st.current_t, tr.T)}): no gradient yet; "
                              f"threshold c = {c:g}")
            self.heat_name = None
            return
        self.empty_text.setVisible(False)
        norms = self.norm_table(comp, names)
        finite = norms[np.isfinite(norms)]
        top = float(finite.max()) if finite.size else 1.0
        raw_row = norms[0]
        choice = self.scale_combo.currentData() or "auto"
        if choice == "auto":
            ok = np.isfinite(norms) & (norms > 0) & np.isfinite(raw_row)[None, :]
            ratio = np.where(ok, raw_row[None, :] / np.where(ok, norms, 1.0), 1.0)
            log = bool(np.any(ratio >= 10.0))
        else:
            log = choice == "log"
        self.log_scale = log
        self.norm_plot.setLogMode(x=False, y=log)
        x = np.arange(G, dtype=float)
        if log:
            pos = finite[finite > 0]
            lo = float(np.floor(np.log10(pos.min()))) if pos.size else -1.0
            hi = np.log10(max(top, c)) + 0.3
            vals = np.nan_to_num(norms, nan=0.0, posinf=10 ** hi)
            tops = np.where(vals > 0, np.log10(np.maximum(vals, 1e-300)), lo)
            for j, m in enumerate(MODES):
                self.mode_bars[m].setOpts(x=x + (j - 1.5) * 0.2, y0=lo,
                                          height=np.maximum(tops[j] - lo, 0), width=0.2)
            self.norm_plot.setYRange(lo, hi, padding=0)
        else:
            ceiling = max(top, c) * 1.35
            # An inf norm (a diverging step) is drawn up to the ceiling instead of breaking
            # the axis.
            heights = np.minimum(np.nan_to_num(norms, nan=0.0, posinf=ceiling), ceiling)
            for j, m in enumerate(MODES):
                self.mode_bars[m].setOpts(x=x + (j - 1.5) * 0.2, y0=0.0, height=heights[j],
                                          width=0.2)
            self.norm_plot.setYRange(0, ceiling, padding=0)
        xs, ys = self.threshold_segments(len(names), c)
        self.threshold.setData(xs, ys)
        cos = np.array([comp.results[m][1].cosine for m in MODES])
        # A gradient with inf/NaN has no direction (cosine NaN): no bar, and say so.
        width = np.where(np.isfinite(cos), cos, 0.0)
        self.cos_bars.setOpts(width=width)
        for ti, v, w in zip(self.cos_texts, cos, width):
            ti.setText(f"{v:.4f}" if np.isfinite(v) else "n/a (inf/NaN)")
            ti.setPos(max(float(w), 0.0) + 0.02, ti.pos().y())
        rep_v = comp.results["value"][1]
        frac = np.array([100.0 * rep_v.fraction_clipped[n] for n in names])
        self.frac_bars.setOpts(x=np.arange(len(names), dtype=float), height=frac, width=0.6)
        fmax = max(float(frac.max()) if frac.size else 0.0, 1.0)
        self.frac_plot.setYRange(0, fmax * 1.25, padding=0)
        self.frac_plot.getAxis("left").setTicks([[(0, "0"), (fmax / 2, f"{fmax / 2:.3g}"),
                                                  (fmax, f"{fmax:.3g}")], []])
        self.frac_plot.setTitle(f"value clipping changed {100 * rep_v.fraction_clipped_total:.2f}% "
                                "of all entries", color=t.foreground, size=f"{t.pt(t.tick_pt):.0f}pt")
        # Heatmap of one parameter's raw gradient, value-clipped entries crossed.
        choice = self.combo.currentData() or AUTO
        if choice == AUTO or choice not in comp.raw:
            counts = {n: rep_v.fraction_clipped[n] * comp.raw[n].size for n in names}
            best = max(names, key=lambda n: counts[n])
            rec = getattr(tr, "recurrent_name", "Whh")
            choice = best if counts[best] > 0 else (rec if rec in comp.raw else names[0])
        self.heat_name = choice
        g = np.asarray(comp.raw[choice], dtype=float)
        g2 = g if g.ndim == 2 else g.reshape(1, -1)
        m = float(np.max(np.abs(g2))) if g2.size else 1.0
        self.heatmap.set_levels((-m, m) if m > 0 else (-1.0, 1.0))
        self.heatmap.set_data(g2)
        self._heat_axes(g.ndim)
        changed = np.asarray(comp.results["value"][0][choice]).reshape(g2.shape) != g2
        rr, cc = np.nonzero(changed)
        self.marks.setData(cc.astype(float), rr.astype(float))
        self.heat_plot.setTitle(f"raw d{choice}: {int(changed.sum())} entries with |g| > {c:g}",
                                color=t.foreground, size=f"{t.pt(t.tick_pt):.0f}pt")
        where = ("whole window, from the clip event" if st.clipped else
                 f"accumulated over {steps(st.backward_from, tr.T - 1)} so far")
        self.note.setText(f"Raw gradient {where}; threshold c = {c:g}; global norm "
                          f"{comp.results['none'][1].grad_norm_before_clip:.4g}")

    def _on_arrangement(self):
        stacked = self.plot_flow.arrangement in ("rows", "column")
        self.norm_plot.getAxis("left").setWidth(self._left_w if stacked else self._norm_left_w)

    def _heat_axes(self, ndim: int):
        if ndim == getattr(self, "_heat_ndim", None):
            return
        self._heat_ndim = ndim
        t = self._theme
        css = {"color": t.foreground, "font-size": f"{t.pt(t.label_pt):.0f}pt"}
        left = self.heat_plot.getAxis("left")
        if ndim == 2:
            self.heat_plot.setLabel("bottom", "column j", **css)
            self.heat_plot.setLabel("left", "row i", **css)
            left.setTicks(None)
        else:
            self.heat_plot.setLabel("bottom", "entry (a bias vector)", **css)
            self.heat_plot.setLabel("left", " ", **css)
            left.setTicks([[], []])

    @staticmethod
    def threshold_segments(n_params: int, c: float):
        """(x, y) of the threshold's dashes, two points each: over the bar of every mode
        that caps a norm at c, in the groups where it does (bar j of group i is centred at
        i + (j - 1.5) * 0.2, the global group last)."""
        xs = []
        for j, m in enumerate(MODES):
            bounds = CLIP_SPECS[m].bounds
            groups = ([n_params] if bounds == "global" else
                      list(range(n_params)) if bounds == "each" else [])
            for i in groups:
                x = i + (j - 1.5) * 0.2
                xs += [x - 0.13, x + 0.13]
        return np.array(xs, dtype=float), np.full(len(xs), float(c))

    @staticmethod
    def norm_table(comp, names) -> np.ndarray:
        """(modes, parameters + global) norms after each clip mode."""
        rows = []
        for m in MODES:
            rep = comp.results[m][1]
            rows.append([rep.norms_after[n] for n in names] + [rep.grad_norm_after_clip])
        return np.array(rows, dtype=float)

    def _show_hover(self, text):
        self.note.setText(text)  # the status line doubles as the hover read-out

    def describe_cell(self, row: int, col: int) -> str:
        comp, name = self.comparison, self.heat_name
        if comp is None or name is None:
            return "No gradient yet: the backward pass has not started."
        g = np.asarray(comp.raw[name], dtype=float)
        g2 = g if g.ndim == 2 else g.reshape(1, -1)
        v = np.asarray(comp.results["value"][0][name]).reshape(g2.shape)
        raw, cl = g2[row, col], v[row, col]
        idx = f"[{row}, {col}]" if g.ndim == 2 else f"[{col}]"
        if raw != cl:
            return f"d{name}{idx} = {raw:.4g}: value clipping cut it to {cl:.4g}"
        return f"d{name}{idx} = {raw:.4g}: unchanged by value clipping"

    def csv_tables(self):
        comp = self.current_comparison()
        names = list(self.session.trace.grads_raw)
        label = "mode_index(" + "|".join(MODES) + ")"
        idx = np.arange(len(MODES), dtype=float)
        if comp is None:
            norms = np.full((len(MODES), len(names) + 1), np.nan)
            cos = np.full((len(MODES), 2), np.nan)
        else:
            norms = self.norm_table(comp, names)
            cos = np.array([[comp.results[m][1].cosine, comp.results[m][1].fraction_clipped_total]
                            for m in MODES])
        return {"clipping_norms": ([label] + names + ["global"], np.column_stack([idx, norms])),
                "clipping_cosine": ([label, "cosine", "fraction_clipped_total"],
                                    np.column_stack([idx, cos]))}

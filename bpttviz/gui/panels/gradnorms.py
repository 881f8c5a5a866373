"""Gradient norms per parameter before and after clipping, with the clip mode as a live control."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout

from ...session import SessionError
from .. import style
from .base import Panel

CLIP_CHOICES = (("none", None, "No clipping: the update uses the raw gradient"),
                ("value", "value", "Clip every entry to [-c, c] (min-char-rnn): cheap, but it can "
                                   "change the gradient's direction"),
                ("norm", "norm", "If the global norm over all parameters exceeds c, scale every "
                                 "gradient by c / norm: keeps the direction"),
                ("param-norm", "param-norm", "The same norm rule applied to each parameter "
                                             "separately"))
BAR_W = 0.38


class GradNormsPanel(Panel):
    key = "grad_norms"
    title = "Gradient norms and clipping"
    question = 'How big is each gradient, before and after clipping?'
    aliases = ('norms',)
    help_html = (
        "<p>One group of bars per parameter (Wxh, Whh, Why, bh, by) and one for all of them "
        "together (global). <b>Orange</b>: L2 norm of the raw gradient; during the backward "
        "pass it grows as each step adds its contribution. <b>Purple</b>: after clipping "
        "(shown from the clip event on). The dashed red line is the threshold c: in "
        "<i>norm</i> mode it applies to the global bar, in <i>param-norm</i> mode to each "
        "parameter; in <i>value</i> mode it limits each entry, not the norm.</p>"
        "<p>Change the clip mode or the threshold above: the whole window is recomputed. The "
        "text gives the fraction of entries changed and the cosine between the raw and the "
        "clipped gradient (1 = same direction).</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        self.groups = tuple(session.trace.grads_raw) + ("global",)
        t = style.theme()
        self._theme = t
        self.combo = self.editor(QComboBox())
        self.combo.setFont(t.font(t.tick_pt))
        for i, (label, mode, tip) in enumerate(CLIP_CHOICES):
            self.combo.addItem(label, label)
            self.combo.setItemData(i, tip, Qt.ToolTipRole)
        self.combo.setToolTip("Clip mode: none, value (per entry), norm (global), param-norm "
                              "(per parameter). Changes the session now (undoable).")
        self.combo.currentIndexChanged.connect(self._combo_changed)
        self.spin = self.editor(QDoubleSpinBox())
        self.spin.setFont(t.font(t.tick_pt))
        self.spin.setDecimals(2)
        self.spin.setRange(0.01, 1e6)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("Clip threshold c (clip_value). Press Enter to apply.")
        self.spin.editingFinished.connect(self._spin_changed)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        for w in (QLabel("clip:"), self.combo, QLabel("c ="), self.spin):
            w.setFont(t.font(t.tick_pt))
            top.addWidget(w)
        style.shrinkable(self.combo)
        self.spin.setMinimumWidth(60)
        top.addStretch(1)
        self.plot_widget = style.make_plot_widget("parameter", "gradient L2 norm")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.getAxis("bottom").setTicks([[(i, g) for i, g in enumerate(self.groups)], []])
        self.plot.setXRange(-0.6, len(self.groups) - 0.4, padding=0)
        x = np.arange(len(self.groups), dtype=float)
        self.raw_bars = pg.BarGraphItem(x=x - BAR_W / 2, height=np.zeros(len(self.groups)), width=BAR_W,
                                        brush=t.raw, pen=pg.mkPen(t.foreground, width=1))
        self.clip_bars = pg.BarGraphItem(x=x + BAR_W / 2, height=np.zeros(len(self.groups)), width=BAR_W,
                                         brush=t.clipped, pen=pg.mkPen(t.foreground, width=1))
        self.plot.addItem(self.raw_bars)
        self.plot.addItem(self.clip_bars)
        self.threshold = pg.PlotDataItem([], [], pen=t.pen("#d7191c", 3, Qt.DashLine), connect="pairs")
        self.plot.addItem(self.threshold)
        legend = self.plot.addLegend(offset=(6, 4), colCount=2, labelTextSize=f"{t.pt(t.tick_pt - 1):.0f}pt",
                                     labelTextColor=t.foreground, brush=style.legend_brush(t, 210))
        legend.addItem(self.raw_bars, "before clipping")
        legend.addItem(self.clip_bars, "after clipping")
        self.info = QLabel("")
        self.info.setFont(t.font(t.tick_pt))
        self.info.setWordWrap(True)
        style.shrinkable(self.info)
        self.info.setStyleSheet(f"color: {t.foreground}; padding: 2px 6px;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.info)
        self._ykey = None
        self._ymax = 1.0
        self.raw_heights = np.full(len(self.groups), np.nan)
        self.clip_heights = np.full(len(self.groups), np.nan)

    # --- controls -------------------------------------------------------------------------
    def _combo_changed(self, _i):
        label = self.combo.currentData()
        mode = None if label == "none" else label
        if mode == self.session.config.clip:
            return
        try:
            self.session.edit(f"clip mode {label}", clip=mode)
        except SessionError as e:
            self.info.setText(f"Cannot change the clip mode: {e}")
            self._sync_controls()

    def _spin_changed(self):
        v = float(self.spin.value())
        if math.isclose(v, self.session.config.clip_value):
            return
        try:
            self.session.edit(f"clip threshold {v:g}", clip_value=v)
        except SessionError as e:
            self.info.setText(f"Cannot change the threshold: {e}")
            self._sync_controls()

    def _sync_controls(self):
        cfg = self.session.config
        label = cfg.clip or "none"
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(0, self.combo.findData(label)))
        self.combo.blockSignals(False)
        self.spin.blockSignals(True)
        self.spin.setValue(float(cfg.clip_value))
        self.spin.blockSignals(False)

    # --- numbers --------------------------------------------------------------------------
    def shown_norms(self):
        """``(raw, clipped)``: arrays over self.groups (NaN = not shown) as drawn at the cursor."""
        tr, st = self.session.trace, self.session.state
        raw = np.full(len(self.groups), np.nan)
        clipped = np.full(len(self.groups), np.nan)
        if st.clipped:
            raw[:-1] = [tr.grad_norms_raw[k] for k in self.groups[:-1]]
            raw[-1] = tr.grad_norm_before_clip
            clipped[:-1] = [tr.grad_norms[k] for k in self.groups[:-1]]
            clipped[-1] = tr.grad_norm_after_clip
        elif st.in_backward:
            b = st.backward_from
            acc = [float(np.linalg.norm(tr.accumulated_grad(k, b))) for k in self.groups[:-1]]
            raw[:-1] = acc
            raw[-1] = math.sqrt(sum(a * a for a in acc))
        return raw, clipped

    def _sync_groups(self):
        """Bars follow the model's parameters (Wxh.. for text, W_embed.. for captioning)."""
        groups = tuple(self.session.trace.grads_raw) + ("global",)
        if groups == self.groups:
            return
        self.groups = groups
        x = np.arange(len(groups), dtype=float)
        self.plot.getAxis("bottom").setTicks([[(i, g) for i, g in enumerate(groups)], []])
        self.plot.setXRange(-0.6, len(groups) - 0.4, padding=0)
        self.raw_bars.setOpts(x=x - BAR_W / 2, height=np.zeros(len(groups)))
        self.clip_bars.setOpts(x=x + BAR_W / 2, height=np.zeros(len(groups)))
        self.raw_heights = np.full(len(groups), np.nan)
        self.clip_heights = np.full(len(groups), np.nan)

    def redraw(self):
        self._sync_groups()
        s = self.session
        tr, st, cfg = s.trace, s.state, s.config
        self._sync_controls()
        raw, clipped = self.shown_norms()
        self.raw_heights, self.clip_heights = raw, clipped
        # The y range is fixed per window and setting (grows only if a partial sum overshoots).
        key = (self.session.trace_serial, cfg.clip, cfg.clip_value)
        top = float(np.nanmax(raw)) if np.any(np.isfinite(raw)) else 0.0
        if key != self._ykey or top > self._ymax:
            if key != self._ykey:
                self._ykey = key
                self._ymax = max(tr.grad_norm_before_clip, 1e-12)
                if cfg.clip in ("norm", "param-norm"):
                    self._ymax = max(self._ymax, cfg.clip_value)
            self._ymax = max(self._ymax, top)
            self.plot.setYRange(0, self._ymax * 1.3, padding=0)
        x = np.arange(len(self.groups), dtype=float)
        self.raw_bars.setOpts(x=x - BAR_W / 2, height=np.nan_to_num(raw), width=BAR_W)
        self.clip_bars.setOpts(x=x + BAR_W / 2, height=np.nan_to_num(clipped), width=BAR_W)
        c = cfg.clip_value
        if cfg.clip == "norm":
            self.threshold.setData([len(self.groups) - 1.5, len(self.groups) - 0.5], [c, c])
            self._annot(f"threshold c = {c:g} on the global norm")
        elif cfg.clip == "param-norm":
            self.threshold.setData([-0.5, len(self.groups) - 1.5], [c, c])
            self._annot(f"threshold c = {c:g} on each parameter's norm")
        elif cfg.clip == "value":
            self.threshold.setData([], [])
            self._annot(f"clip ±{c:g} per entry (not a norm limit)")
        else:
            self.threshold.setData([], [])
            self._annot("no clipping")
        if self.annot_text != getattr(self, "_title_shown", None):
            self._title_shown = self.annot_text
            self.plot.setTitle(self.annot_text, color=self._theme.foreground,
                               size=f"{self._theme.pt(self._theme.tick_pt):.0f}pt")
        if st.clipped:
            rep = tr.clip
            per = ", ".join(f"{k} {100 * rep.fraction_clipped[k]:.1f}%" for k in self.groups[:-1])
            self.info.setText(
                f"global norm {tr.grad_norm_before_clip:.4g} → {tr.grad_norm_after_clip:.4g}.  "
                f"Entries clipped: {100 * rep.fraction_clipped_total:.2f}% ({per}).  "
                f"cos(raw, clipped) = {rep.cosine:.4f}")
        elif st.in_backward:
            self.info.setText(f"Raw gradient accumulated over steps {st.backward_from}..{tr.T - 1} "
                              f"so far (global norm {raw[-1]:.4g}); clipping happens at the clip event.")
        else:
            self.info.setText("Gradients appear during the backward pass (forward step "
                              f"{st.current_t} of {tr.T - 1}).")

    def _annot(self, text):
        self.annot_text = text

    def csv_tables(self):
        raw, clipped = self.shown_norms()
        rows = np.column_stack([np.arange(len(self.groups)), raw, clipped])
        return {"norms": (["group_index(" + "|".join(self.groups) + ")", "norm_before_clip",
                           "norm_after_clip"], rows)}

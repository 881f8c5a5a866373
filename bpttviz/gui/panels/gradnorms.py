"""Gradient norms per parameter before and after clipping, with the clip mode as a live control."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFontMetrics
from PyQt5.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout

from ...explain import step_of, steps
from ...engine.clipping import CLIP_SPECS
from ...session import SessionError
from .. import style
from .base import Panel

#: (label, clip value, tooltip) for the clip combo, from the clip-mode registry.
CLIP_CHOICES = tuple((c.label, c.mode, c.tooltip) for c in CLIP_SPECS.values())
BAR_W = 0.38
#: "auto" switches the y axis to log when clipping shrinks a bar by at least this factor
#: (at 40:1 the clipped bars are a few pixels on a linear axis).
AUTO_LOG_RATIO = 10.0
SCALES = (("auto", "log when clipping shrinks a bar 10× or more, else linear"),
          ("linear", "bar heights proportional to the norms"),
          ("log", "logarithmic: a 40:1 ratio is as readable as 2:1"))


def fmt_norm(v: float) -> str:
    """A bar's printed value: three significant digits, trailing zeros kept (0.3995 read
    "0.4" beside its neighbours' "0.485" and "0.042", as if it were rounder)."""
    if not np.isfinite(v):
        return "inf" if v > 0 else "n/a"
    if v == 0:
        return "0"
    return f"{v:#.3g}".rstrip(".")


THRESHOLD_COLOUR = "#d7191c"


def clip_summary(report, names) -> str:
    """What the clip rule did, in the words of that rule: value clipping changed entries,
    norm clipping rescaled everything by one factor, param-norm rescaled some parameters."""
    mode, c = report.mode, report.threshold
    before, after = report.grad_norm_before_clip, report.grad_norm_after_clip
    if mode is None:
        return f"No clipping: the update uses the raw gradient (global norm {before:.4g})."
    if mode == "value":
        if report.fraction_clipped_total == 0:
            return (f"Value clipping to \u00b1{c:g}: no entry exceeds it, nothing clipped "
                    f"(global norm {before:.4g}, cos(raw, clipped) = {report.cosine:.4f}).")
        per = ", ".join(f"{k} {100 * report.fraction_clipped[k]:.1f}%" for k in names)
        return (f"Value clipping to ±{c:g}: {100 * report.fraction_clipped_total:.2f}% of "
                f"the entries clipped ({per}); global norm {before:.4g} → {after:.4g}, "
                f"cos(raw, clipped) = {report.cosine:.4f}.")
    if mode == "norm":
        if before > c:
            return (f"Norm clipping: global norm {before:.4g} > c = {c:g}, so every gradient is "
                    f"rescaled by c / norm = {c / before:.3g} (norm → {after:.4g}); the "
                    "direction is kept, cos(raw, clipped) = 1.")
        return (f"Norm clipping: global norm {before:.4g} ≤ c = {c:g}: nothing rescaled "
                "(factor 1).")
    scaled = [k for k in names if report.norms_before[k] > c]
    if not scaled:
        return (f"Param-norm clipping: every parameter's norm ≤ c = {c:g}: nothing "
                "rescaled.")
    parts = ", ".join(f"{k} by {c / report.norms_before[k]:.3g} "
                      f"({report.norms_before[k]:.3g} → {report.norms_after[k]:.3g})"
                      for k in scaled)
    kept = [k for k in names if k not in scaled]
    rest = f"; unchanged: {', '.join(kept)}" if kept else ""
    return (f"Param-norm clipping (c = {c:g} per parameter): rescaled {parts}{rest}; "
            f"cos(raw, clipped) = {report.cosine:.4f}.")


def _bounds(clip) -> str:
    """Which norm the threshold caps under a clip mode (the registry's ``bounds``)."""
    spec = CLIP_SPECS.get(clip or "none")
    return spec.bounds if spec is not None else ""


class GradNormsPanel(Panel):
    key = "grad_norms"
    title = "Gradient norms and clipping"
    tab_title = "Norms"
    question = 'How big is each gradient, before and after clipping?'
    aliases = ('norms',)
    view_widgets = ("scale_combo",)
    help_html = (
        "<p>One group of bars per parameter (Wxh, Whh, Why, bh, by) and one for all of them "
        "together (global). <b>Orange</b>: L2 norm of the raw gradient; during the backward "
        "pass it grows as each step adds its contribution. <b>Purple</b>: after clipping "
        "(shown from the clip event on). The dashed red line is the threshold c: in "
        "<i>norm</i> mode it applies to the global bar, in <i>param-norm</i> mode to each "
        "parameter; in <i>value</i> mode it limits each entry, not the norm.</p>"
        "<p>Each bar has its value printed on top. <b>y axis</b>: <i>log</i> keeps a 40:1 "
        "before/after ratio readable; <i>auto</i> (the default) switches to log when clipping "
        "shrinks a bar ten times or more.</p>"
        "<p>Change the clip mode or the threshold above: the whole window is recomputed. The "
        "text says what the rule did: <i>value</i> clipping changes single entries (the "
        "fraction clipped), <i>norm</i> clipping rescales every gradient by one factor c / norm, "
        "<i>param-norm</i> rescales the parameters whose own norm exceeds c; and the cosine "
        "between the raw and the clipped gradient (1 = same direction).</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        self.groups = tuple(session.trace.grads_raw) + ("global",)
        t = style.theme()
        self._theme = t
        self.combo = style.choice_combo(
            [(label, label, tip) for label, _mode, tip in CLIP_CHOICES],
            "Clip mode: none, value (per entry), norm (global), param-norm (per parameter). "
            "Changes the session now (undoable).", t, combo=self.editor(QComboBox()))
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
        self.scale_combo = style.choice_combo([(name, name, tip) for name, tip in SCALES], "", t)
        self.scale_combo.setToolTip("The y axis: linear, log, or auto (log when clipping shrinks "
                                    "a bar 10\u00d7 or more)")
        self.scale_combo.currentIndexChanged.connect(self._on_view_option_change)
        style.shrinkable(self.scale_combo)
        ylab = QLabel("y axis:")
        ylab.setFont(t.font(t.tick_pt))
        top.addSpacing(8)
        top.addWidget(ylab)
        top.addWidget(self.scale_combo)
        top.addStretch(1)
        self.plot_widget = style.make_plot_widget("parameter", "gradient L2 norm")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.vb.sigResized.connect(self._on_plot_resized)
        self.plot.getAxis("bottom").setTicks([[(i, g) for i, g in enumerate(self.groups)], []])
        self.plot.setXRange(-0.6, len(self.groups) - 0.4, padding=0)
        x = np.arange(len(self.groups), dtype=float)
        self.raw_bars = pg.BarGraphItem(x=x - BAR_W / 2, height=np.zeros(len(self.groups)), width=BAR_W,
                                        brush=t.raw, pen=pg.mkPen(t.foreground, width=1))
        self.clip_bars = pg.BarGraphItem(x=x + BAR_W / 2, height=np.zeros(len(self.groups)), width=BAR_W,
                                         brush=t.clipped, pen=pg.mkPen(t.foreground, width=1))
        self.plot.addItem(self.raw_bars)
        self.plot.addItem(self.clip_bars)
        self.threshold = pg.PlotDataItem([], [], pen=t.pen(THRESHOLD_COLOUR, 3, Qt.DashLine), connect="pairs")
        self.plot.addItem(self.threshold)
        # An empty plot with axes looked broken in the forward pass: it says why it is empty
        self.empty_text = style.PlotMessage(self.plot, "No gradient yet:\nstep to the backward pass",
                                            t=t)
        self.empty_text.setVisible(False)
        # The key outside the plot: inside, it covered the tall bars.
        self.key_label = style.key_label(self._key_entries(True), t)
        self._key_shows = (True, True)
        self.value_font = t.font(t.tick_pt - 1, bold=True)
        self._value_fm = QFontMetrics(self.value_font)
        self.value_texts = []   # (raw, clipped) TextItems per group: the printed values
        self.log_scale = False
        self.info = QLabel("")
        self.info.setFont(t.font(t.tick_pt))
        self.info.setWordWrap(True)
        style.shrinkable(self.info)
        self.info.setStyleSheet(f"color: {t.foreground}; padding: 2px 6px;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.key_label)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.info)
        self._ykey = None
        self._y_share = None
        self._ymax = 1.0
        self._ymin = 1.0
        self._bottom = 0.0
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
        self._ykey = None

    def _value_items(self):
        """One printed value per bar (raw, clipped) per group, made when the groups change."""
        if len(self.value_texts) == len(self.groups):
            return
        for pair in self.value_texts:
            for ti in pair:
                self.plot.removeItem(ti)
        self.value_texts = []
        for _ in self.groups:
            pair = []
            for _k in range(2):
                ti = pg.TextItem("", color=self._theme.foreground, anchor=(0.5, 1.0))
                ti.setFont(self.value_font)
                ti.setZValue(5)
                self.plot.addItem(ti)
                pair.append(ti)
            self.value_texts.append(tuple(pair))

    def use_log(self, raw, clipped) -> bool:
        """Whether the y axis is logarithmic for these bars (the y-axis choice, 'auto' = log
        when clipping shrinks a bar by AUTO_LOG_RATIO or more)."""
        choice = self.scale_combo.currentData() or "auto"
        if choice != "auto":
            return choice == "log"
        ok = np.isfinite(raw) & np.isfinite(clipped) & (clipped > 0)
        return bool(np.any(raw[ok] >= AUTO_LOG_RATIO * clipped[ok]))

    def redraw(self):
        self._sync_groups()
        self._value_items()
        s = self.session
        tr, st, cfg = s.trace, s.state, s.config
        self._sync_controls()
        raw, clipped = self.shown_norms()
        self.raw_heights, self.clip_heights = raw, clipped
        # The y range is fixed per window and setting (grows only if a partial sum overshoots).
        key = (self.session.trace_serial, cfg.clip, cfg.clip_value)
        top = float(np.nanmax(raw)) if np.any(np.isfinite(raw)) else 0.0
        log = self.use_log(raw, clipped)
        if key != self._ykey or top > self._ymax or log != self.log_scale:
            if key != self._ykey:
                self._ykey = key
                self._ymax = max(tr.grad_norm_before_clip, 1e-12)
                if _bounds(cfg.clip):
                    self._ymax = max(self._ymax, cfg.clip_value)
                # The smallest positive norm this window draws (for the log axis's bottom).
                vals = np.array([tr.grad_norms_raw[k] for k in self.groups[:-1]]
                                + [tr.grad_norms[k] for k in self.groups[:-1]], dtype=float)
                vals = vals[np.isfinite(vals) & (vals > 0)]
                self._ymin = float(vals.min()) if vals.size else self._ymax / 100
            self._ymax = max(self._ymax, top)
            self.log_scale = log
            self.plot.setLogMode(x=False, y=log)
            self._apply_y_range()
        x = np.arange(len(self.groups), dtype=float)
        for bars, values, dx in ((self.raw_bars, raw, -BAR_W / 2), (self.clip_bars, clipped, BAR_W / 2)):
            h = np.nan_to_num(values, nan=0.0, posinf=self._ymax * 1.2)
            if log:
                top_y = np.where(h > 0, np.log10(np.maximum(h, 1e-300)), self._bottom)
                bars.setOpts(x=x + dx, y0=self._bottom, height=np.maximum(top_y - self._bottom, 0),
                             width=BAR_W)
            else:
                bars.setOpts(x=x + dx, y0=0.0, height=h, width=BAR_W)
        self._place_values(raw, clipped, log)
        c = cfg.clip_value
        bounds = _bounds(cfg.clip)
        self._update_key(bool(bounds), st.event.phase in ("clip", "update"))
        if bounds == "global":
            self.threshold.setData([len(self.groups) - 1.5, len(self.groups) - 0.5], [c, c])
            self._annot(f"threshold c = {c:g} on the global norm")
        elif bounds == "each":
            self.threshold.setData([-0.5, len(self.groups) - 1.5], [c, c])
            self._annot(f"threshold c = {c:g} on each parameter's norm")
        elif cfg.clip == "value":
            self.threshold.setData([], [])
            self._annot(f"clip ±{c:g} per entry (not a norm limit)")
        else:
            self.threshold.setData([], [])
            self._annot("no clipping")
        if log:
            self.annot_text += " \u2014 log scale"
        if self.annot_text != getattr(self, "_title_shown", None):
            self._title_shown = self.annot_text
            self.plot.setTitle(self.annot_text, color=self._theme.foreground,
                               size=f"{self._theme.pt(self._theme.tick_pt):.0f}pt")
        self.empty_text.setVisible(not (st.clipped or st.in_backward))
        if st.clipped:
            self.info.setText(clip_summary(tr.clip, self.groups[:-1]))
        elif st.in_backward:
            self.info.setText(f"Raw gradient accumulated over {steps(st.backward_from, tr.T - 1)} "
                              f"so far (global norm {raw[-1]:.4g}); clipping happens at the clip event.")
        else:
            self.info.setText("Gradients appear during the backward pass (forward "
                              f"{step_of(st.current_t, tr.T)}).")


    def _key_entries(self, threshold: bool, after: bool = True):
        t = self._theme
        # (before the clip event no purple bar is drawn: the key says when they come)
        entries = [(t.raw, "\u25a0", "before clipping"),
                   (t.clipped, "\u25a0", "after clipping" if after else
                    "after clipping (from the clip event)")]
        if threshold:  # (heavy dashes: a light '┄' was a faint smudge on a projector)
            entries.append((THRESHOLD_COLOUR, "\u2501 \u2501", "threshold c"))
        return entries

    def _update_key(self, threshold: bool, after: bool):
        """The key names the threshold line only when the plot draws it (norm modes; value
        clipping limits entries, not a norm), and says when the purple bars come."""
        if (threshold, after) != self._key_shows:
            self._key_shows = (threshold, after)
            self.key_label.setText(style.key_html(self._key_entries(threshold, after)))

    def _value_text_px(self) -> float:
        """How tall a printed value stands above its bar: a line, or a number's length when
        the values turn upright (bars narrower than the numbers)."""
        fm = self._value_fm
        vb_w = max(self.plot.vb.boundingRect().width(), 1.0)
        px_bar = BAR_W * vb_w / max(len(self.groups), 1)
        long = fm.horizontalAdvance("0.0519")
        return (long if long + 4 > px_bar else fm.height()) + 12
    def _place_values(self, raw, clipped, log):
        """Print each drawn bar's value on top of it; upright when it fits the bar's width,
        turned 90 degrees when it does not (never wider than its bar, so no two overlap)."""
        vb_w = max(self.plot.vb.boundingRect().width(), 1.0)
        (x0, x1), _ = self.plot.vb.viewRange()
        px_bar = BAR_W * vb_w / max(x1 - x0, 1e-9)
        widest = max([self._value_fm.horizontalAdvance(fmt_norm(v))
                      for v in np.concatenate([raw, clipped]) if np.isfinite(v)] or [0])
        turn = widest + 4 > px_bar
        for g, (traw, tclip) in enumerate(self.value_texts):
            for ti, v, dx in ((traw, raw[g], -BAR_W / 2), (tclip, clipped[g], BAR_W / 2)):
                if np.isnan(v):
                    ti.setVisible(False)
                    continue
                y = (math.log10(v) if v > 0 and np.isfinite(v) else self._bottom) if log else \
                    (min(v, self._ymax * 1.2) if np.isfinite(v) else self._ymax * 1.2)
                ti.setText(fmt_norm(v))
                ti.setAngle(90 if turn else 0)
                ti.setAnchor((0.0, 0.5) if turn else (0.5, 1.0))
                ti.setPos(g + dx, y)
                ti.setVisible(True)

    def _apply_y_range(self) -> None:
        """The y range from 0 (or the log axis' bottom) to the window's largest norm, with
        headroom for the printed values: the share of the plot's height they take (upright,
        ~6 characters tall), at least 23 % (a short projector plot cut "7.06" at its top).
        Again when the plot's height changes: fixed at the first draw, when the view was
        still small, it kept 60 % of a 1280x720 window's plot empty above 7.6."""
        if self._ykey is None:
            return
        share = self._headroom()
        self._y_share = share
        if self.log_scale:
            lo = math.floor(math.log10(max(min(self._ymin, self._ymax / 10), 1e-300)))
            self._bottom = float(lo)
            span = math.log10(self._ymax) - lo + 0.2
            self.plot.setYRange(lo, lo + span / (1 - share), padding=0)
        else:
            self._bottom = 0.0
            top = self._ymax / (1 - share)
            # (a norm near the float maximum: the headroom would overflow to inf)
            self.plot.setYRange(0, top if math.isfinite(top) else self._ymax, padding=0)

    def _headroom(self) -> float:
        """The share of the plot's height the printed values need above the largest bar
        (their height over the plot's: upright or turned, as the bars' width decides)."""
        height = self.plot.getViewBox().height()
        return max(0.23, min(0.6, self._value_text_px() / max(1.0, height)))

    def _on_plot_resized(self, *_):
        if getattr(self, "_ykey", None) is not None and self._headroom() != self._y_share:
            self._apply_y_range()
        # The printed values turn upright or sideways with the bars' width on screen.
        if self.value_texts:
            self._place_values(self.raw_heights, self.clip_heights, self.log_scale)

    def _annot(self, text):
        self.annot_text = text

    def csv_tables(self):
        raw, clipped = self.shown_norms()
        rows = np.column_stack([np.arange(len(self.groups)), raw, clipped])
        return {"norms": (["group_index(" + "|".join(self.groups) + ")", "norm_before_clip",
                           "norm_after_clip"], rows)}

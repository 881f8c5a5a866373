"""Gradient decay: ||dh_t/dh_k|| against the distance t - k on a log scale, the spectral
radius and largest singular value of Whh as reference slopes, and a live "scale Whh" control
that moves the model between vanishing and exploding."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QVBoxLayout,
                             QWidget)

from ...engine.analysis import decay_by_distance
from ...session import SessionError
from .. import style
from ..flow_layout import FlowLayout
from .base import WHOLE_WINDOW, Panel
from .contrib import explain_label

#: Slider steps per doubling of Whh, and the slider's half range (2^(40/20) = 4x either way).
STEPS_PER_OCTAVE = 20
HALF_RANGE = 40
#: Live Jacobians are skipped above these sizes (T*T*H numbers, and a cost proportional to
#: the T^2/2 spectral norms of H x H matrices); the panel says so instead of freezing.
MAX_TTH = 2e6
MAX_COST = 6e9
DEBOUNCE_MS = 120

EXPLAIN = ("Each dot is one pair of steps k ≤ t: how much a gradient at h_t is stretched "
           "(&gt;1) or shrunk (&lt;1) on its way back to h_k. The red line is the mean for each "
           "distance. A tanh RNN obeys ||∂h_t/∂h_k|| ≤ σ<sup>t−k</sup>: with σ &lt; 1 the gradient "
           "must <b>vanish</b> exponentially; with ρ &gt; 1 it can <b>explode</b> (until tanh "
           "saturates). Drag <b>scale Whh</b> to move between the two.")

#: The pairs' dots are this translucent (0-255): where many agree they pile up to full colour
DOT_ALPHA = 110


def too_large(T: int, H: int) -> bool:
    """Whether the live Jacobians of a T-step, H-unit trace would take too long to draw."""
    return T * T * H > MAX_TTH or 0.5 * T * T * float(H) ** 3 > MAX_COST


def slider_factor(value: int) -> float:
    return 2.0 ** (value / STEPS_PER_OCTAVE)


class DecayPanel(Panel):
    key = "decay"
    title = "Gradient decay"
    tab_title = "Decay"
    question = 'Why does the gradient vanish (or explode) over many steps?'
    help_html = (
        "<p>x: the distance d = t − k between two steps; y (log scale): ||∂h_t/∂h_k||, the "
        "spectral norm of the Jacobian that carries a gradient from h_t back to h_k. "
        "<b>Blue dots</b>: every pair k ≤ t of this window (orange: pairs ending at the "
        "current step t). <b>Red line</b>: their mean at each distance.</p>"
        "<p>Dashed <b>orange</b>: ρ<sup>d</sup>, the spectral radius of Whh to the power d; "
        "dotted <b>purple</b>: σ<sup>d</sup>, its largest singular value to the power d. Since "
        "tanh' ≤ 1, a tanh RNN's dots stay below σ<sup>d</sup>. A straight line on this log "
        "axis is exponential decay or growth. For LSTM/GRU, ρ and σ are those of the candidate "
        "block (a rough guide only: the gates change the picture).</p>"
        "<p>The <b>scale Whh</b> slider multiplies the recurrent weights (0.25× to 4×, undoable "
        "with Ctrl+Z); the whole window is recomputed and the plot follows. The view covers "
        "the whole window: the Jacobians depend only on the forward pass.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.slider = self.editor(QSlider(Qt.Horizontal))
        self.slider.setRange(-HALF_RANGE, HALF_RANGE)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(STEPS_PER_OCTAVE // 4)
        self.slider.setTickInterval(STEPS_PER_OCTAVE)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setMinimumWidth(int(220 * t.scale))
        self.slider.setToolTip("Scale Whh: multiply the recurrent weights by 0.25× … 4× "
                               "(log steps; ticks at ×0.25, ×0.5, ×1, ×2, ×4). Left: towards "
                               "vanishing, right: towards exploding. Undo with Ctrl+Z.")
        self.slider.valueChanged.connect(self._slider_moved)
        self.scale_label = QLabel("×1.00")
        self.scale_label.setFont(t.font(t.label_pt, bold=True))
        self.scale_label.setMinimumWidth(int(70 * t.scale))
        self.scale_label.setToolTip("Factor applied to Whh by this control (relative to the "
                                    "Whh it started from)")
        self.reset = self.editor(QPushButton("Reset ×1"))  # ("×1.00" beside "×1" read as one value twice)
        self.reset.setFont(t.font(t.tick_pt))
        self.reset.setToolTip("Put Whh back to the weights this control started from (×1)")
        self.reset.clicked.connect(self._reset_scale)
        self.rho_label = QLabel("")
        self.rho_label.setFont(t.font(t.label_pt))
        self.rho_label.setToolTip("ρ: spectral radius (largest |eigenvalue|) of Whh; σ: its largest "
                                  "singular value (the most one step can stretch a gradient)")
        # The slider with its label and value, then rho and sigma: one row, wrapping onto two
        # when a projector's fonts make it wider than the view (never a sideways scroll bar).
        top = FlowLayout(spacing=12)
        top.setContentsMargins(4, 2, 4, 0)
        lab = QLabel("scale Whh:")
        lab.setFont(t.font(t.tick_pt))
        lab.setToolTip(self.slider.toolTip())
        scale = QWidget()
        scale.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        row = QHBoxLayout(scale)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(lab)
        row.addWidget(self.slider, 1)
        row.addWidget(self.scale_label)
        row.addWidget(self.reset)
        top.addWidget(scale)
        top.addWidget(self.rho_label)

        self.plot_widget = style.make_plot_widget("distance d = t − k (steps back)",
                                                  "||∂h_t / ∂h_k||")  # (log: its ticks say so)
        self.plot_widget.setToolTip("Each dot: one pair of steps k ≤ t. Lines: mean per distance, "
                                    "ρ^d and σ^d")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLogMode(x=False, y=True)
        self._y_wanted = None
        self.plot.getViewBox().sigResized.connect(self._on_plot_resize)
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        self.plot.getAxis("left").setWidth(int(96 * t.scale))
        dot = pg.mkColor(t.forward)
        dot.setAlpha(DOT_ALPHA)
        # (the dots over the mean's line, ringed in the background colour: under it, the
        # vanishing preset's dots, all near their mean, disappeared behind the line)
        self.scatter = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=7 * t.scale,
                                       symbolBrush=dot, symbolPen=pg.mkPen(t.background, width=1))
        self.scatter.setZValue(2)
        self.current = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=10 * t.scale,
                                       symbolBrush=t.highlight, symbolPen=pg.mkPen(t.foreground, width=1))
        self.mean_curve = pg.PlotDataItem([], [], pen=t.pen(t.backward, 3.5), symbol="s",
                                          symbolSize=7 * t.scale, symbolBrush=t.backward,
                                          symbolPen=None, connect="finite")
        self.current.setZValue(3)
        self.rho_curve = pg.PlotDataItem([], [], pen=t.pen(t.raw, 3, Qt.DashLine), connect="finite")
        self.sigma_curve = pg.PlotDataItem([], [], pen=t.pen(t.clipped, 3, Qt.DotLine),
                                           connect="finite")
        for item in (self.rho_curve, self.sigma_curve, self.scatter, self.current, self.mean_curve):
            self.plot.addItem(item)
        # ρ^d and σ^d over the mean's line (under the dots): the vanishing preset's mean lies
        # on ρ^d, and under the thick line the dashes were gone
        for item in (self.rho_curve, self.sigma_curve):
            item.setZValue(1)
        # The key sits above the plot, not in it: in a narrow dock a legend inside covered
        # half the dots whichever corner it took (the curve falls or rises across them all).
        self.key_label = style.key_label(self._key_entries(one_line=False), t)
        self._one_line = False
        self.message = style.PlotMessage(self.plot, t=t, bold=True)
        self.explain = explain_label(EXPLAIN, t)
        self.info = QLabel("")
        self.info.setFont(t.font(t.tick_pt))
        self.info.setWordWrap(True)
        self.info.setStyleSheet(f"color: {t.foreground}; padding: 0px 6px;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.key_label)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.info)
        lay.addWidget(self.explain)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply_scale)
        self._ref = None        # the Whh the control's ×1 stands for
        self._applied = 1.0     # factor of the session's Whh relative to _ref
        self._ref_run = None    # id of the run _ref belongs to
        # What is drawn (for tests and CSV).
        self.skipped = False
        self.pairs = np.zeros((0, 4))       # t, k, distance, norm
        self.mean = np.zeros(0)
        self.rho = float("nan")
        self.sigma = float("nan")

    # --- the scale control --------------------------------------------------------------------
    @property
    def factor(self) -> float:
        """The factor the slider stands for now (relative to the reference Whh)."""
        return slider_factor(self.slider.value())

    def _slider_moved(self, value: int):
        self.scale_label.setText(f"×{slider_factor(value):.2f}")
        self._timer.start()

    def _reset_scale(self):
        self.slider.setValue(0)

    def on_busy(self, busy: bool):
        if busy:
            self._timer.stop()  # a pending scale would be refused: the run is lent

    def apply_scale(self):
        """Apply the slider's factor to the session now (the debounce timer calls this)."""
        self._timer.stop()
        target = self.factor
        ratio = target / self._applied
        if abs(ratio - 1.0) < 1e-12:
            return
        previous = self._applied
        self._applied = target
        try:
            self.session.scale_whh(ratio)
        except SessionError as e:
            self._applied = previous
            self.info.setText(f"Cannot scale Whh: {e}")
            self._sync_slider()

    def _sync_slider(self):
        """Make the slider agree with the session's Whh: after an undo it shows the factor
        relative to the reference; a new preset, edit or training step resets it to ×1."""
        W = np.asarray(self.session.params[self.session.trace.recurrent_name])
        ref = self._ref
        run = self.session.run_serial  # a new preset, edit or opened file: a new ×1
        if ref is None or ref.shape != W.shape or run != self._ref_run:
            self._ref_run = run
            self._ref, self._applied = W.copy(), 1.0
        elif not np.allclose(W, self._applied * ref, rtol=1e-9, atol=0.0):
            rr = float(np.vdot(ref, ref))
            r = float(np.vdot(W, ref)) / rr if rr > 0 else 0.0
            if r > 0 and np.allclose(W, r * ref, rtol=1e-9, atol=1e-300):
                self._applied = r
            else:
                self._ref, self._applied = W.copy(), 1.0
        value = int(round(STEPS_PER_OCTAVE * math.log2(self._applied)))
        value = max(-HALF_RANGE, min(HALF_RANGE, value))
        if not self._timer.isActive() and self.slider.value() != value:
            self.slider.blockSignals(True)
            self.slider.setValue(value)
            self.slider.blockSignals(False)
        if not self._timer.isActive():
            self.scale_label.setText(f"×{self._applied:.2f}")

    def _key_entries(self, one_line: bool):
        """The key; ``one_line``: ρ = σ (a scaled orthogonal Whh, as the vanishing and
        exploding presets build), so ρ^d and σ^d are one line and the key says so."""
        t = self._theme
        refs = ([(t.raw, "╌╌", "ρ^d = σ^d (here ρ = σ)")] if one_line
                else [(t.raw, "╌╌", "ρ^d"), (t.clipped, "┈┈", "σ^d")])
        # (the dots in their full colour: translucent, they pile up to it where pairs agree,
        # as in most windows; a pale swatch matched only the exploding preset's spread)
        return ([(t.forward, "●", "pairs (t, k)"), (t.backward, "━■━", "mean per distance")]
                + refs + [(t.highlight, "●", "pairs ending at the current t")])

    # --- drawing --------------------------------------------------------------------------
    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        self._sync_slider()
        T, H = tr.h.shape
        spec = s.whh_spectrum()
        self.rho, self.sigma = spec.spectral_radius, spec.largest_singular_value
        gated = "" if tr.cell == "rnn" else " (candidate block)"
        rho_s = "n/a" if self.rho is None else f"{self.rho:.4g}"
        self.rho_label.setText(f"ρ = {rho_s}   σ = {self.sigma:.4g}{gated}")
        d = np.arange(T, dtype=float)
        self.skipped = too_large(T, H)
        lowest = None  # log10 of the smallest value drawn, once there is one
        if self.skipped:
            self.pairs = np.zeros((0, 4))
            self.mean = np.full(T, np.nan)
            for item in (self.scatter, self.current, self.mean_curve):
                item.setData([], [])
            self.message.setText(f"{T} steps × {H} units is too large for the live decay plot\n"
                                 "— use the vanishing or exploding presets")
            self.message.setVisible(True)
            lo, hi = -3.0, 3.0
        else:
            J = s.jacobian_norms()
            tt, kk = np.tril_indices(T)
            vals = J[tt, kk]
            self.pairs = np.column_stack([tt, kk, tt - kk, vals]).astype(float)
            self.mean = decay_by_distance(J)
            pos = vals > 0
            self.scatter.setData((tt - kk)[pos].astype(float), vals[pos])
            ct = st.current_t
            if ct is not None:
                sel = pos & (tt == ct)
                self.current.setData((tt - kk)[sel].astype(float), vals[sel])
            else:
                self.current.setData([], [])
            m = np.where(self.mean > 0, self.mean, np.nan)
            self.mean_curve.setData(d, m)
            finite = vals[pos & np.isfinite(vals)]
            if finite.size:
                lowest = math.log10(float(finite.min()))
                lo = lowest - 0.3
                hi = math.log10(float(finite.max())) + 0.6
            else:
                lo, hi = -3.0, 3.0
            if T == 1:
                self.message.setText("One step only: no distance to decay over\n(try the vanishing preset)")
                self.message.setVisible(True)
            else:
                self.message.setVisible(False)
        rho_d = self.reference(self.rho, T)
        sig_d = self.reference(self.sigma, T)
        self.rho_curve.setData(d, rho_d)
        self.sigma_curve.setData(d, sig_d)
        # ρ = σ: one line, not a dotted one drawn over a dashed one (it read as neither) with
        # a key naming two
        one_line = (self.rho is not None and np.isfinite(self.sigma)
                    and abs(self.rho - self.sigma) <= 1e-3 * max(abs(self.sigma), 1e-300))
        self.sigma_curve.setVisible(not one_line)
        if one_line != self._one_line:
            self._one_line = one_line
            self.key_label.setText(style.key_html(self._key_entries(one_line)))
        hi = max(hi, 0.6)
        lo = min(lo, -0.6)
        self.plot.setXRange(-0.5, max(T - 0.5, 1.0), padding=0)
        # (the axis' bottom, the highest value (10^0 at distance 0), the lowest value)
        self._y_wanted = (lo, hi - 0.6, lo + 0.3 if lowest is None else lowest)
        self._apply_y_range()
        if not self.skipped and T > 1:
            far = self.mean[-1]
            # one line on a projector (the Whh factor is beside the slider)
            self.info.setText(style.unbroken_norms(
                f"Mean ||∂h_t/∂h_k||: {self.mean[1]:.3g} at distance 1, "
                f"{far:.3g} at distance {T - 1} (over {T} steps; {WHOLE_WINDOW})."))
        elif not self.skipped:
            self.info.setText("")
        else:
            self.info.setText(f"ρ and σ still describe this Whh (×{self._applied:.2f}).")

    def _apply_y_range(self):
        """The y range from the lowest value to above the highest, with room in *pixels* for
        the top tick's label: pyqtgraph drops a label that would stick out of the plot, and
        a fixed 0.6 decade left '1' (10^0: distance 0, the identity) unlabelled on a
        projector, where 25 decades share 300 px."""
        from PyQt5.QtGui import QFontMetricsF
        lo, top, lowest = self._y_wanted
        axis = self.plot.getAxis("left")
        label = QFontMetricsF(axis.style.get("tickFont") or axis.font()).height()
        height = max(1.0, self.plot.getViewBox().height())
        a = min(0.3, (label / 2 + 3) / height)  # the share of the height above the top value
        hi = max(top + 0.6, (top - a * lo) / (1 - a))
        # The decade just under the top edge gets its grid line; give its label room too
        # (exploding: 0.6 decade above 3.7e3 drew 10^4's line with no number beside it).
        k = np.floor(hi)
        if hi - k < a * (hi - lo):
            hi = (k - a * lo) / (1 - a)
        # ... and room in pixels under the lowest dot (0.3 decade of 25 on a projector's
        # 300 px left the last distance's dot cut in half by the axis)
        b = min(0.2, (4.5 * self._theme.scale + 3) / height)
        if (lowest - lo) < b * (hi - lo):
            lo = (lowest - b * hi) / (1 - b)
        self.plot.setYRange(lo, hi, padding=0)

    def _on_plot_resize(self, *_):
        if self._y_wanted is not None:
            self._apply_y_range()

    @staticmethod
    def reference(x, T: int) -> np.ndarray:
        """x^d for d = 0..T-1 (NaN where not drawable on a log axis)."""
        if x is None or not np.isfinite(x) or x <= 0:
            return np.full(T, np.nan)
        with np.errstate(over="ignore", under="ignore"):
            r = float(x) ** np.arange(T, dtype=float)
        return np.where((r > 0) & np.isfinite(r), r, np.nan)

    def csv_tables(self):
        s = self.session
        T = s.trace.T
        if self._dirty:  # a hidden panel catches up before exporting its numbers
            self.refresh()
        d = np.arange(T, dtype=float)
        mean = np.column_stack([d, self.mean, self.reference(self.rho, T),
                                self.reference(self.sigma, T)]) if T else np.zeros((0, 4))
        return {"decay_pairs": (["t", "k", "distance", "norm"], self.pairs.copy()),
                "decay_mean": (["distance", "mean", "rho^d", "sigma^d"], mean)}

"""The network unrolled over the window: x_t -> h_t -> y_t per step, h_{t-1} -> h_t across,
and during the backward pass the gradient arrows h_t -> h_{t-1} sized by ||dhnext_t||.

Drawing is a fixed set of pyqtgraph items created once (per window length for the labels)
and restyled on every redraw, so stepping stays fast at T = 100.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFont, QFontMetrics
from PyQt5.QtWidgets import QVBoxLayout

from .. import style
from ..plot_items import LabelStrip
from .base import Panel

ROW_X, ROW_H, ROW_Y = 0.0, 1.0, 2.0
R = 0.3            # half the gap an arrow leaves around a node (data units)
N_BINS = 8         # gradient arrows are grouped into this many widths/colours
MAX_W = 9.0        # widest gradient arrow (px, times the theme scale)
LABEL_MIN_PT = 6.0     # smallest label font tried (times the theme scale) ...
LABEL_FLOOR_PT = 7.5   # ... and never below this many points
LABEL_GAP = 3.0        # px between neighbouring labels
MAX_ROWS = 3           # labels are staggered over at most this many rows


def _pairs(x0, y0, x1, y1):
    """Interleave segment end points for ``connect="pairs"``."""
    x = np.empty(2 * len(x0))
    y = np.empty(2 * len(x0))
    x[0::2], x[1::2], y[0::2], y[1::2] = x0, x1, y0, y1
    return x, y


class UnrolledPanel(Panel):
    key = "unrolled"
    title = "Unrolled network"
    tab_title = "Unrolled"
    question = 'What is the network computing right now, step by step?'
    help_html = (
        "<p>The network unrolled in time: one column per timestep t. Bottom row: the input "
        "character x_t; middle: the hidden state h_t; top: the output y_t with the "
        "<b>target</b> character written above it. Blue arrows are the forward pass "
        "(x_t→h_t, h_t→y_t and h_{t-1}→h_t); grey nodes and arrows are not computed yet. The "
        "orange band is the current step.</p>"
        "<p>During the backward pass red arrows run the other way: y_t→h_t carries dy_t and "
        "the arrow under the h row from h_t to h_{t-1} carries dhnext_t. Its <b>width and colour "
        "grow with ||dhnext_t||</b> (relative to the largest in this window): thin, dark arrows "
        "to the left mean the gradient is vanishing. The leftmost node h₋₁ is the state carried "
        "in from the previous window.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.plot_widget = style.make_plot_widget("timestep t", "")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.vb.sigResized.connect(self._on_plot_resized)
        rows = [(ROW_X, "input x_t"), (ROW_H, "hidden h_t"), (ROW_Y, "output y_t")]
        self.plot.getAxis("left").setTicks([rows, []])
        fm = QFontMetrics(t.font(t.tick_pt))
        self.plot.getAxis("left").setWidth(max(fm.horizontalAdvance(r[1]) for r in rows) + 24)
        self.plot.showGrid(x=False, y=False)
        self.band = pg.LinearRegionItem(values=(0, 1), movable=False,
                                        brush=pg.mkBrush(255, 157, 0, 70),
                                        pen=pg.mkPen(t.highlight, width=2))
        self.band.setZValue(-10)
        self.plot.addItem(self.band)
        fwd = t.pen(t.forward, 3)
        grey = t.pen(t.muted, 1.5, Qt.DashLine)
        # Arrows are horizontal or vertical: no antialiasing needed (it is the costly part).
        self.fwd_lines = pg.PlotDataItem([], [], pen=fwd, connect="pairs", antialias=False)
        self.todo_lines = pg.PlotDataItem([], [], pen=grey, connect="pairs", antialias=False)
        self.dy_lines = pg.PlotDataItem([], [], pen=t.pen(t.backward, 3), connect="pairs",
                                        antialias=False)
        self.grad_bins = []
        self.grad_heads = []
        for k in range(N_BINS):
            frac = (k + 1) / N_BINS
            color = self._grad_color(frac)
            item = pg.PlotDataItem([], [], connect="pairs", antialias=False,
                                   pen=pg.mkPen(color, width=self._grad_width(frac)))
            self.grad_bins.append(item)
            head = pg.ScatterPlotItem(pxMode=True, symbol="t3", pen=None, brush=pg.mkBrush(color),
                                      size=6.0 + 1.3 * self._grad_width(frac))
            self.grad_heads.append(head)
        for it in [self.todo_lines, self.fwd_lines, self.dy_lines] + self.grad_bins:
            self.plot.addItem(it)
        # Nodes and arrow heads: one item per style (per-point styles are slow to update).
        on_pen, off_pen = pg.mkPen(t.forward, width=2), pg.mkPen(t.muted, width=1.5)
        grad_pen = pg.mkPen(t.backward, width=3)

        def scatter(z=5, **kw):
            item = pg.ScatterPlotItem(pxMode=True, **kw)
            item.setZValue(z)
            self.plot.addItem(item)
            return item

        self.todo_nodes = scatter(symbol="o", pen=off_pen, brush=pg.mkBrush(t.background))
        self.x_nodes = scatter(symbol="o", pen=on_pen, brush=pg.mkBrush("#c6dbef"))
        self.h_nodes = scatter(symbol="o", pen=on_pen, brush=pg.mkBrush("#6baed6"))
        self.y_nodes = scatter(symbol="o", pen=on_pen, brush=pg.mkBrush("#fdd49e"))
        self.grad_nodes = scatter(z=5.5, symbol="o", pen=grad_pen, brush=None)
        self.fwd_heads_up = scatter(z=6, symbol="t1", pen=None, brush=pg.mkBrush(t.forward))
        self.fwd_heads_right = scatter(z=6, symbol="t2", pen=None, brush=pg.mkBrush(t.forward))
        self.dy_heads = scatter(z=6, symbol="t", pen=None, brush=pg.mkBrush(t.backward))
        for h in self.grad_heads:
            h.setZValue(6)
            self.plot.addItem(h)
        self._scatters = [self.todo_nodes, self.x_nodes, self.h_nodes, self.y_nodes,
                          self.grad_nodes, self.fwd_heads_up, self.fwd_heads_right,
                          self.dy_heads] + self.grad_heads
        self._lines = [self.todo_lines, self.fwd_lines, self.dy_lines] + self.grad_bins
        self.legend = style.readout_label("", mono=False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.legend)
        self._T = None
        self._trace_serial = None
        # The steps' inputs (below the x row) and targets (above the y row): plot_items.LabelStrip
        self.in_labels = self.out_labels = None
        self._label_step = None
        self._current_label = None
        self.label_rows, self.label_font = 1, None
        self._labels_font = None
        # Public, for tests and exports: what the gradient arrows show at the cursor.
        self.arrow_steps = np.zeros(0, dtype=int)
        self.arrow_widths = np.zeros(0)

    # --- gradient styling -------------------------------------------------------------------
    def _grad_width(self, frac):
        return max(1.0, MAX_W * frac) * self._theme.scale

    @staticmethod
    def _grad_color(frac):
        # From the sequential map's middle (teal) up to... a red ramp reads as "gradient"
        # on the white background; keep lightness varying so it survives greyscale.
        lo, hi = np.array([253, 174, 97]), np.array([165, 0, 38])
        c = lo + (hi - lo) * float(np.clip(frac, 0, 1))
        return pg.mkColor(int(c[0]), int(c[1]), int(c[2]))

    # --- built once per window length --------------------------------------------------------
    def _build(self, T):
        t = self._theme
        if self.in_labels is None:
            # (one item per row of labels: 200 TextItems took ~70 ms of a presentation switch)
            self.in_labels = LabelStrip(self.plot, (0.5, 0.0), t.foreground, t.font(t.tick_pt))
            self.out_labels = LabelStrip(self.plot, (0.5, 1.0), t.foreground, t.font(t.tick_pt))
        steps = np.arange(T, dtype=float)
        self.in_labels.set_labels([""] * T, steps, np.full(T, -0.3))
        self.out_labels.set_labels([""] * T, steps, np.full(T, 2.3))
        if getattr(self, "prev_label", None) is None:
            # The leftmost node is the state carried in (h_prev in the code): named, or the
            # class asked what the lone dot left of step 0 was.
            self.prev_label = style.tight_text("h\u208b\u2081", t.foreground, (0.5, 1.0),
                                               font=t.font(t.tick_pt), t=t)
            self.prev_label.setZValue(7)
            self.prev_label.setToolTip("h\u208b\u2081 (h_prev in the code): the hidden state "
                                       "carried in from the previous window")
            self.plot.addItem(self.prev_label)
        self.plot.setXRange(-1.6, T - 0.4, padding=0)
        self.plot.setYRange(-0.85, 2.85, padding=0)
        self._labels_font = None   # (the new labels have the theme's default font)
        self._T = T
        self._label_step = None
        self._current_label = None

    def _new_trace(self, tr):
        if tr.T != self._T:
            self._build(tr.T)
        vocab = self.session.vocab
        self._in_words = [vocab.label(int(ix)) if ix >= 0 else "∅" for ix in tr.inputs]
        self._out_words = [vocab.label(int(ix)) for ix in tr.targets]
        self._longest = max(len(w) for w in self._in_words + self._out_words)
        self.norms = np.linalg.norm(tr.dhnext, axis=1)
        self.max_norm = float(self.norms.max()) if self.norms.size and self.norms.max() > 0 else 1.0
        self._label_step = None

    # --- labels: every step's input and target, always ----------------------------------------
    def _label_sizes(self):
        """Font sizes tried for the labels (theme points, before the theme's scale), largest
        first: the theme's size down to LABEL_MIN_PT (never below LABEL_FLOOR_PT on screen)."""
        t = self._theme
        # Theme points (t.font multiplies them by the theme's scale).
        top = t.tick_pt + 1
        low = max(LABEL_FLOOR_PT / t.scale, LABEL_MIN_PT)
        sizes, s = [], top
        while s > low:
            sizes.append(s)
            s *= 0.9
        return sizes + [low]

    def _fits(self, widths, rows, px):
        """Labels staggered over ``rows`` rows (step i in row i % rows): neighbours in a row,
        ``rows`` steps apart, leave at least LABEL_GAP px between them."""
        if len(widths) <= rows:
            return bool(np.all(widths + LABEL_GAP <= rows * px)) if len(widths) else True
        need = (widths[:-rows] + widths[rows:]) / 2 + LABEL_GAP
        return bool(np.all(need <= rows * px)) and bool(widths.max() <= rows * px)

    def _choose_layout(self, T, px, height):
        """(font, rows, keep): the largest font and fewest rows at which every label fits
        whole; words (captioning tokens) shortened to ``keep`` characters when even the
        smallest font on three rows does not fit."""
        for keep in ([self._longest] + ([4] if self._longest > 4 else [])):
            texts = [self._short(w, keep) for w in self._in_words + self._out_words]
            for size in self._label_sizes():
                font = self._theme.font(size, bold=True, mono=True)
                fm = QFontMetrics(font)
                w = np.array([fm.horizontalAdvance(x) for x in texts], dtype=float)
                w_in, w_out = w[:T], w[T:]
                for rows in range(1, MAX_ROWS + 1):
                    # room for the label rows above and below the three node rows
                    if 2 * rows * fm.height() > 0.55 * height and rows > 1:
                        break
                    if self._fits(w_in, rows, px) and self._fits(w_out, rows, px):
                        return font, rows, keep
        return self._theme.font(self._label_sizes()[-1], bold=True, mono=True), MAX_ROWS, min(
            self._longest, 4)

    @staticmethod
    def _short(word, keep):
        return word if len(word) <= keep else word[:max(keep - 1, 1)] + "…"

    def _layout_labels(self, T):
        """Every step's input (below the x row) and target (above the y row) is labelled: the
        largest font at which they fit side by side, staggered over up to three rows when a
        step is narrower than its label; captioning words shortened ("yel…") only when even
        that does not fit.  Neighbours never overlap; the current step's pair is coloured."""
        vb = self.plot.vb.boundingRect()
        px = max(vb.width(), 1.0) / (T + 1.2)
        key = (int(vb.width()), int(vb.height()))
        if key != self._label_step:
            self._label_step = key
            font, rows, keep = self._choose_layout(T, px, max(vb.height(), 1.0))
            fm = QFontMetrics(font)
            self.label_rows, self.label_font = rows, font
            # Room on the right for half the last labels (and on the left for h_-1's node).
            half = max(fm.horizontalAdvance(self._short(w, keep))
                       for w in (self._in_words[-1], self._out_words[-1])) / 2 + 3
            node = self._node_size(px) / 2 + 3
            left = -1 - max(0.6, node / px)
            self.plot.setXRange(left, T - 1 + max(0.6, half / px), padding=0)
            # h_-1's name above its node, inside the plot (pushed right at a large T)
            name_w = QFontMetrics(self.prev_label.textItem.font()).horizontalAdvance("h\u208b\u2081")
            # (shown only where it fits left of step 0's arrows: at T = 100 a step is ~12 px)
            self.prev_label.setPos(max(-1.0, left + (name_w / 2 + 2) / px), ROW_H + 0.22)
            self.prev_label.setVisible(name_w + 4 <= (-0.25 - left) * px)
            line = fm.height() + 1
            # The y range leaves ``rows`` lines of labels below x and above y; the node rows
            # (and their arrows, -0.35..2.35) share the rest of the height.
            room = rows * line + 6
            dpp = 2.7 / max(vb.height() - 2 * room, 40.0)   # data units per pixel
            self.plot.setYRange(-0.35 - room * dpp, 2.35 + room * dpp, padding=0)
            shortened = keep < self._longest
            self.plot_widget.setToolTip(
                "inputs:  " + " ".join(self._in_words) + "\ntargets: " + " ".join(self._out_words)
                if shortened else "")
            if font != self._labels_font:
                self._labels_font = QFont(font)
                for strip in (self.in_labels, self.out_labels):
                    strip.set_font(font)
            # staggered: step i on row i % rows, rows counted away from the nodes
            steps = np.arange(T, dtype=float)
            down = (np.arange(T) % rows) * line * dpp
            self.in_labels.set_texts([self._short(w, keep) for w in self._in_words])
            self.in_labels.set_positions(steps, -0.3 - down)
            self.out_labels.set_texts([self._short(w, keep) for w in self._out_words])
            self.out_labels.set_positions(steps, 2.3 + down)
        return px

    def _mark_current_label(self, cur):
        """The current step's input and target in the highlight colour (bold already)."""
        if cur == self._current_label:
            return
        t = self._theme
        for i, color in ((self._current_label, None), (cur, t.backward)):
            if i is not None and 0 <= i < len(self.in_labels):
                self.in_labels.set_color(i, color)
                self.out_labels.set_color(i, color)
        self._current_label = cur

    def _node_size(self, px: float) -> float:
        """A node's diameter (px) for steps ``px`` apart: half the step, 5 to 30 pt's worth.
        (The theme's scale multiplied half the step: 0.75 of it on a projector, and in a
        lesson's narrower view the h nodes touched and hid the arrows between them.)"""
        return float(np.clip(0.5 * px, 5.0, 30.0 * self._theme.scale))

    def _on_plot_resized(self, *_):
        # Refit the labels to the plot's new width, also when no step follows.
        self._label_step = None
        if self._T is not None and self._trace_serial is not None:
            px = self._layout_labels(self._T)
            # ... and the nodes and arrows, sized at the last draw for another width
            drawn = getattr(self, "_drawn_node_size", None)
            if drawn is not None and abs(self._node_size(px) - drawn) > 0.5:
                if self._shown and self.isVisible():
                    self.redraw()
                else:
                    self._dirty = True  # (redrawn when shown, as a step behind a tab is)

    # --- drawing --------------------------------------------------------------------------------
    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        T = tr.T
        if self.session.trace_serial != self._trace_serial:
            self._trace_serial = self.session.trace_serial
            self._new_trace(tr)
        px = self._layout_labels(T)
        n = st.forward_count
        b = st.backward_from
        cur = st.current_t
        self._mark_current_label(cur)
        if cur is None:
            self.band.setVisible(False)
        else:
            self.band.setVisible(True)
            self.band.setRegion((cur - 0.5, cur + 0.5))
        size = self._node_size(px)
        self._drawn_node_size = size
        ts = np.arange(T, dtype=float)
        done = ts[:n]
        todo = ts[n:]
        back = ts[b:]
        self.x_nodes.setData(x=done, y=np.full(n, ROW_X), size=size)
        self.h_nodes.setData(x=np.concatenate([[-1.0], done]), y=np.full(n + 1, ROW_H), size=size)
        self.y_nodes.setData(x=done, y=np.full(n, ROW_Y), size=size)
        self.todo_nodes.setData(x=np.tile(todo, 3), y=np.repeat([ROW_X, ROW_H, ROW_Y], todo.size),
                                size=size)
        self.grad_nodes.setData(x=np.tile(back, 2), y=np.repeat([ROW_H, ROW_Y], back.size), size=size)
        done = np.arange(T) < n
        # Forward arrows: vertical x->h, h->y, and horizontal h_{t-1}->h_t (slightly above).
        r = min(R, 0.42)
        rx = min(0.3, max(0.12, size / max(px, 1) * 0.6))
        fx0 = np.concatenate([ts, ts, ts - 1 + rx])
        fy0 = np.concatenate([np.full(T, ROW_X + r), np.full(T, ROW_H + r), np.full(T, ROW_H + 0.1)])
        fx1 = np.concatenate([ts, ts, ts - rx])
        fy1 = np.concatenate([np.full(T, ROW_H - r), np.full(T, ROW_Y - r), np.full(T, ROW_H + 0.1)])
        rev = np.concatenate([done, done, done])
        self.fwd_lines.setData(*_pairs(fx0[rev], fy0[rev], fx1[rev], fy1[rev]))
        self.todo_lines.setData(*_pairs(fx0[~rev], fy0[~rev], fx1[~rev], fy1[~rev]))
        hs = max(7.0, 0.3 * size)
        self.fwd_heads_up.setData(x=fx1[rev][:2 * n], y=fy1[rev][:2 * n], size=hs)
        self.fwd_heads_right.setData(x=fx1[rev][2 * n:], y=fy1[rev][2 * n:], size=hs)
        # Backward: dy arrows y_t -> h_t and dhnext arrows h_t -> h_{t-1} (slightly below).
        bt = np.arange(b, T, dtype=float)
        if bt.size:
            self.dy_lines.setData(*_pairs(bt + 0.12, np.full(bt.size, ROW_Y - r), bt + 0.12,
                                          np.full(bt.size, ROW_H + r)))
            self.dy_heads.setData(x=bt + 0.12, y=np.full(bt.size, ROW_H + r), size=hs)
        else:
            self.dy_lines.setData([], [])
            self.dy_heads.setData([], [])
        fr = self.norms[b:] / self.max_norm if bt.size else np.zeros(0)
        bins = np.minimum((fr * N_BINS).astype(int), N_BINS - 1) if bt.size else np.zeros(0, int)
        for k, (item, head) in enumerate(zip(self.grad_bins, self.grad_heads)):
            sel = bins == k
            if np.any(sel):
                x0 = bt[sel] - rx
                x1 = bt[sel] - 1 + rx
                yy = np.full(x0.size, ROW_H - 0.2)
                item.setData(*_pairs(x0, yy, x1, yy))
                head.setData(x=x1, y=yy)
            elif item.xData is not None and len(item.xData):
                item.setData([], [])
                head.setData([], [])
        # An empty item still costs its paint (~0.2 ms each, 16 of them): hide it.
        for item in self._scatters:
            item.setVisible(len(item.data) > 0)
        for item in self._lines:
            item.setVisible(item.xData is not None and len(item.xData) > 0)
        self.arrow_steps = np.arange(b, T)
        self.arrow_widths = np.array([self._grad_width((k + 1) / N_BINS) for k in bins])
        if bt.size:
            self.legend.setText(style.unbroken_norms(self.arrow_key(b)))
        else:
            # (the dinosaurs' first input is the zero vector: its "∅" needs its word)
            zero = " (∅: the zero vector, no character)" if np.any(tr.inputs < 0) else ""
            self.legend.setText(
                f"Forward pass: {n} of {T} steps computed. Below x_t: its input character"
                f"{zero}; above y_t: its target (the next character).")

    def arrow_key(self, b: int) -> str:
        """The gradient arrows' scale: width ∝ ||dhnext_t||, the widest (MAX_W px) being the
        window's largest norm; and the norm at the step the backward pass has reached."""
        px = self._grad_width(1.0)
        return (f"Red arrows: dhnext_t from h_t to h_(t-1); arrow width \u221d ||dhnext||, "
                # (the whole pass's largest, said as such: at backward:10 it can be a step
                # not reached yet)
                f"widest ({px:.0f} px) = {self.max_norm:.3g} (the whole pass's largest); at "
                f"step {b}: {self.norms[b]:.3g}.")

    def csv_tables(self):
        tr, st = self.session.trace, self.session.state
        b = st.backward_from
        n = st.forward_count
        ts = np.arange(tr.T)
        norm = np.where(ts >= b, np.linalg.norm(tr.dhnext, axis=1), np.nan)
        rows = np.column_stack([ts, tr.inputs, tr.targets, (ts < n).astype(float), norm])
        return {"steps": (["t", "input", "target", "forward_done", "norm_dhnext"], rows)}

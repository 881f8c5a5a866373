"""LSTM / GRU gates over time, and the gradient through the cell state against the gradient
through h: why the LSTM carries gradient further back."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMessageBox, QPushButton,
                             QStackedWidget, QVBoxLayout, QWidget)

from .. import style
from ...engine.cellspec import get_cell
from .base import Panel

def gates_of(cell: str):
    """The heatmaps this view draws for ``cell``, in drawing order: the cell's gates from the
    registry, then the cell state if it has one; () for a cell without gates."""
    spec = get_cell(cell)
    if not spec.gates:
        return ()
    return spec.gate_names + (("c",) if spec.has_cell_state else ())


def _is_sigmoid(cell: str, name: str) -> bool:
    spec = get_cell(cell)
    return name != "c" and spec.gate(name).activation == "sigmoid"


def _long(cell: str, name: str) -> str:
    return "c  cell state" if name == "c" else f"{name}  {get_cell(cell).gate(name).label}"


def _meaning(cell: str, name: str) -> str:
    spec = get_cell(cell)
    return spec.formula("c") if name == "c" else spec.gate(name).meaning


_TINY = 1e-30
RNN_MESSAGE = ("This view needs an LSTM or GRU \u2014 choose cell LSTM or the lstm-gates preset.\n\n"
               "A plain tanh RNN has no gates: its only path back in time goes through "
               "tanh and Whh at every step.")


class GatesPanel(Panel):
    key = "gates"
    title = "Gates (LSTM/GRU)"
    tab_title = "Gates"
    view_widgets = ("show_combo",)
    question = 'How does an LSTM keep its gradient alive?'
    help_html = (
        "<p>Each heatmap has one <b>row per hidden unit</b> and one <b>column per timestep</b>; "
        "columns appear as the forward pass reaches them (grey = not computed yet; the orange "
        "frame is the current step).</p>"
        "<p>Gates are sigmoids in [0, 1] (dark purple = closed, yellow = open): the LSTM's "
        "<b>i</b>nput, <b>f</b>orget and <b>o</b>utput gates, the GRU's update <b>z</b> and "
        "reset <b>r</b>. Candidates (<b>g</b>, <b>n</b>) are tanh in [-1, 1] and the cell state "
        "<b>c</b> is signed: blue negative, white 0, red positive.</p>"
        "<p><b>Gradient flow</b> (bottom right, log scale, filled right to left during the "
        "backward pass): ||dc_t||, the gradient through the LSTM cell state, against ||dh_t|| "
        "and ||dhnext_t||, the gradient through h. Along c the gradient is only multiplied by "
        "the forget gate f (no squashing, no weight matrix), so when f is near 1 it reaches "
        "early steps almost undiminished; through h it shrinks.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.stack = QStackedWidget()
        # Page 0: the rnn message.
        msg_page = QWidget()
        msg_lay = QVBoxLayout(msg_page)
        self.message = QLabel(RNN_MESSAGE)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setFont(t.font(t.big_pt))
        self.switch_button = self.editor(QPushButton("Use an LSTM cell"))
        self.switch_button.setFont(t.font(t.label_pt, bold=True))
        self.switch_button.setToolTip("Change the cell of this run to an LSTM (undoable; the "
                                      "parameters are re-initialised for the new shapes)")
        self.switch_button.clicked.connect(self.switch_to_lstm)
        msg_lay.addStretch(1)
        msg_lay.addWidget(self.message)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.switch_button)
        row.addStretch(1)
        msg_lay.addLayout(row)
        msg_lay.addStretch(1)
        # Page 1: heatmaps and the flow plot.
        gate_page = QWidget()
        self.note = style.readout_label("", t, mono=False)
        # Which heatmaps to draw: every gate in a grid when the view has room for them at a
        # readable size; on a short, wide view (a projector) one gate large beside the flow.
        self.show_combo = QComboBox()
        self.show_combo.setFont(t.font(t.tick_pt))
        self.show_combo.setToolTip("Which gates to draw: all of them in a grid, or one large "
                                   "('auto' picks all when they fit readably, else the forget/"
                                   "update gate, the one that decides how far the gradient goes)")
        self.show_combo.currentIndexChanged.connect(self._show_chosen)
        show_row = QHBoxLayout()
        show_row.setContentsMargins(4, 0, 4, 0)
        lab = QLabel("show:")
        lab.setFont(t.font(t.tick_pt))
        show_row.addWidget(lab)
        show_row.addWidget(self.show_combo)
        show_row.addSpacing(int(12 * t.scale))
        show_row.addWidget(self.note, 1)
        # The flow plot's key, outside the small plot where a legend covered its curves.
        self.flow_key = style.key_label([], t)
        self.view = style.make_layout_widget(t)
        self.view.setToolTip("Gates over time (rows: hidden units, columns: timesteps) and the "
                             "gradient norms through c and h (log scale)")
        self.readout = style.readout_label("Hover a cell to read its value.", t)
        g_lay = QVBoxLayout(gate_page)
        g_lay.setContentsMargins(0, 0, 0, 0)
        g_lay.setSpacing(2)
        g_lay.addLayout(show_row)
        g_lay.addWidget(self.flow_key)
        g_lay.addWidget(self.view, 1)
        g_lay.addWidget(self.readout)
        self.stack.addWidget(msg_page)
        self.stack.addWidget(gate_page)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        self._cell = None
        self._combo_cell = None
        self._trace_serial = None
        self.heatmaps = {}
        self.data = {}
        self.flow = {}
        self.flow_curves = {}
        self.flow_plot = None

    # --- building ---------------------------------------------------------------------------
    def switch_to_lstm(self):
        from ...session import SessionError
        if self.session.busy:
            return
        try:
            self.session.edit("cell", cell="lstm")
        except SessionError as e:
            QMessageBox.warning(self, "Cannot switch to an LSTM", str(e))

    #: The gate drawn alone when the grid would be too small: the one that keeps the gradient.
    KEY_GATE = ("f", "z")

    def _fill_show_combo(self, cell):
        current = self.show_combo.currentData()
        self.show_combo.blockSignals(True)
        self.show_combo.clear()
        self.show_combo.addItem("auto", "auto")
        self.show_combo.addItem("all gates", "all")
        for name in gates_of(cell):
            self.show_combo.addItem(_long(cell, name), name)
        i = self.show_combo.findData(current)
        self.show_combo.setCurrentIndex(i if i >= 0 else 0)
        self.show_combo.blockSignals(False)

    def _shown_names(self, cell):
        """The heatmaps to draw now (see :attr:`show_combo`)."""
        names = gates_of(cell)
        choice = self.show_combo.currentData() or "auto"
        if choice == "all":
            return names
        if choice in names:
            return (choice,)
        from ..reflow import best_grid
        w, h = self.view.width(), self.view.height()
        if w < 100 or h < 100:
            return names
        rows, cols = best_grid(len(names) + 1, w, h)
        # each cell's plot area is its size less the axes and title (~60 x 50 px)
        if w / cols - 60 >= 300 and h / rows - 50 >= 200:
            return names
        key = next((g for g in self.KEY_GATE if g in names), names[0])
        return (key,)

    def _show_chosen(self, _index):
        if self._cell is not None and gates_of(self._cell):
            self._build(self._cell)
            self._trace_serial = None
            self.refresh()

    def _build(self, cell):
        """(Re)create the heatmaps for a cell's gates."""
        t = self._theme
        self.view.clear()
        self.heatmaps, self.flow_curves = {}, {}
        if self.show_combo.count() == 0 or self._combo_cell != cell:
            self._combo_cell = cell
            self._fill_show_combo(cell)
        names = self._shown_names(cell)
        self._built_names = names
        cols = self._columns(len(names) + 1)
        self._built_cols = cols
        for k, name in enumerate(names):
            plot = self.view.addPlot(row=k // cols, col=k % cols)
            style.style_plot(plot, "timestep t", "unit", t=t)
            plot.setTitle(_long(cell, name), color=t.foreground, size=f"{t.pt(t.tick_pt):.0f}pt")
            if _is_sigmoid(cell, name):
                cmap, levels = style.sequential_cmap(), (0.0, 1.0)
            else:
                cmap, levels = style.diverging_cmap(), (-1.0, 1.0)
            self.heatmaps[name] = style.Heatmap(
                plot, cmap, levels, "",
                describe=lambda r, c, _n=name: self.describe_cell(_n, r, c),
                on_hover=self._show_hover, t=t)
        k = len(names)
        self.flow_plot = self.view.addPlot(row=k // cols, col=k % cols)
        style.style_plot(self.flow_plot, "timestep t", "gradient norm", t=t)
        self.flow_plot.setLogMode(x=False, y=True)
        style.room_for_ticks(self.flow_plot.getAxis("left"), "0.001", t)  # (log ticks: 0.001..1000)
        self.flow_plot.setTitle("gradient flow (log)", color=t.foreground,
                                size=f"{t.pt(t.tick_pt):.0f}pt")
        sym = dict(symbolSize=7 * t.scale, symbolPen=None)
        if get_cell(cell).has_cell_state:
            self.flow_curves["dc"] = pg.PlotDataItem([], [], pen=t.pen("#1b7837", 3), symbol="s",
                                                     symbolBrush="#1b7837", name="||dc_t||", **sym)
        self.flow_curves["dh"] = pg.PlotDataItem([], [], pen=t.pen(t.backward, 3), symbol="o",
                                                 symbolBrush=t.backward, name="||dh_t||", **sym)
        self.flow_curves["dhnext"] = pg.PlotDataItem([], [], pen=t.pen(t.clipped, 2, Qt.DashLine),
                                                     symbol="t", symbolBrush=t.clipped,
                                                     name="||dhnext_t||", **sym)
        for c in self.flow_curves.values():
            self.flow_plot.addItem(c)
        marks = {"dc": ("#1b7837", "■"), "dh": (t.backward, "●"), "dhnext": (t.clipped, "▼")}
        self.flow_key.setText(style.key_html(
            [(marks[k][0], marks[k][1], c.name()) for k, c in self.flow_curves.items()],
            prefix="gradient flow plot: "))
        self.flow_cursor = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.flow_plot.addItem(self.flow_cursor)
        # Before the backward pass the plot is empty: say what fills it
        self.flow_empty = style.PlotMessage(self.flow_plot, "the backward pass fills this plot", t=t)

    def _new_trace(self, tr):
        for name, hm in self.heatmaps.items():
            if name == "c":
                m = max(1.0, float(np.max(np.abs(tr.c))) if tr.c.size else 1.0)
                hm.set_levels((-m, m))
        self.flow = {"dh": np.linalg.norm(tr.dh, axis=1),
                     "dhnext": np.linalg.norm(tr.dhnext, axis=1)}
        if get_cell(tr.cell).has_cell_state:
            self.flow["dc"] = np.linalg.norm(tr.dc, axis=1)
        allv = np.concatenate(list(self.flow.values()))
        pos = allv[np.isfinite(allv) & (allv > 0)]
        lo, hi = (np.log10(pos.min()), np.log10(pos.max())) if pos.size else (-3.0, 0.0)
        y0, y1 = np.floor(lo - 0.15), np.ceil(hi + 0.15)
        self.flow_plot.setYRange(y0, y1, padding=0)
        self.flow_plot.setXRange(-0.5, tr.T - 0.5, padding=0)
        H = tr.hidden_size
        cm = ""
        if "c" in self.heatmaps:
            m = self.heatmaps["c"].levels[1]
            cm = f"; c on [-{m:.3g}, {m:.3g}]"
        # One line: on a projector every line of text is taken from the heatmaps.
        self.note.setText(f"{tr.cell.upper()}, {H} units \u00d7 {tr.T} steps: gates 0 (purple, "
                          "closed) to 1 (yellow, open)")
        self.note.setToolTip(f"Gates on [0, 1] (purple closed, yellow open); candidates on "
                             f"[-1, 1]{cm}. The gradient flow plot fills during the backward pass.")

    # --- drawing ------------------------------------------------------------------------------
    def _array(self, tr, name):
        return tr.c if name == "c" else tr.gates[name]

    #: Below this width three heatmaps with their colour bars do not fit side by side.
    THREE_COLUMNS_MIN_WIDTH = 900

    def _columns(self, n: int = 0) -> int:
        """Columns of the grid of ``n`` plots (heatmaps + the flow plot) that keep every plot
        as large as the view's shape allows: 2 or 3 in a tall dock, one row on a wide one."""
        from ..reflow import best_grid
        n = n or len(getattr(self, "_built_names", ())) + 1 or 6
        w, h = self.view.width(), self.view.height()
        if w < 100 or h < 100:  # not laid out yet
            return 3 if self.width() >= self.THREE_COLUMNS_MIN_WIDTH else 2
        return best_grid(n, w, h)[1]

    def resizeEvent(self, event):
        super().resizeEvent(event)
        # A narrow dock gets two columns instead of a grid that runs off its right edge.
        if self._cell is not None and gates_of(self._cell) and (
                getattr(self, "_built_cols", None) not in (None, self._columns())
                or getattr(self, "_built_names", None) != self._shown_names(self._cell)):
            self._build(self._cell)
            self._trace_serial = None
            self.refresh()

    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        cell = tr.cell
        if not gates_of(cell):
            self.stack.setCurrentIndex(0)
            self._cell = cell
            self.data, self.flow = {}, {}
            return
        self.stack.setCurrentIndex(1)
        if cell != self._cell:
            self._cell = cell
            self._build(cell)
            self._trace_serial = None
        if self.session.trace_serial != self._trace_serial:
            self._trace_serial = self.session.trace_serial
            self._new_trace(tr)
        n = st.forward_count
        cur = st.current_t
        self.data = {}
        for name in gates_of(cell):  # every gate's numbers (CSV), drawn or not
            arr = self._array(tr, name)
            data = np.full((tr.hidden_size, tr.T), np.nan)
            data[:, :n] = arr[:n].T
            self.data[name] = data
        for name, hm in self.heatmaps.items():
            hm.set_data(self.data[name])
            # (backward too: the step's gates are what its gradient passes through)
            hm.set_cursor(cur)
        b = st.backward_from
        ts = np.arange(b, tr.T, dtype=float)
        for key, curve in self.flow_curves.items():
            curve.setData(ts, np.maximum(self.flow[key][b:], _TINY))
        self.flow_empty.setVisible(b >= tr.T)
        back = cur if st.in_backward else None
        self.flow_cursor.setVisible(back is not None)
        if back is not None:
            self.flow_cursor.setPos(back)

    def _show_hover(self, text):
        self.readout.setText(text)

    def describe_cell(self, name, row, col):
        s = self.session
        tr, st = s.trace, s.state
        if col >= st.forward_count:
            return f"{name}[{row}, t={col}]: not computed yet (forward step {col} comes later)"
        v = self._array(tr, name)[col, row]
        return f"{name}[unit {row}, t={col}] = {v:.4f}   {name} = {_meaning(tr.cell, name)}"

    def export_widget(self):
        return self.stack.currentWidget()

    def csv_tables(self):
        if not self.data:
            return {}
        s = self.session
        tr, st = s.trace, s.state
        n = st.forward_count
        H = tr.hidden_size
        out = {}
        for name in self.heatmaps:
            arr = self._array(tr, name)[:n]
            cols = ["t"] + [f"{name}[{j}]" for j in range(H)]
            out[name] = (cols, np.column_stack([np.arange(n), arr]) if n else np.zeros((0, H + 1)))
        b = st.backward_from
        ts = np.arange(b, tr.T)
        dc = self.flow.get("dc")
        flow = np.column_stack([ts, dc[b:] if dc is not None else np.full(ts.size, np.nan),
                                self.flow["dh"][b:], self.flow["dhnext"][b:]]) \
            if ts.size else np.zeros((0, 4))
        out["flow"] = (["t", "dc_norm", "dh_norm", "dhnext_norm"], flow)
        return out

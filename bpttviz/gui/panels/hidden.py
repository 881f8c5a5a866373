"""Hidden states as a heatmap: one row per hidden unit, one column per timestep."""
from __future__ import annotations

import numpy as np
from PyQt5.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout

from .. import style
from ...engine.cellspec import get_cell
from .base import Panel

def quantities_of(cell: str):
    """``[(name, short label, tooltip, activation)]`` this view can show for ``cell``: h, the
    cell state if the cell has one, then its gates (from the cell registry)."""
    spec = get_cell(cell)
    out = [("h", "h  hidden state", f"h: hidden state ({spec.formula('h') or 'h_t'}), the memory "
            "passed to the next step", "tanh")]
    if spec.has_cell_state:
        out.append(("c", "c  cell state", f"c: cell state {spec.formula('c')}", "state"))
    for g in spec.gates:
        out.append((g.name, f"{g.name}  {g.label}", f"{g.name}: {g.label}, {g.meaning}", g.activation))
    return out


class HiddenStatesPanel(Panel):
    key = "hidden_states"
    title = "Hidden states"
    tab_title = "Hidden"
    question = 'What does the hidden state hold at each step?'
    aliases = ('hidden',)
    view_widgets = ("combo", "range_combo")
    help_html = (
        "<p>Each <b>column</b> is a timestep t, each <b>row</b> a hidden unit. Colour is the "
        "value of h_t[unit]: <span style='color:#2166ac'>blue</span> negative, white 0, "
        "<span style='color:#b2182b'>red</span> positive, on the fixed range [-1, 1] of tanh. "
        "Columns fill left to right as the forward pass proceeds; empty columns are not "
        "computed yet (grey). The orange frame marks the current step.</p>"
        "<p>For an LSTM or GRU the box above chooses the cell state or a gate instead; gates "
        "(sigmoids, in [0, 1]) use the yellow-purple scale. Hover a cell to read its value, "
        "the formula that produced it and its inputs.</p>"
        "<p><b>range: auto</b> (the default) uses the fixed range unless every value of the "
        "window is below 0.1 in size, as with freshly initialised weights; then it fits. "
        "<b>range: fit to window</b> stretches the colours over the values this window "
        "actually reaches. Freshly initialised weights keep |h| near 0.01, which is white on "
        "the fixed scale; fitted, the pattern shows (read the range in the note before "
        "comparing two windows).</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.combo = QComboBox()
        self.combo.setFont(t.font(t.tick_pt))
        # filled when the trace arrives: sized to its items then ("h  hidden" was cut)
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.combo.setToolTip("Which quantity to show: h (default); for an LSTM also the cell "
                              "state c and the gates i, f, o, g; for a GRU the gates z, r, n")
        self.combo.currentIndexChanged.connect(self._on_view_option_change)
        self.range_combo = QComboBox()
        self.range_combo.setFont(t.font(t.tick_pt))
        self.range_combo.addItem("auto", "auto")
        self.range_combo.addItem("fixed", "fixed")
        self.range_combo.addItem("fit to window", "fit")
        self.range_combo.setToolTip(
            "Colour range. Auto (default): fixed, unless the window's values are all tiny "
            "(|value| < 0.1, as at initialisation), then fitted. Fixed: the function's own range ([-1, 1] for tanh, [0, 1] for a "
            "gate), comparable between windows. Fit: the values this window reaches, so that "
            "small activations (as at initialisation) are visible.")
        self.range_combo.currentIndexChanged.connect(self._on_range_changed)
        self.note = QLabel("")
        self.note.setWordWrap(True)  # a narrow dock wraps it instead of cutting it
        self.note.setFont(t.font(t.tick_pt))
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        lab = QLabel("show:")
        lab.setFont(t.font(t.tick_pt))
        top.addWidget(lab)
        top.addWidget(self.combo)
        range_lab = QLabel("range:")
        range_lab.setFont(t.font(t.tick_pt))
        range_lab.setToolTip(self.range_combo.toolTip())
        top.addWidget(range_lab)
        top.addWidget(self.range_combo)
        top.addWidget(self.note, 1)
        style.shrinkable(self.combo)
        style.shrinkable(self.range_combo)
        style.shrinkable(self.note)
        self.plot_widget = style.make_plot_widget("timestep t", "hidden unit")
        self.plot_widget.setToolTip("Hover a cell: value, formula and inputs")
        self.plot = self.plot_widget.getPlotItem()
        self.readout = style.readout_label("Hover a cell to see its value and formula.")
        self.heatmap = style.Heatmap(self.plot, style.diverging_cmap(), (-1, 1), "value",
                                     describe=self.describe_cell, on_hover=self._show_hover)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.readout)
        self._cell = None
        self._trace_serial = None
        self.data = np.zeros((0, 0))

    # --- what to show -------------------------------------------------------------------
    @property
    def quantity(self) -> str:
        return self.combo.currentData() or "h"

    def set_quantity(self, name: str):
        i = self.combo.findData(name)
        if i >= 0:
            self.combo.setCurrentIndex(i)

    #: In "auto" mode, a tanh-range quantity whose largest |value| in the window is below this
    #: is shown fitted (|h| ~ 0.01 at initialisation would be white on [-1, 1]).
    AUTO_FIT_BELOW = 0.1

    @property
    def range_mode(self) -> str:
        """"auto" (default), "fixed" or "fit"."""
        return self.range_combo.currentData() or "auto"

    def set_range_mode(self, mode: str):
        i = self.range_combo.findData(mode)
        if i >= 0:
            self.range_combo.setCurrentIndex(i)

    @property
    def fit_range(self) -> bool:
        """True when the reader chose "fit to window" (colours span this window's values
        instead of the function's range); "auto" may fit too, see :meth:`_fits`."""
        return self.range_mode == "fit"

    def set_fit_range(self, fit: bool):
        self.set_range_mode("fit" if fit else "fixed")

    def _fits(self, finite: np.ndarray) -> bool:
        """Whether the colours span the values ``finite`` (fit, or auto and all tiny)."""
        mode = self.range_mode
        if mode == "auto":
            return bool(finite.size) and float(np.max(np.abs(finite))) < self.AUTO_FIT_BELOW
        return mode == "fit"

    def _on_range_changed(self):
        self._trace_serial = None  # recompute the levels
        self.refresh()

    def _levels(self, name: str, arr: np.ndarray):
        """(levels, colour map, text of the range) for quantity ``name`` with values ``arr``."""
        finite = arr[np.isfinite(arr)]
        sigmoid = {q for q, _s, _t, act in quantities_of(self.session.trace.cell) if act == "sigmoid"}
        if name in sigmoid:
            if self.fit_range and finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                return (lo, hi), style.sequential_cmap(), f"[{lo:.3g}, {hi:.3g}] (fitted)"
            return (0.0, 1.0), style.sequential_cmap(), "[0, 1]"
        fits = self._fits(finite)
        if name == "c" or fits:
            m = float(np.max(np.abs(finite))) if finite.size else 0.0
            m = m or 1.0
            what = "largest |c| of this window" if name == "c" else (
                "fitted" if self.fit_range else "fitted: auto, the values are tiny")
            return (-m, m), style.diverging_cmap(), f"[-{m:.3g}, {m:.3g}] ({what})"
        return (-1.0, 1.0), style.diverging_cmap(), "[-1, 1]"

    def _array(self, tr, name):
        """(T, H) array of the quantity."""
        if name == "h":
            return tr.h
        if name == "c":
            return tr.c
        return tr.gates[name]

    def _sync_combo(self, cell):
        if cell == self._cell:
            return
        self._cell = cell
        current = self.quantity
        self.combo.blockSignals(True)
        self.combo.clear()
        for i, (name, short, tip, _act) in enumerate(quantities_of(cell)):
            self.combo.addItem(short, name)
            self.combo.setItemData(i, tip, 3)  # Qt.ToolTipRole
        j = self.combo.findData(current)
        self.combo.setCurrentIndex(j if j >= 0 else 0)
        self.combo.blockSignals(False)
        self.combo.setEnabled(self.combo.count() > 1)

    # --- drawing --------------------------------------------------------------------------
    def redraw(self):
        s = self.session
        tr, st = s.trace, s.state
        self._sync_combo(tr.cell)
        name = self.quantity
        arr = self._array(tr, name)
        if self.session.trace_serial != self._trace_serial or getattr(self, "_name", None) != name:
            self._trace_serial, self._name = self.session.trace_serial, name
            # The whole window's values, not only the steps revealed so far: the colours must
            # not change meaning while the forward pass fills in.
            levels, cmap, rng = self._levels(name, arr)
            self.heatmap.set_levels(levels, cmap)
            text = f"{name}: {tr.hidden_size} units × {tr.T} steps, colour range {rng}"
            self.note.setText(text)
            self.note.setToolTip(text)  # a narrow dock cuts the label; hovering shows it all
        T, H = arr.shape
        data = np.full((H, T), np.nan)
        n = st.forward_count
        data[:, :n] = arr[:n].T
        self.data = data
        self.heatmap.set_data(data)
        self.heatmap.set_cursor(st.current_t)

    def _show_hover(self, text):
        self.readout.setText(text)
        self.plot_widget.setToolTip(text)

    def describe_cell(self, row: int, col: int) -> str:
        """Value, formula and inputs of the shown quantity at (unit=row, t=col)."""
        s = self.session
        tr, st = s.trace, s.state
        name, j, t = self.quantity, row, col
        if t >= st.forward_count:
            return f"{name}[{j}, t={t}]: not computed yet (forward step {t} comes later)"
        H = tr.hidden_size
        v = self._array(tr, name)[t, j]
        pre = tr.preact[t]
        if tr.cell == "rnn":
            return (f"h[{j}, t={t}] = {v:.4f} = tanh(preact[{j},{t}] = {pre[j]:.4f}),  preact = "
                    f"Wxh·x_t + Whh·h_{{t-1}} + bh,  h[{j}, t-1] = {tr.h_prev[t, j]:.4f}")
        g = tr.gates
        if tr.cell == "lstm":  # the built-in cells show the numbers that go in
            if name == "h":
                return (f"h[{j}, t={t}] = {v:.4f} = o·tanh(c) = {g['o'][t, j]:.4f}·tanh("
                        f"{tr.c[t, j]:.4f})")
            if name == "c":
                return (f"c[{j}, t={t}] = {v:.4f} = f·c_prev + i·g = {g['f'][t, j]:.4f}·"
                        f"{tr.c_prev[t, j]:.4f} + {g['i'][t, j]:.4f}·{g['g'][t, j]:.4f}")
            block = "ifog".index(name)
            fn = "tanh" if name == "g" else "σ"
            return (f"{name}[{j}, t={t}] = {v:.4f} = {fn}(preact[{block * H + j},{t}] = "
                    f"{pre[block * H + j]:.4f})")
        if tr.cell != "gru":  # a cell from the registry: its own formula
            formula = get_cell(tr.cell).formula(name)
            return f"{name}[{j}, t={t}] = {v:.4f}" + (f"   {formula}" if formula else "")
        if name == "h":
            return (f"h[{j}, t={t}] = {v:.4f} = (1-z)·n + z·h_prev = (1-{g['z'][t, j]:.4f})·"
                    f"{g['n'][t, j]:.4f} + {g['z'][t, j]:.4f}·{tr.h_prev[t, j]:.4f}")
        block = "zrn".index(name)
        if name == "n":
            return (f"n[{j}, t={t}] = {v:.4f} = tanh(ax_n + r·ah_n) = tanh({pre[2 * H + j]:.4f}),"
                    f"  r = {g['r'][t, j]:.4f}")
        return f"{name}[{j}, t={t}] = {v:.4f} = σ(preact[{block * H + j},{t}] = {pre[block * H + j]:.4f})"

    def csv_tables(self):
        tr, st = self.session.trace, self.session.state
        n = st.forward_count
        name = self.quantity
        arr = self._array(tr, name)[:n]
        cols = ["t"] + [f"{name}[{j}]" for j in range(arr.shape[1])]
        return {name: (cols, np.column_stack([np.arange(n), arr]) if n else np.zeros((0, len(cols))))}

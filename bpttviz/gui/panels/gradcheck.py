"""Gradient check: backprop's analytic gradient against centred finite differences.

The numbers are ``session.gradient_check()`` (the engine's check, cached per window); this
panel only draws them.  The teaching toggle switches the engine's deliberate "forget dhnext"
bug on through an undoable ``session.edit``, so the check visibly fails and training degrades.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import (QAbstractItemView, QApplication, QCheckBox, QComboBox, QHBoxLayout,
                             QHeaderView, QLabel, QMessageBox, QPushButton, QTableWidget,
                             QTableWidgetItem, QVBoxLayout)

from .. import style
from .base import Panel

#: Relative-error thresholds (cs231n's rule of thumb) and their colours (with a word, so the
#: verdict never depends on colour alone).
GOOD, SUSPICIOUS = 1e-7, 1e-4
COLORS = {"good": "#1a9850", "suspicious": "#e69f00", "wrong": "#d73027"}
TINTS = {"good": "#d9f0d3", "suspicious": "#fdebc8", "wrong": "#f8d0cc"}
WORDS = {"good": "correct", "suspicious": "suspicious", "wrong": "WRONG"}
MAX_ENTRIES = 20
_FLOOR = 1e-16


def verdict(rel_error: float) -> str:
    """"good" (< 1e-7), "suspicious" (< 1e-4) or "wrong"."""
    if not np.isfinite(rel_error):
        return "wrong"
    return "good" if rel_error < GOOD else "suspicious" if rel_error < SUSPICIOUS else "wrong"


class GradCheckPanel(Panel):
    key = "gradcheck"
    title = "Gradient check"
    view_widgets = ("auto_box", "param_combo")
    help_html = (
        "<p>Is backpropagation right? For up to 20 randomly chosen entries of every parameter "
        "the <b>analytic</b> gradient (what backprop through time computed) is compared with a "
        "<b>numerical</b> one: nudge the entry by \u00b10.00001, rerun the forward pass, and "
        "divide the change of the loss by 0.00002.</p>"
        "<p><b>Left</b>: each dot is one checked entry of the chosen parameter, analytic on x, "
        "numerical on y. If backprop is right every dot lies on the dashed diagonal y = x.</p>"
        "<p><b>Right</b> and <b>table</b>: the relative error ||a \u2212 n|| / (||a|| + ||n||) "
        "per parameter on a log scale (bars), and the worst single entry (black diamond). "
        "<span style='color:#1a9850'><b>green</b></span> below 1e-7: correct; "
        "<span style='color:#e69f00'><b>amber</b></span> below 1e-4: suspicious (or tiny "
        "gradients at the start of training, where finite differences are noisy); "
        "<span style='color:#d73027'><b>red</b></span>: the gradient is wrong.</p>"
        "<p>Tick <b>Forget dhnext</b> to make the classic mistake: the gradient arriving from "
        "the future (dhnext) is not added to dh. Wxh, Whh and bh turn red, Why and by (which "
        "do not go back through time) stay green, and training learns far worse. Untick (or "
        "undo) to fix it.</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        font = t.font(t.tick_pt)
        self.run_button = self.editor(QPushButton("Run check"))
        self.run_button.setToolTip("Compare backprop's gradient with finite differences on this "
                                   f"window ({MAX_ENTRIES} random entries per parameter)")
        self.run_button.clicked.connect(self.run_check)
        self.bug_box = self.editor(QCheckBox("Forget dhnext (the classic bug)"))
        self.bug_box.setToolTip("Teaching toggle: backprop forgets to add the gradient from the "
                                "future (dh = Whyᵀdy instead of Whyᵀdy + dhnext). Undoable.")
        self.bug_box.toggled.connect(self._bug_toggled)
        self.auto_box = QCheckBox("check every new window")
        self.auto_box.setChecked(True)
        self.auto_box.setToolTip("Run the check automatically whenever the window or the "
                                 "parameters change (it takes a fraction of a second)")
        self.auto_box.toggled.connect(self._auto_toggled)
        self.param_combo = QComboBox()
        self.param_combo.setToolTip("Which parameter's checked entries the scatter plot shows")
        self.param_combo.currentIndexChanged.connect(self._param_chosen)
        lab = QLabel("scatter:")
        lab.setToolTip(self.param_combo.toolTip())
        for w in (self.run_button, self.bug_box, self.auto_box, self.param_combo, lab):
            w.setFont(font)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.run_button)
        top.addWidget(self.bug_box)
        top.addWidget(self.auto_box)
        top.addStretch(1)
        top.addWidget(lab)
        top.addWidget(self.param_combo)

        self.status = QLabel("")
        self.status.setFont(t.font(t.label_pt, bold=True))
        self.status.setWordWrap(True)
        self.status.setToolTip("The verdict of the check on this window")

        self.view = style.make_layout_widget(t)
        self.scatter_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.scatter_plot, "analytic (backprop)", "numerical")
        self.bar_plot = self.view.addPlot(row=0, col=1)
        style.style_plot(self.bar_plot, "parameter", "relative error")
        self.bar_plot.setLogMode(x=False, y=True)
        self.view.ci.layout.setColumnStretchFactor(0, 1)
        self.view.ci.layout.setColumnStretchFactor(1, 1)
        self.view.setToolTip("Left: analytic vs numerical gradient entries (on the diagonal = "
                             "correct). Right: relative error per parameter, log scale")
        self.diagonal = pg.PlotDataItem([], [], pen=t.pen(t.muted, 2, Qt.DashLine))
        self.scatter = pg.ScatterPlotItem(size=11 * t.scale, pen=pg.mkPen(t.foreground, width=1))
        self.scatter_plot.addItem(self.diagonal)
        self.scatter_plot.addItem(self.scatter)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6, y0=0)
        self.bar_plot.addItem(self.bars)
        self.max_marks = pg.ScatterPlotItem(symbol="d", size=13 * t.scale,
                                            pen=pg.mkPen(t.foreground, width=1.5),
                                            brush=pg.mkBrush(t.foreground))
        self.bar_plot.addItem(self.max_marks)
        for value, kind, text in ((GOOD, "good", "1e-7"), (SUSPICIOUS, "suspicious", "1e-4")):
            line = pg.InfiniteLine(pos=np.log10(value), angle=0,
                                   pen=pg.mkPen(COLORS[kind], width=2, style=Qt.DashLine),
                                   label=text, labelOpts=dict(position=0.97, color=COLORS[kind],
                                                              anchors=[(1, 1), (1, 1)]))
            line.label.setFont(t.font(t.tick_pt - 1, bold=True))
            self.bar_plot.addItem(line)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["parameter", "relative error", "worst entry",
                                              "verdict"])
        self.table.setFont(font)
        self.table.horizontalHeader().setFont(font)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.setToolTip("Relative error ||a−n||/(||a||+||n||) over the checked entries, and "
                              "the largest entry-wise |a−n|/(|a|+|n|)")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.view, 3)
        lay.addWidget(self.table, 2)

        self.results: Optional[Dict] = None
        self._trace_serial = None
        self._result_trace_serial = None
        self.on_busy(session.busy)

    # --- controls -----------------------------------------------------------------------
    def on_busy(self, busy: bool):
        # The training worker owns the run (the base class disables the check and the bug).
        if busy:
            self.status.setText("Training is running: the check resumes when it is paused.")

    def _auto_toggled(self, on: bool):
        if on:
            self.refresh()

    def _param_chosen(self, _index: int):
        self._draw_scatter()

    def _bug_toggled(self, on: bool):
        s = self.session
        want = "forget-dhnext" if on else None
        if s.config.backprop_bug == want:
            return
        from ...session import SessionError
        try:
            s.edit("forget dhnext (teaching bug)" if on else "remember dhnext (fix the bug)",
                   backprop_bug=want)
        except SessionError as e:
            QMessageBox.warning(self, "Cannot change the backward pass", str(e))
            self._sync_bug_box()

    def _sync_bug_box(self):
        c = self.session.config
        self.bug_box.blockSignals(True)
        self.bug_box.setChecked(c.backprop_bug == "forget-dhnext")
        self.bug_box.blockSignals(False)
        # A bug hunt (bpttviz.gui.hunt) hides which bug is on: the box would give it away.
        self.bug_box.setVisible(not getattr(self.session, "hunting", False))
        if c.task == "captioning":
            self.bug_box.setEnabled(False)
            self.bug_box.setToolTip("The teaching bug is available for the character models")

    def run_check(self):
        """Run the engine's check on the current window (busy cursor while it runs)."""
        if self.session.busy:
            return
        self.status.setText("checking\u2026")
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            self.results = self.session.gradient_check(MAX_ENTRIES)
        finally:
            QApplication.restoreOverrideCursor()
        self._result_trace_serial = self.session.trace_serial
        self._draw_results()

    # --- drawing ------------------------------------------------------------------------
    def redraw(self):
        if self.session.busy:
            return
        self._sync_bug_box()
        if self.session.trace_serial != self._trace_serial:
            self._trace_serial = self.session.trace_serial
            if self.auto_box.isChecked():
                self.run_check()
                return
            self.results = None
        if self.results is None or self._result_trace_serial != self.session.trace_serial:
            self.results = None
            self._draw_results()

    def _sync_params(self, names):
        if [self.param_combo.itemText(i) for i in range(self.param_combo.count())] == list(names):
            return
        current = self.param_combo.currentText() or "Whh"
        self.param_combo.blockSignals(True)
        self.param_combo.clear()
        self.param_combo.addItems(list(names))
        i = self.param_combo.findText(current)
        if i < 0:
            i = next((j for j, n in enumerate(names) if n.lower() in ("whh", "wh")), 0)
        self.param_combo.setCurrentIndex(i)
        self.param_combo.blockSignals(False)

    def _draw_results(self):
        res = self.results
        if res is None:
            self.status.setText("Press Run check to compare backprop with finite differences.")
            self.status.setStyleSheet("")
            self.bars.setOpts(x=[], height=[], y0=0)
            self.max_marks.setData([], [])
            self.scatter.setData([], [])
            self.diagonal.setData([], [])
            self.table.setRowCount(0)
            return
        names = list(res)
        self._sync_params(names)
        rel = np.array([res[n].rel_error for n in names], dtype=float)
        worst = np.array([res[n].max_rel_error for n in names], dtype=float)
        kinds = [verdict(r) for r in rel]
        # Bars on the log axis: drawn in log10 units from the bottom of the view.
        logs = np.log10(np.maximum(np.nan_to_num(rel, nan=1.0, posinf=1.0), _FLOOR))
        wlogs = np.log10(np.maximum(np.nan_to_num(worst, nan=1.0, posinf=1.0), _FLOOR))
        bottom = min(-11.0, float(np.floor(min(logs.min(), wlogs.min()))) - 1.0)
        x = np.arange(len(names), dtype=float)
        self.bars.setOpts(x=x, height=logs - bottom, y0=bottom, width=0.6,
                          brushes=[pg.mkBrush(COLORS[k]) for k in kinds],
                          pens=[pg.mkPen(self._theme.foreground, width=1)] * len(names))
        self.max_marks.setData(x, wlogs)
        self.bar_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.bar_plot.setYRange(bottom, 0.6, padding=0)
        self.bar_plot.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        # Table.
        self.table.setRowCount(len(names))
        for r, (n, a, w, k) in enumerate(zip(names, rel, worst, kinds)):
            cells = [n, f"{a:.2e}", f"{w:.2e}", WORDS[k]]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignCenter)
                item.setBackground(QBrush(QColor(TINTS[k])))
                if c == 3:
                    item.setForeground(QBrush(QColor(COLORS[k])))
                    f = self._theme.font(self._theme.tick_pt, bold=True)
                    item.setFont(f)
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        # Verdict.
        worst_i = int(np.nanargmax(np.nan_to_num(rel, nan=np.inf)))
        overall = verdict(rel[worst_i])
        bug = (self.session.config.backprop_bug == "forget-dhnext"
               and not getattr(self.session, "hunting", False))
        if overall == "good":
            msg = "\u2714 every relative error is below 1e-7: backprop is right."
        elif overall == "suspicious":
            msg = (f"\u2248 largest relative error {rel[worst_i]:.1e} ({names[worst_i]}): suspicious, "
                   "or finite-difference noise on very small gradients.")
        else:
            bad = ", ".join(n for n, k in zip(names, kinds) if k == "wrong")
            msg = f"\u2718 {bad}: relative error up to {np.nanmax(rel):.1e}: the gradient is WRONG"
            msg += " (dhnext is forgotten)." if bug else "."
        self.status.setText(msg)
        self.status.setStyleSheet(f"color: {COLORS[overall]}; padding: 2px 6px;")
        self._draw_scatter()

    def _draw_scatter(self):
        res = self.results
        name = self.param_combo.currentText()
        if res is None or name not in res:
            self.scatter.setData([], [])
            self.diagonal.setData([], [])
            return
        a, n = self._entries(res[name])
        color = COLORS[verdict(res[name].rel_error)]
        self.scatter.setData(a, n, brush=pg.mkBrush(color))
        m = float(np.max(np.abs(np.concatenate([a, n])))) if a.size else 0.0
        m = m * 1.1 if np.isfinite(m) and m > 0 else 1.0
        self.diagonal.setData([-m, m], [-m, m])
        self.scatter_plot.setXRange(-m, m, padding=0)
        self.scatter_plot.setYRange(-m, m, padding=0)
        self.scatter_plot.setTitle(f"{name}: {a.size} entries (on the diagonal = correct)",
                                   size=f"{self._theme.pt(self._theme.tick_pt):.0f}pt",
                                   color=self._theme.foreground)

    @staticmethod
    def _entries(entry):
        """(analytic, numeric) at the checked entries, in the engine's order."""
        ix = tuple(np.asarray(entry.checked).T)
        return np.asarray(entry.analytic)[ix].ravel(), np.asarray(entry.numeric)[ix].ravel()

    def export_widget(self):
        return self

    def csv_tables(self):
        res = self.results
        if res is None:
            return {"": (["parameter", "rel_error", "max_rel_error"], np.zeros((0, 3))),
                    "entries": (["parameter", "index", "analytic", "numeric"], np.zeros((0, 4)))}
        rows = [[n, float(e.rel_error), float(e.max_rel_error)] for n, e in res.items()]
        entries = []
        for n, e in res.items():
            a, num = self._entries(e)
            flat = np.ravel_multi_index(tuple(np.asarray(e.checked).T), np.shape(e.analytic))
            entries += [[n, int(i), float(x), float(y)] for i, x, y in zip(flat, a, num)]
        return {"": (["parameter", "rel_error", "max_rel_error"], np.array(rows, dtype=object)),
                "entries": (["parameter", "index", "analytic", "numeric"],
                            np.array(entries, dtype=object).reshape(-1, 4))}

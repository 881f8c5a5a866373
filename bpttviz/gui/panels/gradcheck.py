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
                             QTableWidgetItem, QVBoxLayout, QWidget)

from ...session import SessionError
from .. import style
from ..flow_layout import FlowLayout
from .base import WHOLE_WINDOW, Panel
from .gradcheck_verdict import (_FLOOR, COLORS, GOOD, MAX_ENTRIES, SUSPICIOUS, TINTS, WORDS,
                                ParamCheck, error_floor, help_text, summarize, verdict)



class GradCheckPanel(Panel):
    key = "gradcheck"
    title = "Gradient check"
    tab_title = "Check"
    question = 'Is the backward pass right? Analytic against numerical gradients'
    view_widgets = ("auto_box", "param_combo", "diff_box")
    help_html = help_text()

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        font = t.font(t.tick_pt)
        self.run_button = self.editor(QPushButton("Run check"))
        self.run_button.setToolTip("Compare backprop's gradient with finite differences on this "
                                   f"window ({MAX_ENTRIES} random entries per parameter)")
        self.run_button.clicked.connect(self.run_check)
        self.bug_box = self.editor(QCheckBox("Forget dhnext (bug)"))
        self.bug_box.setToolTip("The classic bug, as a teaching toggle: backprop forgets to add "
                                "the gradient from the "
                                "future (dh = Whyᵀdy instead of Whyᵀdy + dhnext). Undoable.")
        self.bug_box.toggled.connect(self._bug_toggled)
        self.auto_box = QCheckBox("auto-check")
        self.auto_box.setChecked(True)
        self.auto_box.setToolTip("Check every new window: run the check automatically whenever "
                                 "the window or the "
                                 "parameters change (it takes a fraction of a second)")
        self.auto_box.toggled.connect(self._auto_toggled)
        self.param_combo = QComboBox()
        self.param_combo.setToolTip("Which parameter's checked entries the scatter plot shows")
        self.param_combo.currentIndexChanged.connect(self._param_chosen)
        self.diff_box = QCheckBox("show n \u2212 a")
        self.diff_box.setToolTip("Plot the difference numerical \u2212 analytic on y (0 = correct), "
                                 "so a small miss is as visible as a large one")
        self.diff_box.toggled.connect(self._param_chosen)
        lab = QLabel("scatter:")
        lab.setToolTip(self.param_combo.toolTip())
        for w in (self.run_button, self.bug_box, self.auto_box, self.param_combo, lab,
                  self.diff_box):
            w.setFont(font)
        # One row that wraps when narrow (a projector's fonts), never a sideways scroll bar;
        # "scatter:" and its combo stay together.
        top = FlowLayout(spacing=6)
        top.setContentsMargins(4, 2, 4, 0)
        scatter = QWidget()
        pair = QHBoxLayout(scatter)
        pair.setContentsMargins(0, 0, 0, 0)
        pair.addWidget(lab)
        pair.addWidget(self.param_combo)
        # Three groups, a line between them: checking, the bug, what the scatter shows
        # ("auto-check" beside "scatter:" read as one phrase on a projector).
        for group in ((self.run_button, self.auto_box), (self.bug_box,), (scatter, self.diff_box)):
            if top.count():
                top.add_separator()
            for w in group:
                top.addWidget(w)

        self.status = QLabel("")
        self.status.setFont(t.font(t.label_pt, bold=True))
        self.status.setWordWrap(True)
        self.status.setToolTip("The verdict of the check on this window. F: a gradient entry "
                               "smaller than F is too small for finite differences to check "
                               "to 1e-7, so its error is measured against F (see the help)")

        self.view = style.make_layout_widget(t)
        self.scatter_plot = self.view.addPlot(row=0, col=0)
        style.style_plot(self.scatter_plot, "analytic (backprop)", "numerical")
        self.bar_plot = self.view.addPlot(row=0, col=1)
        style.style_plot(self.bar_plot, "parameter", "worst entry error")
        self.bar_plot.setLogMode(x=False, y=True)
        self.view.ci.layout.setColumnStretchFactor(0, 1)
        self.view.ci.layout.setColumnStretchFactor(1, 1)
        self.view.setToolTip("Left: analytic vs numerical gradient entries (on the diagonal = "
                             "correct). Right: each parameter's worst entry error, log scale")
        self.diagonal = pg.PlotDataItem([], [], pen=t.pen(t.muted, 2, Qt.DashLine))
        self.scatter = pg.ScatterPlotItem(size=9 * t.scale, pen=pg.mkPen(t.foreground, width=1))
        # A thin line from each wrong dot to the diagonal, so a small miss is seen too.
        self.sticks = pg.PlotDataItem([], [], connect="pairs", pen=t.pen(COLORS["wrong"], 1.5))
        self.scatter_plot.addItem(self.diagonal)
        self.scatter_plot.addItem(self.sticks)
        self.scatter_plot.addItem(self.scatter)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6, y0=0)
        self.bar_plot.addItem(self.bars)
        for value, kind, text in ((GOOD, "good", "1e-7"), (SUSPICIOUS, "suspicious", "1e-4")):
            line = pg.InfiniteLine(pos=np.log10(value), angle=0,
                                   pen=pg.mkPen(COLORS[kind], width=2, style=Qt.DashLine),
                                   label=text, labelOpts=dict(position=0.97, color=COLORS[kind],
                                                              anchors=[(1, 1), (1, 1)]))
            line.label.setFont(t.font(t.tick_pt - 1, bold=True))
            self.bar_plot.addItem(line)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["parameter", "worst entry error", "at entry: a vs n",
                                              "verdict"])
        self.table.setFont(font)
        self.table.horizontalHeader().setFont(font)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.setToolTip("Per parameter: the largest |a−n| / max(|a|+|n|, F) over the checked "
                              "entries, the entry where it is, and the verdict of that number")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.status)
        from ..reflow import PlotFlow
        # Side by side when there is room; short (a projector), the scatter alone and large,
        # the pager turning to the worst errors with their table.
        self.plot_flow = PlotFlow(self.view, [[self.scatter_plot], [self.bar_plot]],
                                  rows=[[0, 1]], names=["a vs n", "errors"],
                                  tips=["analytic against numerical, entry by entry",
                                        "each parameter's worst entry error, with the table"],
                                  extras={1: [self.table]})
        lay.addLayout(self.plot_flow.row(), 3)
        lay.addWidget(self.table, 2)

        self.results: Optional[Dict] = None
        #: What is drawn: per parameter the worst entry and its verdict (None before a check).
        self.checks: Optional[Dict[str, ParamCheck]] = None
        self.floor: float = float("nan")
        self._trace_serial = None
        self._result_trace_serial = None
        self.on_busy(session.busy)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        # On a short view (a projector) the table keeps a few rows and the plots the rest;
        # it scrolls for the others.
        rows = self.table.verticalHeader().defaultSectionSize()
        head = self.table.horizontalHeader().height()
        short = self.height() < 620
        self.table.setMaximumHeight(head + int(3.3 * rows) + 4 if short else 16777215)

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
        except SessionError as e:  # e.g. a truncated gradient: no loss to differentiate
            self.results = None
            self._check_error = (self.session.trace_serial, f"The check cannot run here: {e}")
            self._result_trace_serial = self.session.trace_serial
            self._draw_results()
            return
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
            self.checks = None
            error = getattr(self, "_check_error", None)
            self.status.setText(error[1] if error and error[0] == self.session.trace_serial else
                                "Press Run check to compare backprop with finite differences.")
            self.status.setStyleSheet("")
            self.bars.setOpts(x=[], height=[], y0=0)
            self.scatter.setData([], [])
            self.sticks.setData([], [])
            self.diagonal.setData([], [])
            self.table.setRowCount(0)
            return
        names = list(res)
        self._sync_params(names)
        self.floor = error_floor(self.session.trace.loss)
        self.checks = {n: summarize(res[n], self.floor) for n in names}
        err = np.array([self.checks[n].error for n in names], dtype=float)
        kinds = [self.checks[n].kind for n in names]
        # Bars on the log axis: drawn in log10 units from the bottom of the view.
        logs = np.log10(np.maximum(np.nan_to_num(err, nan=1.0, posinf=1.0), _FLOOR))
        bottom = min(-11.0, float(np.floor(logs.min())) - 1.0)
        x = np.arange(len(names), dtype=float)
        self.bars.setOpts(x=x, height=logs - bottom, y0=bottom, width=0.6,
                          brushes=[pg.mkBrush(COLORS[k]) for k in kinds],
                          pens=[pg.mkPen(self._theme.foreground, width=1)] * len(names))
        self.bar_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.bar_plot.setYRange(bottom, 0.6, padding=0)
        self.bar_plot.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        # Table.
        self.table.setRowCount(len(names))
        for r, (n, k) in enumerate(zip(names, kinds)):
            c = self.checks[n]
            where = f"{list(c.index)}: {c.analytic:.3g} vs {c.numeric:.3g}"
            cells = [n, f"{c.error:.2e}", where, WORDS[k]]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignCenter)
                item.setBackground(QBrush(QColor(TINTS[k])))
                item.setForeground(QBrush(QColor(COLORS[k] if col == 3 else "#000000")))
                if col == 3:
                    item.setFont(self._theme.font(self._theme.tick_pt, bold=True))
                self.table.setItem(r, col, item)
        self.table.resizeRowsToContents()
        # Verdict: the same numbers as the bars and the table.
        worst_i = int(np.argmax(np.nan_to_num(err, nan=np.inf)))
        overall = kinds[worst_i]
        bug = (self.session.config.backprop_bug == "forget-dhnext"
               and not getattr(self.session, "hunting", False))
        # F is not an error but the floor of the error's denominator: said as the formula
        # ("error below 1e-7 (noise floor F = 3.4e-03)" read as a contradiction beside
        # gradients of 1e-3)
        # (non-breaking around "=": a wrapped line read "with F" / "= 3.4e-03")
        floor = f"error = |a \u2212 n| / max(|a| + |n|, F) with F\u00a0=\u00a0{self.floor:.1e}"
        if overall == "good":
            msg = f"\u2714 backprop is right: every entry's error < 1e-7, {floor}"
        elif overall == "suspicious":
            msg = (f"\u2248 suspicious: worst entry error {err[worst_i]:.1e} ({names[worst_i]}), "
                   f"{floor}")
        else:
            bad = ", ".join(n for n, k in zip(names, kinds) if k == "wrong")
            msg = (f"\u2718 {bad}: worst entry error {err[worst_i]:.1e} ({names[worst_i]}): "
                   "the gradient is WRONG")
            msg += " (dhnext is forgotten)." if bug else "."
        self.status.setText(f"{msg} ({WHOLE_WINDOW})")
        self.status.setStyleSheet(f"color: {COLORS[overall]}; padding: 2px 6px;")
        self._draw_scatter()

    def _draw_scatter(self):
        res = self.results
        name = self.param_combo.currentText()
        if res is None or name not in res or self.checks is None:
            self.scatter.setData([], [])
            self.sticks.setData([], [])
            self.diagonal.setData([], [])
            return
        a, n = self._entries(res[name])
        kinds = [verdict(e) for e in self.checks[name].errors]
        # Every dot where it is, coloured by its own error (a right entry of a wrong
        # parameter stays green on the diagonal; the wrong ones are red, off it).
        self.scatter.setData(a, n, brush=[pg.mkBrush(COLORS[k]) for k in kinds])
        off = np.array([k != "good" for k in kinds], dtype=bool)
        if np.any(off):
            xs = np.repeat(a[off], 2)
            ys = np.empty(2 * int(off.sum()))
            ys[0::2], ys[1::2] = a[off], n[off]
            self.sticks.setData(xs, ys)
        else:
            self.sticks.setData([], [])
        t = self._theme
        css = {"color": t.foreground, "font-size": f"{t.pt(t.label_pt):.0f}pt"}
        finite = a[np.isfinite(a)]
        mx = float(np.max(np.abs(finite))) if finite.size else 0.0
        mx = mx * 1.1 if mx > 0 else 1.0
        wrong = int(off.sum())
        if self.diff_box.isChecked():
            # y = n - a: the diagonal becomes the zero line.  The range is at least the
            # "suspicious" size of a difference, so rounding noise stays on the line.
            d = n - a
            self.scatter.setData(a, d, brush=[pg.mkBrush(COLORS[k]) for k in kinds])
            if np.any(off):
                xs = np.repeat(a[off], 2)
                ys = np.zeros(2 * wrong)
                ys[1::2] = d[off]
                self.sticks.setData(xs, ys)
            fd = d[np.isfinite(d)]
            my = max(float(np.max(np.abs(fd))) if fd.size else 0.0, SUSPICIOUS * mx) * 1.15
            self.diagonal.setData([-mx, mx], [0.0, 0.0])
            self.scatter_plot.setXRange(-mx, mx, padding=0)
            self.scatter_plot.setYRange(-my, my, padding=0)
            self.scatter_plot.setLabel("left", "n \u2212 a", **css)
            what = "n \u2212 a, "
        else:
            both = np.concatenate([a, n])
            both = both[np.isfinite(both)]
            m = float(np.max(np.abs(both))) if both.size else 0.0
            m = m * 1.1 if m > 0 else 1.0
            self.diagonal.setData([-m, m], [-m, m])
            self.scatter_plot.setXRange(-m, m, padding=0)
            self.scatter_plot.setYRange(-m, m, padding=0)
            self.scatter_plot.setLabel("left", "numerical", **css)
            what = ""
        # A short title: a long one widened this plot's column and squeezed the bars.
        count = f"{wrong} of {a.size} not correct" if wrong else f"{a.size} entries, all correct"
        self.scatter_plot.setTitle(f"{name}: {what}{count}",
                                   size=f"{t.pt(t.tick_pt):.0f}pt", color=t.foreground)

    @staticmethod
    def _entries(entry):
        """(analytic, numeric) at the checked entries, in the engine's order."""
        ix = tuple(np.asarray(entry.checked).T)
        return np.asarray(entry.analytic)[ix].ravel(), np.asarray(entry.numeric)[ix].ravel()

    def export_widget(self):
        return self

    def csv_tables(self):
        res, checks = self.results, self.checks
        cols = ["parameter", "worst_entry_error", "worst_entry_index", "analytic", "numeric",
                "verdict", "floor"]
        ecols = ["parameter", "index", "analytic", "numeric", "error", "step"]
        if res is None or checks is None:
            return {"": (cols, np.zeros((0, len(cols)))), "entries": (ecols, np.zeros((0, 6)))}
        rows = [[n, c.error, str(list(c.index)), c.analytic, c.numeric, WORDS[c.kind], self.floor]
                for n, c in checks.items()]
        entries = []
        for n, e in res.items():
            a, num = self._entries(e)
            flat = np.ravel_multi_index(tuple(np.asarray(e.checked).T), np.shape(e.analytic))
            # the step each entry's numerical value was taken with (the check refines)
            steps = e.eps if getattr(e, "eps", None) is not None else np.full(len(a), np.nan)
            entries += [[n, int(i), float(x), float(y), float(r), float(h)]
                        for i, x, y, r, h in zip(flat, a, num, checks[n].errors, steps)]
        return {"": (cols, np.array(rows, dtype=object)),
                "entries": (ecols, np.array(entries, dtype=object).reshape(-1, 6))}

"""File ▸ Check my code…: run ``bpttviz.check`` on a student's file in the background and show
its report: where the first difference is, the student's and the engine's ||dhnext_t|| side by
side with that step marked, and the table of what was compared at each step.

The student's code runs in the checker's own sandbox process (time and memory limits), so a
hanging or crashing file never freezes the window; the report arrives by a queued signal.
"""
from __future__ import annotations

import html
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QObject, Qt, QThread, pyqtSignal, pyqtSlot
from PyQt5.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel,
                             QPlainTextEdit, QProgressDialog, QSlider, QTableWidget,
                             QTableWidgetItem, QVBoxLayout)

from . import style

COLUMNS = ("quantity", "step", "in your code", "result", "max rel. error", "engine", "yours")


class CheckWorker(QObject):
    """Runs the check in a QThread; ``sigDone(report)`` or ``sigFailed(message)``."""

    sigDone = pyqtSignal(object)
    sigFailed = pyqtSignal(str)

    def __init__(self, path: str, timeout: float = 10.0):
        super().__init__()
        self.path, self.timeout = path, timeout

    @pyqtSlot()
    def work(self):
        try:
            from ..checker.api import check
            self.sigDone.emit(check(self.path, timeout=self.timeout))
        except Exception as e:  # noqa: BLE001 -- a checker bug is a message, not a crash
            self.sigFailed.emit(f"{type(e).__name__}: {e}")


class CheckDialog(QDialog):
    """The report of one check (see the module docstring)."""

    def __init__(self, report, parent=None):
        super().__init__(parent)
        self.report = report
        t = style.theme()
        self.setObjectName("checkDialog")
        self.setWindowTitle(f"Check of {report.file} — bpttviz")
        lay = QVBoxLayout(self)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setFont(t.font(t.label_pt, bold=True))
        self.headline.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.headline)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setFont(t.font(t.tick_pt))
        lay.addWidget(self.hint)

        self.plot_widget = style.make_plot_widget("timestep t", "||dhnext_t||")
        self.plot = self.plot_widget.getPlotItem()
        self.plot_widget.setMinimumHeight(200)
        self.plot_widget.setToolTip("The gradient sent back at each step: the engine's line and "
                                    "your code's dots; the red line marks the first difference")
        self.engine_curve = pg.PlotDataItem([], [], pen=t.pen(t.forward, 3), name="engine")
        self.student_curve = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=10 * t.scale,
                                             symbolBrush=t.raw, name="your code")
        self.plot.addItem(self.engine_curve)
        self.plot.addItem(self.student_curve)
        self.first_line = pg.InfiniteLine(angle=90, pen=t.pen("#d62728", 3, Qt.DashLine))
        self.cursor_line = pg.InfiniteLine(angle=90, pen=t.pen(t.highlight, 3))
        self.plot.addItem(self.first_line)
        self.plot.addItem(self.cursor_line)
        self.key = style.key_label([(t.forward, "━", "engine"), (t.raw, "●", "your code"),
                                    ("#d62728", "╎", "first difference")], t)
        lay.addWidget(self.key)
        lay.addWidget(self.plot_widget, 2)

        row = QHBoxLayout()
        self.step_label = QLabel()
        self.step_label.setFont(t.font(t.tick_pt, bold=True))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("Step through the timesteps: the table shows what was compared there")
        self.slider.valueChanged.connect(self._on_step)
        self.all_box = QCheckBox("every step")
        self.all_box.setToolTip("Show the comparisons of every step, not just the chosen one")
        self.all_box.toggled.connect(self._on_all_toggled)
        row.addWidget(self.step_label)
        row.addWidget(self.slider, 1)
        row.addWidget(self.all_box)
        lay.addLayout(row)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table, 3)

        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setMaximumHeight(90)
        self.output.setPlaceholderText("Your code printed nothing.")
        self.output.setToolTip("What your code printed while it ran")
        lay.addWidget(self.output)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.resize(980, 720)
        self._fill()

    # --- content --------------------------------------------------------------------------
    def _fill(self) -> None:
        r = self.report
        if not r.usable:
            self.headline.setText(f"This file could not be checked: {html.escape(r.problem)}")
            self.hint.setText("")
        else:
            self.headline.setText(html.escape(r.headline()))
            hint = ""
            if r.bug:
                hint = f"This is the classic mistake “{r.bug}”: {r.bug_evidence or r.hint}"
            elif r.hint:
                hint = r.hint
            if not r.capture_worked:
                hint += ("  (Per-step values could not be read from your code: only what it "
                         "returned was compared.)")
            self.hint.setText(hint.strip())
        self.output.setPlainText(r.output or "")
        eng = np.asarray(r.dhnext_engine if r.dhnext_engine is not None else [], dtype=float)
        stu = np.asarray(r.dhnext_student if r.dhnext_student is not None else [], dtype=float)
        T = int(max(eng.size, stu.size, 1))
        ts = np.arange(T, dtype=float)
        if eng.size:
            self.engine_curve.setData(ts[:eng.size], eng)
        if stu.size:
            ok = np.isfinite(stu)
            self.student_curve.setData(ts[:stu.size][ok], stu[ok])
        first_t = r.first.t if r.first is not None and r.first.t is not None else None
        self.first_line.setVisible(first_t is not None)
        if first_t is not None:
            self.first_line.setPos(first_t)
        self.slider.blockSignals(True)
        self.slider.setRange(0, T - 1)
        self.slider.setValue(first_t if first_t is not None else T - 1)
        self.slider.blockSignals(False)
        self._on_step(self.slider.value())

    def _rows(self):
        if self.all_box.isChecked():
            return list(self.report.rows)
        t = self.slider.value()
        rows = self.report.rows_at(t)
        return rows + [r for r in self.report.rows if r.t is None and r not in rows]

    def _on_all_toggled(self, _on: bool) -> None:
        self._on_step(self.slider.value())

    def _on_step(self, t: int) -> None:
        self.cursor_line.setPos(t)
        self.step_label.setText(f"step t = {t}")
        rows = self._rows()
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            values = (row.quantity, "" if row.t is None else str(row.t), row.name,
                      "ok" if row.match else "DIFFERS", f"{row.max_rel:.2e}", row.engine, row.student)
            for j, v in enumerate(values):
                item = QTableWidgetItem(v)
                if j == 3:
                    item.setForeground(pg.mkColor("#1a9850" if row.match else "#d73027"))
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()


class CheckRunner(QObject):
    """Owns one background check at a time for ``window``: a progress dialog while it runs,
    the report dialog when it arrives, a message if the checker itself fails."""

    def __init__(self, window):
        super().__init__(window)
        self.thread: Optional[QThread] = None
        self.worker: Optional[CheckWorker] = None
        self.progress: Optional[QProgressDialog] = None
        self.dialog: Optional[CheckDialog] = None

    @property
    def window(self):
        return self.parent()

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, path: str, timeout: float = 10.0) -> bool:
        if self.running:
            return False
        self.worker = CheckWorker(path, timeout)
        self.thread = QThread()
        self.thread.setObjectName("bpttviz-check")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.work)
        self.worker.sigDone.connect(self._on_done)
        self.worker.sigFailed.connect(self._on_failed)
        self.progress = QProgressDialog(f"Checking {path}…\nYour code runs in a separate process "
                                        f"(at most {timeout:g} s).", "Hide", 0, 0, self.window)
        self.progress.setWindowTitle("Check my code")
        self.progress.setMinimumDuration(300)
        self.thread.start()
        return True

    def _finish(self):
        thread, self.thread, self.worker = self.thread, None, None
        if thread is not None:
            thread.quit()
            thread.wait(5000)
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None

    def _on_done(self, report):
        self._finish()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = CheckDialog(report, self.window)
        self.dialog.show()

    def _on_failed(self, message: str):
        self._finish()
        from .controls import warn
        warn(self.window, "Check my code", f"The check could not run: {message}")

    def wait(self, timeout_ms: int = 30_000) -> None:
        """Block until a running check has finished (tests, application exit)."""
        if self.thread is not None:
            self.thread.wait(timeout_ms)
            from PyQt5.QtCore import QCoreApplication
            QCoreApplication.processEvents()

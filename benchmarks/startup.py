"""Startup time: from launching the interpreter to a drawn main window.

Runs fresh processes (offscreen, so no screen is needed) and measures, from the parent, the
wall time until the child reports that the window has been painted.  Prints the absolute time
(target < 1.5 s) and, as the other benchmarks do, the ratio to an in-run baseline: a bare
QApplication + QMainWindow drawn the same way.

    python benchmarks/startup.py [--preset NAME] [--repeat N]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5

# The child prints "drawn" once the first paint of the window has happened.
APP = r"""
import sys
import bpttviz.cli  # what `bpttviz` imports first (sets the BLAS thread count)
bpttviz.cli.prepare_runtime(interactive=True)  # as `bpttviz` does before building the window
from PyQt5.QtCore import QEvent, QObject, QTimer
from bpttviz.gui.app import _application, make_session
app = _application(["bpttviz"])
from bpttviz.gui.main_window import MainWindow
session = make_session(sys.argv[1])
w = MainWindow(session, remember=False)
w.resize(1600, 900)
class Painted(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Paint:
            QTimer.singleShot(0, lambda: (print("drawn", flush=True), app.quit()))
            obj.removeEventFilter(self)
        return False
f = Painted()
w.installEventFilter(f)
w.show()
w.repaint()
app.exec_()
"""

BASELINE = r"""
import sys
from PyQt5.QtCore import QEvent, QObject, QTimer
from PyQt5.QtWidgets import QApplication, QMainWindow, QLabel
app = QApplication(["baseline"])
w = QMainWindow(); w.setCentralWidget(QLabel("baseline")); w.resize(1600, 900)
class Painted(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Paint:
            QTimer.singleShot(0, lambda: (print("drawn", flush=True), app.quit()))
            obj.removeEventFilter(self)
        return False
f = Painted()
w.installEventFilter(f)
w.show()
w.repaint()
app.exec_()
"""


def time_child(code: str, *args: str) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    elapsed = time.perf_counter() - t0
    p.wait(timeout=60)
    if line.strip() != "drawn":
        raise RuntimeError(f"child did not draw (exit {p.returncode})")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="min-char-rnn")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    time_child(BASELINE)  # warm the file cache
    base = min(time_child(BASELINE) for _ in range(a.repeat))
    app = min(time_child(APP, a.preset) for _ in range(a.repeat))
    ok = "OK" if app < TARGET_S else "SLOW"
    print(f"startup to a drawn window ({a.preset}, best of {a.repeat}): {app:.3f} s "
          f"[{ok}: target < {TARGET_S} s]")
    print(f"bare QApplication + QMainWindow baseline:            {base:.3f} s")
    print(f"ratio app / baseline:                                {app / base:.2f}x")
    return 0 if app < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())

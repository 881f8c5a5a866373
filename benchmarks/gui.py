"""Time to move the cursor one event and redraw every panel.

All six panels are shown together in one offscreen window (as when all are docked); each
sample is ``session.step()`` (which emits sigChanged, so every visible panel redraws) plus
processing the resulting paint events.  Prints the median per size against the targets
(16 ms at min-char-rnn size T=25, H=100; 33 ms at T=100, H=256) and, as the in-process
baseline the README asks for, the ratio to one bare ``session.step()`` with no panel.

Run: ``python3 benchmarks/gui.py`` (uses QT_QPA_PLATFORM=offscreen unless set).
"""
from __future__ import annotations

import os
import statistics
import string
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from PyQt5.QtWidgets import QApplication, QGridLayout, QWidget  # noqa: E402

from bpttviz.gui.panels import CORE_PANELS  # noqa: E402
from bpttviz.export import quiet_qt_messages  # noqa: E402
from bpttviz.session import Session, SessionError  # noqa: E402

_TEXT = ("From fairest creatures we desire increase, that thereby beauty's rose might never die,\n"
         + string.ascii_letters + string.digits + " .,;:!?'-\n") * 40


def make_session(hidden_size: int, seq_length: int) -> Session:
    """min-char-rnn at the given size (a built-in text if the corpus is not installed)."""
    try:
        s = Session("min-char-rnn")
    except SessionError:
        s = Session("long-range")
        s.edit(task="text", text=_TEXT, whh_radius=None, init_scale=0.01, clip="value")
    s.edit(hidden_size=hidden_size, seq_length=seq_length)
    return s


def bench(app, hidden_size, seq_length, events=None):
    s = make_session(hidden_size, seq_length)
    window = QWidget()
    grid = QGridLayout(window)
    # The six stepping panels the window shows by default; teaching views sit in tabs
    # behind them and a hidden panel skips its redraw (Panel._on_session_changed).
    panels = [cls(s) for cls in CORE_PANELS]
    for i, p in enumerate(panels):
        grid.addWidget(p, i // 3, i % 3)
    window.resize(1280, 720)
    window.show()
    app.processEvents()
    T = s.trace.T
    n_events = 2 * T + 1  # every event of the iteration except the last update
    events = events or n_events
    times = []
    s.home()
    app.processEvents()
    for _ in range(events):
        if s.cursor >= n_events:
            s.home()
            app.processEvents()
        t0 = time.perf_counter()
        s.step(1)
        app.processEvents()
        times.append(time.perf_counter() - t0)
    # Baseline: the same cursor moves with no panel listening.
    window.close()
    for p in panels:
        s.sigChanged.disconnect(p._on_session_changed)
    base = []
    s.home()
    for _ in range(events):
        if s.cursor >= n_events:
            s.home()
        t0 = time.perf_counter()
        s.step(1)
        base.append(time.perf_counter() - t0)
    window.deleteLater()
    return statistics.median(times), statistics.median(base), sorted(times)[int(0.9 * len(times))]


def main():
    quiet_qt_messages()
    app = QApplication.instance() or QApplication(sys.argv)
    for label, H, T, target in (("min-char-rnn T=25 H=100", 100, 25, 16.0),
                                ("T=100 H=256", 256, 100, 33.0)):
        med, base, p90 = bench(app, H, T)
        ok = "OK" if med * 1e3 <= target else "TOO SLOW"
        print(f"{label:>24}: median {med * 1e3:6.2f} ms per event (p90 {p90 * 1e3:6.2f} ms), "
              f"target <= {target:.0f} ms [{ok}]; ratio to a bare session.step(): "
              f"{med / max(base, 1e-9):.0f}x")


if __name__ == "__main__":
    main()

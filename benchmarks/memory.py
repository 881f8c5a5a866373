"""Does memory stay bounded?  RSS over a long live-training run and over repeated exports.

Run:  python benchmarks/memory.py                 # 60 s of training, then 50 exports
      python benchmarks/memory.py --seconds 3600 --exports 50 --preset dinosaurs
      python benchmarks/memory.py --seconds 300 --history-points 65536  # see the plateau soon

Issue 16's targets: memory during live training stays bounded (the per-iteration history is
what grows: the script prints bytes per iteration so it can be compared with the ~550 B the
issue measured; once the history holds ``limits.HISTORY_POINTS`` entries it merges them in
pairs, so RSS levels off: ``--history-points`` lowers that to see it in minutes, and the
history's entries and stride are printed), and exporting 50 times in one process grows RSS by less than 10 MB (exit 1
if not), measured after ``--warmup`` exports that fill Qt's caches (printed separately; default 1).
Everything runs inside the application's event loop, as in the window (the panels an export
deletes are deleted when control returns to the loop).  RSS is read from
/proc/self/statm (Linux), else from resource.getrusage (the peak, on macOS).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("BPTTVIZ_TESTING", "1")  # no restore offer, no user settings touched
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PyQt5.QtCore import QObject, QTimer  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402

MB = 2 ** 20
#: Idle time between two exports: the window deletes an export's panels and releases the
#: memory from its event loop (window_export.RELEASE_DELAY_MS) before the next starts.
PAUSE_MS = 500


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class Driver(QObject):
    """Drives the window from timers (bound-method slots), inside app.exec_()."""

    def __init__(self, app, window, seconds: float, exports: int, folder: str, every: float,
                 warmup: int = 1):
        super().__init__()
        self.app, self.win, self.seconds, self.exports, self.folder = app, window, seconds, exports, folder
        self.every = every
        self.done_exports = 0
        self.warmed, self.warmup = 0, warmup
        self.failed = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.sample)
        self.t0 = self.rss0 = self.it0 = 0

    def start(self):
        self.win.start_training()
        self.t0, self.rss0 = time.perf_counter(), rss_bytes()
        self.it0 = self.win.session.iteration
        print(f"live training ({self.win.session.preset.name}) for {self.seconds:g} s")
        print(f"{'seconds':>8} {'iterations':>11} {'RSS MB':>8} {'grown MB':>9} "
              f"{'entries':>8} {'stride':>6}")
        self.timer.start(int(self.every * 1000))

    def _iteration(self) -> int:
        w = self.win.controller.worker
        return w.run.iteration if w is not None else self.win.session.iteration

    def sample(self):
        t = time.perf_counter() - self.t0
        rss, it = rss_bytes(), self._iteration()
        w = self.win.controller.worker
        h = w.run.history if w is not None else self.win.session.history
        print(f"{t:8.1f} {it:11d} {rss / MB:8.1f} {(rss - self.rss0) / MB:9.1f} "
              f"{len(h):8d} {h.stride:6d}", flush=True)
        if t >= self.seconds:
            self.timer.stop()
            self.win.controller.sigStopped.connect(self.stopped)
            self.win.controller.pause()  # the run comes back with sigStopped

    def stopped(self, _reason: str):
        self.win.controller.sigStopped.disconnect(self.stopped)
        rss = rss_bytes()
        n = max(1, self.win.session.iteration - self.it0)
        print(f"training: {n} iterations, {(rss - self.rss0) / n:.0f} B of RSS per iteration")
        QTimer.singleShot(0, self.export_once)

    def export_once(self):
        # Measured at the start of a callback: the previous export's panels have been
        # deleted and the memory released from the event loop during the pause.
        gc.collect()
        rss = rss_bytes()
        if self.warmed < self.warmup:
            # The first export fills caches (glyphs, fonts at the slide size): ~14 MB on a
            # 2-core Linux box.  (Before the window returned freed heap pages to the system
            # after each export, the first ten grew RSS by ~90 MB, though nothing leaked.)
            if self.warmed == 0:
                self.w0 = rss
            self.win.exports.export_all(self.folder, formats=["png", "csv"], width=800)
            self.warmed += 1
            QTimer.singleShot(PAUSE_MS, self.export_once)
            return
        if self.done_exports == 0:
            self.e0 = rss
            if self.warmup:
                print(f"\nwarm-up: {self.warmup} export(s) grew RSS by {(rss - self.w0) / MB:.1f} MB")
            print(f"{self.exports} exports of every panel (PNG + CSV), after the warm-up")
        elif self.done_exports % 10 == 0 or self.done_exports == self.exports:
            print(f"  after {self.done_exports:3d}: RSS {rss / MB:8.1f} MB, grown "
                  f"{(rss - self.e0) / MB:6.1f} MB", flush=True)
        if self.done_exports == self.exports:
            self.export_growth = rss - self.e0
            self.app.quit()
            return
        ok = self.win.exports.export_all(self.folder, formats=["png", "csv"], width=800)
        self.failed |= not ok
        self.done_exports += 1
        # back to the loop, as a user would (deferred deletes, the memory release)
        QTimer.singleShot(PAUSE_MS, self.export_once)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="RSS over live training and repeated exports")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of live training (60)")
    p.add_argument("--exports", type=int, default=50, help="exports of every panel (50)")
    p.add_argument("--warmup", type=int, default=1, help="exports before measuring (1)")
    p.add_argument("--preset", default="min-char-rnn")
    p.add_argument("--every", type=float, default=5.0, help="seconds between two samples (5)")
    p.add_argument("--history-points", type=int, default=None,
                   help="history entries kept before merging (default: limits.HISTORY_POINTS)")
    args = p.parse_args(argv)
    from bpttviz.export import quiet_qt_messages
    quiet_qt_messages()
    app = QApplication.instance() or QApplication(["bpttviz"])
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    session = Session(args.preset)
    if args.history_points:
        from bpttviz.engine.history import History
        session.run.history = History(capacity=args.history_points)
    window = MainWindow(session)
    window.resize(1600, 900)
    window.show()
    with tempfile.TemporaryDirectory() as folder:
        driver = Driver(app, window, args.seconds, max(1, args.exports), folder, args.every,
                        max(0, args.warmup))
        QTimer.singleShot(500, driver.start)
        app.exec_()
    growth = driver.export_growth
    verdict = "ok" if growth < 10 * MB and not driver.failed else "TOO MUCH"
    print(f"\nexports: RSS grew {growth / MB:.1f} MB over {driver.done_exports} "
          f"(target < 10 MB): {verdict}")
    window.close()
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())

"""How fast does live training run, against the bare engine?

Run:  python benchmarks/training.py [seconds]

1. bare: ``CharRun.train`` on the min-char-rnn preset in this thread, nothing else running.
2. live: the "Training live" panel (offscreen, 960x540, shown) training min-char-rnn through
   its worker thread for ~5 s while its curves redraw at up to 30 frames per second.

Prints iterations per second of both, their ratio, and the frames drawn per second.  The
target is >= 1000 it/s with the live window redrawing.  Nothing here asserts a timing.
"""
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PyQt5.QtCore import QTimer  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402

import bpttviz.cli  # noqa: E402
from bpttviz.engine.presets import load_preset  # noqa: E402
from bpttviz.engine.train import make_run  # noqa: E402

PRESET = "min-char-rnn"
TARGET = 1000.0


def bare_rate(seconds: float) -> float:
    preset = load_preset(PRESET)
    run = make_run(preset.config, preset.weights)
    run.train(50)  # warm up
    start_it, t0 = run.iteration, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run.train(100)
    return (run.iteration - start_it) / (time.perf_counter() - t0)


def live_rate(seconds: float):
    app = QApplication.instance() or QApplication([])
    from bpttviz.gui.panels.training_live import TrainingPanel
    from bpttviz.gui.training import TrainingController
    from bpttviz.session import Session

    session = Session(PRESET)
    controller = TrainingController(session)
    panel = TrainingPanel(session, controller=controller)
    panel.resize(960, 540)
    panel.show()
    app.processEvents()
    marks = {}

    def begin():
        marks["frames"] = panel.frames
        marks["t0"] = time.perf_counter()
        marks["it0"] = panel.iteration
        QTimer.singleShot(int(seconds * 1000), end)

    def end():
        marks["t1"] = time.perf_counter()
        marks["it1"] = panel.iteration
        marks["frames1"] = panel.frames
        controller.pause()

    controller.sigStopped.connect(lambda _reason: app.quit())
    panel.start()
    QTimer.singleShot(500, begin)  # skip the first half second (thread start, first frames)
    app.exec_()
    dt = marks["t1"] - marks["t0"]
    rate = (marks["it1"] - marks["it0"]) / dt
    fps = (marks["frames1"] - marks["frames"]) / dt
    n_points = len(session.run.history.loss)
    controller.shutdown()
    panel.close()
    return rate, fps, n_points


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    bpttviz.cli.prepare_runtime(interactive=False)  # the app's allocator setting, kernels loaded now
    bare = bare_rate(min(seconds, 3.0))
    live, fps, points = live_rate(seconds)
    print(f"preset {PRESET}")
    print(f"bare engine (CharRun.train):        {bare:8.0f} it/s")
    print(f"live window (worker + 30 fps redraw): {live:8.0f} it/s   ({fps:.1f} frames/s, "
          f"{points} points per curve at the end)")
    print(f"ratio live / bare:                   {live / bare:8.2f}")
    print(f"target >= {TARGET:.0f} it/s with redraw: {'met' if live >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()

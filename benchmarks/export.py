"""How long do exports take for the min-char-rnn preset?  One run prints:

* export all panels (PNG at 1920 px + SVG + PDF + CSV), at iteration 0 and after a
  training history of 100,000 iterations (target, issue 13: no slower);
* one PNG render of one panel (the unrolled network at 1920 px);
* a 52-frame GIF of that panel (one frame per event of the iteration), as a cost per frame
  against that one PNG render (target: <= 1.5x).

Run:  python benchmarks/export.py [--repeats N]

The long history is filled into the run's history lists (what 100,000 updates record),
so the benchmark does not spend minutes training.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402

from bpttviz.export import (build_panels, export_panels, quiet_qt_messages, render_image,  # noqa: E402
                            save_gif)
from bpttviz.export.tables import save_loss_history_csv  # noqa: E402
from bpttviz.session import Session  # noqa: E402

FORMATS = ["png", "svg", "pdf", "csv"]


def fake_history(session, n: int) -> None:
    """Fill the run's history with ``n`` plausible iterations (loss falling, norms noisy)."""
    h = session.run.history
    rng = np.random.default_rng(0)
    loss = 4.0 * np.exp(-np.arange(n) / (n / 3 + 1)) + 0.2 * rng.random(n)
    # (the history's series are growable float arrays: extend them as training would)
    h.loss.extend(loss)
    h.smooth_loss.extend(loss)
    h.grad_norm_before_clip.extend(2 + 4 * rng.random(n))
    h.grad_norm_after_clip.extend(np.minimum(5.0, 2 + 4 * rng.random(n)))


def _setup(history: int):
    session = Session("min-char-rnn")
    if history:
        fake_history(session, history)
    session.set_event("backward:10")
    return session, build_panels(session)


def paired_export_all(repeats: int, formats=FORMATS):
    """Export all at iteration 0 and after 100,000 iterations, in turn (0, long, 0, long,
    ...): the ratio is taken pair by pair, so a machine whose speed drifts during the run
    moves both sides alike.  Returns (median 0, median long, median ratio, files, sizes)."""
    sides = [_setup(0), _setup(100_000)]
    times = ([], [])
    files, sizes = [None, None], [{}, {}]
    with tempfile.TemporaryDirectory() as out0, tempfile.TemporaryDirectory() as out1:
        outs = (out0, out1)
        for _ in range(repeats):
            for i, (session, panels) in enumerate(sides):
                t = time.perf_counter()
                files[i] = export_panels(session, panels, outs[i], formats, width=1920)
                times[i].append(time.perf_counter() - t)
        for i in (0, 1):
            sizes[i] = {f.file: os.path.getsize(os.path.join(outs[i], f.file)) for f in files[i]}
    for _, panels in sides:
        for p in panels:
            p.close()
    ratio = statistics.median(b / a for a, b in zip(*times))
    return (statistics.median(times[0]), statistics.median(times[1]), ratio,
            (len(files[0]), len(files[1])), sizes)


def main(repeats: int = 3):
    quiet_qt_messages()
    app = QApplication.instance() or QApplication([])
    print(f"min-char-rnn, all panels, {'+'.join(f.upper() for f in FORMATS)} at 1920 px "
          f"(median of {repeats}, runs paired)")
    t0, t1, ratio, (n0, n1), (s0, s1) = paired_export_all(repeats)
    pictures = lambda sizes: sum(v for k, v in sizes.items() if not k.endswith(".csv"))  # noqa: E731
    print(f"  export all, iteration 0        : {t0 * 1000:8.0f} ms  {n0} files, pictures "
          f"{pictures(s0) / 1e6:.1f} MB")
    print(f"  export all, 100,000 iterations : {t1 * 1000:8.0f} ms  {n1} files, pictures "
          f"{pictures(s1) / 1e6:.1f} MB, loss_history.csv {s1.get('loss_history.csv', 0) / 1e6:.1f} MB")
    print(f"  ratio (target <= 1.0, noise ~0.1): {ratio:.2f}  "
          f"{'met' if ratio <= 1.1 else 'NOT met'}")
    # Where a difference is: the pictures alone, and the history's table (every
    # iteration's numbers at full precision: Python's float repr, ~0.6 us a number).
    p0, p1, pratio, _, _ = paired_export_all(repeats, FORMATS[:3])
    session = Session("min-char-rnn")
    fake_history(session, 100_000)
    with tempfile.TemporaryDirectory() as out:
        csv = []
        for _ in range(repeats):
            t = time.perf_counter()
            save_loss_history_csv(session, out)
            csv.append(time.perf_counter() - t)
    print(f"  pictures only (PNG+SVG+PDF)    : {p0 * 1000:8.0f} -> {p1 * 1000:.0f} ms, ratio {pratio:.2f}; "
          f"loss_history.csv of 100,000 rows alone {statistics.median(csv) * 1000:.0f} ms")

    session = Session("min-char-rnn")
    session.set_event("backward:10")
    (panel,) = build_panels(session, ["unrolled"])
    app.processEvents()
    png = []
    for _ in range(max(3, repeats)):
        t = time.perf_counter()
        render_image(panel, 1920)
        png.append(time.perf_counter() - t)
    one = statistics.median(png)
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        frames = save_gif(session, panel, os.path.join(out, "unrolled.gif"), 960)
        gif = time.perf_counter() - t
    per = gif / frames
    print(f"  one PNG render (unrolled, 1920): {one * 1000:8.0f} ms")
    print(f"  GIF of the iteration            : {gif * 1000:8.0f} ms  {frames} frames, "
          f"{per * 1000:.0f} ms a frame = {per / one:.2f}x one PNG (target <= 1.5x) "
          f"{'met' if per <= 1.5 * one else 'NOT met'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    main(ap.parse_args().repeats)

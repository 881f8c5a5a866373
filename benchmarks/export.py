"""How long do exports take for the min-char-rnn preset?  One run prints:

* export all panels (PNG at 1920 px + SVG + PDF + CSV), at iteration 0 and after a
  training history of 100,000 iterations (target, issue 13: no slower);
* one PNG render of one panel (the unrolled network at 1920 px);
* a 52-frame GIF of that panel (one frame per event of the iteration), as a cost per frame
  against that one PNG render (target: <= 1.5x).

Run:  python benchmarks/export.py [--repeats N]

The long history is filled into the run's history lists (what 100,000 updates record),
so the benchmark does not spend minutes training; as the training worker does, it hands the
new entries to the session's HistoryCsv in pieces (67 a signal: 2,000 iterations a second,
30 signals a second), which formats loss_history.csv's rows while training rather than at
export.  That cost, per iteration of training, is printed too.
"""
import argparse
import os
import shutil
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
from bpttviz.export.tables import history_csv, save_loss_history_csv  # noqa: E402
from bpttviz.session import Session  # noqa: E402

FORMATS = ["png", "svg", "pdf", "csv"]


#: Entries per progress signal of the training worker (2,000 iterations/s at 30 signals/s).
PER_SIGNAL = 67


def fake_history(session, n: int, feed: bool = True) -> float:
    """Fill the run's history with ``n`` plausible iterations (loss falling, norms noisy),
    PER_SIGNAL at a time, handing each piece to the session's HistoryCsv as the training
    worker does (``feed``).  Returns the seconds the feeding took."""
    h = session.run.history
    rng = np.random.default_rng(0)
    loss = 4.0 * np.exp(-np.arange(n) / (n / 3 + 1)) + 0.2 * rng.random(n)
    series = {"loss": loss, "smooth_loss": loss, "grad_norm_before_clip": 2 + 4 * rng.random(n),
              "grad_norm_after_clip": np.minimum(5.0, 2 + 4 * rng.random(n))}
    cache, fed = history_csv(session), 0.0
    for start in range(0, n, PER_SIGNAL):
        piece = {k: v[start:start + PER_SIGNAL] for k, v in series.items()}
        # (the history's series are growable float arrays: extend them as training would)
        for k, v in piece.items():
            getattr(h, k).extend(v)
        if feed:
            t = time.perf_counter()
            cache.extend(dict(piece, start=start, stride=h.stride))
            fed += time.perf_counter() - t
    return fed


def _setup(history: int):
    session = Session("min-char-rnn")
    if history:
        fake_history(session, history)
    session.set_event("backward:10")
    return session, build_panels(session)


def paired_export_all(repeats: int, formats=FORMATS, histories=(0, 1_000, 100_000)):
    """Export all after each history length in turn (0, 1,000, 100,000, 0, ...): ratios are
    taken run by run against the first, so a machine whose speed drifts during the run moves
    every side alike.  Returns ([median time], [median ratio to the first], [files], [sizes])."""
    sides = [_setup(n) for n in histories]
    times = [[] for _ in sides]
    files, sizes = [None] * len(sides), [{} for _ in sides]
    outs = [tempfile.mkdtemp() for _ in sides]
    try:
        for _ in range(repeats):
            for i, (session, panels) in enumerate(sides):
                t = time.perf_counter()
                files[i] = export_panels(session, panels, outs[i], formats, width=1920)
                times[i].append(time.perf_counter() - t)
        for i, out in enumerate(outs):
            sizes[i] = {f.file: os.path.getsize(os.path.join(out, f.file)) for f in files[i]}
    finally:
        for out in outs:
            shutil.rmtree(out, ignore_errors=True)
    for _, panels in sides:
        for p in panels:
            p.close()
    ratios = [statistics.median(b / a for a, b in zip(times[0], ts)) for ts in times]
    return [statistics.median(ts) for ts in times], ratios, [len(f) for f in files], sizes


def main(repeats: int = 3):
    quiet_qt_messages()
    app = QApplication.instance() or QApplication([])
    print(f"min-char-rnn, all panels, {'+'.join(f.upper() for f in FORMATS)} at 1920 px "
          f"(median of {repeats}, runs paired)")
    (t0, tk, t1), (_, rk, ratio), (n0, nk, n1), (s0, sk, s1) = paired_export_all(repeats)
    pictures = lambda sizes: sum(v for k, v in sizes.items() if not k.endswith(".csv"))  # noqa: E731
    print(f"  export all, iteration 0        : {t0 * 1000:8.0f} ms  {n0} files, pictures "
          f"{pictures(s0) / 1e6:.1f} MB (the loss plot empty)")
    print(f"  export all, 1,000 iterations   : {tk * 1000:8.0f} ms  {nk} files, pictures "
          f"{pictures(sk) / 1e6:.1f} MB")
    print(f"  export all, 100,000 iterations : {t1 * 1000:8.0f} ms  {n1} files, pictures "
          f"{pictures(s1) / 1e6:.1f} MB, loss_history.csv {s1.get('loss_history.csv', 0) / 1e6:.1f} MB")
    print(f"  ratio 100,000 / 0 (target <= 1.0, noise ~0.1): {ratio:.2f}  "
          f"{'met' if ratio <= 1.1 else 'NOT met'}")
    print(f"  ratio 100,000 / 1,000 (the cost of a longer history alone): {ratio / rk:.2f}; "
          f"1,000 / 0 (drawing the four training curves at all): {rk:.2f}")
    # Where a difference is: the pictures alone, and the history's table (every
    # iteration's numbers at full precision: Python's float repr, ~0.6 us a number).
    (p0, p1), (_, pratio), _, _ = paired_export_all(repeats, FORMATS[:3], (0, 100_000))
    csv = {}
    for feed in (False, True):
        session = Session("min-char-rnn")
        fed = fake_history(session, 100_000, feed)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            save_loss_history_csv(session, out)   # the first export after training
            csv[feed] = time.perf_counter() - t
    print(f"  pictures only (PNG+SVG+PDF)    : {p0 * 1000:8.0f} -> {p1 * 1000:.0f} ms, ratio {pratio:.2f}")
    print(f"  loss_history.csv, 100,000 rows : {csv[False] * 1000:8.0f} ms formatted at export, "
          f"{csv[True] * 1000:.0f} ms with the rows formatted while training "
          f"({fed / 100_000 * 1e6:.1f} us an iteration, in the training thread)")

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

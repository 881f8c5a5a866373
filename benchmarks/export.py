"""How long does "export all panels" take for the min-char-rnn preset (PNG + SVG + CSV)?

Run:  python benchmarks/export.py

Target (issue 5): under 2 s for all panels.  Printed beside a baseline measured in the same
process: one plain ``QWidget.grab()`` of every panel (the least any picture export can cost),
so the ratio says what the extra formats and the manifest add on this machine.
"""
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PyQt5.QtWidgets import QApplication  # noqa: E402

from bpttviz.export import build_panels, export_panels, quiet_qt_messages  # noqa: E402
from bpttviz.session import Session  # noqa: E402


def main(repeats: int = 5):
    quiet_qt_messages()
    app = QApplication.instance() or QApplication([])
    session = Session("min-char-rnn")
    session.set_event("backward:10")
    panels = build_panels(session)
    app.processEvents()
    baseline, full = [], []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            t = time.perf_counter()
            for p in panels:
                p.grab()
            baseline.append(time.perf_counter() - t)
            t = time.perf_counter()
            files = export_panels(session, panels, out, ["png", "svg", "csv"], width=1920)
            full.append(time.perf_counter() - t)
    b, f = statistics.median(baseline), statistics.median(full)
    print(f"min-char-rnn, {len(panels)} panels, PNG(1920px)+SVG+CSV -> {len(files)} files + manifest")
    print(f"  baseline grab() of every panel : {b * 1000:7.1f} ms")
    print(f"  export all (PNG+SVG+CSV)       : {f * 1000:7.1f} ms   ({f / b:.1f}x the baseline)")
    print(f"  target < 2000 ms               : {'met' if f < 2.0 else 'NOT met'}")


if __name__ == "__main__":
    main()

"""Measure a window's views as a student at the back of the room meets them: the largest plot
of each view (its main plot), sideways scrolling, labels the app places that overlap.

Used by tests/test_layout_audit.py; run directly to print the whole table:
``python tests/layout_audit.py [WxH ...] [--presentation]``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: The smallest main plot a view may show (issue: "at least 300x200 px at 1280x720").
MIN_PLOT = (300, 200)
SIZES = ((1280, 720), (1366, 768), (1920, 1080))
#: The preset each view is audited on: one where it has something to draw.
PRESET_FOR = {"gates": "lstm-gates"}


@dataclass
class Measure:
    view: str
    size: Tuple[int, int]
    presenting: bool
    plot: Tuple[int, int]          # the main plot's width and height, px
    sideways_scroll: bool
    cut: List[str]                 # labels of the app's own whose text does not fit

    @property
    def ok(self) -> bool:
        return (self.plot[0] >= MIN_PLOT[0] and self.plot[1] >= MIN_PLOT[1]
                and not self.sideways_scroll and not self.cut)

    def __str__(self) -> str:
        mode = "presentation" if self.presenting else "normal"
        flags = (" SIDEWAYS-SCROLL" if self.sideways_scroll else "") + \
                (f" CUT {self.cut}" if self.cut else "")
        return (f"{self.view:14s} {self.size[0]}x{self.size[1]} {mode:12s} main plot "
                f"{self.plot[0]}x{self.plot[1]}{flags}{'' if self.ok else '  <-- FAILS'}")


def _visible(rect, view, clip):
    """``rect`` (in ``view``'s coordinates) cut to what ``clip`` (a scroll area's viewport)
    shows: a plot scrolled out of sight is not readable."""
    if clip is None:
        return (min(rect.width(), view.width()), min(rect.height(), view.height()))
    from PyQt5.QtCore import QRect
    top_left = view.mapTo(clip, rect.topLeft())
    r = QRect(top_left, rect.size()).intersected(clip.rect())
    r = r.intersected(QRect(view.mapTo(clip, view.rect().topLeft()), view.size()))
    return (max(0, r.width()), max(0, r.height()))


def main_plot_size(panel, clip=None) -> Tuple[int, int]:
    """The plot area (a pyqtgraph ViewBox, in screen pixels) of the panel's ``main_plot``, or
    else the largest among its visible plots; for a view without plots (the code listing), its
    largest text area."""
    import pyqtgraph as pg
    from PyQt5.QtWidgets import QPlainTextEdit, QTextEdit

    main = getattr(panel, "main_plot", None)
    if main is not None and main.isVisible():
        vb = main.getViewBox()
        view = vb.scene().views()[0]
        r = view.mapFromScene(vb.sceneBoundingRect()).boundingRect()
        return _visible(r, view, clip)
    best = (0, 0)
    for view in panel.findChildren(pg.GraphicsView):
        if not view.isVisibleTo(panel) or view.width() <= 1:
            continue
        for item in view.scene().items():
            if isinstance(item, pg.ViewBox) and item.isVisible():
                r = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
                w, h = _visible(r, view, clip)
                if w * h > best[0] * best[1]:
                    best = (w, h)
    if best == (0, 0):
        for text in panel.findChildren((QPlainTextEdit, QTextEdit)):
            if text.isVisibleTo(panel) and text.width() * text.height() > best[0] * best[1]:
                best = (text.width(), text.height())
    return best


def cut_labels(panel) -> List[str]:
    """Single-line labels (no word wrap) whose text is wider than the label."""
    from PyQt5.QtWidgets import QLabel

    cut = []
    for lab in panel.findChildren(QLabel):
        if not lab.isVisibleTo(panel) or lab.wordWrap() or not lab.text() or lab.width() < 2:
            continue
        if lab.textFormat() == 1 or "<" in lab.text():  # rich text: measured by its own layout
            continue
        need = lab.fontMetrics().horizontalAdvance(lab.text()) + lab.contentsMargins().left() \
            + lab.contentsMargins().right()
        if need > lab.width() + 2:
            cut.append(lab.text()[:40])
    from PyQt5.QtWidgets import QTabBar
    for bar in panel.findChildren(QTabBar, "plotPager"):  # a view's pager: names elided?
        if not bar.isVisibleTo(panel):
            continue
        down = bar.shape() in (QTabBar.RoundedWest, QTabBar.RoundedEast)
        for i in range(bar.count()):
            need = bar.fontMetrics().horizontalAdvance(bar.tabText(i))
            rect = bar.tabRect(i)
            length = rect.height() if down else rect.width()  # (down the side or across)
            if need > length - 8 or not bar.rect().contains(rect):
                cut.append("pager: " + bar.tabText(i))
    return cut


def measure_window(win, app, presenting: bool) -> List[Measure]:
    out = []
    size = (win.width(), win.height())
    for key in list(win.panels):
        if not hasattr(win.panels[key], "refresh"):
            continue
        win.show_view(key)
        for _ in range(4):
            app.processEvents()
        panel = win.panels[key]  # (a view behind a tab is rebuilt when raised)
        scroll = win.docks[key].widget()
        sideways = scroll.horizontalScrollBar().isVisible()
        out.append(Measure(key, size, presenting, main_plot_size(panel, scroll.viewport()),
                           sideways, cut_labels(panel)))
    return out


def audit(size, presenting: bool, views: Optional[List[str]] = None, at: str = "backward:3",
          theme: Optional[str] = None) -> List[Measure]:
    from PyQt5.QtWidgets import QApplication

    from bpttviz.gui.main_window import MainWindow
    from bpttviz.gui.panels import PANELS
    from bpttviz.session import Session

    app = QApplication.instance() or QApplication(["audit"])
    results = []
    views = views or [c.key for c in PANELS]
    presets = {}
    for key in views:
        presets.setdefault(PRESET_FOR.get(key, "min-char-rnn"), []).append(key)
    for preset, keys in presets.items():
        win = MainWindow(Session(preset))
        try:
            if theme:
                win.set_theme_name(theme)
            if presenting:
                win.set_presentation(True, fullscreen=False)
            win.resize(*size)
            win.show()
            for _ in range(5):
                app.processEvents()
            win.session.set_event(at)
            for _ in range(5):
                app.processEvents()
            results += [m for m in measure_window(win, app, presenting) if m.view in keys]
        finally:
            if presenting:
                win.set_presentation(False)
            win.close()
            win.deleteLater()
            app.processEvents()
    return results


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sizes = [tuple(int(v) for v in a.split("x")) for a in args] or list(SIZES)
    modes = [True] if "--presentation" in sys.argv else ([False] if "--normal" in sys.argv else [False, True])
    bad = 0
    for size in sizes:
        for presenting in modes:
            for m in audit(size, presenting):
                print(m)
                bad += not m.ok
    print(f"{bad} failing")

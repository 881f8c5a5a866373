"""Details a student at the back of the room sees on a projector (1366x768 and 1280x720, in
presentation mode): glyphs that touch, text cut short, ranges that lose steps, marks too faint
to read.  Each test measures the geometry Qt and pyqtgraph actually use."""
import pytest
from PyQt5.QtCore import QRectF
from PyQt5.QtGui import QFontMetricsF, QImage, QPainter
from PyQt5.QtWidgets import QApplication

from bpttviz.gui.main_window import MainWindow
from bpttviz.session import Session

PROJECTORS = [(1366, 768), (1280, 720)]
IDS = ["1366x768", "1280x720"]


def settle(n=6):
    for _ in range(n):
        QApplication.processEvents()


@pytest.fixture
def presenting(qtbot):
    """open(preset, size, view) -> the view's panel in a presenting window at that size."""
    windows = []

    def open_view(size, view, preset="min-char-rnn", at="backward:3"):
        win = MainWindow(Session(preset))
        qtbot.addWidget(win)
        windows.append(win)
        win.set_presentation(True, fullscreen=False)
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        settle()
        win.session.set_event(at)
        win.show_view(view)
        settle()
        return win.panels[view]
    yield open_view
    for win in windows:
        win.set_presentation(False)
        win.close()


def draw_specs(axis):
    img = QImage(8, 8, QImage.Format_ARGB32)
    qp = QPainter(img)
    try:
        return axis.generateDrawSpecs(qp)
    finally:
        qp.end()


def title_ink_top(axis) -> float:
    """The top of the ink of an axis title, in the axis' coordinates."""
    label = axis.label
    block = label.document().firstBlock()
    line = block.layout().lineAt(0)
    font = block.begin().fragment().charFormat().font()
    tight = QFontMetricsF(font).tightBoundingRect(block.text())
    return label.pos().y() + block.layout().position().y() + line.y() + line.ascent() + tight.top()


@pytest.mark.parametrize("size", PROJECTORS, ids=IDS)
def test_space_tick_glyph_clears_the_x_axis_title(presenting, size):
    """The "␣" tick (a space) hangs below the baseline: it touched "input character x_t"."""
    p = presenting(size, "outputs")
    axis = p.plot.getAxis("bottom")
    _, _, texts = draw_specs(axis)
    strings = [s for _, _, s in texts]
    assert "␣" in strings
    fm = QFontMetricsF(axis.style["tickFont"])
    ink_bottom = max(rect.top() + fm.ascent() + fm.tightBoundingRect(s).bottom()
                     for rect, _, s in texts)
    assert ink_bottom + 1 <= title_ink_top(axis), (ink_bottom, title_ink_top(axis))

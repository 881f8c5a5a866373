"""Items drawn in plots by every panel alike: the current step's frame on a heatmap and the
message that says what fills an empty plot.  (Kept out of :mod:`style` so that it stays
about themes and plot styling.)"""
from __future__ import annotations

import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QGraphicsRectItem


class StepFrame(QGraphicsRectItem):
    """The current step's frame on a heatmap: a bright line edged in the foreground colour
    on both sides, so it stands out on yellow cells as on purple ones (orange alone vanished
    on a yellow gate map).  Presentation mode adds a faint band, light enough that the
    cells inside keep their colours (a 35 % band turned blue cells brown)."""

    def __init__(self, t):
        """``t``: the :class:`~bpttviz.gui.style.Theme` to draw in."""
        super().__init__()
        self._line = pg.mkPen(t.highlight, width=3.5 * t.scale)
        self._edge = pg.mkPen(t.foreground, width=3.5 * t.scale + 3)
        for pen in (self._line, self._edge):
            pen.setCosmetic(True)
        self.setPen(self._line)
        if t.laser:  # presentation: a band that finds the column from the back of the room
            band = QColor(t.highlight)
            band.setAlpha(30)
            self.setBrush(band)

    def paint(self, painter, option, widget=None):
        rect = self.rect()
        painter.setPen(Qt.NoPen)
        painter.setBrush(self.brush())
        painter.drawRect(rect)
        painter.setBrush(Qt.NoBrush)
        # the frame goes around the column, not over its cells: out by half the edge's
        # width, in pixels (the pens are cosmetic)
        m = painter.transform()
        sx, sy = max(abs(m.m11()), 1e-9), max(abs(m.m22()), 1e-9)
        half = self._edge.widthF() / 2
        around = rect.adjusted(-half / sx, -half / sy, half / sx, half / sy)
        for pen in (self._edge, self._line):
            painter.setPen(pen)
            painter.drawRect(around)

    def boundingRect(self):  # noqa: N802 (Qt's name): room for the frame outside the rect
        r = self.rect()
        return r.adjusted(-r.width(), -0.05 * r.height(), r.width(), 0.05 * r.height())


class PlotMessage(pg.TextItem):
    """A sentence in the middle of a plot (what fills an empty plot, why nothing is drawn):
    centred in the plot's visible range whatever that range, the axes' scales or the plot's
    size, and wrapped to the plot's width, so it is never cut at the plot's edges (a
    fixed position in data units, with one long line, lost its first and last letters in
    side-by-side plots on a projector)."""

    #: The share of the plot's width a line may take.
    WIDTH_SHARE = 0.9
    _vb = None  # (TextItem's constructor sets the text before the view box is known)

    def __init__(self, plot, text: str = "", *, t, bold: bool = False):
        """``t``: the :class:`~bpttviz.gui.style.Theme` to draw in (required: this module
        does not import style, which imports it)."""
        super().__init__("", color=t.foreground, anchor=(0.5, 0.5))
        self.setFont(t.font(t.label_pt, bold=bold))
        self.setZValue(30)
        opt = self.textItem.document().defaultTextOption()
        opt.setAlignment(Qt.AlignHCenter)
        self.textItem.document().setDefaultTextOption(opt)
        self._vb = plot.getViewBox()
        plot.addItem(self, ignoreBounds=True)
        self._vb.sigResized.connect(self._on_view_change)
        self._vb.sigRangeChanged.connect(self._on_view_change)
        self.setText(text)

    def setText(self, text, color=None):  # noqa: N802 (pyqtgraph's name)
        super().setText(text, color)
        self._fit()

    def _on_view_change(self, *_):
        if self.isVisible():  # (a hidden message does not follow a live plot's every range)
            self._fit()

    def setVisible(self, visible: bool) -> None:  # noqa: N802 (Qt's name)
        super().setVisible(visible)
        if visible:
            self._fit()

    def _fit(self) -> None:
        vb = self._vb
        if vb is None:
            return
        room = vb.width() * self.WIDTH_SHARE
        self.textItem.setTextWidth(-1)
        natural = self.textItem.boundingRect().width()
        # (a set width also centres each line: the alignment needs one)
        self.textItem.setTextWidth(min(natural, room) if room > 40 else natural)
        (x0, x1), (y0, y1) = vb.viewRange()
        self.setPos((x0 + x1) / 2, (y0 + y1) / 2)
        self.updateTextPos()

"""Items drawn in plots by every panel alike: the current step's frame on a heatmap, the
message that says what fills an empty plot and a strip of per-step labels.  (Kept out of
:mod:`style` so that it stays about themes and plot styling.)"""
from __future__ import annotations

from typing import List

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QFontMetricsF
from PyQt5.QtWidgets import QGraphicsObject, QGraphicsRectItem


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
        # width, in pixels (the pens are cosmetic); its top and bottom in by as much, as the
        # column fills the plot's height and the view box clips what is outside (the screen
        # and a PDF showed two bare lines where the SVG, which does not clip, had a frame)
        m = painter.transform()
        sx, sy = max(abs(m.m11()), 1e-9), max(abs(m.m22()), 1e-9)
        half = self._edge.widthF() / 2
        around = rect.adjusted(-half / sx, half / sy, half / sx, -half / sy)
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


class LabelStrip(QGraphicsObject):
    """Many short labels (one per timestep) drawn by one item: each at a point in data
    coordinates, in screen pixels (so the text keeps its size whatever the range), placed
    by ``anchor`` like a ``pg.TextItem`` ((0.5, 0): centred below the point; (0.5, 1): above).

    A ``pg.TextItem`` per label cost ~0.3 ms to create and ~0.2 ms to move (a text document
    and a transform update each): at T = 100 the unrolled network's 200 labels took ~70 ms of
    every presentation switch.  Here a label is a string, a point and a colour; the item
    is a child of the view box (pixel coordinates, above every plotted item) and maps the
    points when it paints, so a change of range costs one repaint."""

    def __init__(self, plot, anchor, color, font: QFont):
        super().__init__()
        self._vb = plot.getViewBox()
        self.setParentItem(self._vb)
        self.setZValue(20)   # above the view box's data (its child group)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self._anchor = (float(anchor[0]), float(anchor[1]))
        self._default = QColor(color)
        self._texts: List[str] = []
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._colors: List[QColor] = []
        self._widths = np.zeros(0)
        self.set_font(font)
        self._rects = None   # local (pixel) rects, valid until the view or the labels change
        self._vb.sigTransformChanged.connect(self._on_view_change)
        self._vb.sigResized.connect(self._on_view_change)

    # --- what is drawn -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._texts)

    def set_labels(self, texts, x, y) -> None:
        """The labels' texts and their points (data coordinates), colours reset."""
        self._texts = [str(s) for s in texts]
        self._x = np.asarray(x, dtype=float).copy()
        self._y = np.asarray(y, dtype=float).copy()
        self._colors = [self._default] * len(self._texts)
        self._measure()

    def set_texts(self, texts) -> None:
        texts = [str(s) for s in texts]
        if texts != self._texts:
            self._texts = texts
            self._measure()

    def set_positions(self, x, y) -> None:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if not (np.array_equal(x, self._x) and np.array_equal(y, self._y)):
            self._x, self._y = x.copy(), y.copy()
            self._changed()

    def set_font(self, font: QFont) -> None:
        self._font = QFont(font)
        self._fm = QFontMetricsF(self._font)
        self._measure()

    def set_color(self, i: int, color) -> None:
        """Label ``i`` in ``color`` (None: the default colour again)."""
        self._colors[i] = self._default if color is None else QColor(color)
        self.update()

    # --- what tests and layouts read -----------------------------------------------------------
    def text(self, i: int) -> str:
        return self._texts[i]

    def texts(self) -> List[str]:
        return list(self._texts)

    def color(self, i: int) -> QColor:
        return QColor(self._colors[i])

    def font(self) -> QFont:
        return QFont(self._font)

    def scene_rect(self, i: int) -> QRectF:
        """Label ``i``'s text box in scene coordinates (as a TextItem's sceneBoundingRect)."""
        return self.mapRectToScene(self._local_rects()[i])

    def scene_rects(self) -> List[QRectF]:
        return [self.mapRectToScene(r) for r in self._local_rects()]

    # --- Qt ------------------------------------------------------------------------------------
    def boundingRect(self):  # noqa: N802 (Qt's name)
        rects = self._local_rects()
        out = QRectF()
        for r in rects:
            out = out.united(r)
        return out

    def paint(self, painter, option, widget=None):
        painter.setFont(self._font)
        ascent = self._fm.ascent()
        color = None
        for r, text, c in zip(self._local_rects(), self._texts, self._colors):
            if c is not color:
                painter.setPen(c)
                color = c
            painter.drawText(QPointF(r.left(), r.top() + ascent), text)

    # --- internals -----------------------------------------------------------------------------
    def _measure(self) -> None:
        fm = self._fm
        self._widths = np.array([fm.horizontalAdvance(s) for s in self._texts], dtype=float)
        self._changed()

    def _changed(self) -> None:
        self.prepareGeometryChange()
        self._rects = None
        self.update()

    def _on_view_change(self, *_):
        self._changed()

    def _local_rects(self) -> List[QRectF]:
        if self._rects is None:
            n = len(self._texts)
            if n == 0 or self._x.size != n:
                self._rects = []
                return self._rects
            m = self._vb.childTransform()   # data -> view box pixels (brought up to date)
            px = m.m11() * self._x + m.m21() * self._y + m.dx()
            py = m.m12() * self._x + m.m22() * self._y + m.dy()
            h = self._fm.height()
            left = px - self._anchor[0] * self._widths
            top = py - self._anchor[1] * h
            self._rects = [QRectF(float(a), float(b), float(w), h)
                           for a, b, w in zip(left, top, self._widths)]
        return self._rects

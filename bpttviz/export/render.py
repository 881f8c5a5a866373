"""Drawing a panel (or the whole window) for export, at the size it is exported at.

Why not ``QWidget.render`` into a QSvgGenerator, or pyqtgraph's exporters: on a widget,
pyqtgraph views paint through their on-screen caches (scatter symbols and the unrolled
network's nodes come out as pixmap fragments, "broken glyphs"), and every curve uses a
*cosmetic* pen, which Qt's SVG writes as a stroke in data units plus
``vector-effect="non-scaling-stroke"``: librsvg and others ignore that effect and draw a
2.5-unit stroke scaled by the data transform, the huge "blobs" on log axes.  So here:

* a **sheet** lays the panel out at the export size (plot only by default: the view's
  controls and hover hints are hidden, a title and the event's caption are drawn on top);
* :func:`paint_sheet` walks the widget tree: ordinary widgets are rendered by Qt (text as
  text), each pyqtgraph view is drawn by rendering its *scene* with every item in pyqtgraph's
  export mode (symbols as vector paths, no autoscale button);
* the picture is recorded once as SVG and then made renderer-proof by
  :mod:`bpttviz.export.svgfix` (cosmetic strokes mapped to real widths in page units, long
  curves decimated, small heatmaps embedded at a resolution no viewer blurs); PNG and PDF
  are drawn from that same drawing by Qt's SVG renderer at the target size, so a PNG at
  3840 px is painted at 3840 px (crisp), and the three formats agree.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import List, Optional, Tuple

DEFAULT_WIDTH = 1920
#: Logical size panels are laid out at for export (16:9 for slides); PNG width scales from it.
PANEL_SIZE = (960, 540)
#: Height of the title + event caption band above a plot-only panel (logical pixels).
#: (room for the title and two lines of caption: the event's sentence is not cut short).
HEADER_HEIGHT = 64

#: Hover/click hints: words an exported slide cannot act on.
_HINT_STARTS = ("hover", "click", "drag", "press", "right-click", "double-click")


def _input_types():
    from PyQt5.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox,
                                 QLineEdit)
    return (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)


def _layout_row_of(widget):
    """The horizontal layout that directly holds ``widget`` (its row of controls), or None."""
    from PyQt5.QtWidgets import QHBoxLayout
    parent = widget.parentWidget()
    if parent is None or parent.layout() is None:
        return None

    def find(layout):
        for i in range(layout.count()):
            item = layout.itemAt(i)
            if item.widget() is widget:
                return layout
            sub = item.layout()
            if sub is not None:
                hit = find(sub)
                if hit is not None:
                    return hit
        return None
    row = find(parent.layout())
    return row if isinstance(row, QHBoxLayout) else None


def _layout_widgets(layout) -> list:
    out = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is not None:
            out.append(item.widget())
        elif item.layout() is not None:
            out.extend(_layout_widgets(item.layout()))
    return out


#: A widget with this Qt property set true stays in a plot-only export though it shares a row
#: with controls (a colour key, a view's summary line: what a slide needs to be read).
KEEP_IN_EXPORT = "keepInExport"


def control_widgets(root) -> list:
    """What a plot-only export leaves out of ``root``: every input control (buttons, check
    boxes, combos, spin boxes, sliders) with the labels of its row (but those marked
    :data:`KEEP_IN_EXPORT`), and hover/click hints."""
    import pyqtgraph as pg
    from PyQt5.QtWidgets import QLabel, QScrollBar, QWidget
    inputs = _input_types()
    hidden: List[QWidget] = []

    def add(w):
        if not any(w is h for h in hidden):
            hidden.append(w)
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or isinstance(w, QScrollBar):
            continue
        if isinstance(w, pg.GraphicsView) or any(isinstance(a, pg.GraphicsView)
                                                 for a in _ancestors(w, root)):
            continue
        if isinstance(w, inputs) and not isinstance(w.parentWidget(), inputs):
            row = _layout_row_of(w)
            for x in (_layout_widgets(row) if row is not None else [w]):
                if not x.property(KEEP_IN_EXPORT):
                    add(x)
        elif isinstance(w, QLabel) and _plain(w.text()).lower().startswith(_HINT_STARTS):
            add(w)
    return hidden


def _ancestors(w, root):
    p = w.parentWidget()
    while p is not None and p is not root:
        yield p
        p = p.parentWidget()


def _plain(text: str) -> str:
    import re
    return re.sub(r"<[^>]+>", "", text or "").strip()


class Sheet:
    """What is drawn for one export: ``widget`` laid out at ``size`` (logical pixels), below
    an optional header (``title`` and ``caption``).  Use as a context manager: entering hides
    the controls (unless ``with_controls``) and lays the widget out; leaving restores it."""

    def __init__(self, widget, title: str = "", caption: str = "", with_controls: bool = False,
                 size: Optional[Tuple[int, int]] = PANEL_SIZE, header: bool = True):
        self.widget, self.title, self.caption = widget, title, caption
        self.with_controls = with_controls
        self.header = HEADER_HEIGHT if header and (title or caption) else 0
        self.size = size
        self._hidden: list = []
        self._old_size = None

    @property
    def width(self) -> int:
        return self.widget.width()

    @property
    def height(self) -> int:
        return self.widget.height() + self.header

    def __enter__(self):
        if not self.with_controls:
            self._hidden = [w for w in control_widgets(self.widget) if w.isVisible()]
            for w in self._hidden:
                w.hide()
        if self.size is not None:
            self._old_size = self.widget.size()
            self.widget.resize(int(self.size[0]), max(1, int(self.size[1]) - self.header))
        settle()
        return self

    def __exit__(self, *exc):
        for w in self._hidden:
            w.show()
        if self._old_size is not None:
            self.widget.resize(self._old_size)
        self._hidden = []


def settle() -> None:
    """Let Qt and pyqtgraph finish laying out: layouts (widgets' and pyqtgraph's) update
    through posted layout requests, in a few rounds.  Nothing is painted on screen here
    (painting a panel's copy would cost as much as the export itself)."""
    from PyQt5.QtCore import QEvent
    from PyQt5.QtWidgets import QApplication
    for _ in range(3):
        QApplication.sendPostedEvents(None, QEvent.LayoutRequest)


def paint_sheet(painter, sheet: Sheet, transparent: bool = False) -> None:
    """Paint ``sheet`` at the painter's origin in logical pixels (scale the painter first)."""
    from PyQt5.QtCore import QPoint, QRectF, Qt
    from PyQt5.QtGui import QColor, QFont, QFontMetrics
    if not transparent:
        painter.fillRect(QRectF(0, 0, sheet.width, sheet.height), QColor("white"))
    if sheet.header:
        painter.save()
        fg = sheet.widget.palette().windowText().color()
        title_font = QFont("DejaVu Sans")
        title_font.setPixelSize(19)
        title_font.setBold(True)
        cap_font = QFont("DejaVu Sans")
        cap_font.setPixelSize(14)
        painter.setPen(fg)
        painter.setFont(title_font)
        painter.drawText(QRectF(12, 4, sheet.width - 24, 24), int(Qt.AlignLeft | Qt.AlignVCenter),
                         QFontMetrics(title_font).elidedText(sheet.title, Qt.ElideRight, sheet.width - 24))
        painter.setFont(cap_font)
        painter.setPen(QColor(fg.red(), fg.green(), fg.blue(), 200))
        painter.drawText(QRectF(12, 27, sheet.width - 24, 36),
                         int(Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap), _two_lines(
                             sheet.caption, QFontMetrics(cap_font), sheet.width - 24))
        painter.restore()
    paint_widget(painter, sheet.widget, QPoint(0, sheet.header), transparent)


def _two_lines(text: str, fm, width: int) -> str:
    """``text`` cut (with an ellipsis) to what fits in two wrapped lines of ``width``."""
    from PyQt5.QtCore import QRect, Qt
    if fm.boundingRect(QRect(0, 0, width, 10000), int(Qt.TextWordWrap), text).height() < 2.5 * fm.lineSpacing():
        return text
    words = text.split()
    while words and fm.boundingRect(QRect(0, 0, width, 10000), int(Qt.TextWordWrap),
                                    " ".join(words) + " …").height() >= 2.5 * fm.lineSpacing():
        words.pop()
    return " ".join(words) + " …"


def paint_widget(painter, widget, offset, transparent: bool = False, root: bool = True) -> None:
    """Paint ``widget`` and its visible children at ``offset``: Qt renders plain widgets
    (text as text); pyqtgraph views are drawn from their scenes (see the module docstring).
    The root's own background is painted only when it is the whole window (a panel's sheet
    is on white); children fill theirs as on screen (``autoFillBackground``)."""
    import pyqtgraph as pg
    from PyQt5.QtCore import QPoint
    from PyQt5.QtGui import QRegion
    from PyQt5.QtWidgets import QWidget
    if isinstance(widget, pg.GraphicsView):
        _paint_view(painter, widget, offset, transparent)
        return
    from PyQt5.QtWidgets import QMenuBar
    if isinstance(widget, QMenuBar):
        _paint_menu_bar(painter, widget, offset, transparent)
        return
    from PyQt5.QtGui import QPaintEngine, QPainter, QPicture
    fill = not transparent and (widget.autoFillBackground() or (root and widget.isWindow()))
    flags = QWidget.RenderFlags(QWidget.DrawWindowBackground) if fill else QWidget.RenderFlags()
    pdf = painter.paintEngine().type() == QPaintEngine.Pdf
    # Into a PDF, containers are walked down to their content widgets too: a text edit
    # rendered from its panel lost its highlighted lines there, rendered alone it is right.
    if not widget.findChildren(pg.GraphicsView) and not (pdf and not _atomic(widget)):
        if not pdf:
            QWidget.render(widget, painter, offset, QRegion(widget.rect()), flags | QWidget.DrawChildren)
            return
        # Into a PDF through a QPicture (a vector recording at the widget's own DPI): painted
        # straight into the PDF engine, text edits lost their highlighted lines.
        pic = QPicture()
        rec = QPainter(pic)
        QWidget.render(widget, rec, QPoint(0, 0), QRegion(widget.rect()), flags | QWidget.DrawChildren)
        rec.end()
        painter.drawPicture(offset, pic)
        return
    QWidget.render(widget, painter, offset, QRegion(widget.rect()), flags)
    for child in widget.children():
        # (a dock in a tab behind another is parked outside its window: not drawn)
        if (isinstance(child, QWidget) and not child.isWindow() and child.isVisible()
                and child.geometry().intersects(widget.rect())):
            paint_widget(painter, child, offset + child.pos(), transparent, root=False)


def _paint_menu_bar(painter, bar, offset, transparent: bool) -> None:
    """The window's menu bar, its menu names as text.  Qt's own QMenuBar painting leaves
    the names out of an SVG or PDF (an empty bar in every whole-window export but PNGs
    drawn at screen size), so it is drawn here as it looks: the bar, its names, the line."""
    from PyQt5.QtCore import QRect, Qt
    from PyQt5.QtGui import QPalette
    pal = bar.palette()
    r = QRect(offset, bar.size())
    painter.save()
    if not transparent:
        painter.fillRect(r, pal.color(QPalette.Window))
    painter.setPen(pal.color(QPalette.Mid))
    painter.drawLine(r.bottomLeft(), r.bottomRight())
    painter.setFont(bar.font())
    painter.setPen(pal.color(QPalette.WindowText))
    for action in bar.actions():
        geom = bar.actionGeometry(action)
        if not action.isVisible() or geom.isEmpty():
            continue
        name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        painter.drawText(geom.translated(offset), Qt.AlignCenter, name)
    painter.restore()


def _atomic(widget) -> bool:
    """A widget drawn as one piece (its children are its own parts)."""
    from PyQt5.QtWidgets import (QAbstractButton, QAbstractScrollArea, QAbstractSlider,
                                 QAbstractSpinBox, QComboBox, QLabel, QLineEdit, QMenuBar,
                                 QTabBar, QWidget)
    return (isinstance(widget, (QAbstractScrollArea, QLabel, QAbstractButton, QComboBox,
                                QAbstractSpinBox, QAbstractSlider, QTabBar, QMenuBar, QLineEdit))
            or not widget.findChildren(QWidget))


@contextmanager
def export_mode(scene, painter):
    """Every pyqtgraph item of ``scene`` in export mode while drawing (vector symbols, no
    on-screen caches or buttons)."""
    items = [it for it in scene.items() if hasattr(it, "setExportMode")]
    # Symbols in pixel mode are drawn in device units: scale them with the painter.
    t = painter.worldTransform()
    scale = max(1e-6, (abs(t.m11() * t.m22() - t.m12() * t.m21())) ** 0.5)
    opts = {"antialias": True, "background": None, "painter": painter, "resolutionScale": scale}
    for it in items:
        it.setExportMode(True, opts)
    thinned = _thin_long_curves(scene)
    try:
        yield
    finally:
        for it, saved, segmented in thinned:
            it.setDownsampling(*saved)
            it.curve.setSegmentedLineMode(segmented)
        for it in items:
            it.setExportMode(False)


#: A curve is thinned for export when it has more points than this many per pixel column.
POINTS_PER_PIXEL = 4


def _thin_long_curves(scene) -> list:
    """Curves over many more points than their plot has pixels (the loss after 100,000
    iterations) are drawn through pyqtgraph's "peak" downsampling: the min and max of each
    bucket of a pixel or less, the same picture from a bounded number of points (pictures
    stay small and fast however long the history). Returns what to restore."""
    import pyqtgraph as pg
    out = []
    for it in scene.items():
        if not isinstance(it, pg.PlotDataItem) or it.xData is None:
            continue
        vb = it.getViewBox()
        px = max(16, int(vb.width())) if vb is not None else 1000
        n = len(it.xData)
        if n <= POINTS_PER_PIXEL * px:
            continue
        o = it.opts
        out.append((it, (o.get("downsample", 1), o.get("autoDownsample", False),
                         o.get("downsampleMethod", "peak")), it.curve.opts["segmentedLineMode"]))
        it.setDownsampling(ds=max(1, n // px), auto=False, method="peak")
        # One path, not one SVG element per segment (the live plots draw thick lines as
        # segments, fast on screen, but thousands of elements cost export time in every
        # format); svgfix cuts it into short pieces that renderers stroke fast.
        it.curve.setSegmentedLineMode("off")
    return out


def _paint_view(painter, view, offset, transparent: bool) -> None:
    from PyQt5.QtCore import QPointF, QRectF, Qt
    vp = view.viewport()
    pos = offset + vp.pos()
    target = QRectF(QPointF(pos), QPointF(pos.x() + vp.width(), pos.y() + vp.height()))
    if not transparent:
        brush = view.backgroundBrush()
        if brush.style() != Qt.NoBrush:
            painter.fillRect(target, brush)
    source = view.mapToScene(vp.rect()).boundingRect()
    scene = view.scene()
    from PyQt5.QtGui import QPaintEngine
    svg = painter.paintEngine().type() == QPaintEngine.SVG
    if svg:  # Qt's SVG has no clipping: mark the view's rectangle for svgfix to clip to
        from .svgfix import CLIP_BEGIN_HEX, CLIP_END_HEX, marker_colour
        painter.fillRect(target, marker_colour(CLIP_BEGIN_HEX))
    else:
        painter.save()
        painter.setClipRect(target, Qt.IntersectClip)
    painter.save()
    painter.setRenderHint(painter.Antialiasing, True)
    painter.setRenderHint(painter.TextAntialiasing, True)
    with export_mode(scene, painter):
        if hasattr(scene, "prepareForPaint"):
            scene.prepareForPaint()  # pyqtgraph's views update their ranges here
        scene.render(painter, target, source, Qt.IgnoreAspectRatio)
    painter.restore()
    if svg:
        painter.fillRect(QRectF(target.x(), target.y(), 1, 1), marker_colour(CLIP_END_HEX))
    else:
        painter.restore()

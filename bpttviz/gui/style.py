"""Look and feel shared by every panel: pyqtgraph options, colour maps, fonts, themes.

Everything here is sized for a projector at the back of a classroom: tick labels of at least
11 pt, axis labels of at least 12 pt, thick lines.  Colour maps are colour-blind safe:

* ``diverging_cmap()`` for signed values (ColorBrewer RdBu, blue = negative, white = 0,
  red = positive), used with a symmetric range so white always means zero;
* ``sequential_cmap()`` for magnitudes and probabilities (viridis stops: dark purple = low,
  yellow = high; monotonic in lightness, so it also reads in greyscale).

``configure_pyqtgraph()`` sets the global pyqtgraph options once (row-major images, so an
array ``(rows, cols)`` is drawn with rows along y and columns along x, as printed).
"""
from __future__ import annotations

import types
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PyQt5 import sip
from PyQt5.QtCore import QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QFontMetrics

from .plot_items import PlotMessage, StepFrame  # noqa: E402,F401 (panels use style.*)

_CONFIGURED = False


def configure_pyqtgraph() -> None:
    """Set pyqtgraph's global options exactly once (later calls do nothing)."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    _CONFIGURED = True


# ColorBrewer RdBu (11 classes), reversed so that blue is negative and red positive.
_RDBU = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
         "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"]
# viridis, 10 evenly spaced stops.
_VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89",
            "#35b779", "#6ece58", "#b5de2b", "#fde725"]

_CMAPS = {}


def _cmap(name: str, stops) -> pg.ColorMap:
    if name not in _CMAPS:
        pos = np.linspace(0.0, 1.0, len(stops))
        _CMAPS[name] = pg.ColorMap(pos, [QColor(s) for s in stops], name=name)
    return _CMAPS[name]


def diverging_cmap() -> pg.ColorMap:
    """Blue (negative) - white (zero) - red (positive); use with a symmetric range."""
    return _cmap("bpttviz-RdBu", _RDBU)


def sequential_cmap() -> pg.ColorMap:
    """Viridis-like: dark purple (low) to yellow (high); for norms and probabilities."""
    return _cmap("bpttviz-viridis", _VIRIDIS)


def sequential_color(fraction: float, alpha: int = 255) -> QColor:
    """The sequential map's colour at ``fraction`` in [0, 1]."""
    c = sequential_cmap().map(float(np.clip(fraction, 0.0, 1.0)), mode="qcolor")
    c.setAlpha(alpha)
    return c


@dataclass(frozen=True)
class Theme:
    """Colours and sizes. ``scale`` multiplies every font size and line width (a later
    presentation mode raises it)."""

    name: str = "light"
    background: str = "#ffffff"
    foreground: str = "#000000"
    muted: str = "#9a9a9a"          # not-yet-computed things
    empty: str = "#d4d4d4"          # heatmap background: cells not computed yet (grey)
    highlight: str = "#ff9d00"       # the current step (orange, visible on both maps)
    forward: str = "#1f4e9c"         # forward arrows / revealed nodes
    backward: str = "#c0392b"        # backward (gradient) things
    raw: str = "#e08214"             # bars before clipping (orange)
    clipped: str = "#542788"         # bars after clipping (purple): orange/purple is CVD-safe
    tick_pt: float = 12.0
    label_pt: float = 13.0
    title_pt: float = 14.0
    big_pt: float = 16.0             # the code panel's event words
    mono_pt: float = 13.0
    line_width: float = 2.5
    scale: float = 1.0
    #: presentation mode's "laser pointer": heatmaps fill the current column with a bright
    #: translucent band (the cursor frame alone is thin from the back of a room).
    laser: bool = False

    def pt(self, size: float) -> float:
        return size * self.scale

    def font(self, size: Optional[float] = None, bold: bool = False, mono: bool = False) -> QFont:
        f = QFont("DejaVu Sans Mono" if mono else "DejaVu Sans")
        if mono:
            f.setStyleHint(QFont.Monospace)
        f.setPointSizeF(self.pt(self.label_pt if size is None else size))
        f.setBold(bold)
        return f

    def pen(self, color: Optional[str] = None, width: Optional[float] = None, style=Qt.SolidLine):
        return pg.mkPen(color or self.foreground, width=(width or self.line_width) * self.scale,
                        style=style)

    def with_scale(self, scale: float) -> "Theme":
        return replace(self, scale=float(scale))

    def presenting(self, scale: float = 1.5) -> "Theme":
        """This theme for a projector: everything ``scale`` times bigger (12 pt ticks become
        18 pt), lines thicker, and the laser-pointer band on the current step."""
        return replace(self, scale=float(scale), laser=True)

    @property
    def dark(self) -> bool:
        return QColor(self.background).lightness() < 128


LIGHT = Theme()
#: Light for projectors: pure black on white, darker "not yet" grey, saturated colours.
HIGH_CONTRAST = Theme(name="high-contrast", muted="#6b6b6b", empty="#e3e3e3", highlight="#ff7f00",
                      forward="#08306b", backward="#a50f15", line_width=3.0)
DARK = Theme(name="dark", background="#111111", foreground="#f0f0f0", muted="#6a6a6a", empty="#3a3a3a",
             forward="#7fb2ff", backward="#ff7b6b")
#: View ▸ Theme: name -> (menu text, theme)
THEMES = {"light": ("&Light", LIGHT), "high-contrast": ("Light, &high contrast", HIGH_CONTRAST),
          "dark": ("&Dark", DARK)}

_theme = LIGHT


def theme() -> Theme:
    """The current theme (light by default: classrooms project light)."""
    return _theme


def set_theme(t: Theme) -> None:
    """Switch theme for panels built afterwards (and pyqtgraph's default colours)."""
    global _theme
    _theme = t
    pg.setConfigOptions(background=t.background, foreground=t.foreground)


_SUPERSCRIPT = str.maketrans("0123456789-", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b")


def linear_tick_strings(values, scale, spacing) -> list:
    """Tick labels of a linear axis: pyqtgraph's, without trailing zeros.  It gave every tick
    of a level as many decimals as the level's spacing needs, so a scatter's x axis read
    "-0.0010" beside its y axis' "-0.001" (another tick level), and "1.0" beside "1"."""
    places = max(0, int(np.ceil(-np.log10(spacing * scale)))) if spacing * scale > 0 else 0
    out = []
    for v in values:
        vs = v * scale
        if abs(vs) < .001 or abs(vs) >= 10000:
            text = "0" if vs == 0 else "%g" % vs
        else:
            text = f"{vs:.{places}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
        out.append("0" if text == "-0" else text)
    return out


def _tick_strings(axis, values, scale, spacing) -> list:
    if axis.logMode:
        return log_tick_strings(values, scale, spacing)
    return linear_tick_strings(values, scale, spacing)


def _bottom_tick_spacing(axis, minVal, maxVal, size):  # noqa: N803 (pyqtgraph's names)
    """pyqtgraph's tick levels, the major one widened until its labels fit side by side: it
    counts ticks by the axis' length only, and 18 pt labels ran together on a projector
    ("2000400060008000" under a training curve)."""
    levels = pg.AxisItem.tickSpacing(axis, minVal, maxVal, size)
    if axis.logMode or not levels or size <= 0 or not maxVal > minVal:
        return levels
    major = levels[0][0]
    fm = QFontMetrics(axis.style.get("tickFont") or axis.font())
    widest = max(fm.horizontalAdvance(text) for text in
                 axis.tickStrings([minVal, maxVal, major], 1.0, major) or ["0"])
    need = widest + fm.horizontalAdvance("0")   # a label and a digit's gap
    for _ in range(8):
        if (maxVal - minVal) / major * need <= size:
            break
        major *= 2.5 if str(major / 10 ** np.floor(np.log10(major)))[0] == "2" else 2.0
    if major == levels[0][0]:
        return levels
    return [(major, 0), (major / 2, 0)]


def log_tick_strings(values, scale, spacing) -> list:
    """Tick labels of a log axis, one style per axis: 0.001 to 1000 as decimals, beyond as
    powers of ten ("10\u207b\u2076", "2\u00b710\u2075").  pyqtgraph's own switched style
    at 10: "10\u00b9" stood above "1" and "0.1" on the same axis."""
    out = []
    for v in 10 ** np.asarray(values, dtype=float) * float(scale):
        if not np.isfinite(v) or v <= 0:
            out.append("")
            continue
        mant, exp = (f"{v:.0e}").split("e")
        e = int(exp)
        if -3 <= e <= 3:
            x = float(f"{v:.1g}")
            out.append(f"{x:.{max(0, -e)}f}")
        else:
            out.append(("" if mant == "1" else f"{mant}\u00b7") + "10" + str(e).translate(_SUPERSCRIPT))
    return out


def style_plot(plot: pg.PlotItem, xlabel: str = "", ylabel: str = "", xunits: Optional[str] = None,
               yunits: Optional[str] = None, title: Optional[str] = None, t: Optional[Theme] = None,
               mouse: bool = False) -> pg.PlotItem:
    """Big fonts, labelled axes, no auto-range, no context menu. Returns ``plot``."""
    t = t or theme()
    tick_font = t.font(t.tick_pt)
    label_css = {"color": t.foreground, "font-size": f"{t.pt(t.label_pt):.0f}pt"}
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setTickFont(tick_font)
        ax.setPen(t.pen(t.foreground, 1.2))
        ax.setTextPen(t.pen(t.foreground, 1))
        ax.setStyle(tickTextOffset=int(4 * t.scale))
        ax.enableAutoSIPrefix(False)  # "(x0.001)" confuses students; ticks show the numbers
        # (instance attributes: no AxisItem subclass needed)
        ax.logTickStrings = log_tick_strings
        ax.tickStrings = types.MethodType(_tick_strings, ax)
    plot.getAxis("bottom").tickSpacing = types.MethodType(_bottom_tick_spacing, plot.getAxis("bottom"))
    if xlabel:
        plot.setLabel("bottom", xlabel, units=xunits, **label_css)
    if ylabel:
        plot.setLabel("left", ylabel, units=yunits, **label_css)
    if title:
        plot.setTitle(title, color=t.foreground, size=f"{t.pt(t.title_pt):.0f}pt")
    plot.layout.setContentsMargins(2, 12, 10, 2)
    plot.disableAutoRange()
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=mouse, y=mouse)
    return plot


def room_for_descenders(axis: pg.AxisItem, t: Optional[Theme] = None) -> None:
    """Give a bottom axis' tick labels their whole line height.  pyqtgraph reserves 80 % of
    it and lets the axis title overlap the rest, so a glyph that hangs below the baseline
    (the "␣" of a space among character ticks, "p", "y") touched the title.  The axis keeps
    its own sizing (title, offset), only the tick text gets its full height."""
    t = t or theme()
    fm = QFontMetrics(axis.style["tickFont"] or t.font(t.tick_pt))
    axis.setStyle(autoExpandTextSpace=False,
                  tickTextHeight=int(fm.height() + max(2, round(2 * t.scale))))


def room_for_ticks(axis: pg.AxisItem, widest: str, t: Optional[Theme] = None) -> None:
    """A left axis wide enough for tick labels as wide as ``widest`` ("0.0005") beside its
    title, with a gap between them: pyqtgraph sizes the axis from the ticks it has drawn so
    far, and at 18 pt the title touched "0.001" (the gates' flow plot, dhnext's norms)."""
    t = t or theme()
    fm = QFontMetrics(axis.style["tickFont"] or t.font(t.tick_pt))
    title = QFontMetrics(t.font(t.label_pt)).height()
    axis.setWidth(int(fm.horizontalAdvance(widest) + title + 12 * t.scale))


def make_plot_widget(xlabel: str = "", ylabel: str = "", xunits: Optional[str] = None,
                     yunits: Optional[str] = None, title: Optional[str] = None,
                     t: Optional[Theme] = None, parent=None) -> pg.PlotWidget:
    """A ``pg.PlotWidget`` with the theme's background and styled, labelled axes."""
    configure_pyqtgraph()
    t = t or theme()
    # (no context menus: the app's own menus export and set scales; pyqtgraph's took ~2 ms
    # a plot to build, each time a panel is rebuilt for a theme or presentation mode)
    w = pg.PlotWidget(parent=parent, background=t.background, enableMenu=False)
    style_plot(w.getPlotItem(), xlabel, ylabel, xunits, yunits, title, t)
    return w


class LayoutWidget(pg.GraphicsLayoutWidget):
    """A ``pg.GraphicsLayoutWidget`` whose ``addPlot`` builds plots without pyqtgraph's
    context menus (see :func:`make_plot_widget`)."""

    def __init__(self, parent=None):
        super().__init__(parent=parent)
        # (GraphicsLayoutWidget copies its layout's addPlot onto the instance: replace it)
        self.addPlot = self.add_plot

    def add_plot(self, row=None, col=None, rowspan=1, colspan=1, **kwargs) -> pg.PlotItem:
        kwargs.setdefault("enableMenu", False)
        return self.ci.addPlot(row=row, col=col, rowspan=rowspan, colspan=colspan, **kwargs)


def make_layout_widget(t: Optional[Theme] = None, parent=None) -> pg.GraphicsLayoutWidget:
    """A ``pg.GraphicsLayoutWidget`` (several plots in one view) with the theme's background."""
    configure_pyqtgraph()
    t = t or theme()
    w = LayoutWidget(parent=parent)
    w.setBackground(t.background)
    return w


def color_bar(cmap: pg.ColorMap, values, label: str = "", t: Optional[Theme] = None) -> pg.ColorBarItem:
    """A non-interactive colour bar with a fixed range and a big-font label."""
    t = t or theme()
    bar = pg.ColorBarItem(values=tuple(values), colorMap=cmap, interactive=False,
                          width=int(18 * t.scale), colorMapMenu=False)
    ax = bar.axis
    ax.enableAutoSIPrefix(False)
    fit_bar_axis(bar, values, bool(label), t)
    ax.setTickFont(t.font(t.tick_pt))
    ax.setPen(t.pen(t.foreground, 1))
    ax.setTextPen(t.pen(t.foreground, 1))
    if label:
        ax.setLabel(label, color=t.foreground, **{"font-size": f"{t.pt(t.label_pt):.0f}pt"})
    return bar


def fit_bar_axis(bar: pg.ColorBarItem, levels, labelled: bool, t: Optional[Theme] = None) -> None:
    """Give the colour bar's axis the room its ticks for ``levels`` need, and its label's line:
    a fixed room for "-0.0005" left short ticks ("-2") far from the label, which then sat
    beside the next plot's own."""
    from PyQt5.QtGui import QFontMetrics
    t = t or theme()
    fm = QFontMetrics(t.font(t.tick_pt))
    lo, hi = float(levels[0]), float(levels[1])
    span = abs(hi - lo) or 1.0
    # pyqtgraph's ticks carry about as many decimals as the span needs
    if np.isfinite(lo) and np.isfinite(hi):
        decimals = max(0, -int(np.floor(np.log10(span / 4))))  # (~4 ticks over the span)
        chars = max(len(f"{v:.{decimals}f}") for v in (lo, hi))
    else:
        chars = len("-0.0005")
    need = fm.horizontalAdvance("0" * chars)
    label = int(1.3 * t.pt(t.label_pt) * 96 / 72) if labelled else 0
    bar.axis.setWidth(need + label + int(8 * t.scale))


def format_values(name: str, values, max_shown: int = 6, precision: int = 3) -> str:
    """``name = [ 0.012 -0.331 ...]`` in the seed notebook's style, truncated for long
    vectors: the first ``max_shown`` values and "… (N values)"."""
    v = np.asarray(values, dtype=float).ravel()
    body = " ".join(f"{x: .{precision}f}" for x in v[:max_shown])
    if v.size > max_shown:
        return f"{name} = [{body} … ({v.size} values)]"
    return f"{name} = [{body}]"


class Heatmap:
    """A fixed-range heatmap in a PlotItem: one ImageItem reused for every redraw, a colour
    bar, a cursor frame around one column and a hover read-out.

    Data are ``(rows, cols)`` arrays (rows along y with row 0 at the top, columns along x);
    NaN cells are transparent (not yet computed).  ``describe(row, col) -> str`` is called on
    mouse moves over the image and its text goes to ``on_hover(text)``.
    """

    def __init__(self, plot: pg.PlotItem, cmap: pg.ColorMap, levels, bar_label: str = "",
                 describe=None, on_hover=None, t: Optional[Theme] = None, insert_bar: bool = True):
        t = t or theme()
        self.plot, self.describe, self.on_hover = plot, describe, on_hover
        self.shape = (0, 0)
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        plot.invertY(True)
        plot.vb.setBackgroundColor(t.empty)
        self.bar = color_bar(cmap, levels, bar_label, t)
        # insert_bar=False: the caller places ``self.bar`` (e.g. in a layout column shared
        # with plots below, so their x axes line up).
        self.bar.setImageItem(self.image, insert_in=plot if insert_bar else None)
        self.levels = tuple(levels)
        self.cursor = StepFrame(t)
        self.cursor.setZValue(10)
        plot.addItem(self.cursor)
        plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.last_hover = ""
        # The colour strip as tall as the heatmap beside it, not as its row (with the x
        # axis' numbers and title): its 0 sat beside the tick labels, not the bottom row.
        self._bar_margins = None
        plot.vb.sigResized.connect(self._align_bar)
        self.bar.geometryChanged.connect(self._align_bar)

    def _align_bar(self, *_):
        if sip.isdeleted(self.plot.vb) or sip.isdeleted(self.bar):  # (a view torn down)
            return
        vb, bar = self.plot.vb.sceneBoundingRect(), self.bar.sceneBoundingRect()
        if not self.bar.isVisible() or vb.height() <= 0 or bar.height() <= 0:
            return
        if abs(bar.center().y() - vb.center().y()) > bar.height():  # (not side by side)
            top = bottom = 0
        else:
            top = int(round(max(0.0, vb.top() - bar.top())))
            bottom = int(round(max(0.0, bar.bottom() - vb.bottom())))
        if (top, bottom) != self._bar_margins:
            self._bar_margins = (top, bottom)
            self.bar.layout.setContentsMargins(1, 1 + top, 1, 1 + bottom)

    def set_levels(self, levels, cmap: Optional[pg.ColorMap] = None):
        levels = (float(levels[0]), float(levels[1]))
        if levels[0] == levels[1]:
            levels = (levels[0] - 1.0, levels[1] + 1.0)
        if cmap is not None and cmap is not self.bar.colorMap():
            self.bar.setColorMap(cmap)
        if levels != self.levels:
            self.levels = levels
            self.bar.setLevels(levels)
            fit_bar_axis(self.bar, levels, bool(self.bar.axis.labelText))
        self.image.setLevels(levels)

    def set_shape(self, rows: int, cols: int):
        """Place the image so cell (r, c) is centred on (x=c, y=r); fix the view range."""
        if (rows, cols) == self.shape:
            return
        self.shape = (rows, cols)
        self.image.setImage(np.full((rows, cols), np.nan), autoLevels=False, levels=self.levels)
        self.image.setRect(QRectF(-0.5, -0.5, cols, rows))
        self.plot.setXRange(-0.5, cols - 0.5, padding=0)
        self.plot.setYRange(-0.5, rows - 0.5, padding=0)

    def set_data(self, data: np.ndarray):
        """``data`` (rows, cols), NaN for not-yet-computed cells."""
        self.set_shape(*data.shape)
        self.image.setImage(data, autoLevels=False, levels=self.levels)

    def set_cursor(self, col: Optional[int]):
        if col is None:
            self.cursor.setVisible(False)
            return
        rows = self.shape[0]
        self.cursor.setRect(QRectF(col - 0.5, -0.5, 1.0, rows))
        self.cursor.setVisible(True)

    def cell_at(self, scene_pos):
        """``(row, col)`` under a scene position, or None outside the image."""
        if not self.plot.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.vb.mapSceneToView(scene_pos)
        r, c = int(round(p.y())), int(round(p.x()))
        if 0 <= r < self.shape[0] and 0 <= c < self.shape[1]:
            return r, c
        return None

    def _mouse_moved(self, scene_pos):
        if self.describe is None:
            return
        cell = self.cell_at(scene_pos)
        if cell is None:
            return
        text = self.describe(*cell)
        self.last_hover = text
        if self.on_hover is not None:
            self.on_hover(text)


def unbroken_norms(text: str) -> str:
    """``text`` with a word joiner after each '|': Qt may break a line after '|' (a line
    ended "... ||" and the next began "dhnext||"), no-break spaces or not."""
    return text.replace("|", "|\u2060")


def key_html(entries, prefix: str = "") -> str:
    """Rich text for a plot's key: ``entries`` are (colour, symbol, name) per mark; each
    symbol is drawn in its colour, and a wrapped line breaks only between entries."""
    parts = []
    for colour, symbol, name in entries:
        name = name.replace(" ", "&nbsp;")
        parts.append(f"<span style='color:{pg.mkColor(colour).name()}; font-weight:bold'>"
                     f"{symbol}</span>&nbsp;{name}")
    return unbroken_norms(prefix + " &nbsp;&nbsp; ".join(parts))


def key_label(entries, t: Optional[Theme] = None, prefix: str = ""):
    """A plot's key (:func:`key_html`) as a wrapped label outside the plot, so that it never
    covers data (a legend inside a small plot does)."""
    from PyQt5.QtWidgets import QLabel
    t = t or theme()
    lab = QLabel(key_html(entries, prefix))
    lab.setFont(t.font(t.tick_pt))
    lab.setWordWrap(True)
    lab.setContentsMargins(6, 0, 4, 0)
    lab.setToolTip("What each mark in the plot is")
    return lab


def choice_combo(choices, tooltip: str, t: Optional[Theme] = None, combo=None):
    """A combo box (or ``combo``, filled) of ``choices``: (shown text, data, tooltip) each,
    in the theme's tick font, every item's tooltip on hover."""
    from PyQt5.QtWidgets import QComboBox
    t = t or theme()
    combo = combo if combo is not None else QComboBox()
    combo.setFont(t.font(t.tick_pt))
    for i, (text, data, tip) in enumerate(choices):
        combo.addItem(text, data)
        combo.setItemData(i, tip, Qt.ToolTipRole)
    combo.setToolTip(tooltip)
    return combo


def readout_label(text: str = "", t: Optional[Theme] = None, mono: bool = True):
    """A one/two-line label for hover read-outs and panel notes (big, selectable)."""
    from PyQt5.QtWidgets import QLabel, QSizePolicy
    t = t or theme()
    lab = QLabel(text)
    lab.setFont(t.font(t.tick_pt, mono=mono))
    lab.setWordWrap(True)
    lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
    lab.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    lab.setStyleSheet(f"color: {t.foreground}; background: {t.background}; padding: 2px 6px;")
    return lab


def shrinkable(widget):
    """Let a label/combo shrink below its text width, so six docked panels fit 1280x720
    (long texts are elided by the layout instead of widening the window).  A combo still
    asks for its longest item (its size hint, measured with the font it paints with) and
    gets it where there is room: only its minimum is five characters.  (It asked for five
    characters and showed "h  hidden" cut even with the whole row free.)"""
    from PyQt5.QtWidgets import QComboBox, QLabel, QSizePolicy
    if isinstance(widget, QComboBox):
        widget.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        widget.setMinimumContentsLength(5)
        widget.setSizePolicy(QSizePolicy.Preferred, widget.sizePolicy().verticalPolicy())
    elif isinstance(widget, QLabel):
        widget.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        widget.setMinimumWidth(0)
    return widget


def legend_brush(t: Optional[Theme] = None, alpha: int = 210):
    """A legend's background: the theme's background, slightly see-through (so a legend
    stays readable in the dark theme too)."""
    t = t or theme()
    c = QColor(t.background)
    c.setAlpha(int(alpha))
    return pg.mkBrush(c)


def tight_text(text: str = "", color=None, anchor=(0.5, 0.5), font: Optional[QFont] = None,
               t: Optional[Theme] = None) -> pg.TextItem:
    """A ``pg.TextItem`` whose bounding rect is the text itself (no document margin), so
    labels placed side by side can be packed by their measured widths and checked for overlap
    with their scene rects."""
    t = t or theme()
    item = pg.TextItem(text, color=color or t.foreground, anchor=anchor)
    if font is not None:
        item.setFont(font)
    item.textItem.document().setDocumentMargin(0)
    item.updateTextPos()
    return item

"""Lay a view's plots out for the room it has, so that no plot is squeezed flat: in rows when
the panel is tall, side by side when it is wide and short (a projector's 1366x768), one plot a
row when narrow and tall, and, when none of these leaves the main plot readable, in *pages*:
one plot group at a time, filling the view, with a tab bar above it to turn to the others.

``PlotFlow(view, groups)``: ``view`` is a pyqtgraph GraphicsLayoutWidget, ``groups`` a list of
plot groups, each a list of items that stay together in one row (a plot and its colour bar);
the first group is the view's main plot.  Tall, group i is row i (or ``rows`` gives the groups
of each row, the last item of a shorter row spanning the rest); wide, every item is in one
row.  :meth:`PlotFlow.fit` re-places them when the shape of the view calls for it; a panel
calls it from its ``resizeEvent`` (it also fits itself whenever the view is resized, and
then emits ``sigReflowed``) and adds :meth:`PlotFlow.row` (the view, with the pager beside
it in pages) to its layout.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

from PyQt5.QtCore import QEvent, QObject, Qt, pyqtSignal
from PyQt5.QtGui import QFontMetrics
from PyQt5.QtWidgets import QBoxLayout, QSizePolicy, QTabBar

#: Side by side, each group needs at least this many pixels across.
MIN_GROUP_WIDTH = 330
#: The smallest main plot area (px) an arrangement must give to be chosen.
MIN_PLOT = (300, 200)
#: The arrangements :meth:`PlotFlow.choose` picks from, in order of preference.
ARRANGEMENTS = ("rows", "side", "column", "pages")


def best_grid(n: int, width: float, height: float, min_w: float = 300, min_h: float = 200):
    """``(rows, cols)`` for ``n`` equal cells in ``width`` x ``height`` that keeps the smallest
    cell dimension, relative to ``min_w`` x ``min_h``, as large as possible."""
    best, score = (n, 1), -1.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        s = min(width / cols / min_w, height / rows / min_h)
        if s > score + 1e-9:
            best, score = (rows, cols), s
    return best


def _height(widget, width: int) -> int:
    """The height a widget outside the view takes when shown ``width`` wide: its size hint
    (for wrapped text, its height at that width), within its maximum (a table kept to a few
    rows on a short view)."""
    h = widget.heightForWidth(width) if widget.hasHeightForWidth() else -1
    return min(h if h > 0 else widget.sizeHint().height(), widget.maximumHeight())


def _axes(item) -> list:
    """The axes in a plot of a flow: its own and those of a colour bar inside it (the data
    under its view box are not searched)."""
    import pyqtgraph as pg
    out, todo = [], [item]
    while todo:
        it = todo.pop()
        if isinstance(it, pg.AxisItem):
            out.append(it)
        elif not isinstance(it, pg.ViewBox):
            todo.extend(it.childItems())
    return out


class PlotFlow(QObject):
    #: The groups were re-placed (another arrangement or page; from every :meth:`fit` that
    #: re-places them, the first one when the panel is shown included).
    sigReflowed = pyqtSignal()

    def __init__(self, view, groups: Sequence[Sequence[object]],
                 stretch: Optional[Sequence[float]] = None,
                 side_stretch: Optional[Sequence[float]] = None,
                 rows: Optional[Sequence[Sequence[int]]] = None,
                 x_links: Sequence[tuple] = (),
                 col_stretch: Optional[Sequence[float]] = None,
                 names: Optional[Sequence[str]] = None,
                 extras: Optional[dict] = None,
                 tips: Optional[Sequence[str]] = None):
        super().__init__(view)
        self.view = view
        # Fit when the view itself is resized: its size settles only after the panel's
        # layout has run (a panel that moves its own widgets in resizeEvent, an export
        # sizing the panel in rounds), so the panel's resize alone saw stale sizes.
        view.installEventFilter(self)
        self.groups: List[List[object]] = [list(g) for g in groups]
        #: tall layout: the group indices of each row (default: one group a row)
        self.rows = [list(r) for r in rows] if rows is not None else [[i] for i in range(len(self.groups))]
        #: (follower, leader) plots whose x axes are linked when stacked.  pyqtgraph links by
        #: pixel position, so side by side a narrower follower would show only part of the
        #: leader's range: there they get the same range instead.
        self.x_links = list(x_links)
        self.stretch = list(stretch) if stretch is not None else [1.0] * len(self.groups)
        self.side_stretch = list(side_stretch) if side_stretch is not None else [1.0] * len(self.groups)
        #: stacked (the panel's own rows), the stretch of each grid column (default equal)
        self.col_stretch = list(col_stretch) if col_stretch is not None else None
        self.names = list(names) if names is not None else [f"plot {i + 1}" for i in range(len(self.groups))]
        #: group index -> widgets outside the view that belong to that group (its key):
        #: shown only while the group is (in pages, on its page)
        self.extras = {int(k): list(v) for k, v in (extras or {}).items()}
        #: the arrangement in place, one of :data:`ARRANGEMENTS` (None before the first fit)
        self.arrangement: Optional[str] = None
        #: pages: which group is shown
        self.page = 0
        #: Whether "pages" may be chosen: an export turns it off, as a slide has no tabs to
        #: turn (a paged export showed only its front page, and the key of the plot left out)
        self.pages_allowed = True
        #: The tab bar that turns the pages (hidden in the other arrangements); the panel puts
        #: it above the view.
        self.pager = QTabBar()
        self.pager.setObjectName("plotPager")
        # beside the view, not above it: pages are for views short of height, not of width
        self.pager.setShape(QTabBar.RoundedWest)
        self.pager.setUsesScrollButtons(True)  # never taller than the view it turns
        self.pager.setElideMode(Qt.ElideRight)
        self.pager.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Ignored)
        self.pager.setDrawBase(False)
        self._pager_pt: Optional[float] = None  # its font's own size (see _fit_pager_font)
        self._row: Optional[QBoxLayout] = None  # the pager and the view (see row)
        self.pager.setExpanding(False)
        self.pager.setToolTip("Too little room to show these plots together: one at a time")
        # Short names (a projector's 18 pt leaves ~150 px a tab), the long ones as tooltips.
        for i, name in enumerate(self.names):
            self.pager.addTab(name)
            if tips is not None and i < len(tips):
                self.pager.setTabToolTip(i, tips[i])
        self.pager.hide()
        self.pager.currentChanged.connect(self._on_page_change)

    @property
    def side_by_side(self) -> Optional[bool]:
        return None if self.arrangement is None else self.arrangement == "side"

    def _overhead(self):
        """Pixels of the main group that are not its plot area: axes, title, colour bar."""
        main = self.groups[0]
        p = main[0]
        try:
            ow = p.getAxis("left").width() + 16
            oh = p.getAxis("bottom").height() + 16
            if p.titleLabel.isVisible():
                oh += p.titleLabel.height()
        except (AttributeError, TypeError):
            ow, oh = 90, 60
        for item in main[1:]:  # a colour bar beside the plot
            ow += item.boundingRect().width() or 60
        return ow, oh

    def estimates(self) -> dict:
        """The main plot's expected plot area (w, h) in each arrangement that applies."""
        # the view's room without the pager (in pages it takes some of the width, or of the
        # height when its names run across the top)
        side = self.pager.shape() == QTabBar.RoundedWest
        pager_w = self.pager.sizeHint().width() if side else 0
        pager_h = 0 if side else self.pager.sizeHint().height()
        shown = not self.pager.isHidden()
        w = self.view.width() + (pager_w if shown else 0)
        h = self.view.height() + (pager_h if shown else 0)
        # the height with every group's extras shown (as they are outside pages)
        h += -sum(_height(x, w) for g in self.extras.values() for x in g if x.isHidden())
        # in pages the main plot's page shows none of the other groups' extras (whichever
        # page is turned to now: the choice must not flip with the page)
        page_extras = sum(_height(x, w) for gi, g in self.extras.items() if gi != 0 for x in g)
        ow, oh = self._overhead()
        n = len(self.groups)
        row_st = [max(self.stretch[g] for g in r) for r in self.rows]
        # (every row, or column, has its own axes: the stretch shares what they leave)
        nr = len(self.rows)
        out = {"rows": ((w - len(self.rows[0]) * ow) / len(self.rows[0]),
                        (h - nr * oh) * row_st[0] / sum(row_st))}
        if n > 1:
            narrowest = min(self.side_stretch) / sum(self.side_stretch)
            if w * narrowest >= MIN_GROUP_WIDTH:
                out["side"] = ((w - n * ow - 36 * (n - 1)) * self.side_stretch[0]
                               / sum(self.side_stretch), h - oh)
            if any(len(r) > 1 for r in self.rows):
                out["column"] = (w - ow, (h - n * oh) * self.stretch[0] / sum(self.stretch))
            out["pages"] = (w - ow - pager_w, h - oh - pager_h + page_extras)
        return out

    def choose(self) -> str:
        """The arrangement for the view's shape: the first of rows (the panel's own), side by
        side, a column (one group a row) and pages (one group at a time) that gives the main
        plot :data:`MIN_PLOT`; if none can, the one that comes closest."""
        if self.view.height() <= 0 or self.view.width() <= 0:
            return "rows"
        est = self.estimates()
        if not self.pages_allowed and len(est) > 1:
            est.pop("pages", None)
        for mode, (pw, ph) in est.items():  # (estimates are rough: keep a margin)
            if pw >= 1.1 * MIN_PLOT[0] and ph >= 1.2 * MIN_PLOT[1]:
                return mode
        return max(est, key=lambda m: min(est[m][0] / MIN_PLOT[0], est[m][1] / MIN_PLOT[1]))

    def eventFilter(self, obj, event):  # noqa: N802
        if obj is self.view and event.type() == QEvent.Resize:
            if not self.fit() and self.arrangement == "pages":
                self._fit_pager_font()  # the names must still fit the new height
        return False

    def _fit_pager_font(self) -> None:
        """The pager's names in full: down the view's side, its font shrunk to 80 % at
        least; if they still do not fit (four names at a projector's 18 pt on a 720-line
        screen), across the top of the view instead, at full size."""
        bar = self.pager
        if self._pager_pt is None:
            self._pager_pt = bar.font().pointSizeF()
        font = bar.font()
        fits = False
        for scale in (1.0, 0.9, 0.8):
            font.setPointSizeF(self._pager_pt * scale)
            fm = QFontMetrics(font)
            # each tab: its name and the style's padding (~1.5 em) along the side
            need = sum(fm.horizontalAdvance(bar.tabText(i)) + int(1.5 * fm.height())
                       for i in range(bar.count()))
            if need <= self.view.height() + (0 if bar.shape() == QTabBar.RoundedWest
                                              else bar.height()):
                fits = True
                break
        if not fits:
            font.setPointSizeF(self._pager_pt)
        if bar.font().pointSizeF() != font.pointSizeF():
            bar.setFont(font)
        shape = QTabBar.RoundedWest if fits else QTabBar.RoundedNorth
        if bar.shape() != shape:
            bar.setShape(shape)
            bar.setSizePolicy(*((QSizePolicy.Fixed, QSizePolicy.Ignored) if fits
                                else (QSizePolicy.Ignored, QSizePolicy.Fixed)))
            if self._row is not None:
                self._row.setDirection(QBoxLayout.LeftToRight if fits else QBoxLayout.TopToBottom)

    def row(self):
        """The pager and the view side by side: a panel adds this layout where the view goes."""
        box = self._row = QBoxLayout(QBoxLayout.LeftToRight)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.pager)
        box.addWidget(self.view, 1)
        return box

    def _on_page_change(self, index: int) -> None:
        if index >= 0 and index != self.page:
            self.page = index
            if self.arrangement == "pages":
                self.fit(force=True)

    def show_page(self, index: int) -> None:
        """Turn to group ``index`` (it is shown now if the view is in pages)."""
        self.pager.setCurrentIndex(index)

    def set_x_range(self, plots, lo: float, hi: float) -> None:
        """Show x from ``lo`` to ``hi`` in each of ``plots``: the followers of :attr:`x_links`
        first, their leaders last.  Linked by pixels (stacked), a follower's range set after
        its leader's is pushed back onto the leader mapped through their pixel positions (the
        heatmap above the loss bars then showed steps 0..21 of 25); set first, the leader's
        own range replaces it and the follower takes its pixel share of it."""
        for plot in sorted(plots, key=self._is_leader):
            plot.setXRange(lo, hi, padding=0)

    def _is_follower(self, item) -> bool:
        return any(f is item for f, _ in self.x_links)

    def _is_leader(self, item) -> bool:
        return not self._is_follower(item)

    def fit(self, force: bool = False) -> bool:
        """Re-place the groups if the view's shape calls for another arrangement (or, with
        ``force``, anyway); True if it did, and then :attr:`sigReflowed` was emitted."""
        mode = self.choose()
        if mode == self.arrangement and not force:
            return False
        self.arrangement = mode
        side = mode in ("side", "pages")  # axes of other widths: linked by range, not pixels
        layout = self.view.ci
        for g in self.groups:
            for item in g:
                if item in layout.items:
                    layout.removeItem(item)
                item.setVisible(mode != "pages")
        self.pager.setVisible(mode == "pages")
        for gi, widgets in self.extras.items():
            for x in widgets:
                show = mode != "pages" or gi == self.page
                if x.isHidden() == show:
                    x.setVisible(show)
                    # (shown while its panel was being rebuilt, the panel's layout kept the
                    # key's row at 0 px: the contribution key vanished when presenting)
                    parent = x.parentWidget()
                    if parent is not None and parent.layout() is not None:
                        parent.layout().invalidate()
        gl = layout.layout
        for i in range(gl.rowCount()):
            gl.setRowStretchFactor(i, 1)
        for i in range(gl.columnCount()):
            gl.setColumnStretchFactor(i, 1)
            gl.setColumnSpacing(i, gl.horizontalSpacing())
        for follower, leader in self.x_links:
            if side:
                follower.setXLink(None)
                follower.setXRange(*leader.viewRange()[0], padding=0)
            else:
                follower.setXLink(leader)
        if mode == "pages":
            self._fit_pager_font()
            for j, item in enumerate(self.groups[self.page]):
                layout.addItem(item, row=0, col=j)
                item.setVisible(True)
                gl.setColumnStretchFactor(j, 10 if j == 0 else 0)
        elif side:
            col = 0
            for i, g in enumerate(self.groups):
                for j, item in enumerate(g):
                    layout.addItem(item, row=0, col=col)
                    gl.setColumnStretchFactor(col, int(round(10 * self.side_stretch[i])) if j == 0 else 0)
                    col += 1
                if i < len(self.groups) - 1:
                    gl.setColumnSpacing(col - 1, 36)  # air between one group's labels and the next's
        else:
            rows = self.rows if mode == "rows" else [[i] for i in range(len(self.groups))]
            items_per_row = [[item for gi in r for item in self.groups[gi]] for r in rows]
            width = max(len(r) for r in items_per_row)
            # A follower linked by pixels keeps to its leader's column: spanning the colour
            # bar's column too it was wider and showed steps that do not exist.
            for r, items in enumerate(items_per_row):
                for c, item in enumerate(items):
                    span = width - c if c == len(items) - 1 and not self._is_follower(item) else 1
                    layout.addItem(item, row=r, col=c, colspan=span)
                # groups side by side in a row get the same air as side by side (so an
                # export at another size, which may arrange it the other way, looks alike)
                col = 0
                for gi in rows[r][:-1]:
                    col += len(self.groups[gi])
                    gl.setColumnSpacing(col - 1, 36)
                gl.setRowStretchFactor(r, int(round(10 * max(self.stretch[gi] for gi in rows[r]))))
            if mode == "rows" and self.col_stretch is not None:
                for c, st in enumerate(self.col_stretch):
                    gl.setColumnStretchFactor(c, int(round(10 * st)))
            elif mode == "rows":
                # groups sharing a row share its width as side by side (not by the size
                # hints of their tick labels, which change with the data drawn)
                for r in rows:
                    if len(r) > 1:
                        col = 0
                        for gi in r:
                            for j, _item in enumerate(self.groups[gi]):
                                gl.setColumnStretchFactor(
                                    col, int(round(10 * self.side_stretch[gi])) if j == 0 else 0)
                                col += 1
                        break
        # Hiding items in a layout lets the top-level layout item shrink to its preferred
        # size: give it the view's whole area again.
        layout.setGeometry(self.view.range)
        # An axis sizes itself 0 px wide while its plot is hidden (on another page) and not
        # again when the plot is shown: numbers gone, the axis title over the plot (the
        # clipping heatmap in an export).  Size them again (setStyle() re-sizes an axis).
        for g in self.groups:
            for item in g:
                if item.isVisible():
                    for axis in _axes(item):
                        axis.setStyle()
        self.sigReflowed.emit()
        return True

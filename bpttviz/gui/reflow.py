"""Lay a view's plots out for the room it has: in a column when the panel is tall, side by
side when it is wide and short (a projector's 1366x768), so that no plot is squeezed flat.

``PlotFlow(view, groups)``: ``view`` is a pyqtgraph GraphicsLayoutWidget, ``groups`` a list of
plot groups, each a list of items that stay together in one row (a plot and its colour bar).
Tall, group i is row i (or ``rows`` gives the groups of each row, the last item of a shorter
row spanning the rest); wide, every item is in one row.  :meth:`PlotFlow.fit` re-places them
when the shape of the view calls for it; a panel calls it from its ``resizeEvent``.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

#: Wider than this many times its height, a view places its plot groups side by side.
SIDE_BY_SIDE_ASPECT = 2.2
#: ... provided each group still gets this many pixels across.
MIN_GROUP_WIDTH = 330


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


class PlotFlow:
    def __init__(self, view, groups: Sequence[Sequence[object]],
                 stretch: Optional[Sequence[float]] = None,
                 side_stretch: Optional[Sequence[float]] = None,
                 rows: Optional[Sequence[Sequence[int]]] = None,
                 x_links: Sequence[tuple] = ()):
        self.view = view
        self.groups: List[List[object]] = [list(g) for g in groups]
        #: tall layout: the group indices of each row (default: one group a row)
        self.rows = [list(r) for r in rows] if rows is not None else [[i] for i in range(len(self.groups))]
        #: (follower, leader) plots whose x axes are linked when stacked.  pyqtgraph links by
        #: pixel position, so side by side a narrower follower would show only part of the
        #: leader's range: there they get the same range instead.
        self.x_links = list(x_links)
        self.stretch = list(stretch) if stretch is not None else [1.0] * len(self.groups)
        self.side_stretch = list(side_stretch) if side_stretch is not None else [1.0] * len(self.groups)
        self.side_by_side: Optional[bool] = None

    def wants_side_by_side(self) -> bool:
        """Wide and short, and still room for every group at a readable width."""
        w, h = self.view.width(), self.view.height()
        return h > 0 and w > SIDE_BY_SIDE_ASPECT * h and w / len(self.groups) >= MIN_GROUP_WIDTH

    def fit(self, force: bool = False) -> bool:
        """Re-place the groups if the view's shape changed sides; True if it did."""
        side = self.wants_side_by_side()
        if side == self.side_by_side and not force:
            return False
        self.side_by_side = side
        layout = self.view.ci
        for g in self.groups:
            for item in g:
                if item in layout.items:
                    layout.removeItem(item)
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
        if side:
            col = 0
            for i, g in enumerate(self.groups):
                for j, item in enumerate(g):
                    layout.addItem(item, row=0, col=col)
                    gl.setColumnStretchFactor(col, int(round(10 * self.side_stretch[i])) if j == 0 else 0)
                    col += 1
                if i < len(self.groups) - 1:
                    gl.setColumnSpacing(col - 1, 36)  # air between one group's labels and the next's
        else:
            items_per_row = [[item for gi in r for item in self.groups[gi]] for r in self.rows]
            width = max(len(r) for r in items_per_row)
            for r, items in enumerate(items_per_row):
                for c, item in enumerate(items):
                    span = width - c if c == len(items) - 1 else 1
                    layout.addItem(item, row=r, col=c, colspan=span)
                gl.setRowStretchFactor(r, int(round(10 * max(self.stretch[gi] for gi in self.rows[r]))))
        return True

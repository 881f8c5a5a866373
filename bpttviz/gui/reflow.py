"""Lay a view's plots out for the room it has: in a column when the panel is tall, side by
side when it is wide and short (a projector's 1366x768), so that no plot is squeezed flat.

``PlotFlow(view, groups)``: ``view`` is a pyqtgraph GraphicsLayoutWidget, ``groups`` a list of
plot groups, each a list of items that stay together in one row (a plot and its colour bar).
:meth:`PlotFlow.fit` re-places them when the shape of the view calls for it; a panel calls it
from its ``resizeEvent``.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

#: Wider than this many times its height, a view places its plot groups side by side.
SIDE_BY_SIDE_ASPECT = 2.2


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
                 side_stretch: Optional[Sequence[float]] = None):
        self.view = view
        self.groups: List[List[object]] = [list(g) for g in groups]
        self.stretch = list(stretch) if stretch is not None else [1.0] * len(self.groups)
        self.side_stretch = list(side_stretch) if side_stretch is not None else [1.0] * len(self.groups)
        self.side_by_side: Optional[bool] = None

    def wants_side_by_side(self) -> bool:
        w, h = self.view.width(), self.view.height()
        return h > 0 and w > SIDE_BY_SIDE_ASPECT * h

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
        col = 0
        for i, g in enumerate(self.groups):
            for j, item in enumerate(g):
                if side:
                    layout.addItem(item, row=0, col=col)
                    gl.setColumnStretchFactor(col, int(round(10 * self.side_stretch[i])) if j == 0 else 0)
                    col += 1
                else:
                    layout.addItem(item, row=i, col=j)
            if side and i < len(self.groups) - 1:
                gl.setColumnSpacing(col - 1, 36)  # air between one group's labels and the next's
            if not side:
                gl.setRowStretchFactor(i, int(round(10 * self.stretch[i])))
        return True

"""A row of controls that wraps onto the next line when the view is too narrow for it, instead
of widening the view until it needs a sideways scroll bar (a projector's large fonts make a
control row twice as wide).  Qt's own *Flow Layout* example, in Python: items keep their size
hints and are placed left to right, a new line starting where the next one would not fit,
and the room left on a line goes to its first item that grows sideways; ``addStretch`` is
not supported (a flowing row has no end to push to).  ``add_separator`` puts a thin vertical
line between groups of controls; a separator that would begin or end a line is not drawn.
"""
from __future__ import annotations

from PyQt5.QtCore import QPoint, QRect, QSize, Qt
from PyQt5.QtWidgets import QFrame, QLayout


class FlowLayout(QLayout):
    def __init__(self, parent=None, spacing: int = 6):
        super().__init__(parent)
        self._items = []
        self._spacing = spacing
        self._separators = []   # their layout items

    def add_separator(self) -> QFrame:
        """A thin vertical line after the items added so far (groups of controls read as
        groups: "auto-check" and "scatter:" side by side read as one phrase)."""
        line = QFrame()
        line.setFrameShape(QFrame.VLine)
        line.setFrameShadow(QFrame.Plain)   # (a sunken line vanished in the projector theme)
        line.setLineWidth(2)
        line.setStyleSheet("color: #8c8c8c;")  # (mid grey: seen on light and dark themes)
        line.setObjectName("flowSeparator")
        line.setFixedWidth(max(2, self._spacing) + 4)
        self.addWidget(line)
        self._separators.append(self._items[-1])
        return line

    # --- QLayout's item interface -------------------------------------------------------
    def addItem(self, item):  # noqa: N802
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def spacing(self) -> int:
        return self._spacing

    # --- sizes -------------------------------------------------------------------------
    def expandingDirections(self):  # noqa: N802
        return Qt.Orientations(Qt.Orientation(0))

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect):  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self):  # noqa: N802
        return self.minimumSize()

    def minimumSize(self):  # noqa: N802
        """As narrow as the widest single item (everything else wraps)."""
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _place(self, rect, move: bool) -> int:
        """Lay the items out in ``rect`` (placing them if ``move``); the height it takes.
        Items of one line share its middle (a check box beside a taller button)."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        lines, x = [[]], area.x()
        dropped = []   # separators at the start or end of a line: not drawn
        for item in self._items:
            if item.isEmpty():
                continue
            sep = any(item is s for s in self._separators)
            if sep and not lines[-1]:
                dropped.append(item)
                continue
            w = item.sizeHint().width()
            if lines[-1] and x + w > area.right() + 1:
                if sep:
                    dropped.append(item)
                    continue
                lines.append([])
                x = area.x()
            lines[-1].append(item)
            x += w + self._spacing
        for line in lines:
            while line and any(line[-1] is s for s in self._separators):
                dropped.append(line.pop())
        if move:
            for item in dropped:
                item.setGeometry(QRect())
        y = area.y()
        for line in lines:
            height = max((it.sizeHint().height() for it in line), default=0)
            # the room left on the line goes to its first item that grows sideways (a slider)
            spare = area.width() - sum(it.sizeHint().width() for it in line) \
                - self._spacing * (len(line) - 1)
            grower = next((it for it in line if it.expandingDirections() & Qt.Horizontal), None)
            x = area.x()
            for item in line:
                hint = item.sizeHint()
                if item is grower and spare > 0:
                    hint.setWidth(hint.width() + spare)
                if any(item is s for s in self._separators):
                    hint.setHeight(max(hint.height(), int(height * 0.8)))  # the line's height
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - hint.height()) // 2), hint))
                x += hint.width() + self._spacing
            y += height + self._spacing
        return max(0, y - self._spacing - rect.y()) + m.bottom()

"""Small widgets the panels share."""
from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import QEvent, Qt
from PyQt5.QtWidgets import QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from . import style


class ExplainBox(QWidget):
    """A view's explanation under a "What does this show?" toggle.

    Shown open in a tall normal window (a student reading alone), folded in presentation mode
    (the teacher explains; the plot gets the room) and in a window shorter than
    :data:`ROOMY_HEIGHT` (1280x720, 1366x768: the plots need the rows), and a click away
    either way.  Until the reader clicks the toggle it follows the window's height; after,
    their choice stays.  ``text()`` is the explanation, so it reads like the label it replaces.
    """

    #: Windows at least this tall (px) show explanations open (normal mode).
    ROOMY_HEIGHT = 860

    def __init__(self, html: str, t: Optional[style.Theme] = None, parent=None,
                 open_: Optional[bool] = None):
        super().__init__(parent)
        t = t or style.theme()
        self.toggle = QToolButton()
        self.toggle.setObjectName("explainToggle")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.RightArrow)
        self.toggle.setText("What does this show?")
        self.toggle.setFont(t.font(t.tick_pt))
        self.toggle.setAutoRaise(True)
        self.toggle.setToolTip("Show or fold the explanation of this view")
        self.label = QLabel(html)
        self.label.setFont(t.font(t.tick_pt))
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.RichText)
        self.label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.label.setStyleSheet(f"color: {t.foreground}; background: {t.background}; padding: 2px 6px;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.toggle, 0, Qt.AlignLeft)
        lay.addWidget(self.label)
        self.toggle.toggled.connect(self._on_toggled)
        self.toggle.clicked.connect(self._on_clicked)
        #: None: follow the window (open in a tall normal window); else the reader's choice
        self._chosen: Optional[bool] = None if open_ is None else bool(open_)
        self._presenting = t.scale > 1.0
        self._watched = None
        self.toggle.setChecked(not self._presenting if open_ is None else bool(open_))
        self._on_toggled(self.toggle.isChecked())

    def _on_clicked(self, on: bool) -> None:
        self._chosen = bool(on)

    def _follow_window(self) -> None:
        if self._chosen is not None:
            return
        win = self.window()
        roomy = win is self or win.height() >= self.ROOMY_HEIGHT
        want = roomy and not self._presenting
        if self.toggle.isChecked() != want:
            self.toggle.setChecked(want)

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        win = self.window()
        if win is not self and win is not self._watched:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            self._watched = win
            win.installEventFilter(self)
        self._follow_window()

    def eventFilter(self, obj, event):  # noqa: N802
        if obj is self._watched and event.type() == QEvent.Resize:
            self._follow_window()
        return False

    def _on_toggled(self, on: bool) -> None:
        self.label.setVisible(on)
        self.toggle.setArrowType(Qt.DownArrow if on else Qt.RightArrow)

    def text(self) -> str:
        return self.label.text()

    def is_open(self) -> bool:
        return self.toggle.isChecked()


def space_control_rows(root, gap: int, group: int) -> int:
    """Give the rows of controls under ``root`` room to breathe: the style lays a row's
    widgets 2 px apart, so on a projector "Pause" touched "stop after" and a combo box the
    label of the next control.  In every horizontal row, a label that follows an input
    starts a new group (``group`` px before it) and two neighbouring inputs get ``gap`` px;
    a label stays close to the input it names.  Rows that already space an item are left
    as they are there.  Returns how many gaps were added."""
    from PyQt5.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox,
                                 QHBoxLayout, QLabel, QLineEdit, QWidget)
    inputs = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)

    def rows(layout):
        if layout is None:
            return
        if isinstance(layout, QHBoxLayout):
            yield layout
        for i in range(layout.count()):
            sub = layout.itemAt(i).layout()
            if sub is not None:
                yield from rows(sub)
    added = 0
    for widget in [root] + root.findChildren(QWidget):
        if isinstance(widget, inputs):
            continue  # (a spin box's or combo's own parts)
        for row in list(rows(widget.layout())):
            i = row.count() - 1
            while i > 0:
                item, before = row.itemAt(i).widget(), row.itemAt(i - 1).widget()
                if item is not None and before is not None and isinstance(before, inputs):
                    if isinstance(item, QLabel):
                        row.insertSpacing(i, group)
                        added += 1
                    elif isinstance(item, inputs):
                        row.insertSpacing(i, gap)
                        added += 1
                i -= 1
    return added

"""Small widgets the panels share."""
from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from . import style


class ExplainBox(QWidget):
    """A view's explanation under a "What does this show?" toggle.

    Shown open in the normal window (a student reading alone), folded in presentation mode
    (the teacher explains; the plot gets the room), and a click away either way.  ``text()``
    is the explanation, so it reads like the label it replaces.
    """

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
        self.toggle.setChecked(t.scale <= 1.0 if open_ is None else bool(open_))
        self._on_toggled(self.toggle.isChecked())

    def _on_toggled(self, on: bool) -> None:
        self.label.setVisible(on)
        self.toggle.setArrowType(Qt.DownArrow if on else Qt.RightArrow)

    def text(self) -> str:
        return self.label.text()

    def is_open(self) -> bool:
        return self.toggle.isChecked()

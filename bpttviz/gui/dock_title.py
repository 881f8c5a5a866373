"""A dock's title bar in the normal window: the view's whole title, float and close buttons.

The window's tabs may name a view by its short title when the whole titles do not fit their
bar (thirteen of them ran off a 1366 px window, the first one, the unrolled network, out of
sight); a dock's own title comes from the same ``windowTitle``, so the title bar says the
whole title itself.  Mouse presses on it are left to the dock (``QDockWidget`` moves a dock
dragged by a custom title bar, and floats it on a double click).
"""
from __future__ import annotations

from PyQt5.QtWidgets import QHBoxLayout, QLabel, QStyle, QToolButton, QWidget


class DockTitleBar(QWidget):
    def __init__(self, dock, title: str):
        super().__init__(dock)
        self._dock = dock
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 1, 2, 1)
        lay.setSpacing(2)
        self.label = QLabel(title)
        self.label.setToolTip(title)
        lay.addWidget(self.label, 1)
        style = self.style()
        self.float_button = QToolButton()
        self.float_button.setIcon(style.standardIcon(QStyle.SP_TitleBarNormalButton))
        self.float_button.setToolTip("Float this view in a window of its own (double-click "
                                     "the title to dock it again)")
        self.float_button.setAutoRaise(True)
        self.float_button.clicked.connect(self._on_float_clicked)
        self.close_button = QToolButton()
        self.close_button.setIcon(style.standardIcon(QStyle.SP_TitleBarCloseButton))
        self.close_button.setToolTip("Hide this view (View menu brings it back)")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self._on_close_clicked)
        for b in (self.float_button, self.close_button):
            lay.addWidget(b)

    def _on_float_clicked(self):
        self._dock.setFloating(not self._dock.isFloating())

    def _on_close_clicked(self):
        self._dock.close()

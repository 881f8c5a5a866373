"""The contract every panel follows.

A panel is a QWidget built from a Session.  It subscribes to ``session.sigChanged`` and
redraws from the session alone (it never talks to another panel).  It draws only what is
computed at the cursor (``session.state``): quantities not yet reached are left empty.

Exports (PNG/SVG/PDF/CSV) use ``export_widget()`` for pictures and ``csv_tables()`` for
the numbers drawn, so a new panel exports like the others without extra code.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
from PyQt5.QtWidgets import QWidget

#: A CSV table: column names and a 2-D array (rows = timesteps where that makes sense).
Table = Tuple[List[str], np.ndarray]


class Panel(QWidget):
    #: Stable identifier, used for dock object names, export file names and --panels.
    key = "panel"
    #: Title shown on the dock.
    title = "Panel"
    #: "What am I looking at?" text (HTML): every colour, axis and mark explained.
    help_html = ""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._dirty = True
        self._shown = True
        session.sigChanged.connect(self._on_session_changed)

    def _on_session_changed(self):
        # A hidden dock, or one in a tab behind another, does not redraw; it catches up when
        # shown (keeps stepping fast with thirteen panels).
        self._dirty = True
        if self._shown and self.isVisible():
            self.refresh()

    def set_shown(self, shown: bool) -> None:
        """Told by the window whether the panel's dock is actually on screen (a tab behind
        another is not); redraws now if it was skipped while out of sight."""
        self._shown = bool(shown)
        if self._shown and self._dirty and self.isVisible():
            self.refresh()

    def showEvent(self, event):
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def refresh(self):
        self._dirty = False
        self.redraw()

    def redraw(self):
        """Draw the session's state at the cursor. Subclasses implement this."""
        raise NotImplementedError

    def export_widget(self) -> QWidget:
        """The widget whose picture is exported (default: the whole panel)."""
        return self

    def csv_tables(self) -> Dict[str, Table]:
        """Named tables of exactly the numbers drawn at the cursor (suffix -> table)."""
        return {}

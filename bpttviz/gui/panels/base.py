"""The contract every panel follows.

A panel is a QWidget built from a Session.  It subscribes to ``session.sigChanged`` and
redraws from the session alone (it never talks to another panel).  It draws only what is
computed at the cursor (``session.state``): quantities not yet reached are left empty.

Exports (PNG/SVG/PDF/CSV/GIF) use ``export_widget()`` for pictures and ``csv_tables()`` for
the numbers drawn, so a new panel exports like the others without extra code.  A picture is
plot-only by default: the export hides every input control of ``export_widget()`` with the
labels of its row, and labels that start with "Hover"/"Click" (hints), then draws ``title``
and ``export_caption()`` above it.  An export may build a fresh copy of the panel on
``session.snapshot()`` (``cls(session)`` then ``restore_view_state``), so everything a
picture shows must come from the session and the view state.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
from PyQt5.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QWidget

#: A CSV table: column names and a 2-D array (rows = timesteps where that makes sense).
Table = Tuple[List[str], np.ndarray]


class Panel(QWidget):
    #: Stable identifier, used for dock object names, export file names and --panels.
    key = "panel"
    #: Title shown on the dock.
    title = "Panel"
    #: "What am I looking at?" text (HTML): every colour, axis and mark explained.
    help_html = ""
    #: Attribute names of the panel's own view controls (log scale, which quantity, ...):
    #: they change how the panel looks, never the session, and survive a rebuild of the
    #: panel (a theme or presentation-mode change) through view_state/restore_view_state.
    view_widgets: Tuple[str, ...] = ()

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

    def view_state(self) -> Dict[str, object]:
        """The values of :attr:`view_widgets`: a check box's checked state, a combo box's
        item data (its text when it has none), a spin box's value."""
        state: Dict[str, object] = {}
        for name in self.view_widgets:
            w = getattr(self, name)
            if isinstance(w, QAbstractButton):
                state[name] = w.isChecked()
            elif isinstance(w, QComboBox):
                data = w.currentData()
                state[name] = ("data", data) if data is not None else ("text", w.currentText())
            elif isinstance(w, QAbstractSpinBox):
                state[name] = w.value()
        return state

    def restore_view_state(self, state: Dict[str, object]) -> None:
        """Put back what :meth:`view_state` returned; entries that no longer apply (an item
        this panel does not offer now) are skipped."""
        for name, value in state.items():
            w = getattr(self, name, None)
            if isinstance(w, QAbstractButton):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                kind, v = value
                i = w.findData(v) if kind == "data" else w.findText(v)
                if i >= 0:
                    w.setCurrentIndex(i)
            elif isinstance(w, QAbstractSpinBox):
                w.setValue(value)

    def redraw(self):
        """Draw the session's state at the cursor. Subclasses implement this."""
        raise NotImplementedError

    def export_widget(self) -> QWidget:
        """The widget whose picture is exported (default: the whole panel)."""
        return self

    def export_caption(self) -> str:
        """The line under the title of an exported picture: the event and what happens."""
        words, _ = self.session.describe_event()
        return f"{self.session.state.event}  ·  {words}"

    def csv_tables(self) -> Dict[str, Table]:
        """Named tables of exactly the numbers drawn at the cursor (suffix -> table)."""
        return {}

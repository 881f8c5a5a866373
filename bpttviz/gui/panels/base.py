"""The contract every panel follows.  Read this before writing a panel.

Reading.  A panel is a QWidget built from a Session (and, in the window, the training
controller).  It draws from the session alone and never talks to another panel.  It draws only
what is computed at the cursor (``session.state``): quantities not yet reached are left empty.

Hooks.  The base class subscribes to the session's specific signals; a panel overrides
    ``on_trace()``   a new trace is current (rebuild what depends on the whole trace: shapes,
                     ranges, per-trace analyses); called before the next ``on_cursor``;
    ``on_cursor()``  draw the state at the cursor (default: ``redraw()``);
    ``on_config(names)``  these config fields changed (optional);
    ``on_busy(busy)``     the run was lent to training / returned (optional).
A panel that is hidden, or in a tab behind another, is not drawn; it catches up when shown
(``on_trace`` first if the trace changed meanwhile).  Never compare ``id(trace)``: use
``session.trace_serial`` / ``run_serial`` (addresses of freed objects are reused).

Ownership.  The session is the only way to change the run.  While training borrows it
(``session.busy``), every change refuses with SessionError and readers see the trace published
when training began.  A widget that edits the session (calls ``session.edit``, ``scale_whh``,
a cursor move, ...) must be created through :meth:`editor`: the base class disables all of
them while the run is lent and enables them after, so no panel keeps a list by hand.

Slots.  Connect to the session or the controller with ``self.listen(signal, slot)`` (undone
by ``detach()``, which ``deleteLater()`` calls).  Connect bound methods only — never a lambda, closure or ``functools.partial``: those
keep a connection alive after the panel is destroyed (a theme change rebuilds panels), and the
next signal then calls into a deleted widget.  Bound methods of a QObject are disconnected by
Qt when the panel goes.

Exports (PNG/SVG/PDF/CSV/GIF) use ``export_widget()`` for pictures and ``csv_tables()`` for
the numbers drawn, so a new panel exports like the others without extra code.  A picture is
plot-only by default: the export hides every input control of ``export_widget()`` with the
labels of its row, and labels that start with "Hover"/"Click" (hints), then draws ``title``
and ``export_caption()`` above it.  An export may build a fresh copy of the panel on
``session.snapshot()`` (``cls(session)`` then ``restore_view_state``), so everything a
picture shows must come from the session and the view state.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, List, Tuple

import numpy as np
from PyQt5.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QWidget

#: A CSV table: column names and a 2-D array (rows = timesteps where that makes sense).
Table = Tuple[List[str], np.ndarray]



#: Said by the views computed for the whole window at once (truncation, decay, the gradient
#: check): in the forward pass they already show the backward pass's results, and a class
#: stepping through the iteration took them for the cursor's step.
WHOLE_WINDOW = "computed for the whole window at once"

class Panel(QWidget):
    #: Stable identifier, used for dock object names, export file names and --panels.
    key = "panel"
    #: Title shown on the dock.
    title = "Panel"
    #: A short title for presentation mode's tabs (one or two words; "" = the title).
    tab_title = ""
    #: The question this view answers (``bpttviz --list-views``, the View menu's tips).
    question = ""
    #: Other names presets and lessons may use for this view ("hidden" for hidden_states).
    aliases: Tuple[str, ...] = ()
    #: "What am I looking at?" text (HTML): every colour, axis and mark explained.
    help_html = ""
    #: Attribute names of the panel's own view controls (log scale, which quantity, ...):
    #: they change how the panel looks, never the session, and survive a rebuild of the
    #: panel (a theme or presentation-mode change) through view_state/restore_view_state.
    view_widgets: Tuple[str, ...] = ()

    def __init__(self, session, parent=None, controller=None):
        super().__init__(parent)
        self.session = session
        #: The window's TrainingController (None for export copies and tests).
        self.controller = controller
        self._editors: List[QWidget] = []
        self._dirty = True
        self._seen_serial = None   # the trace serial on_trace last ran for
        self._shown = True
        self._rows_spaced = False
        self._connections: List[tuple] = []
        self.listen(session.sigTraceChanged, self._on_trace_change)
        self.listen(session.sigCursorChanged, self._on_cursor_change)
        self.listen(session.sigConfigChanged, self._on_config_change)
        self.listen(session.sigBusyChanged, self._on_busy_change)

    # --- hooks for subclasses -----------------------------------------------------------
    def on_trace(self) -> None:
        """A new trace is current (see the module docstring)."""

    def on_cursor(self) -> None:
        """Draw the session's state at the cursor."""
        self.redraw()

    def on_config(self, names: FrozenSet[str]) -> None:
        """These config fields changed."""

    def on_busy(self, busy: bool) -> None:
        """The run was lent to training (True) or given back."""

    def redraw(self):
        """Draw the session's state at the cursor. Subclasses implement this or on_cursor."""
        raise NotImplementedError

    # --- connections to objects that outlive the panel ------------------------------------
    def listen(self, signal, slot) -> None:
        """Connect ``signal`` of an object that outlives the panel (the session, the training
        controller) to the bound method ``slot``; :meth:`detach` undoes every such
        connection, so a replaced panel leaves none behind (PyQt keeps a proxy per
        connection even after the receiver is gone)."""
        signal.connect(slot)
        self._connections.append((signal, slot))

    def detach(self) -> None:
        """Disconnect from the session and the controller (the panel is being discarded)."""
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        self._connections = []

    def deleteLater(self) -> None:  # noqa: N802 (Qt name)
        self.detach()
        super().deleteLater()

    # --- session-editing widgets ----------------------------------------------------------
    def editor(self, widget):
        """Register ``widget`` as one that edits the session: disabled while the run is lent.
        Returns the widget, so ``self.spin = self.editor(QSpinBox())`` reads naturally."""
        self._editors.append(widget)
        widget.setEnabled(not self.session.busy)
        return widget

    def editors(self) -> List[QWidget]:
        return list(self._editors)

    def _on_view_option_change(self, *_args) -> None:
        """Slot for the panel's own view controls (log scale, which quantity): redraw."""
        self.refresh()

    # --- plumbing -------------------------------------------------------------------------
    def _on_trace_change(self, _serial: int) -> None:
        self._dirty = True
        self._maybe_refresh()

    def _on_cursor_change(self, _index: int) -> None:
        self._dirty = True
        self._maybe_refresh()

    def _on_config_change(self, names) -> None:
        self.on_config(names)

    def _on_busy_change(self, busy: bool) -> None:
        for w in self._editors:
            w.setEnabled(not busy)
        self.on_busy(busy)

    def _maybe_refresh(self) -> None:
        # A hidden dock, or one in a tab behind another, does not redraw; it catches up when
        # shown (keeps stepping fast with thirteen panels).
        if self._shown and self.isVisible():
            self.refresh()

    def set_shown(self, shown: bool) -> None:
        """Told by the window whether the panel's dock is actually on screen (a tab behind
        another is not); redraws now if it was skipped while out of sight."""
        self._shown = bool(shown)
        if self._shown and self._dirty and self.isVisible():
            self.refresh()

    #: A :class:`bpttviz.gui.reflow.PlotFlow` the panel sets to have its plots placed side by
    #: side when it is wide and short, in a column when tall (re-fitted on every resize).
    _plot_flow = None

    @property
    def plot_flow(self):
        return self._plot_flow

    @plot_flow.setter
    def plot_flow(self, flow) -> None:
        self._plot_flow = flow
        if flow is not None:
            flow.sigReflowed.connect(self._on_reflow_change)

    def _on_reflow_change(self) -> None:
        if self.session.has_run:
            self.on_reflow()

    @property
    def main_plot(self):
        """The plot that carries the view's point (a pyqtgraph PlotItem), which the layout
        keeps largest and the layout audit measures: the first plot of :attr:`plot_flow`, or
        None (then the largest plot counts)."""
        return self.plot_flow.groups[0][0] if self.plot_flow is not None else None

    def on_reflow(self) -> None:
        """The plots were re-placed (side by side or stacked): put back ranges that linked
        axes may have dragged along while the shapes changed."""

    def showEvent(self, event):  # noqa: N802
        if self.plot_flow is not None:
            self.plot_flow.fit()
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def refresh(self):
        """Bring the panel up to date now: ``on_trace`` if the trace changed since it last
        ran, then ``on_cursor``."""
        self._dirty = False
        if not self._rows_spaced:  # (once the subclass has built its rows)
            self._rows_spaced = True
            from .. import style
            from ..widgets import space_control_rows
            t = style.theme()
            space_control_rows(self, int(4 * t.scale), int(12 * t.scale))
        serial = self.session.trace_serial
        if serial != self._seen_serial:
            self._seen_serial = serial
            self.on_trace()
        self.on_cursor()

    def view_state(self) -> Dict[str, object]:
        """The values of :attr:`view_widgets`: a check box's checked state, a combo box's
        item data (its text when it has none), a spin box's value.  Empty for a panel that
        never drew: its widgets still hold their construction defaults (a truncation spin box
        of range 1..1), which would overwrite the new panel's (it showed k = 1 for k = 4)."""
        state: Dict[str, object] = {}
        if self._seen_serial is None:
            return state
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

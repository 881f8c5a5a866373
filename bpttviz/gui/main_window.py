"""The main window: it puts the parts together and routes the user's requests to the session.

The parts live in their own modules: the timeline bar (:mod:`.timeline_bar`), the docks and
their layout (:mod:`.dock_layout`), theme and presentation mode (:mod:`.looks`), help
(:mod:`.help`), the export actions, the controls, the training controller (owned here and
handed to the panels that need it).  The window reads the session and asks it to do things;
it computes no maths.  Everything the user can do is an action of :mod:`bpttviz.gui.actions`
(one place for shortcuts, and for which actions need the run).
"""
from __future__ import annotations

import logging
import os
from typing import Dict, Optional

from PyQt5.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PyQt5.QtWidgets import (QApplication, QDockWidget, QFileDialog, QFrame, QLabel, QMainWindow, QScrollArea, QWidget)

from ..explain import steps
from ..engine import kernels
from ..session import SessionError
from . import help as help_text
from .actions import NEEDS_RUN, Actions, TimelineKeyFilter
from .controls import ControlsPanel, warn
from .dock_layout import DockLayout, scrollable
from .looks import Looks
from .menus import build_menus
from .panels.base import Panel
from .protect import WheelGuard, confirm_losing
from .timeline_bar import TimelineBar
from .training import TrainingController
from .window_export import WindowExports

log = logging.getLogger(__name__)

ORG = APP = "bpttviz"
SESSION_FILTER = "bpttviz sessions (*.npz);;All files (*)"
def app_settings() -> QSettings:
    return QSettings(ORG, APP)


def remembered_preset() -> Optional[str]:
    value = app_settings().value("session/last_preset", None)
    return str(value) if value else None


def available_panels() -> list:
    """The data panels in layout order (empty until bpttviz.gui.panels exports PANELS)."""
    try:
        from .panels import PANELS
    except ImportError as e:
        log.info("no panels available: %s", e)
        return []
    return list(PANELS)


class MainWindow(QMainWindow):
    """``MainWindow(session)``.  ``panels`` (list of Panel classes) defaults to PANELS.
    ``remember=True`` (what ``run_app`` uses) restores and saves the geometry, dock layout and
    last preset in QSettings; the default leaves the user's settings alone (exports, tests)."""

    def __init__(self, session, panels: Optional[list] = None, remember: bool = False, parent=None):
        super().__init__(parent)
        self.session = session
        self.path: Optional[str] = None  # where Save writes
        self._remember = remember
        self.setObjectName("bpttviz-main")
        self.setWindowTitle("bpttviz")
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks
                            | QMainWindow.AllowNestedDocks)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.TopLeftCorner, Qt.LeftDockWidgetArea)

        self.acts = Actions(self, session.undo_stack)
        self._key_filter = TimelineKeyFilter(self)
        self.exports = WindowExports(self)  # File ▸ Export, panel menus, Export all
        self._click_filter = self.exports.click_filter
        self.looks = Looks(self)
        self._shown_once = False
        self._painted_once = False
        self._restored_layout = False
        self._help_dialog = None
        self.checker = None  # File ▸ Check my code… (made on first use)
        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(120)
        self._refit_timer.timeout.connect(self._refit_layout)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._key_filter)
            app.installEventFilter(self._click_filter)
        # Training in the background borrows the run through the session; one controller,
        # owned here, handed to the panels that start or follow training.
        self.controller = TrainingController(session, parent=self)

        # --- central: the event now, and the timeline -----------------------------------
        self.timeline_bar = TimelineBar(self.acts)
        self.header = self.timeline_bar.header
        self.scrubber = self.timeline_bar.scrubber
        self.slider = self.timeline_bar.slider
        self.setCentralWidget(self.timeline_bar)
        self.slider.valueChanged.connect(self._slider_moved)

        # --- docks -------------------------------------------------------------------------
        self.dock_layout = DockLayout(self)
        self.docks: Dict[str, QDockWidget] = self.dock_layout.docks
        self.panels: Dict[str, QWidget] = {}
        self.controls = ControlsPanel(session)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.controls.sizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 4)
        self._add_dock("controls", "Controls", scroll)
        self.panel_classes = list(available_panels() if panels is None else panels)
        for cls in self.panel_classes:
            widget = self.build_panel(cls)
            self.panels[cls.key] = widget
            self._add_dock(cls.key, cls.title, scrollable(widget), cls.tab_title or cls.title)
        self.dock_layout.finish()

        # --- menus and status bar -------------------------------------------------------------
        self._build_menus()
        self.status = QLabel()
        self.status.setObjectName("runStatus")
        f = self.status.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.status.setFont(f)
        self.statusBar().addPermanentWidget(self.status)

        # --- playback -------------------------------------------------------------------------
        self.timer = QTimer(self)
        self.timer.setObjectName("playTimer")
        self.timer.timeout.connect(self._tick)
        self._set_speed(self.controls.events_per_second())
        self.controls.speedChanged.connect(self._set_speed)

        self._connect_actions()
        # Teaching: predict mode, classroom vote, bug hunt, lessons (bpttviz.gui.lesson_player)
        from .lesson_player import install_teaching
        self.teaching = install_teaching(self)
        session.sigCursorChanged.connect(self._on_cursor_change)
        session.sigTraceChanged.connect(self._on_trace_change)
        session.sigBusyChanged.connect(self._on_busy_change)
        self.controller.sigProgress.connect(self._training_progress)
        self._last_preset = None
        self.sync()
        self.resize(self._initial_size())
        if remember:
            self._restore_settings()
            self.show_preset_view()  # a restored layout must not hide the preset's view
        self._on_busy_change(session.busy)
        # --- protection of the user's work (bpttviz.gui.protect) ---
        #: ask Save/Discard/Cancel before losing unsaved work (run_app's window; not exports)
        self.confirm_unsaved = remember
        self.autosaver = None  # set by protect.startup (run_app)
        self.wheel_guard = WheelGuard(self)

    # --- parts, for callers that knew them on the window --------------------------------
    @property
    def presenting(self) -> bool:
        return self.looks.presenting

    @property
    def theme_name(self) -> str:
        return self.looks.theme_name

    def current_theme(self):
        return self.looks.current_theme()

    def set_theme_name(self, name: str) -> None:
        self.looks.set_theme_name(name)

    def set_presentation(self, on: bool = True, fullscreen: bool = True) -> None:
        self.looks.set_presentation(on, fullscreen)

    def _theme_chosen(self, action) -> None:
        self.looks.set_theme_name(action.data())

    def reset_layout(self) -> None:
        self.dock_layout.reset()

    def dock_for_view(self, view: Optional[str]) -> Optional[str]:
        return self.dock_layout.dock_for_view(view)

    def show_preset_view(self) -> Optional[str]:
        return self.dock_layout.show_preset_view()

    def show_view(self, name: str) -> Optional[str]:
        """Bring the view ``name`` (a key or alias) to the front; its key, or None."""
        return self.dock_layout.show_view(self.dock_layout.dock_for_view(name))

    # --- building --------------------------------------------------------------------------
    def _add_dock(self, key: str, title: str, widget: QWidget,
                  tab_title: Optional[str] = None) -> QDockWidget:
        dock = self.dock_layout.add(key, title, widget, tab_title)
        dock.topLevelChanged.connect(self._dock_floated)
        dock.visibilityChanged.connect(self.looks._on_dock_visibility_change)
        panel = self.panels.get(key)
        if isinstance(panel, Panel):
            # A panel in a tab behind another still says isVisible(); the dock knows better.
            dock.visibilityChanged.connect(panel.set_shown)
        return dock

    def build_panel(self, cls) -> QWidget:
        try:
            return cls(self.session, controller=self.controller)
        except Exception as e:  # noqa: BLE001 -- one broken panel must not stop the app
            log.exception("panel %s failed to build", getattr(cls, "key", cls))
            widget = QLabel(f"This panel could not be built:\n{type(e).__name__}: {e}")
            widget.setWordWrap(True)
            widget.setAlignment(Qt.AlignCenter)
            return widget

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.looks.fit_height()
            if not self._restored_layout:
                self.dock_layout.fit_to_size(force=True, presenting=self.presenting)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        if self._shown_once:
            # A layout the user has not rearranged follows the window's size, once the
            # resizing settles (re-arranging redraws the panels: not at every pixel of a drag).
            self._refit_timer.start()

    def _refit_layout(self) -> None:
        self.looks.fit_height()
        self.dock_layout.fit_to_size(presenting=self.presenting)
        self.dock_layout.style_tab_bars()  # (presentation tabs fit the new width)

    def paintEvent(self, event):  # noqa: N802
        super().paintEvent(event)
        if not self._painted_once:
            self._painted_once = True
            # The compiled engine kernels load on a background thread once the window is on
            # screen (a no-op if they are loaded already); see bpttviz.engine.kernels.
            QTimer.singleShot(0, kernels.preload)

    def _build_menus(self) -> None:
        build_menus(self)

    def _connect_actions(self) -> None:
        a = self.acts
        # Bound methods only (no lambdas capturing self): see ControlsPanel._widget_edited.
        a.step_forward.triggered.connect(self.step_forward)
        a.step_back.triggered.connect(self.step_back)
        a.home.triggered.connect(self.go_home)
        a.end.triggered.connect(self.go_end)
        a.next_iteration.triggered.connect(self.next_iteration)
        a.play.toggled.connect(self._play_toggled)
        a.open.triggered.connect(self.open_session)
        a.save.triggered.connect(self.save_session)
        a.save_as.triggered.connect(self.save_session_as)
        a.undo.triggered.connect(self.undo)
        a.redo.triggered.connect(self.redo)
        a.load_corpus.triggered.connect(self.controls.choose_corpus)
        a.check_code.triggered.connect(self.check_code)
        a.reset_layout.triggered.connect(self.reset_layout)
        ex = self.exports
        a.export_png.triggered.connect(ex.export_png)
        a.export_svg.triggered.connect(ex.export_svg)
        a.export_pdf.triggered.connect(ex.export_pdf)
        a.export_csv.triggered.connect(ex.export_csv)
        a.copy_image.triggered.connect(ex.copy_image_triggered)
        a.export_gif.triggered.connect(ex.export_gif_triggered)
        a.export_all.triggered.connect(ex.export_all_triggered)
        a.train.triggered.connect(self.start_training)
        a.pause_training.triggered.connect(self.pause_training)
        a.presentation.toggled.connect(self.set_presentation)
        a.theme_group.triggered.connect(self._theme_chosen)
        a.help.triggered.connect(self.show_help)
        a.about.triggered.connect(self.show_about)
        a.quit.triggered.connect(self.close)

    def _dock_floated(self, floating: bool) -> None:
        if floating and isinstance(self.sender(), QDockWidget):
            self.acts.install_on(self.sender())

    def step_forward(self):
        return self._do(self.session.step, 1)

    def step_back(self):
        return self._do(self.session.step, -1)

    def go_home(self):
        return self._do(self.session.home)

    def go_end(self):
        return self._do(self.session.end)

    def next_iteration(self):
        return self._do(self.session.next_iteration)

    def undo(self):
        return self._do(self.session.undo_stack.undo)

    def redo(self):
        return self._do(self.session.undo_stack.redo)

    # --- session <-> view ----------------------------------------------------------------------
    def _do(self, fn, *args) -> bool:
        """Run a session request; a refusal is shown and playback stops."""
        try:
            fn(*args)
            return True
        except SessionError as e:
            self.acts.play.setChecked(False)
            warn(self, "bpttviz", str(e))
            return False

    def _on_cursor_change(self, _index: int) -> None:
        self.sync()

    def _on_trace_change(self, _serial: int) -> None:
        self.sync()

    def sync(self) -> None:
        s = self.session
        if not s.has_run:
            return
        self.timeline_bar.show_session(s)
        st = s.state
        tr = s.trace
        if getattr(tr, "loss_steps", "all") == "last":
            # the loss is the last step's alone: a sum of the earlier steps would mislead
            done = st.forward_count >= tr.T
            # (not a bare dash: "loss (last step only) – ·" read as a glitch)
            loss = (f"loss (last step only) {tr.loss:.3f}" if done
                    else f"loss (last step only): at step {tr.T - 1}")
        elif st.forward_count >= tr.T:
            loss = f"loss {tr.loss:.3f}"
        elif st.forward_count > 0:
            loss = f"loss so far ({steps(0, st.forward_count - 1)}) {float(tr.losses[:st.forward_count].sum()):.3f}"
        else:
            loss = "loss: not computed yet"
        if not s.busy:
            self.status.setText(f"Iteration {s.iteration}   ·   {loss}   ·   smooth loss {s.smooth_loss:.3f}")
        name = s.preset.name if s.preset is not None else None
        title = s.preset.title if s.preset is not None else "session"
        where = f" — {os.path.basename(self.path)}" if self.path else ""
        dot = "• " if s.unsaved else ""  # unsaved training or edits (protect)
        self.setWindowTitle(f"{dot}bpttviz — {title}{where}")
        if name != self._last_preset:
            self._last_preset = name
            if name is not None:
                if self._remember:
                    app_settings().setValue("session/last_preset", name)
                self.show_preset_view()

    def _slider_moved(self, value: int) -> None:
        self._do(self.session.set_cursor, value)

    # --- playback ------------------------------------------------------------------------------
    def _set_speed(self, events_per_second: float) -> None:
        self.timer.setInterval(max(10, int(round(1000.0 / max(0.01, events_per_second)))))

    def _play_toggled(self, playing: bool) -> None:
        """Play steps to the end of this iteration (the update event) and stops there;
        pressing Play at the update event starts the next iteration and plays it."""
        if playing:
            if self.session.cursor >= len(self.session.events) - 1:
                if not self._do(self.session.next_iteration):
                    return
            self.timer.start()
        else:
            self.timer.stop()

    def _tick(self) -> None:
        if self.session.cursor >= len(self.session.events) - 1:
            self.acts.play.setChecked(False)
            return
        if self._do(self.session.step, 1) and self.session.cursor >= len(self.session.events) - 1:
            self.acts.play.setChecked(False)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    # --- files ------------------------------------------------------------------------------------
    def open_session(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self._dir(), SESSION_FILTER)
        if not path:
            return False
        self.acts.play.setChecked(False)
        if not confirm_losing(self, "opening another session"):  # protect
            return False
        if self.autosaver is not None:
            self.autosaver.before_risky()
        try:
            self.session.open(path)
        except SessionError as e:
            warn(self, "Cannot open session", str(e))
            return False
        self.session.mark_saved()
        self.path = path
        self.sync()
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save_session(self) -> bool:
        if not self.path:
            return self.save_session_as()
        return self._save(self.path)

    def save_session_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save session", self._dir(), SESSION_FILTER)
        if not path:
            return False
        if not os.path.splitext(path)[1]:
            path += ".npz"
        return self._save(path)

    def _save(self, path: str) -> bool:
        try:
            self.session.save(path)
        except (OSError, SessionError) as e:
            warn(self, "Cannot save session", f"Could not write {path}: {getattr(e, 'strerror', None) or e}")
            return False
        self.session.mark_saved()
        self.path = path
        self.sync()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def check_code(self, path: Optional[str] = None) -> bool:
        """File ▸ Check my code…: check a student's file in the background (its report opens
        in a window of its own when it arrives)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Check my code", self._dir(),
                                                  "Python files (*.py);;All files (*)")
            if not path:
                return False
        if self.checker is None:
            from .check_view import CheckRunner
            self.checker = CheckRunner(self)
        return self.checker.start(path)

    def _dir(self) -> str:
        return os.path.dirname(self.path) if self.path else ""

    # --- training -------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.controller.running

    def start_training(self) -> bool:
        """Train in the background until paused (Ctrl+T again)."""
        if self.controller.running or not self.session.has_run:
            return False
        self.acts.play.setChecked(False)
        if "loss" in self.docks and not self.docks["loss"].isHidden():
            self.docks["loss"].raise_()
        return self.controller.start()

    def pause_training(self) -> None:
        self.controller.pause()

    def _on_busy_change(self, busy: bool) -> None:
        """While the run is lent to training, every action that needs it waits (one list:
        :data:`bpttviz.gui.actions.NEEDS_RUN`); the controls follow the same signal."""
        if busy:
            self.acts.play.setChecked(False)
        for name in NEEDS_RUN:
            self.acts.all[name].setEnabled(not busy)
        self.acts.pause_training.setEnabled(busy)
        self.slider.setEnabled(not busy)
        if not busy:  # the undo stack's actions know best whether they apply
            self.acts.undo.setEnabled(self.session.undo_stack.canUndo())
            self.acts.redo.setEnabled(self.session.undo_stack.canRedo())
            self.statusBar().clearMessage()
        else:
            self.statusBar().showMessage("Training in the background — Ctrl+T pauses")

    def _training_progress(self, iteration: int, smooth_loss: float, _entries=None) -> None:
        self.status.setText(f"Training: iteration {iteration}   ·   smooth loss {smooth_loss:.3f}")

    # --- help ------------------------------------------------------------------------------------
    def help_html(self) -> str:
        return help_text.help_html(self.panel_classes)

    def show_help(self):
        if self._help_dialog is None:
            self._help_dialog = help_text.HelpDialog(self)
            self.help_browser = self._help_dialog.browser
        self._help_dialog.show_text(self.help_html())
        return self._help_dialog

    def about_html(self) -> str:
        return help_text.about_html()

    def show_about(self) -> None:
        help_text.show_about(self)

    # --- settings -------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._restored_layout = self.restoreState(state, self.dock_layout.version)
            self.dock_layout.style_tab_bars()

    def save_settings(self) -> None:
        if not self._remember:
            return
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(self.dock_layout.version))
        if self.session.preset is not None:
            s.setValue("session/last_preset", self.session.preset.name)
        s.sync()

    def closeEvent(self, event):  # noqa: N802
        self.acts.play.setChecked(False)
        if self.controller.running:
            self.controller.stop()
        if not confirm_losing(self, "quitting"):  # protect: Save / Discard / Cancel
            event.ignore()
            return
        self.wheel_guard.remove()
        if self.presenting:
            self.set_presentation(False)
        self.save_settings()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._key_filter)
            app.removeEventFilter(self._click_filter)
        super().closeEvent(event)

    @staticmethod
    def _initial_size() -> QSize:
        """1600x900, or 95% of a smaller screen."""
        screen = QApplication.primaryScreen() if QApplication.instance() else None
        if screen is None:
            return QSize(1600, 900)
        avail = screen.availableGeometry()
        if avail.width() < 1000 or avail.height() < 600:  # offscreen/virtual: no real limit
            return QSize(1600, 900)
        return QSize(min(1600, int(avail.width() * 0.95)), min(900, int(avail.height() * 0.95)))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(1600, 900)

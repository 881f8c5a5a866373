"""The main window: what is happening now (words + equation), the timeline scrubber and its
buttons, the panels as movable docks, menus, playback, and remembered layout.

It reads the session and asks it to do things; it computes no maths.  Everything the user
can do is an action of :mod:`bpttviz.gui.actions` (one place for shortcuts).
"""
from __future__ import annotations

import html
import logging
import os
import zlib
from typing import Dict, List, Optional

from PyQt5.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import (QDialog, QDialogButtonBox, QDockWidget, QFileDialog, QFrame,
                             QHBoxLayout, QLabel, QMainWindow, QMessageBox, QScrollArea,
                             QSizePolicy, QSlider, QTextBrowser, QToolButton, QVBoxLayout,
                             QWidget, QApplication)

from .. import __version__
from ..session import SessionError
from .actions import SPECS, Actions, TimelineKeyFilter, shortcut_text
from .controls import ControlsPanel, warn

log = logging.getLogger(__name__)

ORG = APP = "bpttviz"
SESSION_FILTER = "bpttviz sessions (*.npz);;All files (*)"
PHASE_COLOURS = {"forward": "#1f77b4", "backward": "#d62728", "clip": "#7f3fbf", "update": "#2ca02c"}


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


class EventHeader(QWidget):
    """The current event in words, and its equation, big enough for the back of a room."""

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 4)
        lay.setSpacing(4)
        self.phase = QLabel()
        self.phase.setObjectName("eventPhase")
        self.words = QLabel()
        self.words.setObjectName("eventWords")
        self.words.setWordWrap(True)
        f = self.words.font()
        f.setPointSizeF(max(15.0, f.pointSizeF() * 1.6))
        f.setBold(True)
        self.words.setFont(f)
        self.equation = QLabel()
        self.equation.setObjectName("eventEquation")
        self.equation.setWordWrap(True)
        self.equation.setTextInteractionFlags(Qt.TextSelectableByMouse)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.TypeWriter)
        mono.setFixedPitch(True)
        mono.setPointSizeF(max(13.0, f.pointSizeF() * 0.85))
        self.equation.setFont(mono)
        pf = QFont(f)
        pf.setPointSizeF(f.pointSizeF() * 0.8)
        self.phase.setFont(pf)
        top = QHBoxLayout()
        top.addWidget(self.phase, 0, Qt.AlignVCenter)
        top.addWidget(self.words, 1)
        lay.addLayout(top)
        lay.addWidget(self.equation)
        for w in (self.words, self.equation):
            w.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    def _fit(self) -> None:
        """Keep room for every wrapped line (QMainWindow's central area ignores
        height-for-width, so the words would otherwise be cut to one line)."""
        need = self.layout().totalHeightForWidth(max(1, self.width())) + 6
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def show_event(self, event, words: str, equation: str) -> None:
        colour = PHASE_COLOURS.get(event.phase, "#444")
        self.phase.setText(event.phase.upper())
        self.phase.setStyleSheet(f"QLabel {{ background: {colour}; color: white; padding: 3px 10px;"
                                 " border-radius: 4px; }")
        self.words.setText(words)
        self.equation.setText(equation)
        self._fit()


class Scrubber(QWidget):
    """Buttons |◀ ◀ ▶ ▶ ▶| "Next iteration", the slider over the whole timeline, the event name."""

    def __init__(self, actions: Actions, parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 2, 12, 6)
        self.buttons: Dict[str, QToolButton] = {}
        labels = {"home": "|◀", "step_back": "◀", "play": "▶ Play", "step_forward": "▶",
                  "end": "▶|", "next_iteration": "Next iteration"}
        for name, text in labels.items():
            action = getattr(actions, name)
            action.setIconText(text)
            b = QToolButton()
            b.setObjectName(f"button_{name}")
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            b.setFocusPolicy(Qt.NoFocus)  # keys belong to the timeline shortcuts
            f = b.font()
            f.setPointSizeF(f.pointSizeF() * 1.25)
            b.setFont(f)
            b.setMinimumHeight(34)
            if name == "play":
                b.setMinimumWidth(110)
            self.buttons[name] = b
            if name == "next_iteration":
                lay.addWidget(self.slider_placeholder())
            lay.addWidget(b)
        self.label = QLabel()
        self.label.setObjectName("eventLabel")
        f = self.label.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.label.setFont(f)
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("backward:000 · 000 / 000") + 8)
        lay.addWidget(self.label)

    def slider_placeholder(self):
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("scrubber")
        self.slider.setFocusPolicy(Qt.NoFocus)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setPageStep(1)
        self.slider.setToolTip("Drag across the whole iteration: forward steps, backward steps, "
                               "clip, update")
        self.slider.setMinimumWidth(200)
        return self.slider


class FitScrollArea(QScrollArea):
    """Gives its widget exactly the visible size, never less than the widget's minimum size
    hint (then it scrolls).  QScrollArea's own widgetResizable would use height-for-width,
    which for panels with wrapped text means their preferred height and needless scrolling."""

    def _fit(self):
        w = self.widget()
        if w is None:
            return
        vp, m = self.maximumViewportSize(), w.minimumSizeHint()
        width = max(vp.width(), m.width())
        height = max(vp.height(), m.height())
        # a scroll bar takes room from the other direction
        if width > vp.width():
            height = max(m.height(), vp.height() - self.horizontalScrollBar().sizeHint().height())
        if height > vp.height():
            width = max(m.width(), vp.width() - self.verticalScrollBar().sizeHint().width())
        if w.size() != QSize(width, height):
            w.resize(width, height)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self._fit()


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
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._key_filter)

        # --- central: the event now, and the timeline -----------------------------------
        central = QWidget()
        central.setObjectName("central")
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.header = EventHeader()
        self.scrubber = Scrubber(self.acts)
        self.slider = self.scrubber.slider
        lay.addWidget(self.header)
        line = QFrame()
        line.setFrameShape(QFrame.HLine)
        line.setFrameShadow(QFrame.Sunken)
        lay.addWidget(line)
        lay.addWidget(self.scrubber)
        central.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.setCentralWidget(central)
        self.slider.valueChanged.connect(self._slider_moved)

        # --- docks -------------------------------------------------------------------------
        self.docks: Dict[str, QDockWidget] = {}
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
            try:
                widget = cls(session)
            except Exception as e:  # noqa: BLE001 -- one broken panel must not stop the app
                log.exception("panel %s failed to build", getattr(cls, "key", cls))
                widget = QLabel(f"This panel could not be built:\n{type(e).__name__}: {e}")
                widget.setWordWrap(True)
                widget.setAlignment(Qt.AlignCenter)
            self.panels[cls.key] = widget
            self._add_dock(cls.key, cls.title, self._scrollable(widget))
        self._default_layout()
        self._layout_version = zlib.crc32(",".join(self.docks).encode()) & 0x7FFFFFFF
        self._default_state = self.saveState(self._layout_version)

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
        session.sigChanged.connect(self.sync)
        self._last_preset = None
        self.sync()
        self.resize(self._initial_size())
        if remember:
            self._restore_settings()

    # --- building --------------------------------------------------------------------------
    def _add_dock(self, key: str, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(key)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable
                         | QDockWidget.DockWidgetFloatable)
        dock.toggleViewAction().setStatusTip(f"Show or hide the {title} panel")
        dock.topLevelChanged.connect(self._dock_floated)
        self.docks[key] = dock
        return dock

    @staticmethod
    def _scrollable(panel: QWidget) -> QScrollArea:
        """A panel in a scroll area: a panel wider than its dock scrolls instead of forcing
        the whole window wider than the screen."""
        scroll = FitScrollArea()
        scroll.setObjectName(f"scroll-{getattr(panel, 'key', 'panel')}")
        scroll.setWidget(panel)
        scroll.setFrameShape(QFrame.NoFrame)
        return scroll

    def _default_layout(self) -> None:
        """Controls on the left; the first six panels in a grid of 3 columns x 2 rows below
        the timeline; further panels as tabs behind the second row, spread over the columns.
        Panels sit in scroll areas, so a panel wider than its column scrolls instead of
        pushing the window off the screen."""
        self.addDockWidget(Qt.LeftDockWidgetArea, self.docks["controls"])
        keys = [k for k in self.docks if k != "controls"]
        cols = min(3, len(keys)) or 1
        grid: List[List[str]] = [[] for _ in range(cols)]
        for i, key in enumerate(keys[:2 * cols]):
            dock = self.docks[key]
            dock.setFloating(False)
            col = grid[i % cols]
            if i == 0:
                self.addDockWidget(Qt.BottomDockWidgetArea, dock)
            elif i < cols:
                self.splitDockWidget(self.docks[grid[i - 1][0]], dock, Qt.Horizontal)
            else:
                self.splitDockWidget(self.docks[col[0]], dock, Qt.Vertical)
            col.append(key)
        for i, key in enumerate(keys[2 * cols:]):
            c = i % cols  # spread the tabs so their titles stay readable
            self.docks[key].setFloating(False)
            self.tabifyDockWidget(self.docks[grid[c][-1]], self.docks[key])
            grid[c].append(key)
        for col in grid:  # the six grid panels in front of their tabs
            if len(col) > 2:
                self.docks[col[1]].raise_()
        for dock in self.docks.values():
            dock.show()
        self.resizeDocks([self.docks["controls"]], [self.docks["controls"].widget().minimumWidth()], Qt.Horizontal)
        if keys:
            tops = [self.docks[col[0]] for col in grid]
            share = max(200, (1600 - self.docks["controls"].widget().minimumWidth()) // len(tops))
            self.resizeDocks(tops, [share] * len(tops), Qt.Horizontal)

    def _build_menus(self) -> None:
        a = self.acts
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([a.open, a.save, a.save_as])
        m.addSeparator()
        m.addAction(a.load_corpus)
        m.addSeparator()
        m.addAction(a.quit)
        m = mb.addMenu("&Edit")
        m.addActions([a.undo, a.redo])
        m = mb.addMenu("&Go")
        m.addActions([a.play, a.step_forward, a.step_back, a.home, a.end])
        m.addSeparator()
        m.addAction(a.next_iteration)
        self.view_menu = m = mb.addMenu("&View")
        for dock in self.docks.values():
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addAction(a.reset_layout)
        m = mb.addMenu("&Help")
        m.addAction(a.help)
        m.addAction(a.about)

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
        a.load_corpus.triggered.connect(self.controls.choose_corpus)
        a.reset_layout.triggered.connect(self.reset_layout)
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

    def sync(self) -> None:
        s = self.session
        if s.run is None:
            return
        n = len(s.events)
        old = self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.setTickInterval(1 if n <= 80 else max(1, n // 40))
        self.slider.setValue(s.cursor)
        self.slider.blockSignals(old)
        ev = s.state.event
        words, eq = s.describe_event()
        self.header.show_event(ev, words, eq)
        self.scrubber.label.setText(f"{ev} · {s.cursor + 1} / {n}")
        self.scrubber.label.setToolTip(f"event {s.cursor + 1} of the {n} in this iteration")
        st = s.state
        tr = s.trace
        if st.forward_count >= tr.T:
            loss = f"loss {tr.loss:.3f}"
        elif st.forward_count > 0:
            loss = f"loss so far (steps 0–{st.forward_count - 1}) {float(tr.losses[:st.forward_count].sum()):.3f}"
        else:
            loss = "loss –"
        self.status.setText(f"Iteration {s.iteration}   ·   {loss}   ·   smooth loss {s.run.smooth_loss:.3f}")
        name = s.preset.name if s.preset is not None else None
        title = s.preset.title if s.preset is not None else "session"
        where = f" — {os.path.basename(self.path)}" if self.path else ""
        self.setWindowTitle(f"bpttviz — {title}{where}")
        if name != self._last_preset:
            self._last_preset = name
            if name is not None:
                if self._remember:
                    app_settings().setValue("session/last_preset", name)
                view = s.preset.view
                if view in self.docks:
                    self.docks[view].raise_()

    def _slider_moved(self, value: int) -> None:
        self.session.set_cursor(value)

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
        try:
            self.session.open(path)
        except SessionError as e:
            warn(self, "Cannot open session", str(e))
            return False
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
        self.path = path
        self.sync()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def _dir(self) -> str:
        return os.path.dirname(self.path) if self.path else ""

    # --- layout, help ------------------------------------------------------------------------------
    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
        self.restoreState(self._default_state, self._layout_version)
        for dock in self.docks.values():
            dock.show()

    def help_html(self) -> str:
        keys = "".join(f"<tr><td><b>{html.escape(shortcut_text(n))}</b></td><td>{html.escape(SPECS[n][2])}</td></tr>"
                       for n in SPECS if SPECS[n][1])
        parts = [
            "<h1>What am I looking at?</h1>",
            "<p>A tiny recurrent network reads a window of characters. The <b>timeline</b> at the "
            "top walks through one training iteration: the <b style='color:%s'>forward</b> steps "
            "(left to right), then the <b style='color:%s'>backward</b> steps (right to left, the "
            "gradient flowing back through time), then <b style='color:%s'>clip</b> and "
            "<b style='color:%s'>update</b>. The big line says what the current event computes and "
            "its equation; every panel shows only what has been computed so far.</p>"
            % (PHASE_COLOURS["forward"], PHASE_COLOURS["backward"], PHASE_COLOURS["clip"],
               PHASE_COLOURS["update"]),
            f"<h2>Keys</h2><table cellspacing='4'>{keys}</table>",
            "<h2>Controls</h2><p>Pick a <b>preset</b> (hover it to read what it teaches), load your "
            "own text as a corpus, and change the model and training settings. Every change can "
            "be undone (Ctrl+Z). <b>Speed</b> sets how many events per second Play shows; Play "
            "stops at the update event, and pressing Play again continues with the next "
            "iteration.</p>"]
        for cls in self.panel_classes:
            parts.append(f"<h2>{html.escape(cls.title)}</h2>{cls.help_html or '<p>(no help yet)</p>'}")
        return "\n".join(parts)

    def show_help(self) -> QDialog:
        dlg = getattr(self, "_help_dialog", None)
        if dlg is None:
            dlg = QDialog(self)
            dlg.setObjectName("helpDialog")
            dlg.setWindowTitle("What am I looking at? — bpttviz")
            lay = QVBoxLayout(dlg)
            self.help_browser = QTextBrowser()
            self.help_browser.setOpenExternalLinks(True)
            f = self.help_browser.font()
            f.setPointSizeF(f.pointSizeF() * 1.2)
            self.help_browser.setFont(f)
            lay.addWidget(self.help_browser)
            buttons = QDialogButtonBox(QDialogButtonBox.Close)
            buttons.rejected.connect(dlg.close)
            lay.addWidget(buttons)
            dlg.resize(820, 720)
            self._help_dialog = dlg
        self.help_browser.setHtml(self.help_html())
        dlg.show()
        dlg.raise_()
        return dlg

    def show_about(self) -> None:
        QMessageBox.about(self, "About bpttviz",
                          f"<h2>bpttviz {__version__}</h2><p>Step through backpropagation through "
                          "time in a tiny RNN, one timestep at a time.</p>")

    # --- settings -------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, self._layout_version)

    def save_settings(self) -> None:
        if not self._remember:
            return
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(self._layout_version))
        if self.session.preset is not None:
            s.setValue("session/last_preset", self.session.preset.name)
        s.sync()

    def closeEvent(self, event):  # noqa: N802
        self.acts.play.setChecked(False)
        self.save_settings()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._key_filter)
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

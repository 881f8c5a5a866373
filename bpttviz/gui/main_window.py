"""The main window: what is happening now (words + equation), the timeline scrubber and its
buttons, the panels as movable docks, menus, playback, and remembered layout.

It reads the session and asks it to do things; it computes no maths.  Everything the user
can do is an action of :mod:`bpttviz.gui.actions` (one place for shortcuts).
"""
from __future__ import annotations

import gc
import html
import logging
import os
import zlib
from typing import Dict, List, Optional

from PyQt5.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PyQt5.QtGui import QFont, QPalette
from PyQt5.QtWidgets import (QDialog, QDialogButtonBox, QDockWidget, QFileDialog, QFrame,
                             QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                             QScrollArea, QSizePolicy, QSlider, QTabBar, QTextBrowser,
                             QToolButton, QVBoxLayout, QWidget, QApplication)

from .. import __version__
from ..engine import kernels
from ..session import SessionError
from . import style
from .actions import SPECS, Actions, TimelineKeyFilter, shortcut_text
from .controls import ControlsPanel, warn
from .panels.base import Panel
from .training import controller_for
from .window_export import WindowExports

log = logging.getLogger(__name__)

ORG = APP = "bpttviz"
SESSION_FILTER = "bpttviz sessions (*.npz);;All files (*)"
PHASE_COLOURS = {"forward": "#1f77b4", "backward": "#d62728", "clip": "#7f3fbf", "update": "#2ca02c"}
#: Presets name their view by a short name; the dock keys that differ from it.
VIEW_DOCKS = {"hidden": "hidden_states", "dhnext": "dhnext_flow", "norms": "grad_norms",
              "grad_norms": "grad_norms", "training": "loss", "clip": "clipping"}
#: The default layout: three stacks of tabbed panels (top-left, bottom-left, and a full-height
#: right column); the first panel of each stack is in front.  Panels not named here are added
#: to the stacks in turn.
LAYOUT_STACKS = (
    ("unrolled", "contrib", "gradcheck", "loss"),
    ("grad_norms", "outputs", "hidden_states"),
    ("dhnext_flow", "decay", "truncation", "clipping", "gates", "code"),
)
#: Bumped when the default layout changes, so an old saved layout is not restored over it.
LAYOUT_REVISION = "stacks-2"
#: A window shorter than this gets one stack of panels on the left instead of two rows.
COMPACT_BELOW_HEIGHT = 820
#: Presentation mode multiplies the panels' fonts and lines by this (12 pt ticks -> 18 pt).
PRESENTATION_SCALE = 1.5
#: ... and no text of the window is smaller than this (points).
PRESENTATION_MIN_PT = 18.0
#: Actions that would touch the run, which the training thread owns while it trains.
LOCKED_WHILE_TRAINING = ("step_forward", "step_back", "play", "home", "end", "next_iteration",
                         "open", "save", "save_as", "load_corpus", "undo", "redo", "export_png",
                         "export_svg", "export_pdf", "export_csv", "copy_image", "export_gif",
                         "export_all", "presentation", "train")


def _collect_garbage() -> None:
    """Free replaced panels' pyqtgraph items now, from the event loop, rather than whenever
    the cycle collector happens to run (possibly in the middle of a paint)."""
    gc.collect()


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
        # The layout may still hold the geometry of an earlier size (it is not re-run when
        # only the minimum height changed): lay the labels out at the size we have now.
        self.layout().setGeometry(self.rect())

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
        self.exports = WindowExports(self)  # File ▸ Export, panel menus, Export all
        self._click_filter = self.exports.click_filter
        self.presenting = False
        self.theme_name = "light"
        self._before_presentation: Optional[dict] = None
        self._base_fonts: Dict[QWidget, float] = {}
        self._base_palette = QPalette(self.palette())
        self._base_font = QFont(self.font())
        self._shown_once = False
        self._painted_once = False
        self._restored_layout = False
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._key_filter)
            app.installEventFilter(self._click_filter)

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
            widget = self._build_panel(cls)
            self.panels[cls.key] = widget
            self._add_dock(cls.key, cls.title, self._scrollable(widget))
        self._default_layout()
        self._layout_version = zlib.crc32((LAYOUT_REVISION + ",".join(self.docks)).encode()) & 0x7FFFFFFF
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
        # --- training in the background: the worker owns the run while it trains ----------
        self.controller = controller_for(session)
        self.controller.sigRunningChanged.connect(self._running_changed)
        self.controller.sigProgress.connect(self._training_progress)
        self._last_preset = None
        self.sync()
        self.resize(self._initial_size())
        if remember:
            self._restore_settings()
            self.show_preset_view()  # a restored layout must not hide the preset's view
        if self.controller.running:
            self._running_changed(True)

    # --- building --------------------------------------------------------------------------
    def _add_dock(self, key: str, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(key)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable
                         | QDockWidget.DockWidgetFloatable)
        dock.toggleViewAction().setStatusTip(f"Show or hide the {title} panel")
        dock.topLevelChanged.connect(self._dock_floated)
        panel = self.panels.get(key)
        if isinstance(panel, Panel):
            # A panel in a tab behind another still says isVisible(); the dock knows better.
            dock.visibilityChanged.connect(panel.set_shown)
        self.docks[key] = dock
        return dock

    def _build_panel(self, cls) -> QWidget:
        try:
            return cls(self.session)
        except Exception as e:  # noqa: BLE001 -- one broken panel must not stop the app
            log.exception("panel %s failed to build", getattr(cls, "key", cls))
            widget = QLabel(f"This panel could not be built:\n{type(e).__name__}: {e}")
            widget.setWordWrap(True)
            widget.setAlignment(Qt.AlignCenter)
            return widget

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
        """Controls on the left; the panels in three tab stacks (:data:`LAYOUT_STACKS`): the
        unrolled network over the forward quantities on the left, the gradient-through-time
        views in a full-height column on the right.  Three panels big enough to read from
        the back of a room, rather than six crushed ones; the others are a click away, and
        a preset brings its own view to the front.  Panels sit in scroll areas, so a panel
        wider than its dock scrolls instead of pushing the window off the screen."""
        self.addDockWidget(Qt.LeftDockWidgetArea, self.docks["controls"])
        keys = [k for k in self.docks if k != "controls"]
        stacks: List[List[str]] = [[k for k in names if k in self.docks] for names in LAYOUT_STACKS]
        named = {k for names in LAYOUT_STACKS for k in names}
        for i, key in enumerate(k for k in keys if k not in named):
            stacks[i % len(stacks)].append(key)
        for key in keys:
            self.docks[key].setFloating(False)
        self._stacks = stacks
        top_left, bottom_left, right = stacks
        fronts = [st[0] for st in stacks if st]
        if fronts:
            self.addDockWidget(Qt.BottomDockWidgetArea, self.docks[fronts[0]])
        if top_left and right:
            self.splitDockWidget(self.docks[top_left[0]], self.docks[right[0]], Qt.Horizontal)
        first_left = top_left or bottom_left
        if top_left and bottom_left:
            self.splitDockWidget(self.docks[top_left[0]], self.docks[bottom_left[0]], Qt.Vertical)
        elif right and bottom_left and not top_left:
            self.splitDockWidget(self.docks[bottom_left[0]], self.docks[right[0]], Qt.Horizontal)
        for st in stacks:
            for key in st[1:]:
                self.tabifyDockWidget(self.docks[st[0]], self.docks[key])
        for dock in self.docks.values():
            dock.show()
        for st in stacks:  # the first of each stack in front of its tabs
            if st:
                self.docks[st[0]].raise_()
        controls_width = self.docks["controls"].widget().minimumWidth()
        self.resizeDocks([self.docks["controls"]], [controls_width], Qt.Horizontal)
        if first_left and right:
            rest = max(600, 1600 - controls_width)
            self.resizeDocks([self.docks[first_left[0]], self.docks[right[0]]],
                             [rest // 2, rest - rest // 2], Qt.Horizontal)
        if top_left and bottom_left:
            self.resizeDocks([self.docks[top_left[0]], self.docks[bottom_left[0]]], [280, 320],
                             Qt.Vertical)
        self._style_tab_bars()

    def _fit_layout_to_height(self, force: bool = False) -> bool:
        """On a short screen (1280x720 projectors) or in presentation mode (``force``) two
        rows of panels are too flat to read: the left column becomes one stack of tabs.
        Returns whether it did."""
        top_left, bottom_left, _right = self._stacks
        if (self.height() >= COMPACT_BELOW_HEIGHT and not force) or not top_left or not bottom_left:
            return False
        front = self.docks[top_left[0]]
        if front.isFloating() or any(self.docks[k].isFloating() for k in bottom_left):
            return False
        for key in bottom_left:
            self.tabifyDockWidget(front, self.docks[key])
        front.raise_()
        self._style_tab_bars()
        self.show_preset_view()
        return True

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self._restored_layout:
                self._fit_layout_to_height()

    def paintEvent(self, event):  # noqa: N802
        super().paintEvent(event)
        if not self._painted_once:
            self._painted_once = True
            # The compiled engine kernels load on a background thread once the window is on
            # screen (a no-op if they are loaded already); see bpttviz.engine.kernels.
            QTimer.singleShot(0, kernels.preload)

    def _style_tab_bars(self) -> None:
        """Dock tabs show whole titles (scrolling when there are many) instead of "Gradi…"."""
        for bar in self.findChildren(QTabBar):
            if bar.parent() is self:
                bar.setElideMode(Qt.ElideNone)
                bar.setUsesScrollButtons(True)

    def _build_menus(self) -> None:
        a = self.acts
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([a.open, a.save, a.save_as])
        m.addSeparator()
        m.addAction(a.load_corpus)
        m.addSeparator()
        self.export_menu = e = m.addMenu("&Export")
        e.setObjectName("exportMenu")
        self._export_target_label = e.addAction("")
        self._export_target_label.setEnabled(False)
        e.addSeparator()
        e.addActions([a.export_png, a.export_svg, a.export_pdf, a.export_csv, a.copy_image,
                      a.export_gif])
        e.addSeparator()
        e.addAction(a.export_all)
        e.aboutToShow.connect(self.exports.export_menu_shown)
        m.addAction(a.export_all)
        m.addSeparator()
        m.addAction(a.quit)
        m = mb.addMenu("&Edit")
        m.addActions([a.undo, a.redo])
        m = mb.addMenu("&Go")
        m.addActions([a.play, a.step_forward, a.step_back, a.home, a.end])
        m.addSeparator()
        m.addAction(a.next_iteration)
        self.run_menu = m = mb.addMenu("&Run")
        m.addActions([a.train, a.pause_training])
        self.view_menu = m = mb.addMenu("&View")
        m.addAction(a.presentation)
        self.theme_menu = t = m.addMenu("&Theme")
        t.addActions(list(a.themes.values()))
        m.addSeparator()
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
                self.show_preset_view()

    def dock_for_view(self, view: Optional[str]) -> Optional[str]:
        """The dock key of a preset's ``view`` ("hidden" -> "hidden_states"), or None."""
        if not view:
            return None
        key = VIEW_DOCKS.get(view, view)
        return key if key in self.docks and key != "controls" else None

    def show_preset_view(self) -> Optional[str]:
        """Bring the current preset's view to the front of its tab stack (shown if closed)."""
        preset = self.session.preset
        key = self.dock_for_view(getattr(preset, "view", None)) if preset is not None else None
        if key is not None:
            dock = self.docks[key]
            if dock.isHidden():
                dock.show()
            dock.raise_()
        return key

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

    # --- presentation mode and themes -----------------------------------------------------------
    def current_theme(self) -> "style.Theme":
        """The theme the panels are drawn in: the chosen one, for a projector if presenting
        (plain light becomes high-contrast light)."""
        name = self.theme_name
        if self.presenting and name == "light":
            name = "high-contrast"
        base = style.THEMES[name][1]
        return base.presenting(PRESENTATION_SCALE) if self.presenting else base

    def set_theme_name(self, name: str) -> None:
        """Switch to a theme of :data:`style.THEMES` ("light", "high-contrast", "dark")."""
        if name not in style.THEMES:
            raise ValueError(f"no theme {name!r}; themes are {', '.join(style.THEMES)}")
        self.acts.themes[name].setChecked(True)
        if name == self.theme_name:
            return
        self.theme_name = name
        self._apply_look()

    def _theme_chosen(self, action) -> None:
        self.set_theme_name(action.data())

    def set_presentation(self, on: bool = True, fullscreen: bool = True) -> None:
        """Presentation mode: full screen, fonts of at least 18 pt, thick lines, a high-contrast
        theme, a bright band on the current step, the controls put away.  Off restores the
        window state, layout, theme and fonts exactly."""
        on = bool(on)
        if self.acts.presentation.isChecked() != on:
            old = self.acts.presentation.blockSignals(True)
            self.acts.presentation.setChecked(on)
            self.acts.presentation.blockSignals(old)
        if on == self.presenting:
            return
        if on:
            self._before_presentation = {"window_state": self.windowState(),
                                         "layout": self.saveState(self._layout_version)}
            self.presenting = True
            self._apply_look()
            self.docks["controls"].hide()
            self._fit_layout_to_height(force=True)
            if fullscreen:
                self.setWindowState(self.windowState() | Qt.WindowFullScreen)
        else:
            before = self._before_presentation or {}
            self.presenting = False
            self.setWindowState(before.get("window_state", self.windowState() & ~Qt.WindowFullScreen))
            self._apply_look()
            if "layout" in before:
                self.restoreState(before["layout"], self._layout_version)
                self._style_tab_bars()
            self._before_presentation = None
        self.statusBar().showMessage("Presentation mode: F11 to leave" if on else "", 4000)

    def _apply_look(self) -> None:
        """Apply the current theme and scale to the window's widgets and rebuild the panels
        (they take their colours, fonts and pens from the theme when built)."""
        t = self.current_theme()
        style.set_theme(t)
        self.setPalette(style.qt_palette(t) or self._base_palette)
        font = QFont(self._base_font)
        if self.presenting:
            font.setPointSizeF(max(PRESENTATION_MIN_PT, font.pointSizeF() * PRESENTATION_SCALE))
        self.setFont(font)
        self._scale_fonts()
        self._rebuild_panels()
        self.sync()

    def _scale_fonts(self) -> None:
        """The header, timeline and status texts have their own sizes: scale them too."""
        widgets = [self.header.words, self.header.equation, self.header.phase,
                   self.scrubber.label, self.status] + list(self.scrubber.buttons.values())
        for w in widgets:
            base = self._base_fonts.setdefault(w, w.font().pointSizeF())
            f = w.font()
            f.setPointSizeF(max(PRESENTATION_MIN_PT, base * 1.2) if self.presenting else base)
            w.setFont(f)
        lab = self.scrubber.label
        lab.setMinimumWidth(lab.fontMetrics().horizontalAdvance("backward:000 · 000 / 000") + 8)
        for name, b in self.scrubber.buttons.items():
            b.setMinimumHeight(int(34 * (1.4 if self.presenting else 1.0)))
        self.header._fit()

    def _rebuild_panels(self) -> None:
        for cls in self.panel_classes:
            scroll = self.docks[cls.key].widget()
            old = scroll.takeWidget()
            widget = self._build_panel(cls)
            scroll.setWidget(widget)
            widget.show()
            if isinstance(old, Panel) and isinstance(widget, Panel):
                # A theme change must not undo the reader's log scale or chosen quantity.
                # Draw once first: some controls (the hidden-state quantities) fill on draw.
                widget.refresh()
                widget.restore_view_state(old.view_state())
            self.panels[cls.key] = widget
            if old is not None:
                old.hide()
                old.deleteLater()
            scroll._fit()
        QTimer.singleShot(0, _collect_garbage)

    # --- training -------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.controller.running

    def start_training(self) -> bool:
        """Train in the background until paused (Ctrl+T again)."""
        if self.controller.running or self.session.run is None:
            return False
        self.acts.play.setChecked(False)
        if "loss" in self.docks and not self.docks["loss"].isHidden():
            self.docks["loss"].raise_()
        return self.controller.start()

    def pause_training(self) -> None:
        self.controller.pause()

    def _running_changed(self, running: bool) -> None:
        """While training, everything that touches the run waits (the worker owns it)."""
        if running:
            self.acts.play.setChecked(False)
        for name in LOCKED_WHILE_TRAINING:
            self.acts.all[name].setEnabled(not running)
        self.acts.theme_group.setEnabled(not running)
        self.acts.pause_training.setEnabled(running)
        self.slider.setEnabled(not running)
        self.controls.setEnabled(not running)
        if not running:  # the undo stack's actions know best whether they apply
            self.acts.undo.setEnabled(self.session.undo_stack.canUndo())
            self.acts.redo.setEnabled(self.session.undo_stack.canRedo())
            self.statusBar().clearMessage()
        else:
            self.statusBar().showMessage("Training in the background — Ctrl+T pauses")

    def _training_progress(self, iteration: int, smooth_loss: float, _entries=None) -> None:
        self.status.setText(f"Training: iteration {iteration}   ·   smooth loss {smooth_loss:.3f}")

    # --- layout, help ------------------------------------------------------------------------------
    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
        self.restoreState(self._default_state, self._layout_version)
        for dock in self.docks.values():
            dock.show()
        self._style_tab_bars()
        self._fit_layout_to_height()
        self.show_preset_view()

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

    def about_html(self) -> str:
        """The About box: what bpttviz is, and what a bug report needs (versions, which
        engine kernels run, where the log is)."""
        import numpy
        import pyqtgraph
        from PyQt5.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

        from .app import log_path

        rows = [("numpy", numpy.__version__), ("PyQt5 / Qt", f"{PYQT_VERSION_STR} / {QT_VERSION_STR}"),
                ("pyqtgraph", pyqtgraph.__version__), ("engine kernels", kernels.status()),
                ("error log", log_path())]
        table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                        for k, v in rows)
        return (f"<h2>bpttviz {__version__}</h2><p>Step through backpropagation through time in "
                f"a tiny RNN, one timestep at a time.</p><table cellspacing='6'>{table}</table>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About bpttviz", self.about_html())

    # --- settings -------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._restored_layout = self.restoreState(state, self._layout_version)
            self._style_tab_bars()

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
        if self.controller.running:
            self.controller.stop()
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

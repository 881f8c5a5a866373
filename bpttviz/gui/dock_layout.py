"""Where the panels sit: each panel in a dock (in a scroll area), the default layout of tab
stacks, the compact layout for short screens, and bringing a preset's view to the front.

The window owns one :class:`DockLayout`; it holds the docks and knows nothing of what the
panels draw.
"""
from __future__ import annotations

import zlib
from typing import Dict, List, Optional

from PyQt5.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PyQt5.QtWidgets import QDockWidget, QFrame, QScrollArea, QTabBar, QWidget

from .dock_title import DockTitleBar

#: The default layout: three stacks of tabbed panels (top-left, bottom-left, and a full-height
#: right column); the first panel of each stack is in front.  Panels not named here are added
#: to the stacks in turn.
LAYOUT_STACKS = (
    ("unrolled", "contrib", "gradcheck", "loss"),
    ("grad_norms", "outputs", "hidden_states"),
    ("dhnext_flow", "decay", "truncation", "clipping", "gates", "code"),
)
#: Bumped when the default layout changes, so an old saved layout is not restored over it.
LAYOUT_REVISION = "stacks-3"
#: A window shorter than this gets two full-height columns of panels instead of two rows on
#: the left and a column on the right (at 1920x1080 the rows left each view ~350 px).
COMPACT_BELOW_HEIGHT = 1200
#: Each column of panels needs at least this width (px) to show its plots readably; with less
#: room for two columns, all the panels share one stack (one view at a time, large).
MIN_COLUMN_WIDTH = 600
#: The arrangements, from most to fewest panels on screen at once.
MODES = ("stacks", "columns", "single")


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


def scrollable(panel: QWidget) -> QScrollArea:
    """A panel in a scroll area: a panel wider than its dock scrolls instead of forcing the
    whole window wider than the screen."""
    scroll = FitScrollArea()
    scroll.setObjectName(f"scroll-{getattr(panel, 'key', 'panel')}")
    scroll.setWidget(panel)
    scroll.setFrameShape(QFrame.NoFrame)
    return scroll


class DockLayout(QObject):
    """The docks of ``window`` (a QMainWindow): ``docks`` maps a key to its dock."""

    def __init__(self, window):
        super().__init__(window)
        self.docks: Dict[str, QDockWidget] = {}
        #: key -> (title, short title for presentation mode's tabs)
        self.titles: Dict[str, tuple] = {}
        self._fitted_bars: List[QTabBar] = []
        self._fitting_tabs = False
        #: the view last brought to the front (raised again after a re-arrangement)
        self._last_raised: Optional[str] = None
        self.stacks: List[List[str]] = [[], [], []]
        self.default_state = None
        self.version = 0
        #: The arrangement in place ("stacks", "columns", "single"), or None once the user
        #: moved or floated a dock (then a resize leaves their layout alone).
        self.mode: Optional[str] = None
        self._arranging = False

    @property
    def window(self):
        return self.parent()

    def add(self, key: str, title: str, widget: QWidget,
            tab_title: Optional[str] = None) -> QDockWidget:
        w = self.window
        dock = QDockWidget(title, w)
        self.titles[key] = (title, tab_title or title)
        dock.setObjectName(key)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable
                         | QDockWidget.DockWidgetFloatable)
        dock.toggleViewAction().setStatusTip(f"Show or hide the {title} panel")
        dock.setTitleBarWidget(DockTitleBar(dock, title))
        dock.dockLocationChanged.connect(self._on_user_move)
        dock.topLevelChanged.connect(self._on_user_move)
        self.docks[key] = dock
        return dock

    def _on_user_move(self, *_args) -> None:
        if not self._arranging:
            self.mode = None

    def finish(self) -> None:
        """Lay the docks out by default and remember that state (for Reset layout)."""
        self._arranging = True
        try:
            self.apply_default()
        finally:
            self._arranging = False
        self.mode = "stacks"
        self.version = zlib.crc32((LAYOUT_REVISION + ",".join(self.docks)).encode()) & 0x7FFFFFFF
        self.default_state = self.window.saveState(self.version)

    def apply_default(self) -> None:  # the "stacks" arrangement
        """Controls on the left; the panels in three tab stacks (:data:`LAYOUT_STACKS`): the
        unrolled network over the forward quantities on the left, the gradient-through-time
        views in a full-height column on the right.  Three panels big enough to read from
        the back of a room, rather than six crushed ones; the others are a click away, and
        a preset brings its own view to the front.  Panels sit in scroll areas, so a panel
        wider than its dock scrolls instead of pushing the window off the screen."""
        w, docks = self.window, self.docks
        w.addDockWidget(Qt.LeftDockWidgetArea, docks["controls"])
        keys = [k for k in docks if k != "controls"]
        stacks: List[List[str]] = [[k for k in names if k in docks] for names in LAYOUT_STACKS]
        named = {k for names in LAYOUT_STACKS for k in names}
        for i, key in enumerate(k for k in keys if k not in named):
            stacks[i % len(stacks)].append(key)
        for key in keys:
            if docks[key].isFloating():
                docks[key].setFloating(False)
        self.stacks = stacks
        top_left, bottom_left, right = stacks
        fronts = [st[0] for st in stacks if st]
        if fronts:
            w.addDockWidget(Qt.BottomDockWidgetArea, docks[fronts[0]])
        if top_left and right:
            w.splitDockWidget(docks[top_left[0]], docks[right[0]], Qt.Horizontal)
        first_left = top_left or bottom_left
        if top_left and bottom_left:
            w.splitDockWidget(docks[top_left[0]], docks[bottom_left[0]], Qt.Vertical)
        elif right and bottom_left and not top_left:
            w.splitDockWidget(docks[bottom_left[0]], docks[right[0]], Qt.Horizontal)
        for st in stacks:
            for key in st[1:]:
                w.tabifyDockWidget(docks[st[0]], docks[key])
        for dock in docks.values():
            dock.show()
        for st in stacks:  # the first of each stack in front of its tabs
            if st:
                docks[st[0]].raise_()
        controls_width = docks["controls"].widget().minimumWidth()
        w.resizeDocks([docks["controls"]], [controls_width], Qt.Horizontal)
        if first_left and right:
            rest = max(600, 1600 - controls_width)
            w.resizeDocks([docks[first_left[0]], docks[right[0]]],
                          [rest // 2, rest - rest // 2], Qt.Horizontal)
        if top_left and bottom_left:
            w.resizeDocks([docks[top_left[0]], docks[bottom_left[0]]], [280, 320], Qt.Vertical)
        self.style_tab_bars()

    def choose_mode(self, presenting: bool = False) -> str:
        """The arrangement the window's size allows: three stacks on a big screen, two
        columns when each still gets :data:`MIN_COLUMN_WIDTH` (and rows would be too flat),
        else one stack.  Presentation mode (big fonts, no controls) gets two columns on a big
        screen and one stack — one view at a time, large — on a projector's 1366x768."""
        w = self.window
        controls = self.docks.get("controls")
        shown = controls is not None and controls.isVisible() and not presenting
        room = w.width() - (controls.width() if shown else 0)
        if room < 2 * MIN_COLUMN_WIDTH:
            return "single"
        if presenting:  # big fonts: rows would be too flat, two columns at most
            return "columns" if w.height() >= 900 else "single"
        return "stacks" if w.height() >= COMPACT_BELOW_HEIGHT else "columns"

    def fit_to_size(self, force: bool = False, presenting: bool = False) -> bool:
        """Re-arrange the panels for the window's size (see :meth:`choose_mode`), unless the
        user arranged them (``force`` re-arranges anyway). Returns whether it did."""
        if self.mode is None and not force:
            return False
        mode = self.choose_mode(presenting)
        if mode == self.mode and not force:
            return False
        self.arrange(mode)
        return True

    def arrange(self, mode: str, title_bars: Optional[bool] = None) -> None:
        """Put the docks in arrangement ``mode`` (one of :data:`MODES`); ``title_bars``
        (if not None) shows or hides their title bars on the way (:meth:`set_title_bars`)."""
        if mode not in MODES:
            raise ValueError(f"no layout mode {mode!r}; modes are {', '.join(MODES)}")
        w, docks = self.window, self.docks
        self._arranging = True
        try:
            # Start from no panel docked: Qt's split/tabify of docks that are already tabbed
            # together keeps some in the old tab group.
            visible = {k for k, d in docks.items() if not d.isHidden()}
            self._undock_all()
            if title_bars is not None:
                self.set_title_bars(title_bars)
            if mode == "stacks":
                controls_shown = not docks["controls"].isHidden()
                self.apply_default()
                docks["controls"].setVisible(controls_shown)
                for key, dock in docks.items():
                    if key != "controls" and visible and key not in visible:
                        dock.hide()  # a view the user closed stays closed
            else:
                top_left, bottom_left, right = self.stacks
                groups = ([top_left + bottom_left + right] if mode == "single"
                          else [top_left + bottom_left, right])
                groups = [[k for k in g if k in docks] for g in groups if g]
                first = groups[0][0]
                w.addDockWidget(Qt.BottomDockWidgetArea, docks[first])
                if len(groups) > 1:
                    w.splitDockWidget(docks[first], docks[groups[1][0]], Qt.Horizontal)
                for g in groups:
                    for key in g[1:]:
                        w.tabifyDockWidget(docks[g[0]], docks[key])
                for key in (k for g in groups for k in g):
                    docks[key].setVisible(key in visible or not visible)
                for g in groups:
                    docks[g[0]].raise_()
                if len(groups) > 1:
                    half = max(MIN_COLUMN_WIDTH, (w.width() - docks["controls"].width()) // 2)
                    w.resizeDocks([docks[groups[0][0]], docks[groups[1][0]]], [half, half],
                                  Qt.Horizontal)
                self.style_tab_bars()
            self.mode = mode
            self.show_preset_view()
            # Qt builds the tab bars of new tab groups on its next layout pass; raise again
            # then, or the first tab stays in front: the view last asked for by then (a
            # lesson step shown right after presentation mode went on kept the preset's).
            QTimer.singleShot(0, self._raise_again)
        finally:
            self._arranging = False

    def _undock_all(self) -> None:
        """Take every panel's dock out of the window (the controls stay).  A dock out of the
        window is hidden: changing its title bar then costs no re-layout of its view (on
        screen, ~1.5 ms a dock, 14 of them at each presentation switch)."""
        w = self.window
        for key, dock in self.docks.items():
            if key != "controls":
                if dock.isFloating():  # (setFloating costs a re-layout even when it is not)
                    dock.setFloating(False)
                w.removeDockWidget(dock)

    def restore(self, state, mode: Optional[str], title_bars: Optional[bool] = None) -> None:
        """Put the docks back as ``state`` (from ``window.saveState(self.version)``) had them,
        arrangement ``mode`` (None: the user's own); ``title_bars`` as in :meth:`arrange`."""
        w = self.window
        self._arranging = True
        restored = False
        try:
            if title_bars is not None:
                self._undock_all()
                self.set_title_bars(title_bars)
            restored = w.restoreState(state, self.version)
        finally:
            self._arranging = False
        if not restored:  # (never leave the views out of the window)
            self.arrange(self.choose_mode())
            return
        self.mode = mode
        self.style_tab_bars()

    def set_title_bars(self, shown: bool) -> None:
        """Presentation mode hides the docks' title bars (the tabs already name the views)
        and names the tabs by their short titles: thirteen whole titles ran off a 1366 px
        projector ("dient norms and clipping", "Outputs and los").  In the normal window a
        title bar says the whole title (the tabs may use the short ones: _fit_tab_titles)."""
        for key, dock in self.docks.items():
            full, short = self.titles.get(key, (dock.windowTitle(),) * 2)
            dock.setWindowTitle(full if shown else short)
            bar = dock.titleBarWidget()
            if shown != isinstance(bar, DockTitleBar):
                dock.setTitleBarWidget(DockTitleBar(dock, full) if shown else QWidget(dock))
                if bar is not None:
                    bar.deleteLater()

    def style_tab_bars(self) -> None:
        """Dock tabs show whole titles (scrolling when there are many) instead of "Gradi…"."""
        w = self.window
        from PyQt5 import sip
        self._fitted_bars = [b for b in self._fitted_bars if not sip.isdeleted(b)]
        # (the window's own tab bars are its direct children: a search of every widget
        # inside the panels took ~15 ms of a presentation switch)
        for bar in w.findChildren(QTabBar, options=Qt.FindDirectChildrenOnly):
            if bar.parent() is w:
                bar.setElideMode(Qt.ElideNone)
                bar.setUsesScrollButtons(True)
                if not any(bar is b for b in self._fitted_bars):
                    self._fitted_bars.append(bar)  # refit when Qt resizes it (after layouts)
                    bar.installEventFilter(self)
                self._fit_tab_font(bar)

    def eventFilter(self, obj, event):  # noqa: N802
        if (event.type() == QEvent.Resize and isinstance(obj, QTabBar) and not self._fitting_tabs
                and obj.parent() is self.window):
            self._fitting_tabs = True
            try:
                self._fit_tab_font(obj)
            finally:
                self._fitting_tabs = False
        return super().eventFilter(obj, event)

    #: Presentation tabs shrink to fit their bar down to this size, then scroll.
    MIN_TAB_PT = 12.0
    #: In the normal window, tabs with short titles shrink down to this size, then scroll.
    MIN_NORMAL_TAB_PT = 8.0

    def _fit_tab_font(self, bar) -> None:
        """Every tab of a bar in sight at once when presenting: the tabs' font steps down from
        the window's (18 pt and more) until they fit the bar's width, to MIN_TAB_PT at the
        least (a tab cut at the bar's edge was unreadable: "Outputs and los").  Each tab
        says its view's whole title on hover."""
        whole = {t: full for full, short in self.titles.values() for t in (full, short)}
        for i in range(bar.count()):
            bar.setTabToolTip(i, whole.get(bar.tabText(i), bar.tabText(i)))
        base = self.window.font()
        font = bar.font()
        smallest = self.MIN_TAB_PT
        if not self.window.presenting:
            if font.pointSizeF() != base.pointSizeF():
                bar.setFont(base)
            if not self._fit_tab_titles(bar):
                return
            smallest = min(base.pointSizeF(), self.MIN_NORMAL_TAB_PT)
        room = self._tab_room(bar)
        size = base.pointSizeF()
        while True:
            font.setPointSizeF(size)
            bar.setFont(font)
            need = sum(bar.tabRect(i).width() for i in range(bar.count()))
            if need <= room or size <= smallest:
                return
            size = max(smallest, size - 0.5)

    def _tab_room(self, bar) -> int:
        """The width a bar's tabs may take (the bar may still have its width from before a
        resize: the window bounds it)."""
        return min(bar.width() if bar.width() > 50 else 10 ** 6, self.window.width()) - 4

    def _fit_tab_titles(self, bar) -> bool:
        """Normal window: a bar's tabs say the whole titles when they all fit its width, the
        short ones otherwise (scrolling, the first tabs, the unrolled network among them,
        were out of sight at 1366x768).  Decided on the whole titles' widths, so the choice
        does not flip back and forth as the tabs change.  Returns whether the short ones
        are used."""
        if bar.count() == 0:
            return False
        keys = {t: key for key, pair in self.titles.items() for t in pair}
        fm = bar.fontMetrics()
        need = 0
        in_bar = []
        for i in range(bar.count()):
            text = bar.tabText(i)
            key = keys.get(text)
            full = self.titles[key][0] if key is not None else text
            need += bar.tabRect(i).width() - fm.horizontalAdvance(text) + fm.horizontalAdvance(full)
            if key is not None:
                in_bar.append(key)
        short = need > self._tab_room(bar)
        for key in in_bar:
            want = self.titles[key][1 if short else 0]
            if self.docks[key].windowTitle() != want:
                self.docks[key].setWindowTitle(want)
        return short

    def title(self, key: str) -> str:
        """A view's whole title (its dock shows a short one while presenting)."""
        return self.titles[key][0] if key in self.titles else key

    def reset(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
        self.window.restoreState(self.default_state, self.version)
        for dock in self.docks.values():
            dock.show()
        self.style_tab_bars()
        self.arrange(self.choose_mode(self.window.presenting))

    def dock_for_view(self, view: Optional[str]) -> Optional[str]:
        """The dock key of a view named by its key or an alias of its panel class ("hidden"
        -> "hidden_states"), or None."""
        if not view:
            return None
        for cls in self.window.panel_classes:
            if view == cls.key or view in getattr(cls, "aliases", ()):
                return cls.key if cls.key in self.docks else None
        return None

    def show_view(self, key: Optional[str]) -> Optional[str]:
        """Bring the dock ``key`` to the front of its tab stack (shown if closed)."""
        if key is not None and key in self.docks:
            dock = self.docks[key]
            if dock.isHidden():
                dock.show()
            dock.raise_()
            self._select_tab(key)
            self._last_raised = key
            return key
        return None

    def _select_tab(self, key: str) -> None:
        """Make ``key``'s tab the current one of its stack's tab bar.  A dock raised while the
        window was arranged before it was shown (a presentation screenshot) is current in
        Qt's dock area, but the tab bar Qt built later showed its first tab, and raising the
        dock again changed nothing: dinosaurs' outputs came out as the unrolled network."""
        w = self.window
        if not w.isVisible() or not w.tabifiedDockWidgets(self.docks[key]):
            return
        names = set(self.titles[key])  # (the tab says the whole title or the short one)
        siblings = {name for k, d in self.docks.items()
                    if d in w.tabifiedDockWidgets(self.docks[key]) for name in self.titles[k]}
        for bar in w.findChildren(QTabBar, options=Qt.FindDirectChildrenOnly):
            texts = [bar.tabText(i) for i in range(bar.count())]
            mine = [i for i, text in enumerate(texts) if text in names]
            if mine and siblings & set(texts):
                if bar.currentIndex() != mine[0]:
                    bar.setCurrentIndex(mine[0])
                return

    def _raise_again(self) -> None:
        key = self._last_raised
        if key is not None:
            self.show_view(key)

    def show_preset_view(self) -> Optional[str]:
        """Bring the current preset's view to the front of its tab stack (shown if closed)."""
        preset = self.window.session.preset
        key = self.dock_for_view(getattr(preset, "view", None)) if preset is not None else None
        return self.show_view(key)

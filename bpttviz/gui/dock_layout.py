"""Where the panels sit: each panel in a dock (in a scroll area), the default layout of tab
stacks, the compact layout for short screens, and bringing a preset's view to the front.

The window owns one :class:`DockLayout`; it holds the docks and knows nothing of what the
panels draw.
"""
from __future__ import annotations

import zlib
from typing import Dict, List, Optional

from PyQt5.QtCore import QObject, QSize, Qt
from PyQt5.QtWidgets import QDockWidget, QFrame, QScrollArea, QTabBar, QWidget

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
        self.stacks: List[List[str]] = [[], [], []]
        self.default_state = None
        self.version = 0

    @property
    def window(self):
        return self.parent()

    def add(self, key: str, title: str, widget: QWidget) -> QDockWidget:
        w = self.window
        dock = QDockWidget(title, w)
        dock.setObjectName(key)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable
                         | QDockWidget.DockWidgetFloatable)
        dock.toggleViewAction().setStatusTip(f"Show or hide the {title} panel")
        self.docks[key] = dock
        return dock

    def finish(self) -> None:
        """Lay the docks out by default and remember that state (for Reset layout)."""
        self.apply_default()
        self.version = zlib.crc32((LAYOUT_REVISION + ",".join(self.docks)).encode()) & 0x7FFFFFFF
        self.default_state = self.window.saveState(self.version)

    def apply_default(self) -> None:
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

    def fit_to_height(self, force: bool = False) -> bool:
        """On a short screen (1280x720 projectors) or in presentation mode (``force``) two
        rows of panels are too flat to read: the left column becomes one stack of tabs.
        Returns whether it did."""
        w, docks = self.window, self.docks
        top_left, bottom_left, _right = self.stacks
        if (w.height() >= COMPACT_BELOW_HEIGHT and not force) or not top_left or not bottom_left:
            return False
        front = docks[top_left[0]]
        if front.isFloating() or any(docks[k].isFloating() for k in bottom_left):
            return False
        for key in bottom_left:
            w.tabifyDockWidget(front, docks[key])
        front.raise_()
        self.style_tab_bars()
        self.show_preset_view()
        return True

    def style_tab_bars(self) -> None:
        """Dock tabs show whole titles (scrolling when there are many) instead of "Gradi…"."""
        w = self.window
        for bar in w.findChildren(QTabBar):
            if bar.parent() is w:
                bar.setElideMode(Qt.ElideNone)
                bar.setUsesScrollButtons(True)

    def reset(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
        self.window.restoreState(self.default_state, self.version)
        for dock in self.docks.values():
            dock.show()
        self.style_tab_bars()
        self.fit_to_height()
        self.show_preset_view()

    def dock_for_view(self, view: Optional[str]) -> Optional[str]:
        """The dock key of a preset's ``view`` ("hidden" -> "hidden_states"), or None."""
        if not view:
            return None
        key = VIEW_DOCKS.get(view, view)
        return key if key in self.docks and key != "controls" else None

    def show_view(self, key: Optional[str]) -> Optional[str]:
        """Bring the dock ``key`` to the front of its tab stack (shown if closed)."""
        if key is not None and key in self.docks:
            dock = self.docks[key]
            if dock.isHidden():
                dock.show()
            dock.raise_()
            return key
        return None

    def show_preset_view(self) -> Optional[str]:
        """Bring the current preset's view to the front of its tab stack (shown if closed)."""
        preset = self.window.session.preset
        key = self.dock_for_view(getattr(preset, "view", None)) if preset is not None else None
        return self.show_view(key)

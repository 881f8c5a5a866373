"""How the window looks: the theme (light, high-contrast, dark) and presentation mode (full
screen, big fonts, thick lines, the controls put away).

The window owns one :class:`Looks`.  A change of look rebuilds the panels (they take their
colours, fonts and pens from the theme when built); panels connect bound methods only, so a
replaced panel leaves no connection behind, and its view toggles are carried over.
"""
from __future__ import annotations

from typing import Dict, Optional

from PyQt5.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QFontMetrics, QFont, QPalette
from PyQt5.QtWidgets import QCheckBox, QWidget

from ..engine.allocator import release_freed_memory
from . import style
from .panels.base import Panel

#: Presentation mode multiplies the panels' fonts and lines by this (12 pt ticks -> 18 pt).
PRESENTATION_SCALE = 1.5
#: ... and no text of the window is smaller than this (points).
PRESENTATION_MIN_PT = 18.0
#: A window shorter than this (px) is "short" (1280x720, 1366x768): the header's words take a
#: smaller font in the normal window and its phase badge runs inline, so the views keep room.
SHORT_BELOW_HEIGHT = 860
#: The header's words and equation in a short normal window, relative to their own size.
SHORT_HEADER_SCALE = 0.78


def collect_garbage() -> None:
    """Free replaced panels' pyqtgraph items now, from the event loop, rather than whenever
    the cycle collector happens to run (possibly in the middle of a paint), and give the
    memory back to the system (:func:`~bpttviz.engine.allocator.release_freed_memory`)."""
    release_freed_memory()


#: How long after a rebuild the discarded panels are collected.
GC_DELAY_MS = 400


class Looks(QObject):
    """Theme and presentation state of ``window`` (a MainWindow)."""

    #: presentation mode went on (True) or off, after the window was re-arranged
    sigPresentationChanged = pyqtSignal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.presenting = False
        #: the window is short (see :data:`SHORT_BELOW_HEIGHT`); set by :meth:`fit_height`
        self.short = False
        self.theme_name = "light"
        self._before_presentation: Optional[dict] = None
        self._base_fonts: Dict[QWidget, float] = {}
        self._base_palette = QPalette(window.palette())
        self._base_font = QFont(window.font())
        #: keys of panels built in an earlier theme or scale, rebuilt when next shown
        self._stale: set = set()
        self._switching = False
        #: dock key -> on screen (its tab raised), from the docks' visibilityChanged
        self._on_screen: Dict[str, bool] = {}

    @property
    def window(self):
        return self.parent()

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
        w = self.window
        w.acts.themes[name].setChecked(True)
        if name == self.theme_name:
            return
        self.theme_name = name
        self.apply()

    def set_presentation(self, on: bool = True, fullscreen: bool = True) -> None:
        """Presentation mode: full screen, fonts of at least 18 pt, thick lines, a high-contrast
        theme, a bright band on the current step, the controls put away.  Off restores the
        window state, layout, theme and fonts exactly."""
        w = self.window
        on = bool(on)
        act = w.acts.presentation
        if act.isChecked() != on:
            old = act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(old)
        if on == self.presenting:
            return
        # while the docks are re-arranged some flash visible: rebuild only the final ones
        self._switching = True
        try:
            self._switch_presentation(on, fullscreen)
        finally:
            self._switching = False
        # the views the new arrangement shows, in the new scale (the others when raised)
        self.rebuild_visible()
        QTimer.singleShot(0, self.rebuild_visible)  # any dock Qt places only once shown
        w.statusBar().showMessage("F11: leave presentation · F1: help" if on else "", 6000)
        self.sigPresentationChanged.emit(on)

    def _switch_presentation(self, on: bool, fullscreen: bool) -> None:
        w = self.window
        layout = w.dock_layout
        if on:
            self._before_presentation = {"window_state": w.windowState(), "mode": layout.mode,
                                         "layout": w.saveState(layout.version)}
            self.presenting = True
            self.apply()
            # A projector shows one view at a time, large: no controls, no menu bar (every
            # action keeps its shortcut), no dock title bars above the tabs.
            layout.docks["controls"].hide()
            w.menuBar().hide()
            layout.arrange(layout.choose_mode(presenting=True), title_bars=False)
            if fullscreen:
                w.setWindowState(w.windowState() | Qt.WindowFullScreen)
        else:
            before = self._before_presentation or {}
            self.presenting = False
            w.setWindowState(before.get("window_state", w.windowState() & ~Qt.WindowFullScreen))
            self.apply()
            w.menuBar().show()
            if "layout" in before:
                layout.restore(before["layout"], before.get("mode"), title_bars=True)
            else:
                layout.set_title_bars(True)
            self._before_presentation = None

    def apply(self) -> None:
        """Apply the current theme and scale to the window's widgets and rebuild the panels."""
        w = self.window
        t = self.current_theme()
        style.set_theme(t)
        w.setPalette(qt_palette(t) or self._base_palette)
        font = QFont(self._base_font)
        if self.presenting:
            font.setPointSizeF(max(PRESENTATION_MIN_PT, font.pointSizeF() * PRESENTATION_SCALE))
        w.setFont(font)
        # (the panels take the check box size when rebuilt: re-styling the 13 old ones, about
        # to be replaced, took 30 ms of a presentation switch)
        panels = {cls.key for cls in w.panel_classes}
        for key, dock in w.docks.items():
            if key not in panels and dock.widget() is not None:
                self.style_check_boxes(dock.widget())
        self._scale_fonts()
        self.rebuild_panels()
        w.sync()

    def checkbox_css(self) -> str:
        """Presenting, check boxes as large as the text beside them (a 13 px box beside 18 pt
        words was hard to see from the back of a room).  Set on each check box, not on the
        window (a style sheet there re-resolved the dock tabs' fonts and shrank them) nor on
        a view: a widget with a style sheet takes the application's palette, so a dark
        theme's views turned light grey when presenting, their light text on it unreadable.
        The check box itself takes it too: a dark theme names its text colours."""
        if not self.presenting:
            return ""
        box = round(QFontMetrics(self.window.font()).height() * 0.8)
        css = f"QCheckBox::indicator {{ width: {box}px; height: {box}px; }}"
        t = self.current_theme()
        if t.dark:
            css += (f" QCheckBox:enabled {{ color: {t.foreground}; }}"
                    f" QCheckBox:disabled {{ color: {t.muted}; }}")
        return css

    def style_check_boxes(self, root: QWidget) -> None:
        """The check boxes under ``root`` in :meth:`checkbox_css` (none: as the style draws)."""
        css = self.checkbox_css()
        for box in root.findChildren(QCheckBox):
            if box.styleSheet() != css:
                box.setStyleSheet(css)

    def _scale_fonts(self) -> None:
        """The header, timeline and status texts have their own sizes: scale them too."""
        w = self.window
        header = w.timeline_bar.header
        smaller = (header.words, header.equation) if self.short and not self.presenting else ()
        for widget in w.timeline_bar.scaled_widgets() + [w.status]:
            base = self._base_fonts.setdefault(widget, widget.font().pointSizeF())
            f = widget.font()
            if self.presenting:
                big = max(PRESENTATION_MIN_PT, base * 1.15)
                # a short projector: the equation in one line where it fits (still >= 15 pt)
                if self.short and widget is header.equation:
                    big = max(15.0, big * 0.85)
                f.setPointSizeF(big)
            else:
                f.setPointSizeF(base * SHORT_HEADER_SCALE if widget in smaller else base)
            widget.setFont(f)
        header.set_compact(self.presenting or self.short)
        # A short projector (1280x720) needs the status bar's row for the view; the run's
        # iteration and loss are in the training views.
        w.statusBar().setVisible(not (self.presenting and self.short))
        w.timeline_bar.fit_to_fonts(self.presenting and not self.short,
                                    w.session.trace.T if w.session.has_run else 25)

    def fit_height(self) -> bool:
        """Follow the window's height: a short window gets the compact header (see
        :data:`SHORT_BELOW_HEIGHT`).  Returns whether that changed."""
        short = self.window.height() < SHORT_BELOW_HEIGHT
        if short == self.short:
            return False
        self.short = short
        self._scale_fonts()
        return True

    def rebuild_panels(self) -> None:
        """Rebuild the panels in the new theme and scale: those on screen now, the others
        (tabs behind them) when they are first shown or asked for (:meth:`fresh`).  Building
        all 13 took ~0.6 s, over the 300 ms a presentation switch may take."""
        self._stale = {cls.key for cls in self.window.panel_classes}
        if not self._switching:  # (a presentation switch rebuilds once the docks are placed)
            self.rebuild_visible()
        # after the new views are on screen (a full collection takes ~70 ms)
        QTimer.singleShot(GC_DELAY_MS, collect_garbage)

    def rebuild_visible(self) -> None:
        """Rebuild the stale panels whose docks are on screen."""
        w = self.window
        for cls in w.panel_classes:
            if cls.key in self._stale and self._on_screen.get(cls.key):
                self._rebuild(cls)

    def fresh(self, key: str):
        """The panel ``key`` in the current theme (rebuilt now if it was behind a tab)."""
        w = self.window
        if key in self._stale:
            self._rebuild(next(c for c in w.panel_classes if c.key == key))
        return w.panels.get(key)

    def _on_dock_visibility_change(self, visible: bool) -> None:
        # (a dock in a tab behind another still says isVisible(); its signal knows better)
        dock = self.sender()
        docks = getattr(self.window, "docks", None)  # (none while the window is torn down)
        if not docks:
            return
        key = next((k for k, d in docks.items() if d is dock), None)
        self._on_screen[key] = bool(visible)
        if visible and key in self._stale and not self._switching:
            self.fresh(key)

    def _rebuild(self, cls) -> None:
        w = self.window
        self._stale.discard(cls.key)
        dock = w.docks[cls.key]
        scroll = dock.widget()
        old = scroll.takeWidget()
        widget = w.build_panel(cls)
        scroll.setWidget(widget)
        self.style_check_boxes(widget)
        widget.show()
        if isinstance(old, Panel) and isinstance(widget, Panel):
            # A theme change must not undo the reader's log scale or chosen quantity.
            # Draw once first: some controls (the hidden-state quantities) fill on draw.
            widget.refresh()
            widget.restore_view_state(old.view_state())
        w.panels[cls.key] = widget
        if isinstance(widget, Panel):
            dock.visibilityChanged.connect(widget.set_shown)
            # a tab behind another is not on screen: it catches up when raised.  On screen
            # is what the dock's visibilityChanged last said (its visible region can still
            # be empty before a paint: the rebuilt panel then skipped every redraw while in
            # front, and the gates view showed step 0 at step 10)
            widget.set_shown(self._on_screen.get(cls.key, dock.isVisible()))
        if old is not None:
            old.hide()
            old.deleteLater()
        scroll._fit()


def qt_palette(t: "style.Theme"):
    """A QPalette for the window's own widgets (menus, buttons, forms) in theme ``t``;
    ``None`` for light themes (the platform palette is kept)."""
    if not t.dark:
        return None
    pal = QPalette()
    bg, fg = QColor("#1b1b1b"), QColor(t.foreground)
    base, button = QColor(t.background), QColor("#2c2c2c")
    for group in (QPalette.Active, QPalette.Inactive):
        pal.setColor(group, QPalette.Window, bg)
        pal.setColor(group, QPalette.WindowText, fg)
        pal.setColor(group, QPalette.Base, base)
        pal.setColor(group, QPalette.AlternateBase, button)
        pal.setColor(group, QPalette.Text, fg)
        pal.setColor(group, QPalette.Button, button)
        pal.setColor(group, QPalette.ButtonText, fg)
        pal.setColor(group, QPalette.ToolTipBase, button)
        pal.setColor(group, QPalette.ToolTipText, fg)
        pal.setColor(group, QPalette.Highlight, QColor("#2f6fbf"))
        pal.setColor(group, QPalette.HighlightedText, QColor("#ffffff"))
        pal.setColor(group, QPalette.Link, QColor("#8ab4ff"))
    grey = QColor("#8a8a8a")
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, grey)
    pal.setColor(QPalette.Disabled, QPalette.Window, bg)
    pal.setColor(QPalette.Disabled, QPalette.Base, bg)
    pal.setColor(QPalette.Disabled, QPalette.Button, button)
    return pal

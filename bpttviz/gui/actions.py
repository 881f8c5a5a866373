"""Every action of the window, with its shortcuts, in one place.

The actions are created here and installed on the main window (and on each dock, so that a
floating dock keeps the shortcuts) with ``Qt.WindowShortcut``: they work whichever widget
of the window has the focus.  Keys that spin boxes, combo boxes and buttons would otherwise
keep for themselves (Left/Right/Home/End/Space) are handed to the timeline by
:class:`TimelineKeyFilter`; text fields keep them.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from PyQt5.QtCore import QEvent, QObject, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QAction,
                             QComboBox, QWidget)

#: name -> (menu text, shortcuts, what it does).  The first shortcut is the one shown.
SPECS: Dict[str, tuple] = {
    "step_forward": ("Step &forward", ["Right"], "Reveal the next event of the timeline"),
    "step_back": ("Step &back", ["Left"], "Go back one event"),
    "play": ("&Play", ["Space"], "Play the iteration event by event; press again to pause"),
    "home": ("&Start of iteration", ["Home"], "Go to the first forward step"),
    "end": ("&End of iteration", ["End"], "Go to the update event"),
    "next_iteration": ("&Next iteration", ["Ctrl+N", "N"],
                       "Apply the update and start the next window of training"),
    "open": ("&Open session…", ["Ctrl+O"], "Open a saved .npz session"),
    "save": ("&Save session", ["Ctrl+S"], "Save the session (parameters, optimizer, cursor)"),
    "save_as": ("Save session &as…", ["Ctrl+Shift+S"], "Save the session under a new name"),
    "load_corpus": ("&Load corpus…", ["Ctrl+L"], "Train on a UTF-8 text file of your own"),
    "undo": ("&Undo", ["Ctrl+Z"], "Undo the last change of a setting"),
    "redo": ("&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo the change that was undone"),
    "reset_layout": ("&Reset layout", [], "Put every panel back where it started and show it"),
    "help": ("&What am I looking at?", ["F1"], "Explain every panel, colour and axis"),
    "about": ("&About bpttviz", [], "Version and licence"),
    "quit": ("&Quit", ["Ctrl+Q"], "Close bpttviz"),
}

#: Keys the timeline takes from spin boxes, combo boxes, sliders and buttons.
TIMELINE_KEYS = {Qt.Key_Left, Qt.Key_Right, Qt.Key_Home, Qt.Key_End, Qt.Key_Space}


def shortcut_text(name: str) -> str:
    keys = SPECS[name][1]
    return " or ".join(QKeySequence(k).toString(QKeySequence.NativeText) for k in keys)


class Actions(QObject):
    """The window's actions as attributes (``actions.step_forward`` ...).

    Undo and redo come from the session's undo stack, so they enable themselves and name
    the edit they would undo ("Undo hidden size 64").
    """

    def __init__(self, window: QWidget, undo_stack=None):
        super().__init__(window)
        self.all: Dict[str, QAction] = {}
        for name, (text, keys, tip) in SPECS.items():
            if name == "undo" and undo_stack is not None:
                action = undo_stack.createUndoAction(window, "&Undo")
            elif name == "redo" and undo_stack is not None:
                action = undo_stack.createRedoAction(window, "&Redo")
            else:
                action = QAction(text, window)
            action.setObjectName(f"action_{name}")
            self._set_keys(action, name, keys, tip)
            if name != "reset_layout" and name != "about":
                action.setShortcutContext(Qt.WindowShortcut)
            setattr(self, name, action)
            self.all[name] = action
        self.play.setCheckable(True)
        self.play.toggled.connect(self._play_toggled)
        self.quit.setMenuRole(QAction.QuitRole)
        self.about.setMenuRole(QAction.AboutRole)
        window.addActions(list(self.all.values()))

    @staticmethod
    def _set_keys(action: QAction, name: str, keys: List[str], tip: str) -> None:
        action.setShortcuts([QKeySequence(k) for k in keys])
        hint = f" ({shortcut_text(name)})" if keys else ""
        action.setToolTip(f"{tip}{hint}")
        action.setStatusTip(f"{tip}{hint}")

    def _play_toggled(self, playing: bool) -> None:
        self.play.setText("&Pause" if playing else "&Play")
        self.play.setIconText("❚❚ Pause" if playing else "▶ Play")

    def install_on(self, widget: QWidget) -> None:
        """Make the shortcuts work in another top-level (e.g. a floating dock)."""
        widget.addActions(list(self.all.values()))


class TimelineKeyFilter(QObject):
    """Application event filter: inside ``window``, Left/Right/Home/End/Space pressed in a
    spin box, combo box, slider or button go to the timeline shortcuts instead of the widget.

    Qt asks the focused widget first (a ShortcutOverride event); answering "not mine" lets the
    window's shortcut fire.  Text fields (QLineEdit, text editors) are left alone.
    """

    GRABBED_FROM = (QAbstractSpinBox, QComboBox, QAbstractSlider, QAbstractButton)

    def __init__(self, window: QWidget):
        super().__init__(window)  # the window is parent(): no Python reference cycle

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.ShortcutOverride and isinstance(obj, self.GRABBED_FROM):
            if (event.key() in TIMELINE_KEYS and event.modifiers() in (Qt.NoModifier, Qt.KeypadModifier)
                    and self._belongs(obj)):
                event.ignore()
                return True
        return False

    def _belongs(self, obj: QWidget) -> bool:
        window = self.parent()
        w: Optional[QWidget] = obj
        while w is not None:
            if w is window:
                return True
            w = w.parentWidget()
        return False

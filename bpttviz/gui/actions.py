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
                             QActionGroup, QComboBox, QWidget)

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
    "export_png": ("Export &PNG…", [], "Save the chosen panel as a picture (width, transparency)"),
    "export_svg": ("Export &SVG…", [], "Save the chosen panel as vector graphics (SVG)"),
    "export_pdf": ("Export P&DF…", [], "Save the chosen panel as a one-page PDF"),
    "export_csv": ("Export &CSV…", [], "Save the numbers the chosen panel draws as CSV files"),
    "copy_image": ("Copy &image to clipboard", [], "Copy the chosen panel as a picture, to paste into slides"),
    "export_gif": ("Export animated &GIF of this pass…", [],
                   "One frame per event of this iteration, of the chosen panel"),
    "export_all": ("Export &all panels…", ["Ctrl+E"],
                   "Save every panel in the formats you choose, with a manifest of what is where"),
    "undo": ("&Undo", ["Ctrl+Z"], "Undo the last change of a setting"),
    "redo": ("&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo the change that was undone"),
    "train": ("&Train in the background", ["Ctrl+T"],
              "Train at full speed until paused; stepping and editing wait meanwhile"),
    "pause_training": ("&Pause training", ["Ctrl+T"],
                       "Stop training after the current update and step through that iteration"),
    "reset_layout": ("&Reset layout", [], "Put every panel back where it started and show it"),
    "presentation": ("&Presentation mode", ["F11"],
                     "Full screen, big fonts, thick lines and a bright band on the current step"),
    # Teaching (bpttviz.gui.predict, hunt, lesson_player); the clicker keys work everywhere.
    "predict": ("&Predict, then reveal", ["P"],
                "Before a view reveals a result, a question asks what you expect; then the truth"),
    "vote": ("Classroom &vote", ["Shift+P"],
             "Show each question large with options A-D for a show of hands"),
    "clicker_next": ("&Next or reveal (clicker)", ["PgDown"],
                     "Reveal the open question, else the lesson's next step, else the next event"),
    "clicker_back": ("B&ack (clicker)", ["PgUp"], "The lesson's previous step, else the previous event"),
    "blank": ("&Blank the screen", ["B"], "Black out the window (B or PageDown brings it back)"),
    "hunt": ("Start a &bug hunt", [], "Hide a classic BPTT mistake in the backward pass; find it"),
    "record_step": ("&Record this step", [],
                    "Append the current preset, settings, event and views to the lesson you write"),
    "help": ("&What am I looking at?", ["F1"], "Explain every panel, colour and axis"),
    "check_code": ("Check &my code…", ["Ctrl+K"],
                   "Run your own lossFun / rnn_forward+rnn_backward / rnn_step_* file against the "
                   "engine and see the first step where they differ"),
    "about": ("&About bpttviz", [], "Version and licence"),
    "quit": ("&Quit", ["Ctrl+Q"], "Close bpttviz"),
}

#: Actions that need the run, which the training worker borrows while it trains: the window
#: disables exactly these while ``session.busy`` (theme and presentation changes stay free:
#: panels redraw from the trace published when training began).
NEEDS_RUN = ("step_forward", "step_back", "play", "home", "end", "next_iteration", "open", "save",
             "save_as", "load_corpus", "undo", "redo", "export_png", "export_svg", "export_pdf",
             "export_csv", "copy_image", "export_gif", "export_all", "train",
             "clicker_next", "clicker_back", "hunt", "record_step")

#: Keys the timeline takes from spin boxes, combo boxes, sliders and buttons.
TIMELINE_KEYS = {Qt.Key_Left, Qt.Key_Right, Qt.Key_Home, Qt.Key_End, Qt.Key_Space,
                 # a presentation clicker (PageUp/PageDown/B) and predict mode (P)
                 Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_B, Qt.Key_P}


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
            action = QAction(text, window)
            action.setObjectName(f"action_{name}")
            self._set_keys(action, name, keys, tip)
            if name != "reset_layout" and name != "about":
                action.setShortcutContext(Qt.WindowShortcut)
            setattr(self, name, action)
            self.all[name] = action
        self.play.setCheckable(True)
        self.presentation.setCheckable(True)
        self.pause_training.setEnabled(False)  # Ctrl+T means Train or Pause, never both
        self.play.toggled.connect(self._play_toggled)
        # View ▸ Theme: one checkable action per theme of style.THEMES (no shortcuts)
        from .style import THEMES
        self.theme_group = QActionGroup(window)
        self.theme_group.setExclusive(True)
        self.themes: Dict[str, QAction] = {}
        for key, (text, _theme) in THEMES.items():
            action = QAction(text, window)
            action.setObjectName(f"action_theme_{key}")
            action.setCheckable(True)
            action.setData(key)
            action.setStatusTip(f"Draw the panels in the {key.replace('-', ' ')} theme")
            self.theme_group.addAction(action)
            self.themes[key] = action
        self.themes["light"].setChecked(True)
        if undo_stack is not None:
            self._undo_stack = undo_stack
            undo_stack.canUndoChanged.connect(self.undo.setEnabled)
            undo_stack.canRedoChanged.connect(self.redo.setEnabled)
            undo_stack.undoTextChanged.connect(self._undo_text_changed)
            undo_stack.redoTextChanged.connect(self._redo_text_changed)
            self.undo.setEnabled(undo_stack.canUndo())
            self.redo.setEnabled(undo_stack.canRedo())
        self.quit.setMenuRole(QAction.QuitRole)
        self.about.setMenuRole(QAction.AboutRole)
        window.addActions(list(self.all.values()))

    @staticmethod
    def _set_keys(action: QAction, name: str, keys: List[str], tip: str) -> None:
        action.setShortcuts([QKeySequence(k) for k in keys])
        hint = f" ({shortcut_text(name)})" if keys else ""
        action.setToolTip(f"{tip}{hint}")
        action.setStatusTip(f"{tip}{hint}")

    # Undo/Redo name the edit they would undo ("Undo hidden size 64"), as QUndoStack's do.
    def _undo_text_changed(self, text: str) -> None:
        self.undo.setText(f"&Undo {text}" if text else "&Undo")

    def _redo_text_changed(self, text: str) -> None:
        self.redo.setText(f"&Redo {text}" if text else "&Redo")

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

"""Protection of the user's work in the window (issue 16): nothing lost by accident.

``WheelGuard``
    an application event filter: the mouse wheel never changes a combo box, spin box or
    slider that has no keyboard focus (the wheel scrolls the dock instead); those widgets get
    ``Qt.StrongFocus`` so a wheel tick does not give them focus either.  One filter covers
    every such widget of the window, panels rebuilt later included (they are polished).
``ask_unsaved(parent, doing)``
    Save / Discard / Cancel before an action that would lose unsaved training or edits.
``Autosaver``
    writes the session to ``<data_dir>/autosave/autosave.npz`` (atomically, with
    ``Session.save``) when training pauses, every :data:`AUTOSAVE_INTERVAL_S` seconds of
    training (a short pause, save and resume) and before risky actions.
``startup(window)`` / ``clean_exit()``
    at start: remove leftover temp files of interrupted writes, offer to restore the autosave
    if the last run did not end cleanly (its "running" marker is still there), then write the
    marker; at a clean exit: remove the marker and the autosave.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Optional

from PyQt5.QtCore import QEvent, QObject, Qt, QTimer
from PyQt5.QtWidgets import QAbstractSpinBox, QComboBox, QMessageBox, QScrollBar, QSlider, QWidget

from ..paths import data_dir

log = logging.getLogger(__name__)

#: Seconds of live training between two autosaves.
AUTOSAVE_INTERVAL_S = 180
AUTOSAVE_NAME = "autosave.npz"
MARKER_NAME = "running"
#: Temp files of ``atomic_write`` (``.bpttviz-XXXX.tmp``) older than this are leftovers.
STALE_TEMP_S = 60.0

GUARDED = (QComboBox, QAbstractSpinBox, QSlider)


# --- the wheel ------------------------------------------------------------------------------
def _guarded(obj) -> bool:
    return isinstance(obj, GUARDED) and not isinstance(obj, QScrollBar)


class WheelGuard(QObject):
    """See the module docstring. ``WheelGuard(window)`` installs itself on the application
    (and on the widgets already built); ``remove()`` takes it off."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        from PyQt5.QtWidgets import QApplication
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        for w in window.findChildren(QWidget):
            self.guard(w)

    @staticmethod
    def guard(w) -> None:
        if _guarded(w) and w.focusPolicy() & Qt.WheelFocus == Qt.WheelFocus:
            w.setFocusPolicy(Qt.StrongFocus)

    def remove(self) -> None:
        from PyQt5.QtWidgets import QApplication
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        kind = event.type()
        if kind == QEvent.Polish:
            self.guard(obj)
            return False
        if kind != QEvent.Wheel or not _guarded(obj) or obj.hasFocus():
            return False
        # Ignored and filtered: Qt hands the wheel to the parent (the dock scrolls).
        event.ignore()
        return True


# --- asking -----------------------------------------------------------------------------------
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def ask_unsaved(parent: Optional[QWidget], doing: str) -> str:
    """Ask Save / Discard / Cancel before ``doing`` (e.g. "quitting"); the answer as SAVE,
    DISCARD or CANCEL. A closed dialog is Cancel; Yes (a test's blanket answer) is Discard."""
    answer = QMessageBox.question(
        parent, "Unsaved work",
        f"This session has training or edits that are not saved.\n\n"
        f"Save them before {doing}?",
        QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
    if answer == QMessageBox.Save:
        return SAVE
    if answer in (QMessageBox.Discard, QMessageBox.Yes):
        return DISCARD
    return CANCEL


def confirm_losing(window, doing: str) -> bool:
    """True if ``doing`` may go ahead: nothing unsaved, the window does not ask
    (``confirm_unsaved`` False: exports, tests), or the user saved or discarded."""
    session = window.session
    if not getattr(window, "confirm_unsaved", False) or session.busy or not session.unsaved:
        return True
    answer = ask_unsaved(window, doing)
    if answer == SAVE:
        return bool(window.save_session())
    return answer == DISCARD


# --- files --------------------------------------------------------------------------------------
def autosave_dir(create: bool = True) -> str:
    folder = os.path.join(data_dir(create), "autosave")
    if create:
        os.makedirs(folder, exist_ok=True)
    return folder


def autosave_path() -> str:
    return os.path.join(autosave_dir(), AUTOSAVE_NAME)


def marker_path() -> str:
    return os.path.join(autosave_dir(), MARKER_NAME)


def clean_temp_files(folder: str, older_than_s: float = STALE_TEMP_S) -> int:
    """Remove ``.bpttviz-*.tmp`` files (interrupted atomic writes) in ``folder`` last
    modified more than ``older_than_s`` seconds ago; return how many. Never raises."""
    removed, now = 0, time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(".bpttviz-") and name.endswith(".tmp")):
            continue
        path = os.path.join(folder, name)
        try:
            if os.path.isfile(path) and not os.path.islink(path) \
                    and now - os.path.getmtime(path) >= older_than_s:
                os.unlink(path)
                removed += 1
        except OSError:
            pass
    return removed


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def crashed_before() -> bool:
    """The last run left its marker (it did not end cleanly; no other live bpttviz owns it)
    and an autosave exists."""
    marker = marker_path()
    if not (os.path.isfile(marker) and os.path.isfile(autosave_path())):
        return False
    try:
        with open(marker, encoding="ascii") as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    return not _pid_alive(pid)


def write_marker() -> None:
    from ..session import atomic_write
    try:
        atomic_write(marker_path(), str(os.getpid()).encode("ascii"))
    except OSError as e:
        log.warning("cannot write the running marker: %s", e)


def clean_exit() -> None:
    """The app ends cleanly: remove the marker and the autosave (nothing to restore)."""
    for path in (marker_path(), autosave_path()):
        try:
            os.unlink(path)
        except OSError:
            pass


def offer_restore(window, ask: Optional[bool] = None) -> bool:
    """If the last run crashed, offer to open its autosave in ``window``; True if restored.
    ``ask`` None: never with BPTTVIZ_TESTING=1 (nothing may block a test)."""
    if ask is None:
        ask = os.environ.get("BPTTVIZ_TESTING") != "1"
    if not ask or not crashed_before():
        return False
    path = autosave_path()
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(path)))
    answer = QMessageBox.question(
        window, "Restore the last session?",
        f"bpttviz did not close cleanly last time. An autosave from {when} is available.\n\n"
        "Restore it?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
    if answer != QMessageBox.Yes:
        return False
    from ..session import SessionError
    try:
        window.session.open(path)
    except SessionError as e:
        QMessageBox.warning(window, "Cannot restore", f"The autosave cannot be opened: {e}")
        return False
    window.session.mark_unsaved()  # it lives only in the autosave folder
    window.path = None
    window.sync()
    window.statusBar().showMessage("Restored the autosaved session", 8000)
    return True


def startup(window, ask: Optional[bool] = None) -> bool:
    """Start-up protection for the window of ``run_app``: clean temp files, offer the
    restore, write the running marker, start autosaving. True if a session was restored."""
    for folder in (data_dir(), autosave_dir()):
        clean_temp_files(folder)
    restored = offer_restore(window, ask)
    write_marker()
    window.autosaver = Autosaver(window)
    return restored


class Autosaver(QObject):
    """Autosaves the window's session (see the module docstring). ``interval_s`` is the
    training time between two autosaves."""

    def __init__(self, window, interval_s: float = AUTOSAVE_INTERVAL_S, path: Optional[str] = None):
        super().__init__(window)
        self.path = path or autosave_path()
        self.saves = 0
        self._resuming = False   # paused by the timer: resume after the save
        self.timer = QTimer(self)
        self.timer.setObjectName("autosaveTimer")
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self._during_training)
        window.controller.sigRunningChanged.connect(self._running_changed)
        window.controller.sigStopped.connect(self._stopped)

    @property
    def window(self):
        return self.parent()

    def save(self) -> bool:
        """Write the autosave now (if the run is free); True if written. Never marks the
        session saved: the user's own file is not this one."""
        session = self.window.session
        if session.busy or not session.has_run:
            return False
        try:
            session.save(self.path)
        except Exception as e:  # noqa: BLE001 -- an autosave must never disturb the lesson
            log.warning("autosave failed: %s", e)
            return False
        self.saves += 1
        return True

    def before_risky(self) -> bool:
        """Before a preset switch, an open or a corpus: keep what is there."""
        return self.save() if self.window.session.unsaved else False

    def _running_changed(self, running: bool) -> None:
        if running:
            self.timer.start()
        else:
            self.timer.stop()

    def _stopped(self, reason: str) -> None:
        self.save()
        resume, self._resuming = self._resuming, False
        if resume and reason == "paused":
            QTimer.singleShot(0, self._resume)  # after the controller has finished its slot

    def _resume(self) -> None:
        window = self.window
        if window.isVisible() and not window.controller.running:  # not while closing
            window.controller.start()

    def _during_training(self) -> None:
        """Every few minutes of training: pause (the run comes back, ``_stopped`` saves),
        then resume.  Through ``pause`` and the worker's own finished signal, not a blocking
        ``stop``: a stopped worker's queued signal would otherwise reach the next one."""
        controller = self.window.controller
        worker = controller.worker
        if worker is None or worker.limit is not None:
            return  # a run for N iterations saves when it ends
        self._resuming = True
        controller.pause()

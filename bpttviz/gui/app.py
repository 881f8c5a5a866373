"""Start the window (``run_app``) or draw it into a PNG without a screen (``render_screenshot``).

``args`` is the namespace of :mod:`bpttviz.cli` (``preset``, ``corpus``, ``cell``, ``at``);
any object with those attributes works.  The crash hook (log file + dialog) is installed only
by ``run_app``, never at import, so tests still see exceptions.
"""
from __future__ import annotations

import datetime
import os
import sys
import traceback
from typing import Optional

from ..engine.presets import list_presets
from ..session import DEFAULT_PRESET, Session, SessionError

ORG = APP = "bpttviz"


class StartupError(Exception):
    """The arguments cannot make a session; the message is for the user (exit 2)."""


def make_session(preset: Optional[str] = None, corpus: Optional[str] = None,
                 cell: Optional[str] = None, at: Optional[str] = None,
                 remembered: Optional[str] = None) -> Session:
    """A Session from command-line style arguments.

    An explicit ``preset`` must load; without one the ``remembered`` preset, then the default,
    then any other character preset is used (a missing corpus file must not stop the app).
    StartupError with a readable message for anything unusable.  No QApplication needed.
    """
    if preset is not None:
        try:
            session = Session(preset)
        except SessionError as e:
            raise StartupError(str(e)) from None
    else:
        tried, session, first_error = [], None, None
        for name in [remembered, DEFAULT_PRESET] + list_presets():
            if not name or name in tried:
                continue
            tried.append(name)
            try:
                session = Session(name)
                break
            except SessionError as e:
                first_error = first_error or e
        if session is None:
            raise StartupError(f"no preset could be loaded ({first_error})")
    try:
        if corpus is not None:
            session.load_corpus(corpus)
        if cell is not None:
            session.edit(f"cell {cell}", cell=cell)
    except SessionError as e:
        raise StartupError(str(e)) from None
    session.undo_stack.clear()  # the starting point is not an edit to undo
    session.mark_saved()        # nor unsaved work
    if at is not None:
        try:
            session.set_event(at)
        except ValueError as e:
            raise StartupError(str(e)) from None
    return session


def _session_from_args(args, remembered=None) -> Session:
    return make_session(getattr(args, "preset", None), getattr(args, "corpus", None),
                        getattr(args, "cell", None), getattr(args, "at", None), remembered)


def _application(argv=None):
    from PyQt5.QtCore import QCoreApplication, Qt
    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        from ..export import quiet_qt_messages
        quiet_qt_messages()  # keep Qt's harmless platform chatter off the user's terminal
        QCoreApplication.setAttribute(Qt.AA_EnableHighDpiScaling, True)
        QCoreApplication.setAttribute(Qt.AA_UseHighDpiPixmaps, True)
        app = QApplication(list(argv or ["bpttviz"]))
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    from .._version import __version__
    app.setApplicationVersion(__version__)
    return app


from ..paths import log_path  # noqa: E402 (re-exported: the log lives in the data folder)


def install_excepthook() -> None:
    """Uncaught exceptions (e.g. in a slot) are logged to bpttviz.log and shown in a dialog;
    the app keeps running."""
    from PyQt5.QtWidgets import QApplication, QMessageBox

    showing = []

    def hook(etype, value, tb):
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        text = "".join(traceback.format_exception(etype, value, tb))
        path = None
        try:
            path = log_path()
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')}\n{text}\n")
        except OSError:
            pass
        sys.__stderr__.write(text)
        if QApplication.instance() is None or showing:
            return
        showing.append(1)
        try:
            where = f"The details were written to {path}." if path else ""
            QMessageBox.critical(None, "bpttviz: unexpected error",
                                 f"Something went wrong: {etype.__name__}: {value}\n\n{where}\n"
                                 "bpttviz keeps running; please report this with the log file.")
        finally:
            showing.clear()

    sys.excepthook = hook


def run_app(args, session: Optional[Session] = None) -> int:
    """Create the application and the window for ``args``; return the exit code."""
    import signal

    app = _application([sys.argv[0] if sys.argv else "bpttviz"])
    from .main_window import MainWindow, remembered_preset

    if session is None:
        try:
            session = _session_from_args(args, remembered_preset())
        except StartupError as e:
            sys.stderr.write(f"bpttviz: error: {e}\n")
            return 2
    install_excepthook()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C in the terminal closes the app
    window = MainWindow(session, remember=True)
    window.show()
    from . import protect
    # Temp files of interrupted writes go, a crashed run's autosave is offered (never with
    # --no-restore or BPTTVIZ_TESTING=1), the running marker is written, autosaving starts.
    protect.startup(window, ask=False if getattr(args, "no_restore", False) else None)
    code = app.exec_()
    protect.clean_exit()  # a clean end: nothing to restore next time
    # Delete the window while the QApplication still exists (not in interpreter teardown).
    window.deleteLater()
    del window
    app.processEvents()
    return code


def render_screenshot(args, path: str, session: Optional[Session] = None,
                      size=(1600, 900), presentation: bool = False,
                      theme: Optional[str] = None, view: Optional[str] = None) -> int:
    """Draw the window offscreen at ``size`` (>= 1280x720) at ``args.at`` and save a PNG
    (atomically: a full disk or a kill never leaves a truncated file where the old one was).
    ``presentation``: as presentation mode shows it (at ``size``, not full screen);
    ``theme``: a name of ``style.THEMES``; ``view``: the view brought to the front."""
    from PyQt5.QtWidgets import QApplication

    if QApplication.instance() is None and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PyQt5.QtCore import qInstallMessageHandler

    def quiet(mode, context, message):  # offscreen platform noise is not the user's business
        if "propagateSizeHints" in message or "XDG_RUNTIME_DIR" in message:
            return
        sys.stderr.write(message + "\n")

    qInstallMessageHandler(quiet)
    app = _application(["bpttviz"])
    from .main_window import MainWindow

    if session is None:
        try:
            session = _session_from_args(args)
        except StartupError as e:
            sys.stderr.write(f"bpttviz: error: {e}\n")
            return 2
    w, h = max(1280, int(size[0])), max(720, int(size[1]))
    window = MainWindow(session, remember=False)
    if theme:
        window.set_theme_name(theme)
    if presentation:
        window.set_presentation(True, fullscreen=False)
    window.resize(w, h)
    window.show()
    for _ in range(3):
        app.processEvents()
    at = getattr(args, "at", None)
    if at:
        session.set_event(at)
    if view:
        window.show_view(view)
    for _ in range(10):  # wrapped header text settles its height over a few layout passes
        app.processEvents()
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice

    from ..session import atomic_write

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    ok = window.grab().save(buf, "PNG")
    buf.close()
    if ok:
        try:
            atomic_write(os.fspath(path), bytes(data))
        except OSError as e:
            ok = False
            sys.stderr.write(f"bpttviz: error: cannot write the screenshot to {path}: "
                             f"{e.strerror or e}\n")
            window.close()
            return 2
    window.close()
    if presentation or theme:
        from .style import LIGHT, set_theme
        set_theme(LIGHT)
    if not ok:
        sys.stderr.write(f"bpttviz: error: cannot write the screenshot to {path}\n")
        return 2
    return 0

"""Shared by the window tests: build a MainWindow, show it and make it active, so keyboard
shortcuts reach it (pytest-qt's keyClick needs an active window offscreen too)."""
from bpttviz.gui.main_window import MainWindow
from bpttviz.session import Session


def show_window(qtbot, preset="min-char-rnn", panels=None, remember=False, size=None,
                presenting=False, owned=True):
    """``presenting``: in presentation mode (not full screen, so ``size`` holds).
    ``owned=False``: the test does not close the window at its end (a module's fixture that
    shares it between tests closes it)."""
    win = MainWindow(Session(preset), panels=None if panels is None else list(panels),
                     remember=remember)
    if owned:
        qtbot.addWidget(win)
    if presenting:
        win.set_presentation(True, fullscreen=False)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=2000)
    return win


def show_panel(qtbot, cls, session, size):
    """One view on its own, shown at ``size`` and drawn (``refresh``) for the session."""
    panel = cls(session)
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    return panel

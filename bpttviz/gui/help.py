"""F1's "What am I looking at?" (every panel's help, the keys) and the About box."""
from __future__ import annotations

import html

from PyQt5.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout

from .._version import __version__
from ..engine import kernels
from .actions import SPECS, shortcut_text
from .timeline_bar import PHASE_COLOURS


def help_html(panel_classes) -> str:
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
        "iteration. While training runs in the background, stepping and editing wait.</p>"]
    for cls in panel_classes:
        parts.append(f"<h2>{html.escape(cls.title)}</h2>{cls.help_html or '<p>(no help yet)</p>'}")
    return "\n".join(parts)


class HelpDialog(QDialog):
    """The help text in a browser, made once per window and refreshed when shown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle("What am I looking at? — bpttviz")
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        f = self.browser.font()
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.browser.setFont(f)
        lay.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.resize(820, 720)

    def show_text(self, text: str) -> None:
        self.browser.setHtml(text)
        self.show()
        self.raise_()


def about_html() -> str:
    """The About box: what bpttviz is, and what a bug report needs (versions, which engine
    kernels run, where the log is)."""
    import numpy
    import pyqtgraph
    from PyQt5.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

    from ..paths import log_path

    rows = [("numpy", numpy.__version__), ("PyQt5 / Qt", f"{PYQT_VERSION_STR} / {QT_VERSION_STR}"),
            ("pyqtgraph", pyqtgraph.__version__), ("engine kernels", kernels.status()),
            ("error log", log_path())]
    table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                    for k, v in rows)
    return (f"<h2>bpttviz {__version__}</h2><p>Step through backpropagation through time in "
            f"a tiny RNN, one timestep at a time.</p><table cellspacing='6'>{table}</table>")


def show_about(parent) -> None:
    QMessageBox.about(parent, "About bpttviz", about_html())

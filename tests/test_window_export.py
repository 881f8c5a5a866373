"""Exporting from the window: the panel right-click menu, File ▸ Export, Export all panels,
the clipboard, the GIF of a pass, and clear messages when a folder cannot be written.

No dialog is ever shown: file dialogs, the option dialogs and the panel chooser are replaced
with ``monkeypatch`` by functions returning the answers a user would give.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtGui import QContextMenuEvent, QImage
from PyQt5.QtWidgets import (QApplication, QFileDialog, QInputDialog, QLabel, QMenu, QMessageBox,
                             QProgressDialog, QVBoxLayout)

from window_helpers import show_window
from bpttviz.gui import export_dialog
from bpttviz.gui.panels.base import Panel


class StepPanel(Panel):
    key = "step-test"
    title = "Step (test)"
    help_html = "<p>test</p>"

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        self.label = QLabel()
        self.label.setMinimumSize(300, 200)
        QVBoxLayout(self).addWidget(self.label)

    def redraw(self):
        self.label.setText(str(self.session.state.event))

    def csv_tables(self):
        return {"": (["t", "cursor"], np.array([[0, self.session.cursor], [1, self.session.cursor]]))}


class OtherPanel(StepPanel):
    key = "other-test"
    title = "Other (test)"

    def csv_tables(self):
        return {}


PANELS = [StepPanel, OtherPanel]
MENU = ["Export PNG…", "Export SVG…", "Export PDF…", "Export CSV…", "Copy image to clipboard",
        "Export animated GIF of this pass…"]


@pytest.fixture
def messages(monkeypatch):
    calls = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: calls.append((_n, title, text)) or QMessageBox.Ok))
    return calls


def make_window(qtbot, preset="min-char-rnn", panels=PANELS):
    return show_window(qtbot, preset, panels, size=(1280, 900))


@pytest.fixture
def win(qtbot, messages):
    return make_window(qtbot)


def save_as(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def no_dialog(*a, **k):
    pytest.fail("a dialog was opened although every answer was given")


def test_right_click_on_a_panel_opens_its_export_menu(qtbot, win, monkeypatch):
    menu = win.exports.panel_menu("step-test")
    texts = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert texts[0] == "Step (test)"  # which panel it is about
    assert texts[1:7] == MENU and "Export all panels…" in texts
    shown = []
    monkeypatch.setattr(QMenu, "exec_", lambda self, *a: shown.append(
        [x.text().replace("&", "") for x in self.actions()]))
    label = win.panels["other-test"].label
    event = QContextMenuEvent(QContextMenuEvent.Mouse, QPoint(5, 5), label.mapToGlobal(QPoint(5, 5)))
    QApplication.sendEvent(label, event)
    assert shown and shown[0][0] == "Other (test)" and MENU[0] in shown[0]
    assert win.exports.last_panel_key == "other-test"
    assert win.exports.current_panel_key() == "other-test"
    # the controls are not a panel: their own context menus are left alone
    assert win.exports.panel_key_of(win.controls.hidden_size) is None


def test_file_export_menu_lists_the_same_actions(win):
    texts = [a.text() for a in win.export_menu.actions() if not a.isSeparator()]
    for text in MENU + ["Export all panels…"]:
        assert text.replace("&", "") in [t.replace("&", "") for t in texts]
    assert win.acts.export_all.shortcut().toString() == "Ctrl+E"


def test_png_with_width_and_transparency(qtbot, win, tmp_path, monkeypatch):
    win.exports.last_panel_key = "step-test"
    save_as(monkeypatch, tmp_path / "slide")  # no extension: .png is added
    monkeypatch.setattr(export_dialog.PngOptionsDialog, "get_options",
                        staticmethod(lambda *a, **k: {"width": 800, "transparent": True}))
    win.acts.export_png.trigger()
    img = QImage(str(tmp_path / "slide.png"))
    assert not img.isNull() and img.width() == 800
    assert img.hasAlphaChannel() and img.pixelColor(0, 0).alpha() == 0
    # given everything, nothing is asked
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(no_dialog))
    monkeypatch.setattr(export_dialog.PngOptionsDialog, "get_options", staticmethod(no_dialog))
    assert win.exports.export_panel("png", "other-test", str(tmp_path / "b.png"), width=640)
    img = QImage(str(tmp_path / "b.png"))
    assert img.width() == 640 and img.pixelColor(0, 0).alpha() == 255  # default: opaque


def test_png_options_dialog_defaults(qtbot):
    dlg = export_dialog.PngOptionsDialog(None, "x")
    qtbot.addWidget(dlg)
    assert dlg.options() == {"width": 1920, "transparent": False, "with_controls": False}


def test_svg_pdf_and_csv(qtbot, win, tmp_path, monkeypatch):
    win.session.set_cursor(7)
    win.exports.last_panel_key = "step-test"
    save_as(monkeypatch, tmp_path / "a.svg")
    win.acts.export_svg.trigger()
    assert (tmp_path / "a.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    save_as(monkeypatch, tmp_path / "a.pdf")
    win.acts.export_pdf.trigger()
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "numbers")))
    win.acts.export_csv.trigger()
    text = (tmp_path / "numbers" / "step-test.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "t,cursor" and text.splitlines()[1] == "0,7"
    assert win.session.cursor == 7


def test_csv_of_a_panel_without_numbers_says_so(qtbot, win, tmp_path, messages):
    assert not win.exports.export_panel("csv", "other-test", str(tmp_path))
    assert messages and "no table" in messages[-1][2]


def test_a_chooser_asks_which_panel_when_none_was_clicked(qtbot, win, tmp_path, monkeypatch):
    win.exports.last_panel_key = None
    asked = []

    def get_item(parent, title, label, items, *a, **k):
        asked.append(list(items))
        return "Other (test)", True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(get_item))
    monkeypatch.setattr(export_dialog.PngOptionsDialog, "get_options",
                        staticmethod(lambda *a, **k: {"width": 300, "transparent": False}))
    save_as(monkeypatch, tmp_path / "chosen.png")
    win.acts.export_png.trigger()
    assert asked == [["Step (test)", "Other (test)"]]
    assert QImage(str(tmp_path / "chosen.png")).width() == 300
    # cancelling the chooser does nothing
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("", False)))
    win.exports.last_panel_key = None
    assert not win.exports.export_png()


def test_copy_image_to_the_clipboard(qtbot, win):
    QApplication.clipboard().clear()
    assert win.exports.copy_image("step-test")
    img = QApplication.clipboard().image()
    assert not img.isNull() and img.width() == 1920


def test_gif_of_this_pass_keeps_the_cursor(qtbot, messages, tmp_path, monkeypatch):
    win = make_window(qtbot, preset="notebook-one-step")
    s = win.session
    s.set_cursor(2)
    win.exports.last_panel_key = "step-test"
    save_as(monkeypatch, tmp_path / "pass")
    win.acts.export_gif.trigger()
    data = (tmp_path / "pass.gif").read_bytes()
    assert data.startswith(b"GIF8")
    from PIL import Image
    assert Image.open(tmp_path / "pass.gif").n_frames == len(s.events)
    assert s.cursor == 2 and not messages


def test_export_all_panels_with_manifest_and_window_gif(qtbot, messages, tmp_path, monkeypatch):
    win = make_window(qtbot, preset="notebook-one-step")
    folder = tmp_path / "lesson"
    monkeypatch.setattr(export_dialog.ExportAllDialog, "get_options", staticmethod(lambda *a, **k: {
        "folder": str(folder), "formats": ["png", "csv", "gif"], "width": 640,
        "transparent": False, "window_gif": True}))
    progress = []
    real_call = export_dialog.Progress.__call__
    monkeypatch.setattr(export_dialog.Progress, "__call__",
                        lambda self, i, n, what="": progress.append((i, n, what)) or real_call(self, i, n, what))
    qtbot.keyClick(win, Qt.Key_E, Qt.ControlModifier)
    assert not messages
    names = set(os.listdir(folder))
    assert {"step-test.png", "other-test.png", "step-test.csv", "step-test.gif", "window.gif",
            "manifest.json", "manifest.txt"} <= names
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["preset"] == "notebook-one-step"
    assert {f["file"] for f in manifest["files"]} >= {"step-test.png", "window.gif"}
    assert QImage(str(folder / "step-test.png")).width() == 640
    assert progress and progress[-1][0] == progress[-1][1]  # it went to the end
    # the export drew copies: the window's own panels are untouched and still live
    assert all(isinstance(p, Panel) for p in win.panels.values())


def test_export_all_dialog_returns_the_choices(qtbot, tmp_path):
    dlg = export_dialog.ExportAllDialog(None, str(tmp_path))
    qtbot.addWidget(dlg)
    dlg.formats["pdf"].setChecked(True)
    dlg.formats["gif"].setChecked(True)
    dlg.window_gif.setChecked(True)
    opts = dlg.options()
    assert opts["folder"] == str(tmp_path)
    assert opts["formats"] == ["png", "svg", "pdf", "csv", "gif"] and opts["window_gif"]
    assert opts["width"] == 1920 and opts["transparent"] is False


def test_unwritable_folder_is_a_clear_message_and_changes_nothing(qtbot, win, tmp_path, messages):
    s = win.session
    s.set_cursor(5)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert not win.exports.export_all(str(blocker / "sub"), ["png", "csv"])
    assert messages and messages[-1][1] == "Export failed"
    assert "cannot write" in messages[-1][2] and "Traceback" not in messages[-1][2]
    assert s.cursor == 5
    n = len(messages)
    assert not win.exports.export_panel("png", "step-test", str(blocker / "x.png"), width=400)
    assert len(messages) == n + 1 and "x.png" in messages[-1][2]
    assert not win.exports.export_panel("csv", "step-test", str(blocker / "dir"))
    assert len(messages) == n + 2
    assert s.cursor == 5 and all(isinstance(p, Panel) for p in win.panels.values())


def test_cancelling_export_all_stops_between_files(qtbot, win, tmp_path, messages, monkeypatch):
    monkeypatch.setattr(QProgressDialog, "wasCanceled", lambda self: True)
    assert not win.exports.export_all(str(tmp_path / "x"), ["png", "svg"])
    assert not messages  # a cancel is not an error
    assert "cancelled" in win.statusBar().currentMessage()
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_cancelled_dialogs_export_nothing(qtbot, win, tmp_path, monkeypatch, messages):
    win.exports.last_panel_key = "step-test"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    assert not win.exports.export_svg()
    assert not win.exports.export_gif()
    monkeypatch.setattr(export_dialog.ExportAllDialog, "get_options", staticmethod(lambda *a, **k: None))
    assert not win.exports.export_all()
    save_as(monkeypatch, tmp_path / "p.png")
    monkeypatch.setattr(export_dialog.PngOptionsDialog, "get_options", staticmethod(lambda *a, **k: None))
    assert not win.exports.export_png()
    assert not (tmp_path / "p.png").exists() and not messages


def test_real_panel_exports_from_the_window(qtbot, messages, tmp_path):
    from bpttviz.gui.panels import HiddenStatesPanel
    win = make_window(qtbot, panels=[HiddenStatesPanel])
    win.session.set_event("backward:3")
    assert win.exports.export_panel("png", "hidden_states", str(tmp_path / "h.png"), width=960)
    assert win.exports.export_panel("csv", "hidden_states", str(tmp_path / "csv"))
    assert QImage(str(tmp_path / "h.png")).width() == 960
    assert any(n.startswith("hidden_states") for n in os.listdir(tmp_path / "csv"))
    assert not messages

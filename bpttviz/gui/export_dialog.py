"""The window's export dialogs: PNG options, "Export all panels" and the progress of long exports.

The exports themselves are :mod:`bpttviz.export` (the same functions as ``bpttviz export``);
this module only asks the user what they want.  Every dialog has a static ``get_options``
returning the answer or ``None`` (cancelled), which tests replace with ``monkeypatch``.
"""
from __future__ import annotations

import os
from typing import Optional

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                             QHBoxLayout, QLabel, QLineEdit, QProgressDialog, QPushButton,
                             QSpinBox, QVBoxLayout, QWidget)

from ..export import DEFAULT_WIDTH, FORMAT_REGISTRY, FORMATS

#: What each format check box says (from the one format registry).
FORMAT_TEXT = {name: f.label for name, f in FORMAT_REGISTRY.items()}


class ExportCancelled(Exception):
    """The user pressed Cancel in a progress dialog (raised between two files or frames)."""


def _width_spin(value: int = DEFAULT_WIDTH) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName("width")
    spin.setRange(200, 8000)
    spin.setSingleStep(160)
    spin.setValue(int(value))
    spin.setSuffix(" px")
    spin.setToolTip("Width of the picture in pixels (the height keeps the panel's shape)")
    return spin


def _controls_box() -> QCheckBox:
    box = QCheckBox("Include the view's controls")
    box.setObjectName("with_controls")
    box.setToolTip("Draw the buttons, sliders and hints above the plot as on screen "
                   "(default: the plot only, with its title and the event's caption)")
    return box


def _transparent_box() -> QCheckBox:
    box = QCheckBox("Transparent background")
    box.setObjectName("transparent")
    box.setToolTip("Leave the background empty, for slides with their own background")
    return box


class PngOptionsDialog(QDialog):
    """Width (default 1920) and transparent background of a PNG export."""

    def __init__(self, parent: Optional[QWidget] = None, title: str = "panel"):
        super().__init__(parent)
        self.setObjectName("pngOptions")
        self.setWindowTitle(f"PNG of {title}")
        form = QFormLayout(self)
        self.width_spin = _width_spin()
        form.addRow("Width", self.width_spin)
        self.transparent = _transparent_box()
        form.addRow(self.transparent)
        self.with_controls = _controls_box()
        form.addRow(self.with_controls)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> dict:
        return {"width": self.width_spin.value(), "transparent": self.transparent.isChecked(),
                "with_controls": self.with_controls.isChecked()}

    @staticmethod
    def get_options(parent=None, title: str = "panel") -> Optional[dict]:
        """``{"width": int, "transparent": bool, "with_controls": bool}``, or None."""
        dlg = PngOptionsDialog(parent, title)
        try:
            return dlg.options() if dlg.exec_() == QDialog.Accepted else None
        finally:
            dlg.deleteLater()


class ExportAllDialog(QDialog):
    """Folder, formats (the export registry's), PNG width and transparency, the view's
    controls or not, and whether to animate the whole window too."""

    def __init__(self, parent: Optional[QWidget] = None, folder: str = ""):
        super().__init__(parent)
        self.setObjectName("exportAll")
        self.setWindowTitle("Export all panels")
        lay = QVBoxLayout(self)
        intro = QLabel("Every panel at the current event, in the formats ticked below, with "
                       "<b>manifest.txt</b> and <b>manifest.json</b> saying what each file shows.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        row = QHBoxLayout()
        self.folder = QLineEdit(folder)
        self.folder.setObjectName("folder")
        self.folder.setPlaceholderText("a folder (created if needed)")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.formats = {}
        for fmt in FORMATS:
            box = QCheckBox(FORMAT_TEXT.get(fmt, fmt))
            box.setObjectName(f"format_{fmt}")
            box.setChecked(fmt in ("png", "svg", "csv"))
            reason = FORMAT_REGISTRY[fmt].unavailable()
            if reason:
                box.setEnabled(False)
                box.setToolTip(reason)
            self.formats[fmt] = box
            form.addRow("Formats" if fmt == FORMATS[0] else "", box)
        self.window_gif = QCheckBox("also the animation of the whole window")
        self.window_gif.setObjectName("window_gif")
        self.window_gif.setEnabled(False)
        self.formats["gif"].toggled.connect(self.window_gif.setEnabled)
        form.addRow(self.window_gif)
        self.width_spin = _width_spin()
        form.addRow("PNG width", self.width_spin)
        self.transparent = _transparent_box()
        form.addRow(self.transparent)
        self.with_controls = _controls_box()
        form.addRow(self.with_controls)
        lay.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Export")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

    def _browse(self):
        path = QFileDialog.getExistingDirectory(self, "Export into folder", self.folder.text())
        if path:
            self.folder.setText(path)

    def _accept(self):
        if self.folder.text().strip() and any(b.isChecked() for b in self.formats.values()):
            self.accept()

    def options(self) -> dict:
        formats = [f for f, b in self.formats.items() if b.isChecked()]
        return {"folder": self.folder.text().strip(), "formats": formats,
                "width": self.width_spin.value(), "transparent": self.transparent.isChecked(),
                "window_gif": "gif" in formats and self.window_gif.isChecked(),
                "with_controls": self.with_controls.isChecked()}

    @staticmethod
    def get_options(parent=None, folder: str = "") -> Optional[dict]:
        """``{"folder", "formats", "width", "transparent", "window_gif", "with_controls"}``,
        or None."""
        dlg = ExportAllDialog(parent, folder)
        try:
            return dlg.options() if dlg.exec_() == QDialog.Accepted else None
        finally:
            dlg.deleteLater()


class Progress:
    """A cancel-able QProgressDialog driven by export callbacks: ``progress(i, n, what="")``.
    Cancel raises :class:`ExportCancelled` from the next callback (between two files or
    frames), so nothing is left half-written."""

    def __init__(self, parent, title: str, label: str):
        self.dialog = QProgressDialog(label, "Cancel", 0, 0, parent)
        self.dialog.setObjectName("exportProgress")
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModal)
        self.dialog.setMinimumDuration(300)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.label = label

    def __call__(self, i: int, n: int, what: str = "") -> None:
        from PyQt5.QtWidgets import QApplication
        if self.dialog.wasCanceled():
            raise ExportCancelled()
        self.dialog.setMaximum(max(1, n))
        self.dialog.setValue(min(i, n))
        if what:
            self.dialog.setLabelText(f"{self.label}\n{what}")
        QApplication.processEvents()
        if self.dialog.wasCanceled():
            raise ExportCancelled()

    def close(self) -> None:
        self.dialog.close()
        self.dialog.deleteLater()


def default_export_folder(session) -> str:
    """``~/bpttviz-export/<preset>``: somewhere the user can find again."""
    name = session.preset.name if session.preset is not None else "session"
    return os.path.join(os.path.expanduser("~"), "bpttviz-export", name)

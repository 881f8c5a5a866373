"""The window's exports: File ▸ Export, each panel's right-click menu, the clipboard, the
animation of a pass and "Export all panels".

:class:`WindowExports` is owned by the main window (``window.exports``); the actions of
:mod:`bpttviz.gui.actions` are connected to its bound methods.  Pictures are drawn from a
fresh, offscreen copy of the panel built on ``session.snapshot()`` with the live panel's view
state, laid out at the slide size of ``bpttviz export``: the window never moves, resizes or
steps while it exports, and a slide from the window equals one from the command line.  The
numbers (CSV) come from the live panel: exactly what it draws.

This module imports the export library, never the main window (no import cycle).
"""
from __future__ import annotations

import logging
import os
from typing import List, Optional

from PyQt5.QtCore import QEvent, QObject, Qt, QTimer
from PyQt5.QtWidgets import QApplication, QDockWidget, QFileDialog, QInputDialog, QMenu, QWidget

from ..engine.allocator import release_freed_memory
from ..export import (DEFAULT_WIDTH, FORMAT_REGISTRY, PANEL_SIZE, ExportError, check_folder,
                      export_panels, render_image, save_csv_tables, save_gif, save_pdf, save_png,
                      save_svg, save_video)
from .controls import warn
from .export_dialog import (ExportAllDialog, ExportCancelled, PngOptionsDialog, Progress,
                            default_export_folder)

log = logging.getLogger(__name__)

#: File filters of the single-panel exports, from the one format registry.
EXPORT_FILTERS = {name: f.filter for name, f in FORMAT_REGISTRY.items()}
#: What "Export animated GIF of this pass" can write (the file name's extension chooses).
ANIMATIONS = tuple(n for n, f in FORMAT_REGISTRY.items() if f.kind == "animation")


#: How long after an export its panels (deleted from the event loop) are collected.
RELEASE_DELAY_MS = 300


def _collect_garbage() -> None:
    release_freed_memory()


class PanelClickFilter(QObject):
    """Application event filter: remembers the panel last clicked in the window (the one
    File ▸ Export acts on) and replaces a right-click on a panel by its export menu."""

    def __init__(self, exports: "WindowExports"):
        super().__init__(exports)  # parent() is the exports object: no Python reference cycle

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        kind = event.type()
        if kind != QEvent.MouseButtonPress and kind != QEvent.ContextMenu:
            return False
        if not isinstance(obj, QWidget):
            return False
        exports = self.parent()
        key = exports.panel_key_of(obj)
        if key is None:
            return False
        exports.last_panel_key = key
        if kind == QEvent.ContextMenu:
            exports.show_panel_menu(key, event.globalPos())
            return True
        return False


class WindowExports(QObject):
    """``WindowExports(window)``: the export actions of ``window`` (a MainWindow: it reads
    ``session``, ``panels``, ``docks``, ``panel_classes``, ``acts`` and ``statusBar()``)."""

    def __init__(self, window):
        super().__init__(window)
        self.last_panel_key: Optional[str] = None  # the panel File ▸ Export acts on
        self.export_dir = ""
        self.click_filter = PanelClickFilter(self)

    @property
    def window(self):
        return self.parent()

    # --- which panel --------------------------------------------------------------------------
    def panel_key_of(self, widget: Optional[QWidget]) -> Optional[str]:
        """The key of the panel dock ``widget`` is in (not the controls), or None."""
        win = self.window
        docks = win.docks
        w = widget
        while w is not None:
            if isinstance(w, QDockWidget):
                key = w.objectName()
                return key if docks.get(key) is w and key in win.panels else None
            if w is win:
                return None
            w = w.parentWidget()
        return None

    def current_panel_key(self) -> Optional[str]:
        """The panel File ▸ Export acts on: the one holding the keyboard focus, else the one
        last clicked; None if neither (then the user is asked)."""
        key = self.panel_key_of(QApplication.focusWidget())
        if key is None and self.last_panel_key in self.window.panels:
            key = self.last_panel_key
        return key

    def _choose_panel(self) -> Optional[str]:
        win = self.window
        classes = [c for c in win.panel_classes if c.key in win.panels]
        if not classes:
            return None
        titles = [c.title for c in classes]
        title, ok = QInputDialog.getItem(win, "Export which panel?", "Panel:", titles, 0, False)
        if not ok or title not in titles:
            return None
        return classes[titles.index(title)].key

    def _target_key(self, key: Optional[str]) -> Optional[str]:
        key = key or self.current_panel_key() or self._choose_panel()
        if key is not None:
            self.last_panel_key = key
        return key

    def _title(self, key: str) -> str:
        return self.window.dock_layout.title(key)

    def export_menu_shown(self) -> None:
        """File ▸ Export is about to show: its first line names the panel it acts on."""
        key = self.current_panel_key()
        self.window._export_target_label.setText(f"Panel: {self._title(key)}" if key else
                                                 "Panel: you will be asked which")

    def panel_menu(self, key: str) -> QMenu:
        """The right-click menu of a panel (its exports)."""
        a = self.window.acts
        menu = QMenu(self.window)
        menu.setObjectName("panelMenu")
        title = menu.addAction(self._title(key))
        title.setEnabled(False)
        menu.addSeparator()
        menu.addActions([a.export_png, a.export_svg, a.export_pdf, a.export_csv, a.copy_image,
                         a.export_gif])
        menu.addSeparator()
        menu.addAction(a.export_all)
        return menu

    def show_panel_menu(self, key: str, global_pos) -> None:
        self.last_panel_key = key
        menu = self.panel_menu(key)
        menu.exec_(global_pos)
        menu.deleteLater()

    # --- what is drawn --------------------------------------------------------------------------
    def _live_panel(self, key: str):
        """The live panel ``key`` drawn at the cursor, or None and a message."""
        panel = self.window.looks.fresh(key)
        if panel is None or not hasattr(panel, "export_widget"):
            warn(self.window, "Cannot export", f"The panel {self._title(key)} could not be "
                 "built, so there is nothing to export.")
            return None
        panel.refresh()
        return panel

    @staticmethod
    def _offscreen_copy(panel, session):
        """A fresh copy of ``panel`` on ``session`` with its view state, at the slide size,
        drawn but never put on screen."""
        copy = type(panel)(session)
        copy.restore_view_state(panel.view_state())
        copy.setAttribute(Qt.WA_DontShowOnScreen, True)
        copy.resize(*PANEL_SIZE)
        copy.show()
        return copy

    @staticmethod
    def _discard(widgets) -> None:
        for w in widgets:
            w.close()
            w.deleteLater()
        QTimer.singleShot(RELEASE_DELAY_MS, _collect_garbage)  # after the deferred deletes

    def _picture_copy(self, key: str):
        panel = self._live_panel(key)
        if panel is None:
            return None
        copy = self._offscreen_copy(panel, self.window.session.snapshot())
        QApplication.processEvents()
        return copy

    def _ask_path(self, key: str, fmt: str, formats=None) -> Optional[str]:
        """A file to write, asked for; its extension is one of ``formats`` (default
        ``[fmt]``), else ``.fmt`` is added."""
        formats = list(formats or [fmt])
        start = os.path.join(self.export_dir or os.path.expanduser("~"), f"{key}.{fmt}")
        filters = ";;".join(EXPORT_FILTERS[f] for f in formats)
        path, _ = QFileDialog.getSaveFileName(self.window, f"Export {self._title(key)} as "
                                              f"{fmt.upper()}", start, filters)
        if not path:
            return None
        if os.path.splitext(path)[1].lower().lstrip(".") not in formats:
            path += f".{fmt}"
        return path

    def _run_export(self, what: str, fn, *args) -> bool:
        """Run an export; a failure is a clear message (never a traceback), nothing changes."""
        try:
            fn(*args)
            return True
        except ExportCancelled:
            self.window.statusBar().showMessage(f"{what}: cancelled", 5000)
        except (ExportError, OSError) as e:
            warn(self.window, "Export failed", f"{what} failed: {getattr(e, 'strerror', None) or e}")
        except Exception as e:  # noqa: BLE001 -- a bug in a panel must not lose the lesson
            log.exception("%s failed", what)
            warn(self.window, "Export failed", f"{what} failed: {type(e).__name__}: {e}")
        return False

    # --- one panel --------------------------------------------------------------------------------
    def export_panel(self, fmt: str, key: Optional[str] = None, path: Optional[str] = None,
                     width: Optional[int] = None, transparent: bool = False,
                     with_controls: bool = False) -> bool:
        """Export one panel as ``fmt`` (png, svg, pdf, csv). Missing arguments are asked for:
        the panel (focus, last clicked, else a chooser), the file (for csv: a folder) and,
        for PNG, the width, transparency and whether to draw the view's controls."""
        if fmt not in ("png", "svg", "pdf", "csv"):
            raise ValueError(f"unknown export format {fmt!r}")
        key = self._target_key(key)
        if key is None:
            return False
        title = self._title(key)
        if fmt == "csv":
            if path is None:
                path = QFileDialog.getExistingDirectory(self.window, f"Save the numbers of {title} "
                                                        "into", self.export_dir)
                if not path:
                    return False
        else:
            if path is None:
                path = self._ask_path(key, fmt)
                if path is None:
                    return False
            if fmt == "png" and width is None:
                options = PngOptionsDialog.get_options(self.window, title)
                if options is None:
                    return False
                width, transparent = options["width"], options["transparent"]
                with_controls = options.get("with_controls", with_controls)
        if fmt == "csv":
            panel = self._live_panel(key)
            if panel is None:
                return False
            ok = self._run_export(f"Exporting {title} as CSV", self._write_csv, panel, path)
        else:
            copy = self._picture_copy(key)
            if copy is None:
                return False
            try:
                ok = self._run_export(f"Exporting {title} as {fmt.upper()}", self._write_picture,
                                      copy, fmt, path, width or DEFAULT_WIDTH, transparent,
                                      with_controls)
            finally:
                self._discard([copy])
        if ok:
            self.export_dir = path if fmt == "csv" else os.path.dirname(path)
            self.window.statusBar().showMessage(f"Exported {title} to {path}", 8000)
        return ok

    @staticmethod
    def _write_picture(panel, fmt, path, width, transparent, with_controls) -> None:
        if fmt == "png":
            save_png(panel, path, width, transparent, with_controls)
        elif fmt == "svg":
            save_svg(panel, path, panel.title, with_controls)
        else:
            save_pdf(panel, path, panel.title, with_controls)

    @staticmethod
    def _write_csv(panel, path) -> None:
        if not save_csv_tables(panel, check_folder(path)):
            raise ExportError(f"{panel.title} draws no table of numbers to export")

    def export_png(self):
        return self.export_panel("png")

    def export_svg(self):
        return self.export_panel("svg")

    def export_pdf(self):
        return self.export_panel("pdf")

    def export_csv(self):
        return self.export_panel("csv")

    # Slots without arguments: triggered(bool) must not arrive as a key or a folder.
    def copy_image_triggered(self):
        return self.copy_image()

    def export_gif_triggered(self):
        return self.export_gif()

    def export_all_triggered(self):
        return self.export_all()

    def copy_image(self, key: Optional[str] = None, width: int = DEFAULT_WIDTH) -> bool:
        """The panel as a picture on the clipboard (to paste into slides)."""
        key = self._target_key(key)
        copy = self._picture_copy(key) if key else None
        if copy is None:
            return False
        try:
            ok = self._run_export(f"Copying {self._title(key)}", self._copy, copy, width)
        finally:
            self._discard([copy])
        if ok:
            self.window.statusBar().showMessage(f"Copied {self._title(key)} to the clipboard", 5000)
        return ok

    @staticmethod
    def _copy(panel, width) -> None:
        QApplication.clipboard().setImage(render_image(panel, width))

    def export_gif(self, key: Optional[str] = None, path: Optional[str] = None,
                   width: int = 960) -> bool:
        """An animation of the panel through this whole iteration: GIF, or MP4/WebM when the
        file name says so (and imageio-ffmpeg is installed). Drawn offscreen from a snapshot
        of the session: the window's cursor never moves."""
        key = self._target_key(key)
        if key is None:
            return False
        if path is None:
            usable = [f for f in ANIMATIONS if not FORMAT_REGISTRY[f].unavailable()]
            path = self._ask_path(key, "gif", usable)
            if path is None:
                return False
        panel = self._live_panel(key)
        if panel is None:
            return False
        fmt = os.path.splitext(path)[1].lower().lstrip(".")
        fmt = fmt if fmt in ANIMATIONS else "gif"
        self.window.acts.play.setChecked(False)
        progress = Progress(self.window, "Animation", f"Drawing {self._title(key)}, event by event…")
        try:
            if fmt == "gif":
                ok = self._run_export(f"The GIF of {self._title(key)}", save_gif, self.window.session,
                                      panel, path, width, 400, progress)
            else:
                ok = self._run_export(f"The {fmt.upper()} of {self._title(key)}", save_video,
                                      self.window.session, panel, path, width, 400, progress, fmt)
        finally:
            progress.close()
        if ok:
            self.export_dir = os.path.dirname(path)
            self.window.statusBar().showMessage(f"Saved the animation to {path}", 8000)
        return ok

    # --- everything ----------------------------------------------------------------------------------
    def export_all(self, folder: Optional[str] = None, formats=None, width: int = DEFAULT_WIDTH,
                   transparent: bool = False, window_gif: bool = False,
                   with_controls: bool = False) -> bool:
        """Every panel into ``folder`` (asked for, with the formats, if not given) with a
        manifest. Panels are drawn at the slide size of ``bpttviz export``, from copies on a
        snapshot of the session, so a slide from the window and one from the command line
        are the same."""
        win = self.window
        if folder is None:
            options = ExportAllDialog.get_options(win, self.export_dir
                                                  or default_export_folder(win.session))
            if options is None:
                return False
            folder, formats = options["folder"], options["formats"]
            width, transparent = options["width"], options["transparent"]
            window_gif = options["window_gif"]
            with_controls = options.get("with_controls", False)
        formats = list(formats or ("png", "svg", "csv"))
        win.acts.play.setChecked(False)
        progress = Progress(win, "Export all panels", f"Exporting into {folder}…")
        made: List[QWidget] = []
        ok = self._run_export("Export all panels", self._export_all, folder, formats, width,
                              transparent, window_gif, with_controls, progress, made)
        progress.close()
        self._discard(made)
        if ok:
            self.export_dir = folder
            win.statusBar().showMessage(f"Exported every panel to {folder} (see manifest.txt)", 10000)
        return ok

    def _export_all(self, folder, formats, width, transparent, window_gif, with_controls,
                    progress, made: List[QWidget]) -> None:
        check_folder(folder)  # before drawing anything: a clear message, no half work
        win = self.window
        snap = win.session.snapshot()
        for cls in win.panel_classes:
            live = win.panels.get(cls.key)
            if hasattr(live, "export_widget"):  # not a panel that could not be built
                made.append(self._offscreen_copy(live, snap))
        window = None
        if window_gif:
            window = type(win)(snap.snapshot(), panels=list(win.panel_classes))
            window.setAttribute(Qt.WA_DontShowOnScreen, True)
            window.resize(win.size())
            window.show()
            made.append(window)
        QApplication.processEvents()
        panels = [p for p in made if p is not window]
        export_panels(snap, panels, folder, formats, width, transparent, progress=progress,
                      window=window, with_controls=with_controls)

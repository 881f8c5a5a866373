"""Exporting is a function of the session: the window's menus and ``bpttviz export`` both
call the functions here, so a slide made from the GUI and one made headless are the same.

This package is a library: it never imports the main window or the application (the command
line is :mod:`bpttviz.export_cli`, the window's menus :mod:`bpttviz.gui.window_export`).

* :mod:`.render` lays a panel out at the export size (plot only, or with its controls) and
  paints it; :mod:`.svgfix` makes the recorded SVG renderer-proof;
* :mod:`.pictures` writes PNG (at the target resolution), SVG, PDF (pages of the panel's
  aspect), GIF and MP4/WebM (frames drawn offscreen from a snapshot of the session);
* :mod:`.tables` writes the numbers (CSV), :mod:`.bundle` the format registry and
  :func:`export_panels` with its manifest.
"""
from .bundle import (FORMAT_REGISTRY, FORMATS, ONE_FILE_PDF, ExportedFile, ExportFormat,
                     ExportInterrupted,
                     build_panels, check_folder, export_panels, formats_help, panel_keys,
                     parse_formats, quiet_qt_messages, session_summary, write_manifest)
from .pictures import (ExportError, is_panel, laid_out, pdf_bytes, render_image, save_gif,
                       save_pdf, save_png, save_svg, save_video, svg_bytes, video_unavailable)
from .render import DEFAULT_WIDTH, HEADER_HEIGHT, PANEL_SIZE, Sheet
from .tables import read_csv_table, save_csv_tables, save_loss_history_csv, table_csv

__all__ = [
    "DEFAULT_WIDTH", "FORMATS", "FORMAT_REGISTRY", "HEADER_HEIGHT", "ONE_FILE_PDF", "PANEL_SIZE",
    "ExportError", "ExportFormat", "ExportedFile", "ExportInterrupted", "Sheet", "build_panels", "check_folder",
    "export_panels", "formats_help", "is_panel", "laid_out", "panel_keys", "parse_formats",
    "pdf_bytes", "quiet_qt_messages", "read_csv_table", "render_image", "save_csv_tables",
    "save_gif", "save_loss_history_csv", "save_pdf", "save_png", "save_svg", "save_video",
    "session_summary", "svg_bytes", "table_csv", "video_unavailable", "write_manifest",
]

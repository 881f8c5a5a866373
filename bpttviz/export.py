"""Exporting is a function of the session: the window's menus and ``bpttviz export`` both
call the functions here, so a slide made from the GUI and one made headless are the same.

Pictures come from rendering a panel (any :class:`~bpttviz.gui.panels.base.Panel`) onto a
scaled painter: PNG at a chosen width (optionally transparent), SVG and PDF as vectors.
Numbers come from the panel's ``csv_tables()`` — exactly what it draws, read from the trace.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np

FORMATS = ("png", "svg", "pdf", "csv", "gif")
DEFAULT_WIDTH = 1920
#: Logical size panels are laid out at for export; PNG width scales from it (16:9 for slides).
PANEL_SIZE = (960, 540)


class ExportError(Exception):
    """An export cannot be done (e.g. the folder is not writable); the message says why."""


@dataclass
class ExportedFile:
    file: str
    panel: str
    title: str
    format: str
    description: str


# --- pictures ----------------------------------------------------------------------------
class _TransparentBackground:
    """Temporarily make every background in a widget tree transparent (pyqtgraph view
    backgrounds and the palettes that viewports and panels fill with), then restore them."""

    def __init__(self, widget, enabled: bool):
        self.widget, self.enabled = widget, enabled
        self.brushes, self.palettes = [], []

    def __enter__(self):
        if self.enabled:
            import pyqtgraph as pg
            from PyQt5.QtGui import QColor, QPalette
            from PyQt5.QtWidgets import QWidget
            for view in [self.widget] + self.widget.findChildren(pg.GraphicsView):
                if isinstance(view, pg.GraphicsView):
                    self.brushes.append((view, view.backgroundBrush()))
                    view.setBackground(None)
            clear = QColor(0, 0, 0, 0)
            for w in [self.widget] + self.widget.findChildren(QWidget):
                self.palettes.append((w, QPalette(w.palette())))
                pal = w.palette()
                pal.setColor(QPalette.Window, clear)
                pal.setColor(QPalette.Base, clear)
                w.setPalette(pal)
        return self

    def __exit__(self, *exc):
        for view, brush in self.brushes:
            view.setBackgroundBrush(brush)
        for w, pal in self.palettes:
            w.setPalette(pal)


def render_image(widget, width: int = DEFAULT_WIDTH, transparent: bool = False):
    """Render ``widget`` into a QImage ``width`` pixels wide (height keeps the aspect ratio)."""
    from PyQt5.QtCore import QPoint, Qt
    from PyQt5.QtGui import QImage, QPainter, QRegion
    from PyQt5.QtWidgets import QWidget

    width = int(width)
    size = widget.size()
    scale = width / max(1, size.width())
    img = QImage(width, max(1, round(size.height() * scale)), QImage.Format_ARGB32)
    img.fill(Qt.transparent if transparent else Qt.white)
    with _TransparentBackground(widget, transparent):
        painter = QPainter(img)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.TextAntialiasing)
        painter.scale(scale, scale)
        flags = QWidget.DrawChildren if transparent else QWidget.DrawWindowBackground | QWidget.DrawChildren
        # QWidget.render explicitly: a pyqtgraph view overrides render() with QGraphicsView's.
        QWidget.render(widget, painter, QPoint(0, 0), QRegion(widget.rect()), flags)
        painter.end()
    return img


def save_png(widget, path: str, width: int = DEFAULT_WIDTH, transparent: bool = False) -> None:
    img = render_image(widget, width, transparent)
    data = _qimage_bytes(img, "PNG")
    _write_bytes(path, data)


def _qimage_bytes(img, fmt: str) -> bytes:
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    if not img.save(buf, fmt):
        raise ExportError(f"Qt could not encode a {fmt} image")
    buf.close()
    return bytes(ba)


def save_svg(widget, path: str, title: str = "") -> None:
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize
    from PyQt5.QtGui import QPainter
    from PyQt5.QtSvg import QSvgGenerator
    from PyQt5.QtWidgets import QWidget

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    size = widget.size()
    gen.setSize(QSize(size.width(), size.height()))
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setTitle(title or widget.windowTitle() or "bpttviz")
    gen.setDescription("exported by bpttviz")
    painter = QPainter(gen)
    QWidget.render(widget, painter)
    painter.end()
    buf.close()
    _write_bytes(path, bytes(ba))


def save_pdf(widget, path: str, title: str = "") -> None:
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QSizeF
    from PyQt5.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter
    from PyQt5.QtWidgets import QWidget

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    writer = QPdfWriter(buf)
    size = widget.size()
    # One PDF point per logical pixel: the page is exactly the panel, ready for a slide.
    writer.setPageLayout(QPageLayout(QPageSize(QSizeF(size.width(), size.height()), QPageSize.Point),
                                     QPageLayout.Landscape if size.width() > size.height() else QPageLayout.Portrait,
                                     QMarginsF(0, 0, 0, 0)))
    writer.setResolution(72)
    writer.setTitle(title or "bpttviz")
    writer.setCreator("bpttviz")
    painter = QPainter(writer)
    rect = painter.viewport()
    painter.scale(rect.width() / max(1, size.width()), rect.height() / max(1, size.height()))
    QWidget.render(widget, painter)
    painter.end()
    buf.close()
    _write_bytes(path, bytes(ba))


def _write_bytes(path: str, data: bytes) -> None:
    from .session import atomic_write
    try:
        atomic_write(path, data)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None


# --- numbers -----------------------------------------------------------------------------
def table_csv(columns: Sequence[str], array) -> str:
    """CSV text of a table: a header row then one row per array row, full float precision
    (repr round-trips exactly, so the CSV equals the trace to the last bit)."""
    arr = np.asarray(array)
    if arr.ndim == 1:
        arr = arr[:, None]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(columns))
    index_cols = [str(c).lower() in _INDEX_COLUMNS for c in columns]
    for row in arr:
        w.writerow([_cell(v, is_index) for v, is_index in zip(row, index_cols)])
    return out.getvalue()


#: Columns that hold timesteps or indices: written as integers, not "10.0".
_INDEX_COLUMNS = {"t", "k", "step", "iteration", "distance", "input", "target", "index", "unit"}


def _cell(v, is_index: bool = False):
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        if is_index and float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def read_csv_table(path: str):
    """Read a table written by :func:`table_csv`: ``(columns, float array)`` (blank = NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    cols = rows[0]
    data = np.array([[float(x) if x != "" else np.nan for x in r] for r in rows[1:]], dtype=float)
    return cols, data.reshape(len(rows) - 1, len(cols))


def save_csv_tables(panel, folder: str) -> List[str]:
    """Write every table of a panel as ``<key>.csv`` or ``<key>_<suffix>.csv``. Returns paths."""
    paths = []
    for suffix, (columns, array) in panel.csv_tables().items():
        name = panel.key + (f"_{suffix}" if suffix else "") + ".csv"
        path = os.path.join(folder, name)
        _write_bytes(path, table_csv(columns, array).encode("utf-8"))
        paths.append(path)
    return paths


# --- GIF ---------------------------------------------------------------------------------
def _qimage_to_pil(img):
    from PIL import Image
    return Image.open(io.BytesIO(_qimage_bytes(img, "PNG"))).convert("RGB")


def _caption(img, text: str):
    """A copy of ``img`` with a band on top naming the event (so every frame explains itself)."""
    from PyQt5.QtCore import QRect, Qt
    from PyQt5.QtGui import QFont, QImage, QPainter
    band = max(28, img.height() // 14)
    out = QImage(img.width(), img.height() + band, QImage.Format_ARGB32)
    out.fill(Qt.white)
    p = QPainter(out)
    p.drawImage(0, band, img)
    f = QFont()
    f.setPixelSize(int(band * 0.6))
    f.setBold(True)
    p.setFont(f)
    p.setPen(Qt.black)
    from PyQt5.QtGui import QFontMetrics
    text = QFontMetrics(f).elidedText(text, Qt.ElideRight, img.width() - 20)
    p.drawText(QRect(10, 0, img.width() - 20, band), Qt.AlignVCenter | Qt.AlignLeft, text)
    p.end()
    return out


def save_gif(session, widget, path: str, width: int = 960, frame_ms: int = 400,
             progress: Optional[Callable[[int, int], None]] = None) -> int:
    """An animated GIF of a whole iteration: one frame per timeline event, the event named on
    each frame. ``widget`` is a panel or the main window. Returns the number of frames.
    The cursor is restored afterwards."""
    from PyQt5.QtWidgets import QApplication
    start = session.cursor
    frames = []
    n = len(session.events)
    try:
        for i in range(n):
            session.set_cursor(i)
            if hasattr(widget, "refresh"):
                widget.refresh()
            QApplication.processEvents()
            words, _ = session.describe_event()
            label = f"{session.current_event}   ·   {words}"
            frames.append(_qimage_to_pil(_caption(render_image(widget, width), label)))
            if progress:
                progress(i + 1, n)
    finally:
        session.set_cursor(start)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms,
                   loop=0, optimize=False, disposal=1)
    _write_bytes(path, buf.getvalue())
    return len(frames)


# --- everything at once ------------------------------------------------------------------
def check_folder(folder: str) -> str:
    """Create ``folder`` if needed and prove it is writable; ExportError naming it if not."""
    folder = os.path.abspath(os.fspath(folder))
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, ".bpttviz-write-test")
        with open(probe, "wb") as f:
            f.write(b"ok")
        os.unlink(probe)
    except OSError as e:
        raise ExportError(f"cannot write to the export folder {folder}: {e.strerror or e}") from None
    return folder


def parse_formats(text) -> List[str]:
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text) if f.strip()]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise ExportError(f"--format must be a comma-separated list of {', '.join(FORMATS)}; "
                          f"got {text!r}")
    return list(dict.fromkeys(items))


def export_panels(session, panels, folder: str, formats: Iterable[str] = ("png", "svg", "csv"),
                  width: int = DEFAULT_WIDTH, transparent: bool = False,
                  progress: Optional[Callable[[int, int, str], None]] = None,
                  window=None) -> List[ExportedFile]:
    """Export each panel in each format into ``folder`` and write ``manifest.json`` and
    ``manifest.txt`` describing every file, the preset, the event and the parameters.
    ``window`` (optional) is exported too when 'gif' is asked (the whole window)."""
    from PyQt5.QtWidgets import QApplication
    folder = check_folder(folder)
    formats = parse_formats(list(formats))
    files: List[ExportedFile] = []
    steps = len(panels) * len(formats) + (1 if window is not None and "gif" in formats else 0)
    done = 0

    def tick(what):
        nonlocal done
        done += 1
        if progress:
            progress(done, steps, what)

    for panel in panels:
        panel.refresh()
        QApplication.processEvents()
        target = panel.export_widget()
        for fmt in formats:
            base = os.path.join(folder, panel.key)
            if fmt == "png":
                save_png(target, base + ".png", width, transparent)
                files.append(ExportedFile(panel.key + ".png", panel.key, panel.title, "png",
                                          f"{panel.title} as a {width}px-wide picture"))
            elif fmt == "svg":
                save_svg(target, base + ".svg", panel.title)
                files.append(ExportedFile(panel.key + ".svg", panel.key, panel.title, "svg",
                                          f"{panel.title} as vector graphics (SVG)"))
            elif fmt == "pdf":
                save_pdf(target, base + ".pdf", panel.title)
                files.append(ExportedFile(panel.key + ".pdf", panel.key, panel.title, "pdf",
                                          f"{panel.title} as vector graphics (PDF)"))
            elif fmt == "csv":
                for p in save_csv_tables(panel, folder):
                    files.append(ExportedFile(os.path.basename(p), panel.key, panel.title, "csv",
                                              f"the numbers {panel.title} draws at this event"))
            elif fmt == "gif":
                n = save_gif(session, panel, base + ".gif", min(width, 960))
                files.append(ExportedFile(panel.key + ".gif", panel.key, panel.title, "gif",
                                          f"{panel.title}: one frame per event of the iteration ({n})"))
            tick(f"{panel.key}.{fmt}")
    if window is not None and "gif" in formats:
        n = save_gif(session, window, os.path.join(folder, "window.gif"), min(width, 1280))
        files.append(ExportedFile("window.gif", "window", "Main window", "gif",
                                  f"the whole window, one frame per event ({n})"))
        tick("window.gif")
    if "csv" in formats and session.run.history.loss:
        files.append(save_loss_history(session, folder))
    write_manifest(session, folder, files)
    return files


def save_loss_history(session, folder: str) -> ExportedFile:
    """``loss_history.csv``: per iteration the loss, the smoothed loss and the gradient norm
    before and after clipping, as training recorded them."""
    h = session.run.history
    arr = np.column_stack([np.arange(len(h.loss)), h.loss, h.smooth_loss,
                           h.grad_norm_before_clip, h.grad_norm_after_clip])
    path = os.path.join(folder, "loss_history.csv")
    _write_bytes(path, table_csv(["iteration", "loss", "smooth_loss", "grad_norm_before_clip",
                                  "grad_norm_after_clip"], arr).encode())
    return ExportedFile("loss_history.csv", "loss", "Training loss", "csv",
                        "loss, smoothed loss and gradient norms per training iteration")


def session_summary(session) -> dict:
    cfg = asdict(session.config)
    text = cfg.pop("text", "")
    cfg["corpus_characters"] = len(text)
    if session.corpus_path:
        cfg["corpus_file"] = session.corpus_path
    from . import __version__
    return {"app": "bpttviz", "version": __version__,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "preset": session.preset.name if session.preset else None,
            "preset_title": session.preset.title if session.preset else None,
            "event": str(session.current_event), "event_words": session.describe_event()[0],
            "equation": session.describe_event()[1], "iteration": session.iteration,
            "loss": session.trace.loss, "config": cfg}


def write_manifest(session, folder: str, files: List[ExportedFile]) -> None:
    info = session_summary(session)
    info["files"] = [asdict(f) for f in files]
    _write_bytes(os.path.join(folder, "manifest.json"), json.dumps(info, indent=2).encode())
    lines = [f"bpttviz export — {info['preset_title'] or 'custom session'}",
             f"event: {info['event']} ({info['event_words']})",
             f"equation: {info['equation']}",
             f"iteration: {info['iteration']}   loss: {info['loss']:.6g}",
             "parameters: " + ", ".join(f"{k}={v}" for k, v in info["config"].items()
                                        if k not in ("inputs", "targets", "vocab")),
             "", "files:"]
    lines += [f"  {f.file:32s} {f.description}" for f in files]
    _write_bytes(os.path.join(folder, "manifest.txt"), ("\n".join(lines) + "\n").encode())


def build_panels(session, keys: Optional[Sequence[str]] = None, size=PANEL_SIZE):
    """Instantiate panels (all, or those named) as shown top-level widgets of ``size``."""
    from .gui.panels import PANELS
    from .gui.style import configure_pyqtgraph
    from PyQt5.QtWidgets import QApplication
    configure_pyqtgraph()
    known = {cls.key: cls for cls in PANELS}
    if keys:
        bad = [k for k in keys if k not in known and k != "window"]
        if bad:
            raise ExportError(f"--panels must name panels from {', '.join(known)} (or window); "
                              f"got {', '.join(bad)}")
    classes = [known[k] for k in keys if k in known] if keys else list(PANELS)
    panels = []
    for cls in classes:
        p = cls(session)
        p.resize(*size)
        p.show()
        panels.append(p)
    QApplication.processEvents()
    return panels


# --- command line ------------------------------------------------------------------------
def _parser():
    ap = argparse.ArgumentParser(prog="bpttviz export", description=(
        "Export the panels of a session as pictures (PNG/SVG/PDF), numbers (CSV) and "
        "animations (GIF), with no display needed."))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--preset", help="start from this preset (see bpttviz --list-presets)")
    src.add_argument("--session", help="a saved session file (.npz)")
    ap.add_argument("--corpus", help="a UTF-8 text file to use as the corpus")
    ap.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="recurrent cell")
    ap.add_argument("--at", help="timeline event, e.g. forward:3, backward:0, clip, update")
    ap.add_argument("--train", type=int, default=0, metavar="N", help="train N iterations first")
    ap.add_argument("--lr", type=float, help="learning rate")
    ap.add_argument("--format", default="png,svg,csv", help="comma-separated: png,svg,pdf,csv,gif")
    ap.add_argument("--width", type=int, default=DEFAULT_WIDTH, help="PNG width in pixels")
    ap.add_argument("--transparent", action="store_true", help="transparent PNG background")
    ap.add_argument("--panels", help="comma-separated panel keys (default: all); 'window' adds "
                                     "a GIF of the whole window")
    ap.add_argument("--out", required=True, help="output folder (created if needed)")
    return ap


class _ArgError(Exception):
    pass


#: Qt platform chatter that says nothing to a user of the command line.
_HARMLESS_QT = ("propagateSizeHints", "XDG_RUNTIME_DIR", "QStandardPaths")


def quiet_qt_messages() -> None:
    """Drop Qt's harmless offscreen-platform messages; pass every other one to stderr."""
    from PyQt5.QtCore import qInstallMessageHandler

    def handler(mode, context, message):
        if not any(h in message for h in _HARMLESS_QT):
            sys.stderr.write(message + "\n")
    qInstallMessageHandler(handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``bpttviz export``: 0 on success, 2 on bad arguments, 1 if the work itself fails;
    errors are one line on stderr, never a traceback."""
    ap = _parser()

    def fail(message):
        raise _ArgError(message)
    ap.error = fail  # one line, our prefix, exit 2
    try:
        args = ap.parse_args(argv)
        return _run(args)
    except _ArgError as e:
        print(f"bpttviz export: error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from .session import Session, SessionError
    if args.width is not None and not 16 <= args.width <= 10000:
        raise _ArgError(f"--width must be from 16 to 10000 pixels; got {args.width}")
    if args.train < 0 or args.train > 1_000_000:
        raise _ArgError(f"--train must be from 0 to 1000000; got {args.train}")
    try:
        formats = parse_formats(args.format)
        folder = check_folder(args.out)
    except ExportError as e:
        raise _ArgError(str(e)) from None
    keys = [k.strip() for k in args.panels.split(",") if k.strip()] if args.panels else None
    if keys:
        from .gui.panels import PANELS
        known = [cls.key for cls in PANELS]
        bad = [k for k in keys if k not in known and k != "window"]
        if bad:
            raise _ArgError(f"--panels must name panels from {', '.join(known)} (or window); "
                            f"got {', '.join(bad)}")
    if "DISPLAY" not in os.environ and "WAYLAND_DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtWidgets import QApplication
    quiet_qt_messages()
    app = QApplication.instance() or QApplication(["bpttviz-export"])
    try:
        session = Session(None)
        if args.session:
            session.open(args.session)
        else:
            session.load_preset(args.preset or "min-char-rnn")
        if args.corpus:
            session.load_corpus(args.corpus)
        changes = {}
        if args.cell:
            changes["cell"] = args.cell
        if args.lr is not None:
            changes["lr"] = args.lr
        if changes:
            session.edit("command line", **changes)
    except SessionError as e:
        raise _ArgError(str(e)) from None
    if args.train:
        try:
            session.train(args.train)
        except SessionError as e:
            print(f"bpttviz export: error: {e}", file=sys.stderr)
            return 1
    if args.at:
        try:
            session.set_event(args.at)
        except ValueError as e:
            raise _ArgError(str(e)) from None
    try:
        panels = build_panels(session, keys)
        window = None
        if "gif" in formats and keys and "window" in keys:
            from .gui.main_window import MainWindow
            window = MainWindow(session)
            window.resize(1600, 900)
            window.show()
            app.processEvents()
        files = export_panels(session, panels, folder, formats, args.width, args.transparent,
                              window=window)
    except ExportError as e:
        print(f"bpttviz export: error: {e}", file=sys.stderr)
        return 1
    print(f"bpttviz export: wrote {len(files)} files and a manifest to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

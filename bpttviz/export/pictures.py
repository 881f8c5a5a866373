"""Pictures of a panel: SVG (renderer-proof), PNG at the target resolution, PDF pages at the
panel's own aspect, and animations (GIF; MP4/WebM with ``imageio-ffmpeg``).

A *target* is a :class:`~bpttviz.export.render.Sheet`, a panel (laid out plot-only at the
slide size, titled and captioned) or any other widget (drawn as it is, e.g. the window).
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence

from .render import DEFAULT_WIDTH, PANEL_SIZE, Sheet, paint_sheet, settle
from .svgfix import fix_svg


class ExportError(Exception):
    """An export cannot be done (e.g. the folder is not writable); the message says why."""


def is_panel(target) -> bool:
    return all(hasattr(target, a) for a in ("export_widget", "csv_tables", "session", "key"))


def _fit_subwidget(panel, widget, size) -> None:
    """Resize ``panel`` so that its child ``widget`` ends up ``size`` (layouts own the child's
    geometry, so the parent is what is sized)."""
    w, h = size
    panel.resize(w, h)
    for _ in range(3):
        settle()
        dw, dh = w - widget.width(), h - widget.height()
        if abs(dw) <= 1 and abs(dh) <= 1:
            return
        panel.resize(max(50, panel.width() + dw), max(50, panel.height() + dh))


@contextmanager
def laid_out(target, with_controls: bool = False, size=PANEL_SIZE) -> Iterator[Sheet]:
    """``target`` as a :class:`Sheet` laid out for export, restored afterwards."""
    if isinstance(target, Sheet):
        with target as sheet:
            yield sheet
        return
    if not is_panel(target):
        with Sheet(target, size=None, header=False, with_controls=True) as sheet:
            yield sheet
        return
    panel = target
    widget = panel.export_widget()
    caption = panel.export_caption() if hasattr(panel, "export_caption") else ""
    old = panel.size()
    sheet = Sheet(widget, panel.title, caption, with_controls, size=None)
    try:
        with sheet:
            inner = (int(size[0]), int(size[1]) - sheet.header)
            if widget is panel:
                panel.resize(*inner)
                settle()
            else:
                _fit_subwidget(panel, widget, inner)
            flow = getattr(panel, "plot_flow", None)
            if flow is not None:
                # the arrangement for this size alone, whatever the sizes the panel passed
                # through before (an earlier export, the window's own), and never pages:
                # a slide has no tabs to turn, it shows every plot
                flow.pages_allowed = False
                flow.fit(force=True)
                settle()
            yield sheet
    finally:
        flow = getattr(panel, "plot_flow", None)
        if flow is not None:   # (pages again where the window's size calls for them)
            flow.pages_allowed = True
        panel.resize(old)
        if flow is not None:
            flow.fit(force=True)


# --- one drawing, three formats ------------------------------------------------------------------
def svg_bytes(sheet: Sheet, transparent: bool = False, title: str = "") -> bytes:
    """The sheet recorded by Qt's SVG generator and made renderer-proof (see svgfix)."""
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize
    from PyQt5.QtGui import QPainter
    from PyQt5.QtSvg import QSvgGenerator
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    # The device's resolution must be the widgets' own: pyqtgraph lays out axes and text
    # with the painter's font metrics, and a 72-dpi generator would shrink them.
    gen.setResolution(sheet.widget.logicalDpiX())
    gen.setSize(QSize(sheet.width, sheet.height))
    gen.setViewBox(QRect(0, 0, sheet.width, sheet.height))
    painter = QPainter(gen)
    try:
        paint_sheet(painter, sheet, transparent)
    finally:
        painter.end()
    buf.close()
    return fix_svg(bytes(ba), sheet.width, sheet.height, title or sheet.title or "bpttviz")


def _renderer(svg: bytes):
    from PyQt5.QtCore import QByteArray
    from PyQt5.QtSvg import QSvgRenderer
    r = QSvgRenderer(QByteArray(svg))
    if not r.isValid():
        raise ExportError("the drawing could not be read back (invalid SVG)")
    return r


def raster(svg: bytes, size, width: int, transparent: bool = False):
    """QImage ``width`` px wide of a drawing of logical ``size``: painted at that resolution."""
    from PyQt5.QtCore import QRectF, Qt
    from PyQt5.QtGui import QImage, QPainter
    w, h = size
    width = int(width)
    height = max(1, round(h * width / max(1, w)))
    img = QImage(width, height, QImage.Format_ARGB32)
    img.fill(Qt.transparent if transparent else Qt.white)
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    p.setRenderHint(QPainter.TextAntialiasing)
    _renderer(svg).render(p, QRectF(0, 0, width, height))
    p.end()
    return img


def direct_image(sheet: Sheet, width: int, transparent: bool = False):
    """QImage of the sheet painted straight onto pixels (fast; used for animation frames,
    which are drawn at about their logical size, where cosmetic pens are right)."""
    from PyQt5.QtCore import Qt
    from PyQt5.QtGui import QImage, QPainter
    scale = int(width) / max(1, sheet.width)
    img = QImage(int(width), max(1, round(sheet.height * scale)), QImage.Format_ARGB32)
    img.fill(Qt.transparent if transparent else Qt.white)
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    p.setRenderHint(QPainter.TextAntialiasing)
    p.scale(scale, scale)
    paint_sheet(p, sheet, transparent)
    p.end()
    return img


def render_image(target, width: int = DEFAULT_WIDTH, transparent: bool = False,
                 with_controls: bool = False):
    """``target`` as a QImage ``width`` pixels wide (the height keeps its aspect), painted
    at that resolution: vectors, symbols and text are sharp at any width."""
    with laid_out(target, with_controls) as sheet:
        if abs(int(width) - sheet.width) <= 1:
            return direct_image(sheet, width, transparent)
        return raster(svg_bytes(sheet, transparent), (sheet.width, sheet.height), width, transparent)


def qimage_bytes(img, fmt: str = "PNG") -> bytes:
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    if not img.save(buf, fmt):
        raise ExportError(f"Qt could not encode a {fmt} image")
    buf.close()
    return bytes(ba)


def write_bytes(path, data: bytes) -> None:
    from ..session import atomic_write
    try:
        atomic_write(os.fspath(path), data)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None


def save_png(target, path, width: int = DEFAULT_WIDTH, transparent: bool = False,
             with_controls: bool = False) -> None:
    write_bytes(path, qimage_bytes(render_image(target, width, transparent, with_controls)))


def save_svg(target, path, title: str = "", with_controls: bool = False) -> None:
    """``title`` names the document (default: the panel's title)."""
    with laid_out(target, with_controls) as sheet:
        write_bytes(path, svg_bytes(sheet, title=title))


def pdf_bytes(sheets: Sequence[Sheet], title: str = "bpttviz") -> bytes:
    """A PDF with one page per sheet, each page exactly its sheet's shape, painted straight
    into Qt's PDF engine: vectors stay vectors, text is text with embedded fonts, images
    are lossless at their own resolution.  The page's device resolution is the widgets'
    DPI, so one device unit is one logical pixel: cosmetic pens, symbol sizes and
    pyqtgraph's font-metric layout come out as on screen (at 72 dpi the axes shrank)."""
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QSizeF
    from PyQt5.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter
    if not sheets:
        raise ExportError("nothing to put in the PDF")
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    writer = QPdfWriter(buf)
    dpi = sheets[0].widget.logicalDpiX()
    writer.setResolution(dpi)
    writer.setTitle(title)
    writer.setCreator("bpttviz")

    def layout(sheet):
        size = QSizeF(sheet.width * 72.0 / dpi, sheet.height * 72.0 / dpi)
        # Portrait orientation of an exact size: a page wider than tall must not be turned.
        return QPageLayout(QPageSize(size, QPageSize.Point, "", QPageSize.ExactMatch),
                           QPageLayout.Portrait, QMarginsF(0, 0, 0, 0))
    writer.setPageLayout(layout(sheets[0]))
    painter = QPainter(writer)
    try:
        for i, sheet in enumerate(sheets):
            if i:
                writer.setPageLayout(layout(sheet))
                writer.newPage()
            painter.setRenderHint(QPainter.LosslessImageRendering)
            painter.setRenderHint(QPainter.Antialiasing)
            paint_sheet(painter, sheet)
    finally:
        painter.end()
    buf.close()
    return bytes(ba)


def save_pdf(target, path, title: str = "", with_controls: bool = False) -> None:
    with laid_out(target, with_controls) as sheet:
        write_bytes(path, pdf_bytes([sheet], title or sheet.title or "bpttviz"))


# --- animations ------------------------------------------------------------------------------------
def _frames(session, target, width: int, progress: Optional[Callable[[int, int], None]] = None):
    """Yield one RGB PIL image per timeline event, drawn offscreen.  For a panel: a fresh copy
    on ``session.snapshot()`` (the session's own cursor, and the window, never move);
    for another widget: the widget is stepped through ``session`` (pass a snapshot) and the
    cursor is put back."""
    from PIL import Image
    copy = None
    if is_panel(target) and hasattr(session, "snapshot"):
        snap = session.snapshot()
        copy = type(target)(snap)
        if hasattr(target, "view_state"):
            copy.restore_view_state(target.view_state())
        from PyQt5.QtCore import Qt
        copy.setAttribute(Qt.WA_DontShowOnScreen, True)
        copy.resize(*PANEL_SIZE)
        copy.show()
        settle()
        target, session = copy, snap
    start = session.cursor
    n = len(session.events)
    try:
        with laid_out(target) as sheet:
            for i in range(n):
                session.set_cursor(i)
                if is_panel(target):
                    if getattr(target, "_dirty", True):
                        target.refresh()
                    sheet.caption = target.export_caption() if hasattr(target, "export_caption") else ""
                else:
                    settle()
                img = direct_image(sheet, width)
                img = img.convertToFormat(img.Format_RGB888)
                ptr = img.constBits()
                ptr.setsize(img.byteCount())
                frame = Image.frombuffer("RGB", (img.width(), img.height()), bytes(ptr),
                                         "raw", "RGB", img.bytesPerLine(), 1)
                yield frame
                if progress:
                    progress(i + 1, n)
    finally:
        if copy is None:
            session.set_cursor(start)
        else:
            copy.close()
            copy.deleteLater()


def save_gif(session, target, path, width: int = 960, frame_ms: int = 400,
             progress: Optional[Callable[[int, int], None]] = None) -> int:
    """An animated GIF of a whole iteration: one frame per timeline event, each captioned
    with its event. Returns the number of frames."""
    frames: List = []
    for f in _frames(session, target, width, progress):
        frames.append(f.quantize(colors=255, method=2, dither=0))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms,
                   loop=0, optimize=False, disposal=1)
    write_bytes(path, buf.getvalue())
    return len(frames)


VIDEO_CODECS = {"mp4": ("libx264", ["-crf", "18", "-preset", "veryfast"]),
                "webm": ("libvpx-vp9", ["-crf", "32", "-b:v", "0", "-deadline", "realtime"])}


def video_unavailable() -> Optional[str]:
    """None if MP4/WebM can be written, else why not (and how to get it)."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return ("MP4 and WebM need the optional package imageio-ffmpeg "
                "(pip install 'bpttviz[video]' or pip install imageio-ffmpeg)")
    return None


def save_video(session, target, path, width: int = 960, frame_ms: int = 400,
               progress: Optional[Callable[[int, int], None]] = None, fmt: str = "mp4") -> int:
    """The animation of :func:`save_gif` as MP4 (H.264) or WebM (VP9), via imageio-ffmpeg's
    own ffmpeg. Returns the number of frames."""
    reason = video_unavailable()
    if reason:
        raise ExportError(reason)
    import imageio_ffmpeg
    codec, params = VIDEO_CODECS[fmt]
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.part.{fmt}")
    n = 0
    writer = None
    try:
        for frame in _frames(session, target, width, progress):
            w, h = frame.size
            frame = frame.crop((0, 0, w - w % 2, h - h % 2))  # yuv420p needs even sizes
            if writer is None:
                writer = imageio_ffmpeg.write_frames(tmp, frame.size, fps=1000.0 / frame_ms,
                                                     codec=codec, pix_fmt_out="yuv420p",
                                                     macro_block_size=2, output_params=params,
                                                     ffmpeg_log_level="error")
                writer.send(None)
            writer.send(frame.tobytes())
            n += 1
        if writer is not None:
            writer.close()
            writer = None
        os.replace(tmp, path)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    except RuntimeError as e:  # ffmpeg's own failure
        raise ExportError(f"the video encoder failed: {str(e).strip().splitlines()[-1][:200]}") from None
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return n

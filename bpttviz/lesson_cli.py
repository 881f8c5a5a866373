"""``bpttviz lesson --list`` and ``bpttviz lesson NAME --export DIR [--format png,pdf]``.

One slide per lesson step — the step's views drawn at its event, beside its narration — as
``DIR/NAME-stepNN.png``, and the whole lesson as one PDF deck ``DIR/NAME.pdf`` with a page
per step.  NAME is a shipped lesson, one of the user's (recorded in the window), a path to a
lesson file, or ``all``.  Drawn offscreen: no window, no screen needed.  Errors are one line,
``bpttviz: error: ...``: exit 2 for bad input (unknown lesson, broken lesson file, unusable
folder), 1 if drawing or writing fails.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

SLIDE_SIZE = (1920, 1080)
SLIDE_FORMATS = ("png", "pdf")


class _ArgError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bpttviz lesson", description=(
        "List the lessons, or export one as slides: an image per step and a PDF deck."))
    ap.add_argument("name", nargs="?", help="a lesson name (see --list), a lesson file, or 'all'")
    ap.add_argument("--list", action="store_true", help="list the lessons, name first")
    ap.add_argument("--export", metavar="DIR", help="write the slides into DIR (created if needed)")
    ap.add_argument("--format", default="png,pdf", help="comma-separated: png,pdf (default both)")
    ap.add_argument("--width", type=int, default=SLIDE_SIZE[0], help="slide width in pixels")
    return ap


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"bpttviz: error: {' '.join(str(message).split())}\n")
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = _parser()

    def error(message):
        raise _ArgError(message)
    ap.error = error
    try:
        args = ap.parse_args(list(argv or []))
        if args.list:
            return _list()
        return _export(args)
    except _ArgError as e:
        return _fail(e, 2)


def _list() -> int:
    from .teach.lessons import LessonError, list_lessons, list_user_lessons, load_lesson
    for name in list_lessons() + list_user_lessons():
        try:
            lesson = load_lesson(name)
            print(f"{name:22s} {lesson.title} ({len(lesson.steps)} steps, preset {lesson.preset})")
            if lesson.summary:
                print(f"{'':22s}   {lesson.summary}")
        except LessonError as e:
            print(f"{name:22s} (unreadable) {e}")
    return 0


def _formats(text: str) -> List[str]:
    out = [f.strip().lower() for f in str(text).split(",") if f.strip()]
    bad = [f for f in out if f not in SLIDE_FORMATS]
    if not out or bad:
        raise _ArgError(f"--format must be png, pdf or png,pdf; got {text!r}")
    return list(dict.fromkeys(out))


def _export(args) -> int:
    from .export import ExportError, check_folder
    from .teach.lessons import LessonError, list_lessons, load_lesson
    if not args.name:
        raise _ArgError("name a lesson (bpttviz lesson --list shows them) and --export DIR")
    if not args.export:
        raise _ArgError("say where the slides go: --export DIR")
    formats = _formats(args.format)
    if not 320 <= args.width <= 7680:
        raise _ArgError(f"--width must be from 320 to 7680 pixels; got {args.width}")
    names = list_lessons() if args.name == "all" else [args.name]
    try:
        lessons = [load_lesson(n) for n in names]
    except LessonError as e:
        raise _ArgError(str(e)) from None
    try:
        folder = check_folder(args.export)
    except ExportError as e:
        raise _ArgError(str(e)) from None
    if "DISPLAY" not in os.environ and "WAYLAND_DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtWidgets import QApplication

    from .export import quiet_qt_messages
    quiet_qt_messages()
    app = QApplication.instance() or QApplication(["bpttviz-lesson"])  # noqa: F841
    written = 0
    maker = SlideMaker()
    try:
        for lesson in lessons:
            try:
                written += len(export_lesson(lesson, folder, formats, args.width, maker))
            except (ExportError, OSError) as e:
                return _fail(f"{lesson.name}: {getattr(e, 'strerror', None) or e}", 1)
            except Exception as e:  # noqa: BLE001 -- a session refusal or a drawing bug: one line
                return _fail(f"{lesson.name}: {type(e).__name__}: {e}", 1)
    finally:
        maker.close()
    print(f"bpttviz lesson: wrote {written} files to {folder}")
    return 0


class SlideMaker:
    """One session and one copy of each panel, shared by the lessons exported together (the
    panels follow the session from lesson to lesson; building them is most of the work)."""

    def __init__(self):
        from .session import Session
        self.session = Session(None)
        self.panels: Dict[str, object] = {}

    def close(self) -> None:
        for p in self.panels.values():
            p.close()
            p.deleteLater()
        self.panels.clear()


def export_lesson(lesson, folder: str, formats=("png", "pdf"), width: int = SLIDE_SIZE[0],
                  maker: Optional[SlideMaker] = None) -> List[str]:
    """Write the slides of ``lesson`` into ``folder``; returns the files written."""
    from PyQt5.QtWidgets import QApplication

    from .export import build_panels
    from .export.pictures import qimage_bytes, write_bytes
    from .teach.lessons import apply_step

    own = maker is None
    maker = maker or SlideMaker()
    session, panels = maker.session, maker.panels
    images = []
    files = []
    try:
        for i, step in enumerate(lesson.steps):
            for key, p in panels.items():  # a hidden panel does not redraw at every change
                if key not in step.views:
                    p.hide()
            apply_step(session, lesson, i)
            for key in step.views:
                if key in panels:
                    panels[key].show()
            missing = [k for k in step.views if k not in panels]
            if missing:
                for p in build_panels(session, missing):
                    panels[p.key] = p
            QApplication.processEvents()
            shown = [panels[k] for k in step.views]
            for p in shown:
                p.refresh()
            img = render_slide(lesson, i, shown, width)
            images.append(img)
            if "png" in formats:
                path = os.path.join(folder, f"{lesson.name}-step{i + 1:02d}.png")
                write_bytes(path, qimage_bytes(img, "PNG"))
                files.append(path)
        if "pdf" in formats:
            path = os.path.join(folder, f"{lesson.name}.pdf")
            write_bytes(path, pdf_deck(images, lesson.title))
            files.append(path)
    finally:
        if own:
            maker.close()
    return files


def render_slide(lesson, index: int, panels, width: int = SLIDE_SIZE[0]):
    """A QImage ``width`` wide (16:9): the lesson's title and step number on top, the
    narration in a column on the left, the step's views on the right."""
    from PyQt5.QtCore import QPointF, QRectF, Qt
    from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QTextDocument

    from .export import render_image

    W, H = SLIDE_SIZE
    scale = width / W
    img = QImage(int(W * scale), int(H * scale), QImage.Format_ARGB32)
    img.fill(Qt.white)
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    p.setRenderHint(QPainter.TextAntialiasing)
    p.setRenderHint(QPainter.SmoothPixmapTransform)
    p.scale(scale, scale)
    step = lesson.steps[index]
    # title bar
    p.fillRect(QRectF(0, 0, W, 96), QColor("#1f3b63"))
    f = QFont()
    f.setPixelSize(40)
    f.setBold(True)
    p.setFont(f)
    p.setPen(QColor("white"))
    head = step.title or lesson.title
    p.drawText(QRectF(36, 0, W - 360, 96), Qt.AlignVCenter | Qt.AlignLeft | Qt.TextSingleLine,
               p.fontMetrics().elidedText(head, Qt.ElideRight, W - 400))
    f.setPixelSize(30)
    f.setBold(False)
    p.setFont(f)
    p.drawText(QRectF(W - 340, 0, 304, 96), Qt.AlignVCenter | Qt.AlignRight,
               f"step {index + 1} of {len(lesson.steps)}")
    # narration, shrunk until it fits its column
    col = QRectF(36, 130, 620, H - 170)
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    for px in (30, 27, 24, 22, 20, 18, 16, 14):
        df = QFont()
        df.setPixelSize(px)
        doc.setDefaultFont(df)
        doc.setHtml(step.narration)
        doc.setTextWidth(col.width())
        if doc.size().height() <= col.height():
            break
    p.save()
    p.translate(col.topLeft())
    doc.drawContents(p, QRectF(0, 0, col.width(), col.height()))
    p.restore()
    # views
    area = QRectF(700, 120, W - 736, H - 150)
    n = max(1, len(panels))
    gap = 18
    cell_h = (area.height() - gap * (n - 1)) / n
    for i, panel in enumerate(panels):
        pic = render_image(panel.export_widget(), int(area.width() * scale))
        aspect = pic.height() / max(1, pic.width())
        w = min(area.width(), cell_h / aspect)
        h = w * aspect
        x = area.left() + (area.width() - w) / 2
        y = area.top() + i * (cell_h + gap) + (cell_h - h) / 2
        p.drawImage(QRectF(x, y, w, h), pic)
        p.setPen(QColor("#b0b7c3"))
        p.drawRect(QRectF(x, y, w, h))
    p.setPen(QColor("#6b7280"))
    f.setPixelSize(20)
    p.setFont(f)
    p.drawText(QPointF(36, H - 18), f"{lesson.title} · bpttviz lesson {lesson.name} · preset "
                                    f"{lesson.preset} · event {step.event}")
    p.end()
    return img


def pdf_deck(images, title: str = "bpttviz lesson") -> bytes:
    """A PDF with one page per image (16:9 pages), as bytes."""
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF
    from PyQt5.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    writer = QPdfWriter(buf)
    W, H = SLIDE_SIZE
    writer.setPageLayout(QPageLayout(QPageSize(QSizeF(W / 2, H / 2), QPageSize.Point),
                                     QPageLayout.Landscape, QMarginsF(0, 0, 0, 0)))
    writer.setResolution(144)
    writer.setTitle(title)
    writer.setCreator("bpttviz")
    painter = QPainter(writer)
    for i, img in enumerate(images):
        if i:
            writer.newPage()
        rect = painter.viewport()
        painter.drawImage(QRectF(0, 0, rect.width(), rect.height()), img)
    painter.end()
    buf.close()
    return bytes(ba)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

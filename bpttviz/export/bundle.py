"""The export formats (one registry) and exporting many panels at once with a manifest.

:data:`FORMAT_REGISTRY` is the only list of formats: ``bpttviz export --format`` choices and
help, the window's "Export all" check boxes and file filters all read it.
"""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from .pictures import (ExportError, is_panel, laid_out, pdf_bytes, save_gif, save_png, save_svg,
                       save_pdf, save_video, video_unavailable, write_bytes)
from .render import DEFAULT_WIDTH, PANEL_SIZE
from .tables import save_csv_tables, save_loss_history_csv

#: Name of the single PDF of ``--one-file``.
ONE_FILE_PDF = "panels.pdf"


class ExportInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`export_panels`: ``files`` were finished (and are in the manifest)."""

    def __init__(self, files):
        super().__init__()
        self.files = list(files)


@dataclass
class ExportedFile:
    file: str
    panel: str
    title: str
    format: str
    description: str


def _always_available() -> Optional[str]:
    return None


@dataclass(frozen=True)
class ExportFormat:
    """One export format: ``name`` (what ``--format`` takes), file ``extension``, the words a
    user reads (``label`` on a check box, ``filter`` in a file dialog), its ``kind``
    (picture, table or animation) and ``unavailable()``: None, or why it cannot be used here."""
    name: str
    extension: str
    label: str
    filter: str
    kind: str
    unavailable: Callable[[], Optional[str]] = field(default=_always_available, compare=False)


FORMAT_REGISTRY: Dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("png", "png", "PNG pictures", "PNG pictures (*.png)", "picture"),
    ExportFormat("svg", "svg", "SVG vector graphics", "SVG vector graphics (*.svg)", "picture"),
    ExportFormat("pdf", "pdf", "PDF pages", "PDF documents (*.pdf)", "picture"),
    ExportFormat("csv", "csv", "CSV numbers (and the loss history)", "CSV tables (*.csv)", "table"),
    ExportFormat("gif", "gif", "animated GIF of this pass (one frame per event)",
                 "Animated GIF (*.gif)", "animation"),
    ExportFormat("mp4", "mp4", "MP4 video of this pass (needs imageio-ffmpeg)", "MP4 video (*.mp4)",
                 "animation", video_unavailable),
    ExportFormat("webm", "webm", "WebM video of this pass (needs imageio-ffmpeg)",
                 "WebM video (*.webm)", "animation", video_unavailable),
)}
FORMATS = tuple(FORMAT_REGISTRY)


def formats_help() -> str:
    return ", ".join(FORMATS)


def parse_formats(text) -> List[str]:
    """``"png, SVG"`` or a list -> ``["png", "svg"]`` (no repeats); ExportError naming the
    choices if any is unknown, or the reason a known one cannot be used on this machine."""
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text)
             if str(f).strip()]
    bad = [f for f in items if f not in FORMAT_REGISTRY]
    if bad or not items:
        raise ExportError(f"--format must be a comma-separated list of {formats_help()}; "
                          f"got {text!r}")
    for f in items:
        reason = FORMAT_REGISTRY[f].unavailable()
        if reason:
            raise ExportError(f"--format {f}: {reason}")
    return list(dict.fromkeys(items))


def check_folder(folder) -> str:
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


# --- everything at once ------------------------------------------------------------------------
@dataclass
class _Job:
    session: object
    folder: str
    formats: List[str]
    width: int
    transparent: bool
    with_controls: bool
    one_file: bool
    progress: Optional[Callable[[int, int, str], None]]
    steps: int
    done: int = 0
    files: List[ExportedFile] = field(default_factory=list)
    pages: List[tuple] = field(default_factory=list)

    def tick(self, what: str, advance: bool = True) -> None:
        if advance:
            self.done += 1
        if self.progress:
            self.progress(self.done, self.steps, what)


def _frame_progress(job: _Job, name: str):
    def frame(i, n):
        job.tick(f"drawing {name}: frame {i} of {n}", advance=False)
    return frame


def _export_target(job: _Job, key: str, title: str, target, fmt: str) -> None:
    base = os.path.join(job.folder, key)
    name = f"{key}.{FORMAT_REGISTRY[fmt].extension}"
    add = job.files.append
    if fmt == "png":
        save_png(target, base + ".png", job.width, job.transparent, job.with_controls)
        add(ExportedFile(name, key, title, fmt, f"{title} as a {job.width}px-wide picture"))
    elif fmt == "svg":
        save_svg(target, base + ".svg", title, job.with_controls)
        add(ExportedFile(name, key, title, fmt, f"{title} as vector graphics (SVG)"))
    elif fmt == "pdf" and job.one_file:
        job.pages.append((key, title, target))
    elif fmt == "pdf":
        save_pdf(target, base + ".pdf", title, job.with_controls)
        add(ExportedFile(name, key, title, fmt, f"{title} as vector graphics (PDF)"))
    elif fmt == "csv":
        panels = [target] if is_panel(target) else [p for p in getattr(target, "panels", {}).values()
                                                    if is_panel(p)]
        for p in panels:
            for path in save_csv_tables(p, job.folder, skip_history=True):
                add(ExportedFile(os.path.basename(path), p.key, p.title, "csv",
                                 f"the numbers {p.title} draws at this event"))
    else:  # an animation
        session = job.session if is_panel(target) else getattr(target, "session", job.session)
        width = min(job.width, 960 if is_panel(target) else 1280)
        frames = _frame_progress(job, name)
        if fmt == "gif":
            n = save_gif(session, target, base + ".gif", width, progress=frames)
        else:
            n = save_video(session, target, base + "." + fmt, width, progress=frames, fmt=fmt)
        add(ExportedFile(name, key, title, fmt, f"{title}: one frame per event of the iteration ({n})"))


def _export_step(job: _Job, key: str, title: str, target, fmt: str) -> None:
    before = len(job.files)
    _export_target(job, key, title, target, fmt)
    new = [f.file for f in job.files[before:]]
    if new:
        job.tick("wrote " + ", ".join(new))
    elif fmt == "pdf" and job.one_file:
        job.tick(f"laid out {key} for {ONE_FILE_PDF}")
    else:
        job.tick(f"{key}: nothing to write as {fmt}")


def _write_one_pdf(job: _Job) -> None:
    """Every page of ``--one-file`` in one PDF (each sheet laid out in turn)."""
    with ExitStack() as stack:
        sheets = [stack.enter_context(laid_out(t, job.with_controls)) for _, _, t in job.pages]
        write_bytes(os.path.join(job.folder, ONE_FILE_PDF), pdf_bytes(sheets, "bpttviz panels"))
    job.files.append(ExportedFile(ONE_FILE_PDF, ",".join(k for k, _, _ in job.pages), "All panels",
                                  "pdf", "every panel, one page each: "
                                  + ", ".join(t for _, t, _ in job.pages)))


def export_panels(session, panels, folder, formats: Iterable[str] = ("png", "svg", "csv"),
                  width: int = DEFAULT_WIDTH, transparent: bool = False,
                  progress: Optional[Callable[[int, int, str], None]] = None,
                  window=None, with_controls: bool = False, one_file: bool = False,
                  window_formats: Optional[Iterable[str]] = None) -> List[ExportedFile]:
    """Export each panel in each format into ``folder`` with ``manifest.json`` and
    ``manifest.txt`` describing every file, the preset, the event and the parameters.

    ``window`` (a widget, optional) is exported as ``window.<ext>`` in ``window_formats``
    (default: only the animations asked for).  ``one_file``: the PDF pages of every panel go
    into one ``panels.pdf``.  ``progress(done, total, what)`` is called after every file and
    every animation frame.  ExportError if nothing at all was written.  Interrupted
    (KeyboardInterrupt), the finished files are kept and listed in the manifest."""
    folder = check_folder(folder)
    formats = parse_formats(list(formats))
    if window_formats is None:
        window_formats = [f for f in formats if FORMAT_REGISTRY[f].kind == "animation"]
    window_formats = [f for f in window_formats if f in formats] if window is not None else []
    job = _Job(session, folder, formats, int(width), transparent, with_controls, one_file,
               progress, steps=len(panels) * len(formats) + len(window_formats))
    try:
        for panel in panels:
            panel.refresh()
            for fmt in formats:
                _export_step(job, panel.key, panel.title, panel, fmt)
        for fmt in window_formats:
            _export_step(job, "window", "Main window", window, fmt)
        if job.pages:
            _write_one_pdf(job)
        if "csv" in formats and len(session.run.history.loss):
            save_loss_history_csv(session, folder)
            job.files.append(ExportedFile("loss_history.csv", "loss", "Training loss", "csv",
                                          "loss, smoothed loss and gradient norms per training "
                                          "iteration"))
        if job.files:
            write_manifest(session, folder, job.files)
    except KeyboardInterrupt:
        # (also when Ctrl-C lands while the final manifest is written: the files are all
        # there, and a manifest marked interrupted lists them)
        if job.files:
            write_manifest(session, folder, job.files, interrupted=True)
        raise ExportInterrupted(job.files) from None
    if not job.files:
        raise ExportError("nothing was written: " + _why_nothing(panels, formats, window))
    return job.files


def _why_nothing(panels, formats, window) -> str:
    if not panels and window is None:
        return "no panel was chosen"
    if set(formats) <= {"csv"}:
        names = ", ".join(p.title for p in panels) or "the window"
        return f"{names} draw no table of numbers at this event"
    return "no panel drew anything in the formats asked (" + ", ".join(formats) + ")"


def session_summary(session) -> dict:
    cfg = asdict(session.config)
    text = cfg.pop("text", "")
    cfg["corpus_characters"] = len(text)
    corpus = getattr(session, "corpus_path", None)
    if corpus:
        cfg["corpus_file"] = corpus
    from .._version import __version__
    words, equation = session.describe_event()
    return {"app": "bpttviz", "version": __version__,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "preset": session.preset.name if session.preset else None,
            "preset_title": session.preset.title if session.preset else None,
            "event": str(session.state.event), "event_words": words,
            "equation": equation, "iteration": session.iteration,
            "loss": session.trace.loss, "config": cfg}


def write_manifest(session, folder: str, files: List[ExportedFile], interrupted: bool = False) -> None:
    info = session_summary(session)
    if interrupted:
        info["interrupted"] = True
    info["files"] = [asdict(f) for f in files]
    write_bytes(os.path.join(folder, "manifest.json"), json.dumps(info, indent=2).encode())
    lines = [f"bpttviz export — {info['preset_title'] or 'custom session'}"
             + ("  (interrupted: only the files below were finished)" if interrupted else ""),
             f"event: {info['event']} ({info['event_words']})",
             f"equation: {info['equation']}",
             f"iteration: {info['iteration']}   loss: {info['loss']:.6g}",
             "parameters: " + ", ".join(f"{k}={v}" for k, v in info["config"].items()
                                        if k not in ("inputs", "targets", "vocab")),
             "", "files:"]
    lines += [f"  {f.file:32s} {f.description}" for f in files]
    write_bytes(os.path.join(folder, "manifest.txt"), ("\n".join(lines) + "\n").encode())


def panel_keys() -> List[str]:
    from ..gui.panels import PANELS
    return [cls.key for cls in PANELS]


def build_panels(session, keys: Optional[Sequence[str]] = None, size=PANEL_SIZE):
    """Instantiate panels (all, or those named; ``window`` is skipped) as shown top-level
    widgets of ``size``."""
    from PyQt5.QtWidgets import QApplication

    from ..gui.panels import PANELS
    from ..gui.style import configure_pyqtgraph
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


#: Qt platform chatter that says nothing to a user of the command line.
_HARMLESS_QT = ("propagateSizeHints", "XDG_RUNTIME_DIR", "QStandardPaths")


def _qt_message(mode, context, message):
    if not any(h in message for h in _HARMLESS_QT):
        sys.stderr.write(message + "\n")


def quiet_qt_messages() -> None:
    """Drop Qt's harmless offscreen-platform messages; pass every other one to stderr."""
    from PyQt5.QtCore import qInstallMessageHandler
    qInstallMessageHandler(_qt_message)

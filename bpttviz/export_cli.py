"""``bpttviz export``: the export library (:mod:`bpttviz.export`) from the command line, with
no display needed.

Exit codes: 0 done, 2 bad arguments, 1 the work failed or wrote nothing, 130 interrupted
(Ctrl-C: the finished files are kept and listed in the manifest).  Every error is one line
on stderr; exports that take longer than a second print their progress there too.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional, Sequence

from .export import (DEFAULT_WIDTH, FORMAT_REGISTRY, ONE_FILE_PDF, ExportError, build_panels,
                     check_folder, export_panels, formats_help, panel_keys, parse_formats,
                     quiet_qt_messages)

PROG = "bpttviz export"
#: Size the whole window is laid out at for ``--panels window``.
WINDOW_SIZE = (1600, 900)


def _parser():
    ap = argparse.ArgumentParser(prog=PROG, description=(
        "Export the panels of a session as pictures (PNG/SVG/PDF), numbers (CSV) and "
        "animations (GIF, MP4/WebM), with no display needed."), epilog="Formats: " + "; ".join(
        f"{f.name}: {f.label}" for f in FORMAT_REGISTRY.values()))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--preset", help="start from this preset (see bpttviz --list-presets)")
    src.add_argument("--session", help="a saved session file (.npz)")
    ap.add_argument("--corpus", help="a UTF-8 text file to use as the corpus")
    ap.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="recurrent cell")
    ap.add_argument("--at", help="timeline event, e.g. forward:3, backward:0, clip, update")
    ap.add_argument("--train", type=int, default=0, metavar="N", help="train N iterations first")
    ap.add_argument("--lr", type=float, help="learning rate")
    ap.add_argument("--format", default="png,svg,csv", help=f"comma-separated: {formats_help()}")
    ap.add_argument("--width", type=int, default=DEFAULT_WIDTH,
                    help="picture width in pixels (PNG; animations at most 960, the window 1280)")
    ap.add_argument("--transparent", action="store_true", help="transparent PNG background")
    ap.add_argument("--with-controls", action="store_true",
                    help="draw each view's controls (buttons, sliders, hints) as on screen; "
                         "default: the plot only, with its title and the event's caption")
    ap.add_argument("--one-file", action="store_true",
                    help=f"with --format pdf: every panel as one page of a single {ONE_FILE_PDF}")
    ap.add_argument("--panels", help="comma-separated panel keys (default: all); 'window' "
                                     "writes the whole window in every format asked")
    ap.add_argument("--out", required=True, help="output folder (created if needed)")
    return ap


class _ArgError(Exception):
    pass


class ProgressPrinter:
    """``progress(done, total, what)`` for the library: one line on stderr at most every half
    second, starting once the work has taken a second (short exports stay silent)."""

    def __init__(self, stream=None, after: float = 1.0, every: float = 0.5):
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.after, self.every = after, every
        self.last = None
        self.printed = False

    def say(self, text: str) -> None:
        self.stream.write(f"{PROG}: {text}\n")
        self.stream.flush()
        self.printed = True

    def due(self, final: bool = False) -> bool:
        now = time.monotonic()
        if now - self.start < self.after:
            return False
        if final or self.last is None or now - self.last >= self.every:
            self.last = now
            return True
        return False

    def __call__(self, done: int, total: int, what: str = "") -> None:
        if self.due(final=done >= total and self.printed):
            self.say(f"[{done}/{total}] {what}")

    def training(self, done: int, total: int) -> None:
        if self.due(final=done >= total and self.printed):
            self.say(f"training: {done:,} of {total:,} iterations")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``bpttviz export``: 0 on success, 2 on bad arguments, 1 if the work itself fails or
    writes nothing, 130 if interrupted; errors are one line on stderr, never a traceback."""
    ap = _parser()

    def fail(message):
        raise _ArgError(message)
    ap.error = fail  # one line, our prefix, exit 2
    try:
        args = ap.parse_args(argv)
        return _run(args)
    except _ArgError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


def _check(args):
    if args.width is not None and not 16 <= args.width <= 10000:
        raise _ArgError(f"--width must be from 16 to 10000 pixels; got {args.width}")
    if args.train < 0 or args.train > 1_000_000:
        raise _ArgError(f"--train must be from 0 to 1000000; got {args.train}")
    try:
        formats = parse_formats(args.format)
    except ExportError as e:
        raise _ArgError(str(e)) from None
    if args.one_file and "pdf" not in formats:
        raise _ArgError("--one-file puts every panel into one PDF: it needs pdf in --format")
    if not args.out.strip():
        # (an empty name is no folder: it wrote into the current one)
        raise _ArgError("--out needs a folder name; got an empty one")
    if args.at is not None and not args.at.strip():
        raise _ArgError("--at needs an event (forward:N, backward:N, clip, update, start or "
                        "end); got an empty one")
    try:
        folder = check_folder(args.out)
    except ExportError as e:
        raise _ArgError(str(e)) from None
    keys = [k.strip() for k in args.panels.split(",") if k.strip()] if args.panels else None
    if args.panels is not None and not keys:
        raise _ArgError("--panels names no panel")
    if keys:
        known = panel_keys()
        bad = [k for k in keys if k not in known and k != "window"]
        if bad:
            raise _ArgError(f"--panels must name panels from {', '.join(known)} (or window); "
                            f"got {', '.join(bad)}")
    return formats, folder, keys


def _session(args):
    from .session import Session, SessionError
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
    return session


def _run(args) -> int:
    formats, folder, keys = _check(args)
    if "DISPLAY" not in os.environ and "WAYLAND_DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtWidgets import QApplication

    from .session import SessionError
    quiet_qt_messages()
    app = QApplication.instance() or QApplication(["bpttviz-export"])
    progress = ProgressPrinter()
    files = None
    try:
        session = _session(args)
        if args.train:
            try:
                session.train(args.train, progress=_TrainingProgress(progress, args.train))
            except SessionError as e:
                print(f"{PROG}: error: {e}", file=sys.stderr)
                return 1
        if args.at is not None:
            try:
                session.set_event(args.at)
            except ValueError as e:
                raise _ArgError(str(e)) from None
        try:
            named = [k for k in keys if k != "window"] if keys else None
            panels = build_panels(session, named) if named is None or named else []
            window = None
            if keys and "window" in keys:
                window = _window(session, app)
            files = export_panels(session, panels, folder, formats, args.width, args.transparent,
                                  progress=progress, window=window,
                                  with_controls=args.with_controls, one_file=args.one_file,
                                  window_formats=formats if window is not None else None)
        except ExportError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 1
    except KeyboardInterrupt as e:
        # ExportInterrupted lists what was finished; after export_panels returned, all was
        kept = len(getattr(e, "files", files or []))
        print(f"{PROG}: interrupted; kept {kept} finished file{'s' if kept != 1 else ''}"
              f"{' (listed in manifest.txt)' if kept else ''} in {folder}", file=sys.stderr)
        return 130
    print(f"{PROG}: wrote {len(files)} files and a manifest to {folder}")
    return 0


class _TrainingProgress:
    """``progress(done)`` for Session.train, printed through the export's printer."""

    def __init__(self, printer: ProgressPrinter, total: int):
        self.printer, self.total = printer, total

    def __call__(self, done: int) -> None:
        self.printer.training(done, self.total)


def _window(session, app):
    """The whole window on ``session``, laid out offscreen at :data:`WINDOW_SIZE`."""
    from PyQt5.QtCore import Qt

    from .gui.main_window import MainWindow
    window = MainWindow(session)
    window.setAttribute(Qt.WA_DontShowOnScreen, True)
    window.resize(*WINDOW_SIZE)
    window.show()
    app.processEvents()
    return window


if __name__ == "__main__":
    raise SystemExit(main())

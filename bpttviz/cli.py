"""Command line: ``bpttviz [--preset NAME] [--corpus FILE] [--cell rnn|lstm|gru] [--at EVENT]
[--screenshot PNG] [--list-presets] [--version]`` and ``bpttviz export ...``.

Bad arguments give one line on stderr, ``bpttviz: error: ...``, and exit code 2 -- never a
traceback.  Without a screen the window is not attempted (exit 1 with what to do instead).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from typing import List, Optional

# The model's matrices are tiny: BLAS worker threads only spin and fight for the cores (measured
# 20x slower SVDs on a busy 2-core machine).  Must be set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

NO_SCREEN = ("bpttviz: no screen found: use `bpttviz export`, `--screenshot`, or run under "
             "Xvfb (xvfb-run bpttviz)")
#: Debian/Ubuntu packages Qt's xcb platform plugin needs beyond the PyQt5 wheel.
XCB_DEBS = ("libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
            "libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 "
            "libgl1 libegl1 libfontconfig1 libdbus-1-3")
#: shared library name prefix -> Debian package
LIB_TO_DEB = {"libxcb-icccm": "libxcb-icccm4", "libxcb-image": "libxcb-image0",
              "libxcb-keysyms": "libxcb-keysyms1", "libxcb-randr": "libxcb-randr0",
              "libxcb-render-util": "libxcb-render-util0", "libxcb-shape": "libxcb-shape0",
              "libxcb-xfixes": "libxcb-xfixes0", "libxcb-xinerama": "libxcb-xinerama0",
              "libxcb-xkb": "libxcb-xkb1", "libxkbcommon-x11": "libxkbcommon-x11-0",
              "libxkbcommon.": "libxkbcommon0", "libGL.": "libgl1", "libEGL": "libegl1",
              "libfontconfig": "libfontconfig1", "libdbus-1": "libdbus-1-3",
              "libxcb-util": "libxcb-util1", "libxcb-cursor": "libxcb-cursor0"}
#: platforms that need no screen
HEADLESS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "webgl")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bpttviz", description="Step through backpropagation through time in a "
                "tiny RNN, one timestep at a time.",
                epilog="Subcommand: `bpttviz export ...` writes pictures/CSV without a window "
                       "(see `bpttviz export --help`). "
                       "`bpttviz check FILE.py` checks your own BPTT code against the engine; "
                       "`bpttviz lesson --list` lists the lessons, `bpttviz lesson NAME --export DIR` makes slides.")
    p.add_argument("--preset", metavar="NAME", help="start from this preset (see --list-presets)")
    p.add_argument("--corpus", metavar="FILE", help="train on this UTF-8 text file")
    p.add_argument("--cell", metavar="NAME", help="recurrent cell: rnn, lstm, gru or any registered cell")
    p.add_argument("--at", metavar="EVENT", help="start at this event: forward:N, backward:N, "
                   "clip, update, start or end")
    p.add_argument("--screenshot", metavar="PNG", help="draw the window offscreen into PNG "
                   "(no screen needed) and exit")
    p.add_argument("--size", metavar="WxH", default="1600x900",
                   help="window size for --screenshot (default 1600x900; at least 1280x720)")
    p.add_argument("--presentation", action="store_true",
                   help="with --screenshot: as presentation mode (F11) shows it")
    p.add_argument("--theme", metavar="NAME", help="colour theme: light, high-contrast or dark")
    p.add_argument("--view", metavar="NAME", help="bring this view to the front (see --list-views)")
    p.add_argument("--no-restore", action="store_true",
                   help="do not offer to restore the autosave of a run that did not end cleanly")
    p.add_argument("--list-views", action="store_true", help="list the views, one a line, name first")
    p.add_argument("--list-presets", action="store_true", help="list the presets and what each teaches")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def _fail(message: str, code: int = 2) -> int:
    message = " ".join(str(message).split())  # always one line
    sys.stderr.write(f"bpttviz: error: {message}\n")
    return code


def _list_presets() -> int:
    from .engine.presets import list_presets, load_preset

    for name in list_presets():
        try:
            p = load_preset(name)
            title, teaches = p.title, p.teaches
        except Exception as e:  # noqa: BLE001 -- list what is there, say what is broken
            title, teaches = "(unreadable)", str(e)
        print(f"{name:24s} {title}")
        print(f"{'':24s}   {' '.join(teaches.split())}")
    return 0


def _list_views() -> int:
    from .gui.panels import PANELS

    for cls in PANELS:
        aliases = f" (also: {', '.join(cls.aliases)})" if cls.aliases else ""
        print(f"{cls.key:16s} {cls.title} — {cls.question}{aliases}")
    return 0


def _parse_size(text: str):
    m = re.fullmatch(r"\s*(\d{3,5})\s*[xX×]\s*(\d{3,5})\s*", str(text))
    if not m:
        raise ValueError(f"--size must look like 1366x768; got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if w < 1280 or h < 720 or w > 7680 or h > 4320:
        raise ValueError(f"--size must be from 1280x720 to 7680x4320; got {w}x{h}")
    return w, h


def _export(rest: List[str]) -> int:
    try:
        from . import export_cli
    except ImportError as e:
        return _fail(f"the export command is not available in this installation ({e})")
    return int(export_cli.main(rest) or 0)


def _platform_wanted() -> str:
    return os.environ.get("QT_QPA_PLATFORM", "").strip()


def display_problem(probe: Optional[subprocess.Popen] = None) -> Optional[str]:
    """A message if the window cannot be shown here, else None (Linux/BSD only)."""
    if sys.platform.startswith(("win", "darwin")):
        return None
    platform = _platform_wanted().split(":")[0].split(";")[0]
    if platform in HEADLESS:
        return None
    has_x, has_wayland = bool(os.environ.get("DISPLAY")), bool(os.environ.get("WAYLAND_DISPLAY"))
    if not has_x and not has_wayland:
        return NO_SCREEN
    if probe is None:
        return None
    try:
        _, err = probe.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.communicate()
        return None  # slow, not broken: let Qt try
    if probe.returncode == 0:
        return None
    return _explain_probe(err.decode("utf-8", "replace"))


def _explain_probe(err: str) -> str:
    low = err.lower()
    if "could not connect to display" in low:
        return (f"bpttviz: no screen found: cannot connect to display "
                f"{os.environ.get('DISPLAY', '')!r}; use `bpttviz export`, `--screenshot`, or run "
                "under Xvfb (xvfb-run bpttviz)")
    if "platform plugin" in low or "xcb" in low:
        missing = sorted({deb for lib, deb in LIB_TO_DEB.items()
                          for m in re.findall(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object", err)
                          if m.startswith(lib)})
        named = f" (missing: {' '.join(missing)})" if missing else ""
        return ("bpttviz: Qt could not load its X11 (xcb) platform plugin" + named + ". "
                f"On Debian/Ubuntu install: sudo apt-get install {XCB_DEBS}. Or use "
                "`bpttviz export` / `--screenshot`, which need no screen.")
    last = [line for line in err.strip().splitlines() if line.strip()][-1:] or ["unknown error"]
    return f"bpttviz: the window cannot start here: {last[0].strip()}"


def start_probe() -> Optional[subprocess.Popen]:
    """Start a tiny Qt app with the X11 plugin in a subprocess (runs while we load the model),
    so a broken plugin is a clear message instead of Qt aborting this process."""
    if sys.platform.startswith(("win", "darwin")) or os.environ.get("BPTTVIZ_NO_PROBE"):
        return None
    platform = _platform_wanted()
    if not os.environ.get("DISPLAY") or (platform and not platform.startswith("xcb")):
        return None
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", QT_DEBUG_PLUGINS="1")
    code = "from PyQt5.QtWidgets import QApplication; QApplication(['bpttviz-probe'])"
    try:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError:
        return None


def prepare_runtime(interactive: bool) -> None:
    """Process-wide set-up shared by the app and its benchmarks.

    Every training step frees a trace of ~0.8 MB: keep it instead of letting glibc return it
    to the OS and fault it back in (bpttviz/engine/allocator.py).  For the window, importing
    Numba and loading the compiled rnn kernels (~0.4 s) waits until after its first paint
    (MainWindow starts it); the first traces use the numpy kernels meanwhile.
    """
    from .engine import kernels
    from .engine.allocator import keep_freed_memory

    keep_freed_memory()
    if interactive:
        kernels.defer_loading()


def main(argv: Optional[List[str]] = None) -> int:
    """The ``bpttviz`` command.  Output piped into a command that stops reading
    (``bpttviz --list-views | head``) ends quietly, not with a BrokenPipeError traceback."""
    try:
        return _main(argv)
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 0


def _main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        return _export(argv[1:])
    if argv and argv[0] == "check":
        from . import check_cli
        return check_cli.main(argv[1:])
    if argv and argv[0] == "lesson":  # bpttviz lesson --list | NAME --export DIR
        from . import lesson_cli
        return int(lesson_cli.main(argv[1:]) or 0)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        return _fail(e)
    if args.version:
        from ._version import __version__
        print(f"bpttviz {__version__}")
        return 0
    if args.list_presets:
        return _list_presets()
    if args.list_views:
        return _list_views()
    if args.cell is not None:
        from .engine.cellspec import CELLS
        if args.cell not in CELLS:
            return _fail(f"--cell: unknown cell {args.cell!r}; choose one of: {', '.join(CELLS)}")
    try:
        args.size = _parse_size(args.size)
    except ValueError as e:
        return _fail(e)
    if args.theme is not None:
        from .gui.style import THEMES
        if args.theme not in THEMES:
            return _fail(f"unknown theme {args.theme!r}; choose one of: {', '.join(THEMES)}")
    if args.view is not None:
        from .gui.panels import view_key
        try:
            args.view = view_key(args.view)
        except KeyError as e:
            return _fail(str(e).strip("'\""))
    if (args.presentation or args.size != (1600, 900)) and not args.screenshot:
        if args.size != (1600, 900):
            return _fail("--size goes with --screenshot (the window takes the screen's size)")

    from .engine.presets import list_presets
    try:
        names = list_presets()
    except FileNotFoundError as e:
        return _fail(e)
    if args.preset is not None and args.preset not in names:
        return _fail(f"unknown preset {args.preset!r}; choose one of: {', '.join(names)}")
    if args.corpus is not None and not os.path.isfile(args.corpus):
        from .engine.data import CorpusError, read_corpus
        try:  # names what it is (missing, a folder, a FIFO, a device) without opening it
            read_corpus(args.corpus)
        except CorpusError as e:
            return _fail(e)

    if args.screenshot is not None:
        folder = os.path.dirname(os.path.abspath(args.screenshot))
        if not os.path.isdir(folder):
            return _fail(f"cannot write the screenshot: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            return _fail(f"cannot write the screenshot: folder {folder} is not writable")

    probe = None if args.screenshot else start_probe()
    # Any run that opens the window defers the kernels (the probe only exists on X11).
    prepare_runtime(interactive=not args.screenshot)
    try:
        from .gui.app import StartupError, make_session, render_screenshot, run_app

        if args.screenshot:
            # No screen needed: draw offscreen whatever the environment says.
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
            session = make_session(args.preset, args.corpus, args.cell, args.at)
            return render_screenshot(args, args.screenshot, session=session, size=args.size,
                                     presentation=args.presentation, theme=args.theme,
                                     view=args.view)
        remembered = None
        if args.preset is None:
            remembered = _remembered_preset()
        session = make_session(args.preset, args.corpus, args.cell, args.at, remembered)
    except StartupError as e:
        if probe is not None:
            probe.kill()
        return _fail(e)
    problem = display_problem(probe)
    if problem:
        sys.stderr.write(problem + "\n")
        return 1
    return run_app(args, session=session)


def _remembered_preset() -> Optional[str]:
    from PyQt5.QtCore import QSettings

    value = QSettings("bpttviz", "bpttviz").value("session/last_preset", None)
    return str(value) if value else None


if __name__ == "__main__":
    raise SystemExit(main())

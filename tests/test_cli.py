"""The command line, run as a user would: a subprocess, exit codes, one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None, timeout=60):
    base = dict(os.environ)
    if env is not None:
        base = env
    return subprocess.run([sys.executable, "-m", "bpttviz.cli", *args], cwd=ROOT, env=base,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(r, code=2):
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("bpttviz: error: ")
    return lines[0]


def test_version():
    from bpttviz import __version__

    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"bpttviz {__version__}"


def test_main_py_and_module_entry_points():
    r = subprocess.run([sys.executable, "main.py", "--version"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "bpttviz" in r.stdout
    r = subprocess.run([sys.executable, "-m", "bpttviz", "--version"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "bpttviz" in r.stdout


def test_list_presets_names_title_and_teaching():
    from bpttviz.engine.presets import list_presets, load_preset

    r = run("--list-presets")
    assert r.returncode == 0, r.stderr
    for name in list_presets():
        p = load_preset(name)
        assert name in r.stdout and p.title in r.stdout
        assert " ".join(p.teaches.split())[:40] in r.stdout


@pytest.mark.parametrize("args, words", [
    (["--preset", "no-such"], "unknown preset"),
    (["--cell", "transformer"], "--cell"),
    (["--preset", "notebook-one-step", "--at", "sideways:3"], "--at"),
    (["--preset", "notebook-one-step", "--at", "forward:99"], "outside"),
    (["--corpus", "definitely/missing.txt"], "not found"),
    (["--bogus"], "unrecognized"),
])
def test_bad_arguments_exit_2_with_one_line(args, words):
    line = assert_one_line_error(run(*args))
    assert words in line


def test_binary_corpus_exit_2(tmp_path):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    line = assert_one_line_error(run("--corpus", str(binary), "--preset", "min-char-rnn"))
    assert "binary" in line


def test_screenshot_is_a_full_window_picture(tmp_path):
    from PyQt5.QtGui import QImage

    png = tmp_path / "win.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = run("--preset", "min-char-rnn", "--at", "backward:10", "--screenshot", str(png), env=env)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    img = QImage(str(png))
    assert img.width() >= 1280 and img.height() >= 720
    colours = set()
    for y in range(0, img.height(), 7):
        for x in range(0, img.width(), 7):
            colours.add(img.pixel(x, y))
    assert len(colours) > 50, len(colours)


def test_screenshot_to_unwritable_place_is_one_line(tmp_path):
    line = assert_one_line_error(run("--preset", "notebook-one-step", "--screenshot",
                                     str(tmp_path / "missing-dir" / "x.png")))
    assert "screenshot" in line


def test_no_display_is_a_clear_message_not_an_abort(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = run("--preset", "notebook-one-step", env=env)
    assert r.returncode != 0
    assert "no screen found" in r.stderr and "xvfb-run" in r.stderr and "--screenshot" in r.stderr
    assert "Traceback" not in r.stderr and "Aborted" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unreachable_x_display_is_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["DISPLAY"] = ":97"  # nothing listens there
    r = run("--preset", "notebook-one-step", env=env)
    assert r.returncode == 1, r.stderr
    assert "no screen found" in r.stderr or "xcb" in r.stderr
    assert "Traceback" not in r.stderr


def test_broken_xcb_plugin_names_the_debian_packages():
    from bpttviz.cli import _explain_probe

    err = ('qt.qpa.plugin: Cannot load library /x/libqxcb.so: (libxcb-icccm.so.4: cannot open '
           'shared object file: No such file or directory)\nqt.qpa.plugin: Could not load the Qt '
           'platform plugin "xcb" in "" even though it was found.\n')
    msg = _explain_probe(err)
    assert "missing: libxcb-icccm4" in msg
    for deb in ("libxcb-icccm4", "libxcb-keysyms1", "libxcb-xinerama0"):
        assert deb in msg


def test_export_subcommand_dispatches(monkeypatch, capsys):
    import types

    from bpttviz import cli

    seen = []
    fake = types.ModuleType("bpttviz.export_cli")
    fake.main = lambda rest: seen.append(rest) or 0
    monkeypatch.setitem(sys.modules, "bpttviz.export_cli", fake)
    import bpttviz
    monkeypatch.setattr(bpttviz, "export_cli", fake, raising=False)
    assert cli.main(["export", "--preset", "x"]) == 0
    assert seen == [["--preset", "x"]]


def test_export_subcommand_missing_is_one_line(monkeypatch, capsys):
    import bpttviz
    from bpttviz import cli

    monkeypatch.setitem(sys.modules, "bpttviz.export_cli", None)  # import fails
    monkeypatch.delattr(bpttviz, "export_cli", raising=False)
    assert cli.main(["export"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bpttviz: error: ") and len(err.strip().splitlines()) == 1


def test_list_views_prints_every_view_name_first():
    from bpttviz.gui.panels import PANELS

    r = run("--list-views")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == [c.key for c in PANELS]
    assert all(c.question in r.stdout for c in PANELS)


def test_screenshot_of_a_view_in_presentation_mode_at_a_size(tmp_path):
    from PIL import Image

    out = tmp_path / "shot.png"
    r = run("--preset", "vanishing", "--screenshot", str(out), "--size", "1366x768",
            "--presentation", "--view", "decay", "--at", "backward:3")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (1366, 768)
    for bad, words in ((["--size", "100x100"], "--size"), (["--view", "nope"], "no view"),
                       (["--theme", "pink"], "unknown theme")):
        line = assert_one_line_error(run("--screenshot", str(out), *bad))
        assert words in line


def test_output_into_a_closed_pipe_ends_quietly():
    import subprocess
    import sys as _sys
    p = subprocess.run(f"{_sys.executable} -m bpttviz --list-views | head -1", shell=True,
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 0 and "Traceback" not in p.stderr


def test_presentation_screenshot_shows_the_presets_view(qapp, tmp_path, monkeypatch):
    """Arranged for presentation before the window was shown, the screenshot raised no tab:
    dinosaurs (which opens on its outputs) came out showing the unrolled network."""
    import types
    from bpttviz.gui import app as gui_app
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    seen = []
    real_grab = MainWindow.grab

    def grab(self, *a):
        seen.append(sorted(k for k, on in self.looks._on_screen.items() if on))
        return real_grab(self, *a)
    monkeypatch.setattr(MainWindow, "grab", grab)
    rc = gui_app.render_screenshot(types.SimpleNamespace(at=None), str(tmp_path / "p.png"),
                                   session=Session("dinosaurs"), size=(1366, 768),
                                   presentation=True)
    assert rc == 0 and seen == [["outputs"]], seen


def test_presentation_screenshot_keeps_the_contribution_key(qapp, tmp_path, monkeypatch):
    """A page's key shown while its view was rebuilt for presentation kept a 0 px row: the
    contribution view's key was missing side by side at 1366x768."""
    import types
    from bpttviz.gui import app as gui_app
    from bpttviz.gui.main_window import MainWindow
    from bpttviz.session import Session

    seen = []
    real_grab = MainWindow.grab

    def grab(self, *a):
        p = self.panels["contrib"]
        seen.append((p.plot_flow.arrangement, p.plot_key.isVisible(), p.plot_key.height(),
                     p.plot_key.minimumSizeHint().height()))
        return real_grab(self, *a)
    monkeypatch.setattr(MainWindow, "grab", grab)
    rc = gui_app.render_screenshot(types.SimpleNamespace(at="backward:10"), str(tmp_path / "c.png"),
                                   session=Session("min-char-rnn"), size=(1366, 768),
                                   presentation=True, view="contrib")
    assert rc == 0 and len(seen) == 1
    arrangement, visible, height, needed = seen[0]
    assert arrangement == "side" and visible and height >= needed > 0, seen

"""Bad input and faults (issue 7): every way a user can hand bpttviz something broken gives
a clear refusal and leaves things as they were.

* command line (``python -m bpttviz.cli`` and ``... export``) in a subprocess: bad corpora,
  unknown names, malformed --at, impossible sizes, divergent training, damaged session
  files: a non-zero exit, ONE line on stderr, never a traceback;
* the window (pytest-qt, dialogs patched): bad corpora, damaged session files, divergent
  training and an exception inside a slot (the crash hook) are warnings, the state stays;
* the session itself: values ``edit`` must refuse with SessionError (regression tests for
  the fixes that came with this file).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PyQt5.QtCore import QObject, QTimer, pyqtSignal
from PyQt5.QtWidgets import QAction, QFileDialog, QMessageBox

from bpttviz.session import Session, SessionError

ROOT = Path(__file__).resolve().parents[1]


# --- fixtures: broken things ---------------------------------------------------------------
def make_bad_corpora(folder: Path) -> dict:
    """name -> (path, a word the refusal must contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"missing": (folder / "no-such-corpus.txt", "not found")}
    p = folder / "empty.txt"
    p.write_bytes(b"")
    out["empty"] = (p, "empty")
    p = folder / "one.txt"
    p.write_bytes(b"a")
    out["one character"] = (p, "distinct")
    p = folder / "same.txt"
    p.write_bytes(b"aaaaaaaaaa")
    out["one distinct character"] = (p, "distinct")
    p = folder / "model.bin"
    p.write_bytes(bytes(range(256)) * 8)
    out["binary"] = (p, "binary")
    p = folder / "latin1.txt"
    p.write_bytes("café crème, à la française\n".encode("latin-1") * 10)
    out["not UTF-8"] = (p, "UTF-8")
    p = folder / "huge.txt"
    with open(p, "wb") as f:  # sparse: instant, takes no disk
        f.seek(11 * 2**20)
        f.write(b"a")
    out["too large"] = (p, "limit")
    out["folder"] = (folder, "folder")
    return out


def make_bad_sessions(folder: Path) -> dict:
    """name -> path of a damaged session file (each must be refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    s = Session("notebook-one-step")
    good = folder / "good.npz"
    # version 1 (the corruptions edit its meta_json); version 2: test_hostile_files.py
    from hostile_files import write_v1_session
    write_v1_session(s, good)
    data = good.read_bytes()
    out = {}
    p = folder / "truncated.npz"
    p.write_bytes(data[: len(data) * 2 // 3])
    out["truncated"] = p
    p = folder / "garbage.npz"
    p.write_bytes(b"PK\x03\x04" + os.urandom(500))
    out["garbage"] = p
    p = folder / "empty.npz"
    p.write_bytes(b"")
    out["empty"] = p
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta_json"]))
    p = folder / "version.npz"
    np.savez(p, **dict(arrays, meta_json=np.array(json.dumps(dict(meta, version=99)))))
    out["wrong version"] = p
    p = folder / "foreign.npz"
    np.savez(p, weights=np.zeros(3))
    out["foreign"] = p
    # Hostile: an object array whose unpickling would run code (make a folder).
    marker = folder / "PWNED"
    p = folder / "hostile.npz"
    np.savez(p, **dict(arrays, param_Whh=np.array([_Evil(str(marker))], dtype=object)))
    out["hostile"] = p
    p = folder / "hostile-meta.npz"
    np.savez(p, **dict(arrays, meta_json=np.array([_Evil(str(marker))], dtype=object)))
    out["hostile meta"] = p
    p = folder / "nan.npz"
    np.savez(p, **dict(arrays, param_Whh=np.full_like(arrays["param_Whh"], np.nan)))
    out["non-finite"] = p
    p = folder / "shapes.npz"
    np.savez(p, **dict(arrays, param_Whh=np.zeros((2, 7))))
    out["wrong shapes"] = p
    p = folder / "config.npz"
    bad_meta = dict(meta, config=dict(meta["config"], hidden_size=-4))
    np.savez(p, **dict(arrays, meta_json=np.array(json.dumps(bad_meta))))
    out["bad config"] = p
    p = folder / "clip.npz"
    bad_meta = dict(meta, config=dict(meta["config"], clip=None, clip_value=-1.0))
    np.savez(p, **dict(arrays, meta_json=np.array(json.dumps(bad_meta))))
    out["bad clip threshold"] = p
    good.unlink()
    return out


class _Evil:
    """Unpickling this makes a folder: proof that a file ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def divergent_session_file(path: Path) -> Path:
    """A session that diverges on its first updates: SGD, lr 1e308, no clipping, big weights."""
    s = Session("min-char-rnn")
    s.edit("diverge", optimizer="sgd", lr=1e308, clip=None, init_scale=1.0)
    s.save(str(path))
    return path


# --- command line ------------------------------------------------------------------------------
def run_cli(*args, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BPTTVIZ_NO_PROBE="1")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, "-m", "bpttviz.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_cli_here(*args):
    """``bpttviz ARGS`` in this process (a subprocess costs ~1.5 s of start-up; eighteen bad
    export arguments took half a minute): the exit code and what was printed, in the shape
    of ``subprocess.run``'s result.  Only for commands that end by themselves (export)."""
    import contextlib
    import io
    from bpttviz import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as e:   # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def one_line_error(r, codes=(2,)) -> str:
    assert r.returncode in codes, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{r.stderr}"
    assert lines[0].startswith("bpttviz"), lines[0]
    assert "error" in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad-inputs")
    return {"corpora": make_bad_corpora(base / "corpora"),
            "sessions": make_bad_sessions(base / "sessions"),
            "divergent": divergent_session_file(base / "divergent.npz"),
            "base": base}


CORPUS_CASES = ["missing", "empty", "one character", "one distinct character", "binary",
                "not UTF-8", "too large", "folder"]


@pytest.mark.parametrize("case", CORPUS_CASES)
def test_cli_bad_corpus(bad_inputs, case, tmp_path):
    path, word = bad_inputs["corpora"][case]
    # the window's command line: refused before any window is made
    line = one_line_error(run_cli("--preset", "min-char-rnn", "--corpus", str(path)))
    assert word in line or (case == "folder" and "folder" in line), line
    # and export
    line = one_line_error(run_cli("export", "--corpus", str(path), "--panels", "code",
                                  "--format", "csv", "--out", str(tmp_path / "out")))
    assert word in line, line
    assert not (tmp_path / "out" / "manifest.txt").exists()


@pytest.mark.parametrize("args, word", [
    (["--preset", "no-such-preset"], "preset"),
    (["--cell", "transformer"], "--cell"),
    (["--preset", "min-char-rnn", "--at", "forward:x"], "--at"),
    (["--preset", "min-char-rnn", "--at", ""], "--at"),
    (["--preset", "min-char-rnn", "--at", "forward:25"], "--at"),
    (["--preset", "min-char-rnn", "--at", "backward:-99"], "--at"),
    (["--preset", "min-char-rnn", "--at", "forward:1:2"], "--at"),
    (["--preset", "notebook-one-step", "--at", "update:3"], "--at"),
    (["--no-such-option"], "unrecognized"),
])
def test_cli_bad_arguments(args, word):
    line = one_line_error(run_cli(*args))
    assert word in line, line


@pytest.mark.parametrize("args, word", [
    (["--preset", "no-such-preset"], "preset"),
    (["--cell", "transformer"], "--cell"),
    (["--at", "sideways:3"], "--at"),
    (["--at", "forward:999"], "--at"),
    (["--train", "-1"], "--train"),
    (["--train", "many"], "--train"),
    (["--width", "0"], "--width"),
    (["--width", "-5"], "--width"),
    (["--lr", "nan"], "lr"),
    (["--lr", "inf"], "lr"),
    (["--lr", "0"], "lr"),
    (["--lr", "-1"], "lr"),
    (["--lr", "fast"], "--lr"),
    (["--format", "bmp"], "--format"),
    (["--panels", "nope"], "--panels"),
    (["--preset", "min-char-rnn", "--session", "x.npz"], "not allowed"),
    (["--at", ""], "--at"),
    (["--panels", ""], "--panels"),
])
def test_export_bad_arguments(qapp, args, word, tmp_path):
    line = one_line_error(run_cli_here("export", "--panels", "code", "--format", "csv", *args,
                                       "--out", str(tmp_path / "out")) if "--panels" not in args else
                          run_cli_here("export", "--format", "csv", *args, "--out", str(tmp_path / "out")))
    assert word in line, line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_export_to_an_empty_out_name_is_refused_and_writes_nothing(tmp_path):
    """``--out ""`` wrote thirteen pictures into the current folder."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BPTTVIZ_NO_PROBE="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "bpttviz.cli", "export", "--panels", "code",
                        "--format", "csv", "--out", ""], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    line = one_line_error(r)
    assert "--out" in line and list(tmp_path.iterdir()) == []


def test_export_training_that_diverges_exits_1_with_one_line(bad_inputs, tmp_path):
    # the command line's own --lr: adagrad at 1e308 diverges on the first update
    line = one_line_error(run_cli("export", "--preset", "long-range", "--lr", "1e308", "--train", "50",
                                  "--panels", "code", "--format", "csv", "--out", str(tmp_path / "a")),
                          codes=(1,))
    assert "diverged at iteration" in line
    # a saved session with SGD, lr 1e308, no clipping: the optimizer the CLI cannot choose
    line = one_line_error(run_cli("export", "--session", str(bad_inputs["divergent"]), "--train", "50",
                                  "--panels", "code", "--format", "csv", "--out", str(tmp_path / "b")),
                          codes=(1,))
    assert "diverged at iteration" in line


SESSION_CASES = ["truncated", "garbage", "empty", "wrong version", "foreign", "hostile",
                 "hostile meta", "non-finite", "wrong shapes", "bad config", "bad clip threshold"]


@pytest.mark.parametrize("case", SESSION_CASES)
def test_export_damaged_session_exits_2_with_one_line(bad_inputs, case, tmp_path):
    path = bad_inputs["sessions"][case]
    line = one_line_error(run_cli("export", "--session", str(path), "--panels", "code",
                                  "--format", "csv", "--out", str(tmp_path / "out")))
    assert path.name in line or "session" in line, line
    assert not (path.parent / "PWNED").exists(), "a session file ran code"


def test_export_missing_session(tmp_path):
    line = one_line_error(run_cli("export", "--session", str(tmp_path / "nope.npz"), "--panels", "code",
                                  "--format", "csv", "--out", str(tmp_path / "out")))
    assert "not found" in line


# --- the session --------------------------------------------------------------------------------
def snapshot(s: Session):
    return (asdict(s.config), s.cursor, s.iteration, s.corpus_path,
            s.preset.name if s.preset else None, s.undo_stack.count(), s.undo_stack.index(),
            {k: v.copy() for k, v in s.params.items()})


def assert_same(a, b):
    assert a[:7] == b[:7]
    assert a[7].keys() == b[7].keys()
    for k in a[7]:
        np.testing.assert_array_equal(a[7][k], b[7][k], err_msg=k)


@pytest.mark.parametrize("preset, changes", [
    # non-finite initial weights (every panel showed NaN)
    ("min-char-rnn", {"init_scale": 1e308}),
    ("lstm-gates", {"init_scale": 1e308}),
    ("min-char-rnn", {"whh_radius": float("nan")}),
    # a seed of the wrong kind escaped as numpy's TypeError
    ("min-char-rnn", {"seed": 1.5}),
    ("min-char-rnn", {"seed": "7"}),
    ("min-char-rnn", {"clip": 3}),
    # an invalid threshold while clipping is off: the clipping view raised in its slot
    ("min-char-rnn", {"clip": None, "clip_value": -1.0}),
    ("min-char-rnn", {"clip": None, "clip_value": float("nan")}),
    # init_scale is validated even where the preset's own weights are used
    ("notebook-one-step", {"init_scale": float("inf")}),
    ("notebook-one-step", {"init_scale": -1.0}),
    ("notebook-one-step", {"init_scale": 1e308}),
    ("min-char-rnn", {"init_scale": 1e150}),
    # a captioning batch of no captions failed only when training
    ("cs231n-captioning-rnn", {"batch_size": 0}),
    ("cs231n-captioning-rnn", {"batch_size": -1}),
    # (already refused before; kept as a guard)
    ("min-char-rnn", {"hidden_size": 0}),
    ("min-char-rnn", {"hidden_size": -1}),
    ("min-char-rnn", {"hidden_size": 10**6}),
    ("min-char-rnn", {"lr": float("nan")}),
    ("min-char-rnn", {"seq_length": 0}),
])
def test_session_edit_refuses_bad_values_and_changes_nothing(qapp, preset, changes):
    s = Session(preset)
    s.set_cursor(3)
    before = snapshot(s)
    with pytest.raises(SessionError):
        s.edit("bad", **changes)
    assert_same(before, snapshot(s))


def test_clip_off_then_bad_threshold_is_refused_and_clipping_view_keeps_working(qapp):
    s = Session("min-char-rnn")
    s.edit("off", clip=None)
    with pytest.raises(SessionError, match="clip_value"):
        s.edit("bad", clip_value=-1.0)
    s.end()
    s.clip_comparison()  # raised ValueError in the clipping view's slot before the fix


def test_captioning_training_with_a_bad_batch_cannot_start(qapp):
    s = Session("cs231n-captioning-rnn")
    with pytest.raises(SessionError, match="batch_size"):
        s.edit("bad", batch_size=0)
    assert s.train(1) == 1  # the unchanged run still trains


@pytest.mark.parametrize("case", SESSION_CASES)
def test_session_open_refuses_damaged_files(qapp, bad_inputs, case):
    s = Session("min-char-rnn")
    s.set_cursor(5)
    before = snapshot(s)
    with pytest.raises(SessionError):
        s.open(str(bad_inputs["sessions"][case]))
    assert_same(before, snapshot(s))
    assert not (bad_inputs["sessions"][case].parent / "PWNED").exists()


# --- the window ---------------------------------------------------------------------------------
@pytest.fixture
def dialogs(monkeypatch):
    calls = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: calls.append((_n, title, text)) or QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a, **k: calls.append(("question", title, text)) or QMessageBox.Yes))
    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: ("", "")))
    return calls


@pytest.fixture
def win(qtbot, dialogs):
    from bpttviz.gui.main_window import MainWindow

    s = Session("min-char-rnn")
    s.edit("small", hidden_size=8)
    s.undo_stack.clear()
    w = MainWindow(s)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def action(win, name) -> QAction:
    a = win.findChild(QAction, f"action_{name}")
    assert a is not None, name
    return a


def choose_file(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))


def test_window_refuses_every_bad_corpus(qtbot, win, dialogs, bad_inputs, monkeypatch):
    s = win.session
    s.set_cursor(4)
    before = snapshot(s)
    for case in CORPUS_CASES:
        path, word = bad_inputs["corpora"][case]
        n = len(dialogs)
        choose_file(monkeypatch, path)
        action(win, "load_corpus").trigger()
        assert len(dialogs) == n + 1, f"no warning for a {case} corpus"
        kind, _title, text = dialogs[-1]
        assert kind == "warning" and word in text, (case, dialogs[-1])
        assert_same(before, snapshot(s))
        assert win.slider.value() == s.cursor == 4
        assert "Corpus: the preset's" in win.controls.corpus_label.text()
    assert not any(d[0] == "critical" for d in dialogs)


def test_window_refuses_every_damaged_session(qtbot, win, dialogs, bad_inputs, monkeypatch):
    s = win.session
    s.next_iteration()
    s.set_cursor(6)
    before, title = snapshot(s), win.windowTitle()
    for case in SESSION_CASES:
        n = len(dialogs)
        choose_file(monkeypatch, bad_inputs["sessions"][case])
        action(win, "open").trigger()
        assert len(dialogs) == n + 1 and dialogs[-1][0] == "warning", f"no warning for {case}"
        assert_same(before, snapshot(s))
        assert win.windowTitle() == title and win.path is None
        assert not (bad_inputs["sessions"][case].parent / "PWNED").exists()
    # the window still works
    action(win, "step_forward").trigger()
    assert s.cursor == 7 and win.slider.value() == 7


def _all_finite(s):
    return all(np.all(np.isfinite(v)) for v in s.params.values())


def test_window_next_iteration_divergence_names_the_iteration(qtbot, win, dialogs):
    s = win.session
    s.edit("diverge", optimizer="sgd", lr=1e308, clip=None, init_scale=1.0)
    for _ in range(5):
        it, n = s.iteration, len(dialogs)
        action(win, "next_iteration").trigger()
        assert _all_finite(s)
        if len(dialogs) > n:
            break
    else:
        pytest.fail("lr 1e308 without clipping never diverged")
    kind, _title, text = dialogs[-1]
    assert kind == "warning" and f"iteration {it}" in text and "diverged" in text
    assert s.iteration == it and not win.playing
    # the last good state is still steppable, and undo gives a sane run back
    action(win, "end").trigger()
    assert s.cursor == len(s.events) - 1
    action(win, "undo").trigger()
    assert s.config.lr == pytest.approx(0.1)
    action(win, "next_iteration").trigger()
    assert s.iteration == it + 1 and _all_finite(s)


def test_window_live_training_divergence_names_the_iteration(qtbot, win, dialogs):
    s = win.session
    s.edit("diverge", optimizer="sgd", lr=1e308, clip=None, init_scale=1.0)
    c = win.controller
    stopped = []
    c.sigStopped.connect(stopped.append)
    assert c.start(limit=50)
    qtbot.waitUntil(lambda: bool(stopped), timeout=10_000)
    assert stopped == ["diverged"]
    it, _msg = c.divergence
    assert _all_finite(s)
    assert s.iteration == it and s.cursor == 0
    warn = [d for d in dialogs if d[0] == "warning"]
    assert warn and "diverged" in warn[-1][2] and f"iteration {it}" in warn[-1][2], dialogs
    assert win.slider.value() == 0 and win.slider.maximum() == len(s.events) - 1
    action(win, "step_forward").trigger()
    assert s.cursor == 1


class _Boom(QObject):
    fire = pyqtSignal()

    def explode(self):
        raise RuntimeError("a slot went wrong on purpose")


@pytest.mark.qt_no_exception_capture  # the point: the app's own hook gets the exception
def test_exception_in_a_slot_goes_to_a_dialog_and_the_log_and_the_window_keeps_running(
        qtbot, win, dialogs, monkeypatch):
    from PyQt5.QtWidgets import QApplication

    from bpttviz.gui import app as appmod

    QApplication.instance().setOrganizationName("bpttviz")
    QApplication.instance().setApplicationName("bpttviz")
    log = appmod.log_path()
    assert log.startswith(os.environ["XDG_DATA_HOME"]), log  # conftest's throwaway folder
    size = os.path.getsize(log) if os.path.exists(log) else 0
    monkeypatch.setattr(sys, "__stderr__", io.StringIO())  # the hook echoes the traceback
    saved_hook = sys.excepthook
    boom = _Boom()
    boom.fire.connect(boom.explode)
    try:
        appmod.install_excepthook()
        assert sys.excepthook is not saved_hook
        # raised inside a slot called from the event loop, as a real bug would be
        QTimer.singleShot(0, boom.fire.emit)
        qtbot.waitUntil(lambda: any(d[0] == "critical" for d in dialogs), timeout=3000)
        # the app keeps running: the event loop still delivers, the window still steps
        action(win, "step_forward").trigger()
        qtbot.wait(20)
    finally:
        sys.excepthook = saved_hook
    crit = [d for d in dialogs if d[0] == "critical"]
    assert len(crit) == 1 and "a slot went wrong on purpose" in crit[0][2]
    assert log in crit[0][2]
    with open(log, encoding="utf-8") as f:
        f.seek(size)
        text = f.read()
    assert "RuntimeError: a slot went wrong on purpose" in text and "Traceback" in text
    assert "a slot went wrong on purpose" in sys.__stderr__.getvalue()
    s = win.session
    assert s.cursor == 1 and win.slider.value() == 1 and win.isVisible()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sampling_from_overflowing_weights_does_not_raise(cell):
    """A huge learning rate can leave finite weights whose logits overflow (inf - inf = NaN
    in a plain softmax); the live-training panel samples from them on every redraw and
    raised "Probabilities contain NaN" in its slot (found by the monkey test, seed 12345)."""
    from bpttviz.engine.model import init_params
    from bpttviz.engine.sampling import sample

    p = init_params(cell, 5, 4, seed=0)
    p["Why"][:] = 1.7e308
    p["bh"][:] = 50.0
    with np.errstate(all="ignore"):
        out = sample(p, np.zeros(4), 0, 20, cell, c=np.zeros(4), rng=np.random.default_rng(0))
    assert len(out) == 20 and all(0 <= i < 5 for i in out)
    # ordinary weights sample as before (a plain softmax)
    q = init_params(cell, 5, 4, seed=0)
    a = sample(q, np.zeros(4), 0, 30, cell, c=np.zeros(4), rng=np.random.default_rng(3))
    b = sample(q, np.zeros(4), 0, 30, cell, c=np.zeros(4), rng=np.random.default_rng(3))
    assert a == b

"""A seeded monkey test (issues 7 and 16): random user actions against a real MainWindow with
the real panels (offscreen) and garbage collection ON, checking the session/window invariants
after every one: the trace is the one the parameters and config give, the cursor is in the
timeline, the run the window shows is the run being trained, no exception anywhere.

Issue 16 added: theme and presentation changes (panels rebuilt, then trained), live training
start/pause/stop with edits, preset switches and undo/redo refused during it (one message at
most, state unchanged), dock close/float during play, resizes from 1280x720 to 3840x2160, the
save prompt and the autosave.  The suite runs a short seed (``BPTTVIZ_MONKEY_ACTIONS``,
default 400); ``python tests/monkey_long.py --actions 10000`` is the long run before a release.

Reproduce a failure with the seed it prints, e.g.::

    BPTTVIZ_MONKEY_SEED=4242 python3 -m pytest -q -p no:cacheprovider tests/test_monkey.py -s

``BPTTVIZ_MONKEY_ACTIONS`` changes the number of actions (default 400: the suite's short seed).
On failure the message lists the last 20 actions (name and arguments) of the run.
"""
from __future__ import annotations

import gc
import math
import os
import random
import time
import traceback
from collections import deque
from dataclasses import asdict

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QAction, QApplication, QFileDialog, QMessageBox

from bpttviz.engine.model import run_bptt
from bpttviz.engine.presets import list_presets
from bpttviz.gui.main_window import MainWindow
from bpttviz.gui.protect import Autosaver
from bpttviz.session import Session, SessionError

SEED = int(os.environ.get("BPTTVIZ_MONKEY_SEED", "12345"))
N_ACTIONS = int(os.environ.get("BPTTVIZ_MONKEY_ACTIONS", "400"))

#: Small models keep every trace cheap; 100 is min-char-rnn's own size.
HIDDEN_SIZES = [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 100]
#: Values session.edit must refuse (SessionError, nothing changed).
ABSURD = {
    "hidden_size": [0, -1, 10**6, 4097, 2.5, "8", None],
    "seq_length": [0, -1, 10**9, 2.5],
    "seed": [-1, 1.5, "x"],
    "init_scale": [float("nan"), -1.0, float("inf"), 1e308, 1e150, "big"],
    "clip": ["bogus", 3],
    "clip_value": [0.0, -1.0, float("nan"), float("inf")],
    "lr": [float("nan"), float("inf"), 0.0, -1.0, "fast"],
    "optimizer": ["rmsprop", None],
    "cell": ["transformer", None],
    "task": ["bogus"],
}


def snapshot(s: Session) -> dict:
    """Everything an edit could change, copied."""
    return {"preset": s.preset.name if s.preset else None, "config": asdict(s.config),
            "cursor": s.cursor, "iteration": s.iteration, "corpus": s.corpus_path,
            "params": {k: v.copy() for k, v in s.params.items()},
            "undo": (s.undo_stack.index(), s.undo_stack.count()), "pointer": s.run.pointer}


def same_state(a: dict, b: dict) -> bool:
    if {k: v for k, v in a.items() if k != "params"} != {k: v for k, v in b.items() if k != "params"}:
        return False
    return a["params"].keys() == b["params"].keys() and all(
        np.array_equal(a["params"][k], b["params"][k]) for k in a["params"])


def config_equal(a: dict, b: dict) -> bool:
    """Config dicts compared so that nan == nan (never expected, but keep messages clear)."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and isinstance(b[k], float)
                         and math.isnan(a[k]) and math.isnan(b[k])) for k in a)


class Monkey:
    def __init__(self, qtbot, win: MainWindow, rng: random.Random, tmp_path, dialogs: list):
        self.qtbot, self.win, self.s, self.rng = qtbot, win, win.session, rng
        self.tmp, self.dialogs = tmp_path, dialogs
        self.log = deque(maxlen=20)
        self.count = 0
        self.saved = {}          # path -> snapshot at save time
        self.corrupt = self._make_corrupt_files()
        self.presets = list_presets()
        self.stats = {}
        self.times = {}  # seconds spent per kind of action (printed at the end)
        self.actions = [  # (weight, method)
            (16, self.key_step), (8, self.trigger_step), (8, self.scrub), (3, self.set_event),
            (2, self.preset), (8, self.widget_edit), (6, self.absurd_edit), (3, self.valid_edit),
            (5, self.undo_redo), (2, self.play_pause), (2, self.save), (2, self.open_good),
            (2, self.open_corrupt), (2, self.resize), (2, self.scale_whh), (4, self.next_iteration),
            # issue 16
            (4, self.live_training), (1, self.looks), (2, self.docks_during_play),
            (1, self.big_resize), (1, self.close_cancel),
        ]
        self._weights = [w for w, _ in self.actions]

    # --- helpers ---------------------------------------------------------------------------
    def action(self, name: str) -> QAction:
        """An action found by objectName, as a user finds it by its menu entry."""
        a = self.win.findChild(QAction, f"action_{name}")
        assert a is not None, f"no action_{name}"
        return a

    def record(self, *what):
        where = f"[{self.s.preset.name if self.s.preset else 'session'} it{self.s.iteration} @{self.s.cursor}]"
        self.log.append(f"#{self.count} {where} " + " ".join(map(repr, what)))

    def process(self):
        QApplication.processEvents()

    def _make_corrupt_files(self):
        tmp = self.tmp
        good = tmp / "good-for-corruption.npz"
        from hostile_files import write_v1_session  # version 1: the edits below use meta_json
        write_v1_session(self.s, good)
        data = good.read_bytes()
        files = {}
        files["truncated"] = tmp / "truncated.npz"
        files["truncated"].write_bytes(data[:len(data) // 2])
        files["garbage"] = tmp / "garbage.npz"
        files["garbage"].write_bytes(bytes(random.Random(SEED).getrandbits(8) for _ in range(3000)))
        files["empty"] = tmp / "empty.npz"
        files["empty"].write_bytes(b"")
        files["missing"] = tmp / "no-such-file.npz"
        # a valid archive with the wrong version
        import json
        with np.load(good) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta_json"]))
        meta["version"] = 999
        arrays["meta_json"] = np.array(json.dumps(meta))
        files["version"] = tmp / "version.npz"
        np.savez(files["version"], **arrays)
        good.unlink()
        return {k: str(v) for k, v in files.items()}

    def expect_refusal(self, fn, *args, **kw):
        """``fn`` must refuse (SessionError or a warning dialog) and change nothing."""
        before = snapshot(self.s)
        n = len(self.dialogs)
        refused = False
        try:
            fn(*args, **kw)
        except SessionError:
            refused = True
        refused = refused or len(self.dialogs) > n
        assert refused, f"not refused: {fn.__name__}{args}{kw}"
        after = snapshot(self.s)
        assert same_state(before, after), f"state changed by a refused {fn.__name__}{args}{kw}"

    # --- actions ---------------------------------------------------------------------------
    def key_step(self):
        key, name = self.rng.choice([(Qt.Key_Right, "Right"), (Qt.Key_Right, "Right"),
                                     (Qt.Key_Left, "Left"), (Qt.Key_Home, "Home"), (Qt.Key_End, "End")])
        self.record("key", name)
        s = self.s
        n, cur, it, nd = len(s.events), s.cursor, s.iteration, len(self.dialogs)
        self.qtbot.keyClick(self.win, key)
        if name == "Right":
            if cur < n - 1:
                assert s.cursor == cur + 1, "Right did not step"
            else:  # past the update event: next iteration, or a divergence warning
                assert s.iteration == it + 1 or len(self.dialogs) > nd, "Right at update did nothing"
        elif name == "Left":
            assert s.cursor == max(0, cur - 1)
        elif name == "Home":
            assert s.cursor == 0
        else:
            assert s.cursor == len(s.events) - 1

    def trigger_step(self):
        name = self.rng.choice(["step_forward", "step_back", "home", "end"])
        self.record("trigger", name)
        self.action(name).trigger()

    def scrub(self):
        top = self.win.slider.maximum()
        value = self.rng.choice([self.rng.randint(0, top), 0, top, -5, top + 7])
        self.record("slider", value)
        self.win.slider.setValue(value)
        assert self.s.cursor == max(0, min(top, value))

    def set_event(self):
        T = self.s.trace.T
        text = self.rng.choice([f"forward:{self.rng.randrange(T)}", f"backward:{self.rng.randrange(T)}",
                                "clip", "update", "start", "end", f"backward:{-1 - self.rng.randrange(T)}"])
        self.record("set_event", text)
        self.s.set_event(text)

    def preset(self):
        combo = self.win.controls.preset
        i = self.rng.randrange(combo.count())
        self.record("preset", combo.itemData(i))
        combo.setCurrentIndex(i)
        combo.activated.emit(i)
        assert self.s.preset is not None and self.s.preset.name == combo.itemData(i)
        if self.rng.random() < 0.8:
            # what a teacher does with a big preset on a slow laptop: make it small (and it
            # keeps the run cheap: every panel, tabbed ones too, redraws on every change)
            value = self.rng.choice(HIDDEN_SIZES[:8])
            self.record("spin", "hidden_size", value)
            self.win.controls.hidden_size.setValue(value)
            assert self.s.config.hidden_size == value
            if self.s.config.task in ("text", "delay"):  # and a shorter window
                value = self.rng.choice([10, 12, 16])
                self.record("spin", "seq_length", value)
                self.win.controls.seq_length.setValue(value)

    def widget_edit(self):
        c = self.win.controls
        field = self.rng.choice(["cell", "hidden_size", "hidden_size", "seq_length", "seed",
                                 "init_scale", "clip", "clip_value", "lr", "optimizer"])
        w = getattr(c, field)
        if field in ("cell", "clip", "optimizer"):
            i = self.rng.randrange(w.count())
            self.record("combo", field, w.itemText(i))
            w.setCurrentIndex(i)
            w.activated.emit(i)
            return
        value = {
            "hidden_size": lambda: self.rng.choice(HIDDEN_SIZES),
            "seq_length": lambda: self.rng.choice([1, 2, 3, 5, 8, 10, 12, 16, 25]),
            "seed": lambda: self.rng.choice([0, 1, 7, 42, 2**31 - 1]),
            "init_scale": lambda: self.rng.choice([0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 100.0]),
            "clip_value": lambda: self.rng.choice([0.001, 0.5, 1.0, 5.0, 1e6]),
            "lr": lambda: self.rng.choice([1e-6, 0.001, 0.01, 0.1, 1.0, 100.0]),
        }[field]()
        self.record("spin", field, value)
        w.setValue(value)

    def absurd_edit(self):
        task = self.s.config.task
        # seq_length is not used by the names, fixed and captioning tasks, init_scale not by
        # captioning: the session accepts any value of a field its task ignores.
        fields = [f for f in sorted(ABSURD) if not (f == "seq_length" and task not in ("text", "delay"))
                  and not (f == "init_scale" and task == "captioning")]
        field = self.rng.choice(fields)
        value = self.rng.choice(ABSURD[field])
        self.record("edit (absurd)", field, value)
        self.expect_refusal(self.s.edit, f"{field} {value}", **{field: value})

    def valid_edit(self):
        """Edits through session.edit that must be accepted, including huge learning rates."""
        field, value = self.rng.choice([("lr", 1e308), ("lr", 1e-3), ("clip", None), ("clip", "norm"),
                                        ("clip_value", 1e308), ("optimizer", "sgd"),
                                        ("hidden_size", self.rng.choice(HIDDEN_SIZES[:6]))])
        self.record("edit", field, value)
        try:
            self.s.edit(f"{field} {value}", **{field: value})
        except SessionError as e:
            # hidden_size/optimizer/clip are always valid; only a captioning preset may
            # refuse nothing here either
            raise AssertionError(f"valid edit {field}={value!r} refused: {e}") from None
        assert getattr(self.s.config, field) == value

    def undo_redo(self):
        how = self.rng.choice(["undo", "undo", "redo", "ctrl+z", "ctrl+y"])
        self.record(how)
        if how == "ctrl+z":
            self.qtbot.keyClick(self.win, Qt.Key_Z, Qt.ControlModifier)
        elif how == "ctrl+y":
            self.qtbot.keyClick(self.win, Qt.Key_Y, Qt.ControlModifier)
        else:
            self.action(how).trigger()

    def play_pause(self):
        wait = self.rng.choice([0, 20, 60])
        self.record("play", wait)
        self.win.controls.speed.setValue(60)
        play = self.action("play")
        play.trigger()
        self.qtbot.wait(wait)
        if play.isChecked():
            play.trigger()
        assert not play.isChecked() and not self.win.playing

    def save(self):
        path = str(self.tmp / f"monkey-{self.count}.npz")
        self.record("save as", path)
        before = snapshot(self.s)
        with _patched(QFileDialog, "getSaveFileName", lambda *a, **k: (path, "")):
            self.action("save_as").trigger()
        assert os.path.exists(path), "Save as wrote nothing"
        assert self.win.path == path
        self.saved[path] = before

    def open_good(self):
        if not self.saved:
            return self.save()
        path = self.rng.choice(sorted(self.saved))
        self.record("open", path)
        with _patched(QFileDialog, "getOpenFileName", lambda *a, **k: (path, "")):
            self.action("open").trigger()
        want, got = self.saved[path], snapshot(self.s)
        assert want["preset"] == got["preset"] and want["cursor"] == got["cursor"]
        assert want["iteration"] == got["iteration"] and config_equal(want["config"], got["config"])
        for k, v in want["params"].items():
            assert np.array_equal(v, got["params"][k]), f"opened {k} differs from saved"
        assert got["undo"] == (0, 0)

    def open_corrupt(self):
        kind = self.rng.choice(sorted(self.corrupt))
        path = self.corrupt[kind]
        self.record("open corrupt", kind)
        before, n, title = snapshot(self.s), len(self.dialogs), self.win.windowTitle()
        with _patched(QFileDialog, "getOpenFileName", lambda *a, **k: (path, "")):
            self.action("open").trigger()
        new = [d[0] for d in self.dialogs[n:]]
        assert new in (["warning"], ["question", "warning"]), \
            f"no (single) warning for a {kind} session file: {new}"
        assert same_state(before, snapshot(self.s)), f"a {kind} session file changed the state"
        assert self.win.windowTitle() == title

    def resize(self):
        w, h = self.rng.randint(640, 1920), self.rng.randint(480, 1080)
        self.record("resize", w, h)
        self.win.resize(w, h)

    def scale_whh(self):
        factor = self.rng.choice([0.5, 0.8, 1.25, 2.0, 1.0, 0.0, -1e6, float("nan"), "x"])
        self.record("scale_whh", factor)
        ok = isinstance(factor, float) and math.isfinite(factor) and 1e-3 <= abs(factor) <= 1e3
        name = self.s.trace.recurrent_name
        with np.errstate(over="ignore", invalid="ignore"):
            # weights grown huge by earlier scalings: a product that overflows is refused
            ok = ok and bool(np.all(np.isfinite(np.asarray(self.s.params[name]) * factor)))
        if not ok:
            return self.expect_refusal(self.s.scale_whh, factor)
        before = {k: v.copy() for k, v in self.s.params.items()}
        self.s.scale_whh(factor)
        name = self.s.trace.recurrent_name
        np.testing.assert_allclose(self.s.params[name], before[name] * factor)

    def next_iteration(self):
        how = self.rng.choice(["N", "ctrl+N", "action"])
        self.record("next_iteration", how)
        it, nd = self.s.iteration, len(self.dialogs)
        before = snapshot(self.s)
        if how == "N":
            self.qtbot.keyClick(self.win, Qt.Key_N)
        elif how == "ctrl+N":
            self.qtbot.keyClick(self.win, Qt.Key_N, Qt.ControlModifier)
        else:
            self.action("next_iteration").trigger()
        if self.s.iteration == it + 1:
            assert self.s.cursor == 0
        else:  # refused (divergence): a warning naming the iteration, and nothing changed
            assert len(self.dialogs) == nd + 1, "next iteration neither advanced nor warned"
            assert f"iteration {it}" in self.dialogs[-1][2], self.dialogs[-1]
            assert same_state(before, snapshot(self.s))
            self.stats["diverged"] = self.stats.get("diverged", 0) + 1

    # --- issue 16: training, looks, docks, big windows ----------------------------------------
    def _refused(self, fn, *args, **kw):
        try:
            fn(*args, **kw)
        except SessionError:
            return
        raise AssertionError(f"{getattr(fn, '__name__', fn)} was not refused during training")

    def _during(self, what: str):
        """One thing a user does while the run trains; it must be refused (or only look)."""
        s, win, c = self.s, self.win, self.win.controls
        self.record("  during training:", what)
        if what == "wait":
            self.qtbot.wait(self.rng.choice([5, 20, 50]))
        elif what == "edit":
            field, value = self.rng.choice([("lr", 0.05), ("clip", "norm"), ("clip_value", 2.0),
                                            ("hidden_size", 4), ("optimizer", "sgd")])
            self._refused(s.edit, f"{field} {value}", **{field: value})
        elif what == "widget":
            field = self.rng.choice(["hidden_size", "seq_length", "lr", "clip_value", "seed"])
            w = getattr(c, field)
            assert not w.isEnabled(), f"{field} is editable during training"
            w.setValue(w.value() + (1 if field != "lr" else 0.001))  # a programmatic change
        elif what == "combo":
            w = self.rng.choice([c.cell, c.clip, c.optimizer, c.preset])
            assert not w.isEnabled(), f"{w.objectName()} is editable during training"
            i = self.rng.randrange(w.count())
            w.activated.emit(i)  # as if it had been chosen anyway
        elif what == "preset":
            self._refused(s.load_preset, self.rng.choice(self.presets))
        elif what == "undo":
            for name in ("undo", "redo"):  # (QAction.trigger() ignores enabled: not clicked)
                assert not self.action(name).isEnabled(), f"{name} is enabled during training"
            self.qtbot.keyClick(self.win, Qt.Key_Z, Qt.ControlModifier)
            self.qtbot.keyClick(self.win, Qt.Key_Y, Qt.ControlModifier)
            if s.undo_stack.canUndo():
                self._refused(s.undo_stack.undo)
            if s.undo_stack.canRedo():
                self._refused(s.undo_stack.redo)
        elif what == "scale":
            self._refused(s.scale_whh, 2.0)
        elif what == "keys":
            for key in (Qt.Key_Right, Qt.Key_N, Qt.Key_End, Qt.Key_Space):
                self.qtbot.keyClick(self.win, key)
        elif what == "view":
            key = self.rng.choice(sorted(win.docks))
            win.show_view(key)
        elif what == "looks":
            self.looks(during=True)

    def live_training(self):
        s, win, ctl = self.s, self.win, self.win.controller
        self.record("train")
        it, undo = s.iteration, (s.undo_stack.index(), s.undo_stack.count())
        preset, config = s.preset, asdict(s.config)
        if not win.start_training():
            return
        assert ctl.running and s.busy
        kinds = ["wait", "wait", "edit", "widget", "combo", "preset", "undo", "scale", "keys",
                 "view", "looks"]
        for _ in range(self.rng.randint(1, 5)):
            if not ctl.running:  # it ended by itself (diverged): the run is free again
                self.record("  training ended:", ctl.last_reason)
                break
            nd = len(self.dialogs)
            what = self.rng.choice(kinds[:-1] if self.rng.random() < 0.9 else kinds)
            self._during(what)
            self.process()
            # a refused request says so once at most: no storm of dialogs
            # (training that diverges meanwhile says so in a dialog of its own: not a refusal)
            said = [d for d in self.dialogs[nd:] if d[1] != "Training diverged"]
            assert len(said) <= (4 if what == "keys" else 1), self.dialogs[nd:]
            assert not any(d[0] == "critical" for d in self.dialogs[nd:]), self.dialogs[-1]
            self.check_training()
            assert s.preset is preset and config_equal(asdict(s.config), config)
            assert (s.undo_stack.index(), s.undo_stack.count()) == undo
        how = self.rng.choice(["pause", "pause", "stop"])
        self.record("  stop training:", how)
        if how == "pause":
            win.pause_training()
            self.qtbot.waitUntil(self._not_training, timeout=10_000)
        else:
            ctl.stop()
        assert not s.busy and s.iteration >= it
        if s.iteration > it:
            assert s.unsaved

    def _not_training(self):
        return not self.win.controller.running

    def looks(self, during: bool = False):
        what = self.rng.choice(["light", "dark", "high-contrast", "presentation"])
        self.record("looks", what)
        if what == "presentation":
            self.win.set_presentation(not self.win.presenting, fullscreen=False)
        else:
            self.win.set_theme_name(what)
        self.process()
        if not during and self.rng.random() < 0.5:
            self.live_training()  # rebuilt panels, then trained: stale slots would show here

    def docks_during_play(self):
        win = self.win
        play = self.action("play")
        self.win.controls.speed.setValue(60)
        play.trigger()
        keys = sorted(k for k in win.docks if k != "controls")
        for _ in range(self.rng.randint(1, 3)):
            key, how = self.rng.choice(keys), self.rng.choice(["close", "float", "dock", "show"])
            self.record("dock during play", key, how)
            dock = win.docks[key]
            if how == "close":
                dock.close()
            elif how == "float":
                dock.setFloating(True)
            elif how == "dock":
                dock.setFloating(False)
            else:
                dock.show()
                dock.raise_()
            self.qtbot.wait(self.rng.choice([0, 20]))
        if play.isChecked():
            play.trigger()
        if self.rng.random() < 0.3:  # the user gets them back
            self.record("reset layout")
            for dock in win.docks.values():
                dock.setFloating(False)
                dock.show()
            win.reset_layout()
        assert not win.playing

    def big_resize(self):
        w, h = self.rng.choice([(1280, 720), (1920, 1080), (2560, 1440), (3840, 2160),
                                (1366, 768), (3840, 1080)])
        self.record("resize", w, h)
        self.win.resize(w, h)
        self.process()

    def close_cancel(self):
        """Ctrl+Q with unsaved work, answered Cancel: the window stays, nothing changes."""
        if not self.s.unsaved:
            return
        self.record("quit, cancel")
        answers = []

        def cancel(*a, **k):
            answers.append(a[1] if len(a) > 1 else "")
            return QMessageBox.Cancel
        with _patched(QMessageBox, "question", cancel):
            self.action("quit").trigger()  # Ctrl+Q (a floating dock may hold the keyboard)
        assert answers and self.win.isVisible() and self.s.unsaved

    # --- invariants ------------------------------------------------------------------------
    def check(self):
        s, win = self.s, self.win
        tr = s.trace
        n = len(s.events)
        assert n == 2 * tr.T + 2
        assert 0 <= s.cursor < n
        if s.config.task != "captioning":
            assert tr.h.shape == (tr.T, s.config.hidden_size), (tr.h.shape, s.config.hidden_size)
        for k, v in s.params.items():
            assert np.all(np.isfinite(v)), f"parameter {k} is not finite"
            # the trace was computed with the current parameters
            assert np.array_equal(tr.params[k], v), f"trace.{k} is stale"
        assert win.slider.value() == s.cursor
        assert win.slider.maximum() == n - 1
        assert win.scrubber.label.text().startswith(str(s.state.event))
        assert not win.playing
        c = win.controls
        if s.config.hidden_size <= c.hidden_size.maximum():
            assert c.hidden_size.value() == s.config.hidden_size
        assert c.cell.currentText() == s.config.cell
        assert c.optimizer.currentText() == s.config.optimizer
        assert not any(d[0] == "critical" for d in self.dialogs), self.dialogs[-1]
        self.check_training()

    def check_training(self):
        """The run the window shows is the run being trained; the title tells unsaved work."""
        s, ctl = self.s, self.win.controller
        if ctl.running:
            assert s.busy and ctl.worker.run is s._run, "training an orphaned run"
        else:
            assert not s.busy and ctl.worker is None
        assert self.win.windowTitle().startswith("•") == s.unsaved

    def deep_check(self):
        """Recompute the trace from its parameters: the loss it shows is the one they give."""
        s = self.s
        if s.config.task == "captioning":
            return
        tr = s.trace
        again = run_bptt(tr.params, tr.inputs, tr.targets, h0=tr.h0, c0=tr.c0, cell=tr.cell,
                         clip=s.config.clip, clip_value=s.config.clip_value,
                         backprop_bug=tr.backprop_bug,
                         last_step_only=tr.loss_steps == "last", bptt_window=tr.bptt_window)
        if math.isfinite(tr.loss):
            assert again.loss == pytest.approx(tr.loss, rel=1e-12, abs=1e-12)
            np.testing.assert_allclose(again.h, tr.h, rtol=1e-12, atol=1e-12)

    # --- driving ---------------------------------------------------------------------------
    def run(self, n: int):
        for self.count in range(n):
            fn = self.rng.choices(self.actions, weights=self._weights)[0][1]
            self.stats[fn.__name__] = self.stats.get(fn.__name__, 0) + 1
            t0 = time.perf_counter()
            if QApplication.activeWindow() is not self.win:
                # a floating dock or a closed dialog took activation: the user clicks the
                # window again before typing (keys go to the active window only)
                self.win.activateWindow()
                self.process()
            try:
                with self.qtbot.capture_exceptions() as raised:
                    fn()
                    self.process()
                if raised:
                    etype, value, tb = raised[0]
                    where = "".join(traceback.format_exception(etype, value, tb)[-6:])
                    raise AssertionError(f"exception in a Qt slot: {etype.__name__}: {value}\n{where}")
                self.check()
                if self.count % 25 == 0:
                    self.deep_check()
                if self.count % 50 == 49:
                    gc.collect()  # and at a safe point, between two actions
                self.times[fn.__name__] = self.times.get(fn.__name__, 0.0) + time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 -- fail with the reproduction recipe
                pytest.fail(f"monkey (BPTTVIZ_MONKEY_SEED={SEED}) failed at action {self.count}: "
                            f"{type(e).__name__}: {e}\nlast actions:\n  " + "\n  ".join(self.log),
                            pytrace=True)


class _patched:
    """Temporarily replace a static method (a with-block version of monkeypatch.setattr)."""

    def __init__(self, owner, name, fn):
        self.owner, self.name, self.fn = owner, name, fn

    def __enter__(self):
        self.old = self.owner.__dict__[self.name] if self.name in self.owner.__dict__ else None
        setattr(self.owner, self.name, staticmethod(self.fn))

    def __exit__(self, *exc):
        if self.old is not None:
            setattr(self.owner, self.name, self.old)
        else:
            delattr(self.owner, self.name)


@pytest.fixture
def dialogs(monkeypatch):
    """Every QMessageBox, recorded instead of shown: (kind, title, text)."""
    calls = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: calls.append((_n, title, text)) or QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a, **k: calls.append(("question", title, text)) or QMessageBox.Yes))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: calls.append(("about",) + a[1:])))
    # never a real file dialog, whatever an action asks for
    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: ("", "")))
    return calls


def test_monkey(qtbot, dialogs, tmp_path, capsys):
    print(f"\nmonkey seed: BPTTVIZ_MONKEY_SEED={SEED}, {N_ACTIONS} actions")
    rng = random.Random(SEED)
    session = Session("min-char-rnn")
    session.edit("small", hidden_size=8, seq_length=12)  # cheap traces; the monkey may grow them
    session.undo_stack.clear()
    win = MainWindow(session)  # the real panels, all docks shown
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    monkey = Monkey(qtbot, win, rng, tmp_path, dialogs)
    win.confirm_unsaved = True  # the save prompts too (the dialogs fixture answers them)
    win.autosaver = Autosaver(win, path=str(tmp_path / "autosave.npz"))
    gc.enable()  # collections happen wherever they happen (conftest turns it off)
    t0 = time.perf_counter()
    try:
        monkey.run(N_ACTIONS)
    finally:
        gc.disable()
        win.confirm_unsaved = False  # never a real dialog at teardown
        if win.controller.running:
            win.controller.stop()
        if win.presenting:
            win.set_presentation(False)
        win.set_theme_name("light")
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\nmonkey: {N_ACTIONS} actions in {elapsed:.1f} s (seed {SEED}); "
              f"{len(dialogs)} dialogs; actions (count, seconds): " + ", ".join(
                  f"{k} {v} {monkey.times.get(k, 0):.1f}s" for k, v in sorted(monkey.stats.items())))
    assert win.isVisible()

"""Session files, version 2 (bpttviz.session_file): exact round trip, compact (a
100,000-iteration session under 2 MB, opened in under a second), version 1 files still open,
unknown members ignored, stale temp files cleaned, and the reader's own bugs are not
reported as a damaged file."""
import io
import json
import os
import time
import zipfile

import numpy as np
import pytest

from bpttviz.engine.run import HISTORY_FIELDS, History, Series
from bpttviz.session import Session, SessionError
from bpttviz.session_file import (SessionFileError, clean_stale_temp_files, read_session,
                                  write_session)
from hostile_files import members, v1_bytes, zip_bomb, zip_bytes


def _same_run(a: Session, b: Session, history_exact=True):
    assert a.config == b.config
    assert (a.cursor, a.iteration, a.run.pointer) == (b.cursor, b.iteration, b.run.pointer)
    assert a.run.smooth_loss == b.run.smooth_loss
    assert (a.preset.name if a.preset else None) == (b.preset.name if b.preset else None)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert a.run.optimizer.state.keys() == b.run.optimizer.state.keys()
    for k in a.run.optimizer.state:
        np.testing.assert_array_equal(a.run.optimizer.state[k], b.run.optimizer.state[k], err_msg=k)
    np.testing.assert_array_equal(a.run.h, b.run.h)
    np.testing.assert_array_equal(a.run.c, b.run.c)
    for k in HISTORY_FIELDS:
        x, y = np.asarray(getattr(a.run.history, k)), np.asarray(getattr(b.run.history, k))
        if history_exact:
            np.testing.assert_array_equal(x, y, err_msg=k)
        else:  # version 2 stores the history as float32
            np.testing.assert_array_equal(x.astype(np.float32).astype(np.float64), y, err_msg=k)


@pytest.mark.parametrize("name", ["min-char-rnn", "lstm-gates", "dinosaurs", "long-range",
                                  "notebook-one-step", "cs231n-captioning-lstm"])
def test_v2_round_trip_is_exact(tmp_path, name):
    s = Session(name)
    s.train(4)
    s.step(3)
    p = tmp_path / "s.npz"
    s.save(p)
    with zipfile.ZipFile(p) as z:
        assert json.loads(z.read("session.json"))["version"] == 2
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    o = Session("notebook-one-step" if name != "notebook-one-step" else "min-char-rnn")
    o.open(p)
    _same_run(s, o, history_exact=False)
    assert o.trace.loss == s.trace.loss
    # and both continue identically
    s.train(3)
    o.train(3)
    for k in s.params:
        np.testing.assert_array_equal(s.params[k], o.params[k])


def test_v1_file_still_opens(tmp_path):
    s = Session("min-char-rnn")
    s.train(3)
    s.edit("clip", clip="norm", clip_value=2.5)
    s.step(4)
    p = tmp_path / "old.npz"
    p.write_bytes(v1_bytes(s))  # today's format, written by the kept v1 writer
    with np.load(p, allow_pickle=False) as z:
        assert json.loads(str(z["meta_json"]))["version"] == 1
    o = Session("long-range")
    o.open(p)
    _same_run(s, o, history_exact=True)
    loaded = read_session(p)
    assert loaded.version == 1 and loaded.preset == "min-char-rnn"


def _long_session(n=100_000):
    s = Session("min-char-rnn")
    rng = np.random.default_rng(0)
    loss = 60 * np.exp(-np.arange(n) / 30_000) + 40 + rng.normal(0, 3, n)
    smooth = np.empty(n)
    acc = 70.0
    for i, x in enumerate(loss[:1000]):
        acc = acc * 0.999 + x * 0.001
        smooth[i] = acc
    smooth[1000:] = np.convolve(loss, np.ones(1000) / 1000, "same")[1000:]
    before = np.abs(rng.normal(20, 8, n)) + 1
    s.run.history = History(Series(loss), Series(smooth), Series(before),
                            Series(np.minimum(before, 5 * np.sqrt(s.run.params["Whh"].size))))
    s.run.iteration = n
    s.train(50)  # real optimizer state too
    return s


def test_a_100000_iteration_session_is_small_and_opens_fast(tmp_path):
    s = _long_session()
    p = tmp_path / "long.npz"
    s.save(p)
    size = p.stat().st_size
    assert size < 2_000_000, size
    print(f"100,050-iteration session: {size / 1e6:.2f} MB")
    o = Session("notebook-one-step")
    t = time.perf_counter()
    o.open(p)
    elapsed = time.perf_counter() - t
    assert elapsed < 1.0, elapsed
    assert len(o.run.history.loss) == 100_050 and o.iteration == 100_050
    _same_run(s, o, history_exact=False)


def test_history_beyond_float32_range_round_trips(tmp_path):
    """An exploding gradient norm (finite in float64, inf in float32) must not make the
    saved file unreadable: such a series is stored as float64."""
    s = Session("exploding")
    s.train(3)
    h = s.run.history
    s.run.history = History(h.loss, h.smooth_loss, Series([1e300, 2.5e39, 3.0]), h.grad_norm_after_clip)
    p = tmp_path / "big.npz"
    s.save(p)
    o = Session("min-char-rnn")
    o.open(p)
    assert o.run.history.grad_norm_before_clip.tolist() == [1e300, 2.5e39, 3.0]
    with pytest.raises(SessionError, match="iteration"):
        s.run.iteration = 10 ** 16
        s.save(p)
        o.open(p)


def test_unknown_members_are_ignored_without_reading(tmp_path):
    s = Session("min-char-rnn")
    s.train(2)
    p = tmp_path / "s.npz"
    s.save(p)
    extra = dict(members(p.read_bytes()), **{"notes.txt": b"hello", "param_x.json": b"{}"})
    q = tmp_path / "extra.npz"
    q.write_bytes(zip_bytes(extra))
    o = Session("long-range")
    o.open(q)
    _same_run(s, o, history_exact=False)
    # an unknown member that is a 1.5 GB bomb is not even opened
    r = tmp_path / "bomb-extra.npz"
    r.write_bytes(zip_bomb(p.read_bytes(), member="zzz-unknown.bin", n_mib=64))
    with zipfile.ZipFile(r) as z:
        assert "zzz-unknown.bin" in z.namelist()
    t = time.perf_counter()
    read_session(r)
    assert time.perf_counter() - t < 1.0


def test_write_session_is_atomic_and_readable_without_a_session(tmp_path):
    s = Session("dinosaurs")
    s.train(2)
    p = tmp_path / "d.npz"
    write_session(p, s.config, s.run.state_dict(), preset="dinosaurs", cursor=4)
    assert [x.name for x in tmp_path.iterdir()] == ["d.npz"]
    loaded = read_session(p)
    assert (loaded.preset, loaded.cursor, loaded.config) == ("dinosaurs", 4, s.config)
    run = loaded.make_run()
    np.testing.assert_array_equal(run.params["Whh"], s.params["Whh"])


def test_clean_stale_temp_files(tmp_path):
    old = tmp_path / ".bpttviz-abc123.tmp"
    new = tmp_path / ".bpttviz-def456.tmp"
    other = tmp_path / "notes.tmp"
    folder = tmp_path / ".bpttviz-dir.tmp"
    for f in (old, new, other):
        f.write_bytes(b"x" * 100)
    folder.mkdir()
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    removed = clean_stale_temp_files(tmp_path, older_than_s=3600)
    assert removed == [str(old)]
    assert not old.exists() and new.exists() and other.exists() and folder.is_dir()
    assert clean_stale_temp_files(tmp_path / "missing") == []


def test_own_bugs_are_not_reported_as_a_damaged_file(tmp_path, monkeypatch):
    s = Session("min-char-rnn")
    p = tmp_path / "s.npz"
    s.save(p)
    from bpttviz import session_file

    def buggy(self, *a, **k):
        raise KeyError("a bug in the reader")

    monkeypatch.setattr(session_file._Reader, "_finish", buggy)
    with pytest.raises(KeyError):
        Session("long-range").open(p)


def test_errors_are_session_file_errors_naming_the_file(tmp_path):
    p = tmp_path / "garbage.npz"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(SessionFileError) as e:
        read_session(p)
    assert str(p) in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(SessionFileError, match="not found"):
        read_session(tmp_path / "nope.npz")


def test_session_open_error_is_a_session_error(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(zip_bytes({"session.json": b'{"format": "bpttviz-session", "version": 2}'}))
    with pytest.raises(SessionError, match="x.npz"):
        Session("long-range").open(p)
    p.write_bytes(io.BytesIO(b"not a zip").getvalue())
    with pytest.raises(SessionError, match="not a zip"):
        Session("long-range").open(p)

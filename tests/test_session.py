"""The session model: cursor, undo/redo, save/open (versioned, atomic, allow_pickle=False),
and that a bad file or a bad edit leaves the current session exactly as it was."""
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bpttviz.session import Session, SessionError, atomic_write
from bpttviz.timeline import Event, parse_event, timeline


@pytest.fixture
def session(qapp):
    return Session("long-range")


def _snapshot(s: Session):
    return (s.cursor, s.iteration, dict(vars(s.config)),
            {k: v.copy() for k, v in s.params.items()}, s.trace.loss)


def _same(a, b):
    assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2] and a[4] == b[4]
    for k in a[3]:
        np.testing.assert_array_equal(a[3][k], b[3][k])


def test_timeline_and_parse():
    evs = timeline(3)
    assert [str(e) for e in evs] == ["forward:0", "forward:1", "forward:2", "backward:2",
                                     "backward:1", "backward:0", "clip", "update"]
    assert parse_event("forward:-1", 3) == Event("forward", 2)
    assert parse_event("END", 3) == Event("update")
    for bad in ["forward:3", "sideways:1", "forward:x", "", "backward:-4"]:
        with pytest.raises(ValueError, match="--at"):
            parse_event(bad, 3)


def test_one_signal_per_change_and_cursor_bounds(session, qtbot):
    n = len(session.events)
    with qtbot.waitSignal(session.sigCursorChanged):
        session.step(1)
    assert session.cursor == 1
    session.set_cursor(-5)
    assert session.cursor == 0
    session.set_cursor(10 ** 6)
    assert session.cursor == n - 1
    it = session.iteration
    session.step(1)  # past the update: next iteration, back to the start
    assert session.iteration == it + 1 and session.cursor == 0


def test_state_at_cursor(session):
    T = session.trace.T
    session.set_event("forward:3")
    st_ = session.state
    assert st_.forward_count == 4 and st_.backward_from == T and not st_.clipped
    session.set_event("backward:5")
    assert session.state.forward_count == T and session.state.backward_from == 5
    session.set_event("update")
    assert session.state.updated


def test_update_preview_is_what_next_iteration_applies(session):
    before = {k: v.copy() for k, v in session.params.items()}
    preview = session.update_preview()
    assert all(np.all(session.params[k] == before[k]) for k in before)  # preview changes nothing
    session.next_iteration()
    for k in before:
        np.testing.assert_allclose(session.params[k], before[k] + preview[k], rtol=0, atol=1e-15)


def test_edit_undo_redo_and_cursor_kept(session):
    session.set_event("backward:4")
    loss0 = session.trace.loss
    session.edit("hidden", hidden_size=7)
    assert session.trace.hidden_size == 7 and str(session.current_event) == "backward:4"
    original_clip = session.config.clip
    session.edit("clip", clip="param-norm")
    assert session.config.clip == "param-norm"
    session.undo_stack.undo()
    assert session.config.clip == original_clip
    session.undo_stack.undo()
    assert session.trace.hidden_size == 32 and session.trace.loss == loss0
    session.undo_stack.redo()
    assert session.trace.hidden_size == 7


@pytest.mark.parametrize("changes, words", [
    ({"hidden_size": 0}, "hidden_size"),
    ({"hidden_size": -3}, "hidden_size"),
    ({"cell": "transformer"}, "cell"),
    ({"lr": -1.0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"clip": "sometimes"}, "clip"),
    ({"clip_value": 0.0}, "clip_value"),
    ({"seq_length": 0}, "seq_length"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"nonsense": 1}, "nonsense"),
    ({"truncation": -5}, "truncation"),
    ({"truncation": 0}, "truncation"),
    ({"truncation": 2.5}, "truncation"),
    ({"truncation": True}, "truncation"),
    ({"carry_state": "yes"}, "carry_state"),
    ({"carry_state": None}, "carry_state"),
    ({"backprop_bug": "forget-everything"}, "backprop_bug"),
])
def test_bad_edits_are_refused_and_change_nothing(session, changes, words):
    snap = _snapshot(session)
    with pytest.raises(SessionError, match=words):
        session.edit("bad", **changes)
    _same(snap, _snapshot(session))
    assert session.undo_stack.count() == 0


def test_seq_length_longer_than_corpus_is_refused(qapp):
    s = Session("notebook-one-step")
    s.edit("corpus", task="text", text="abcabc")
    with pytest.raises(SessionError, match="at most 5"):
        s.edit("long", seq_length=50)


def test_bad_corpus_and_unknown_preset(session, tmp_path):
    snap = _snapshot(session)
    p = tmp_path / "bin.dat"
    p.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(SessionError, match="binary"):
        session.load_corpus(p)
    with pytest.raises(SessionError, match="preset must be one of"):
        session.load_preset("no-such-preset")
    _same(snap, _snapshot(session))


def test_divergence_reports_iteration_and_keeps_params(qapp):
    s = Session("long-range")
    s.edit("lr", optimizer="sgd", lr=1e308, clip=None, init_scale=1.0)
    good = None
    with pytest.raises(SessionError, match="diverged at iteration"):
        for _ in range(100):
            good = {k: v.copy() for k, v in s.params.items()}
            s.next_iteration()
    for k in good:
        np.testing.assert_array_equal(s.params[k], good[k])
    assert all(np.all(np.isfinite(v)) for v in s.params.values())


def test_save_open_roundtrip(session, tmp_path, qapp):
    session.next_iteration()
    session.next_iteration()
    session.edit("clip", clip="norm", clip_value=1.5)
    session.set_event("backward:7")
    path = tmp_path / "s.bpttviz.npz"
    session.save(path)
    other = Session("notebook-one-step")
    other.open(path)
    assert str(other.current_event) == "backward:7" and other.iteration == 2
    assert other.config == session.config
    for k in session.params:
        np.testing.assert_array_equal(other.params[k], session.params[k])
    assert other.trace.loss == session.trace.loss
    # The optimizer state came along: the next update is the same.
    a, b = session.update_preview(), other.update_preview()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    import zipfile
    with zipfile.ZipFile(path) as z:  # saved as version 2 (bpttviz.session_file)
        assert json.loads(z.read("session.json"))["version"] == 2


def test_save_is_atomic(session, tmp_path, monkeypatch):
    path = tmp_path / "s.npz"
    session.save(path)
    good = path.read_bytes()
    # A failure in the middle of writing leaves the old file whole and no temp file behind.
    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        session.save(path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


def test_save_to_unwritable_folder_says_so(session, tmp_path):
    with pytest.raises(OSError):
        session.save(tmp_path / "no" / "such" / "folder" / "s.npz")


def _valid_bytes(session, tmp_path):
    """A valid version 1 file (the corruptions below edit its meta_json; version 2 files get
    the same treatment in test_hostile_files.py)."""
    from hostile_files import v1_bytes
    return v1_bytes(session)


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_corrupt_wrong_version_and_hostile_files(session, tmp_path):
    good = _valid_bytes(session, tmp_path)
    meta = json.loads(str(np.load(io.BytesIO(good))["meta_json"]))
    cases = {
        "truncated": good[: len(good) // 2],
        "garbage": b"definitely not a zip file",
        "empty": b"",
        "wrong_version": _npz(meta_json=np.array(json.dumps(dict(meta, version=99)))),
        "foreign": _npz(meta_json=np.array(json.dumps({"format": "other"}))),
        "no_meta": _npz(x=np.zeros(3)),
        # A pickled object array: np.load with allow_pickle=False must refuse it.
        "hostile_pickle": _npz(meta_json=np.array([{"__reduce__": 1}], dtype=object)),
    }
    snap = _snapshot(session)
    for name, data in cases.items():
        p = tmp_path / f"{name}.npz"
        p.write_bytes(data)
        with pytest.raises(SessionError) as exc:
            session.open(p)
        assert str(exc.value), name
        _same(snap, _snapshot(session))
    with pytest.raises(SessionError, match="version 99"):
        session.open(tmp_path / "wrong_version.npz")
    with pytest.raises(SessionError, match="not found"):
        session.open(tmp_path / "missing.npz")


def test_inconsistent_params_are_refused(session, tmp_path):
    good = np.load(io.BytesIO(_valid_bytes(session, tmp_path)))
    arrays = {k: good[k] for k in good.files}
    arrays["param_Whh"] = np.zeros((3, 3))
    p = tmp_path / "bad.npz"
    p.write_bytes(_npz(**arrays))
    with pytest.raises(SessionError):
        session.open(p)
    arrays = {k: good[k] for k in good.files}
    arrays["param_Why"] = np.full_like(arrays["param_Why"], np.nan)
    p.write_bytes(_npz(**arrays))
    with pytest.raises(SessionError, match="non-finite"):
        session.open(p)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_session_reader(session, tmp_path, data):
    """Random corruptions of a valid file: the reader either loads a consistent session or
    raises SessionError; the session is never left half-changed."""
    good = bytearray(_valid_bytes(session, tmp_path))
    n = data.draw(st.integers(1, 8))
    for _ in range(n):
        i = data.draw(st.integers(0, len(good) - 1))
        good[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        good = good[: data.draw(st.integers(0, len(good)))]
    p = tmp_path / "fuzz.npz"
    p.write_bytes(bytes(good))
    snap = _snapshot(session)
    try:
        session.open(p)
    except SessionError:
        _same(snap, _snapshot(session))
        return
    tr = session.trace
    assert 0 <= session.cursor < len(session.events)
    assert tr.h.shape == (tr.T, session.config.hidden_size)
    assert all(np.all(np.isfinite(v)) for v in session.params.values())


def test_atomic_write_replaces(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write(p, b"one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two"


def test_scale_whh_moves_spectrum_and_undoes(session):
    r0 = session.whh_spectrum().spectral_radius
    W0 = session.params["Whh"].copy()
    session.scale_whh(2.0)
    assert session.whh_spectrum().spectral_radius == pytest.approx(2 * r0, rel=1e-9)
    np.testing.assert_allclose(session.trace.params["Whh"], 2 * W0)
    session.undo_stack.undo()
    np.testing.assert_allclose(session.params["Whh"], W0, rtol=1e-15)
    with pytest.raises(SessionError, match="between"):
        session.scale_whh(0.0)


@pytest.mark.parametrize("seed", [2 ** 40, -1, 1.5, True])
def test_seed_out_of_range_is_refused(session, seed):
    snap = _snapshot(session)
    with pytest.raises(SessionError, match="seed"):
        session.edit("seed", seed=seed)
    _same(snap, _snapshot(session))


def test_scaling_whh_past_the_float_maximum_is_refused_and_changes_nothing(session):
    """The 10,000-action monkey scaled Whh x2 until it held inf (action 9945): a scale that
    overflows is refused with the reason, and the weights, trace and undo stack stay."""
    for _ in range(1100):
        W, depth = session.params["Whh"].copy(), session.undo_stack.count()
        serial = session.trace_serial
        try:
            session.scale_whh(2.0)
        except SessionError as e:
            assert "overflow" in str(e)
            break
    else:
        pytest.fail("x2 a thousand times was never refused")
    assert np.max(np.abs(W)) > 8e307 / 2 and np.all(np.isfinite(session.params["Whh"]))
    np.testing.assert_array_equal(session.params["Whh"], W)
    assert session.undo_stack.count() == depth and session.trace_serial == serial


def test_smoothed_loss_follows_a_change_of_window_length():
    """The smoothed loss is a window's loss: after 25 -> 100 steps (no training yet) it is
    100 ln V, not 25 ln V beside a loss of 100 ln V (the status bar said training had
    quartered the loss); after training it keeps its per-step value; undo gives it back."""
    import math
    s = Session("min-char-rnn")
    V = len(s.run.vocab)
    assert s.smooth_loss == pytest.approx(25 * math.log(V))
    s.edit(seq_length=100)
    assert s.smooth_loss == pytest.approx(100 * math.log(V))
    s.edit(loss_steps="last")
    assert s.smooth_loss == pytest.approx(math.log(V))
    s.undo_stack.undo()
    s.undo_stack.undo()
    assert s.smooth_loss == pytest.approx(25 * math.log(V))
    s.run.smooth_loss = 50.0  # as if trained: 2 nats a step over 25 steps
    s.edit(seq_length=50)
    assert s.smooth_loss == pytest.approx(100.0)
    s.run.smooth_loss = 0.1 + 0.2  # an edit of anything else keeps it to the last bit
    for lr in (0.03, 0.07, 0.011):
        s.edit(lr=lr)
        assert s.smooth_loss == 0.1 + 0.2

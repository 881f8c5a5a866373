"""One set of limits (bpttviz.engine.limits): RunConfig.validate refuses every value outside
them naming the field, the value, the limit and the reason; Session.edit refuses the same
values with the session unchanged; values at the limits are accepted."""
from dataclasses import asdict, fields

import numpy as np
import pytest

from bpttviz.engine import limits as L
from bpttviz.engine.presets import load_preset
from bpttviz.engine.run import RunConfig
from bpttviz.session import Session, SessionError

BASE = load_preset("min-char-rnn").config


def _cfg(**changes):
    return BASE.with_changes(**changes)


# (field, a refused value, words the message must contain)
OUT_OF_LIMIT = [
    ("hidden_size", 513, "512"), ("hidden_size", 2048, "197 s"), ("hidden_size", 0, "hidden_size"),
    ("hidden_size", 4096, "hidden_size"), ("hidden_size", 8.0, "whole number"),
    ("seq_length", 201, "200"), ("seq_length", 200_000, "froze"), ("seq_length", 0, "seq_length"),
    ("seed", -1, "seed"), ("seed", 2 ** 31, "seed"), ("seed", 1.5, "seed"), ("seed", True, "seed"),
    ("init_scale", 1000.5, "init_scale"), ("init_scale", -0.1, "init_scale"),
    ("init_scale", float("inf"), "finite"),
    ("lr", 0.0, "lr"), ("lr", -1.0, "lr"), ("lr", float("nan"), "lr"), ("lr", "fast", "lr"),
    ("clip_value", 0.0, "clip_value"), ("clip_value", float("inf"), "clip_value"),
    ("clip_value", float("nan"), "clip_value"),
    ("truncation", 0, "truncation"), ("truncation", 201, "truncation"), ("truncation", 2.5, "truncation"),
    ("whh_radius", 0.0, "whh_radius"), ("whh_radius", 101.0, "whh_radius"),
    ("whh_radius", float("nan"), "whh_radius"),
    ("symbols", 11, "symbols"), ("symbols", 0, "symbols"),
    ("delay", 0, "delay"), ("delay", 200, "delay"),
    ("batch_size", 0, "batch_size"), ("batch_size", 1001, "batch_size"),
    ("wordvec_dim", 513, "wordvec_dim"), ("wordvec_dim", 0, "wordvec_dim"),
    ("cell", "transformer", "cell"), ("task", "poetry", "task"), ("clip", 3, "clip"),
    ("optimizer", "rmsprop", "optimizer"), ("carry_state", "yes", "carry_state"),
    ("backprop_bug", "everything", "backprop_bug"),
]


@pytest.mark.parametrize("name, value, words", OUT_OF_LIMIT)
def test_validate_refuses_with_field_value_limit_and_reason(name, value, words):
    with pytest.raises(ValueError) as e:
        _cfg(**{name: value}).validate()
    msg = str(e.value)
    assert name in msg and words in msg, msg
    if name in L.CONFIG_LIMITS:  # the limit and its reason are named
        lim = L.CONFIG_LIMITS[name]
        assert isinstance(e.value, L.LimitError) and lim.reason in msg, msg
        assert f"{lim.high:g}" in msg


def test_session_edit_refuses_the_same_values_and_changes_nothing():
    """Every refused value of OUT_OF_LIMIT, through Session.edit (one session, so one Qt
    teardown for them all)."""
    s = Session("min-char-rnn")
    s.train(2)
    s.set_cursor(5)
    before = (asdict(s.config), s.cursor, s.iteration, s.undo_stack.count(),
              {k: v.copy() for k, v in s.params.items()})
    run = s.run
    for name, value, words in OUT_OF_LIMIT:
        if name in ("task", "delay", "symbols"):
            continue  # task: the session's own message; delay/symbols: the delay task below
        with pytest.raises(SessionError, match=name):
            s.edit("bad", **{name: value})
        assert s.run is run, (name, value)
        assert (asdict(s.config), s.cursor, s.iteration, s.undo_stack.count()) == before[:4]
        for k, v in before[4].items():
            np.testing.assert_array_equal(s.params[k], v)


def test_delay_task_limits_through_the_session():
    s = Session("long-range")
    for changes in ({"delay": 0}, {"delay": s.config.seq_length}, {"symbols": 11}):
        with pytest.raises(SessionError, match=next(iter(changes))):
            s.edit("bad", **changes)


@pytest.mark.parametrize("name, value", [
    ("hidden_size", 512), ("hidden_size", 1), ("seq_length", 200), ("seed", 2 ** 31 - 1),
    ("seed", 0), ("init_scale", 1000.0), ("init_scale", 0.0), ("lr", 1e308), ("clip_value", 1e308),
    ("truncation", 200), ("whh_radius", 100.0), ("batch_size", 1000), ("wordvec_dim", 512),
    ("seed", np.int64(5)), ("hidden_size", np.int32(7)),
])
def test_values_at_the_limits_are_accepted(name, value):
    assert _cfg(**{name: value}).validate() is not None


def test_corpus_limits():
    with pytest.raises(ValueError, match="distinct"):
        _cfg(text="".join(chr(0x4e00 + i) for i in range(300)) * 2).validate()
    with pytest.raises(ValueError, match="at most 5"):
        _cfg(text="abcabc", seq_length=50).validate()
    with pytest.raises(ValueError, match="corpus"):
        _cfg(text="ab" * (L.CORPUS_BYTES.high // 2 + 1)).validate()
    with pytest.raises(ValueError, match="longest name"):
        _cfg(task="names", text="rex\n" + "a" * 250 + "\nbo\n").validate()
    with pytest.raises(ValueError, match="corpus"):
        _cfg(text="").validate()
    _cfg(task="names", text="rex\n" + "a" * 199 + "\nbo\n").validate()  # 200 steps: fine


def test_fixed_and_captioning_fields():
    nb = load_preset("notebook-one-step").config
    nb.validate()
    for changes, word in [({"inputs": (0, 1), "targets": (1,)}, "equally long"),
                          ({"inputs": (9,), "targets": (1,)}, "index 9"),
                          ({"inputs": (0,) * 201, "targets": (0,) * 201}, "inputs"),
                          ({"vocab": ("a", "a", "b", "c")}, "distinct"),
                          ({"inputs": ("x",), "targets": (1,)}, "indices")]:
        with pytest.raises(ValueError, match=word):
            nb.with_changes(**changes).validate()
    cap = load_preset("cs231n-captioning-rnn").config
    cap.validate()
    for bad in ("/dev/zero", "../../etc/passwd.npz", "captioning/x.txt"):
        with pytest.raises(ValueError, match="dataset"):
            cap.with_changes(dataset=bad).validate()


def test_every_limit_is_named_with_a_reason():
    assert set(L.CONFIG_LIMITS) <= {f.name for f in fields(RunConfig)}
    for key, lim in L.LIMITS.items():
        assert lim.reason and len(lim.reason) > 20, key
        assert lim.low < lim.high or (lim.low == lim.high == 0)
        lo, hi = lim.offer
        assert lim.low <= lo <= hi <= lim.high, key
    # the sizes that exhausted memory (issue 16) are outside the limits
    assert not L.HIDDEN_SIZE.contains(1024) and not L.SEQ_LENGTH.contains(400)


def test_engine_refuses_out_of_limit_runs_too():
    from bpttviz.engine.train import make_run
    with pytest.raises(ValueError, match="hidden_size"):
        make_run(_cfg(hidden_size=1024))

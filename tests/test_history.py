"""The training history stays bounded (issue 16: memory during an hour of live training):
when it fills, neighbouring entries are merged and each then stands for 2, 4, 8 ...
iterations.  Every merged value is checked against a plain full-resolution record (means of
blocks of iterations, the smoothed loss at each block's last iteration), through saving,
loading and continued training."""
import copy

import numpy as np
import pytest

from bpttviz.engine import limits as L
from bpttviz.engine.presets import load_preset
from bpttviz.engine.run import HISTORY_FIELDS, History, check_history_state, history_table
from bpttviz.engine.train import make_run
from bpttviz.session import Session


def _records(n, seed=0):
    rng = np.random.default_rng(seed)
    return {"loss": rng.uniform(1, 5, n), "smooth_loss": np.cumsum(rng.uniform(0, 1, n)),
            "grad_norm_before_clip": rng.uniform(0, 50, n), "grad_norm_after_clip": rng.uniform(0, 5, n)}


def _expected(rec, stride):
    """What a history of ``stride`` per entry must hold: computed from the full record."""
    n = len(rec["loss"]) // stride
    out = {}
    for k, v in rec.items():
        blocks = v[:n * stride].reshape(n, stride)
        out[k] = blocks[:, -1] if k == "smooth_loss" else blocks.mean(axis=1)
    return out


def _record_all(h, rec, start=0, stop=None):
    for i in range(start, len(rec["loss"]) if stop is None else stop):
        h.record(*(rec[k][i] for k in HISTORY_FIELDS))


@pytest.mark.parametrize("n", [7, 8, 37, 100, 1000, 1023])
def test_a_full_history_is_merged_into_block_means(n):
    rec = _records(n)
    h = History(capacity=8)
    _record_all(h, rec)
    assert len(h) < 8 and h.iterations == n
    assert h.stride == {7: 1, 8: 2, 37: 8, 100: 16, 1000: 128, 1023: 128}[n]  # doubles at 4 x stride
    want = _expected(rec, h.stride)
    for k in HISTORY_FIELDS:
        np.testing.assert_allclose(getattr(h, k).values, want[k], rtol=1e-12, err_msg=k)
    # The iterations not yet in an entry are the pending block: their means and last smoothed loss.
    done = len(h) * h.stride
    p = h.pending
    assert p[0] == n - done
    if p[0]:
        tail = {k: v[done:] for k, v in rec.items()}
        np.testing.assert_allclose(p[1:], [tail["loss"].mean(), tail["smooth_loss"][-1],
                                           tail["grad_norm_before_clip"].mean(),
                                           tail["grad_norm_after_clip"].mean()], rtol=1e-12)
    # The table: first iteration of each entry and how many it averages.
    table = history_table(h.arrays(), h.stride)
    np.testing.assert_array_equal(table[:, 0], np.arange(len(h)) * h.stride)
    assert np.all(table[:, 5] == h.stride)


def test_memory_stays_bounded_however_long_training_runs():
    h = History(capacity=1024)
    rec = _records(200_000, seed=3)
    _record_all(h, rec)
    assert h.iterations == 200_000 and h.stride == 256
    held = sum(getattr(h, k)._buf.nbytes for k in HISTORY_FIELDS)
    assert held <= 4 * 8 * 1024 * 2  # four float64 series of at most twice the capacity
    # ... and the default capacity is the named limit
    assert History().capacity == L.HISTORY_POINTS.high and L.HISTORY_POINTS.high <= 2 ** 20


def test_merging_never_overflows_a_huge_finite_norm():
    h = History(capacity=4)
    for _ in range(50):
        h.record(1.0, 1.0, 1.7e308, 1.7e308)
    for k in ("grad_norm_before_clip", "grad_norm_after_clip"):
        np.testing.assert_allclose(getattr(h, k).values, 1.7e308, rtol=1e-12)
    assert np.all(np.isfinite(h.pending))


def test_a_long_loaded_history_is_compacted_and_checked():
    rec = _records(100)
    h = check_history_state(dict(rec))
    assert h.stride == 1 and len(h) == 100  # well under the default capacity: unchanged
    small = History(*(rec[k] for k in HISTORY_FIELDS), capacity=16)
    assert len(small) < 16 and small.iterations == 100
    for k in HISTORY_FIELDS:
        np.testing.assert_allclose(getattr(small, k).values, _expected(rec, small.stride)[k], rtol=1e-12)
    for bad, words in [(dict(rec, stride=0), "stride"), (dict(rec, stride=1.5), "stride"),
                       (dict(rec, stride=4, pending=np.array([4.0, 1, 1, 1, 1])), "pending count"),
                       (dict(rec, stride=4, pending=np.array([1.0, np.nan, 1, 1, 1])), "non-finite"),
                       (dict(rec, stride=4, pending=np.zeros(3)), "shape"),
                       (dict(rec, extra=np.zeros(100)), "exactly")]:
        with pytest.raises(ValueError, match=words):
            check_history_state(bad)


def test_a_compacted_run_saves_loads_and_continues_like_one_never_interrupted(tmp_path):
    p = load_preset("min-char-rnn")
    a, b = make_run(p.config, p.weights), make_run(p.config, p.weights)
    for r in (a, b):
        r.history = History(capacity=8)
    a.train(45)
    b.train(21)
    state = b.state_dict()
    assert state["history"]["stride"] == 4 and state["history"]["pending"][0] == 1
    c = make_run(p.config)
    c.load_state_dict(copy.deepcopy(state))
    c.history.capacity = 8
    c.train(24)
    assert (c.history.stride, len(c.history)) == (a.history.stride, len(a.history))
    for k in HISTORY_FIELDS:
        np.testing.assert_allclose(getattr(c.history, k).values, getattr(a.history, k).values,
                                   rtol=1e-12, err_msg=k)
    np.testing.assert_allclose(c.history.pending, a.history.pending, rtol=1e-12)

    # Through a session file: the stride and the pending block survive.
    s = Session("min-char-rnn")
    s.run.history = History(capacity=8)
    s.train(21)
    path = tmp_path / "s.bpttviz"
    s.save(path)
    o = Session("min-char-rnn")
    o.open(path)
    assert o.run.history.stride == 4 and len(o.run.history) == 5
    np.testing.assert_allclose(o.run.history.pending, s.run.history.pending, rtol=1e-6)
    np.testing.assert_allclose(o.run.history.loss.values, s.run.history.loss.values, rtol=1e-6)


def test_the_loss_history_csv_says_what_each_row_averages(tmp_path):
    from bpttviz.export.tables import read_csv_table, save_loss_history_csv
    s = Session("min-char-rnn")
    s.run.history = History(capacity=8)
    s.train(37)
    cols, table = read_csv_table(save_loss_history_csv(s, tmp_path))
    assert cols == ["iteration", "loss", "smooth_loss", "grad_norm_before_clip",
                    "grad_norm_after_clip", "averaged_over"]
    np.testing.assert_array_equal(table[:, 0], [0, 8, 16, 24])
    np.testing.assert_array_equal(table[:, 5], 8)
    np.testing.assert_allclose(table[:, 1], s.run.history.loss.values, rtol=0)

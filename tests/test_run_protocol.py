"""The one Run protocol (issue 11): both runs implement it; every entry point trains through
the same loop, so captioning trains identically from the window's stepping, Session.train,
run.train and the live-training worker; state_dict round trips; load_state_dict refuses bad
state and leaves the run unchanged."""
import math

import numpy as np
import pytest

from bpttviz.engine.captioning import caption_forward_backward
from bpttviz.engine.presets import list_presets, load_preset
from bpttviz.engine.run import HISTORY_FIELDS, Run, Series
from bpttviz.engine.train import make_run
from bpttviz.session import Session

CAPTION = ["cs231n-captioning-rnn", "cs231n-captioning-lstm"]


def _run(name):
    p = load_preset(name)
    return make_run(p.config, p.weights)


def _params_equal(a, b, tol=1e-12):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=tol, err_msg=k)


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_run_follows_the_protocol(name):
    run = _run(name)
    assert isinstance(run, Run)
    tr = run.trace()
    assert run.trace() is tr  # cached until the update
    grads = run.update_gradient(tr)
    assert grads.keys() == run.params.keys()
    before = {k: v.copy() for k, v in run.params.items()}
    run.update()
    assert run.iteration == 1 and len(run.history.loss) == 1
    assert run.trace() is not tr
    assert any(not np.array_equal(before[k], run.params[k]) for k in before)
    assert isinstance(run.sample_text(20, 1.0, seed=3), str)
    assert run.sample(20, 1.0, seed=3) == run.sample_text(20, 1.0, seed=3)
    calls = []
    assert run.train(4, should_stop=None, on_batch_end=calls.append) == 4
    assert calls == [run] * 4 and run.iteration == 5


@pytest.mark.parametrize("name", ["min-char-rnn", "dinosaurs", "long-range", "lstm-gates"] + CAPTION)
def test_state_dict_round_trip_continues_identically(name):
    a = _run(name)
    a.train(3)
    sd = a.state_dict()
    # plain data only: ints, floats, numpy float arrays, dicts of those
    assert isinstance(sd["iteration"], int) and isinstance(sd["pointer"], int)
    assert isinstance(sd["smooth_loss"], float)
    for group in ("params", "optimizer"):
        assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in sd[group].values())
    assert set(sd["history"]) == set(HISTORY_FIELDS) | {"stride", "pending"}
    assert all(isinstance(sd["history"][k], np.ndarray) and sd["history"][k].dtype == np.float64
               for k in HISTORY_FIELDS + ("pending",))
    assert sd["history"]["stride"] == 1 and isinstance(sd["history"]["stride"], int)
    b = make_run(a.config)  # fresh parameters: everything must come from the state
    b.load_state_dict(sd)
    a.train(4)
    b.train(4)
    _params_equal(a.params, b.params, tol=0)
    assert a.iteration == b.iteration == 7 and a.pointer == b.pointer
    assert a.history.loss.tolist() == b.history.loss.tolist()
    # the dict was a copy: training did not change it
    assert sd["iteration"] == 3 and len(sd["history"]["loss"]) == 3


def _corrupt(sd, what):
    sd = {k: (dict(v) if isinstance(v, dict) else v) for k, v in sd.items()}
    first = sorted(sd["params"])[0]
    if what == "param shape":
        sd["params"][first] = np.zeros((2, 3))
    elif what == "param nan":
        sd["params"][first] = np.full_like(sd["params"][first], np.nan)
    elif what == "missing param":
        del sd["params"][first]
    elif what == "optimizer shape":
        k = sorted(sd["optimizer"])[0]
        sd["optimizer"][k] = np.zeros(7)
    elif what == "optimizer nan":
        k = sorted(sd["optimizer"])[0]
        sd["optimizer"][k] = np.full_like(sd["optimizer"][k], np.nan)
    elif what == "optimizer negative":
        k = next(k for k in sorted(sd["optimizer"]) if k.startswith(("mem_", "v_")))
        sd["optimizer"][k] = -np.ones_like(sd["optimizer"][k])
    elif what == "optimizer unknown":
        sd["optimizer"]["mystery"] = np.zeros(3)
    elif what == "negative iteration":
        sd["iteration"] = -1
    elif what == "bool iteration":
        sd["iteration"] = True
    elif what == "pointer":
        sd["pointer"] = 10 ** 9
    elif what == "smooth nan":
        sd["smooth_loss"] = float("nan")
    elif what == "h shape":
        sd["h"] = np.zeros(3)
    elif what == "ragged history":
        sd["history"]["loss"] = sd["history"]["loss"][:-1]
    elif what == "inf history":
        h = sd["history"]["grad_norm_before_clip"].copy()
        h[0] = np.inf
        sd["history"]["grad_norm_before_clip"] = h
    elif what == "unknown key":
        sd["rng"] = 3
    return sd


BAD = ["param shape", "param nan", "missing param", "optimizer shape", "optimizer nan",
       "optimizer negative", "optimizer unknown", "negative iteration", "bool iteration",
       "pointer", "smooth nan", "h shape", "ragged history", "inf history", "unknown key"]


@pytest.mark.parametrize("what", BAD)
@pytest.mark.parametrize("name", ["min-char-rnn", "cs231n-captioning-lstm"])
def test_load_state_dict_refuses_bad_state_and_changes_nothing(name, what):
    a = _run(name)
    a.train(2)
    good = a.state_dict()
    b = make_run(a.config)
    b.train(1)
    before = b.state_dict()
    with pytest.raises(ValueError):
        b.load_state_dict(_corrupt(good, what))
    after = b.state_dict()
    assert after["iteration"] == before["iteration"] == 1
    _params_equal(after["params"], before["params"], tol=0)
    _params_equal(after["optimizer"], before["optimizer"], tol=0)


# --- captioning: one iteration is one minibatch update, from every entry point ------------
N = 6


def _by_stepping(name):
    s = Session(name)
    for _ in range(N):
        s.next_iteration()  # the window's way: step past the update event
    return s.params


def _by_session_train(name):
    s = Session(name)
    assert s.train(N) == N
    return s.params


def _by_run_train(name):
    run = _run(name)
    run.train(N)
    return run.params


def _by_worker(name):
    from bpttviz.gui.training import TrainingWorker
    run = _run(name)
    worker = TrainingWorker(run, limit=N, sample_interval=0)
    finished = []
    worker.sigFinished.connect(finished.append)
    worker.work()  # the live-training loop, run synchronously
    assert finished == ["limit"] and worker.done == N
    return run.params


@pytest.mark.parametrize("name", CAPTION)
def test_captioning_trains_identically_from_every_entry_point(name):
    ref = _by_run_train(name)
    for other in (_by_stepping, _by_session_train, _by_worker):
        _params_equal(ref, other(name))


@pytest.mark.parametrize("name", ["min-char-rnn", "dinosaurs"])
def test_character_models_train_identically_from_every_entry_point(name):
    ref = _by_run_train(name)
    for other in (_by_stepping, _by_session_train, _by_worker):
        _params_equal(ref, other(name))


@pytest.mark.parametrize("name", CAPTION)
def test_a_captioning_iteration_is_one_adam_step_on_its_minibatch(name):
    """Independent of CaptionRun: cs231n's adam written out on the minibatch's gradient."""
    s = Session(name)
    run = s.run
    cfg = s.config
    batch = run.batch()
    n = run.dataset.num_examples
    assert len(set(batch.tolist())) == len(batch) == min(cfg.batch_size, n)
    np.testing.assert_array_equal(run.batch(0), batch)  # a function of (seed, iteration)
    # the window steps through the minibatch's first caption
    np.testing.assert_array_equal(s.trace.inputs, run.dataset.captions[batch[0], :-1])
    ds = run.dataset
    p0 = {k: v.copy() for k, v in run.params.items()}
    ct = caption_forward_backward(p0, ds.features[batch], ds.captions[batch], cfg.cell, ds.null)
    preview = s.update_preview()  # what the update event shows
    s.next_iteration()
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, cfg.lr
    for k, g in ct.grads.items():
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        expected = p0[k] - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
        np.testing.assert_allclose(run.params[k], expected, rtol=0, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(preview[k], expected - p0[k], rtol=0, atol=1e-12, err_msg=k)
    assert run.history.loss[0] == pytest.approx(ct.loss, rel=1e-12)
    assert run.batch().tolist() != batch.tolist()  # the next iteration, the next minibatch


def test_should_stop_is_polled_before_every_iteration():
    run = _run("notebook-one-step")
    polls = []

    def should_stop():
        polls.append(run.iteration)
        return run.iteration >= 3

    assert run.train(10, should_stop=should_stop) == 3
    assert polls == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="whole number"):
        run.train(-1)


def test_divergence_counts_only_good_iterations():
    from bpttviz.engine.train import DivergenceError
    s = Session("min-char-rnn")
    run = s.run
    run.optimizer.lr = 1e308
    run.config.clip = None
    for k in run.params:
        run.params[k] *= 100
    run._trace = None
    seen = []
    with pytest.raises(DivergenceError):
        run.train(50, on_batch_end=seen.append)
    assert run.iteration == len(seen) == len(run.history.loss)
    assert all(np.all(np.isfinite(v)) for v in run.params.values())


def test_history_is_a_growable_float_array():
    h = Series()
    for i in range(1000):
        h.append(i * 0.5)
    h.extend(np.arange(3.0))
    assert len(h) == 1003 and h[-1] == 2.0 and h[2] == 1.0
    tail = h[1000:]
    assert isinstance(tail, np.ndarray) and tail.tolist() == [0.0, 1.0, 2.0]
    tail[0] = 99  # a copy: the series is unchanged
    assert h[1000] == 0.0
    assert np.asarray(h).dtype == np.float64 and np.asarray(h).shape == (1003,)
    assert bool(h) and not Series()
    assert list(h)[:3] == [0.0, 0.5, 1.0]
    assert h._buf.nbytes <= 2 * 8 * 1003 + 8 * 256  # amortised doubling, float64
    assert math.isclose(float(np.mean(h[-10:])), np.mean(np.asarray(h)[-10:]))


def test_live_training_history_costs_bytes_not_objects():
    """~550 B per iteration as lists (issue 16); as arrays 32 B for the four series."""
    run = _run("notebook-one-step")
    run.train(1500)
    total = sum(getattr(run.history, k)._buf.nbytes for k in HISTORY_FIELDS)
    assert total / 1500 < 80

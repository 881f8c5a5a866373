"""Each preset opens showing its lesson (issue 12): the number that makes each point, with
the expected values computed here from the trace arrays, from the task's definition, from a
forward pass written in this file or from finite differences."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bpttviz.engine.analysis import truncated_bptt
from bpttviz.engine.model import forward, init_params, run_bptt
from bpttviz.engine.presets import load_preset
from bpttviz.engine.run import RunConfig
from bpttviz.engine.train import make_run


def preset_run(name, **changes):
    p = load_preset(name)
    cfg = p.config.with_changes(**changes) if changes else p.config
    return make_run(cfg, p.weights)


# --- 1. min-char-rnn: hidden states visible at the start ----------------------------------
def test_min_char_rnn_hidden_states_are_not_white_at_iteration_0(qtbot):
    from bpttviz.gui.panels.hidden import HiddenStatesPanel
    from bpttviz.session import Session
    s = Session("min-char-rnn")
    p = HiddenStatesPanel(s)
    qtbot.addWidget(p)
    p.resize(900, 500)
    p.show()
    s.set_event("forward:24")
    p.refresh()
    m = float(np.max(np.abs(s.trace.h)))
    assert s.run.iteration == 0 and 0 < m < 0.1  # freshly initialised: |h| ~ 0.01
    lo, hi = p.heatmap.levels
    assert p.range_mode == "auto"
    assert 0 < hi <= 2 * m and -2 * m <= lo < 0  # the colours span the data: cells not white
    # Auto keeps the fixed tanh range when the values are not tiny.
    s.edit(init_scale=1.0)
    s.set_event("forward:24")
    p.refresh()
    assert float(np.max(np.abs(s.trace.h))) > 0.5
    assert p.heatmap.levels == (-1.0, 1.0)


# --- 2. vanishing: only the last step's loss, so ||dhnext|| decays ---------------------------
def test_vanishing_preset_backpropagates_the_last_step_and_dhnext_decays():
    run = preset_run("vanishing")
    assert run.config.loss_steps == "last"
    tr = run.trace()
    n = np.linalg.norm(tr.dhnext, axis=1)
    T = tr.T
    assert n[0] / n[T - 2] < 1e-3
    # The other steps' losses are still computed (shown), but only the last is the loss.
    p = tr.p
    xent = -np.log(p[np.arange(T), tr.targets])
    np.testing.assert_allclose(tr.losses, xent, rtol=1e-10)
    assert tr.loss == pytest.approx(xent[-1])
    assert np.all(tr.dy[:-1] == 0)
    # With every step's loss (the default) the early steps get their own gradient: no decay.
    full = preset_run("vanishing", loss_steps="all").trace()
    nf = np.linalg.norm(full.dhnext, axis=1)
    assert nf[0] / nf[T - 2] > 0.05


def _rnn_last_loss(P, inputs, targets, h0):
    """min-char-rnn's forward pass written out here; the cross-entropy of the last step only."""
    h = h0.copy()
    V = P["Why"].shape[0]
    for t, ix in enumerate(inputs):
        x = np.zeros(V)
        x[ix] = 1.0
        h = np.tanh(P["Wxh"] @ x + P["Whh"] @ h + P["bh"])
    y = P["Why"] @ h + P["by"]
    y = y - y.max()
    return float(-(y[targets[-1]] - np.log(np.exp(y).sum())))


def _fd(loss, P, eps=1e-5):
    out = {}
    for k, arr in P.items():
        g = np.zeros_like(arr)
        for ix in np.ndindex(arr.shape):
            old = arr[ix]
            arr[ix] = old + eps
            a = loss(P)
            arr[ix] = old - eps
            b = loss(P)
            arr[ix] = old
            g[ix] = (a - b) / (2 * eps)
        out[k] = g
    return out


def test_last_step_only_gradients_pass_a_finite_difference_check():
    rng = np.random.default_rng(3)
    V, H, T = 5, 4, 7
    P = init_params("rnn", V, H, seed=2, scale=0.5)
    P["bh"] = rng.standard_normal(H) * 0.1
    P["by"] = rng.standard_normal(V) * 0.1
    inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    h0 = rng.standard_normal(H) * 0.3
    tr = run_bptt(P, inputs, targets, h0=h0, clip=None, last_step_only=True)
    num = _fd(lambda Q: _rnn_last_loss(Q, inputs, targets, h0), {k: v.copy() for k, v in P.items()})
    for k in P:
        np.testing.assert_allclose(tr.grads_raw[k], num[k], rtol=1e-5, atol=1e-8, err_msg=k)
    assert tr.loss == pytest.approx(_rnn_last_loss(P, inputs, targets, h0), rel=1e-12)
    # The LSTM too (its forward pass is the engine's; only the backward pass changed).
    PL = init_params("lstm", V, H, seed=5, scale=0.5)
    c0 = rng.standard_normal(H) * 0.3
    trl = run_bptt(PL, inputs, targets, h0=h0, c0=c0, cell="lstm", clip=None, last_step_only=True)
    numl = _fd(lambda Q: forward(Q, inputs, targets, h0, c0, "lstm").losses[-1],
               {k: v.copy() for k, v in PL.items()})
    for k in PL:
        np.testing.assert_allclose(trl.grads_raw[k], numl[k], rtol=1e-5, atol=1e-8, err_msg=k)


# --- 3. lstm-gates: the gradient through c against the gradient through h -------------------
def test_lstm_gates_preset_contrasts_dc_and_dhnext():
    """What the gates view plots (flow "dc" = ||dc_t||, "dhnext" = ||dhnext_t||), summed over
    the first five steps of the preset's first window as shipped."""
    from bpttviz.resources_path import resources_dir
    snap = resources_dir() / "snapshots" / "lstm-gates.npz"
    assert snap.stat().st_size < 200_000
    p = load_preset("lstm-gates")
    assert p.raw["snapshot"] == "lstm-gates.npz" and p.config.loss_steps == "last"
    run = make_run(p.config, p.weights)
    tr = run.trace()
    assert tr.gates["f"].mean() > 0.9  # trained with open forget gates, not a fresh init
    dc = np.linalg.norm(tr.dc, axis=1)
    dhnext = np.linalg.norm(tr.dhnext, axis=1)
    assert dc[:5].sum() >= 10 * dhnext[:5].sum()
    # The last loss's gradient survives through c (nearly undiminished back to step 0) and
    # fades through h.
    T = tr.T
    assert dc[0] / dc[T - 1] > 0.3
    assert dhnext[0] / dhnext[T - 1] < 1e-2


def test_lstm_gates_opens_where_the_contrast_is_drawn(qtbot):
    """Opened at forward:0 the gates view showed one column of gates and an empty flow
    plot: the preset opens at the end of the backward pass, its whole flow drawn."""
    from bpttviz.gui.panels.gates import GatesPanel
    from bpttviz.session import Session
    s = Session("lstm-gates")
    assert str(s.current_event) == "backward:0"
    panel = GatesPanel(s)
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    panel.refresh()
    assert not panel.flow_empty.isVisible()
    T = s.trace.T
    for curve in panel.flow_curves.values():
        x, y = curve.getData()
        assert x is not None and len(x) == T and np.all(np.isfinite(y)), curve
    s.load_preset("min-char-rnn")  # it opens at the start: its unrolled network fills in
    assert str(s.current_event) == "forward:0"


@pytest.mark.parametrize("preset", ["dinosaurs", "cs231n-captioning-rnn", "cs231n-captioning-lstm"])
def test_presets_on_a_forward_view_open_with_the_forward_pass_done(preset):
    """The outputs (dinosaurs) and the hidden states (captioning) opened at forward:0 with
    one column of 13 (or 7) filled: they open at the last forward step, every column drawn."""
    from bpttviz.session import Session
    s = Session(preset)
    assert s.state.event.phase == "forward" and s.state.forward_count == s.trace.T


def test_a_preset_opening_on_an_event_it_has_not_is_refused_clearly(tmp_path, monkeypatch):
    import json
    from bpttviz.engine import presets
    from bpttviz.session import Session, SessionError
    raw = json.loads((presets.presets_dir() / "min-char-rnn.json").read_text(encoding="utf-8"))
    raw["at"] = "backward:99"
    (tmp_path / "min-char-rnn.json").write_text(json.dumps(raw), encoding="utf-8")
    s = Session("vanishing")
    before = (s.preset.name, s.unsaved, s.cursor, s.undo_stack.count())
    monkeypatch.setattr(presets, "presets_dir", lambda: tmp_path)
    with pytest.raises(SessionError, match=r"^preset min-char-rnn: 'at' step 99 is outside the "
                                           r"window of 25 steps; use forward:N .*from 0 to 24") as err:
        Session("min-char-rnn")
    assert "--at" not in str(err.value)  # (a preset file's mistake, not the command line's)
    with pytest.raises(SessionError):
        s.load_preset("min-char-rnn")
    assert (s.preset.name, s.unsaved, s.cursor, s.undo_stack.count()) == before  # unchanged
    raw["at"] = 3
    (tmp_path / "min-char-rnn.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SessionError, match="'at' must be an event"):
        Session("min-char-rnn")


# --- 4. long-range: training with truncated windows stays at chance --------------------------
def test_run_bptt_window_matches_the_truncated_bptt_of_the_analysis():
    rng = np.random.default_rng(0)
    V, H, T = 5, 6, 11
    for cell in ("rnn", "lstm", "gru"):
        P = init_params(cell, V, H, seed=1, scale=0.4)
        inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
        tr = run_bptt(P, inputs, targets, cell=cell, clip=None, bptt_window=3)
        ref = truncated_bptt(P, inputs, targets, 3, cell=cell)
        for k in P:
            np.testing.assert_allclose(tr.grads_raw[k], ref.grads_raw[k], rtol=1e-10, atol=1e-12)
        assert tr.loss == pytest.approx(ref.loss)
        assert np.all(tr.dh_from_future[[2, 5, 8]] == 0) and np.all(tr.dh_from_future[[0, 1, 3]] != 0)
        full = run_bptt(P, inputs, targets, cell=cell, clip=None)
        assert not np.allclose(full.grads_raw["Whh"], tr.grads_raw["Whh"])


def test_long_range_truncated_training_stays_at_chance_while_full_bptt_learns():
    p = load_preset("long-range")
    cfg = p.config
    assert cfg.train_truncation is None and cfg.truncation == 4 < cfg.delay
    # Chance: steps before the delay predict the blank exactly; after it, without the input
    # `delay` steps back, the best guess is uniform over the symbols.
    chance = (cfg.seq_length - cfg.delay) * math.log(cfg.symbols)
    n = 300
    full = make_run(cfg)
    full.train(n)
    trunc = make_run(cfg.with_changes(train_truncation=cfg.truncation))
    trunc.train(n)
    assert trunc.trace().bptt_window == cfg.truncation
    lf = np.asarray(full.history.loss)[-50:].mean()
    lt = np.asarray(trunc.history.loss)[-50:].mean()
    assert lt > 0.9 * chance
    assert lf < 0.75 * chance


# --- config: validation and session files ---------------------------------------------------
def test_config_fields_are_validated_and_round_trip_in_session_files(tmp_path):
    from bpttviz.session_file import read_session, write_session
    base = load_preset("long-range").config
    for bad in ({"loss_steps": "first"}, {"loss_steps": None}, {"train_truncation": 0},
                {"train_truncation": 2.5}, {"train_truncation": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            base.with_changes(**bad).validate()
    cfg = base.with_changes(loss_steps="last", train_truncation=3).validate()
    run = make_run(cfg)
    run.train(2)
    tr = run.trace()
    assert tr.loss_steps == "last" and tr.bptt_window == 3
    path = tmp_path / "s.npz"
    write_session(path, cfg, run.state_dict())
    loaded = read_session(path)
    assert loaded.config.loss_steps == "last" and loaded.config.train_truncation == 3
    assert loaded.config == cfg
    with pytest.raises(ValueError, match="captioning"):
        RunConfig(task="captioning", loss_steps="last").validate()


def test_the_gradient_check_checks_the_loss_the_trace_backpropagates(qtbot):
    """vanishing backpropagates the last step's loss only: the check must differentiate that
    loss (it called a correct backward pass WRONG when it used every step's); a truncated
    gradient is no loss's gradient, and the check says so instead of a verdict."""
    from bpttviz.session import Session, SessionError

    s = Session("vanishing")
    assert s.config.loss_steps == "last"
    res = s.gradient_check(8)
    for name, e in res.items():  # per parameter, as the panel judges: ||a - n|| / (||a|| + ||n||)
        idx = tuple(np.asarray(e.checked).T)  # the entries the check computed (the rest NaN)
        a, n = np.asarray(e.analytic, float)[idx], np.asarray(e.numeric, float)[idx]
        assert np.all(np.isfinite(n)) and n.size > 0, name
        scale = np.abs(a).max() + np.abs(n).max()
        assert np.abs(a - n).max() <= 1e-6 * max(scale, 1e-12) + 1e-12, name
    s = Session("long-range")
    s.edit("truncated", train_truncation=4)
    with pytest.raises(SessionError, match="truncated"):
        s.gradient_check(8)
    from bpttviz.gui.panels import GradCheckPanel
    p = GradCheckPanel(s)
    qtbot.addWidget(p)
    p.run_check()
    assert "cannot run" in p.status.text()
    s.step(1)
    p.refresh()
    assert "cannot run" in p.status.text()

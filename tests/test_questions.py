"""Every question kind's answer against an independent computation from the engine's numbers
(issue 14): softmax by hand, norms of dhnext, the per-step parts of dWhh, clipping by hand,
products of step Jacobians, window boundaries, the gates recomputed from the weights, and the
loss after the update compared with the next iteration the session really runs."""
import copy
import csv
import math
import os
import re

import numpy as np
import pytest

from bpttviz.engine import analysis
from bpttviz.engine.model import run_bptt
from bpttviz.session import Session
from bpttviz.teach import questions as Q


@pytest.fixture(scope="module")
def sessions(qapp):
    return {name: Session(name) for name in ("long-range", "vanishing", "exploding", "lstm-gates")}


def _vanishing_all_steps():
    """The vanishing preset with every step's loss (the preset backpropagates only the last
    one, whose gradients stay below the clip threshold)."""
    s = Session("vanishing")
    s.edit(loss_steps="all")
    return s


def chosen(q):
    return q.choices[q.answer]


def test_forward_argmax_is_the_softmax_maximum(sessions):
    s = sessions["long-range"]
    tr = s.trace
    P = tr.params
    logits = tr.h @ P["Why"].T + P["by"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for t in range(1, tr.T, 3):
        q = Q.make_question("forward-argmax", s, t)
        assert len(q.choices) == 4 == len(set(q.choices))
        assert chosen(q) == f"'{s.vocab.chars[int(np.argmax(p[t]))]}'"
        assert (q.ask_at, q.reveal_at) == (f"forward:{t - 1}", f"forward:{t}")
        assert q.is_correct(q.answer) and not q.is_correct((q.answer + 1) % 4)


def test_dhnext_grow_or_shrink_from_the_norms(sessions):
    seen = set()
    for name in ("exploding", "vanishing"):
        s = sessions[name]
        norms = np.sqrt((s.trace.dhnext ** 2).sum(axis=1))
        for t in range(1, s.trace.T):
            q = Q.make_question("dhnext-grow", s, t)
            expect = "grow" if norms[t - 1] > norms[t] else "shrink"
            assert chosen(q) == expect, (name, t)
            seen.add(expect)
    assert seen == {"grow", "shrink"}  # both answers occur: the question is not constant
    assert Q.make_question("dhnext-grow", sessions["vanishing"], 0) is None


@pytest.mark.parametrize("name", ["long-range", "exploding", "lstm-gates"])
def test_largest_contribution_is_the_argmax_of_the_parts(sessions, name):
    s = sessions[name]
    tr = s.trace
    q = Q.make_question("contrib-argmax", s)
    k = int(chosen(q).split()[1])
    # step k's part of dWhh is outer(dah_k, h_{k-1}); the trace's dah is the total gradient
    parts = [np.linalg.norm(np.outer(tr.dah[j], tr.h_prev[j])) for j in range(tr.T)]
    assert k == int(np.argmax(parts))
    assert k == int(np.argmax(analysis.contributions(tr).by_step))
    assert f"step {k}" in q.choices and len(set(q.choices)) == 4


def test_clip_direction_value_bends_norm_keeps(sessions):
    s = _vanishing_all_steps()  # clipping off: asked about value clipping at clip_value
    g = s.trace.grads_raw
    c = s.config.clip_value
    flat = np.concatenate([v.ravel() for v in g.values()])
    clipped = np.clip(flat, -c, c)
    cos = flat @ clipped / (np.linalg.norm(flat) * np.linalg.norm(clipped))
    assert cos < 0.9999
    q = Q.make_question("clip-direction", s)
    assert chosen(q).startswith("yes")
    q = Q.make_question("clip-direction", sessions["exploding"])  # norm clipping
    assert np.sqrt(sum((v ** 2).sum() for v in sessions["exploding"].trace.grads_raw.values())) > 5
    assert chosen(q).startswith("no")


def test_clip_exceed_names_the_parameters_beyond_the_threshold(sessions):
    s = _vanishing_all_steps()
    c = s.config.clip_value
    q = Q.make_question("clip-exceed", s)
    assert q.multi
    over = {n for n, v in s.trace.grads_raw.items() if np.abs(v).max() > c}
    assert over  # this window has some, and not all
    assert over != set(s.trace.grads_raw)
    assert {q.choices[i] for i in q.answer} == over
    assert q.is_correct(set(q.answer)) and not q.is_correct(set())
    e = sessions["exploding"]
    qn = Q.make_question("clip-exceed", e)
    total = math.sqrt(sum(float((v ** 2).sum()) for v in e.trace.grads_raw.values()))
    assert chosen(qn).startswith("yes" if total > e.config.clip_value else "no")


def test_decay_sketch_truth_is_the_product_of_step_jacobians(sessions):
    s = sessions["vanishing"]
    tr = s.trace
    q = Q.make_question("decay-sketch", s)
    T = tr.T
    Whh = tr.params["Whh"]
    M = np.eye(tr.hidden_size)
    expect = [1.0]
    for k in range(T - 2, -1, -1):  # d h_{T-1} / d h_k = prod of diag(1-h_s^2) Whh, s=k+1..T-1
        M = M @ (np.diag(1 - tr.h[k + 1] ** 2) @ Whh)
        expect.append(np.linalg.norm(M, 2))
    np.testing.assert_allclose(q.answer, expect, rtol=1e-8)
    J = analysis.jacobian_norms(tr)
    np.testing.assert_allclose(q.answer, [J[T - 1, T - 1 - d] for d in range(T)], rtol=1e-10)
    assert q.is_correct(q.answer) and q.score(q.answer) == pytest.approx(1.0)
    far = q.answer * 1e3  # three decades off everywhere
    assert not q.is_correct(far) and q.score(far) == pytest.approx(0.25)
    assert Q.sketch_error(q.answer, far) == pytest.approx(3.0)


@pytest.mark.parametrize("name", ["long-range", "vanishing"])
def test_truncation_lost_paths_cross_a_window_boundary(sessions, name):
    s = sessions[name]
    q = Q.make_question("truncation", s)
    k = q.details["window"]
    assert k == (s.config.truncation or max(2, s.trace.T // 4))
    lost = set()
    for i, text in enumerate(q.choices):
        t, src = map(int, re.findall(r"\d+", text))
        assert src <= t
        if t // k != src // k:  # windows start at 0, k, 2k, ...
            lost.add(i)
    assert lost == set(q.answer)
    assert 0 < len(lost) < len(q.choices)


def test_gate_open_from_the_recomputed_forget_gate(sessions):
    s = sessions["lstm-gates"]
    tr = s.trace
    P = tr.params
    H = tr.hidden_size
    for t in (1, 7, 20):
        a = P["bh"] + P["Wxh"][:, tr.inputs[t]] + P["Whh"] @ tr.h_prev[t]
        f = 1 / (1 + np.exp(-a[H:2 * H]))  # blocks i, f, o, g
        q = Q.make_question("gate-open", s, t)
        assert chosen(q).startswith("yes" if f.mean() > 0.5 else "no")
        assert q.details["mean"] == pytest.approx(f.mean(), abs=1e-12)
    assert Q.make_question("gate-open", sessions["long-range"], 3) is None  # a plain RNN


def test_gate_open_gru_update_gate(qapp):
    s = Session("long-range")
    s.edit("gru", cell="gru")
    q = Q.make_question("gate-open", s, 4)
    z = s.trace.gates["z"][4]
    assert chosen(q).startswith("yes" if z.mean() > 0.5 else "no")
    assert "update gate" in q.prompt


def test_update_loss_matches_the_next_iteration(qapp):
    s = Session("notebook-one-step")  # a fixed window: the next iteration runs it again
    q = Q.make_question("update-loss", s)
    before = s.trace.loss
    s.next_iteration()
    after = s.trace.loss
    assert q.details["after"] == pytest.approx(after, rel=1e-12)
    assert chosen(q).startswith("yes" if after < before else "no")


def test_update_loss_by_hand_on_a_copy(sessions):
    s = sessions["exploding"]
    run, tr = s.run, s.trace
    params = {k: v.copy() for k, v in run.params.items()}
    opt = copy.deepcopy(run.optimizer)
    opt.step(params, tr.grads)
    after = run_bptt(params, tr.inputs, tr.targets, h0=tr.h0, cell=tr.cell, clip=None).loss
    q = Q.make_question("update-loss", s)
    assert q.details["after"] == pytest.approx(after)
    assert chosen(q).startswith("yes" if after < tr.loss else "no")
    assert run.params["Whh"] is s.run.params["Whh"] and np.array_equal(run.params["Whh"], tr.params["Whh"])


def test_kinds_at_each_event_and_errors(sessions):
    s = sessions["lstm-gates"]
    T = s.trace.T
    assert Q.kinds_at("forward:3", T, "lstm") == [("forward-argmax", 4), ("gate-open", 4)]
    assert {k for k, _ in Q.kinds_at(f"forward:{T - 1}", T)} == {"contrib-argmax", "truncation"}
    assert ("decay-sketch", None) in Q.kinds_at("forward:0", T)
    assert Q.kinds_at("backward:0", T) == [("clip-direction", None), ("clip-exceed", None)]
    assert Q.kinds_at("clip", T) == [("update-loss", None)]
    every = {k for ev in s.events for k, _ in Q.kinds_at(str(ev), T, "lstm")}
    assert every == set(Q.KINDS)
    with pytest.raises(ValueError, match="question kind must be one of"):
        Q.make_question("nonsense", s)
    s.set_event("forward:5")  # a lesson's step asks about what comes next
    assert Q.question_at("gate-open", s).reveal_at == "forward:6"
    s.set_event("backward:8")
    assert Q.question_at("dhnext-grow", s).reveal_at == "backward:7"
    s.home()


def test_answers_are_logged_as_csv_in_the_data_folder(sessions):
    from bpttviz.paths import data_dir
    log = Q.AnswerLog()
    assert log.path == os.path.join(data_dir(), "answers.csv")
    if os.path.exists(log.path):
        os.remove(log.path)
    s = sessions["long-range"]
    q1 = Q.make_question("forward-argmax", s, 2)
    q2 = Q.make_question("truncation", s)
    log.record(q1, q1.answer, "long-range", 0)
    log.record(q2, frozenset(), "long-range", 0, mode="vote")
    with open(log.path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(Q.ANSWER_COLUMNS)
    assert len(rows) == 3
    r1, r2 = log.rows()
    assert r1["kind"] == "forward-argmax" and r1["correct"] == "1" and r1["response"] == "ABCD"[q1.answer]
    assert r2["kind"] == "truncation" and r2["correct"] == "0" and r2["mode"] == "vote"
    assert r2["response"] == "none"


def test_every_kind_has_a_title_for_the_card():
    from bpttviz.teach.questions import KIND_TITLES, KINDS
    assert set(KIND_TITLES) == set(KINDS) and all("-" not in t for t in KIND_TITLES.values())

"""The bug gallery (issue 14): every named mistake is computed by run_bptt(bug=NAME), fails an
independent finite-difference check of the loss that the correct pass passes, and differs
from the correct gradient exactly as its description says.

The references below are written in the seeds' style (dicts of column vectors, as seed 000's
lossFun), each with switches for the gallery's mistakes, so the expected buggy gradients are
not computed by the code under test:

* ``seed_lossFun``: seed 000's min-char-rnn lossFun (``xrange`` -> ``range``, weights as
  arguments), plus the switches;
* ``lstm_lossFun`` / ``gru_lossFun``: the same loop with cs231n's LSTM step (gates i, f, o, g)
  and the GRU step of bpttviz.engine.cells (z, r, n; ``n = tanh(ax_n + r * ah_n)``).
"""
import numpy as np
import pytest

from bpttviz.engine import forward, gradient_check, init_params, run_bptt
from bpttviz.engine.analysis import contributions
from bpttviz.engine.bugs import BUG_INFO, BUGS, applies, bugs_for, check_bug

GALLERY = ("forget-dhnext", "no-tanh-derivative", "h-instead-of-hprev", "dy-without-minus-one",
           "dhnext-from-dh", "no-carry-state", "lstm-drop-dc")
V, H, T = 5, 4, 6
CASES = [(cell, bug) for cell in ("rnn", "lstm", "gru") for bug in bugs_for(cell)]
TOL = dict(rtol=1e-9, atol=1e-11)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def seed_lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by, bug=None):
    """Seed 000's lossFun (column vectors) with the gallery's mistakes as switches.
    Returns (loss, grads dict, dhnexts dict)."""
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.zeros_like(hprev) if bug == "no-carry-state" else np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    dhnexts = {}
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        if bug != "dy-without-minus-one":
            dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + (0 if bug == "forget-dhnext" else dhnext)
        dhraw = dh if bug == "no-tanh-derivative" else (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, (hs[t] if bug == "h-instead-of-hprev" else hs[t - 1]).T)
        dhnext = np.dot(Whh.T, dh if bug == "dhnext-from-dh" else dhraw)
        dhnexts[t] = dhnext.copy()
    return loss, {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}, dhnexts


def lstm_lossFun(inputs, targets, hprev, cprev, Wxh, Whh, Why, bh, by, bug=None):
    """The same loop with the LSTM (blocks i, f, o, g stacked in Wxh/Whh/bh)."""
    vocab_size, Hn = Wxh.shape[1], Whh.shape[1]
    xs, hs, cs, ps, gs = {}, {}, {}, {}, {}
    zero_start = bug == "no-carry-state"
    hs[-1] = np.zeros_like(hprev) if zero_start else np.copy(hprev)
    cs[-1] = np.zeros_like(cprev) if zero_start else np.copy(cprev)
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        a = np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh
        i, f, o = _sig(a[:Hn]), _sig(a[Hn:2 * Hn]), _sig(a[2 * Hn:3 * Hn])
        g = np.tanh(a[3 * Hn:])
        cs[t] = f * cs[t - 1] + i * g
        hs[t] = o * np.tanh(cs[t])
        gs[t] = (i, f, o, g)
        y = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(y) / np.sum(np.exp(y))
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext, dcnext = np.zeros_like(hs[0]), np.zeros_like(cs[0])
    for t in reversed(range(len(inputs))):
        i, f, o, g = gs[t]
        dy = np.copy(ps[t])
        if bug != "dy-without-minus-one":
            dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + (0 if bug == "forget-dhnext" else dhnext)
        tc = np.tanh(cs[t])
        no_tanh = bug == "no-tanh-derivative"
        dc = dh * o * (1 if no_tanh else 1 - tc ** 2) + (0 if bug == "lstm-drop-dc" else dcnext)
        da = np.vstack([dc * g * i * (1 - i), dc * cs[t - 1] * f * (1 - f),
                        dh * tc * o * (1 - o), dc * i * (1 if no_tanh else 1 - g * g)])
        dbh += da
        dWxh += np.dot(da, xs[t].T)
        dWhh += np.dot(da, (hs[t] if bug == "h-instead-of-hprev" else hs[t - 1]).T)
        dhnext, dcnext = np.dot(Whh.T, da), f * dc
    return {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def gru_lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by, bug=None):
    """The same loop with the GRU (blocks z, r, n)."""
    vocab_size, Hn = Wxh.shape[1], Whh.shape[1]
    xs, hs, ps, st = {}, {}, {}, {}
    hs[-1] = np.zeros_like(hprev) if bug == "no-carry-state" else np.copy(hprev)
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        ax, ah = np.dot(Wxh, xs[t]) + bh, np.dot(Whh, hs[t - 1])
        z, r = _sig(ax[:Hn] + ah[:Hn]), _sig(ax[Hn:2 * Hn] + ah[Hn:2 * Hn])
        n = np.tanh(ax[2 * Hn:] + r * ah[2 * Hn:])
        hs[t] = (1 - z) * n + z * hs[t - 1]
        st[t] = (z, r, n, ah[2 * Hn:])
        y = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(y) / np.sum(np.exp(y))
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        z, r, n, ah_n = st[t]
        dy = np.copy(ps[t])
        if bug != "dy-without-minus-one":
            dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + (0 if bug == "forget-dhnext" else dhnext)
        dan = dh * (1 - z) * (1 if bug == "no-tanh-derivative" else 1 - n * n)
        dz = dh * (hs[t - 1] - n) * z * (1 - z)
        dax = np.vstack([dz, dan * ah_n * r * (1 - r), dan])
        dah = np.vstack([dax[:2 * Hn], dan * r])
        dbh += dax
        dWxh += np.dot(dax, xs[t].T)
        dWhh += np.dot(dah, (hs[t] if bug == "h-instead-of-hprev" else hs[t - 1]).T)
        dhnext = np.dot(Whh.T, dah) + dh * z
    return {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def _problem(cell, seed=0):
    """Weights large enough that tanh saturates a little, a nonzero carried state, and a
    window whose targets differ from its inputs."""
    rng = np.random.default_rng(seed)
    p = init_params(cell, V, H, seed=seed, scale=0.7)
    p["bh"] = rng.standard_normal(p["bh"].shape) * 0.2
    p["by"] = rng.standard_normal(p["by"].shape) * 0.2
    inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    h0 = rng.standard_normal(H) * 0.5
    c0 = rng.standard_normal(H) * 0.5 if cell == "lstm" else None
    return p, inputs, targets, h0, c0


def _col(p):
    return {k: (v.reshape(-1, 1) if k.startswith("b") else v) for k, v in p.items()}


def reference_grads(cell, p, inputs, targets, h0, c0, bug):
    P = _col(p)
    if cell == "rnn":
        g = seed_lossFun(inputs, targets, h0.reshape(-1, 1), P["Wxh"], P["Whh"], P["Why"],
                         P["bh"], P["by"], bug)[1]
    elif cell == "lstm":
        g = lstm_lossFun(inputs, targets, h0.reshape(-1, 1), c0.reshape(-1, 1), P["Wxh"],
                         P["Whh"], P["Why"], P["bh"], P["by"], bug)
    else:
        g = gru_lossFun(inputs, targets, h0.reshape(-1, 1), P["Wxh"], P["Whh"], P["Why"],
                        P["bh"], P["by"], bug)
    return {k: v.reshape(p[k].shape) for k, v in g.items()}


_FD = {}


def central_differences(cell):
    """Every entry's derivative of the true loss (from the given h0, c0) by
    (L(x + e) - L(x - e)) / 2e, written here and not the engine's gradcheck."""
    if cell not in _FD:
        p, inputs, targets, h0, c0 = _problem(cell)
        eps = 1e-5
        num = {}
        for k, arr in p.items():
            arr = arr.copy()
            work = dict(p, **{k: arr})
            out = np.zeros_like(arr)
            for ix in np.ndindex(arr.shape):
                old = arr[ix]
                arr[ix] = old + eps
                up = forward(work, inputs, targets, h0, c0, cell).loss
                arr[ix] = old - eps
                down = forward(work, inputs, targets, h0, c0, cell).loss
                arr[ix] = old
                out[ix] = (up - down) / (2 * eps)
            num[k] = out
        _FD[cell] = num
    return _FD[cell]


def rel_errors(analytic, numeric):
    return {k: np.linalg.norm(analytic[k] - numeric[k])
            / max(np.linalg.norm(analytic[k]) + np.linalg.norm(numeric[k]), 1e-300)
            for k in numeric}


def test_the_gallery_names_and_descriptions():
    assert tuple(BUGS) == GALLERY
    for name, text in BUGS.items():
        assert isinstance(text, str) and len(text) > 30 and "\n" not in text, name
        info = BUG_INFO[name]
        assert info.description == text and info.wrong != info.right and info.symptom


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_correct_pass_passes_the_finite_difference_check(cell):
    p, inputs, targets, h0, c0 = _problem(cell)
    tr = run_bptt(p, inputs, targets, h0=h0, c0=c0, cell=cell, clip=None, bug=None)
    err = rel_errors(tr.grads_raw, central_differences(cell))
    assert max(err.values()) < 1e-7, err
    assert tr.bug is None and tr.backprop_bug is None


@pytest.mark.usefixtures("kernel_set")
@pytest.mark.parametrize("cell,bug", CASES)
def test_every_bug_fails_the_finite_difference_check(cell, bug):
    p, inputs, targets, h0, c0 = _problem(cell)
    tr = run_bptt(p, inputs, targets, h0=h0, c0=c0, cell=cell, clip=None, bug=bug)
    assert tr.bug == bug and tr.backprop_bug == bug
    err = rel_errors(tr.grads_raw, central_differences(cell))
    assert max(err.values()) > 1e-2, (bug, err)


@pytest.mark.usefixtures("kernel_set")
@pytest.mark.parametrize("cell,bug", CASES)
def test_every_bug_computes_exactly_the_described_mistake(cell, bug):
    """The buggy gradients equal the seed-style loop with that one line changed."""
    p, inputs, targets, h0, c0 = _problem(cell)
    tr = run_bptt(p, inputs, targets, h0=h0, c0=c0, cell=cell, clip=None, bug=bug)
    want = reference_grads(cell, p, inputs, targets, h0, c0, bug)
    for k in want:
        np.testing.assert_allclose(tr.grads_raw[k], want[k], err_msg=f"{bug} d{k}", **TOL)
    # ... and the correct references agree with the finite differences (no shared mistake).
    right = reference_grads(cell, p, inputs, targets, h0, c0, None)
    assert max(rel_errors(right, central_differences(cell)).values()) < 1e-7


@pytest.mark.usefixtures("kernel_set")
def test_rnn_bugs_change_the_recorded_intermediates_as_described():
    p, inputs, targets, h0, _ = _problem("rnn")
    ok = run_bptt(p, inputs, targets, h0=h0, clip=None)
    onehot = np.eye(V)[targets]
    tr = run_bptt(p, inputs, targets, h0=h0, clip=None, bug="dy-without-minus-one")
    np.testing.assert_allclose(tr.dy - ok.dy, onehot, atol=1e-15)  # only the -1 is missing
    np.testing.assert_allclose(tr.grads_raw["by"] - ok.grads_raw["by"], onehot.sum(0), atol=1e-14)
    tr = run_bptt(p, inputs, targets, h0=h0, clip=None, bug="h-instead-of-hprev")
    for k in ("Wxh", "Why", "bh", "by"):  # only dWhh changes
        np.testing.assert_array_equal(tr.grads_raw[k], ok.grads_raw[k])
    np.testing.assert_allclose(tr.grads_raw["Whh"], ok.dax.T @ ok.h, **TOL)
    tr = run_bptt(p, inputs, targets, h0=h0, clip=None, bug="forget-dhnext")
    assert np.all(tr.dh_from_future == 0)
    np.testing.assert_allclose(tr.dh, tr.dh_from_output, atol=0)
    tr = run_bptt(p, inputs, targets, h0=h0, clip=None, bug="no-tanh-derivative")
    np.testing.assert_allclose(tr.dhraw, tr.dh, atol=0)
    tr = run_bptt(p, inputs, targets, h0=h0, clip=None, bug="dhnext-from-dh")
    np.testing.assert_allclose(tr.dhnext, tr.dh @ p["Whh"], **TOL)
    _, _, dhn = seed_lossFun(inputs, targets, h0.reshape(-1, 1), *[_col(p)[k] for k in
                             ("Wxh", "Whh", "Why", "bh", "by")], bug="dhnext-from-dh")
    for t in range(T):
        np.testing.assert_allclose(tr.dhnext[t], dhn[t].ravel(), **TOL)


@pytest.mark.usefixtures("kernel_set")
def test_no_carry_state_is_invisible_from_zeros_and_wrong_from_a_carried_state():
    p, inputs, targets, h0, _ = _problem("rnn")
    from_zeros = run_bptt(p, inputs, targets, h0=np.zeros(H), clip=None)
    bugged = run_bptt(p, inputs, targets, h0=h0, clip=None, bug="no-carry-state")
    # The pass started from zeros: its gradients are the correct ones of the zero-start window.
    for k in from_zeros.grads_raw:
        np.testing.assert_allclose(bugged.grads_raw[k], from_zeros.grads_raw[k], **TOL)
    assert np.all(bugged.h_prev[0] == 0)
    np.testing.assert_array_equal(bugged.h0, h0)  # the state it was given, for the checks
    # ... so a check from zeros passes, a check from the carried state fails.
    zero_check = gradient_check(p, inputs, targets, h0=np.zeros(H), bug="no-carry-state", order=4,
                                eps=1e-3)
    assert max(e.rel_error for e in zero_check.values()) < 1e-7
    carried = gradient_check(p, inputs, targets, h0=bugged.h0, bug="no-carry-state")
    assert max(e.rel_error for e in carried.values()) > 1e-2


def test_lstm_drop_dc_cuts_only_the_cell_state_path():
    p, inputs, targets, h0, c0 = _problem("lstm")
    tr = run_bptt(p, inputs, targets, h0=h0, c0=c0, cell="lstm", clip=None, bug="lstm-drop-dc")
    o, tanh_c = tr.gates["o"], np.tanh(tr.c)
    np.testing.assert_allclose(tr.dc, tr.dh * o * (1 - tanh_c ** 2), **TOL)  # no dcnext added
    ok = run_bptt(p, inputs, targets, h0=h0, c0=c0, cell="lstm", clip=None)
    np.testing.assert_allclose(tr.dc[-1], ok.dc[-1], **TOL)  # the last step has no future
    assert not np.allclose(tr.dc[0], ok.dc[0])


@pytest.mark.parametrize("cell,bug", CASES)
def test_gradient_check_accepts_every_bug_and_reports_it(cell, bug):
    """(The correct pass passes the same check: test_correct_pass_passes_the_finite_...)"""
    p, inputs, targets, h0, c0 = _problem(cell)
    res = gradient_check(p, inputs, targets, h0=h0, c0=c0, cell=cell, max_entries=10,
                         backprop_bug=bug)
    assert max(e.rel_error for e in res.values()) > 1e-3, bug
    if bug == "lstm-drop-dc":  # the new keyword gives the same check
        same = gradient_check(p, inputs, targets, h0=h0, c0=c0, cell=cell, max_entries=10,
                              bug=bug)
        assert {k: e.rel_error for k, e in same.items()} == {k: e.rel_error for k, e in res.items()}


@pytest.mark.parametrize("cell,bug", CASES)
def test_the_analyses_of_a_buggy_trace_add_up_to_its_gradient(cell, bug):
    """The views split the buggy gradient as the buggy pass made it: step contributions sum
    to every gradient, and the (loss, step) parts of the contribution view to dWhh."""
    p, inputs, targets, h0, c0 = _problem(cell)
    tr = run_bptt(p, inputs, targets, h0=h0, c0=c0, cell=cell, clip=None, bug=bug)
    for k in tr.grads_raw:
        np.testing.assert_allclose(sum(tr.step_grad(k, t) for t in range(T)), tr.grads_raw[k],
                                   **TOL)
    C = contributions(tr)
    total = sum(C.part(t, k) for t in range(T) for k in range(t + 1))
    np.testing.assert_allclose(total, tr.grads_raw["Whh"], **TOL)


def test_unknown_and_inapplicable_bugs_are_refused_with_the_known_names():
    p, inputs, targets, h0, _ = _problem("rnn")
    with pytest.raises(ValueError) as e:
        run_bptt(p, inputs, targets, bug="off-by-one")
    for name in GALLERY:
        assert name in str(e.value)
    with pytest.raises(ValueError, match="backprop_bug"):
        run_bptt(p, inputs, targets, backprop_bug="off-by-one")
    with pytest.raises(ValueError, match="lstm"):
        run_bptt(p, inputs, targets, bug="lstm-drop-dc")
    pg, ig, tg, hg, _ = _problem("gru")
    with pytest.raises(ValueError, match="dhnext-from-dh.*gru"):
        run_bptt(pg, ig, tg, cell="gru", bug="dhnext-from-dh")
    with pytest.raises(ValueError, match="not two different"):
        run_bptt(p, inputs, targets, bug="forget-dhnext", backprop_bug="no-carry-state")
    same = run_bptt(p, inputs, targets, bug="forget-dhnext", backprop_bug="forget-dhnext")
    assert same.bug == "forget-dhnext"
    assert check_bug(None) is None and applies("lstm-drop-dc", "lstm")
    assert not applies("lstm-drop-dc", "gru") and "lstm-drop-dc" not in bugs_for("rnn")
    assert set(bugs_for("lstm")) == set(GALLERY) - {"dhnext-from-dh"}

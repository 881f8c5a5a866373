"""The teaching quantities: contributions sum to dWhh, Jacobian norms equal the product of
per-step Jacobians, truncation with window = T is full BPTT and loses paths otherwise."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bpttviz.engine import init_params, run_bptt
from bpttviz.engine.analysis import (compare_clipping, compare_truncation, contributions,
                                     decay_by_distance, jacobian_norms, truncated_bptt, whh_spectrum)
from bpttviz.engine.data import delay_task

CELLS = ["rnn", "lstm", "gru"]


def _trace(cell, T=7, V=5, H=4, seed=0, scale=0.6, bug=None):
    rng = np.random.default_rng(seed)
    p = init_params(cell, V, H, seed=seed, scale=scale)
    ins, tgs = rng.integers(0, V, T), rng.integers(0, V, T)
    return run_bptt(p, ins, tgs, h0=rng.standard_normal(H) * 0.3, cell=cell, clip=None,
                    c0=rng.standard_normal(H) * 0.3 if cell == "lstm" else None, backprop_bug=bug)


@pytest.mark.parametrize("cell", CELLS)
def test_contribution_parts_sum_to_dWhh(cell):
    tr = _trace(cell)
    C = contributions(tr)
    T = tr.T
    total = sum(C.part(t, k) for t in range(T) for k in range(t + 1))
    np.testing.assert_allclose(total, tr.grads_raw["Whh"], rtol=0, atol=1e-13)
    # A loss cannot reach a step after it.
    assert np.all(C.norms[np.triu_indices(T, 1)] == 0)
    assert np.all(np.diag(C.norms) > 0)
    # Each part's norm is what the matrix reports.
    for t, k in [(T - 1, 0), (3, 2)]:
        assert C.norms[t, k] == pytest.approx(np.linalg.norm(C.part(t, k)), rel=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_contribution_rows_equal_single_loss_gradients(cell):
    """Part (t, .) summed over k is dWhh of the loss at step t alone (targets elsewhere
    carry no gradient), computed independently by finite differences of that one loss."""
    tr = _trace(cell, T=5)
    C = contributions(tr)
    t = 3
    row = sum(C.part(t, k) for k in range(t + 1))
    from bpttviz.engine.model import forward
    p = {k: v.copy() for k, v in tr.params.items()}
    eps = 1e-6
    num = np.zeros_like(p["Whh"])
    for ix in np.ndindex(p["Whh"].shape):
        old = p["Whh"][ix]
        vals = []
        for d in (eps, -eps):
            p["Whh"][ix] = old + d
            vals.append(forward(p, tr.inputs, tr.targets, tr.h0, tr.c0, cell).losses[t])
        p["Whh"][ix] = old
        num[ix] = (vals[0] - vals[1]) / (2 * eps)
    np.testing.assert_allclose(row, num, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 9), H=st.integers(1, 5), V=st.integers(2, 6), seed=st.integers(0, 10_000),
       cell=st.sampled_from(CELLS))
def test_contributions_sum_property(T, H, V, seed, cell):
    tr = _trace(cell, T=T, V=V, H=H, seed=seed)
    C = contributions(tr)
    total = np.einsum("tkg,kh->gh", C.dah_parts, tr.h_prev)
    np.testing.assert_allclose(total, tr.grads_raw["Whh"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_jacobian_norms_match_finite_differences(cell):
    tr = _trace(cell, T=6, scale=0.8)
    J = jacobian_norms(tr)
    from bpttviz.engine.cells import step_forward
    p = tr.params
    Wh = p["Whh"].T
    t, k = 4, 1
    # Numerical dh_t/dh_k by perturbing h_k and re-running steps k+1..t (c_k held fixed).
    def run_from(hk):
        h, c = hk, (tr.c[k] if cell == "lstm" else None)
        for s in range(k + 1, t + 1):
            ax = p["bh"] + p["Wxh"][:, tr.inputs[s]]
            cache = step_forward(cell, ax, h, Wh, c)
            h, c = cache.h, cache.c
        return h
    H = tr.hidden_size
    num = np.zeros((H, H))
    for j in range(H):
        e = np.zeros(H)
        e[j] = 1e-6
        num[:, j] = (run_from(tr.h[k] + e) - run_from(tr.h[k] - e)) / 2e-6
    assert J[t, k] == pytest.approx(np.linalg.norm(num, 2), rel=1e-6)
    assert np.all(np.diag(J) == 1.0) and np.all(J[np.triu_indices(tr.T, 1)] == 0)


def test_vanishing_vs_exploding_decay():
    """An orthogonal Whh of radius r shrinks or grows the Jacobian roughly like r^(t-k)
    while tanh is unsaturated (small inputs)."""
    rng = np.random.default_rng(0)
    ins = rng.integers(0, 5, 20)
    out = {}
    for r in (0.5, 1.5):
        p = init_params("rnn", 5, 16, seed=3, scale=0.001, whh_radius=r)
        p["Wxh"] *= 0.0
        tr = run_bptt(p, ins, ins, cell="rnn", clip=None)
        spec = whh_spectrum(tr)
        assert spec.spectral_radius == pytest.approx(r, rel=1e-9)
        assert spec.largest_singular_value == pytest.approx(r, rel=1e-9)
        out[r] = decay_by_distance(jacobian_norms(tr))
    # With zero input and h0 = 0 the state stays 0, tanh' = 1: J = Whh^d exactly.
    np.testing.assert_allclose(out[0.5][:10], 0.5 ** np.arange(10), rtol=1e-9)
    np.testing.assert_allclose(out[1.5][:10], 1.5 ** np.arange(10), rtol=1e-9)


@pytest.mark.parametrize("cell", CELLS)
def test_truncation_with_full_window_is_full_bptt(cell):
    tr = _trace(cell, T=8)
    tb = truncated_bptt(tr.params, tr.inputs, tr.targets, 8, h0=tr.h0, c0=tr.c0, cell=cell)
    for k in tr.grads_raw:
        np.testing.assert_allclose(tb.grads_raw[k], tr.grads_raw[k], rtol=0, atol=1e-14)
    assert tb.loss == pytest.approx(tr.loss, rel=1e-14)
    np.testing.assert_allclose(tb.h_last, tr.h_last)


def test_truncation_loses_exactly_the_long_paths():
    """Truncated dWhh equals the sum of contribution parts whose path stays in one window."""
    tr = _trace("rnn", T=9)
    window = 3
    cmp = compare_truncation(tr.params, tr.inputs, tr.targets, window, h0=tr.h0, cell="rnn")
    C = contributions(tr)
    kept = sum(C.part(t, k) for t in range(9) for k in range(t + 1) if t // window == k // window)
    # Same forward states (h carried), so the in-window parts are what truncation computes.
    np.testing.assert_allclose(cmp.truncated.grads_raw["Whh"], kept, atol=1e-13)
    assert cmp.cosine_total < 1.0
    assert np.all(cmp.lost_by_distance[:window] == 0) and cmp.lost_by_distance[window:].sum() > 0
    np.testing.assert_array_equal(cmp.truncated.reach, [0, 1, 2] * 3)


def test_long_range_task_targets_are_delayed_inputs():
    ins, tgs = delay_task(30, 8, 4, seed=1)
    np.testing.assert_array_equal(tgs[8:], ins[:-8])
    assert np.all(tgs[:8] == 0) and ins.min() >= 1 and ins.max() <= 4


def test_compare_clipping_modes():
    tr = _trace("rnn", scale=3.0)
    cmp = compare_clipping(tr.grads_raw, 0.05)
    assert cmp.results["none"][1].cosine == 1.0
    assert cmp.results["norm"][1].cosine == pytest.approx(1.0, abs=1e-12)
    assert cmp.results["value"][1].cosine < 1.0
    assert cmp.results["norm"][1].grad_norm_after_clip == pytest.approx(0.05)

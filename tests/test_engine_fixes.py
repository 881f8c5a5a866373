"""The three engine bugs an outside check against PyTorch autograd found (issue 16):

1. ``contributions(...).by_loss`` above MAX_PARTS added the squared norms of the parts
   instead of taking the norm of loss t's summed contribution;
2. ``ClipReport.cosine`` said 1.0 for a gradient holding NaN (any mode) or inf (norm modes);
3. for captioning traces ``Contributions.part(t, k)`` had the transpose of ``Wh``'s shape.
"""
import math

import numpy as np
import pytest

from bpttviz.engine import analysis, clip_gradients, init_params, run_bptt
from bpttviz.engine.analysis import contributions
from bpttviz.engine.caption_run import caption_step_trace
from bpttviz.engine.captioning import init_caption_params, make_synthetic_dataset


def single_loss_dWhh_norms(tr):
    """(T,) ||dWhh of the loss at step t alone||, by a tanh-RNN backward written here: the
    seed's loop run once per loss with dy zero at every other step."""
    T, H = tr.h.shape
    Whh, Why = tr.params["Whh"], tr.params["Why"]
    out = np.empty(T)
    for t in range(T):
        dWhh = np.zeros_like(Whh)
        dhnext = np.zeros(H)
        for s in range(t, -1, -1):
            dy = tr.p[s] - np.eye(tr.vocab_size)[tr.targets[s]] if s == t else np.zeros(tr.vocab_size)
            dh = Why.T @ dy + dhnext
            dhraw = (1 - tr.h[s] ** 2) * dh
            dWhh += np.outer(dhraw, tr.h_prev[s])
            dhnext = Whh.T @ dhraw
        out[t] = np.linalg.norm(dWhh)
    return out


def _rnn_trace(T, H, V=11, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    p = init_params("rnn", V, H, seed=seed, scale=scale)
    p["Whh"] = rng.standard_normal((H, H)) * 0.9 / np.sqrt(H)
    return run_bptt(p, rng.integers(0, V, T), rng.integers(0, V, T),
                    h0=rng.standard_normal(H) * 0.3, clip=None)


@pytest.mark.parametrize("max_parts", [None, 300, 100, 1])
def test_by_loss_is_the_norm_of_each_loss_whole_contribution_at_every_size(monkeypatch, max_parts):
    """None: the parts are kept (exact path, T*T*G*H = 324 numbers); 300 and 100: the chunked
    replay above the limit (8 and 2 losses per chunk); 1: one loss per chunk."""
    tr = _rnn_trace(T=9, H=4)
    if max_parts is not None:
        monkeypatch.setattr(analysis, "MAX_PARTS", max_parts)
    C = contributions(tr)
    assert (C.dah_parts is None) == (max_parts is not None)
    np.testing.assert_allclose(C.by_loss, single_loss_dWhh_norms(tr), rtol=1e-10, atol=1e-14)
    # Summing the parts' squared norms is a different number (the old fallback's mistake).
    assert not np.allclose(C.by_loss[1:], np.sqrt((C.norms ** 2).sum(axis=1))[1:], rtol=1e-3)


def test_by_loss_at_the_size_the_benchmark_uses():
    """T=70, H=256: T*G*H^2 is above MAX_PARTS (the old fallback was 7.6e-2 off here)."""
    tr = _rnn_trace(T=70, H=256)
    assert tr.T * 256 * 256 > analysis.MAX_PARTS
    C = contributions(tr)
    np.testing.assert_allclose(C.by_loss, single_loss_dWhh_norms(tr), rtol=1e-9)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_by_loss_fallback_equals_the_exact_parts_for_gated_cells(monkeypatch, cell):
    rng = np.random.default_rng(3)
    V, H, T = 6, 3, 8
    p = init_params(cell, V, H, seed=3, scale=0.6)
    tr = run_bptt(p, rng.integers(0, V, T), rng.integers(0, V, T), h0=rng.standard_normal(H) * .3,
                  cell=cell, clip=None, c0=rng.standard_normal(H) * .3 if cell == "lstm" else None)
    exact = contributions(tr)
    # Loss t's whole contribution from the kept parts, summed here.
    want = [np.linalg.norm(sum(exact.part(t, k) for k in range(t + 1))) for t in range(T)]
    np.testing.assert_allclose(exact.by_loss, want, rtol=1e-12)
    monkeypatch.setattr(analysis, "MAX_PARTS", 2 * T * p["Whh"].shape[0])
    fallback = contributions(tr)
    assert fallback.dah_parts is None
    np.testing.assert_allclose(fallback.by_loss, want, rtol=1e-10)
    np.testing.assert_allclose(fallback.norms, exact.norms, rtol=1e-12)
    np.testing.assert_allclose(fallback.by_step, exact.by_step, rtol=1e-12)


MODES = [None, "none", "value", "norm", "param-norm"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mode", MODES)
def test_clip_cosine_is_nan_for_a_gradient_holding_nan(mode):
    grads = {"a": np.array([1.0, np.nan, 2.0]), "b": np.ones((2, 2))}
    _, report = clip_gradients(grads, mode, 5.0)
    assert math.isnan(report.cosine), mode


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mode", MODES)
def test_clip_cosine_is_nan_for_a_gradient_holding_inf(mode):
    grads = {"a": np.array([1.0, -np.inf, 2.0]), "b": np.ones((2, 2))}
    _, report = clip_gradients(grads, mode, 5.0)
    assert math.isnan(report.cosine), mode


@pytest.mark.parametrize("mode", MODES)
def test_clip_cosine_of_finite_gradients_is_unchanged(mode):
    """Huge but finite entries (whose sum of squares overflows) still have a direction."""
    big = {"a": np.array([3.0, 4.0]), "b": np.array([12.0])}
    _, report = clip_gradients(big, mode, 5.0)
    if mode in ("value", "param-norm"):  # both clip b = [12] to [5] and bend the direction
        clipped = np.array([3.0, 4.0, 5.0])
        assert report.cosine == pytest.approx(clipped @ [3, 4, 12] / (13 * np.linalg.norm(clipped)))
    else:
        assert report.cosine == 1.0
    _, report = clip_gradients({"a": np.array([1e200, 1e200])}, mode, 5.0)
    assert report.cosine == pytest.approx(1.0)


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_caption_contribution_parts_have_Wh_shape_and_sum_to_it(cell):
    ds = make_synthetic_dataset(seed=1, num_examples=4)
    params = init_caption_params(cell, ds.vocab_size, ds.input_dim, 6, 5, seed=2)
    tr = caption_step_trace(params, ds.features[0], ds.captions[0], cell, ds.null, None, 5.0)
    Wh = tr.grads_raw["Wh"]
    assert Wh.shape == params["Wh"].shape == (5, tr.recurrent_weights.shape[1])
    C = contributions(tr)
    assert C.part(tr.T - 1, 0).shape == Wh.shape
    total = sum(C.part(t, k) for t in range(tr.T) for k in range(t + 1))
    np.testing.assert_allclose(total, Wh, rtol=1e-10, atol=1e-14)
    assert not np.allclose(Wh, Wh.T[:Wh.shape[0], :Wh.shape[1]] if cell == "rnn" else 0)
    # The character model's Whh (G*H, H) keeps its orientation.
    char = run_bptt(init_params(cell, 5, 3, scale=0.5), [0, 1, 2], [1, 2, 3], clip=None, cell=cell)
    Cc = contributions(char)
    assert Cc.part(2, 1).shape == char.grads_raw["Whh"].shape
    np.testing.assert_allclose(sum(Cc.part(t, k) for t in range(3) for k in range(t + 1)),
                               char.grads_raw["Whh"], rtol=1e-10, atol=1e-15)


def test_gradient_check_refine_keeps_the_step_that_agrees_and_still_fails_a_wrong_gradient():
    """``refine``: a step too large for a sharply curved loss misjudges a correct entry; each
    entry keeps the step whose floored error is smallest, and says which one it kept."""
    from bpttviz.engine.gradcheck import check_gradients, entry_errors, error_floor

    def loss(p):
        return float(np.sum(np.sin(40.0 * p["w"])))
    w = np.array([0.3, -0.7, 1.1])
    right = {"w": 40.0 * np.cos(40.0 * w)}
    coarse = check_gradients({"w": w.copy()}, loss, right, eps=0.05, order=4)
    assert coarse["w"].max_rel_error > 1e-3 and coarse["w"].eps is None  # misjudged
    fine = check_gradients({"w": w.copy()}, loss, right, eps=0.05, order=4, refine=(1e-3, 1e-4))
    e = fine["w"]
    assert set(e.eps) <= {1e-3, 1e-4} and e.floor.shape == (3,)
    np.testing.assert_allclose(e.floor, [error_floor(loss({"w": w}), h, 4) for h in e.eps])
    assert float(entry_errors(e.analytic, e.numeric, e.floor).max()) < 1e-7
    wrong = {"w": right["w"] * 1.001}
    bad = check_gradients({"w": w.copy()}, loss, wrong, eps=0.05, order=4, refine=(1e-3, 1e-4))
    assert float(entry_errors(bad["w"].analytic, bad["w"].numeric, bad["w"].floor).min()) > 1e-4

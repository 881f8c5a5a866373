"""Issue 11, "one registry per concept": a new cell is one module plus one registry entry.

The ReLU Elman cell below (h = max(0, Wxh x + Whh h + bh)) exists in this file only; once
registered, the engine (init_params, check_params, run_bptt, forward, sample, the analyses,
the captioning model, the bug gallery), the header equations (explain.py) and the code panel's
listing pick it up, and its gradients pass a finite-difference check written here.  It is
unregistered after every test, so the other tests see the three built-in cells only.
"""
import numpy as np
import pytest

from bpttviz.engine import (CELLS, GATES, GATE_NAMES, forward, init_params, run_bptt, sample)
from bpttviz.engine.analysis import contributions, jacobian_norms
from bpttviz.engine.bugs import bugs_for
from bpttviz.engine.captioning import caption_forward_backward, init_caption_params, \
    make_synthetic_dataset
from bpttviz.engine.cells import StepCache, StepGrad
from bpttviz.engine.cellspec import (CellSpec, GateSpec, get_cell, parse_listing, register_cell,
                                     registered_cell, unregister_cell)
from bpttviz.engine.model import check_params, param_shapes
from bpttviz.explain import describe
from bpttviz.timeline import Event


# ---- the whole new cell: two step functions and one spec --------------------------------------

def relu_step_forward(ax, h_prev, Wh, c_prev=None):
    preact = ax + h_prev @ Wh
    return StepCache(h_prev=h_prev, h=np.maximum(0.0, preact), preact=preact)


def relu_step_backward(dh, cache, Wh, dc_next=None):
    dax = (cache.preact > 0) * dh
    return StepGrad(dax=dax, dah=dax, dh_prev=dax @ Wh.T)


RELU = CellSpec(
    name="relu", title="ReLU RNN", G=1, gates=(),
    step_forward=relu_step_forward, step_backward=relu_step_backward,
    blurb="Elman RNN with a ReLU",
    forward_eq="h_t = max(0, Wxh·x_t + Whh·h_{t-1} + bh);  p_t = softmax(Why·h_t + by)",
    backward_eq="dh = Whyᵀ·dy + dhnext;  dhraw = [h_t > 0]⊙dh;  dhnext = Whhᵀ·dhraw",
    forward_code="""\
 |# forward pass (ReLU)
f|for t in range(len(inputs)):
F|    hs[t] = np.maximum(0, Wxh @ xs[t] + Whh @ hs[t-1] + bh)
""",
    backward_code="""\
 |dhnext = np.zeros_like(hs[0])
b|for t in reversed(range(len(inputs))):
b|    dhraw = (hs[t] > 0) * (Why.T @ dy + dhnext)   # through the ReLU
B|    dhnext = Whh.T @ dhraw
""",
    backward_values=(("dhraw", "dax"),),
    formulas=(("h", "h_t = max(0, Wxh·x_t + Whh·h_{t-1} + bh)"),),
)

V, H, T = 5, 6, 7


@pytest.fixture
def relu():
    assert "relu" not in CELLS
    with registered_cell(RELU) as spec:
        yield spec
    assert "relu" not in CELLS and "relu" not in GATES and "relu" not in GATE_NAMES


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    p = init_params("relu", V, H, seed=seed, scale=0.5)
    p["bh"] = rng.standard_normal(H) * 0.3
    return p, rng.integers(0, V, T), rng.integers(0, V, T), np.abs(rng.standard_normal(H))


def _central_differences(p, inputs, targets, h0, eps=1e-6):
    num = {}
    for k in p:
        arr = p[k].copy()
        work = dict(p, **{k: arr})
        out = np.zeros_like(arr)
        for ix in np.ndindex(arr.shape):
            old = arr[ix]
            arr[ix] = old + eps
            up = forward(work, inputs, targets, h0, None, "relu").loss
            arr[ix] = old - eps
            down = forward(work, inputs, targets, h0, None, "relu").loss
            arr[ix] = old
            out[ix] = (up - down) / (2 * eps)
        num[k] = out
    return num


def test_a_registered_cell_runs_bptt_and_passes_a_finite_difference_check(relu):
    p, inputs, targets, h0 = _problem()
    assert {k: v.shape for k, v in p.items()} == param_shapes("relu", V, H)
    assert check_params(p, "relu") == (V, H)
    tr = run_bptt(p, inputs, targets, h0=h0, cell="relu", clip=None)
    # The forward pass is the ReLU recurrence, computed here independently.
    h = h0
    for t in range(T):
        h = np.maximum(0, p["Wxh"][:, inputs[t]] + p["Whh"] @ h + p["bh"])
        np.testing.assert_allclose(tr.h[t], h, rtol=1e-12, atol=1e-15)
    assert 0 < np.mean(tr.h > 0) < 1  # both sides of the kink are exercised
    assert tr.gates == {} and tr.c is None
    num = _central_differences(p, inputs, targets, h0)
    for k, g in tr.grads_raw.items():
        err = np.linalg.norm(g - num[k]) / (np.linalg.norm(g) + np.linalg.norm(num[k]))
        assert err < 1e-7, (k, err)
    # The analyses replay its steps too.
    C = contributions(tr)
    np.testing.assert_allclose(sum(C.part(t, k) for t in range(T) for k in range(t + 1)),
                               tr.grads_raw["Whh"], rtol=1e-10, atol=1e-14)
    assert jacobian_norms(tr).shape == (T, T)
    assert len(sample(p, h0, 0, 5, cell="relu", rng=np.random.default_rng(0))) == 5


def test_a_registered_cell_gets_init_checks_bugs_and_captioning(relu):
    p = init_params("relu", V, H, whh_radius=0.9)  # one gate block: Whh is square
    assert np.allclose(np.linalg.svd(p["Whh"], compute_uv=False), 0.9)
    bad = dict(p, Whh=np.zeros((H, H + 1)))
    with pytest.raises(ValueError, match="relu"):
        check_params(bad, "relu")
    assert set(bugs_for("relu")) == {"forget-dhnext", "h-instead-of-hprev", "dy-without-minus-one",
                                     "dhnext-from-dh", "no-carry-state"}
    q, inputs, targets, h0 = _problem(1)
    with pytest.raises(ValueError, match="no-tanh-derivative"):
        run_bptt(q, inputs, targets, h0=h0, cell="relu", bug="no-tanh-derivative")
    num = _central_differences(q, inputs, targets, h0)
    tr = run_bptt(q, inputs, targets, h0=h0, cell="relu", clip=None, bug="dhnext-from-dh")
    assert max(np.linalg.norm(tr.grads_raw[k] - num[k]) / np.linalg.norm(num[k])
               for k in ("Wxh", "Whh", "bh")) > 1e-2
    ds = make_synthetic_dataset(num_examples=3)
    cp = init_caption_params("relu", ds.vocab_size, ds.input_dim, 4, 5)
    ct = caption_forward_backward(cp, ds.features, ds.captions, cell="relu", null=ds.null)
    assert ct.grads["Wh"].shape == (5, 5) and np.isfinite(ct.loss)


def test_explain_and_the_code_panel_read_a_registered_cell(relu):
    words, eq = describe(Event("forward", 2), cell="relu", T=T)
    assert eq == RELU.forward_eq and "step 2" in words
    assert describe(Event("backward", 2), cell="relu", T=T)[1] == RELU.backward_eq
    from bpttviz.gui.panels.code import code_lines
    lines = code_lines("relu", "value", "sgd")
    texts = [text for text, _ in lines]
    assert "    hs[t] = np.maximum(0, Wxh @ xs[t] + Whh @ hs[t-1] + bh)" in texts
    tags = dict(lines)
    assert tags["    dhnext = Whh.T @ dhraw"] == "B"
    assert any(tag == "C" for _, tag in lines) and any(tag == "U" for _, tag in lines)
    assert get_cell("relu").formula("h").startswith("h_t = max(0")


def test_the_registry_refuses_bad_specs_and_unregisters_cleanly():
    with registered_cell(RELU):
        with pytest.raises(ValueError, match="already registered"):
            register_cell(RELU)
        assert list(CELLS) == ["rnn", "lstm", "gru", "relu"]
    assert list(CELLS) == ["rnn", "lstm", "gru"]
    with pytest.raises(ValueError, match="cell must be one of rnn, lstm, gru"):
        run_bptt(init_params("rnn", V, H), [0, 1], [1, 2], cell="relu")
    with pytest.raises(ValueError, match="G"):
        register_cell(CellSpec(name="bad", title="", G=0, gates=(), step_forward=relu_step_forward,
                               step_backward=relu_step_backward))
    with pytest.raises(ValueError, match="activation"):
        register_cell(CellSpec(name="bad", title="", G=1, gates=(GateSpec("q", "q", "q", "relu"),),
                               step_forward=relu_step_forward, step_backward=relu_step_backward))
    with pytest.raises(ValueError, match="line 1"):
        parse_listing("no tag here")
    assert "bad" not in CELLS
    register_cell(RELU)
    try:
        assert GATES["relu"] == 1 and GATE_NAMES["relu"] == ()
    finally:
        assert unregister_cell("relu") is RELU
    assert "relu" not in CELLS

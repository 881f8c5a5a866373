"""The captioning model (bpttviz.engine.captioning) against cs231n's CaptioningRNN (seed 004).

The reference below is written in the assignment's own style from the seed's rnn_layers.py and
CaptioningRNN.loss/sample, with the OCR garble in temporal_softmax_loss fixed
(``dx_flat[np.arange(N * T), y_flat] -= 1``).
"""
import time
import zipfile

import numpy as np
import pytest

from bpttviz.engine.captioning import (
    CAPTION_PARAM_NAMES, SHAPES_VOCAB, CaptionTrainer, caption_forward_backward, caption_loss,
    caption_param_shapes, caption_sample, decode_captions, default_caption_dataset_path,
    init_caption_params, load_caption_dataset, make_synthetic_dataset, masked_softmax_loss,
    save_caption_dataset)
from bpttviz.engine.gradcheck import check_gradients, relative_error


# ============================================================================================
# cs231n reference (rnn_layers.py, layers.affine_*, CaptioningRNN.loss / sample)
# ============================================================================================

def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(np.dot(x, Wx) + np.dot(prev_h, Wh) + b)
    cache = (x, prev_h, Wx, Wh, b, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    dhraw = (1 - next_h * next_h) * dnext_h
    db = np.sum(dhraw, axis=0)
    dx = np.dot(dhraw, Wx.T)
    dWx = np.dot(x.T, dhraw)
    dprev_h = np.dot(dhraw, Wh.T)
    dWh = np.dot(prev_h.T, dhraw)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros([N, T, H])
    cache = []
    for i in range(T):
        next_h, cache_i = rnn_step_forward(x[:, i, :], h0, Wx, Wh, b)
        h0 = next_h
        h[:, i, :] = next_h
        cache.append(cache_i)
    return h, cache


def rnn_backward(dh, cache):
    x, prev_h, Wx, Wh, b, next_h = cache[0]
    N, T, H = dh.shape
    D = Wx.shape[0]
    dx = np.zeros([N, T, D])
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    dprev_h = np.zeros_like(prev_h)
    for i in reversed(range(T)):
        dh_i = dprev_h + dh[:, i, :]
        dx[:, i, :], dprev_h, dWx_i, dWh_i, db_i = rnn_step_backward(dh_i, cache[i])
        dWx += dWx_i
        dWh += dWh_i
        db += db_i
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db


def word_embedding_forward(x, W):
    out = W[x, :]
    cache = x, W
    return out, cache


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW


def sigmoid(x):
    pos_mask = (x >= 0)
    neg_mask = (x < 0)
    z = np.zeros_like(x)
    z[pos_mask] = np.exp(-x[pos_mask])
    z[neg_mask] = np.exp(x[neg_mask])
    top = np.ones_like(x)
    top[neg_mask] = z[neg_mask]
    return top / (1 + z)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    A = x.dot(Wx) + prev_h.dot(Wh) + b
    H = prev_h.shape[1]
    ai = A[:, 0:H]
    af = A[:, H:2 * H]
    ao = A[:, 2 * H:3 * H]
    ag = A[:, 3 * H:4 * H]
    i = sigmoid(ai)
    f = sigmoid(af)
    o = sigmoid(ao)
    g = np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, b, i, f, o, g, next_c, next_h)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, b, i, f, o, g, next_c, next_h = cache
    do = np.tanh(next_c) * dnext_h
    dnext_c = dnext_c + o * (1 - np.square(np.tanh(next_c))) * dnext_h
    df = prev_c * dnext_c
    dprev_c = f * dnext_c
    di = g * dnext_c
    dg = i * dnext_c
    N, H = dnext_h.shape
    dA = np.zeros((N, 4 * H))
    dA[:, 0:H] = di * i * (1 - i)
    dA[:, H:2 * H] = df * f * (1 - f)
    dA[:, 2 * H:3 * H] = do * o * (1 - o)
    dA[:, 3 * H:] = dg * (1 - np.square(g))
    dx = np.dot(dA, Wx.T)
    dWx = np.dot(x.T, dA)
    dprev_h = np.dot(dA, Wh.T)
    dWh = np.dot(prev_h.T, dA)
    db = np.sum(dA, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    prev_h = h0
    prev_c = np.zeros_like(h0)
    h = np.zeros([N, T, H])
    cache = []
    for i in range(T):
        next_h, next_c, cache_i = lstm_step_forward(x[:, i, :], prev_h, prev_c, Wx, Wh, b)
        prev_h = next_h
        prev_c = next_c
        h[:, i, :] = next_h
        cache.append(cache_i)
    return h, cache


def lstm_backward(dh, cache):
    x, prev_h, prev_c, Wx, Wh, b, i, f, o, g, next_c, next_h = cache[0]
    N, T, H = dh.shape
    D = Wx.shape[0]
    dx = np.zeros([N, T, D])
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    dprev_h = np.zeros_like(prev_h)
    dprev_c = np.zeros_like(prev_c)
    for i in reversed(range(T)):
        dh_i = dprev_h + dh[:, i, :]
        dx[:, i, :], dprev_h, dprev_c, dWx_i, dWh_i, db_i = lstm_step_backward(dh_i, dprev_c, cache[i])
        db += db_i
        dWh += dWh_i
        dWx += dWx_i
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    M = b.shape[0]
    out = x.reshape(N * T, D).dot(w).reshape(N, T, M) + b
    cache = x, w, b, out
    return out, cache


def temporal_affine_backward(dout, cache):
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dx = dout.reshape(N * T, M).dot(w.T).reshape(N, T, D)
    dw = dout.reshape(N * T, M).T.dot(x.reshape(N * T, D)).T
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1   # the seed's OCR reads "= 1"
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    dx = dx_flat.reshape(N, T, V)
    return loss, dx


def reference_loss(params, features, captions, cell_type, null):
    """CaptioningRNN.loss as in the seed."""
    captions_in = captions[:, :-1]
    captions_out = captions[:, 1:]
    mask = (captions_out != null)
    W_proj, b_proj = params['W_proj'], params['b_proj']
    W_embed = params['W_embed']
    Wx, Wh, b = params['Wx'], params['Wh'], params['b']
    W_vocab, b_vocab = params['W_vocab'], params['b_vocab']
    grads = {}
    initial_hidden, initial_cache = affine_forward(features, W_proj, b_proj)
    captions_embedded, embedding_cache = word_embedding_forward(captions_in, W_embed)
    if cell_type == 'rnn':
        rnn_output, rnn_cache = rnn_forward(captions_embedded, initial_hidden, Wx, Wh, b)
    elif cell_type == 'lstm':
        rnn_output, rnn_cache = lstm_forward(captions_embedded, initial_hidden, Wx, Wh, b)
    scores, vocab_cache = temporal_affine_forward(rnn_output, W_vocab, b_vocab)
    loss, dx = temporal_softmax_loss(scores, captions_out, mask)
    dscores, grads['W_vocab'], grads['b_vocab'] = temporal_affine_backward(dx, vocab_cache)
    if cell_type == 'rnn':
        dx, dh_initial, grads['Wx'], grads['Wh'], grads['b'] = rnn_backward(dscores, rnn_cache)
    elif cell_type == 'lstm':
        dx, dh_initial, grads['Wx'], grads['Wh'], grads['b'] = lstm_backward(dscores, rnn_cache)
    grads['W_embed'] = word_embedding_backward(dx, embedding_cache)
    dx_initial, grads['W_proj'], grads['b_proj'] = affine_backward(dh_initial, initial_cache)
    return loss, grads, dh_initial


def reference_sample(params, features, start, null, max_length, cell_type):
    """CaptioningRNN.sample as in the seed."""
    N = features.shape[0]
    captions = null * np.ones((N, max_length), dtype=np.int32)
    W_proj, b_proj = params['W_proj'], params['b_proj']
    W_embed = params['W_embed']
    Wx, Wh, b = params['Wx'], params['Wh'], params['b']
    W_vocab, b_vocab = params['W_vocab'], params['b_vocab']
    hidden_state, _ = affine_forward(features, W_proj, b_proj)
    if cell_type == 'lstm':
        cell_state = np.zeros_like(hidden_state)
    word_embed, _ = word_embedding_forward(start, W_embed)
    for i in range(max_length):
        if cell_type == 'rnn':
            hidden_state, _ = rnn_step_forward(word_embed, hidden_state, Wx, Wh, b)
        elif cell_type == 'lstm':
            hidden_state, cell_state, _ = lstm_step_forward(word_embed, hidden_state, cell_state,
                                                           Wx, Wh, b)
        scores, _ = affine_forward(hidden_state, W_vocab, b_vocab)
        captions[:, i] = np.argmax(scores, axis=1)
        word_embed, _ = word_embedding_forward(captions[:, i], W_embed)
    return captions


# ============================================================================================
# Fixtures
# ============================================================================================

def padded_batch(N=6, T=7, V=10, D=12, null=0, start=1, end=2, seed=0):
    """Random features and NULL-padded captions of different lengths, with repeated words."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((N, D))
    captions = np.full((N, T + 1), null, dtype=np.int64)
    for n in range(N):
        L = 1 + (n % T)                       # 1..T words, so every padding amount occurs
        words = rng.integers(3, min(V, 6), size=L)   # few distinct words -> repeats
        row = np.concatenate([[start], words, [end]])[:T + 1]
        captions[n, :row.size] = row
    return features, captions


@pytest.fixture(scope="module")
def dataset():
    return load_caption_dataset()


# ============================================================================================
# Parameters and validation
# ============================================================================================

@pytest.mark.parametrize("cell,G", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_init_params_names_shapes_and_scales(cell, G):
    V, D, W, H = 30, 200, 50, 40
    p = init_caption_params(cell, V, D, W, H, seed=3)
    assert tuple(p) == CAPTION_PARAM_NAMES
    assert {k: v.shape for k, v in p.items()} == {
        "W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, G * H),
        "Wh": (H, G * H), "b": (G * H,), "W_vocab": (H, V), "b_vocab": (V,)}
    assert caption_param_shapes(cell, V, D, W, H) == {k: v.shape for k, v in p.items()}
    assert all(v.dtype == np.float64 for v in p.values())
    for name, std in [("W_embed", 1 / 100), ("W_proj", 1 / np.sqrt(D)), ("Wx", 1 / np.sqrt(W)),
                      ("Wh", 1 / np.sqrt(H)), ("W_vocab", 1 / np.sqrt(H))]:
        assert p[name].std() == pytest.approx(std, rel=0.15), name
    for name in ("b_proj", "b", "b_vocab"):
        assert not p[name].any()
    q = init_caption_params(cell, V, D, W, H, seed=3)
    assert all(np.array_equal(p[k], q[k]) for k in p)


def test_arguments_are_validated_with_clear_messages():
    p = init_caption_params("rnn", 10, 12, 5, 7)
    features, captions = padded_batch()
    with pytest.raises(ValueError, match="cell must be one of rnn, lstm, gru"):
        caption_loss(p, features, captions, cell="transformer")
    with pytest.raises(ValueError, match=r"params\['Wx'\] has shape"):
        caption_loss(p, features, captions, cell="lstm")          # rnn weights for an lstm
    with pytest.raises(ValueError, match="params is missing W_vocab"):
        caption_loss({k: v for k, v in p.items() if k != "W_vocab"}, features, captions)
    with pytest.raises(ValueError, match=r"features must be a real \(N, D\) array .* D = 12"):
        caption_loss(p, features[:, :5], captions)
    with pytest.raises(ValueError, match="features must be finite"):
        caption_loss(p, np.where(features > 1, np.nan, features), captions)
    with pytest.raises(ValueError, match=r"captions must hold word indices in \[0, 10\)"):
        caption_loss(p, features, np.where(captions == 3, 10, captions))
    with pytest.raises(ValueError, match=r"captions must hold word indices in \[0, 10\)"):
        caption_loss(p, features, captions - 1)
    with pytest.raises(ValueError, match="captions must be an integer"):
        caption_loss(p, features, captions.astype(float))
    with pytest.raises(ValueError, match="captions must be an integer"):
        caption_loss(p, features, captions[:, :1])
    with pytest.raises(ValueError, match="one row per feature vector"):
        caption_loss(p, features, captions[:-1])
    with pytest.raises(ValueError, match=r"null must be a word index in \[0, 10\)"):
        caption_loss(p, features, captions, null=10)
    with pytest.raises(ValueError, match="hidden_dim must be a whole number"):
        init_caption_params("rnn", 10, 12, 5, 0)
    with pytest.raises(ValueError, match="cell must be one of"):
        init_caption_params("RNN", 10, 12, 5, 7)
    with pytest.raises(ValueError, match=r"start must be a word index"):
        caption_sample(p, features, start=-1, null=0)
    with pytest.raises(ValueError, match="max_length must be a whole number"):
        caption_sample(p, features, start=1, null=0, max_length=0)


# ============================================================================================
# Equality with cs231n on the same weights
# ============================================================================================

def assert_same(ours, ref, what):
    assert ours.shape == ref.shape, what
    assert relative_error(ours, ref) < 1e-10, (what, relative_error(ours, ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_loss_and_gradients_equal_cs231n_reference(cell):
    features, captions = padded_batch(N=6, T=7, V=10, D=12, seed=1)
    assert (captions[:, 1:] == 0).any() and (captions[:, 1:] != 0).any()   # really padded
    p = init_caption_params(cell, 10, 12, 5, 7, seed=2)
    rng = np.random.default_rng(5)
    for k in ("b_proj", "b", "b_vocab"):                 # non-zero biases exercise their grads
        p[k] = 0.1 * rng.standard_normal(p[k].shape)
    ref_loss, ref_grads, ref_dh0 = reference_loss(p, features, captions, cell, null=0)
    trace = caption_forward_backward(p, features, captions, cell=cell, null=0)
    assert trace.loss == pytest.approx(ref_loss, rel=1e-12)
    assert set(trace.grads) == set(ref_grads) == set(CAPTION_PARAM_NAMES)
    for k in CAPTION_PARAM_NAMES:
        assert_same(trace.grads[k], ref_grads[k], k)
    assert_same(trace.dh0, ref_dh0, "dh0")
    loss, grads = caption_loss(p, features, captions, cell=cell, null=0)
    assert loss == trace.loss
    assert all(np.array_equal(grads[k], trace.grads[k]) for k in grads)


def test_reference_comparison_uses_the_null_index_given():
    """With null = 3, targets equal to 3 are ignored and index 0 is an ordinary word."""
    rng = np.random.default_rng(4)
    null, start, end = 3, 1, 2
    features = rng.standard_normal((5, 4))
    captions = np.full((5, 7), null, dtype=np.int64)
    for n in range(5):
        words = rng.choice([0, 4, 5, 6], size=1 + n)
        row = np.concatenate([[start], words, [end]])
        captions[n, :row.size] = row
    assert (captions == 0).any() and (captions[:, 1:] == null).any()
    p = init_caption_params("rnn", 9, 4, 3, 5, seed=1)
    ref_loss, ref_grads, _ = reference_loss(p, features, captions, "rnn", null=null)
    loss, grads = caption_loss(p, features, captions, cell="rnn", null=null)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for k in CAPTION_PARAM_NAMES:
        assert_same(grads[k], ref_grads[k], k)
    assert caption_loss(p, features, captions, cell="rnn", null=0)[0] != pytest.approx(loss)


# ============================================================================================
# Finite differences
# ============================================================================================

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_match_centered_differences(cell):
    V, D, W, H = 7, 4, 3, 5
    features, captions = padded_batch(N=3, T=4, V=V, D=D, seed=7)
    p = init_caption_params(cell, V, D, W, H, seed=11)
    rng = np.random.default_rng(1)
    # Larger, non-zero weights than the init keep every gradient well away from zero.
    for k in p:
        p[k] = 0.5 * rng.standard_normal(p[k].shape)
    _, analytic = caption_loss(p, features, captions, cell=cell)
    result = check_gradients(p, lambda q: caption_loss(q, features, captions, cell=cell)[0],
                             analytic)
    assert set(result) == set(CAPTION_PARAM_NAMES)
    for name, entry in result.items():
        assert np.linalg.norm(entry.analytic) > 1e-4, name
        assert entry.rel_error < 1e-7, (name, entry.rel_error)


# ============================================================================================
# Masking and the 1/N average
# ============================================================================================

def test_scores_at_null_targets_do_not_change_the_loss():
    rng = np.random.default_rng(0)
    N, T, V = 4, 5, 6
    scores = rng.standard_normal((N, T, V))
    targets = rng.integers(0, V, (N, T))
    targets[:, 3:] = 0
    mask = targets != 0
    assert (~mask).any() and mask.any()
    _, losses, dscores = masked_softmax_loss(scores, targets, mask)
    changed = scores.copy()
    changed[~mask] += 100 * rng.standard_normal(((~mask).sum(), V))
    _, losses2, dscores2 = masked_softmax_loss(changed, targets, mask)
    assert losses.sum() == losses2.sum()
    assert not losses[~mask].any() and not dscores[~mask].any()
    np.testing.assert_array_equal(dscores, dscores2)
    changed[mask] += 1.0 * rng.standard_normal((mask.sum(), V))       # sanity: unmasked matter
    assert masked_softmax_loss(changed, targets, mask)[1].sum() != losses.sum()


def test_model_ignores_null_targets_and_divides_by_N():
    features, captions = padded_batch(N=5, T=6, V=8, D=4, seed=2)
    p = init_caption_params("lstm", 8, 4, 3, 5, seed=0)
    tr = caption_forward_backward(p, features, captions, cell="lstm")
    assert not tr.losses[~tr.mask].any()
    assert not tr.dscores[~tr.mask].any()
    # Duplicating the batch leaves the loss and gradients unchanged (sum over t, mean over N).
    loss2, grads2 = caption_loss(p, np.concatenate([features, features]),
                                 np.concatenate([captions, captions]), cell="lstm")
    assert loss2 == pytest.approx(tr.loss, rel=1e-12)
    for k in grads2:
        np.testing.assert_allclose(grads2[k], tr.grads[k], rtol=1e-10, atol=1e-14)
    # An extra caption whose targets are all <NULL> adds nothing but still counts in N.
    extra = np.zeros((1, captions.shape[1]), dtype=captions.dtype)
    extra[0, 0] = 1
    loss3, _ = caption_loss(p, np.concatenate([features, features[:1]]),
                            np.concatenate([captions, extra]), cell="lstm")
    assert loss3 == pytest.approx(tr.loss * 5 / 6, rel=1e-12)
    # Summed over time, not averaged: the loss is the masked cross-entropy total over N.
    ce = -np.log(np.take_along_axis(tr.p, tr.captions_out[..., None], axis=-1)[..., 0])
    assert tr.loss == pytest.approx((ce * tr.mask).sum() / 5, rel=1e-12)


# ============================================================================================
# The trace
# ============================================================================================

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_trace_shapes_and_consistency(cell):
    N, T, V, D, W, H = 4, 5, 8, 6, 3, 7
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    features, captions = padded_batch(N=N, T=T, V=V, D=D, seed=3)
    p = init_caption_params(cell, V, D, W, H, seed=0)
    tr = caption_forward_backward(p, features, captions, cell=cell)
    shapes = {"h0": (N, H), "x": (N, T, W), "h": (N, T, H), "scores": (N, T, V), "p": (N, T, V),
              "mask": (N, T), "losses": (N, T), "dscores": (N, T, V), "dh": (N, T, H),
              "dhnext": (N, T, H), "dh0": (N, H), "dh_from_output": (N, T, H),
              "preact": (N, T, G * H), "dax": (N, T, G * H), "dah": (N, T, G * H),
              "dx": (N, T, W), "captions_in": (N, T), "captions_out": (N, T)}
    for name, shape in shapes.items():
        assert getattr(tr, name).shape == shape, name
    assert (tr.N, tr.T, tr.hidden_size, tr.vocab_size) == (N, T, H, V)
    assert set(tr.gates) == {"rnn": set(), "lstm": set("ifog"), "gru": set("zrn")}[cell]
    assert all(g.shape == (N, T, H) for g in tr.gates.values())
    if cell == "lstm":
        assert tr.c.shape == tr.dc.shape == tr.dcnext.shape == (N, T, H)
    else:
        assert tr.c is None and tr.dc is None
    np.testing.assert_allclose(tr.h0, features @ p["W_proj"] + p["b_proj"])
    np.testing.assert_array_equal(tr.x, p["W_embed"][captions[:, :-1]])
    np.testing.assert_allclose(tr.p.sum(axis=-1), 1.0)
    assert tr.loss == pytest.approx(tr.losses.sum()) and tr.step_losses.shape == (T,)
    # dh_t = own loss + what step t+1 sent back; step 0 sends dh0.
    np.testing.assert_allclose(tr.dh[:, :-1], tr.dh_from_output[:, :-1] + tr.dhnext[:, 1:])
    np.testing.assert_allclose(tr.dh[:, -1], tr.dh_from_output[:, -1])
    np.testing.assert_array_equal(tr.dh0, tr.dhnext[:, 0])
    np.testing.assert_allclose(tr.grads["b_proj"], tr.dh0.sum(axis=0))
    assert set(tr.grad_norms) == set(CAPTION_PARAM_NAMES)


# ============================================================================================
# Sampling
# ============================================================================================

@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_sample_is_greedy_and_matches_cs231n(cell):
    V, D, W, H = 9, 6, 4, 8
    rng = np.random.default_rng(0)
    p = init_caption_params(cell, V, D, W, H, seed=4)
    for k in p:                                         # big enough that words vary
        p[k] = rng.standard_normal(p[k].shape)
    features = rng.standard_normal((7, D))
    out = caption_sample(p, features, start=1, null=0, max_length=6, cell=cell)
    assert out.shape == (7, 6) and np.issubdtype(out.dtype, np.integer)
    assert out.min() >= 0 and out.max() < V
    assert len(np.unique(out)) > 1
    np.testing.assert_array_equal(out, reference_sample(p, features, 1, 0, 6, cell))
    # Step 1 by hand: h1 from h0 and the <START> embedding, then the argmax of its scores.
    h0 = features @ p["W_proj"] + p["b_proj"]
    a = p["W_embed"][1] @ p["Wx"] + h0 @ p["Wh"] + p["b"]
    if cell == "rnn":
        h1 = np.tanh(a)
    else:
        i, f, o = (1 / (1 + np.exp(-a[:, k * H:(k + 1) * H])) for k in range(3))
        h1 = o * np.tanh(i * np.tanh(a[:, 3 * H:]))
    np.testing.assert_array_equal(out[:, 0], np.argmax(h1 @ p["W_vocab"] + p["b_vocab"], axis=1))
    assert not np.array_equal(out[:, 0], np.full(7, 1))   # the first word, not <START>


def test_sample_end_option_blanks_words_after_end():
    V, D = 6, 3
    p = init_caption_params("rnn", V, D, 4, 5, seed=0)
    rng = np.random.default_rng(2)
    for k in p:
        p[k] = 2 * rng.standard_normal(p[k].shape)
    features = rng.standard_normal((20, D))
    raw = caption_sample(p, features, start=1, null=0, max_length=8)
    end = int(np.bincount(raw[:, 1:].ravel(), minlength=V).argmax())   # a word that occurs
    cut = caption_sample(p, features, start=1, null=0, max_length=8, end=end)
    hit = False
    for r, c in zip(raw, cut):
        k = int(np.argmax(r == end)) if (r == end).any() else len(r)
        np.testing.assert_array_equal(c[:k + 1], r[:k + 1])
        assert not c[k + 1:].any()
        hit |= k + 1 < len(r)
    assert hit


# ============================================================================================
# Dataset
# ============================================================================================

def test_shipped_dataset_loads_without_pickle(dataset):
    path = default_caption_dataset_path()
    with np.load(path, allow_pickle=False) as raw:
        assert set(raw.files) == {"features", "captions", "vocab"}
        assert raw["features"].dtype == np.float64 and raw["features"].shape == (200, 16)
        assert raw["captions"].dtype == np.int64 and raw["captions"].shape == (200, 8)
        assert raw["vocab"].dtype.kind == "U"
    assert dataset.vocab == list(SHAPES_VOCAB) and len(dataset.vocab) == 19
    assert (dataset.null, dataset.start, dataset.end) == (0, 1, 2)
    assert dataset.word_to_idx["circle"] == dataset.vocab.index("circle")
    assert (dataset.num_examples, dataset.input_dim, dataset.T) == (200, 16, 7)
    caps = dataset.captions
    assert (caps[:, 0] == dataset.start).all()
    assert ((caps == dataset.end).sum(axis=1) == 1).all()
    after_end = np.cumsum(caps == dataset.end, axis=1) - (caps == dataset.end) > 0
    assert (caps[after_end] == dataset.null).all() and not (caps[~after_end] == dataset.null).any()
    assert len(np.unique((caps == dataset.null).sum(axis=1))) >= 3     # varied padding
    # The shipped file is make_synthetic_dataset(seed=0).
    fresh = make_synthetic_dataset(seed=0)
    np.testing.assert_array_equal(fresh.captions, dataset.captions)
    np.testing.assert_allclose(fresh.features, dataset.features, rtol=0, atol=1e-12)


def test_dataset_captions_are_determined_by_the_features(dataset):
    texts = decode_captions(dataset.captions, dataset.vocab)
    colours, shapes = ("red", "blue", "green", "yellow"), ("circle", "square", "triangle", "star")
    for f, text in zip(dataset.features, texts):
        words = text.split()
        assert words[0] == "a"
        assert colours[int(np.argmax(f[0:4]))] in words
        assert shapes[int(np.argmax(f[4:8]))] in words
        assert ("big" in words) == (f[8] > 0.5) and ("small" in words) == (f[9] > 0.5)
        assert ("on" in words) == (f[10:14].max() > 0.5)


def test_decode_captions():
    vocab = list(SHAPES_VOCAB)
    ix = {w: i for i, w in enumerate(vocab)}
    caps = np.array([[ix[w] for w in ["<START>", "a", "red", "star", "<END>", "<NULL>", "a"]],
                     [ix[w] for w in ["a", "big", "<NULL>", "blue", "square", "on", "top"]]])
    assert decode_captions(caps, vocab) == ["a red star", "a big blue square on top"]
    assert decode_captions(caps[0], vocab) == ["a red star"]
    with pytest.raises(ValueError, match="captions must hold indices"):
        decode_captions(caps + 19, vocab)


def test_bad_dataset_files_raise_value_error(tmp_path, dataset):
    good = tmp_path / "good.npz"
    save_caption_dataset(dataset, good)
    assert load_caption_dataset(good).captions.shape == (200, 8)
    raw = good.read_bytes()
    for n in (len(raw) // 2, 10, 3, 0):
        bad = tmp_path / f"truncated{n}.npz"
        bad.write_bytes(raw[:n])
        with pytest.raises(ValueError, match="truncated|not a usable|not a readable"):
            load_caption_dataset(bad)
    with pytest.raises(ValueError, match="not found"):
        load_caption_dataset(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="is a folder"):
        load_caption_dataset(tmp_path)
    cases = {
        "flat.npz": dict(features=dataset.features.ravel(), captions=dataset.captions,
                         vocab=np.array(dataset.vocab)),
        "rows.npz": dict(features=dataset.features[:10], captions=dataset.captions,
                         vocab=np.array(dataset.vocab)),
        "range.npz": dict(features=dataset.features, captions=dataset.captions + 5,
                          vocab=np.array(dataset.vocab)),
        "nostart.npz": dict(features=dataset.features, captions=dataset.captions,
                            vocab=np.array(["<NULL>", "x", "<END>"] + dataset.vocab[3:])),
        "novocab.npz": dict(features=dataset.features, captions=dataset.captions),
        "numvocab.npz": dict(features=dataset.features, captions=dataset.captions,
                             vocab=np.arange(19)),
    }
    messages = {"flat.npz": r"features must be a real \(N, D\)", "rows.npz": "one row per",
                "range.npz": r"indices in \[0, 19\)", "nostart.npz": "lacks <START>",
                "novocab.npz": "lacks the array", "numvocab.npz": "vocab must be a 1-D unicode"}
    for fname, arrays in cases.items():
        np.savez(tmp_path / fname, **arrays)
        with pytest.raises(ValueError, match=messages[fname]):
            load_caption_dataset(tmp_path / fname)
    # A pickled (object) vocab is refused, not unpickled.
    np.savez(tmp_path / "obj.npz", features=dataset.features, captions=dataset.captions,
             vocab=np.array(dataset.vocab, dtype=object))
    with pytest.raises(ValueError, match="not a usable caption dataset"):
        load_caption_dataset(tmp_path / "obj.npz")
    # A damaged member (bytes flipped inside the zip) is reported too.
    damaged = bytearray(raw)
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("features.npy")
    off = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    damaged[off:off + 50] = bytes(50)
    (tmp_path / "damaged.npz").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="damaged.npz"):
        load_caption_dataset(tmp_path / "damaged.npz")


# ============================================================================================
# Training
# ============================================================================================

@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_training_on_shipped_data_reduces_the_loss(dataset, cell):
    t0 = time.perf_counter()
    trainer = CaptionTrainer(dataset, cell=cell, seed=0)
    assert trainer.batch_size == 25 and trainer.optimizer.lr == 5e-3
    start = trainer.evaluate()
    assert start == pytest.approx(np.log(19) * 5.5, rel=0.2)   # ~uniform over ~5.5 words
    losses = [trainer.step() for _ in range(150)]
    assert all(np.isfinite(losses)) and trainer.iteration == 150
    assert trainer.last_trace.N == 25
    end = trainer.evaluate()
    assert end < 0.6 * start, (start, end)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])
    assert time.perf_counter() - t0 < 5.0
    words = decode_captions(trainer.sample(dataset.features[:20]), dataset.vocab)
    truth = decode_captions(dataset.captions[:20], dataset.vocab)
    assert sum(w == t for w, t in zip(words, truth)) >= 5

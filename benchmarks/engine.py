"""How fast is the traced engine against the seeds' own style of code?

Run:  python benchmarks/engine.py

Every line times our ``run_bptt`` (which also records the whole per-step trace) against a
baseline written here in the seed's style and measured in the same run, and prints the median
ms per call and the ratio.  Before timing, each baseline's loss and gradients are compared with
ours (the "max|diff|" column), so both sides compute the same thing.

* rnn: seed 000's ``lossFun`` as printed (dicts of column vectors, one-hot ``np.dot``).
  Ours runs the recurrence in the compiled kernels of ``bpttviz.engine.kernels`` (Numba) and
  everything else batched over T; the header line says whether the kernels were compiled.
* lstm: the same style for an LSTM (column vectors, per-step ``np.dot``, dict caches; blocks
  i, f, o, g as in the engine).
* captioning (if ``bpttviz.engine.captioning.caption_loss`` exists): cs231n's batched layer
  functions of seed 004 (``rnn_forward``/``rnn_backward`` with per-step caches, word embedding,
  temporal affine and softmax) against ``caption_loss``.

Only ratios are meaningful across machines; nothing here asserts a timing.
"""
import os
import statistics
import sys
import time
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# First, as `bpttviz` does: the app's BLAS settings (one thread; small products are slower with
# more), set before numpy loads, and its allocator setting (bpttviz.cli.prepare_runtime): without
# that, whether glibc re-faults each freed trace's pages depends on what the process allocated
# before, and "ours" doubles at random.
import bpttviz.cli  # noqa: E402,F401 -- imported for its BLAS thread setting
from bpttviz.engine.allocator import keep_freed_memory  # noqa: E402

KEEPS_FREED_MEMORY = keep_freed_memory()

import numpy as np  # noqa: E402

from bpttviz.engine import init_params, run_bptt  # noqa: E402
from bpttviz.engine import kernels  # noqa: E402


# --------------------------------------------------------------------------------------------
# Seed-style baselines
# --------------------------------------------------------------------------------------------
def seed_lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """Seed 000's lossFun, verbatim apart from python3's range and explicit weights."""
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))  # encode in 1-of-k representation
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)  # hidden state
        ys[t] = np.dot(Why, hs[t]) + by  # unnormalized log probabilities for next chars
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))  # probabilities for next chars
        loss += -np.log(ps[t][targets[t], 0])  # softmax (cross-entropy loss)
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # backprop into y
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext  # backprop into h
        dhraw = (1 - hs[t] * hs[t]) * dh  # backprop through tanh nonlinearity
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)  # clip to mitigate exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def seed_lstm_lossFun(inputs, targets, hprev, cprev, Wxh, Whh, Why, bh, by):
    """An LSTM written the way lossFun is: column vectors, per-step np.dot, dict caches.
    Wxh (4H, V), Whh (4H, H), bh (4H, 1); blocks i, f, o, g."""
    vocab_size, H = Wxh.shape[1], Whh.shape[1]
    xs, hs, cs, ig, fg, og, gg, ps = {}, {}, {}, {}, {}, {}, {}, {}
    hs[-1], cs[-1] = np.copy(hprev), np.copy(cprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        a = np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh
        ig[t] = _sigmoid(a[:H])
        fg[t] = _sigmoid(a[H:2 * H])
        og[t] = _sigmoid(a[2 * H:3 * H])
        gg[t] = np.tanh(a[3 * H:])
        cs[t] = fg[t] * cs[t - 1] + ig[t] * gg[t]
        hs[t] = og[t] * np.tanh(cs[t])
        ys = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext, dcnext = np.zeros_like(hs[0]), np.zeros_like(cs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        tc = np.tanh(cs[t])
        dc = dh * og[t] * (1 - tc * tc) + dcnext
        da = np.vstack([dc * gg[t] * ig[t] * (1 - ig[t]),
                        dc * cs[t - 1] * fg[t] * (1 - fg[t]),
                        dh * tc * og[t] * (1 - og[t]),
                        dc * ig[t] * (1 - gg[t] * gg[t])])
        dbh += da
        dWxh += np.dot(da, xs[t].T)
        dWhh += np.dot(da, hs[t - 1].T)
        dhnext = np.dot(Whh.T, da)
        dcnext = dc * fg[t]
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1], cs[len(inputs) - 1]


# cs231n's layer functions (seed 004's rnn_layers), as the assignment's solution writes them.
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(np.dot(x, Wx) + np.dot(prev_h, Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, b, next_h)


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
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev_h = np.zeros_like(prev_h)
    for i in reversed(range(T)):
        dh_i = dprev_h + dh[:, i, :]
        dx[:, i, :], dprev_h, dWx_i, dWh_i, db_i = rnn_step_backward(dh_i, cache[i])
        dWx += dWx_i
        dWh += dWh_i
        db += db_i
    return dx, dprev_h, dWx, dWh, db


def cs231n_caption_loss(params, features, captions, null=0):
    """CaptioningRNN.loss (cell 'rnn') from cs231n's layer functions."""
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null
    # affine_forward for the initial hidden state
    h0 = features.reshape(features.shape[0], -1).dot(params["W_proj"]) + params["b_proj"]
    # word_embedding_forward
    x = params["W_embed"][captions_in]
    h, rnn_cache = rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    # temporal_affine_forward
    N, T, Hd = h.shape
    V = params["b_vocab"].shape[0]
    scores = h.reshape(N * T, Hd).dot(params["W_vocab"]).reshape(N, T, V) + params["b_vocab"]
    # temporal_softmax_loss
    x_flat, y_flat, mask_flat = scores.reshape(N * T, V), captions_out.reshape(N * T), mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    dout = dx_flat.reshape(N, T, V)
    grads = {}
    # temporal_affine_backward
    grads["W_vocab"] = h.reshape(N * T, Hd).T.dot(dout.reshape(N * T, V))
    grads["b_vocab"] = dout.sum(axis=(0, 1))
    dh = dout.reshape(N * T, V).dot(params["W_vocab"].T).reshape(N, T, Hd)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
    # word_embedding_backward
    dW = np.zeros_like(params["W_embed"])
    np.add.at(dW, captions_in, dx)
    grads["W_embed"] = dW
    # affine_backward
    grads["W_proj"] = features.reshape(features.shape[0], -1).T.dot(dh0)
    grads["b_proj"] = np.sum(dh0, axis=0)
    return loss, grads


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------
def _loops(fn, budget_s):
    """Warm up ``fn`` and return how many calls make one timed run of about ``budget_s``."""
    for _ in range(3):  # warm-up: caches, lazy imports, BLAS thread start
        fn()
    t0 = time.perf_counter()
    fn()
    return max(1, int(budget_s / max(time.perf_counter() - t0, 1e-6)))


def median_ms_pair(seed_fn, ours_fn, repeats=9, budget_s=0.07):
    """Median ms per call of both functions over ``repeats`` timeit runs each.  The runs
    alternate (seed, ours, seed, ...) so that load from other processes hits both sides alike."""
    n_seed, n_ours = _loops(seed_fn, budget_s), _loops(ours_fn, budget_s)
    seed_runs, ours_runs = [], []
    for _ in range(repeats):
        seed_runs.append(timeit.timeit(seed_fn, number=n_seed) / n_seed)
        ours_runs.append(timeit.timeit(ours_fn, number=n_ours) / n_ours)
    return 1e3 * statistics.median(seed_runs), 1e3 * statistics.median(ours_runs)


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(x, float).ravel() - np.asarray(y, float).ravel())))
               for x, y in zip(a, b))


def report(label, ours_fn, seed_fn, diff):
    seed_ms, ours_ms = median_ms_pair(seed_fn, ours_fn)
    ratio = seed_ms / ours_ms
    verdict = f"ours is {ratio:.1f}x faster" if ratio >= 1 else f"ours is {1 / ratio:.1f}x slower"
    print(f"{label:<34} {seed_ms:>10.3f} {ours_ms:>10.3f}   {verdict:<22} {diff:.1e}", flush=True)


def char_case(cell, V, H, T, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(cell, V, H, seed=seed, scale=0.01)  # min-char-rnn init
    params["bh"] = rng.standard_normal(params["bh"].shape) * 0.1
    params["by"] = rng.standard_normal(params["by"].shape) * 0.1
    inputs = [int(i) for i in rng.integers(0, V, T)]
    targets = [int(i) for i in rng.integers(0, V, T)]
    h0 = np.tanh(rng.standard_normal(H))
    col = dict(params, bh=params["bh"].reshape(-1, 1), by=params["by"].reshape(-1, 1))
    return params, col, inputs, targets, h0


def bench_rnn(V, H, T):
    params, col, inputs, targets, h0 = char_case("rnn", V, H, T)
    args = (inputs, targets, h0.reshape(-1, 1), col["Wxh"], col["Whh"], col["Why"], col["bh"], col["by"])
    ref = seed_lossFun(*args)
    tr = run_bptt(params, inputs, targets, h0=h0, clip="value", clip_value=5.0)
    g = tr.grads
    diff = max_diff(ref[:7], (tr.loss, g["Wxh"], g["Whh"], g["Why"], g["bh"], g["by"], tr.h_last))
    report(f"rnn  V={V} H={H} T={T}", lambda: run_bptt(params, inputs, targets, h0=h0),
           lambda: seed_lossFun(*args), diff)


def bench_lstm(V, H, T):
    params, col, inputs, targets, h0 = char_case("lstm", V, H, T)
    c0 = np.random.default_rng(1).standard_normal(H) * 0.5
    args = (inputs, targets, h0.reshape(-1, 1), c0.reshape(-1, 1), col["Wxh"], col["Whh"], col["Why"],
            col["bh"], col["by"])
    ref = seed_lstm_lossFun(*args)
    tr = run_bptt(params, inputs, targets, h0=h0, c0=c0, cell="lstm", clip="value", clip_value=5.0)
    g = tr.grads
    diff = max_diff(ref, (tr.loss, g["Wxh"], g["Whh"], g["Why"], g["bh"], g["by"], tr.h_last, tr.c_last))
    report(f"lstm V={V} H={H} T={T}", lambda: run_bptt(params, inputs, targets, h0=h0, c0=c0, cell="lstm"),
           lambda: seed_lstm_lossFun(*args), diff)


def bench_captioning(N, T):
    try:
        from bpttviz.engine.captioning import caption_loss, init_caption_params
    except ImportError as exc:
        print(f"captioning N={N} T={T}: skipped (bpttviz.engine.captioning.caption_loss not "
              f"available: {exc})")
        return
    V, D, W, H = 1004, 512, 128, 128  # COCO vocabulary; CaptioningRNN's default sizes
    params = init_caption_params("rnn", V, D, W, H, seed=0)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((N, D))
    captions = rng.integers(1, V, (N, T + 1))
    captions[:, -3:] = 0  # some <NULL> padding, masked out of the loss
    loss_ref, grads_ref = cs231n_caption_loss(params, features, captions)
    loss, grads = caption_loss(params, features, captions, cell="rnn", null=0)
    names = sorted(grads_ref)
    diff = max_diff([loss_ref] + [grads_ref[k] for k in names], [loss] + [grads[k] for k in names])
    report(f"captioning rnn N={N} T={T} H={H}", lambda: caption_loss(params, features, captions),
           lambda: cs231n_caption_loss(params, features, captions), diff)


def main():
    start = time.perf_counter()
    allocator = "glibc keeps freed memory" if KEEPS_FREED_MEMORY else "default allocator"
    compiled = "compiled (Numba)" if kernels.get().compiled else "numpy (Numba not available)"
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}; median of 9 interleaved timeit "
          f"runs after warm-up\nrnn kernels: {compiled}; {allocator}")
    print(f"{'case':<34} {'seed ms':>10} {'ours ms':>10}   {'ratio':<22} max|diff|")
    print("-" * 92)
    bench_rnn(65, 100, 25)
    bench_rnn(65, 256, 100)
    bench_lstm(65, 100, 25)
    bench_captioning(32, 25)
    bench_captioning(32, 100)
    print("-" * 92)
    print("seed = seed 000's lossFun (rnn), the same style for the LSTM, cs231n's layer functions "
          "(captioning);\nours = run_bptt / caption_loss, which also keep the full per-step trace. "
          f"Total {time.perf_counter() - start:.1f} s.")


if __name__ == "__main__":
    main()

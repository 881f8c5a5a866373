"""Numba versions of :mod:`bpttviz.engine.kernels` (same names without ``numpy_``, same
signatures, same arithmetic up to summation order).  Imported only through ``kernels.get()``,
so a missing Numba costs speed, never function.  Compiled on first call and cached next to this file (or in
Numba's user cache when that folder is read-only)."""
import math

import numba

# reassoc lets the mat-vec sums use SIMD lanes (a different summation order, exact to rounding);
# contract allows fused multiply-add.  No flag assumes values are finite: a diverging run must
# still produce the inf/NaN that training reports.
_fast = numba.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)


@_fast
def _tanh(x):
    # libm's tanh is a call numba cannot inline and costs ~10 ns, as much as the mat-vec it
    # follows.  This is Cephes' tanh (S. L. Moshier): a rational approximation below 0.625 and
    # 1 - 2/(exp(2|x|) + 1) above; within 4e-16 relative of numpy's tanh everywhere (tested),
    # NaN stays NaN and +-inf gives +-1.
    a = abs(x)
    if a > 0.625:
        y = 1.0 - 2.0 / (math.exp(2.0 * a) + 1.0)
        return y if x >= 0.0 else -y
    s = x * x
    p = (-9.64399179425052238628e-1 * s - 9.92877231001918586564e1) * s - 1.61468768441708447952e3
    q = ((s + 1.12811678491632931402e2) * s + 2.23548839060100448583e3) * s + 4.84406305325125486048e3
    return x + x * s * (p / q)


@_fast
def _add_matvec(W, v, out):
    """out += W @ v for W (M, N) C-contiguous; four rows at a time share each load of v."""
    M, N = W.shape
    M4 = M - M % 4
    for i in range(0, M4, 4):
        a0 = a1 = a2 = a3 = 0.0
        w0, w1, w2, w3 = W[i], W[i + 1], W[i + 2], W[i + 3]
        for j in range(N):
            vj = v[j]
            a0 += w0[j] * vj
            a1 += w1[j] * vj
            a2 += w2[j] * vj
            a3 += w3[j] * vj
        out[i] += a0
        out[i + 1] += a1
        out[i + 2] += a2
        out[i + 3] += a3
    for i in range(M4, M):
        acc = 0.0
        for j in range(N):
            acc += W[i, j] * v[j]
        out[i] += acc


@_fast
def _set_vecmat(v, W, out):
    """out = v @ W for W (M, N) C-contiguous; four rows of W per pass over out."""
    M, N = W.shape
    for j in range(N):
        out[j] = 0.0
    M4 = M - M % 4
    for i in range(0, M4, 4):
        v0, v1, v2, v3 = v[i], v[i + 1], v[i + 2], v[i + 3]
        w0, w1, w2, w3 = W[i], W[i + 1], W[i + 2], W[i + 3]
        for j in range(N):
            out[j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
    for i in range(M4, M):
        vi = v[i]
        for j in range(N):
            out[j] += vi * W[i, j]


@_fast
def rnn_forward(inputs, Wxh, bh, Whh, h0, x, preact, h_prev, h):
    """See kernels.numpy_rnn_forward: inputs (T,), Wxh (H, V), bh (H,), Whh (H, H), h0 (H,);
    out: x (T, V) (zeros on entry), preact (T, H), h_prev (T, H), h (T, H)."""
    T, H = preact.shape
    prev = h0
    for t in range(T):
        row, k = preact[t], inputs[t]
        h_prev[t] = prev
        if k >= 0:
            x[t, k] = 1.0
            for i in range(H):
                row[i] = bh[i] + Wxh[i, k]
        else:
            row[:] = bh
        _add_matvec(Whh, prev, row)
        out = h[t]
        for i in range(H):
            out[i] = _tanh(row[i])
        prev = out


@_fast
def rnn_backward(dh_from_output, dy, h, Whh, inputs, dh, dh_from_future, dhraw, dhnext, dWxh,
                 dbh, dby, carry):
    """See kernels.numpy_rnn_backward: dh_from_output (T, H), dy (T, V), h (T, H), Whh (H, H),
    inputs (T,); out: dh, dh_from_future, dhraw, dhnext (T, H); dWxh (H, V), dbh (H,) and
    dby (V,) accumulated."""
    T, H = dh.shape
    V = dy.shape[1]
    for t in range(T - 1, -1, -1):
        for v in range(V):
            dby[v] += dy[t, v]
        future, total, raw, ht = dh_from_future[t], dh[t], dhraw[t], h[t]
        if carry and t + 1 < T:
            future[:] = dhnext[t + 1]
        else:
            future[:] = 0.0
        for i in range(H):
            total[i] = dh_from_output[t, i] + future[i]
            r = (1.0 - ht[i] * ht[i]) * total[i]
            raw[i] = r
            dbh[i] += r
        k = inputs[t]
        if k >= 0:  # the one-hot product: dhraw lands in column k of dWxh
            for i in range(H):
                dWxh[i, k] += raw[i]
        _set_vecmat(raw, Whh, dhnext[t])


@_fast
def softmax_xent(shifted, targets, p, dy, losses):
    """See kernels.numpy_softmax_xent: shifted (T, V), targets (T,); p (T, V) holds
    exp(shifted) on entry and the probabilities on exit; dy (T, V) and losses (T,) out."""
    T, V = shifted.shape
    for t in range(T):
        prob, grad = p[t], dy[t]
        total = 0.0
        for v in range(V):
            total += prob[v]
        for v in range(V):
            prob[v] /= total
            grad[v] = prob[v]
        k = targets[t]
        grad[k] -= 1.0
        losses[t] = math.log(total) - shifted[t, k]


@_fast
def value_clip(g, threshold, out):
    """See kernels.numpy_value_clip: g (n,), out (n,) out; returns (sum of squares of g,
    entries changed, dot(g, out), sum of squares of out)."""
    sumsq = 0.0
    dot = 0.0
    sumsq_out = 0.0
    changed = 0
    for k in range(g.size):
        v = g[k]
        c = v
        if v > threshold:
            c = threshold
        elif v < -threshold:
            c = -threshold
        out[k] = c
        sumsq += v * v
        dot += v * c
        sumsq_out += c * c
        if c != v:  # also true for NaN, as in numpy
            changed += 1
    return sumsq, changed, dot, sumsq_out

"""Bug: lstm_step_backward overwrites dnext_c instead of adding to it, so the cell-state
gradient from step t+1 is dropped."""
import numpy as np


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
    af = A[:, H:2*H]
    ao = A[:, 2*H:3*H]
    ag = A[:, 3*H:4*H]
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
    dnext_c = o * (1 - np.square(np.tanh(next_c))) * dnext_h  # BUG: drops the incoming dnext_c
    df = prev_c * dnext_c
    dprev_c = f * dnext_c
    di = g * dnext_c
    dg = i * dnext_c
    N, H = dnext_h.shape
    dA = np.zeros((N, 4*H))
    dA[:, 0:H] = di * i * (1 - i)
    dA[:, H:2*H] = df * f * (1 - f)
    dA[:, 2*H:3*H] = do * o * (1 - o)
    dA[:, 3*H:] = dg * (1 - np.square(g))
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

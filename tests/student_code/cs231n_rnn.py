"""cs231n's vanilla RNN layers (assignment 3, rnn_layers.py; seed 004's solution)."""
import numpy as np


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

"""A correct lossFun written differently from the seed, to exercise the capture: lists instead
of dicts (hs starts with hprev), a range(T-1, -1, -1) loop, `dhnext` holding the gradient
RECEIVED from step t+1 while `dh_prev` is the one sent back, and no clipping (so the returned
gradients are the raw ones)."""
import numpy as np


def lossFun(inputs, targets, hprev):
    hs, ps, xs = [hprev], [], []
    loss = 0.0
    for t in range(len(inputs)):
        x = np.zeros((vocab_size, 1))
        x[inputs[t]] = 1
        xs.append(x)
        hs.append(np.tanh(Wxh @ x + Whh @ hs[-1] + bh))
        y = Why @ hs[-1] + by
        ps.append(np.exp(y) / np.exp(y).sum())
        loss -= np.log(ps[-1][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_prev = np.zeros_like(hprev)
    for t in range(len(inputs) - 1, -1, -1):
        dhnext = dh_prev  # what step t+1 sent back
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t + 1].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = (1 - hs[t + 1] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t].T
        dh_prev = Whh.T @ dhraw
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[-1]

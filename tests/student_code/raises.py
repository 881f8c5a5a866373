"""A lossFun that raises: hs is a list, so hs[t-1] at t = 0 reads the wrong entry and
hs[t] = ... past the end fails."""
import numpy as np


def lossFun(inputs, targets, hprev):
    print("starting lossFun with", len(inputs), "inputs")
    hs = [np.copy(hprev)]
    for t in range(len(inputs)):
        hs[t + 1] = np.tanh(np.dot(Whh, hs[t]) + bh)
    return 0

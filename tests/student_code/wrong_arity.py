"""A lossFun that forgets to return the last hidden state (6 values instead of 7)."""
import numpy as np


def lossFun(inputs, targets, hprev):
    return 0.0, np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why), np.zeros_like(bh), np.zeros_like(by)

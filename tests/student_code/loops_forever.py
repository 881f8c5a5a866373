"""A lossFun that never returns (the backward loop's index is never decremented)."""
import numpy as np


def lossFun(inputs, targets, hprev):
    loss = 0
    t = len(inputs) - 1
    while t >= 0:
        loss += 1  # forgot t -= 1
    return loss

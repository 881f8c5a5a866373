"""Does not parse: a missing closing parenthesis on line 7."""
import numpy as np


def lossFun(inputs, targets, hprev):
    hs = {}
    hs[-1] = np.copy(hprev
    return hs

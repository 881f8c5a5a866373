"""The dinosaur assignment as students hand it in: rnn_forward/rnn_backward written by the
student, softmax and the step functions imported from the assignment's utils (bpttviz
supplies a stand-in when utils.py is not next to the file)."""
import numpy as np
from utils import *


def rnn_forward(X, Y, a0, parameters, vocab_size=27):
    x, a, y_hat = {}, {}, {}
    a[-1] = np.copy(a0)
    loss = 0
    for t in range(len(X)):
        x[t] = np.zeros((vocab_size, 1))
        if (X[t] != None):
            x[t][X[t]] = 1
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t-1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    return loss, (y_hat, a, x)


def rnn_backward(X, Y, parameters, cache):
    gradients = {}
    (y_hat, a, x) = cache
    gradients['dWax'], gradients['dWaa'], gradients['dWya'] = np.zeros_like(parameters['Wax']), np.zeros_like(parameters['Waa']), np.zeros_like(parameters['Wya'])
    gradients['db'], gradients['dby'] = np.zeros_like(parameters['b']), np.zeros_like(parameters['by'])
    gradients['da_next'] = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t-1])
    return gradients, a

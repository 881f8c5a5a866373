"""bpttviz: a desktop visualiser of backpropagation through time in tiny RNNs.

It lets teachers and students step through the forward and backward passes of
a small recurrent network one timestep at a time -- hidden states filling in,
the per-step loss, ``dhnext`` flowing back through time, gradients before and
after clipping, and the parameter update -- with every plot exportable.  The
numerical core lives in :mod:`bpttviz.engine` (numpy, plus Numba-compiled loops); the Qt user
interface in :mod:`bpttviz.gui`.
"""

__version__ = "0.1.0"

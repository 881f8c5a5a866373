"""bpttviz: a desktop visualiser of backpropagation through time in tiny RNNs.

It lets teachers and students step through the forward and backward passes of
a small recurrent network one timestep at a time -- hidden states filling in,
the per-step loss, ``dhnext`` flowing back through time, gradients before and
after clipping, and the parameter update -- with every plot exportable.  The
numerical core lives in :mod:`bpttviz.engine` (numpy, plus Numba-compiled loops); the Qt user
interface in :mod:`bpttviz.gui`.
"""

from ._version import __version__  # noqa: E402,F401

__all__ = ["check", "show", "__version__"]


def __getattr__(name):
    # Lazy, so ``import bpttviz`` stays light (no numpy, no Qt) until these are used.
    if name == "check":
        from .checker.api import check
        return check
    if name == "show":
        from .notebook import show
        return show
    raise AttributeError(f"module 'bpttviz' has no attribute {name!r}")

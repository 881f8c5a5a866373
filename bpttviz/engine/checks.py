"""Small checks shared by the engine's loaders: each raises ValueError naming the value."""
from __future__ import annotations

import numpy as np


def is_bool(v) -> bool:
    return isinstance(v, (bool, np.bool_))


def is_int(v) -> bool:
    """A whole number that is not a bool (Python or numpy)."""
    return isinstance(v, (int, np.integer)) and not is_bool(v)


def real_array(name: str, value, shape) -> np.ndarray:
    """``value`` as a float64 array (a copy); ValueError unless it is an array, list or tuple
    of real numbers of ``shape`` (None: any)."""
    arr = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be an array of real numbers; got "
                         f"{getattr(value, 'dtype', type(value).__name__)}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; this model needs {shape}")
    return arr.astype(np.float64)


def finite(name: str, arr: np.ndarray) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds non-finite values (inf or NaN)")

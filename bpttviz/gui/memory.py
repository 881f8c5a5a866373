"""Giving memory back after widget churn (an export builds and deletes every panel; a theme
or presentation switch rebuilds the views).

Python frees the deleted widgets' memory, but glibc's allocator keeps the freed pages, so the
process's resident size (what a system monitor shows) grew by tens of MB over the first few
exports although nothing leaked.  ``malloc_trim(0)`` hands them back.  Elsewhere (macOS,
Windows, musl) only the cycle collector runs.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from typing import Callable, Optional

_TRIM: Optional[Callable[[int], int]] = None
_LOOKED = False


def _malloc_trim() -> Optional[Callable[[int], int]]:
    global _TRIM, _LOOKED
    if not _LOOKED:
        _LOOKED = True
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                fn = libc.malloc_trim
                fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
                _TRIM = fn
            except (OSError, AttributeError):  # not glibc
                _TRIM = None
    return _TRIM


def release_memory() -> bool:
    """Collect cycles, then return freed heap pages to the system where the C library can
    (glibc). True if pages could be returned."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

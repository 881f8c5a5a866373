"""Keep freed memory in the process instead of handing it back to the OS after every trace.

A min-char-rnn trace allocates about 0.8 MB of arrays, and training frees one every step.
glibc's malloc returns the top of its heap to the OS whenever more than 128 KB is free there
(``M_TRIM_THRESHOLD``), so in some processes every step faults ~150 fresh pages back in: that
doubled the time of a whole traced pass (benchmarks/engine.py showed 0.35 ms instead of 0.17 ms,
depending only on what the process had allocated before).  Raising the two thresholds once keeps
those pages; the cost is that up to a few tens of MB freed stay reserved by the app.

The app calls :func:`keep_freed_memory` at start-up, and so do the benchmarks, so that they
measure what the app does.  Importing the engine changes nothing.

The other side: after big one-off churn (an export builds and deletes a copy of every panel;
a presentation or theme switch rebuilds the views) that threshold kept 60-90 MB of freed
pages, so RSS grew over the first exports although nothing leaked.  The window then calls
:func:`release_freed_memory`, which hands them back once; training keeps its pages again
from its next steps.
"""
from __future__ import annotations

import ctypes
import gc
import sys

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc caps M_MMAP_THRESHOLD at 32 MB on 64-bit (HEAP_MAX / DEFAULT_MMAP_THRESHOLD_MAX).
_MMAP_CAP = 32 * 1024 * 1024


def keep_freed_memory(trim_threshold: int = 64 * 1024 * 1024) -> bool:
    """Ask glibc to keep up to ``trim_threshold`` bytes of freed memory and to serve arrays
    below 32 MB from the heap.  Returns True when applied; False (and nothing changed) on
    platforms without glibc's ``mallopt`` (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim_ok = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, min(int(trim_threshold), _MMAP_CAP)) == 1
    return trim_ok and mmap_ok


def release_freed_memory() -> bool:
    """Collect reference cycles, then return the freed heap pages to the OS (glibc's
    ``malloc_trim(0)``).  True when pages could be returned; elsewhere (macOS, Windows,
    musl) only the collector runs and False is returned."""
    gc.collect()
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True

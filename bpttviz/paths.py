"""Where bpttviz keeps the user's files (the error log, autosaves, answers logs): one folder,
the same for the window and the command line, named in the README.

Linux and other Unix: ``$XDG_DATA_HOME/bpttviz`` (``~/.local/share/bpttviz``); macOS:
``~/Library/Application Support/bpttviz``; Windows: ``%APPDATA%\\bpttviz``.
"""
from __future__ import annotations

import os
import sys


def data_dir(create: bool = True) -> str:
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    folder = os.path.join(base, "bpttviz")
    if create:
        os.makedirs(folder, exist_ok=True)
    return folder


def log_path() -> str:
    """The error log: ``<data_dir>/bpttviz.log``."""
    return os.path.join(data_dir(), "bpttviz.log")

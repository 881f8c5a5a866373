"""Locate the shipped data folder (``resources/`` at the repository top level).

``resources/`` is not inside the ``bpttviz`` package.  It is found, in order:

1. ``$BPTTVIZ_RESOURCES`` if that variable is set (it must then exist);
2. ``<checkout>/resources`` next to the package directory -- source checkouts
   and editable installs (``pip install -e .``);
3. ``<sys.prefix>/share/bpttviz/resources`` -- the copy that a regular wheel
   install puts there (see ``[tool.setuptools.data-files]`` in pyproject.toml).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "BPTTVIZ_RESOURCES"


def _candidates() -> list[Path]:
    return [
        # this file is bpttviz/resources_path.py (no `import bpttviz`: the engine imports
        # this module and must not reach the package's lazy notebook/check exports)
        Path(__file__).resolve().parent.parent / "resources",
        Path(sys.prefix) / "share" / "bpttviz" / "resources",
    ]


def resources_dir() -> Path:
    """Return the top-level ``resources`` folder.

    Raises ``FileNotFoundError`` naming every path that was tried.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser().resolve()
        if path.is_dir():
            return path
        raise FileNotFoundError(f"${ENV_VAR} points to {path}, which is not a directory")
    tried = _candidates()
    for path in tried:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        "bpttviz resources folder not found; looked in: "
        + ", ".join(str(p) for p in tried)
        + f" (set ${ENV_VAR} to override)"
    )

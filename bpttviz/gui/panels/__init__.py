"""The panels, in layout order. Each reads the Session only (see ``base.Panel``)."""
from __future__ import annotations

from ..style import configure_pyqtgraph

configure_pyqtgraph()

from .base import Panel  # noqa: E402
from .code import CodePanel  # noqa: E402
from .dhnext import DhnextPanel  # noqa: E402
from .gradnorms import GradNormsPanel  # noqa: E402
from .hidden import HiddenStatesPanel  # noqa: E402
from .outputs import OutputsPanel  # noqa: E402
from .unrolled import UnrolledPanel  # noqa: E402

#: Panel classes in layout order.
PANELS = [UnrolledPanel, HiddenStatesPanel, OutputsPanel, DhnextPanel, GradNormsPanel, CodePanel]


def panel_by_key(key: str):
    """The panel class whose ``key`` is ``key``; KeyError naming the known keys otherwise."""
    for cls in PANELS:
        if cls.key == key:
            return cls
    raise KeyError(f"no panel {key!r}; panels are {', '.join(c.key for c in PANELS)}")


__all__ = ["PANELS", "Panel", "panel_by_key"] + [c.__name__ for c in PANELS]

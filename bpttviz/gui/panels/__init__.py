"""The panels, in layout order. Each reads the Session only (see ``base.Panel``)."""
from __future__ import annotations

from ..style import configure_pyqtgraph

configure_pyqtgraph()

from .base import Panel  # noqa: E402
from .clipcompare import ClipComparePanel  # noqa: E402
from .code import CodePanel  # noqa: E402
from .contrib import ContributionsPanel  # noqa: E402
from .decay import DecayPanel  # noqa: E402
from .gates import GatesPanel  # noqa: E402
from .gradcheck import GradCheckPanel  # noqa: E402
from .dhnext import DhnextPanel  # noqa: E402
from .gradnorms import GradNormsPanel  # noqa: E402
from .hidden import HiddenStatesPanel  # noqa: E402
from .outputs import OutputsPanel  # noqa: E402
from .training_live import TrainingPanel  # noqa: E402
from .truncation import TruncationPanel  # noqa: E402
from .unrolled import UnrolledPanel  # noqa: E402

#: The stepping panels: what one iteration computes, at the cursor (issue: the stepping window).
CORE_PANELS = [UnrolledPanel, HiddenStatesPanel, OutputsPanel, DhnextPanel, GradNormsPanel, CodePanel]
#: The teaching views: why the gradient behaves as it does, and training live.
TEACHING_PANELS = [ContributionsPanel, DecayPanel, ClipComparePanel, TruncationPanel,
                   GradCheckPanel, GatesPanel, TrainingPanel]
#: Every panel, in layout order.
PANELS = CORE_PANELS + TEACHING_PANELS


def view_key(name: str) -> str:
    """The key of the view called ``name`` (its key or one of its aliases); KeyError naming
    the views otherwise."""
    for cls in PANELS:
        if name == cls.key or name in cls.aliases:
            return cls.key
    raise KeyError(f"no view {name!r}; views are {', '.join(c.key for c in PANELS)}")


def panel_by_key(key: str):
    """The panel class whose ``key`` is ``key``; KeyError naming the known keys otherwise."""
    for cls in PANELS:
        if cls.key == key:
            return cls
    raise KeyError(f"no panel {key!r}; panels are {', '.join(c.key for c in PANELS)}")


__all__ = ["PANELS", "CORE_PANELS", "TEACHING_PANELS", "Panel", "panel_by_key", "view_key"] + [c.__name__ for c in PANELS]

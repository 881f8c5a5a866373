"""The timeline bar at the top of the window: what is happening now (the event in words and
its equation, big enough for the back of a room) and the scrubber with its buttons."""
from __future__ import annotations

import html
from typing import Dict

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import (QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton,
                             QVBoxLayout, QWidget)

from .actions import Actions

PHASE_COLOURS = {"forward": "#1f77b4", "backward": "#d62728", "clip": "#7f3fbf", "update": "#2ca02c"}


class EventHeader(QWidget):
    """The current event in words, and its equation, big enough for the back of a room."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._fitted_for = None
        self._compact = False
        self._shown = None
        #: (event, words, equation) of the iteration's longest descriptions: the header keeps
        #: room for them, so the views below do not move down at the first backward step
        self._candidates: list = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 4)
        lay.setSpacing(4)
        self.phase = QLabel()
        self.phase.setObjectName("eventPhase")
        self.words = QLabel()
        self.words.setObjectName("eventWords")
        self.words.setWordWrap(True)
        f = self.words.font()
        f.setPointSizeF(max(15.0, f.pointSizeF() * 1.6))
        f.setBold(True)
        self.words.setFont(f)
        self.equation = QLabel()
        self.equation.setObjectName("eventEquation")
        self.equation.setWordWrap(True)
        self.equation.setTextInteractionFlags(Qt.TextSelectableByMouse)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.TypeWriter)
        mono.setFixedPitch(True)
        mono.setPointSizeF(max(13.0, f.pointSizeF() * 0.85))
        self.equation.setFont(mono)
        pf = QFont(f)
        pf.setPointSizeF(f.pointSizeF() * 0.8)
        self.phase.setFont(pf)
        top = QHBoxLayout()
        top.addWidget(self.phase, 0, Qt.AlignVCenter)
        top.addWidget(self.words, 1)
        lay.addLayout(top)
        lay.addWidget(self.equation)
        for w in (self.words, self.equation):
            w.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    def _fit(self) -> None:
        """Keep room for every wrapped line (QMainWindow's central area ignores
        height-for-width, so the words would otherwise be cut to one line).  At a given width
        the height only grows, so the panels below do not jump while stepping from an event
        described in one line to one that needs two."""
        width = max(1, self.width())
        need = self.layout().totalHeightForWidth(width) + 6
        fonts = (self.words.font().pointSizeF(), self.equation.font().pointSizeF())
        if (width, fonts) == self._fitted_for:
            need = max(need, self.minimumHeight())
        elif self._candidates and self._shown is not None:
            # measured with the real layout, each longest text in turn, then the shown one
            # put back (all in this call: nothing is painted in between)
            for cand in self._candidates:
                self._set_texts(*cand)
                self._invalidate()
                need = max(need, self.layout().totalHeightForWidth(width) + 6)
            self._set_texts(*self._shown)
            self._invalidate()
        self._fitted_for = (width, fonts)
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self._fit()
        # The layout may still hold the geometry of an earlier size (it is not re-run when
        # only the minimum height changed): lay the labels out at the size we have now.
        self.layout().setGeometry(self.rect())

    def set_compact(self, compact: bool) -> None:
        """Compact (presentation mode): the phase badge runs inline at the start of the words
        instead of taking a column of its own, so the words need fewer lines."""
        self._compact = bool(compact)
        self.phase.setVisible(not self._compact)
        if self._shown is not None:
            self.show_event(*self._shown)

    def sizeHint(self):  # noqa: N802
        """As tall as :meth:`_fit` keeps it: the labels' own hints (one long line each)
        made the bar above the views taller at the first event than at the others."""
        hint = super().sizeHint()
        if self.minimumHeight() > 0:
            hint.setHeight(self.minimumHeight())
        return hint

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        """No: its height is what :meth:`_fit` keeps (the longest description), not the
        wrapped height of the text shown now, which moved the views at the first event."""
        return False

    def _invalidate(self) -> None:
        """Forget the layouts' cached heights (per width, nested rows included): the texts
        changed within one call, before Qt's own layout request arrives."""
        todo = [self.layout()]
        while todo:
            lay = todo.pop()
            lay.invalidate()
            todo += [lay.itemAt(i).layout() for i in range(lay.count())
                     if lay.itemAt(i).layout() is not None]

    def set_candidates(self, candidates) -> None:
        """Keep room for these ``(event, words, equation)`` (the longest of the iteration)."""
        self._candidates = list(candidates)
        self._fitted_for = None
        self._fit()

    def show_event(self, event, words: str, equation: str) -> None:
        self._shown = (event, words, equation)
        self._set_texts(event, words, equation)
        self._fit()

    def _set_texts(self, event, words: str, equation: str) -> None:
        colour = PHASE_COLOURS.get(event.phase, "#444")
        self.phase.setText(event.phase.upper())
        css = (f"QLabel {{ background: {colour}; color: white; padding: 3px 10px;"
               " border-radius: 4px; }")
        if self.phase.styleSheet() != css:  # (a style sheet set re-polishes, even the same one)
            self.phase.setStyleSheet(css)
        if self._compact:
            self.words.setTextFormat(Qt.RichText)
            self.words.setText(f"<span style='background-color:{colour}; color:white'>&nbsp;"
                               f"{event.phase.upper()}&nbsp;</span>&nbsp; {html.escape(words)}")
        else:
            self.words.setTextFormat(Qt.PlainText)
            self.words.setText(words)
        self.equation.setText(unbroken_parts(equation))


def unbroken_parts(equation: str) -> str:
    """The equations of an event, each kept on one line when the label wraps: lines break
    only between equations (at ';'), not inside one ("loss_t = -" then "log p_t[target_t]").
    A part longer than :data:`UNBROKEN_UP_TO` characters may still wrap (it could outgrow a
    narrow window's line)."""
    # (no-break spaces, and a minus that is not a hyphen: Qt breaks lines after '-')
    return ";  ".join(part.replace(" ", "\u00a0").replace("-", "\u2212")
                      if len(part) <= UNBROKEN_UP_TO else part
                      for part in equation.split(";  "))


UNBROKEN_UP_TO = 70


class Scrubber(QWidget):
    """Buttons |◀ ◀ ▶ ▶ ▶| "Next iteration", the slider over the whole timeline, the event name."""

    def __init__(self, actions: Actions, parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 2, 12, 6)
        self.buttons: Dict[str, QToolButton] = {}
        labels = {"home": "|◀", "step_back": "◀", "play": "▶ Play", "step_forward": "▶",
                  "end": "▶|", "next_iteration": "Next iteration"}
        for name, text in labels.items():
            action = getattr(actions, name)
            action.setIconText(text)
            b = QToolButton()
            b.setObjectName(f"button_{name}")
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            b.setFocusPolicy(Qt.NoFocus)  # keys belong to the timeline shortcuts
            f = b.font()
            f.setPointSizeF(f.pointSizeF() * 1.25)
            b.setFont(f)
            b.setMinimumHeight(34)
            if name == "play":
                b.setMinimumWidth(110)
            self.buttons[name] = b
            if name == "next_iteration":
                lay.addWidget(self.slider_placeholder())
            lay.addWidget(b)
        self.label = QLabel()
        self.label.setObjectName("eventLabel")
        f = self.label.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.label.setFont(f)
        self.fit_label(25)
        lay.addWidget(self.label)

    def fit_label(self, T: int) -> None:
        """Room for the widest event name of a T-step window, so the label never changes
        width while stepping (and no more: a 1280 px window must fit the whole row)."""
        n = 2 * T + 2
        widest = f"backward:{T - 1} · {n} / {n}"
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(widest) + 12)

    def slider_placeholder(self):
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("scrubber")
        self.slider.setFocusPolicy(Qt.NoFocus)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setPageStep(1)
        self.slider.setToolTip("Drag across the whole iteration: forward steps, backward steps, "
                               "clip, update")
        self.slider.setMinimumWidth(120)
        return self.slider



class TimelineBar(QWidget):
    """The header over the scrubber, as the window's central widget; ``show_session`` puts the
    session's cursor into both (called once per cursor or trace change)."""

    def __init__(self, actions: Actions, parent=None):
        super().__init__(parent)
        from PyQt5.QtWidgets import QFrame
        self.setObjectName("central")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.header = EventHeader()
        self._reserved_for = None  # the trace serial the header's room was chosen for
        self.scrubber = Scrubber(actions)
        self.slider = self.scrubber.slider
        lay.addWidget(self.header)
        line = QFrame()
        line.setFrameShape(QFrame.HLine)
        line.setFrameShadow(QFrame.Sunken)
        lay.addWidget(line)
        lay.addWidget(self.scrubber)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

    def show_session(self, session) -> None:
        n = len(session.events)
        old = self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.setTickInterval(1 if n <= 80 else max(1, n // 40))
        self.slider.setValue(session.cursor)
        self.slider.blockSignals(old)
        ev = session.state.event
        words, eq = session.describe_event()
        self._reserve_longest(session)
        self.header.show_event(ev, words, eq)
        self.scrubber.fit_label(session.trace.T)
        self.scrubber.label.setText(f"{ev} · {session.cursor + 1} / {n}")
        self.scrubber.label.setToolTip(f"event {session.cursor + 1} of the {n} in this iteration")

    #: How many of the longest descriptions (by words, and by equation) the header measures.
    RESERVE = 4

    def _reserve_longest(self, session) -> None:
        """Room in the header for the iteration's longest descriptions, chosen once per trace
        (they depend on the run's settings and length, not on the cursor)."""
        if session.trace_serial == self._reserved_for:
            return
        self._reserved_for = session.trace_serial
        texts = [(e, *session.describe_event(e)) for e in session.events]
        longest = sorted(texts, key=lambda c: -len(c[1]))[:self.RESERVE] + \
            sorted(texts, key=lambda c: -len(c[2]))[:self.RESERVE]
        self.header.set_candidates(longest)

    def scaled_widgets(self):
        """The texts with sizes of their own, which presentation mode enlarges."""
        return ([self.header.words, self.header.equation, self.header.phase, self.scrubber.label]
                + list(self.scrubber.buttons.values()))

    def fit_to_fonts(self, presenting: bool, T: int = 25) -> None:
        """Room for the label of a T-step window; taller buttons when ``presenting`` (a tall
        projector: a short one keeps the rows for the views)."""
        self.scrubber.fit_label(T)
        for b in self.scrubber.buttons.values():
            b.setMinimumHeight(int(34 * (1.4 if presenting else 1.0)))
        self.header._fit()

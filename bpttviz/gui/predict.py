"""Predict mode and the classroom vote (issue 14): ask before the view reveals, then show the
truth beside the prediction.

:class:`PredictController` (one per window) watches the session's cursor.  With predict mode
on (P) it asks, at events chosen from :func:`bpttviz.teach.questions.kinds_at`, one question
about what the next events will reveal, in a "Predict" dock.  Answering never blocks:
stepping goes on, and when the cursor reaches the question's reveal event the truth is drawn
beside the prediction with a one-line explanation, the score is updated and the answer is
logged (``answers.csv`` in the data folder).

Classroom vote (Shift+P) shows the question large over the window, options A-D for a show of
hands.  A presentation clicker drives everything: PageDown reveals the open question (moving
the cursor to its reveal event), or else goes on (the lesson's next step, or the next
event); PageUp goes back; B blanks the screen.  The questions come from :mod:`bpttviz.teach`;
nothing here computes an answer.
"""
from __future__ import annotations

import logging
from typing import Optional

from PyQt5.QtCore import QEvent, QObject, Qt
from PyQt5.QtWidgets import QDockWidget, QFrame, QVBoxLayout, QWidget

from ..session import SessionError
from ..teach.questions import AnswerLog, Question, kinds_at, make_question
from ..timeline import parse_event
from .question_card import QuestionCard, SketchPlot  # noqa: F401  (SketchPlot: re-exported)

log = logging.getLogger(__name__)


class VoteOverlay(QFrame):
    """The classroom vote: the question card, large, over the whole window."""

    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("voteOverlay")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#voteOverlay { background: white; border: 4px solid #1f3b63; }")
        lay = QVBoxLayout(self)
        self.card = QuestionCard(scale=2.0)
        self.card.after_reveal = "   ·   PageDown: back to the views"
        lay.addWidget(self.card)
        self.hide()
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.parent() and event.type() == QEvent.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        w = self.parentWidget()
        top = w.menuBar().height() if w.menuBar() is not None else 0
        self.setGeometry(0, top, w.width(), w.height() - top)
        self.raise_()


class Blank(QWidget):
    """B on a clicker: the screen goes black (B again, or PageDown, brings it back)."""

    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("blankScreen")
        self.setAutoFillBackground(True)
        self.setStyleSheet("background: black;")
        self.hide()


def side_dock(window, title: str, key: str, widget: QWidget) -> QDockWidget:
    """A dock for a teaching card, its content scrolling rather than being crushed.  It is
    placed by :func:`show_card_dock` in a column of its own beside the panels, so the views
    that reveal the answers stay in sight."""
    # (sized to the dock, not to the wrapped texts' preferred heights, which scrolled the
    # question's options and the Next button out of a 768-line projector's sight)
    from .dock_layout import FitScrollArea
    scroll = FitScrollArea()
    scroll.setWidget(widget)
    scroll.setFrameShape(QFrame.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    dock = QDockWidget(title, window)
    dock.setObjectName(key)
    dock.setWidget(scroll)
    window.addDockWidget(Qt.BottomDockWidgetArea, dock)
    dock.hide()
    dock.setProperty("placed", False)
    return dock


def show_card_dock(window, dock: QDockWidget) -> None:
    """Show a teaching dock.  The first time: below another teaching dock already on screen,
    else as a column of its own at the right of the panels (in the dock area under the
    timeline, so the window gets no wider than the timeline needs); afterwards wherever the
    user put it."""
    if not dock.property("placed"):
        dock.setProperty("placed", True)
        others = [d for d in window.findChildren(QDockWidget)
                  if d is not dock and d.property("placed") and d.isVisible() and not d.isFloating()]
        if others:
            window.splitDockWidget(others[0], dock, Qt.Vertical)
        else:
            window.addDockWidget(Qt.BottomDockWidgetArea, dock, Qt.Horizontal)
            dock.show()
            window.resizeDocks([dock], [max(360, window.width() // 3)], Qt.Horizontal)
    dock.show()
    dock.raise_()


class PredictController(QObject):
    """Predict mode, the vote, and the clicker keys of ``window`` (see the module docstring)."""

    @property
    def window(self):
        """The main window: the Qt parent (no Python reference, so no cycle through it)."""
        return self.parent()

    def __init__(self, window, log_path: Optional[str] = None):
        super().__init__(window)
        self.session = window.session
        self.answers = AnswerLog(log_path)
        self.question: Optional[Question] = None
        self.revealed = False
        self.manual = False          # a lesson's question: revealed by PageDown only
        self._asked_index = 0
        self._asked_serial = None
        self._asked_kinds: set = set()
        self._counts: dict = {}
        self.right = self.total = 0
        self.points = 0.0
        self.lesson_player = None    # set by the lesson player: PageDown/PageUp go to it
        self.card = QuestionCard(1.0)
        self.dock = side_dock(window, "Predict", "predict", self.card)
        self.overlay = VoteOverlay(window)
        self.blank = Blank(window)
        #: every card showing the open question: the dock's, the vote's, a lesson's
        self.cards = []
        for card in (self.card, self.overlay.card):
            self.add_card(card)
        a = window.acts
        for name in ("predict", "vote"):
            a.all[name].setCheckable(True)
        a.predict.toggled.connect(self.set_predicting)
        a.vote.toggled.connect(self.set_voting)
        a.clicker_next.triggered.connect(self.clicker_next)
        a.clicker_back.triggered.connect(self.clicker_back)
        a.blank.triggered.connect(self.toggle_blank)
        self.session.sigCursorChanged.connect(self._on_cursor)
        self.session.sigTraceChanged.connect(self._on_trace)

    # --- modes ------------------------------------------------------------------------
    @property
    def predicting(self) -> bool:
        return self.window.acts.predict.isChecked()

    @property
    def voting(self) -> bool:
        return self.window.acts.vote.isChecked()

    def set_predicting(self, on: bool) -> None:
        if self.window.acts.predict.isChecked() != on:
            self.window.acts.predict.setChecked(on)  # toggled comes back here
            return
        if on:
            show_card_dock(self.window, self.dock)
            self._maybe_ask()
        else:
            self.drop()
            self.dock.hide()

    def set_voting(self, on: bool) -> None:
        """Vote mode asks like predict mode, but shows the question large for the room."""
        if self.window.acts.vote.isChecked() != on:
            self.window.acts.vote.setChecked(on)
            return
        if on and not self.predicting:
            self.set_predicting(True)
        self._show_overlay(on and self.question is not None)

    def _show_overlay(self, on: bool) -> None:
        if on:
            self.overlay.fit()
            self.overlay.show()
            self.overlay.raise_()
        else:
            self.overlay.hide()

    def add_card(self, card: QuestionCard) -> None:
        """Another card that shows the open question and takes answers (the lesson dock's)."""
        self.cards.append(card)
        card.answered.connect(self._answered)
        card.revealRequested.connect(self.reveal)

    # --- asking ------------------------------------------------------------------------------
    def ask(self, question: Question, manual: bool = False, show_dock: bool = True) -> None:
        """Show ``question`` now. ``manual``: revealed only by PageDown (a lesson's step);
        ``show_dock``: bring the Predict dock up (a lesson shows the question in its own)."""
        self.question, self.revealed, self.manual = question, False, manual
        self._asked_index = self.session.cursor
        self._asked_serial = self.session.trace_serial
        self._asked_kinds.add(question.kind)
        self._counts[question.kind] = self._counts.get(question.kind, 0) + 1
        for card in self.cards:
            card.show_question(question)
            card.score.setText(self.score_text())
        if show_dock:
            show_card_dock(self.window, self.dock)
        if self.voting:
            self._show_overlay(True)

    def ask_kind(self, kind: str, manual: bool = True, show_dock: bool = True) -> Optional[Question]:
        """Ask a question of ``kind`` at the current event (a lesson's step)."""
        from ..teach.questions import question_at
        try:
            q = question_at(kind, self.session)
        except (ValueError, SessionError, ArithmeticError) as e:
            log.info("no %s question here: %s", kind, e)
            return None
        if q is not None:
            self.ask(q, manual=manual, show_dock=show_dock)
        return q

    def drop(self, text: str = "") -> None:
        self.question, self.revealed = None, False
        for card in self.cards:
            card.clear(text)
        self._show_overlay(False)

    def _maybe_ask(self) -> None:
        if not self.predicting or self.session.busy:
            return
        if self.question is not None and not self.revealed:
            return
        s = self.session
        if s.trace_serial != self._asked_serial:
            self._asked_kinds = set()
        options = [(k, t) for k, t in kinds_at(str(s.current_event), s.trace.T, s.config.cell)
                   if k not in self._asked_kinds]
        # the kinds asked least often first, so a run of iterations meets every kind
        options.sort(key=lambda kt: self._counts.get(kt[0], 0))
        for kind, t in options:
            try:
                q = make_question(kind, s, t)
            except (ValueError, SessionError, ArithmeticError, KeyError) as e:
                log.info("no %s question here: %s", kind, e)
                continue
            if q is not None:
                self.ask(q)
                return

    # --- revealing ---------------------------------------------------------------------------
    def _reveal_index(self) -> Optional[int]:
        try:
            return self.session.events.index(parse_event(self.question.reveal_at, self.session.trace.T))
        except ValueError:
            return None

    def _on_cursor(self, index: int) -> None:
        q = self.question
        if q is not None and not self.revealed and not self.manual:
            r = self._reveal_index()
            if r is not None and index >= r > self._asked_index:
                self._reveal_now()
                return
        self._maybe_ask()

    def _on_trace(self, serial: int) -> None:
        if self.question is not None and not self.revealed:
            self.drop("A new window started before the reveal: that question was dropped.")
        self._maybe_ask()

    def reveal(self) -> bool:
        """Reveal the open question: move the cursor to its reveal event if it is ahead (the
        views show the truth), else reveal at once.  False if there is nothing to reveal."""
        if self.question is None or self.revealed:
            return False
        r = self._reveal_index()
        if not self.manual and r is not None and r > self.session.cursor and not self.session.busy:
            try:
                self.session.set_cursor(r)  # _on_cursor reveals
            except SessionError:
                pass
        if not self.revealed:
            self._reveal_now()
        return True

    def _reveal_now(self) -> None:
        q = self.question
        response = None
        for card in self.cards:
            if response is None and card.question is q:
                response = card.response()
        right = q.is_correct(response)
        if response is not None:
            self.total += 1
            self.right += int(right)
            self.points += q.score(response)
            try:
                s = self.session
                self.answers.record(q, response, s.preset.name if s.preset else "", s.iteration,
                                    "vote" if self.voting else "predict")
            except OSError as e:
                log.warning("could not log the answer: %s", e)
        self.revealed = True
        for card in self.cards:
            card.show_truth(q, response, right, self.score_text())

    def score_text(self) -> str:
        if not self.total:
            return "Score: nothing answered yet"
        return f"Score: {self.right} / {self.total} right"

    def _answered(self) -> None:
        sender = self.sender()
        if isinstance(sender, QuestionCard):
            for card in self.cards:
                if card is not sender:
                    card.set_response(sender.response())

    # --- the clicker ---------------------------------------------------------------------------
    def clicker_next(self) -> None:
        """PageDown: un-blank; else reveal the open question; else close the vote's revealed
        card; else the lesson's next step; else the next event."""
        if self.blank.isVisible():
            self.blank.hide()
            return
        if self.question is not None and not self.revealed:
            self.reveal()
            return
        if self.overlay.isVisible():
            self._show_overlay(False)
            return
        player = self.lesson_player
        if player is not None and player.active:
            player.next()
            return
        self.window.step_forward()

    def clicker_back(self) -> None:
        if self.blank.isVisible():
            self.blank.hide()
            return
        player = self.lesson_player
        if player is not None and player.active:
            player.previous()
            return
        self.window.step_back()

    def toggle_blank(self) -> None:
        if self.blank.isVisible():
            self.blank.hide()
        else:
            self.blank.setGeometry(self.window.rect())
            self.blank.show()
            self.blank.raise_()

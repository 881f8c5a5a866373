"""The lesson player (issue 14): the Lesson menu, a narration dock ("step 3 of 9") and
next/previous with PageDown/PageUp, and "record this step" for a teacher writing a lesson
from the window.

A step is applied through the session (:func:`bpttviz.teach.lessons.apply_step`: the preset,
the settings in force at that step, the event) and the window's dock layout
(``window.dock_layout.show_view``); its question, if any, goes to the predict controller.
A lesson file that does not check out is refused with its message before anything changes.
Recorded lessons are written atomically to ``<data folder>/lessons/NAME.json`` after every
recorded step and appear in the Lesson menu.

:func:`install_teaching` builds the predict, hunt and lesson controllers and their menus for
a window: the one call the main window makes.
"""
from __future__ import annotations

import os
import time
from typing import List, Optional

from PyQt5.QtCore import QObject
from PyQt5.QtWidgets import (QAction, QFileDialog, QHBoxLayout, QInputDialog,
                             QLabel, QMenu, QPlainTextEdit, QPushButton, QTextBrowser,
                             QVBoxLayout, QWidget)

from ..session import SessionError
from ..teach.lessons import (Lesson, LessonError, Step, apply_step, list_lessons,
                             list_user_lessons, load_lesson, recordable_settings, save_lesson,
                             settings_at, slug, user_lessons_dir)
from .controls import warn
from .predict import show_card_dock, side_dock
from .question_card import QuestionCard


class LessonPlayer(QObject):
    """Plays one lesson at a time in ``window``; records a new one on request."""

    @property
    def window(self):
        """The main window: the Qt parent (no Python reference, so no cycle through it)."""
        return self.parent()

    def __init__(self, window, predict=None):
        super().__init__(window)
        self.session, self.predict = window.session, predict
        self.lesson: Optional[Lesson] = None
        self.index = 0
        self.recording: Optional[Lesson] = None
        if predict is not None:
            predict.lesson_player = self
        self._build_dock()
        a = window.acts
        a.record_step.triggered.connect(self._record_triggered)

    # --- the dock ------------------------------------------------------------------------
    def _build_dock(self) -> None:
        w = QWidget()
        w.setObjectName("lessonPanel")
        lay = QVBoxLayout(w)
        self.title = QLabel("No lesson open: choose one from the Lesson menu.")
        self.title.setWordWrap(True)
        f = self.title.font()
        f.setPointSizeF(15)
        f.setBold(True)
        self.title.setFont(f)
        self.counter = QLabel("")
        self.counter.setWordWrap(True)  # a step's long title must not widen the column
        fc = self.counter.font()
        fc.setPointSizeF(13)
        self.counter.setFont(fc)
        self.narration = QTextBrowser()
        self.narration.setOpenExternalLinks(True)
        fn = self.narration.font()
        fn.setPointSizeF(15)
        self.narration.setFont(fn)
        row = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous (PageUp)")
        self.next_button = QPushButton("Next (PageDown) ▶")
        self.prev_button.clicked.connect(self.previous)
        self.next_button.clicked.connect(self.next)
        for b in (self.prev_button, self.next_button):
            b.setFont(fc)
            row.addWidget(b)
        # the step's question, under its narration (one dock: both stay in sight)
        self.card = QuestionCard(1.0)
        self.card.after_reveal = "   ·   PageDown: the next step"  # (its Next says no key then)
        self.card.hide()
        if self.predict is not None:
            self.predict.add_card(self.card)
        lay.addWidget(self.title)
        lay.addWidget(self.counter)
        # the card at its own height, the narration the rest (it scrolls): on a 768-line
        # projector the options, the reveal and next buttons all stay in sight
        self.narration.setMinimumHeight(int(3.5 * self.narration.fontMetrics().lineSpacing()))
        lay.addWidget(self.narration, 1)
        lay.addWidget(self.card, 0)
        lay.addLayout(row)
        # recording
        self.record_note = QPlainTextEdit()
        self.record_note.setPlaceholderText("Narration for the step you record (HTML allowed)")
        self.record_note.setMaximumHeight(80)
        self.record_button = QPushButton("Record this step")
        self.record_button.setToolTip("Append the current preset, settings, event and visible "
                                      "views to the lesson you are writing (saved at once)")
        self.record_button.clicked.connect(self._record_triggered)
        self.record_status = QLabel("")
        self.record_status.setWordWrap(True)
        lay.addWidget(self.record_note)
        lay.addWidget(self.record_button)
        lay.addWidget(self.record_status)
        self.record_note.hide()  # shown while a lesson is being written
        # (empty, the status line still took a row under the buttons: the narration's)
        self.record_status.hide()
        self.dock = side_dock(self.window, "Lesson", "lesson", w)
        self._sync_buttons()
        # a class does not need the teacher's "Record this step": presenting, it gives its
        # row to the narration and the question
        self.window.looks.sigPresentationChanged.connect(self._on_presentation_change)

    def _on_presentation_change(self, presenting: bool) -> None:
        self.record_button.setVisible(not presenting)
        self.record_status.setVisible(not presenting and bool(self.record_status.text()))
        if presenting:
            self.record_note.hide()
        elif self.recording is not None:
            self.record_note.show()

    def build_menu(self, menu: QMenu) -> None:
        self.menu = menu
        menu.aboutToShow.connect(self._fill_menu)
        self._fill_menu()

    def _fill_menu(self) -> None:
        m = self.menu
        m.clear()
        for name in list_lessons():
            try:
                text = load_lesson(name).title
            except LessonError:
                text = f"{name} (cannot be read)"
            act = m.addAction(text)
            act.setData(name)
            act.triggered.connect(self._lesson_chosen)
        mine = list_user_lessons()
        if mine:
            sub = m.addMenu("Your lessons")
            for name in mine:
                act = sub.addAction(name)
                act.setData(os.path.join(user_lessons_dir(), f"{name}.json"))
                act.triggered.connect(self._lesson_chosen)
        m.addSeparator()
        m.addAction("Open lesson file…").triggered.connect(self._open_file)
        close = m.addAction("Close lesson")
        close.setEnabled(self.active)
        close.triggered.connect(self.close)
        m.addSeparator()
        m.addAction(self.window.acts.record_step)
        m.addAction("Start a new lesson…").triggered.connect(self._new_recording)

    def _lesson_chosen(self, *_args) -> None:
        act = self.sender()
        if isinstance(act, QAction):
            self.open(act.data())

    def _open_file(self, *_args) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open lesson", user_lessons_dir(),
                                              "bpttviz lessons (*.json);;All files (*)")
        if path:
            self.open(path)

    # --- playing --------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.lesson is not None

    def open(self, name_or_path) -> bool:
        """Open a lesson (a name, a file, or a Lesson) at its first step. A lesson that does
        not check out is refused with its message; the session is then unchanged."""
        try:
            lesson = name_or_path if isinstance(name_or_path, Lesson) else load_lesson(str(name_or_path))
        except LessonError as e:
            warn(self.window, "Cannot open the lesson", str(e))
            return False
        self.lesson = lesson
        show_card_dock(self.window, self.dock)
        if not self.go(0):
            self.lesson = None
            self._show()
            return False
        return True

    def close(self, *_args) -> None:
        self.lesson = None
        if self.predict is not None:
            self.predict.drop()
        self.card.hide()
        self._show()

    def go(self, index: int) -> bool:
        """Show step ``index``: its preset, settings and event through the session, its
        views in front, its narration; its question goes to the predict card."""
        lesson = self.lesson
        if lesson is None or not 0 <= index < len(lesson.steps):
            return False
        try:
            step = apply_step(self.session, lesson, index)
        except (SessionError, LessonError) as e:
            warn(self.window, "Cannot show this step", str(e))
            return False
        self.index = index
        layout = self.window.dock_layout
        for key in reversed(step.views):
            layout.show_view(layout.dock_for_view(key))
        if self.predict is not None:
            asked = None
            if step.question:
                asked = self.predict.ask_kind(step.question, manual=True, show_dock=False)
            else:
                self.predict.drop()
            self.card.setVisible(asked is not None)
        self._show()
        return True

    def next(self, *_args) -> bool:
        if self.lesson is None:
            return False
        if self.index + 1 >= len(self.lesson.steps):
            self.window.statusBar().showMessage("That was the last step of the lesson.", 5000)
            return False
        return self.go(self.index + 1)

    def previous(self, *_args) -> bool:
        if self.lesson is None or self.index == 0:
            return False
        return self.go(self.index - 1)

    def _show(self) -> None:
        lesson = self.lesson
        if lesson is None:
            self.title.setText("No lesson open: choose one from the Lesson menu.")
            self.counter.setText("")
            self.narration.setHtml("")
        else:
            step = lesson.steps[self.index]
            self.title.setText(lesson.title)
            head = f" — {step.title}" if step.title else ""
            self.counter.setText(f"step {self.index + 1} of {len(lesson.steps)}{head}")
            self.narration.setHtml(step.narration)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        n = len(self.lesson.steps) if self.lesson is not None else 0
        self.prev_button.setEnabled(self.lesson is not None and self.index > 0)
        self.next_button.setEnabled(self.lesson is not None and self.index + 1 < n)
        # A step with a question: PageDown reveals it first (its card says so, and then
        # that PageDown goes on); "Next (PageDown)" beside "Reveal (PageDown)" read as two
        # keys doing two things at once.
        asking = self.card.isVisibleTo(self.dock.widget()) if self.lesson is not None else False
        self.next_button.setText("Next ▶" if asking else "Next (PageDown) ▶")
        self.next_button.setToolTip("PageDown reveals this step's question first, then goes on"
                                    if asking else "The lesson's next step (PageDown)")

    # --- recording --------------------------------------------------------------------------
    def visible_views(self) -> List[str]:
        """The panels on screen now (the front tab of each stack), in dock order."""
        w = self.window
        out = []
        for key, dock in w.docks.items():
            if key in w.panels and dock.isVisible() and not dock.visibleRegion().isEmpty():
                out.append(key)
        if w.exports.last_panel_key in out:  # the panel the teacher last clicked comes first
            out.remove(w.exports.last_panel_key)
            out.insert(0, w.exports.last_panel_key)
        return out or ["unrolled"]

    def _new_recording(self, *_args) -> None:
        title, ok = QInputDialog.getText(self.window, "New lesson", "Title of the lesson:")
        if ok and title.strip():
            self.start_recording(title.strip())

    def start_recording(self, title: str) -> None:
        self.recording = None
        self._title = title
        self.record_status.setText(f"Writing “{title}”: set up each step, then Record this step.")
        self.record_status.setVisible(not self.window.presenting)
        self.record_note.show()
        show_card_dock(self.window, self.dock)

    def _record_triggered(self, *_args) -> None:
        try:
            self.record_step()
        except (LessonError, OSError, SessionError) as e:
            warn(self.window, "Cannot record the step", str(e))

    def record_step(self, narration: Optional[str] = None, title: str = "") -> str:
        """Append the current preset/settings/event/visible views as a step of the lesson
        being written (started with a dated title if none is) and save it; returns the file."""
        s = self.session
        if s.preset is None:
            raise LessonError("a lesson starts from a preset: load one first")
        text = narration if narration is not None else self.record_note.toPlainText().strip()
        text = text or f"<p>Step at {s.current_event}.</p>"
        if self.recording is None:
            name = getattr(self, "_title", None) or time.strftime("My lesson %Y-%m-%d %H%M")
            self.recording = Lesson(name=slug(name), title=name, preset=s.preset.name, steps=[],
                                    settings=recordable_settings(s), summary="recorded in the window")
        lesson = self.recording
        if s.preset.name != lesson.preset:
            raise LessonError(f"this lesson uses the preset {lesson.preset}; the window is on "
                              f"{s.preset.name} now (start a new lesson for another preset)")
        now = recordable_settings(s)
        before = settings_at(lesson, len(lesson.steps) - 1) if lesson.steps else dict(lesson.settings)
        keys = set(now) | set(before)
        base = s.preset.config
        current = {k: now.get(k, getattr(base, k)) for k in keys}
        changes = {k: v for k, v in current.items() if before.get(k, getattr(base, k)) != v}
        lesson.steps.append(Step(views=self.visible_views(), event=str(s.current_event),
                                 narration=text, title=title, settings=changes))
        path = os.path.join(user_lessons_dir(create=True), f"{lesson.name}.json")
        try:
            save_lesson(lesson, path)
        except (LessonError, OSError):
            lesson.steps.pop()
            raise
        self.record_note.clear()
        self.record_status.setVisible(not self.window.presenting)
        self.record_status.setText(f"Recorded step {len(lesson.steps)} of “{lesson.title}” "
                                   f"({lesson.steps[-1].event}, {', '.join(lesson.steps[-1].views)})"
                                   f" into {path}")
        return path


class Teaching(QObject):
    """The window's teaching controllers: ``predict``, ``hunt`` and ``lessons``."""

    def __init__(self, window):
        super().__init__(window)
        from .hunt import HuntController
        from .predict import PredictController
        self.predict = PredictController(window)
        self.hunt = HuntController(window)
        self.lessons = LessonPlayer(window, self.predict)
        a = window.acts
        mb = window.menuBar()
        help_action = next((m.menuAction() for m in mb.findChildren(QMenu)
                            if m.title() == "&Help"), None)
        self.teach_menu = QMenu("&Teach", window)
        self.teach_menu.addActions([a.predict, a.vote])
        self.teach_menu.addSeparator()
        self.teach_menu.addActions([a.clicker_next, a.clicker_back, a.blank])
        self.teach_menu.addSeparator()
        self.teach_menu.addAction(a.hunt)
        self.lesson_menu = QMenu("&Lesson", window)
        self.lessons.build_menu(self.lesson_menu)
        for m in (self.teach_menu, self.lesson_menu):
            if help_action is not None:
                mb.insertMenu(help_action, m)
            else:
                mb.addMenu(m)


def install_teaching(window) -> Teaching:
    """Predict mode, classroom vote, bug hunt and lessons for ``window`` (a MainWindow)."""
    return Teaching(window)

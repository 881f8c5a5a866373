"""Predict mode, the classroom vote with clicker keys, the sketch input, the bug hunt and the
lesson player, driven as a user would (pytest-qt, offscreen)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PyQt5.QtCore import QEvent, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication, QMessageBox, QSpinBox

from window_helpers import show_window
from bpttviz.gui.actions import SPECS
from bpttviz.gui.hunt import BUGS
from bpttviz.gui.panels import DecayPanel, DhnextPanel, GradCheckPanel, TruncationPanel, UnrolledPanel
from bpttviz.teach import lessons as L
from bpttviz.teach.questions import AnswerLog, make_question

PANELS = [UnrolledPanel, TruncationPanel]


@pytest.fixture
def warnings(monkeypatch):
    calls = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(
        lambda parent, title, text, *a, **k: calls.append((title, text)) or QMessageBox.Ok))
    return calls


@pytest.fixture
def fresh_log():
    path = AnswerLog().path
    if os.path.exists(path):
        os.remove(path)
    return path


def focus_a_spin_box(qtbot, win):
    spin = win.controls.findChildren(QSpinBox)[0]
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    return spin


def test_teaching_actions_and_menus_are_declared(qtbot):
    assert SPECS["predict"][1] == ["P"]
    assert SPECS["clicker_next"][1] == ["PgDown"] and SPECS["clicker_back"][1] == ["PgUp"]
    assert SPECS["blank"][1] == ["B"]
    win = show_window(qtbot, "long-range", panels=PANELS)
    titles = [a.text() for a in win.menuBar().actions()]
    assert titles.index("&Teach") < titles.index("&Help") and "&Lesson" in titles


def test_predict_mode_asks_reveals_scores_and_logs(qtbot, fresh_log):
    win = show_window(qtbot, "long-range", panels=PANELS)
    tp, s = win.teaching.predict, win.session
    qtbot.keyClick(win, Qt.Key_P)
    assert win.acts.predict.isChecked() and tp.dock.isVisible()
    q = tp.question
    assert q.kind == "forward-argmax" and q.reveal_at == "forward:1" and not tp.revealed
    # the card names its subject in words, not the kind's id
    assert tp.card.kind_label.text() == "PREDICT · the next character"
    tp.card.buttons[q.answer].click()
    qtbot.keyClick(win, Qt.Key_Right)  # stepping reveals: forward:1
    assert tp.revealed and tp.score_text() == "Score: 1 / 1 right"
    assert "✔ right" in tp.card.result.text() and q.explanation == tp.card.explanation.text()
    assert "✔" in tp.card.buttons[q.answer].text()
    rows = AnswerLog().rows()
    assert len(rows) == 1 and rows[0]["kind"] == "forward-argmax" and rows[0]["correct"] == "1"
    # never blocks: step on without answering -> revealed as "no prediction", not scored
    s.set_event("backward:5")
    q2 = tp.question
    assert q2.kind == "dhnext-grow" and not tp.revealed
    qtbot.keyClick(win, Qt.Key_Right)
    assert tp.revealed and "no prediction" in tp.card.result.text()
    assert tp.total == 1 and len(AnswerLog().rows()) == 1
    # a wrong answer
    s.set_event("backward:3")
    assert tp.question is q2  # one question of a kind per window: no repeats
    q3 = make_question("dhnext-grow", s, 3)
    tp.ask(q3)
    tp.card.buttons[1 - q3.answer].click()
    qtbot.keyClick(win, Qt.Key_Right)
    assert tp.score_text() == "Score: 1 / 2 right" and "✘" in tp.card.result.text()
    qtbot.keyClick(win, Qt.Key_P)
    assert not tp.dock.isVisible() and tp.question is None


def test_vote_mode_with_the_clicker_keys(qtbot):
    win = show_window(qtbot, "long-range", panels=PANELS)
    tp, s = win.teaching.predict, win.session
    s.set_event(f"forward:{s.trace.T - 1}")
    win.acts.vote.setChecked(True)
    assert win.acts.predict.isChecked()
    q = tp.question
    assert q is not None and q.reveal_at == "clip" and tp.overlay.isVisible()
    assert tp.overlay.card.prompt.text() == q.prompt
    big, small = tp.overlay.card.prompt.font().pointSizeF(), tp.card.prompt.font().pointSizeF()
    assert big >= 1.9 * small
    assert [b.text()[0] for b in tp.overlay.card.buttons] == list("ABCD"[:len(q.choices)])
    focus_a_spin_box(qtbot, win)  # the keys work whichever widget has the focus
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)  # teacher reveals
    assert tp.revealed and str(s.current_event) == "clip" and tp.overlay.isVisible()
    assert "truth" in tp.overlay.card.result.text()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)  # back to the views
    assert not tp.overlay.isVisible() and str(s.current_event) == "clip"
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)  # next event: update asks
    assert str(s.current_event) == "update" or tp.question.ask_at == "clip"
    before = s.cursor
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_B)
    assert tp.blank.isVisible() and tp.blank.geometry() == win.rect()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_B)
    assert not tp.blank.isVisible()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_B)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)  # un-blanks, nothing else
    assert not tp.blank.isVisible() and s.cursor == before
    tp.drop()
    tp._show_overlay(False)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageUp)
    assert s.cursor == before - 1


def drag(plot, points):
    """Press, move through and release at the (distance, log10 value) points of ``points``."""
    vb = plot.getPlotItem().vb

    def where(x, y):
        return plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    vp = plot.viewport()
    first = where(*points[0])
    QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseButtonPress, QPointF(first), Qt.LeftButton,
                                           Qt.LeftButton, Qt.NoModifier))
    for x, y in points[1:]:
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, QPointF(where(x, y)), Qt.NoButton,
                                               Qt.LeftButton, Qt.NoModifier))
    last = where(*points[-1])
    QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseButtonRelease, QPointF(last), Qt.LeftButton,
                                           Qt.NoButton, Qt.NoModifier))


def test_sketch_input_draws_and_is_scored_against_the_true_curve(qtbot, fresh_log):
    win = show_window(qtbot, "vanishing", panels=[UnrolledPanel, DecayPanel])
    tp, s = win.teaching.predict, win.session
    win.acts.predict.setChecked(True)
    q = make_question("decay-sketch", s)
    s.set_event(q.ask_at)
    tp.ask(q)
    plot = tp.card.sketch
    assert plot.isVisible() and plot.sketch() is None
    truth_log = np.log10(q.answer)
    # a fast drag along the truth, every third distance (the gaps are filled on the way)
    d = np.arange(0, q.x.size, 3)
    drag(plot, [(float(x), float(truth_log[x])) for x in d])
    drawn = plot.sketch()
    assert drawn is not None and drawn.shape == q.answer.shape
    assert np.all(np.isfinite(plot._log[: d[-1] + 1]))
    assert np.mean(np.abs(np.log10(drawn) - truth_log)) < 0.5
    tp.reveal()
    assert str(s.current_event) == f"forward:{s.trace.T - 1}" and tp.revealed
    tx, ty = plot.truth.getData()
    np.testing.assert_allclose(ty, truth_log)
    assert tp.right == 1 and "✔" in tp.card.result.text()
    # a flat line at 1 is far off a vanishing gradient
    s.set_event(q.ask_at)
    tp.ask(make_question("decay-sketch", s))
    drag(tp.card.sketch, [(0.0, 0.0), (float(q.x[-1]), 0.0)])
    tp.reveal()
    assert tp.right == 1 and tp.total == 2 and "✘" in tp.card.result.text()
    assert [r["correct"] for r in AnswerLog().rows()] == ["1", "0"]


def visible_text(widget):
    from PyQt5.QtWidgets import QAbstractButton, QLabel
    texts = [w.text() for w in widget.findChildren((QLabel, QAbstractButton)) if w.isVisibleTo(widget)]
    return " ".join(texts)


def test_hunt_forget_dhnext_end_to_end(qtbot):
    win = show_window(qtbot, "long-range", panels=[GradCheckPanel, DhnextPanel])
    hunt, s = win.teaching.hunt, win.session
    gc = win.panels["gradcheck"]
    win.acts.hunt.trigger()  # a random bug first: the name never shows
    if hunt.bug is not None:
        assert hunt.bug in BUGS and s.config.backprop_bug == hunt.bug
        hunt.give_up()
        assert hunt.bug is None and s.config.backprop_bug is None
    assert hunt.start("forget-dhnext") == "forget-dhnext"
    assert s.config.backprop_bug == "forget-dhnext" and s.hunting and hunt.dock.isVisible()
    QApplication.processEvents()
    gc.run_check()
    assert not gc.bug_box.isVisibleTo(gc)  # the teaching box would give the bug away
    assert "dhnext" not in gc.status.text() and "WRONG" in gc.status.text()
    assert gc.results["Whh"].rel_error > 1e-4 and gc.results["Why"].rel_error < 1e-6
    for text in (visible_text(hunt.widget).replace(hunt.gallery.item(0).text(), ""),
                 win.acts.undo.text(), win.windowTitle()):
        assert "forget" not in text.lower()
    others = [n for n in BUGS if n != "forget-dhnext"] or ["not-a-bug"]
    assert not hunt.guess(others[0]) and hunt.bug == "forget-dhnext"
    assert "Not that one" in hunt.result.text()
    row = [hunt.gallery.item(i).data(Qt.UserRole) for i in range(hunt.gallery.count())].index("forget-dhnext")
    hunt.gallery.setCurrentRow(row)
    hunt.name_button.click()
    assert hunt.bug is None and not s.hunting and s.config.backprop_bug is None
    assert "✔ Right, after 2 tries: forget-dhnext" in hunt.result.text()
    QApplication.processEvents()
    gc.refresh()
    assert gc.bug_box.isVisibleTo(gc) and not gc.bug_box.isChecked()
    assert gc.results["Whh"].rel_error < 1e-6


@pytest.mark.parametrize("name", sorted(BUGS))
def test_hunt_hides_and_confirms_every_gallery_bug(qtbot, name):
    preset = "lstm-gates" if "lstm" in name else "long-range"
    win = show_window(qtbot, preset, panels=[GradCheckPanel])
    hunt, s = win.teaching.hunt, win.session
    assert hunt.start(name) == name
    assert s.config.backprop_bug == name
    assert name not in visible_text(hunt.widget).replace(
        " ".join(hunt.gallery.item(i).text() for i in range(hunt.gallery.count())), "")
    assert not win.panels["gradcheck"].bug_box.isVisibleTo(win.panels["gradcheck"])
    assert hunt.guess(name)
    assert s.config.backprop_bug is None and name in hunt.result.text()


def test_lesson_player_next_previous_with_the_clicker(qtbot, warnings):
    win = show_window(qtbot, "min-char-rnn", panels=[UnrolledPanel, TruncationPanel])
    player, tp, s = win.teaching.lessons, win.teaching.predict, win.session
    assert player.open("truncated-bptt")
    lesson = L.load_lesson("truncated-bptt")
    assert player.dock.isVisible() and player.counter.text().startswith("step 1 of 4")
    assert s.preset.name == "long-range" and str(s.current_event) == lesson.steps[0].event
    assert "window boundaries" in player.narration.toPlainText() or lesson.steps[0].narration[:20] in \
        player.narration.toHtml() or "Truncated BPTT" in player.narration.toPlainText()
    dock = win.docks["truncation"]
    assert dock.isVisible() and not dock.visibleRegion().isEmpty()
    assert tp.question is not None and tp.question.kind == "truncation" and tp.manual
    # one key, one label: the card's Reveal has PageDown while its question is open
    assert "PageDown" in tp.card.reveal_button.text() and "PageDown" not in player.next_button.text()
    focus_a_spin_box(qtbot, win)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)  # reveals the step's question
    assert tp.revealed and player.index == 0 and str(s.current_event) == "forward:19"
    assert "PageDown: the next step" in player.card.score.text()  # ... then PageDown goes on
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)
    assert player.index == 1 and player.counter.text().startswith("step 2 of 4")
    assert str(s.current_event) == "clip" and tp.question is None
    assert "PageDown" in player.next_button.text()  # no question: PageDown goes on
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)
    assert player.index == 2 and s.config.truncation == 10
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageUp)
    assert player.index == 1 and s.config.truncation == 4  # the step's own value again
    player.next_button.click()
    player.next_button.click()
    assert player.index == 3 and not player.next_button.isEnabled()
    assert not player.next() and player.index == 3
    assert warnings == []


def test_a_malformed_lesson_is_refused_and_changes_nothing(qtbot, warnings, tmp_path):
    win = show_window(qtbot, "long-range", panels=PANELS)
    player, s = win.teaching.lessons, win.session
    assert player.open("truncated-bptt")
    s.set_event("forward:4")
    before = (s.preset.name, s.cursor, s.trace_serial, player.index, player.narration.toHtml())
    bad = dict(json.loads((L.lessons_dir() / "clipping.json").read_text()))
    bad["steps"][2]["event"] = "backward:400"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, indent=2))
    assert not player.open(str(path))
    assert len(warnings) == 1 and "bad.json: steps[2].event" in warnings[0][1]
    assert (s.preset.name, s.cursor, s.trace_serial, player.index, player.narration.toHtml()) == before
    assert player.lesson.name == "truncated-bptt"


def test_record_this_step_writes_a_lesson_that_plays(qtbot, warnings):
    win = show_window(qtbot, "long-range", panels=[UnrolledPanel, DecayPanel, TruncationPanel])
    player, s = win.teaching.lessons, win.session
    # (the empty status line under the buttons took a row of the narration's)
    assert player.record_status.isHidden()
    player.start_recording("My test lesson")
    assert not player.record_status.isHidden() and "Writing" in player.record_status.text()
    s.set_event("forward:3")
    win.dock_layout.show_view("decay")
    QApplication.processEvents()
    path = player.record_step("<p>one: the decay</p>")
    assert path == os.path.join(L.user_lessons_dir(), "my-test-lesson.json")
    s.edit("window", truncation=8)
    s.set_event("clip")
    win.dock_layout.show_view("truncation")
    QApplication.processEvents()
    player.record_note.setPlainText("<p>two: windows of 8</p>")
    win.acts.record_step.trigger()
    assert warnings == []
    lesson = L.load_lesson(path)
    assert lesson.preset == "long-range" and len(lesson.steps) == 2
    assert lesson.steps[0].event == "forward:3" and "decay" in lesson.steps[0].views
    assert lesson.steps[1].event == "clip" and "truncation" in lesson.steps[1].views
    assert lesson.steps[1].settings == {"truncation": 8} and lesson.steps[0].settings == {}
    assert lesson.steps[1].narration == "<p>two: windows of 8</p>"
    assert "my-test-lesson" in L.list_user_lessons()
    player._fill_menu()
    sub = [a.menu() for a in player.menu.actions() if a.menu() is not None]
    assert sub and "my-test-lesson" in [a.text() for a in sub[0].actions()]
    s.load_preset("vanishing")
    assert player.open("my-test-lesson")
    assert s.preset.name == "long-range" and str(s.current_event) == "forward:3"
    assert s.config.truncation == 4
    player.next()
    assert s.config.truncation == 8 and str(s.current_event) == "clip"


def _inside(widget, area) -> bool:
    """``widget`` is shown whole inside ``area``'s visible rectangle (a scroll viewport)."""
    from PyQt5.QtCore import QRect
    top_left = widget.mapTo(area, widget.rect().topLeft())
    return widget.isVisible() and area.rect().contains(QRect(top_left, widget.size()))


def test_a_lesson_question_fits_a_1366x768_projector(qtbot, warnings):
    """Presenting at 1366x768, the lesson column showed only option A: the dock sized its
    texts to their preferred heights and scrolled the rest away.  Now the whole question,
    its four options (two a row), the reveal and next buttons are in sight; the narration
    scrolls instead, and the teacher's "Record this step" is put away."""
    from bpttviz.gui.panels import PANELS as ALL
    win = show_window(qtbot, "min-char-rnn", panels=list(ALL), size=(1366, 768))
    win.set_presentation(True, fullscreen=False)
    player = win.teaching.lessons
    assert player.open("dwhh-all-steps")
    card = player.card
    qtbot.waitUntil(lambda: card.isVisible() and len(card.buttons) == 4, timeout=3000)
    qtbot.wait(100)
    area = player.dock.widget().viewport()
    prompt = card.prompt
    assert prompt.height() >= prompt.heightForWidth(prompt.width())  # no line cut
    for w in [prompt, card.reveal_button, player.next_button] + card.buttons:
        assert _inside(w, area), w.text()
    assert len({b.y() for b in card.buttons}) == 2          # two rows of two
    assert not player.record_button.isVisible()
    win.set_presentation(False)
    assert not player.record_button.isHidden()
    assert not warnings


def test_a_lesson_step_shown_right_after_presentation_mode_keeps_its_view(qtbot, warnings):
    """Presentation mode re-arranges the docks and raised the preset's view again on the
    next pass of the event loop: a lesson step shown before that pass lost its view to it."""
    from bpttviz.gui.panels import PANELS as ALL
    win = show_window(qtbot, "min-char-rnn", panels=list(ALL), size=(1280, 720))
    win.set_presentation(True, fullscreen=False)
    player = win.teaching.lessons
    assert player.open("clipping") and player.go(1)   # step 2: the clipping view, at clip
    qtbot.wait(50)
    # (Qt parks a dock behind another tab outside the window)
    fronts = [k for k in ("decay", "truncation", "clipping")
              if win.docks[k].geometry().intersects(win.rect())]
    assert "clipping" in fronts and "decay" not in fronts, fronts
    win.set_presentation(False)
    assert not warnings

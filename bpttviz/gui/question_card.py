"""The question card of predict mode and the classroom vote (:mod:`bpttviz.gui.predict`):
the question, its options A-D or the sketch plot, and after the reveal the truth beside the
prediction with its one-line explanation."""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QButtonGroup, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                             QVBoxLayout, QWidget)

from ..teach.questions import KIND_TITLES, LETTERS, Question

RIGHT, WRONG, TRUTH = "#1a9850", "#d73027", "#111111"


class SketchPlot(pg.PlotWidget):
    """A small plot the student draws a curve into with the mouse (log10 of the value against
    the distance); ``truth`` is drawn over it on reveal.  ``sketch()`` returns the drawn
    curve at every distance (linear values), or None before two distances are drawn."""

    sketchChanged = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.x = np.arange(2.0)
        self._log = np.full(2, np.nan)
        self._drawing = False
        self._last_d: Optional[int] = None
        pi = self.getPlotItem()
        pi.setMouseEnabled(False, False)
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.setLabel("bottom", "distance t − k (steps back)")
        pi.setLabel("left", "log₁₀ ||dh_t/dh_k||")
        self.drawn = pg.PlotDataItem([], [], pen=pg.mkPen("#2166ac", width=4),
                                     symbol="o", symbolSize=6, symbolBrush="#2166ac")
        self.truth = pg.PlotDataItem([], [], pen=pg.mkPen(TRUTH, width=4))
        pi.addItem(self.drawn)
        pi.addItem(self.truth)
        self.setMinimumHeight(190)

    def setup(self, x: np.ndarray, truth: np.ndarray) -> None:
        """Distances ``x`` and a y range that holds the true curve with room either way."""
        self.x = np.asarray(x, dtype=float)
        self._log = np.full(self.x.size, np.nan)
        lt = np.log10(np.maximum(np.asarray(truth, dtype=float), 1e-30))
        lo, hi = min(-4.0, np.floor(lt.min()) - 2), max(1.0, np.ceil(lt.max()) + 2)
        self.getPlotItem().setRange(xRange=(0, self.x[-1]), yRange=(lo, hi), padding=0.02)
        self.drawn.setData([], [])
        self.truth.setData([], [])

    def view_point(self, pos):
        return self.getPlotItem().vb.mapSceneToView(self.mapToScene(pos))

    def mousePressEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.LeftButton:
            self._drawing, self._last_d = True, None
            self._add(ev.pos())
            ev.accept()
            return
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):  # noqa: N802
        if self._drawing:
            self._add(ev.pos())
            ev.accept()
            return
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev):  # noqa: N802
        if self._drawing and ev.button() == Qt.LeftButton:
            self._add(ev.pos())
            self._drawing = False
            self.sketchChanged.emit()
            ev.accept()
            return
        super().mouseReleaseEvent(ev)

    def _add(self, pos) -> None:
        pt = self.view_point(pos)
        d = int(round(min(max(pt.x(), 0.0), self.x[-1])))
        y = float(pt.y())
        if self._last_d is not None and abs(d - self._last_d) > 1:
            # a fast drag skips distances: fill them on the straight line between
            lo, hi = sorted((self._last_d, d))
            y0 = self._log[self._last_d]
            for j in range(lo + 1, hi):
                self._log[j] = y0 + (y - y0) * (j - self._last_d) / (d - self._last_d)
        self._log[d] = y
        self._last_d = d
        ok = np.isfinite(self._log)
        self.drawn.setData(self.x[ok], self._log[ok])

    def sketch(self) -> Optional[np.ndarray]:
        ok = np.isfinite(self._log)
        if ok.sum() < 2:
            return None
        return 10.0 ** np.interp(self.x, self.x[ok], self._log[ok])

    def show_truth(self, truth) -> None:
        self.truth.setData(self.x, np.log10(np.maximum(np.asarray(truth, dtype=float), 1e-30)))


#: Options of at most this many characters go two to a row.
SHORT_OPTION = 14


class QuestionCard(QFrame):
    """The question, its options (or the sketch), and after the reveal the truth beside the
    prediction.  ``scale`` sizes the fonts (2 in the classroom vote)."""

    answered = pyqtSignal()  # the student chose an option or finished a sketch
    revealRequested = pyqtSignal()

    def __init__(self, scale: float = 1.0, parent=None):
        super().__init__(parent)
        self.setObjectName("questionCard")
        self.scale = scale
        #: said after the score once the truth is shown (the vote: how to get back)
        self.after_reveal = ""
        self.question: Optional[Question] = None
        self.buttons: List[QPushButton] = []
        self.group = QButtonGroup(self)
        self.group.buttonClicked.connect(self._choice_clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(int(12 * scale), int(10 * scale), int(12 * scale), int(10 * scale))
        self.kind_label = self._label(0.8, bold=True, color="#555555")
        self.prompt = self._label(1.15, bold=True)
        lay.addWidget(self.kind_label)
        lay.addWidget(self.prompt)
        # the truth right under the question: on a short projector screen it is read first
        self.result = self._label(1.05, bold=True)
        self.explanation = self._label(0.95)
        lay.addWidget(self.result)
        lay.addWidget(self.explanation)
        self.choice_box = QWidget()
        # options in two columns when they are short ("step 11"): half the height on a
        # projector, where the card shares a column with the lesson's narration
        self.choice_layout = QGridLayout(self.choice_box)
        self.choice_layout.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.choice_box)
        self.sketch = SketchPlot()
        self.sketch.sketchChanged.connect(self._sketch_changed)
        self.sketch.hide()
        lay.addWidget(self.sketch, 1)
        row = QHBoxLayout()
        self.score = self._label(0.9, color="#333333")
        self.reveal_button = QPushButton("Reveal (PageDown)")
        self.reveal_button.setFont(self._font(0.9))
        self.reveal_button.clicked.connect(self.revealRequested)
        row.addWidget(self.score, 1)
        row.addWidget(self.reveal_button)
        lay.addLayout(row)
        lay.addStretch(0)
        self.clear("Predict mode: a question appears before the view reveals its answer.")

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self._keep_texts_whole()

    def _keep_texts_whole(self) -> None:
        """Wrapped texts keep the height their words need at this width: a dock sized to
        the screen (not to their preferred height) once cut the question's last line."""
        for lab in (self.prompt, self.result, self.explanation):
            # (measured a scroll bar narrower: the dock may need one once this grows)
            need = lab.heightForWidth(max(1, lab.width() - 24)) if lab.text() else 0
            if lab.minimumHeight() != need:
                lab.setMinimumHeight(max(0, need))

    def _font(self, rel: float, bold: bool = False):
        f = self.font()
        f.setPointSizeF(14.0 * self.scale * rel)
        f.setBold(bold)
        return f

    def _label(self, rel: float, bold: bool = False, color: Optional[str] = None) -> QLabel:
        lab = QLabel("")
        lab.setWordWrap(True)
        lab.setFont(self._font(rel, bold))
        lab.setTextFormat(Qt.PlainText)
        if color:
            lab.setStyleSheet(f"color: {color};")
        return lab

    def clear(self, text: str = "") -> None:
        self.question = None
        self.kind_label.setText("")
        self.prompt.setText(text)
        self._set_buttons([], False)
        self.sketch.hide()
        self.result.setText("")
        self.explanation.setText("")
        self.reveal_button.hide()
        self._tidy()

    def _tidy(self) -> None:
        """Empty lines and an empty options box take no room (a projector screen is short)."""
        for lab in (self.kind_label, self.result, self.explanation):
            lab.setVisible(bool(lab.text()))
        self.choice_box.setVisible(bool(self.buttons))
        self._keep_texts_whole()

    def show_question(self, q: Question) -> None:
        self.question = q
        # (its subject in words: "contrib-argmax", an id, read as a typo on a projector)
        self.kind_label.setText(f"PREDICT · {KIND_TITLES.get(q.kind, q.kind)}")
        self.prompt.setText(q.prompt)
        self.result.setText("Tick every option you think is right." if q.multi else "")
        self.result.setStyleSheet("")
        self.explanation.setText("")
        self.reveal_button.show()
        if q.is_sketch:
            self._set_buttons([], False)
            self.sketch.setup(q.x, q.answer)
            self.sketch.show()
        else:
            self.sketch.hide()
            self._set_buttons(q.choices, q.multi)
        self._tidy()

    def _set_buttons(self, choices, multi: bool) -> None:
        for b in self.buttons:
            self.group.removeButton(b)
            b.setParent(None)
            b.deleteLater()
        self.buttons = []
        self.group.setExclusive(not multi)
        cols = 2 if choices and max(len(str(c)) for c in choices) <= SHORT_OPTION else 1
        for i, text in enumerate(choices):
            b = QPushButton(f"{LETTERS[i]}   {text}")
            b.setCheckable(True)
            b.setFont(self._font(1.0))
            b.setMinimumHeight(int(b.fontMetrics().height() * 1.6))
            b.setStyleSheet("text-align: left; padding: %dpx;" % int(6 * self.scale))
            self.group.addButton(b, i)
            self.choice_layout.addWidget(b, i // cols, i % cols)
            self.buttons.append(b)

    def response(self):
        q = self.question
        if q is None:
            return None
        if q.is_sketch:
            return self.sketch.sketch()
        chosen = [i for i, b in enumerate(self.buttons) if b.isChecked()]
        if q.multi:
            return frozenset(chosen)
        return chosen[0] if chosen else None

    def set_response(self, response) -> None:
        """Show another card's choice (the dock and the vote overlay stay in step)."""
        q = self.question
        if q is None or q.is_sketch or response is None:
            return
        picked = set(response) if q.multi else {int(response)}
        for i, b in enumerate(self.buttons):
            b.setChecked(i in picked)

    def _choice_clicked(self, _button) -> None:
        self.answered.emit()

    def _sketch_changed(self) -> None:
        self.answered.emit()

    def show_truth(self, q: Question, response, right: bool, score_text: str) -> None:
        self.reveal_button.hide()
        if q.is_sketch:
            self.sketch.show_truth(q.answer)
        else:
            truth = set(q.answer) if q.multi else {int(q.answer)}
            picked = set(response) if (q.multi and response is not None) else (
                {int(response)} if response is not None else set())
            for i, b in enumerate(self.buttons):
                color = RIGHT if i in truth else (WRONG if i in picked else None)
                mark = " ✔" if i in truth else (" ✘" if i in picked else "")
                b.setText(f"{LETTERS[i]}   {q.choices[i]}{mark}")
                b.setStyleSheet("text-align: left; padding: %dpx;%s" % (
                    int(6 * self.scale), f" background: {color}; color: white; font-weight: bold;"
                    if color else ""))
        said = "no prediction" if response is None else (
            "your sketch (blue)" if q.is_sketch else q.response_text(response))
        verdict = "" if response is None else ("  ✔ right" if right else "  ✘ not quite")
        self.result.setText(f"You said: {said}  ·  truth: {q.truth_text or q.answer_text()}{verdict}")
        self.result.setStyleSheet(f"color: {RIGHT if right else WRONG if response is not None else TRUTH};")
        self.explanation.setText(q.explanation)
        self.score.setText(score_text + self.after_reveal)
        self._tidy()

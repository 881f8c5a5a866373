"""The controls dock: preset, corpus, model and training settings, play speed.

Every setting is an undoable ``session.edit``.  When the session refuses a change
(``SessionError``) the user is told why and the widget goes back to the session's value.
Widgets follow the session's ``sigConfigChanged`` with their signals blocked, so syncing never makes an edit.
"""
from __future__ import annotations

import os
from typing import Dict, Optional

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QAbstractSpinBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                             QLabel, QMessageBox, QPushButton, QSpinBox, QStyledItemDelegate, QVBoxLayout,
                             QWidget)

from ..engine import limits
from ..engine.cellspec import CELLS
from ..engine.clipping import CLIP_SPECS
from ..engine.optim import OPTIMIZER_SPECS
from ..engine.run import LOSS_STEPS
from ..engine.presets import list_presets, load_preset
from ..session import SessionError
from .protect import confirm_losing

#: combo label -> RunConfig.clip
CORPUS_FILTER = "Text files (*.txt *.text *.md *.csv);;All files (*)"


def preset_infos():
    """[(name, title, teaches)] for every preset, in teaching order (unreadable ones named)."""
    out = []
    for name in list_presets():
        try:
            p = load_preset(name)
            out.append((name, p.title, p.teaches))
        except Exception as e:  # a broken preset file must not stop the window  # noqa: BLE001
            out.append((name, name, f"(cannot be read: {e})"))
    return out


def warn(parent: Optional[QWidget], title: str, message: str) -> None:
    """The one way the GUI reports a refused request (tests patch QMessageBox.warning)."""
    QMessageBox.warning(parent, title, message)


#: The item data role holding a preset's whole title (its item text is its short name).
TITLE_ROLE = Qt.UserRole + 1


class _TitleDelegate(QStyledItemDelegate):
    """The preset list shows each preset's whole title and name; the closed box shows the
    name only (the titles, up to 41 characters, were cut in the Controls dock)."""

    def initStyleOption(self, option, index):  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        title = index.data(TITLE_ROLE)
        if title and title != option.text:
            option.text = f"{title}  ({option.text})"


class ControlsPanel(QWidget):
    """The settings of the run.  Not a data panel: it lives in its own dock, key "controls"."""

    key = "controls"
    title = "Controls"
    #: events per second while playing
    speedChanged = pyqtSignal(float)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._syncing = False
        self._synced_preset = None
        self.setObjectName("controls")

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)

        # --- what to look at -------------------------------------------------------------
        box = QGroupBox("Example")
        form = QFormLayout(box)
        self.preset = QComboBox()
        self.preset.setObjectName("preset")
        self.preset.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(14)
        infos = preset_infos()
        for name, title, teaches in infos:
            self.preset.addItem(name, name)
            i = self.preset.count() - 1
            self.preset.setItemData(i, title, TITLE_ROLE)
            self.preset.setItemData(i, f"<b>{title}</b> ({name})<br>{teaches}", Qt.ToolTipRole)
        self._title_delegate = _TitleDelegate(self.preset)
        self.preset.setItemDelegate(self._title_delegate)
        fm = self.preset.fontMetrics()
        self.preset.view().setMinimumWidth(max(
            fm.horizontalAdvance(f"{t}  ({n})") for n, t, _ in infos) + fm.height() * 2)
        self.preset.setToolTip("Choose a ready-made example; each one teaches one thing")
        self.preset.activated.connect(self._preset_chosen)
        # (a row of its own, under the box's title "Example": beside a "Preset" label the
        # names were cut, "min-char-rnn on Shakesp")
        self.preset.setAccessibleName("Preset")
        form.addRow(self.preset)
        self.corpus_button = QPushButton("Load corpus…")
        self.corpus_button.setObjectName("corpus")
        self.corpus_button.setToolTip("Train on a UTF-8 text file of your own (Ctrl+L)")
        self.corpus_button.clicked.connect(self.choose_corpus)
        self.corpus_label = QLabel()
        self.corpus_label.setWordWrap(True)
        form.addRow(self.corpus_button)
        form.addRow(self.corpus_label)
        outer.addWidget(box)

        # --- model -----------------------------------------------------------------------
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.cell = self._combo("cell", list(CELLS), "Cell: " + "; ".join(
            f"{c.name} = {c.blurb or c.title}" for c in CELLS.values()))
        form.addRow("Cell", self.cell)
        self.hidden_size = self._spin("hidden_size", *limits.HIDDEN_SIZE.offer, f"Hidden units H ({limits.HIDDEN_SIZE.describe()}: larger ones take too long to draw)")
        form.addRow("Hidden size", self.hidden_size)
        self.seq_length = self._spin("seq_length", *limits.SEQ_LENGTH.offer, "Timesteps per window (T): the length "
                                     "backpropagation goes back through")
        form.addRow("Sequence length", self.seq_length)
        self.seed = self._spin("seed", *limits.SEED.offer, "Random seed of the initial weights")
        form.addRow("Random seed", self.seed)
        self.init_scale = self._dspin("init_scale", *limits.INIT_SCALE.offer, 5, 0.005,
                                      "Initial weights are drawn as randn · init scale")
        form.addRow("Init scale", self.init_scale)
        outer.addWidget(box)

        # --- training --------------------------------------------------------------------
        box = QGroupBox("Training")
        form = QFormLayout(box)
        self.clip = self._combo("clip", tuple(CLIP_SPECS), "Gradient clipping: none, each entry "
                                "to ±c (value), the global norm (norm) or each parameter's norm")
        form.addRow("Clipping", self.clip)
        self.clip_value = self._dspin("clip_value", *limits.CLIP_VALUE.offer, 4, 0.5, "Clipping threshold c")
        form.addRow("Threshold", self.clip_value)
        self.lr = self._dspin("lr", *limits.LR.offer, 6, 0.01, "Learning rate")
        form.addRow("Learning rate", self.lr)
        self.optimizer = self._combo("optimizer", tuple(OPTIMIZER_SPECS), "Optimizer used at the update event: " + "; ".join(
            f"{o.name} = {o.tooltip}" for o in OPTIMIZER_SPECS.values()))
        form.addRow("Optimizer", self.optimizer)
        self.loss_steps = self._combo("loss_steps", LOSS_STEPS, "Which steps' losses are "
                                      "backpropagated: all of them (min-char-rnn), or the last "
                                      "step's only, so the gradient reaching early steps is "
                                      "purely what flows back through time")
        form.addRow("Loss of", self.loss_steps)
        self.train_truncation = self._spin("train_truncation", 0, int(limits.TRUNCATION.high),
                                           "Train with BPTT truncated to windows of k steps "
                                           "(0 = full BPTT): gradients stop at every k-th step")
        self.train_truncation.setSpecialValueText("full BPTT")
        form.addRow("Truncate BPTT", self.train_truncation)
        outer.addWidget(box)

        # --- playback --------------------------------------------------------------------
        box = QGroupBox("Playback")
        form = QFormLayout(box)
        self.speed = QDoubleSpinBox()
        self.speed.setObjectName("speed")
        self.speed.setRange(0.25, 60.0)
        self.speed.setDecimals(2)
        self.speed.setSingleStep(1.0)
        self.speed.setValue(4.0)
        self.speed.setSuffix(" events/s")
        self.speed.setToolTip("How fast Play (Space) steps through the timeline")
        self.speed.valueChanged.connect(self.speedChanged)
        form.addRow("Speed", self.speed)
        outer.addWidget(box)
        outer.addStretch(1)

        self._edits: Dict[str, QWidget] = {
            "cell": self.cell, "hidden_size": self.hidden_size, "seq_length": self.seq_length,
            "seed": self.seed, "init_scale": self.init_scale, "clip": self.clip,
            "clip_value": self.clip_value, "lr": self.lr, "optimizer": self.optimizer,
            "loss_steps": self.loss_steps, "train_truncation": self.train_truncation}
        session.sigConfigChanged.connect(self._on_config_change)
        session.sigTraceChanged.connect(self._on_trace_change)
        session.sigBusyChanged.connect(self._on_busy_change)
        self.sync()
        self._on_busy_change(session.busy)

    # --- session signals -------------------------------------------------------------------
    def _on_config_change(self, _names):
        self.sync()

    def _on_trace_change(self, _serial):
        if self.session.preset is not self._synced_preset:
            self.sync()

    def _on_busy_change(self, busy: bool):
        """Every control here edits the session but Speed: all wait while training runs."""
        for w in self.findChildren(QWidget):
            if w is not self.speed and isinstance(w, (QComboBox, QAbstractSpinBox, QPushButton)):
                w.setEnabled(not busy)
        if not busy:
            self.sync()  # per-field enabling (clip value, sequence length) comes back

    # --- widget factories ----------------------------------------------------------------
    def _combo(self, field, items, tip):
        w = QComboBox()
        w.setObjectName(field)
        w.addItems(list(items))
        w.setToolTip(tip)
        w.activated.connect(self._widget_edited)
        return w

    def _spin(self, field, lo, hi, tip):
        w = QSpinBox()
        w.setObjectName(field)
        w.setRange(int(lo), int(hi))
        w.setKeyboardTracking(False)  # one edit on Enter / focus out, not one per digit
        w.setToolTip(tip)
        w.valueChanged.connect(self._widget_edited)
        return w

    def _dspin(self, field, lo, hi, decimals, step, tip):
        w = QDoubleSpinBox()
        w.setObjectName(field)
        w.setRange(lo, hi)
        w.setDecimals(decimals)
        w.setSingleStep(step)
        w.setKeyboardTracking(False)
        w.setToolTip(tip)
        w.valueChanged.connect(self._widget_edited)
        return w

    # --- widget <-> config -----------------------------------------------------------------
    def _widget_value(self, field):
        w = self._edits[field]
        if field == "clip":
            return CLIP_SPECS[w.currentText()].mode
        if field == "train_truncation":
            return w.value() or None  # 0 shows "full BPTT"
        if isinstance(w, QComboBox):
            return w.currentText()
        return w.value()

    def _set_widget(self, field, value):
        w = self._edits[field]
        if field == "clip":
            value = next((k for k, v in CLIP_SPECS.items() if v.mode == value), "none")
        if field == "train_truncation":
            value = value or 0
        if isinstance(w, QComboBox):
            i = w.findText(str(value))
            if i < 0:  # a value this build does not list (from a saved file): show it anyway
                w.addItem(str(value))
                i = w.count() - 1
            w.setCurrentIndex(i)
        elif value is not None:
            # A value from a file, the command line or undo may lie outside the range offered
            # for typing; widen the range rather than show a clamped, wrong number.
            if value > w.maximum():
                w.setMaximum(value)
            if value < w.minimum():
                w.setMinimum(value)
            w.setValue(value)

    def sync(self):
        """Show the session's values (signals blocked: syncing never edits)."""
        if not self.session.has_run:
            return
        self._synced_preset = self.session.preset
        self._syncing = True
        try:
            c = self.session.config
            for field, w in self._edits.items():
                old = w.blockSignals(True)
                try:
                    self._set_widget(field, getattr(c, field))
                finally:
                    w.blockSignals(old)
            self.clip_value.setEnabled(c.clip is not None)
            self.seq_length.setEnabled(c.task in ("text", "delay"))
            for w in (self.loss_steps, self.train_truncation):  # character models only
                w.setEnabled(c.task != "captioning" and not self.session.busy)
            self.seq_length.setToolTip(
                self.seq_length.toolTip() if c.task in ("text", "delay") else
                "This task's windows have their own length (one name, or the fixed example)")
            old = self.preset.blockSignals(True)
            name = self.session.preset.name if self.session.preset is not None else None
            self.preset.setCurrentIndex(self.preset.findData(name) if name else -1)
            self.preset.blockSignals(old)
            path = self.session.corpus_path
            if path:
                self.corpus_label.setText(f"Corpus: {os.path.basename(path)}")
                self.corpus_label.setToolTip(path)
            elif c.task in ("text", "names"):
                self.corpus_label.setText(f"Corpus: the preset's ({len(c.text):,} characters)")
                self.corpus_label.setToolTip("")
            else:
                self.corpus_label.setText(f"Task: {c.task} (no corpus)")
                self.corpus_label.setToolTip("")
        finally:
            self._syncing = False

    # Slots are bound methods, not lambdas: PyQt holds lambdas strongly, which would make a
    # reference cycle and postpone the widgets' deletion to interpreter exit (a crash there).
    def _widget_edited(self, _value=None):
        field = self.sender().objectName() if self.sender() is not None else ""
        if field in self._edits:
            self._edited(field)

    def _edited(self, field):
        if self._syncing or not self.session.has_run or self.session.busy:
            return
        value = self._widget_value(field)
        if getattr(self.session.config, field) == value:
            return
        label = field.replace("_", " ")
        shown = "none" if value is None else value
        try:
            self.session.edit(f"{label} {shown}", **{field: value})
        except SessionError as e:
            warn(self.window(), f"Cannot change {label}", str(e))
            self.sync()

    def _preset_chosen(self, index):
        name = self.preset.itemData(index)
        if name is None or (self.session.preset is not None and self.session.preset.name == name):
            return
        autosaver = getattr(self.window(), "autosaver", None)  # protect: the switch is undoable,
        if autosaver is not None:                              # and the old run autosaved
            autosaver.before_risky()
        try:
            self.session.load_preset(name)
        except SessionError as e:
            warn(self.window(), "Cannot load preset", str(e))
        self.sync()

    def choose_corpus(self):
        path, _ = QFileDialog.getOpenFileName(self.window(), "Load corpus", "", CORPUS_FILTER)
        if path:
            self.load_corpus(path)

    def load_corpus(self, path) -> bool:
        window = self.window()
        if hasattr(window, "session") and not confirm_losing(window, "loading a corpus"):
            self.sync()
            return False  # protect: asked first, the user kept the session
        if getattr(window, "autosaver", None) is not None:
            window.autosaver.before_risky()
        try:
            self.session.load_corpus(path)
        except SessionError as e:
            warn(self.window(), "Cannot use this corpus", str(e))
            self.sync()
            return False
        self.sync()  # corpus_path is set after the edit's sigConfigChanged
        return True

    def events_per_second(self) -> float:
        return float(self.speed.value())

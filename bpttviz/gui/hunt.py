"""Bug hunt (issue 14): a classic BPTT mistake is hidden in the backward pass; the student
finds it with the gradient check, the dhnext view and training, then names it.

The bug is switched on the only way anything changes the run: ``session.edit(backprop_bug=
NAME)``.  Its name is never shown while the hunt lasts: the hunt dock lists the whole gallery
(:data:`bpttviz.engine.bugs.BUGS`), the edit's undo text is neutral, and ``session.hunting``
tells the gradient-check panel to hide its own "Forget dhnext" box and verdict hint.
"""
from __future__ import annotations

import random
from typing import Dict, Optional

from PyQt5.QtCore import QObject, Qt
from PyQt5.QtWidgets import (QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                             QPushButton, QVBoxLayout, QWidget)

from ..session import SessionError
from .predict import show_card_dock, side_dock

try:
    from ..engine.bugs import BUGS
except ImportError:  # the gallery module is not in this build: the one bug the engine has
    BUGS = {"forget-dhnext": "dh = Why^T dy only: the gradient from the future (dhnext) is "
                             "never added"}

#: How each bug gives itself away, said once it is named.
SIGNS: Dict[str, str] = {
    "forget-dhnext": "Why and by stay green (they do not go back through time) while Wxh, Whh "
                     "and bh are wrong, and the dhnext view shows nothing arriving from later "
                     "steps.",
    "no-tanh-derivative": "every parameter behind the tanh (Wxh, Whh, bh) is slightly wrong — "
                          "the error grows as h grows during training, since (1 − h²) ≈ 1 "
                          "only while h is small.",
    "h-instead-of-hprev": "only Whh is wrong: its gradient uses h_t where the forward pass "
                          "multiplied h_{t-1}.",
    "dy-without-minus-one": "even Why and by are wrong — the mistake is at the very first "
                            "line of the backward pass, before anything goes back in time.",
    "dhnext-from-dh": "Wxh and bh at the last step are right, the earlier steps wrong: the "
                      "gradient sent back skips the tanh derivative.",
    "no-carry-state": "the gradient check passes! The backward pass is right; the forward "
                      "state is reset every window, so training cannot learn across windows.",
    "lstm-drop-dc": "the gates' gradients are wrong further back than one step: the cell-"
                    "state path dc_{t-1} = f ⊙ dc_t is dropped.",
}


class HuntController(QObject):
    """The hunt of one window: ``start()``, ``guess(name)``, ``give_up()``."""

    @property
    def window(self):
        """The main window: the Qt parent (no Python reference, so no cycle through it)."""
        return self.parent()

    def __init__(self, window, rng: Optional[random.Random] = None):
        super().__init__(window)
        self.session = window.session
        self.rng = rng or random.Random()
        self.bug: Optional[str] = None
        self.tries = 0
        self.session.hunting = False
        self.widget = QWidget()
        self.widget.setObjectName("huntPanel")
        lay = QVBoxLayout(self.widget)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        f = self.intro.font()
        f.setPointSizeF(13)
        self.intro.setFont(f)
        lay.addWidget(self.intro)
        self.gallery = QListWidget()
        self.gallery.setFont(f)
        self.gallery.setWordWrap(True)
        self.gallery.setResizeMode(QListView.Adjust)
        self.gallery.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        for name, text in BUGS.items():
            item = QListWidgetItem(f"{name}: {text}")
            item.setData(Qt.UserRole, name)
            self.gallery.addItem(item)
        lay.addWidget(self.gallery, 1)
        row = QHBoxLayout()
        self.name_button = QPushButton("This is the bug")
        self.name_button.clicked.connect(self._name_clicked)
        self.give_up_button = QPushButton("Give up and show me")
        self.give_up_button.clicked.connect(self.give_up)
        self.start_button = QPushButton("Hide a new bug")
        self.start_button.clicked.connect(self._start_clicked)
        for b in (self.name_button, self.give_up_button, self.start_button):
            b.setFont(f)
        lay.addWidget(self.name_button)  # the button that matters gets a row of its own
        row.addWidget(self.give_up_button)
        row.addWidget(self.start_button)
        lay.addLayout(row)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setFont(f)
        lay.addWidget(self.result)
        self.dock = side_dock(window, "Bug hunt", "hunt", self.widget)
        window.acts.hunt.triggered.connect(self._start_clicked)
        self._show_idle()

    @property
    def hunting(self) -> bool:
        return self.bug is not None

    def _show_idle(self) -> None:
        self.intro.setText("Bug hunt: press “Hide a new bug” (Teach ▸ Start a bug hunt) and "
                           "one of these classic BPTT mistakes is hidden in the backward pass.")
        self.name_button.setEnabled(False)
        self.give_up_button.setEnabled(False)

    def _start_clicked(self, *_args) -> None:
        self.start()

    def start(self, bug: Optional[str] = None) -> Optional[str]:
        """Hide ``bug`` (default: one at random that this cell accepts); returns its name,
        which the caller must not show.  None (and a message) if the run refuses every bug."""
        if self.hunting:
            self._end(None, "")
        names = [bug] if bug is not None else self.rng.sample(list(BUGS), len(BUGS))
        self.session.hunting = True
        for name in names:
            try:
                self.session.edit("hide a bug (bug hunt)", backprop_bug=name)
            except SessionError:
                continue
            self.bug, self.tries = name, 0
            break
        if self.bug is None:
            self.session.hunting = False
            self.result.setText("No bug of the gallery fits this model (try a plain RNN preset).")
            return None
        self.intro.setText(
            "A bug is hidden in the backward pass. Investigate: run the gradient check (which "
            "parameters are wrong, and by how much?), look at dhnext flowing back, train a "
            "little (does it still learn?). Then pick the bug below and press “This is the bug”.")
        self.result.setText("")
        self.gallery.clearSelection()
        self.name_button.setEnabled(True)
        self.give_up_button.setEnabled(True)
        show_card_dock(self.window, self.dock)
        self.window.dock_layout.show_view("gradcheck")
        return self.bug

    def _name_clicked(self) -> None:
        item = self.gallery.currentItem()
        if item is None:
            self.result.setText("Select one of the bugs in the list first.")
            return
        self.guess(item.data(Qt.UserRole))

    def guess(self, name: str) -> bool:
        """The student names ``name``: True (and the hunt ends, the bug removed) if right."""
        if not self.hunting:
            return False
        self.tries += 1
        if name != self.bug:
            self.result.setText(f"✘ Not that one (try {self.tries}). Which parameters does the "
                                "check flag, and at which steps does the gradient go wrong?")
            self.result.setStyleSheet("color: #d73027;")
            return False
        self._end(name, f"✔ Right, after {self.tries} {'try' if self.tries == 1 else 'tries'}: ")
        return True

    def give_up(self) -> None:
        if self.hunting:
            self._end(self.bug, "The hidden bug was ")

    def _end(self, name: Optional[str], lead: str) -> None:
        bug = self.bug
        self.bug = None
        self.session.hunting = False
        try:
            self.session.edit("remove the hidden bug", backprop_bug=None)
        except SessionError as e:
            self.result.setText(str(e))
        if name is not None:
            self.result.setText(f"{lead}{bug} — {BUGS.get(bug, '')}. How it shows: "
                                f"{SIGNS.get(bug, 'compare the check per parameter.')} The "
                                "bug is removed: the check is green again.")
            self.result.setStyleSheet("color: #1a9850;" if lead.startswith("✔") else "")
        self._show_idle()

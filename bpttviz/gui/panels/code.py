"""The code of the current cell's forward and backward pass, with the line being executed
highlighted and the numbers it produced at the cursor, printed as the seed notebook does.

The code is our own, written in seed 000's notation (column vectors, ``xs``/``hs``/``ps``
dictionaries, ``dhnext``); each cell's forward and backward loops, and which of its numbers
are printed, come from the cell registry (``CellSpec.forward_code``, ``backward_code``,
``forward_values``, ``backward_values``).  Each line carries a tag saying which event runs it:
``f``/``F`` forward loop (``F`` = the line that makes the event's main result), ``b``/``B``
backward loop, ``c``/``C`` clipping, ``u``/``U`` the update.
"""
from __future__ import annotations

import re

import numpy as np
from PyQt5.QtGui import (QColor, QFont, QFontMetricsF, QTextBlockFormat, QTextCharFormat, QTextCursor,
                         QTextFormat)
from PyQt5.QtWidgets import QLabel, QPlainTextEdit, QSplitter, QTextEdit, QVBoxLayout
from PyQt5.QtCore import Qt, pyqtSignal

from ...engine.clipping import clip_spec
from ...engine.optim import OPTIMIZER_SPECS
from ...engine.cellspec import get_cell
from .. import style
from .base import Panel

_BACK_HEAD = [
    ("# backward pass: one event per step, t = T-1 down to 0", ""),
    # (seed 000 zeroes the five on two lines of up to 77 characters: three shorter lines
    # keep every line of every listing within 75, readable at projector size)
    ("dWxh, dWhh = np.zeros_like(Wxh), np.zeros_like(Whh)", ""),
    ("dWhy, dby = np.zeros_like(Why), np.zeros_like(by)", ""),
    ("dbh = np.zeros_like(bh)", ""),
]

PHASE_TAG = {"forward": "f", "backward": "b", "clip": "c", "update": "u"}


def code_lines(cell: str, clip, optimizer: str):
    """``[(text, tag)]`` for a cell, clip mode and optimizer, in execution order."""
    clip_head = [("# clip (threshold c = clip_value)", "")]
    upd_head = [(f"# update ({optimizer})", "")]
    spec = get_cell(cell)
    return (spec.forward_listing() + [("", "")] + _BACK_HEAD + spec.backward_listing()
            + [("", "")] + clip_head
            + list(clip_spec(clip).code) + [("", "")] + upd_head
            + list(OPTIMIZER_SPECS.get(optimizer, OPTIMIZER_SPECS["sgd"]).code))


def _step_values(tr, source: str, t: int):
    """Row t of a trace quantity named as in ``CellSpec.forward_values``: ``"gates.NAME"`` or
    a Trace attribute with one row per step."""
    if source.startswith("gates."):
        return tr.gates[source[len("gates."):]][t]
    return getattr(tr, source)[t]


def _clip_effect(report, k: str) -> str:
    """What the clip rule did to parameter ``k``, in the rule's own words: value clipping
    changes entries, norm clipping rescales (it changes every entry, by one factor)."""
    if report.mode is None:
        return "no clipping"
    if report.mode == "value":
        return f"{100 * report.fraction_clipped[k]:.1f}% of entries clipped"
    before, after = report.norms_before[k], report.norms_after[k]
    if before > 0 and np.isfinite(before) and after < before:
        return f"rescaled by {after / before:.3g}"
    return "unchanged"


def fmt(name, values, n=6):
    return style.format_values(name, values, max_shown=n)


def set_values_text(edit, lines) -> None:
    """The numbers pane's text: a paragraph per line, wrapped with a hanging indent of two
    characters (a wrapped vector's next line sits under its name instead of reading as a
    new entry); lines break between numbers and at the wide gaps between parts, never inside
    a phrase ("(100 values)", "loss so far = 44.85", "(most likely: 'z' 0.0170)")."""
    nb = "\u00a0"

    def keep_phrases(line):
        # Outside a vector's brackets, a single space joins words ("loss so far", "most
        # likely", "= 0.01"): lines break only at the wider gaps between parts.
        parts = re.split(r"(\[[^\[\]]*\])", line)
        return "".join(part if part.startswith("[") else re.sub(r"(?<! ) (?! )", nb, part)
                       for part in parts).replace(" values)", nb + "values)")
    text = "\n".join(keep_phrases(line) for line in lines)
    edit.setPlainText(text)
    indent = 2 * QFontMetricsF(edit.font()).horizontalAdvance("0")
    fmt = QTextBlockFormat()
    fmt.setLeftMargin(indent)
    fmt.setTextIndent(-indent)
    cursor = edit.textCursor()
    cursor.select(QTextCursor.Document)
    cursor.mergeBlockFormat(fmt)
    cursor.clearSelection()
    edit.setTextCursor(cursor)


class _CodeView(QPlainTextEdit):
    """The code pane: says when it has been resized (its scroll range then up to date)."""
    sigResized = pyqtSignal()

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.sigResized.emit()


class CodePanel(Panel):
    key = "code"
    title = "Code and numbers"
    tab_title = "Code"
    question = 'Which line of the code computes what I see, with which numbers?'
    help_html = (
        "<p>At the top: what the current event does, in words and as an equation. In the "
        "middle: the code of one training iteration for the current cell (in the notation of "
        "min-char-rnn); the light band marks the loop the event runs and the strong band the "
        "line that produces its main result. At the bottom: the numbers that code produced at "
        "this step, printed as the notebook prints them (long vectors show their first 6 "
        "values and their length).</p>")

    def __init__(self, session, parent=None, controller=None):
        super().__init__(session, parent, controller)
        t = style.theme()
        self._theme = t
        self.words = QLabel("")
        self.words.setFont(t.font(t.big_pt, bold=True))
        self.words.setWordWrap(True)
        self.words.setToolTip("What the current event computes")
        self.equation = QLabel("")
        self.equation.setFont(t.font(t.mono_pt, mono=True))
        self.equation.setWordWrap(True)
        self.equation.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.equation.setToolTip("The equations of this event")
        for w in (self.words, self.equation):
            style.shrinkable(w)
            w.setStyleSheet(f"color: {t.foreground}; padding: 2px 6px;")
        self.code = _CodeView()
        # (a QTextEdit: its paragraphs take a hanging indent, so a wrapped vector's second
        # line is indented under its name instead of reading as a new entry)
        self.values = QTextEdit()
        for w in (self.code, self.values):
            w.setReadOnly(True)
            w.setFont(t.font(t.mono_pt, mono=True))
            w.setStyleSheet(f"color: {t.foreground}; background: {t.background};")
        # the numbers wrap (a vector cut at the pane's edge read "||dhnext|| = 0"); the
        # code keeps its lines
        self.code.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.values.setLineWrapMode(QTextEdit.WidgetWidth)
        self.code.setToolTip("One training iteration's code; the highlighted line is running")
        self.values.setToolTip("The numbers the highlighted code produced at this step")
        self.split = split = QSplitter(Qt.Vertical)
        split.addWidget(self.code)
        split.addWidget(self.values)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.words)
        lay.addWidget(self.equation)
        lay.addWidget(split, 1)
        self._code_key = None
        self._fitting = False
        self.lines = []
        self.highlighted_lines = []
        self.main_line = None
        self.code.sigResized.connect(self._on_code_resize)

    #: Below this height the view is short (a 720-line screen): the words and equation,
    #: which the window's header also shows, give their lines to the code, and the numbers
    #: go beside the code when there is room across.
    SHORT_BELOW = 560
    SIDE_BY_SIDE_FROM_WIDTH = 820

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        short = self.height() < self.SHORT_BELOW
        for w in (self.words, self.equation):
            w.setVisible(not short)
        side = short and self.width() >= self.SIDE_BY_SIDE_FROM_WIDTH
        orient = Qt.Horizontal if side else Qt.Vertical
        if self.split.orientation() != orient:
            self.split.setOrientation(orient)
            total = self.width() if side else self.height()
            # beside the numbers, the code gets two thirds: its lines are up to 75
            # characters and do not wrap well, the numbers wrap at any width
            share = 2 / 3 if side else 3 / 5
            self.split.setSizes([int(total * share), total - int(total * share)])

    def _on_code_resize(self):
        # The code pane's own size (the panel's, a splitter drag), once its scroll range is
        # updated
        if not self._fitting:
            self._fitting = True
            try:
                self._fit_code_font()
            finally:
                self._fitting = False

    #: The code's font shrinks to this fraction of the theme's at the least, so that its
    #: longest line fits the pane; below it the lines wrap (nothing is cut off).
    MIN_FONT_FRACTION = 0.6

    def _fit_code_font(self):
        """The code in the theme's monospace font, or smaller so that its longest line fits
        the pane's width (comments included: they say why each line is there)."""
        base = self._theme.font(self._theme.mono_pt, mono=True)
        longest = max((text for text, _ in self.lines), key=len, default="")
        room = self.code.viewport().width() - 2 * self.code.document().documentMargin() - 4
        need = QFontMetricsF(base).horizontalAdvance(longest)
        fraction = 1.0 if need <= room or need <= 0 else max(self.MIN_FONT_FRACTION, room / need)
        font = QFont(base)
        while True:  # (text widths do not scale exactly with the size: hinting)
            font.setPointSizeF(base.pointSizeF() * fraction)
            fits = QFontMetricsF(font).horizontalAdvance(longest) <= room
            if fits or fraction <= self.MIN_FONT_FRACTION:
                break
            fraction = max(self.MIN_FONT_FRACTION, fraction * 0.97)
        if font != self.code.font():
            self.code.setFont(font)
            self.values.setFont(font)  # (the numbers at the code's size, side by side)
        mode = QPlainTextEdit.NoWrap if fits else QPlainTextEdit.WidgetWidth
        if self.code.lineWrapMode() != mode:
            self.code.setLineWrapMode(mode)
        self._scroll_to_block()

    def _scroll_to_block(self):
        """Show the loop the event runs from its first line (one line of context above)
        when it fits the pane; otherwise keep the running line in the middle."""
        if self.main_line is None or not self.highlighted_lines:
            return
        code, doc = self.code, self.code.document()
        first, last = min(self.highlighted_lines), max(self.highlighted_lines)
        bar = code.verticalScrollBar()
        bar.setValue(min(doc.findBlockByNumber(max(0, first - 1)).firstLineNumber(), bar.maximum()))

        def bottom_of(n):
            block = doc.findBlockByNumber(n)
            return code.blockBoundingGeometry(block).translated(code.contentOffset()).bottom()
        height = code.viewport().height()
        if bottom_of(last) > height:  # the loop's end below: scroll down as far as its head allows
            while bar.value() < min(doc.findBlockByNumber(first).firstLineNumber(), bar.maximum()) \
                    and bottom_of(last) > height:
                bar.setValue(bar.value() + 1)
        if bottom_of(self.main_line) > height or code.firstVisibleBlock().blockNumber() > first:
            # the loop is longer than the pane: the running line in the middle
            code.setTextCursor(QTextCursor(doc.findBlockByNumber(self.main_line)))
            code.centerCursor()

    def _set_code(self, cell, clip, optimizer):
        key = (cell, clip, optimizer)
        if key == self._code_key:
            return
        self._code_key = key
        self.lines = code_lines(cell, clip, optimizer)
        self.code.setPlainText("\n".join(text for text, _ in self.lines))
        self._fit_code_font()

    def redraw(self):
        s = self.session
        cfg, st = s.config, s.state
        words, eq = s.describe_event()
        self.words.setText(words)
        self.equation.setText(eq)
        self._set_code(cfg.cell, cfg.clip, cfg.optimizer)
        tag = PHASE_TAG[st.event.phase]
        self.highlighted_lines = [i for i, (_, g) in enumerate(self.lines) if g.lower() == tag]
        mains = [i for i, (_, g) in enumerate(self.lines) if g == tag.upper()]
        self.main_line = mains[0] if mains else None
        sels = []
        light = QColor("#fff2cc")
        strong = QColor("#ffc857")
        doc = self.code.document()
        for i in self.highlighted_lines:
            sel = QTextEdit.ExtraSelection()
            fmt_ = QTextCharFormat()
            fmt_.setBackground(strong if i == self.main_line else light)
            # dark text on the light bands in every theme (a dark theme's light text on them
            # could not be read)
            fmt_.setForeground(QColor("#000000"))
            fmt_.setProperty(QTextFormat.FullWidthSelection, True)
            if i == self.main_line:
                fmt_.setFontWeight(75)
            sel.format = fmt_
            sel.cursor = QTextCursor(doc.findBlockByNumber(i))
            sels.append(sel)
        self.code.setExtraSelections(sels)
        if self.main_line is not None:
            self.code.setTextCursor(QTextCursor(doc.findBlockByNumber(self.main_line)))
        self._scroll_to_block()
        set_values_text(self.values, self.value_lines())

    def value_lines(self):
        """The numbers the event produced, in the notebook's print style."""
        s = self.session
        tr, st, vocab = s.trace, s.state, s.vocab
        ev = st.event
        t = ev.t
        out = []
        if ev.phase == "forward":
            ix = int(tr.inputs[t])
            tg = int(tr.targets[t])
            ch = f"'{vocab.label(ix)}'" if ix >= 0 else "none (zero vector)"
            out.append(f"inputs[{t}] = {ix}  {ch}      targets[{t}] = {tg}  '{vocab.label(tg)}'")
            for label, source in get_cell(tr.cell).forward_values:
                out.append(fmt(f"{label}[{t}]", _step_values(tr, source, t)))
            out.append(fmt(f"hs[{t}]", tr.h[t]))
            out.append(fmt(f"ys[{t}]", tr.logits[t]))
            out.append(fmt(f"ps[{t}]", tr.p[t]))
            top = int(np.argmax(tr.p[t]))
            out.append(f"ps[{t}][targets[{t}]] = {tr.p[t, tg]:.4f}   (most likely: "
                       f"'{vocab.label(top)}' {tr.p[t, top]:.4f})")
            out.append(f"loss_{t} = {tr.losses[t]:.4f}    loss so far = {tr.losses[:t + 1].sum():.4f}")
        elif ev.phase == "backward":
            out.append(fmt("dy", tr.dy[t]))
            # (two lines: a narrow pane broke after "||", before "= 0.01")
            out.append(f"||dh|| = {np.linalg.norm(tr.dh[t]):.4g}")
            out.append(f"||dhnext|| = {np.linalg.norm(tr.dhnext[t]):.4g}")
            out.append(fmt("dh", tr.dh[t]))
            out.append(fmt("  Why.T @ dy", tr.dh_from_output[t]) + "   (own loss)")
            out.append(fmt("  + dhnext  ", tr.dh_from_future[t])
                       + ("   (nothing from the future at the last step)" if t == tr.T - 1
                          else f"   (future: sent by step {t + 1})"))
            for label, source in get_cell(tr.cell).backward_values:
                out.append(fmt(label, _step_values(tr, source, t)))
            out.append(fmt("dhnext", tr.dhnext[t])
                       + (f"   (sent to step {t - 1})" if t > 0 else "   (to h_prev: not used)"))
            for k in list(tr.grads_raw):
                out.append(f"||d{k}|| so far = {np.linalg.norm(tr.accumulated_grad(k, t)):.4g}")
        elif ev.phase == "clip":
            rep = tr.clip
            for k in list(tr.grads_raw):
                out.append(f"||d{k}||: {tr.grad_norms_raw[k]:.4g} -> {tr.grad_norms[k]:.4g}   "
                           f"({_clip_effect(rep, k)})")
            out.append(f"global norm: {tr.grad_norm_before_clip:.4g} -> {tr.grad_norm_after_clip:.4g}")
            out.append(f"cos(raw, clipped) = {rep.cosine:.5f}")
        else:
            delta = s.update_preview()
            for k in list(tr.grads_raw):
                out.append(f"||Δ{k}|| = {np.linalg.norm(delta[k]):.4g}   " + fmt(f"Δ{k}", delta[k]))
        return out

    def csv_tables(self):
        s = self.session
        tr, ev = s.trace, s.state.event
        t = ev.t
        if ev.phase == "forward":
            H, V = tr.hidden_size, tr.vocab_size
            n = max(H, V)
            rows = np.full((n, 2), np.nan)
            rows[:H, 0] = tr.h[t]
            rows[:V, 1] = tr.p[t]
            return {"values": (["h_t", "p_t"], rows)}
        if ev.phase == "backward":
            return {"values": (["dh_t", "dhnext_t"], np.column_stack([tr.dh[t], tr.dhnext[t]]))}
        if ev.phase == "clip":
            rows = np.array([[tr.grad_norms_raw[k], tr.grad_norms[k]] for k in list(tr.grads_raw)])
            return {"values": (["norm_before(" + "|".join(list(tr.grads_raw)) + ")", "norm_after"], rows)}
        delta = s.update_preview()
        rows = np.array([[float(np.linalg.norm(delta[k]))] for k in list(tr.grads_raw)])
        return {"values": (["norm_update(" + "|".join(list(tr.grads_raw)) + ")"], rows)}

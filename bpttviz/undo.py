"""An undo stack for the session, with no widgets (the session imports nothing of QtWidgets).

Commands have ``text``, ``redo()`` and ``undo()``.  ``push`` stores a command whose change
was already applied (it does not call ``redo``); ``undo``/``redo`` move along the stack and
only move if the command succeeded, so a refusal (an exception) leaves the stack as it was.
Signals follow QUndoStack's names, so the window's Undo/Redo actions track them.
"""
from __future__ import annotations

from typing import List

from PyQt5.QtCore import QObject, pyqtSignal


class Command:
    """One undoable change. Subclasses implement ``redo`` and ``undo``."""

    def __init__(self, text: str):
        self.text = text

    def redo(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError


class UndoStack(QObject):
    canUndoChanged = pyqtSignal(bool)
    canRedoChanged = pyqtSignal(bool)
    undoTextChanged = pyqtSignal(str)
    redoTextChanged = pyqtSignal(str)
    indexChanged = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._commands: List[Command] = []
        self._index = 0

    def count(self) -> int:
        return len(self._commands)

    def index(self) -> int:
        return self._index

    def canUndo(self) -> bool:  # noqa: N802 (Qt's names)
        return self._index > 0

    def canRedo(self) -> bool:  # noqa: N802
        return self._index < len(self._commands)

    def undoText(self) -> str:  # noqa: N802
        return self._commands[self._index - 1].text if self.canUndo() else ""

    def redoText(self) -> str:  # noqa: N802
        return self._commands[self._index].text if self.canRedo() else ""

    def push(self, command: Command) -> None:
        """Record a change already applied; anything that was undone is dropped."""
        del self._commands[self._index:]
        self._commands.append(command)
        self._set_index(len(self._commands))

    def undo(self) -> None:
        if self.canUndo():
            self._commands[self._index - 1].undo()
            self._set_index(self._index - 1)

    def redo(self) -> None:
        if self.canRedo():
            self._commands[self._index].redo()
            self._set_index(self._index + 1)

    def clear(self) -> None:
        self._commands = []
        self._set_index(0)

    def _set_index(self, index: int) -> None:
        self._index = index
        self.indexChanged.emit(index)
        self.canUndoChanged.emit(self.canUndo())
        self.canRedoChanged.emit(self.canRedo())
        self.undoTextChanged.emit(self.undoText())
        self.redoTextChanged.emit(self.redoText())

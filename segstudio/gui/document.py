"""One image being labelled: its entry, live mask, undo history and saved state."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoStack

from segstudio.core.edits import MaskDiff
from segstudio.gui.commands import MaskEditCommand

UNREACHABLE = -1


class LabelDocument:
    """The labels of one image while the window has them.

    `saved_index` is the undo-stack position whose labels are on disk, so undoing
    back to the saved state makes the document clean again. It is kept here, not
    as QUndoStack's clean index, because a background save finishes after more
    edits may have been made: it marks the position it saved, not the current one.
    A failed save leaves the document unsaved and the mask in memory.
    """

    def __init__(self, entry, mask: np.ndarray, changed: Callable[[LabelDocument, MaskDiff], None]):
        self.entry = entry
        self.mask = mask
        self.undo_stack = QUndoStack()
        self.saved_index = 0  # as loaded from disk
        self.saving = False  # a background save of this document is under way
        self.branch = 0  # counts the times an edit dropped redo steps: old positions then lie
        self._changed = changed

    @property
    def nbytes(self) -> int:
        """Memory held: the mask and the undo history's edits."""
        stack = self.undo_stack
        return self.mask.nbytes + sum(getattr(stack.command(i), "nbytes", 0)
                                      for i in range(stack.count()))

    @property
    def dirty(self) -> bool:
        return self.undo_stack.index() != self.saved_index

    def push(self, diff: MaskDiff, text: str) -> None:
        """Record an edit that is already in the mask as one undo step."""
        if self.undo_stack.index() < self.undo_stack.count():
            self.branch += 1  # the redo steps are dropped; later positions mean new states
            if self.undo_stack.index() < self.saved_index:
                self.saved_index = UNREACHABLE
        command = MaskEditCommand(self.mask, diff, text, lambda d: self._changed(self, d))
        self.undo_stack.push(command)
        self._changed(self, diff)

    def snapshot(self) -> tuple[np.ndarray, tuple[int, int]]:
        """A copy of the labels and the history position it stands for, to save."""
        return self.mask.copy(), (self.undo_stack.index(), self.branch)

    def mark_saved(self, position: tuple[int, int] | None = None) -> None:
        """The labels at `position` (from snapshot(); default: now) are on disk."""
        if position is None:
            self.saved_index = self.undo_stack.index()
            return
        index, branch = position
        # A position from before a branch may now stand for other labels: stay unsaved.
        self.saved_index = index if branch == self.branch else UNREACHABLE

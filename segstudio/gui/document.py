"""One image being labelled: its entry, live mask, undo history and saved state."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoStack

from segstudio.core.edits import MaskDiff
from segstudio.gui.commands import MaskEditCommand


class LabelDocument:
    """The labels of one image while the window has them.

    Unsaved = the undo stack is not at its clean index, so undoing back to the
    saved state makes the document clean again. A failed save leaves it unsaved
    and the mask in memory; the next save retries.
    """

    def __init__(self, entry, mask: np.ndarray, changed: Callable[[LabelDocument, MaskDiff], None]):
        self.entry = entry
        self.mask = mask
        self.undo_stack = QUndoStack()
        self._changed = changed

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def push(self, diff: MaskDiff, text: str) -> None:
        """Record an edit that is already in the mask as one undo step."""
        command = MaskEditCommand(self.mask, diff, text, lambda d: self._changed(self, d))
        self.undo_stack.push(command)
        self._changed(self, diff)

    def mark_saved(self) -> None:
        self.undo_stack.setClean()


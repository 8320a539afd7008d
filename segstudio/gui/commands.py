"""Undo commands. Each holds only a MaskDiff (the changed box, before and after)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand

from segstudio.core.edits import MaskDiff


class MaskEditCommand(QUndoCommand):
    """An edit already applied to `mask` when pushed: the first redo() does nothing.

    `changed(diff)` is called after every undo and redo so the view can
    re-render the diff's box.
    """

    def __init__(
        self, mask: np.ndarray, diff: MaskDiff, text: str, changed: Callable[[MaskDiff], None]
    ):
        super().__init__(text)
        self.mask = mask
        self.diff = diff
        self._changed = changed
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False  # QUndoStack.push calls redo(); the edit is already in
            return
        self.diff.redo(self.mask)
        self._changed(self.diff)

    def undo(self) -> None:
        self.diff.undo(self.mask)
        self._changed(self.diff)

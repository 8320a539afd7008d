"""The saved state of one image's labels, with undo, redo and background saves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.core.edits import brush_dab  # noqa: E402
from segstudio.gui.document import LabelDocument  # noqa: E402


def test_document_saved_state_follows_undo_and_branches():
    mask = np.full((50, 50), UNLABELLED, np.uint8)
    document = LabelDocument(entry=None, mask=mask, changed=lambda doc, diff: None)
    assert not document.dirty
    document.push(brush_dab(mask, 10, 10, 3, 0), "a")
    document.push(brush_dab(mask, 30, 30, 3, 0), "b")
    position = document.snapshot()[1]  # a background save of two strokes starts
    document.undo_stack.undo()
    document.push(brush_dab(mask, 40, 10, 3, 1), "c")  # same position, other labels
    document.mark_saved(position)  # ...and finishes
    assert document.dirty  # what is on disk is not what is shown
    document.mark_saved()
    assert not document.dirty
    document.undo_stack.undo()
    assert document.dirty
    document.undo_stack.redo()
    assert not document.dirty

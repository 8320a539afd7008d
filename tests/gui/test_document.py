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


def _accept_everything(mask: np.ndarray, rng):
    """Paste a blocky 'prediction' over the whole mask, as accepting one does."""
    from segstudio.core.edits import paste_labels

    coarse = rng.integers(0, 3, (mask.shape[0] // 50, mask.shape[1] // 50), dtype=np.uint8)
    return paste_labels(mask, np.kron(coarse, np.ones((50, 50), np.uint8)))


def test_large_undo_steps_are_kept_compressed_and_still_undo_exactly(qtbot):
    rng = np.random.default_rng(0)
    mask = np.full((3000, 3000), UNLABELLED, np.uint8)
    mask[::7, ::5] = 1  # some earlier strokes
    document = LabelDocument(entry=None, mask=mask, changed=lambda doc, diff: None)
    states = [mask.copy()]
    for _ in range(3):  # three accepted predictions, 18 MB of old + new values each
        document.push(_accept_everything(mask, rng), "Accept prediction")
        states.append(mask.copy())
    commands = [document.undo_stack.command(i) for i in range(3)]
    qtbot.waitUntil(lambda: all(command.diff is None for command in commands), timeout=10_000)
    assert sum(command.nbytes for command in commands) < 3 * 1_000_000  # from 54 MB
    for state in reversed(states[:-1]):
        document.undo_stack.undo()
        np.testing.assert_array_equal(mask, state)
    for state in states[1:]:
        document.undo_stack.redo()
        np.testing.assert_array_equal(mask, state)


def test_a_large_step_undone_before_it_is_compressed_undoes_exactly(qtbot):
    mask = np.full((3000, 3000), UNLABELLED, np.uint8)
    document = LabelDocument(entry=None, mask=mask, changed=lambda doc, diff: None)
    before = mask.copy()
    document.push(_accept_everything(mask, np.random.default_rng(1)), "Accept prediction")
    after = mask.copy()
    document.undo_stack.undo()  # at once: most likely still being compressed
    np.testing.assert_array_equal(mask, before)
    command = document.undo_stack.command(0)
    qtbot.waitUntil(lambda: command.diff is None, timeout=10_000)
    document.undo_stack.redo()
    np.testing.assert_array_equal(mask, after)

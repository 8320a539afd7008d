"""The Images list and the title follow every edit, undo and redo at once, not the saves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.core.edits import paste_labels  # noqa: E402
from segstudio.gui.panels.images import labelled_percent  # noqa: E402
from tests.gui.window_helpers import drag, key, make_project, open_window  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot, tmp_path, isbi_dir):
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / f"{n:02d}.png" for n in (0, 1)])
    window = open_window(qtbot, project.root)
    qtbot.waitUntil(lambda: "0% labelled" in list_text(window), timeout=5000)
    return window


def list_text(window) -> str:
    return window.images_panel.list.item(0).text()


def shows_fraction(qtbot, window, fraction: float) -> None:
    """The list shows `fraction` well before the autosave (3 s) could have told it."""
    expected = f"00.png\n{labelled_percent(fraction)} labelled"
    qtbot.waitUntil(lambda: list_text(window) == expected, timeout=1000)


def labelled(window) -> float:
    return float(np.count_nonzero(window.current_mask() != UNLABELLED)) / window.current_mask().size


def test_a_few_strokes_never_read_as_0_percent(qtbot, window):
    window.paint.brush_size = 8.0
    drag(qtbot, window, [(100.5, 100.5), (140.5, 100.5)])
    assert 0 < labelled(window) < 0.005
    qtbot.waitUntil(lambda: list_text(window) == "00.png\n<1% labelled", timeout=1000)
    assert [labelled_percent(f) for f in (0.0, 0.004, 0.006, 0.994, 0.996, 1.0)] == [
        "0%", "<1%", "1%", "99%", ">99%", "100%"]


def test_list_follows_strokes_undo_and_redo_before_any_save(qtbot, window):
    saved = []
    window.labelsSaved.connect(saved.append)
    window.paint.brush_size = 60.0
    drag(qtbot, window, [(20.5, row) for row in (30.5, 500.5)])  # a thick line down the image
    drag(qtbot, window, [(col, 200.5) for col in (20.5, 500.5)])
    after_two = labelled(window)
    assert 0.15 < after_two < 0.3
    shows_fraction(qtbot, window, after_two)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    after_one = labelled(window)
    assert after_one < after_two - 0.05
    shows_fraction(qtbot, window, after_one)  # undo goes down, not up
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    shows_fraction(qtbot, window, 0.0)
    key(qtbot, window, Qt.Key.Key_Z, CTRL_SHIFT)
    shows_fraction(qtbot, window, after_one)
    assert saved == []  # all of the above without a save
    assert window.save_labels() and saved == [window.current_entry]
    assert list_text(window) == f"00.png\n{labelled_percent(after_one)} labelled"


def test_apply_mask_edit_marks_unsaved_autosaves_and_updates_the_list(qtbot, window):
    changed, saved = [], []
    window.labelsChanged.connect(changed.append)
    window.labelsSaved.connect(saved.append)
    mask = window.current_mask()
    prediction = np.zeros(mask.shape, np.uint8)
    prediction[: mask.shape[0] // 4] = 1
    window.apply_mask_edit(paste_labels(mask, prediction), "Accept prediction")
    assert changed == [window.current_entry] and window.isWindowModified()
    assert window.windowTitle().endswith("[*]") and window.autosave_timer.isActive()
    shows_fraction(qtbot, window, 1.0)
    assert window.isWindowModified()  # still unsaved until the autosave
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    shows_fraction(qtbot, window, 0.0)
    assert not window.isWindowModified()  # back to the state on disk
    key(qtbot, window, Qt.Key.Key_Y, CTRL)
    assert window.isWindowModified()
    with qtbot.waitSignal(window.labelsSaved, timeout=6000):  # the autosave
        pass
    assert not window.isWindowModified() and list_text(window) == "00.png\n100% labelled"


def test_list_follows_a_class_deletion_in_every_image(qtbot, window, monkeypatch):
    from segstudio.gui.panels import classes as classes_panel

    other = window.project.images[1]
    labels = np.full((512, 512), 1, np.uint8)
    labels[:128] = 0
    window.project.save_labels(other, labels)  # another image, all labelled
    window.images_panel.set_fraction(other, 1.0)
    monkeypatch.setattr(classes_panel, "ask_delete_class", lambda *_: (True, None))
    window.classes_panel.select(1)
    qtbot.mouseClick(window.classes_panel.delete_button, Qt.MouseButton.LeftButton)
    assert window.images_panel.list.item(1).text() == "01.png\n25% labelled"

"""What the class and project dialogs tell the user before and after they act."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from tests.gui.window_helpers import drag, key, make_project, open_window  # noqa: E402


def answer_dialog(qtbot, seen: dict, button) -> None:
    """Once the modal dialog is up: note its texts, then press `button`."""

    def look():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, look)
            return
        seen["texts"] = [label.text() for label in dialog.findChildren(QLabel)]
        seen["ok_text"] = dialog.findChild(QDialogButtonBox).button(
            QDialogButtonBox.StandardButton.Ok).text()
        dialog.findChild(QDialogButtonBox).button(button).click()

    QTimer.singleShot(0, look)


def test_delete_class_dialog_counts_pixels_and_images_and_warns(qtbot, tmp_path, isbi_dir):
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / f"{n:02d}.png"
                                                for n in (0, 1, 2)])
    saved = np.full((512, 512), UNLABELLED, np.uint8)
    saved[:10, :30] = 1  # 300 "cell" pixels in a label file only
    project.save_labels(project.images[1], saved)
    window = open_window(qtbot, project.root)
    mask = window.current_mask()
    key(qtbot, window, Qt.Key.Key_2)
    drag(qtbot, window, [(100.5, 100.5), (200.5, 100.5)])  # unsaved "cell" pixels
    live = int(np.count_nonzero(mask == 1))
    assert live > 0
    window.classes_panel.select(1)
    seen = {}
    answer_dialog(qtbot, seen, QDialogButtonBox.StandardButton.Cancel)
    qtbot.mouseClick(window.classes_panel.delete_button, Qt.MouseButton.LeftButton)
    text = " ".join(seen["texts"])
    assert f"{live + 300:,} labelled pixels in 2 of the 3 images are “cell”" in text
    assert "cannot be undone" in text
    assert [c.name for c in window.project.classes] == ["membrane", "cell"]  # cancelled

    window.classes_panel.select(0)
    answer_dialog(qtbot, seen, QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(window.classes_panel.delete_button, Qt.MouseButton.LeftButton)
    assert "No pixels are labelled “membrane”" in " ".join(seen["texts"])
    assert seen["ok_text"] == "Delete"
    assert [c.name for c in window.project.classes] == ["cell"]


def test_new_project_dialog_counts_files_and_lists_the_skipped_ones(
        qtbot, tmp_path, isbi_dir, monkeypatch):
    from segstudio.gui import dialogs

    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n:02d}.png").write_bytes((isbi_dir / "images" / f"{n:02d}.png").read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "notes.txt").write_text("not an image")
    seen = []

    def accept(dialog):
        seen.append(dialog.summary.text())
        dialog.location.setText(str(tmp_path / "proj"))
        return True

    monkeypatch.setattr(dialogs.NewProjectDialog, "exec", accept)
    window = open_window(qtbot)
    assert window.new_project_dialog(folder)
    assert "5 image files" in seen[0] and "skipped and listed" in seen[0]
    assert len(window.project.images) == 4
    title, message = window.errors[-1]
    assert title == "Some files were skipped" and "The project has 4 images" in message
    assert "broken.png" in message and "notes.txt" in message
    assert window.last_message_box.isVisible()


def test_ctrl_n_asks_for_the_image_folder_and_makes_the_project(
        qtbot, tmp_path, isbi_dir, monkeypatch):
    """The menu action passed its checked state (False) as the folder: a TypeError."""
    from PySide6.QtWidgets import QFileDialog

    from segstudio.gui import dialogs

    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(2):
        (folder / f"{n:02d}.png").symlink_to(isbi_dir / "images" / f"{n:02d}.png")
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *args: asked.append(args[1]) or str(folder))

    def accept(dialog):
        dialog.location.setText(str(tmp_path / "proj"))
        return True

    monkeypatch.setattr(dialogs.NewProjectDialog, "exec", accept)
    window = open_window(qtbot)
    key(qtbot, window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.project is not None, timeout=5000)
    assert asked == ["Folder of images to label"] and not window.errors
    assert window.project.root == tmp_path / "proj" and len(window.project.images) == 2


def test_the_class_swatch_keeps_its_colour_in_the_selected_row(qapp):
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    from segstudio.gui.panels.classes import color_icon

    pixmap = color_icon((230, 25, 75)).pixmap(QSize(16, 16), QIcon.Mode.Selected)
    assert pixmap.toImage().pixelColor(8, 8).getRgb()[:3] == (230, 25, 75)


def test_key_0_chooses_the_tenth_class(qtbot, tmp_path, isbi_dir):
    names = [f"class {n}" for n in range(1, 12)]
    make_project(tmp_path / "p", [isbi_dir / "images" / "00.png"], names)
    window = open_window(qtbot, tmp_path / "p")
    key(qtbot, window, Qt.Key.Key_0)
    assert window.paint.class_index == 9
    key(qtbot, window, Qt.Key.Key_3)
    assert window.paint.class_index == 2
    rows = window.classes_panel.list
    assert rows.item(9).text() == "0  class 10" and "(key 0)" in rows.item(9).toolTip()
    assert rows.item(10).text() == "   class 11"


def test_period_and_comma_step_through_every_class_round_the_list(qtbot, tmp_path, isbi_dir):
    names = [f"class {n}" for n in range(1, 12)]
    make_project(tmp_path / "p", [isbi_dir / "images" / "00.png"], names)
    window = open_window(qtbot, tmp_path / "p")
    key(qtbot, window, Qt.Key.Key_0)
    key(qtbot, window, Qt.Key.Key_Period)  # the eleventh: no number key of its own
    assert window.paint.class_index == 10
    assert window.classes_panel.list.currentRow() == 10
    key(qtbot, window, Qt.Key.Key_Period)
    assert window.paint.class_index == 0
    key(qtbot, window, Qt.Key.Key_Comma)
    assert window.paint.class_index == 10


def test_a_new_project_takes_its_classes_and_colours_from_a_classes_file(
        qtbot, tmp_path, isbi_dir, camvid_dir, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from segstudio.gui import dialogs

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[2]))
    (tmp_path / "broken.json").write_text("{not json")
    typed_after = {}

    def accept(dialog):
        dialog.location.setText(str(tmp_path / f"proj{len(typed_after)}"))
        assert not dialog.load_classes(tmp_path / "broken.json")
        assert dialog.classes.text() == dialogs.DEFAULT_CLASSES  # kept
        assert dialog.load_classes(camvid_dir / "classes.json")
        assert dialog.classes.text().startswith("Sky, Building, Pole")
        if typed_after:
            dialog.classes.selectAll()
            qtbot.keyClicks(dialog.classes, "road, car")  # names typed: the file is let go
        typed_after[len(typed_after)] = True
        return True

    monkeypatch.setattr(dialogs.NewProjectDialog, "exec", accept)
    window = open_window(qtbot)
    assert window.new_project_dialog(isbi_dir / "images")
    assert "broken.json" in warned[0]
    classes = window.project.classes
    assert len(classes) == 11 and classes[0].name == "Sky"
    assert tuple(classes[3].color) == (128, 64, 128)  # CamVid's road colour
    assert window.new_project_dialog(isbi_dir / "images")
    assert [c.name for c in window.project.classes] == ["road", "car"]


def test_new_project_says_what_keeps_ok_from_going_on_and_keeps_what_was_typed(
        qtbot, tmp_path, isbi_dir):
    """A blank folder made the project wherever segstudio was started, blank classes one
    class 'foreground', and duplicate names or an existing project closed the dialog to
    fail after it, losing what was typed (found by QA)."""
    from segstudio.gui.dialogs import NewProjectDialog

    make_project(tmp_path / "existing", [isbi_dir / "images" / "00.png"])
    dialog = NewProjectDialog(tmp_path / ("a_long_folder_name_" * 8), 3)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.width() < 900  # the summary wraps a long folder path
    cases = [("", "cell, membrane", "Choose a folder for the project."),
             (str(tmp_path / "existing"), "cell", "is a segstudio project already"),
             (str(tmp_path / "new"), " , ", "Type the class names"),
             (str(tmp_path / "new"), "cell, cell", "Classes: class names must be unique")]
    for folder, classes, problem in cases:
        dialog.location.setText(folder)
        dialog.classes.setText(classes)
        qtbot.keyClick(dialog.classes, Qt.Key.Key_Return)
        assert dialog.isVisible() and dialog.result() == 0
        assert problem in dialog.problem.text() and dialog.problem.isVisible()
        assert dialog.location.text() == folder and dialog.classes.text() == classes
    dialog.location.setText("relative")  # next to the image folder, as suggested
    dialog.classes.setText("cell, membrane")
    qtbot.keyClick(dialog.classes, Qt.Key.Key_Return)
    assert not dialog.isVisible() and dialog.result() == 1
    assert dialog.project_folder() == tmp_path / "relative"
    assert [c.name for c in dialog.project_classes()] == ["cell", "membrane"]

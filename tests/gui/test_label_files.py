"""File > Import Labels and File > Export Labels, driven through their dialogs."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.gui import label_files  # noqa: E402
from tests.gui.window_helpers import drag, key, make_project, open_window  # noqa: E402

SIZE = (512, 512)  # the ISBI slices'


def fill_dialog(monkeypatch, dialog_class, fill) -> None:
    """The dialog opens, `fill(dialog)` sets its fields, and it is accepted as OK does."""

    def exec_(dialog):
        fill(dialog)
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(dialog_class, "exec", exec_)


@pytest.fixture
def labelled_window(qtbot, tmp_path, isbi_dir):
    """Two slices; a stroke painted, not yet saved, on the first one."""
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / f"{n:02d}.png"
                                               for n in (0, 1)])
    window = open_window(qtbot, project.root)
    key(qtbot, window, Qt.Key.Key_2)
    drag(qtbot, window, [(100.5, 100.5), (300.5, 100.5)])
    assert window.current_mask()[100, 200] == 1 and window.documents[project.images[0].id].dirty
    return window


def write_masks(folder, values: dict[str, int]) -> dict[str, np.ndarray]:
    """0/255 masks named like the slices, with `values[name]` in a corner."""
    folder.mkdir()
    masks = {}
    for name, corner in values.items():
        mask = np.zeros(SIZE, np.uint8)
        mask[:, 256:] = 255
        mask[:8, :8] = corner
        Image.fromarray(mask).save(folder / f"{name}_mask.png")
        masks[name] = mask
    return masks


def test_importing_masks_keeps_labels_painted_in_the_window(qtbot, monkeypatch, tmp_path,
                                                            labelled_window):
    window = labelled_window
    project = window.project
    write_masks(tmp_path / "masks", {"00": 0, "01": 0})

    def fill(dialog):
        dialog.kind.setCurrentIndex(dialog.kind.findData("masks"))
        dialog.source.edit.setText(str(tmp_path / "masks"))
        dialog.by_values.setChecked(True)
        dialog.values.setText("0,255")

    fill_dialog(monkeypatch, label_files.ImportLabelsDialog, fill)
    informed = []
    monkeypatch.setattr(label_files, "_inform", lambda _w, title, text: informed.append(text))
    window.actions_.import_labels.trigger()
    assert not window.errors
    assert "Imported labels for 1 image(s)" in window.statusBar().currentMessage()
    # Said in the dialog's words, not the command line's (--overwrite).
    assert "already has labels, kept them (tick “Replace the labels" in informed[0]
    assert "--" not in informed[0]
    first, second = project.images
    kept = project.load_labels(first)  # painted in the window: saved, not replaced
    assert kept[100, 200] == 1 and kept[400, 10] == UNLABELLED
    imported = project.load_labels(second)
    assert (imported[:, :256] == 0).all() and (imported[:, 256:] == 1).all()
    window.show_entry(second)
    assert window.current_mask()[5, 300] == 1  # the window shows the imported labels
    assert window.images_panel._items[second.id].text().endswith("100% labelled")
    # Imported again, every image keeps its labels: nothing is written, and the history
    # stays (it was dropped all the same; found by QA).
    drag(qtbot, window, [(100.5, 300.5), (300.5, 300.5)])
    assert window.current_mask()[300, 200] == 1
    window.actions_.import_labels.trigger()
    assert "Imported labels for 0 image(s)" in window.statusBar().currentMessage()
    assert "undo history" not in window.statusBar().currentMessage()
    assert window.undo_group.canUndo()
    window.undo_group.undo()
    assert window.current_mask()[300, 200] == 0  # back to the imported label under it


def test_a_bad_mask_value_imports_nothing_and_names_the_file(qtbot, monkeypatch, tmp_path,
                                                             labelled_window):
    window = labelled_window
    project = window.project
    write_masks(tmp_path / "masks", {"00": 0, "01": 7})

    def fill(dialog):
        dialog.source.edit.setText(str(tmp_path / "masks"))
        dialog.by_values.setChecked(True)
        dialog.values.setText("0 255")
        dialog.overwrite.setChecked(True)

    fill_dialog(monkeypatch, label_files.ImportLabelsDialog, fill)
    window.actions_.import_labels.trigger()
    title, message = window.errors[-1]
    assert title == "Labels not imported" and "01_mask.png" in message and "7" in message
    assert "under “These values, one per class in order”" in message and "--" not in message
    assert not project.has_labels(project.images[1])
    assert window.current_mask()[100, 200] == 1  # the stroke is still there
    assert project.load_labels(project.images[0])[100, 200] == 1  # and saved


def test_the_dialog_refuses_mask_values_that_are_not_numbers(qtbot, labelled_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[2]))
    dialog = label_files.ImportLabelsDialog(labelled_window.project, labelled_window)
    dialog.source.edit.setText("/somewhere")
    qtbot.keyClicks(dialog.values, "0, white")  # typing chooses values
    assert dialog.by_values.isChecked()
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert warned == ["Mask values are whole numbers like 0,255, not '0, white'."]


def test_labelme_import_adds_its_classes_and_the_window_shows_them(qtbot, monkeypatch, tmp_path,
                                                                  labelled_window):
    window = labelled_window
    folder = tmp_path / "labelme"
    folder.mkdir()
    document = {"imagePath": "01.png", "imageHeight": 512, "imageWidth": 512, "shapes": [
        {"label": "mitochondrion", "shape_type": "polygon",
         "points": [[10, 10], [60, 10], [60, 40], [10, 40]]}]}
    (folder / "01.json").write_text(json.dumps(document))

    def fill(dialog):
        dialog.kind.setCurrentIndex(dialog.kind.findData("labelme"))
        assert not dialog.by_values.isVisibleTo(dialog) and dialog.background.isVisibleTo(dialog)
        dialog.source.edit.setText(str(folder))
        dialog.add_classes.setChecked(True)

    fill_dialog(monkeypatch, label_files.ImportLabelsDialog, fill)
    window.actions_.import_labels.trigger()
    assert not window.errors
    assert [c.name for c in window.project.classes] == ["membrane", "cell", "mitochondrion"]
    assert window.classes_panel.list.count() == 3
    window.show_entry(window.project.images[1])
    assert window.current_mask()[20, 30] == 2 and window.current_mask()[100, 100] == UNLABELLED


@pytest.mark.parametrize("kind", ["png", "coco-rle"])
def test_export_labels_writes_what_the_window_shows(qtbot, monkeypatch, tmp_path,
                                                    labelled_window, kind):
    from segstudio.core.masks import read_mask_values

    window = labelled_window
    window.training.jobs.show_result_messages = False
    out = tmp_path / "exported"

    def fill(dialog):
        dialog.format.setCurrentIndex(dialog.format.findData(kind))
        dialog.folder.edit.setText(str(out))

    fill_dialog(monkeypatch, label_files.ExportLabelsDialog, fill)
    with qtbot.waitSignal(window.training.jobs.jobFinished, timeout=30_000) as done:
        window.actions_.export_labels.trigger()
    shown = window.current_mask().copy()
    if kind == "png":
        assert "Labels of 1 image(s) written" in done.args[1]
        assert np.array_equal(read_mask_values(out / "00.png"), shown)
    else:
        coco = json.loads((out / "annotations.json").read_text())
        assert [c["name"] for c in coco["categories"]] == ["membrane", "cell"]
        assert sum(a["area"] for a in coco["annotations"]) == np.count_nonzero(shown == 1)


def test_export_labels_with_no_folder_says_so(qtbot, monkeypatch, labelled_window):
    """The dialog closed and nothing happened, without a word (found by QA)."""
    window = labelled_window
    fill_dialog(monkeypatch, label_files.ExportLabelsDialog,
                lambda dialog: dialog.folder.edit.setText("  "))
    window.actions_.export_labels.trigger()
    assert window.errors[-1] == ("Labels not exported",
                                 "Choose a folder to export the labels into.")
    assert not window.training.jobs.busy

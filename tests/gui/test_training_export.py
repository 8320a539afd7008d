"""Export and batch prediction from the window, in a worker thread with progress and cancel.

The project's models/ folder holds a small saved U-Net (untrained: these tests
are about the jobs, not the model's quality), so the window loads it on open.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtWidgets import QPushButton  # noqa: E402

from segstudio.core.classes import default_classes  # noqa: E402
from segstudio.core.masks import read_mask_values  # noqa: E402
from segstudio.core.project import Project  # noqa: E402

OPTIONS = {"depth": 2, "base_width": 4}


def save_small_model(folder, classes):
    from segstudio.ml.models import build_model
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, save_model

    model = build_model("unet", len(classes), in_channels=1, **OPTIONS)
    saved = SavedModel(model, architecture_dict("unet", len(classes), 1, **OPTIONS), classes,
                       Normalization.identity(1))
    return save_model(saved, folder)


@pytest.fixture
def window(qtbot, tmp_path, isbi_dir):
    from segstudio.gui.app import create_main_window

    project = Project.create(tmp_path / "project",
                             [isbi_dir / "images" / f"{i:02d}.png" for i in range(3)],
                             default_classes(["membrane", "cell"]))
    save_small_model(project.models_dir / "unet-20260101-000000", project.classes)
    window = create_main_window(path=str(project.root))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.training.jobs.show_result_messages = False
    return window


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_export_model_folder_and_torchscript(qtbot, window, tmp_path):
    import torch

    jobs = window.training.jobs
    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000) as done:
        assert jobs.export_model_folder(tmp_path / "copy")
    assert done.args[0] == "Export model folder"
    metadata = json.loads((tmp_path / "copy" / "model.json").read_text())
    assert [c["name"] for c in metadata["classes"]] == ["membrane", "cell"]

    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000):
        assert jobs.export_torchscript(tmp_path / "model.pt")
    scripted = torch.jit.load(str(tmp_path / "model.pt"))
    logits = scripted(torch.rand(1, 1, 64, 96) * 255)
    assert logits.shape == (1, 2, 64, 96)
    assert not window.errors


def test_predict_project_writes_masks_with_progress(qtbot, window, tmp_path):
    jobs = window.training.jobs
    progress = []
    jobs.jobProgress.connect(lambda done, total: progress.append((done, total)))
    out = tmp_path / "predictions"
    with qtbot.waitSignal(jobs.jobFinished, timeout=120_000) as done:
        assert jobs.predict_project(out)
    assert progress[-1] == (3, 3)
    result = done.args[1]
    assert len(result.written) == 3 and not result.stopped
    for path in result.written:
        assert path.is_file() and set(np.unique(read_mask_values(path))) <= {0, 1}
    assert (out / "overlays").is_dir()
    assert not jobs.busy


def test_cancel_a_folder_prediction(qtbot, window, tmp_path, isbi_dir):
    jobs = window.training.jobs
    with qtbot.waitSignal(jobs.jobFinished, timeout=120_000) as done:
        assert jobs.predict_images(isbi_dir / "images", tmp_path / "out", overlay=False)
        assert not jobs.predict_images(isbi_dir / "images", tmp_path / "other")  # one at a time
        assert window.errors[-1][0] == "Predict images"
        qtbot.waitSignal(jobs.jobProgress, timeout=60_000).wait()
        jobs.dialog.findChild(QPushButton).click()  # the progress dialog's Cancel button
    result = done.args[1]
    assert result.stopped and 0 < len(result.written) < 30
    assert not jobs.busy


def test_uncertainty_overlay_and_prediction_controls(qtbot, window):
    training, canvas = window.training, window.canvas
    qtbot.waitUntil(lambda: canvas.prediction_layer.indices is not None, timeout=30_000)
    assert canvas.uncertainty_layer.indices is None
    training.prediction_panel.uncertainty_check.setChecked(True)
    confidence = canvas.uncertainty_layer.indices
    assert confidence is not None and confidence.shape == (512, 512)
    training.prediction_panel.opacity_slider.setValue(30)
    assert canvas.prediction_layer.opacity() == pytest.approx(0.3)
    training.show_prediction_action.trigger()  # Model > Show prediction
    assert not canvas.prediction_layer.isVisible()
    assert not training.prediction_panel.show_check.isChecked()


def test_the_next_image_is_predicted_ahead(qtbot, window):
    live, entries = window.training.live, list(window.project.images)
    assert window.current_entry is entries[0]
    qtbot.waitUntil(lambda: entries[1].id in live._cache, timeout=30_000)
    dropped = live.worker.dropped
    window.show_entry(entries[1])
    # Shown at once from the prediction made ahead; nothing new to compute.
    assert live.shown[0] == entries[1].id
    assert window.canvas.prediction_layer.indices is not None
    assert live.worker.dropped == dropped
    # Browsing on keeps one image ahead.
    qtbot.waitUntil(lambda: entries[2].id in live._cache, timeout=30_000)


def test_closing_without_touching_the_settings_writes_none(qtbot, window):
    project_file = window.project.root / "project.json"
    window.close()
    assert "training" not in json.loads(project_file.read_text())["settings"]


def test_the_export_dialogs_open_in_the_project_folder(window, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filters: (asked.append(start), ("", ""))[1])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda parent, title, start="": (asked.append(start), "")[1])
    jobs = window.training.jobs
    jobs.ask_export_onnx()
    jobs.ask_export_torchscript()
    jobs.ask_export_model_folder()
    jobs.ask_predict_folder()  # the images to predict: then where the results go, above
    root = window.project.root
    assert asked == [str(root / "model.onnx"), str(root / "model.pt"), str(root), str(root)]



def test_the_predict_dialogs_open_in_a_new_folder_they_can_write_into(
        qtbot, window, monkeypatch, tmp_path, isbi_dir):
    """They opened in <project>/predictions, which did not exist ("Directory not found"),
    and in the project folder, which predictions may not go into."""
    import shutil

    from PySide6.QtWidgets import QFileDialog

    images = tmp_path / "slices"
    images.mkdir()
    shutil.copy(isbi_dir / "images" / "05.png", images)
    opened_in, answers = [], []

    def dialog(parent, title, start=""):
        opened_in.append(Path(start))
        assert Path(start).is_dir() and not any(Path(start).iterdir())
        return answers.pop(0)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", dialog)
    jobs = window.training.jobs
    answers[:] = [""]  # cancelled: the folder made for the dialog goes again
    jobs.ask_predict_project()
    assert opened_in == [window.project.root / "predictions"] and not opened_in[0].exists()
    answers[:] = [str(images), str(tmp_path / "slices-predictions")]
    opened_in.clear()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda parent, title, start="": (opened_in.append(Path(start)),
                                                         answers.pop(0))[1])
    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000):
        jobs.ask_predict_folder()
    assert opened_in[1] == tmp_path / "slices-predictions"  # accepted as suggested
    assert (tmp_path / "slices-predictions" / "05.png").is_file()
    # A folder without images is said at once: it asked where the results go first, and
    # left an empty folder for them (found by QA).
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no images here")
    answers[:], opened_in[:] = [str(tmp_path / "notes")], []
    jobs.ask_predict_folder()
    assert len(opened_in) == 1 and "no images" in window.errors[-1][1]
    assert not (tmp_path / "notes-predictions").exists()

def test_exporting_over_a_saved_model_asks_first(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    other = save_small_model(tmp_path / "other-model", default_classes(["a", "b"]))
    before = (other / "model.json").read_bytes()
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(other))
    answer = QMessageBox.StandardButton.Cancel
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *a: (asked.append(text), answer)[1])
    jobs = window.training.jobs
    jobs.ask_export_model_folder()
    assert asked == [f"{other} already holds a model. Replace it with the current one?"]
    assert not jobs.busy and (other / "model.json").read_bytes() == before
    answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000):
        jobs.ask_export_model_folder()
    classes = json.loads((other / "model.json").read_text())["classes"]
    assert [c["name"] for c in classes] == ["membrane", "cell"]

    # Weights without a model.json are a model too.
    (other / "model.json").unlink()
    answer, asked[:] = QMessageBox.StandardButton.Cancel, []
    jobs.ask_export_model_folder()
    assert asked and not (other / "model.json").exists()


def test_exporting_into_a_folder_of_other_files_makes_a_sub_folder(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    root = window.project.root  # where the dialog opens: accepting it must not litter it
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(root))
    jobs = window.training.jobs
    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000) as done:
        jobs.ask_export_model_folder()
    assert done.args[1] == root / "unet-model"
    assert (root / "unet-model" / "model.json").is_file() and not (root / "model.json").exists()


def test_the_prediction_summary_says_where_the_results_are_and_what_was_skipped(tmp_path):
    from segstudio.gui.panels.export import _describe
    from segstudio.ml.predict import FolderPrediction

    (tmp_path / "overlays").mkdir()
    skipped = [(tmp_path / f"{n}.tif", f"{n}.tif: unreadable") for n in range(7)]
    text = _describe(FolderPrediction(tmp_path, [tmp_path / "a.png"], skipped))
    assert text.splitlines() == [
        "Predicted 1 image(s).",
        f'Masks in {tmp_path}, colour overlays in its "overlays" folder.',
        "Skipped 7:", "  0.tif: unreadable", "  1.tif: unreadable", "  2.tif: unreadable",
        "  3.tif: unreadable", "  4.tif: unreadable", "  …and 2 more",
    ]

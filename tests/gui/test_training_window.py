"""Training from the window, end to end: the real engine on ISBI 2012 slices.

A project references a few real EM slices with partly painted labels (from
the data set's own masks). The tests click Train, watch validation IoU and the
live prediction arrive, stop, accept the prediction (and undo it), export to
ONNX, reopen the project with its saved model, and close the window while a
training runs. Small crops and a tiny U-Net keep every training to seconds.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtCore import Qt  # noqa: E402

from segstudio.core.classes import UNLABELLED, default_classes  # noqa: E402
from segstudio.core.images import load_image  # noqa: E402
from segstudio.core.project import Project  # noqa: E402
from segstudio.gui import training_controller  # noqa: E402
from tests.gui.window_helpers import drag  # noqa: E402

# A fast configuration: a tiny U-Net on small crops, validating often.
FAST_SETTINGS = {"model": "unet", "crop_size": 64, "batch_size": 2, "lr": 0.003,
                 "loss": "ce", "augment": True, "limit": "time", "time_budget": 60,
                 "steps": 100, "device": "cpu", "continue_training": True}
FAST_OVERRIDES = {"model_options": {"depth": 2, "base_width": 4}, "val_interval_s": 0.5}
LABELLED = ["00", "01", "02"]  # painted partly; "02" is the validation image
UNLABELLED_IMAGE = "03"


def isbi_labels(isbi_dir, name: str, rows: slice) -> np.ndarray:
    """The data set's mask as class indices (0 membrane, 1 cell), only `rows` labelled."""
    truth = load_image(isbi_dir / "masks" / f"{name}.png")[:, :, 0]
    labels = np.full(truth.shape, UNLABELLED, dtype=np.uint8)
    labels[rows] = (truth[rows] > 127).astype(np.uint8)
    return labels


@pytest.fixture
def isbi_project(tmp_path, isbi_dir):
    names = [*LABELLED, UNLABELLED_IMAGE]
    project = Project.create(tmp_path / "isbi-project",
                             [isbi_dir / "images" / f"{n}.png" for n in names],
                             default_classes(["membrane", "cell"]))
    by_name = {entry.name.split(".")[0]: entry for entry in project.images}
    for name in LABELLED:
        project.save_labels(by_name[name], isbi_labels(isbi_dir, name, slice(0, 320)))
    project.set_split(by_name["02"], "val")
    project.set_setting("training", FAST_SETTINGS)
    return project


def open_window(qtbot, path):
    from segstudio.gui.app import create_main_window

    window = create_main_window(path=str(path))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.training.config_overrides = dict(FAST_OVERRIDES)
    window.training.jobs.show_result_messages = False
    return window


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def show_image(qtbot, window, stem: str):
    entry = next(e for e in window.project.images if e.name.startswith(stem))
    with qtbot.waitSignal(window.currentImageChanged, timeout=5000):
        window.show_entry(entry)
    return entry


def test_train_watch_stop_accept_export(qtbot, isbi_project, tmp_path):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    assert training.panel.settings()["crop_size"] == 64  # settings come from the project
    show_image(qtbot, window, UNLABELLED_IMAGE)
    accept_action = next(a for a in window.menu("Model").actions()
                         if a.text() == "&Accept Prediction")
    assert not accept_action.isEnabled()  # nothing to accept yet (it opened a warning)

    with qtbot.waitSignal(training.trainingStarted, timeout=5000):
        click(qtbot, training.panel.train_button)
    assert training.running and not training.panel.train_button.isEnabled()
    assert "'val' split" in training.metrics.validation_label.text()
    assert training.panel.model_label.text().endswith("from scratch on the CPU…")

    # Per-class IoU on the validation image arrives while the training runs.
    qtbot.waitUntil(lambda: training.last_validation is not None, timeout=60_000)
    report = training.last_validation
    assert set(report.iou) == {"membrane", "cell"}
    assert all(v is None or 0.0 <= v <= 1.0 for v in report.iou.values())
    assert training.metrics.iou_table.item(0, 0).text() == "membrane"
    qtbot.waitUntil(lambda: len(training.metrics.loss_curve.points) >= 2, timeout=30_000)
    assert training.panel.progress_bar.value() > 0

    # The live prediction for the image on screen appears as an overlay.
    canvas = window.canvas
    qtbot.waitUntil(lambda: canvas.prediction_layer.indices is not None, timeout=30_000)
    prediction = canvas.prediction_layer.indices
    assert prediction.shape == (512, 512) and set(np.unique(prediction)) <= {0, 1}

    # Painting goes on while training: the stroke lands in the mask and is autosaved,
    # where the running training's ProjectSource reads it; the training keeps going.
    window.canvas.fit_to_window()
    last_step = training.metrics.loss_curve.points[-1][0]
    with qtbot.waitSignal(window.labelsSaved, timeout=15_000):
        drag(qtbot, window, [(100, 400), (200, 420), (300, 450)])
        assert (window.current_mask()[390:460, 90:310] != UNLABELLED).any()
    assert window.project.label_path(window.current_entry).is_file()
    qtbot.waitUntil(lambda: training.metrics.loss_curve.points[-1][0] > last_step,
                    timeout=30_000)

    # The window keeps working: switching image drops the old overlay, predicts the new one.
    show_image(qtbot, window, "01")
    qtbot.waitUntil(lambda: training.live.shown is not None
                    and training.live.shown[0] == window.current_entry.id, timeout=30_000)

    # Stop is honoured within a second, and the model is saved in models/.
    with qtbot.waitSignal(training.trainingFinished, timeout=5000) as finished:
        click(qtbot, training.panel.stop_button)
    assert finished.args[0].reason == "stopped"
    assert training.stopped_after_s is not None and training.stopped_after_s < 1.0
    assert not training.running and training.panel.train_button.isEnabled()
    saved = list((isbi_project.root / "models").glob("*/model.json"))
    assert len(saved) == 1 and training.model_dir == saved[0].parent

    # Accept the prediction where unlabelled (rows 320.. of "01"), then undo it.
    qtbot.waitUntil(lambda: training.prediction_panel.accept_all_button.isEnabled(),
                    timeout=30_000)
    assert accept_action.isEnabled()
    training.prediction_panel.set_has_prediction(False)  # as when the image changes
    assert not accept_action.isEnabled()
    training.prediction_panel.set_has_prediction(True)
    before = window.current_mask().copy()
    click(qtbot, training.prediction_panel.accept_unlabelled_button)
    after = window.current_mask()
    assert not np.array_equal(before, after)
    assert np.array_equal(after[:320], before[:320])  # labelled pixels kept
    assert (after[320:] != UNLABELLED).all()
    window.undo_group.undo()
    assert np.array_equal(window.current_mask(), before)

    # Export to ONNX in the background; the file runs in onnxruntime.
    onnxruntime = pytest.importorskip("onnxruntime")
    path = tmp_path / "exported" / "model.onnx"
    with qtbot.waitSignal(training.jobs.jobFinished, timeout=60_000):
        assert training.jobs.export_onnx(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = load_image(isbi_project.images[0].path).astype(np.float32)
    logits = session.run(None, {"image": image.transpose(2, 0, 1)[None]})[0]
    assert logits.shape == (1, 2, 512, 512)
    assert not window.errors, window.errors


def train_steps(qtbot, training, steps: int):
    """Click Train with the fast settings limited to `steps`; the DoneReport once it ends."""
    training.panel.set_settings({**FAST_SETTINGS, "limit": "steps", "steps": steps})
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000) as finished:
        click(qtbot, training.panel.train_button)
    return finished.args[0]


def test_reopening_the_project_loads_the_latest_model(qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    assert not training.panel.continue_check.isEnabled()  # no model to start from yet
    assert train_steps(qtbot, training, 8).steps == 8
    assert training.panel.continue_check.isChecked()
    saved_dir = training.model_dir
    assert saved_dir is not None and saved_dir.parent == isbi_project.root / "models"

    window.training.panel.batch_spin.setValue(3)  # changed, not trained with: kept on close
    window.close()

    reopened = open_window(qtbot, isbi_project.root)
    assert reopened.training.panel.settings()["batch_size"] == 3
    note = reopened.training.metrics.validation_label.text()
    assert note == "Validation: the 1 image(s) of the 'val' split."  # what the figures are of
    assert reopened.training.model_dir == saved_dir
    assert reopened.training.live.model is not None
    assert reopened.training.panel.settings()["steps"] == 8  # persisted in project.json
    show_image(qtbot, reopened, UNLABELLED_IMAGE)
    qtbot.waitUntil(lambda: reopened.canvas.prediction_layer.indices is not None, timeout=30_000)

    # Training again starts from this model.
    assert reopened.training.panel.continue_check.isEnabled()
    with qtbot.waitSignal(reopened.training.trainingFinished, timeout=60_000):
        click(qtbot, reopened.training.panel.train_button)
    assert "from the current model" in reopened.training.start_note
    reopened.close()


def test_reopening_the_project_uses_the_model_loaded_by_hand(qtbot, isbi_project, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_steps(qtbot, training, 4)
    older = training.model_dir
    training.panel.continue_check.setChecked(False)
    train_steps(qtbot, training, 4)
    assert training.model_dir != older  # the newer one is in use
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(older))
    assert training.panel.status_label.text().startswith("Finished")
    training.load_action.trigger()  # Model > Load model...
    assert training.model_dir == older
    assert training.panel.status_label.text() == ""  # the last training's line is not its
    window.close()
    reopened = open_window(qtbot, isbi_project.root)
    assert reopened.training.model_dir == older  # not the most recent one
    assert older.name in reopened.training.panel.model_label.text()


def test_settings_edited_by_hand_into_other_types_are_ignored(qtbot, isbi_project):
    """"model_in_use": 5 or "training": "fast" in project.json ended in a traceback, and
    the project opened without its model (found by QA)."""
    window = open_window(qtbot, isbi_project.root)
    train_steps(qtbot, window.training, 2)
    model_dir = window.training.model_dir
    window.close()
    path = isbi_project.root / "project.json"
    data = json.loads(path.read_text())
    data["settings"].update(model_in_use=5, training="fast")
    path.write_text(json.dumps(data))
    window = open_window(qtbot, isbi_project.root)
    assert window.training.model_dir == model_dir  # the latest, as with no model in use
    assert window.training.panel.settings()["model"] == "unet"  # the defaults


def test_without_a_val_split_images_are_held_out_and_named(qtbot, isbi_project):
    for entry in isbi_project.images:
        isbi_project.set_split(entry, "train")
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    training.panel.set_settings({**FAST_SETTINGS, "limit": "steps", "steps": 6})
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000):
        click(qtbot, training.panel.train_button)
        assert "held out automatically" in training.metrics.validation_label.text()
    assert training.last_validation is not None  # validated on the held-out image
    note = training.metrics.validation_label.text()
    held_out = training.source.held_out
    assert len(held_out) == 1 and held_out[0] in note


def start_a_second_training(qtbot, training):
    """Train a first model, then start another from scratch; the first one's folder."""
    train_steps(qtbot, training, 4)
    first = training.model_dir
    training.panel.set_settings({**FAST_SETTINGS, "time_budget": 60})
    training.panel.continue_check.setChecked(False)
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    return first


def test_an_export_during_a_training_says_it_is_a_snapshot(qtbot, isbi_project, tmp_path):
    """It wrote the model of some step without a word; the model the training keeps at the
    end (its best) may be another (found by QA)."""
    window = open_window(qtbot, isbi_project.root)
    training, jobs = window.training, window.training.jobs
    train_steps(qtbot, training, 2)
    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000):
        assert jobs.export_model_folder(tmp_path / "saved")
    assert jobs.last_message == f"Written: {tmp_path / 'saved'}"  # the model in use: no note
    training.panel.set_settings({**FAST_SETTINGS, "time_budget": 60})
    click(qtbot, training.panel.train_button)
    qtbot.waitUntil(lambda: training.live.run == training.runs_started, timeout=60_000)
    with qtbot.waitSignal(jobs.jobFinished, timeout=60_000):
        assert jobs.export_model_folder(tmp_path / "snapshot")
    assert "This is the model in training" in jobs.last_message
    assert "may be another" in jobs.last_message
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000):
        training.stop()


def test_close_while_training_stops_the_worker_cleanly(qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    first = start_a_second_training(qtbot, training)
    thread = training.thread
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 10
    assert thread.isFinished() and not thread.isRunning()
    assert not training.live.thread.isRunning()
    # What was trained is not lost: the model was saved on the way out, and is the one
    # in use when the project opens again (it opened with the first one).
    stopped = [d for d in isbi_project.models_dir.iterdir() if d != first]
    assert len(stopped) == 1 and (stopped[0] / "model.json").is_file()
    assert open_window(qtbot, isbi_project.root).training.model_dir == stopped[0]


def test_closing_the_window_waits_for_a_training_stopped_by_a_class_change(qtbot,
                                                                             isbi_project):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    thread = training.thread
    assert window.add_class("mitochondria")  # stops it without waiting
    window.close()
    assert thread.isFinished()


def test_opening_another_project_while_training(qtbot, isbi_project, tmp_path, isbi_dir):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    first = start_a_second_training(qtbot, training)
    assert window.rename_class(1, "cytoplasm")  # kept by the training: its model takes it
    thread = training.thread
    other = Project.create(tmp_path / "other", [isbi_dir / "images" / "10.png"],
                           default_classes(["membrane", "cell", "mitochondria"]))
    assert window.open_project(other.root)
    assert thread.isFinished() and not training.running
    assert training.panel.train_button.isEnabled()
    # The stopped training's model went to its own project, said so; the new one has none.
    stopped = [d for d in isbi_project.models_dir.iterdir() if d != first]
    assert len(stopped) == 1 and (stopped[0] / "model.json").is_file()
    assert stopped[0].name in window.statusBar().currentMessage()
    qtbot.wait(200)  # reports queued by the old training arrive and are ignored
    assert training.model_dir is None and training.live.model is None
    assert window.canvas.prediction_layer.indices is None
    assert training.metrics.iou_table.rowCount() == 4  # three classes and the mean
    assert window.open_project(isbi_project.root)  # back: with the model it stopped with
    assert training.model_dir == stopped[0]
    assert [c.name for c in training.live.model.classes] == ["membrane", "cytoplasm"]


def test_class_edits_while_training(qtbot, isbi_project, isbi_dir, monkeypatch):
    """New colours, names or images leave the training running and the model in use (under
    the new names); a new class stops it, saying why."""
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    training.panel.set_settings({**FAST_SETTINGS, "time_budget": 5})
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    assert window.recolor_class(1, (10, 20, 30)) and window.rename_class(1, "cytoplasm")
    assert window.add_images([isbi_dir / "images" / "05.png"])
    assert training.running
    table = training.metrics.iou_table
    assert table.item(1, 0).text() == "cytoplasm"  # at once, not when the training ends
    with qtbot.waitSignal(training.validated, timeout=60_000):
        pass
    assert table.item(1, 0).text() == "cytoplasm" and table.item(1, 1).text() != "n/a"
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000):
        note = training.metrics.validation_label.text()
        assert "'val' split" in note
    saved = json.loads((training.model_dir / "model.json").read_text())
    assert [(c["name"], c["color"]) for c in saved["classes"]][1] == ("cytoplasm", [10, 20, 30])
    assert set(saved["metrics"]["iou"]) == {"membrane", "cytoplasm"}
    assert "cytoplasm" in training.live.model.classes[1].name
    assert training.metrics.validation_label.text() == note  # it was blanked

    # Renamed again with no training running: the model is kept under the new name.
    model_dir = training.model_dir
    assert window.rename_class(0, "boundary")
    assert training.model_dir == model_dir and training.live.model is not None
    assert training.panel.model_label.text().startswith("Model: U-Net")
    table = training.metrics.iou_table
    assert table.item(0, 0).text() == "boundary" and table.item(0, 1).text() != "n/a"

    # Adding a class says first that the model will not fit the new classes.
    from PySide6.QtWidgets import QInputDialog

    asked = []
    monkeypatch.setattr(QInputDialog, "getText",
                        lambda parent, title, label, *a, **k: (asked.append(label), ("", False))[1])
    window.classes_panel.add_clicked()
    assert "train a model for the new ones" in asked[0]

    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    stopped_thread = training.thread
    waited = []  # the window is not kept waiting for the training's last step
    with monkeypatch.context() as patch:
        patch.setattr(training_controller, "stop_thread", lambda *a, **k: waited.append(a))
        assert window.add_class("mitochondria")
    assert not waited
    assert not training.running and training.panel.train_button.isEnabled()
    assert training.panel.status_label.text().startswith("Training stopped: the classes changed")
    assert training.panel.model_label.text().startswith("Train a model for these classes")
    panel = training.prediction_panel
    assert not panel.accept_all_button.isEnabled() and "No model yet" in panel.status_label.text()
    # Train at once: the stopped training ends first (its model, of the old classes, is
    # not the model in use).
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    assert stopped_thread.isFinished()
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000):
        training.stop()
    assert [c.name for c in training.live.model.classes] == ["boundary", "cytoplasm",
                                                              "mitochondria"]


def test_a_class_renamed_with_no_model_shows_its_new_name_in_the_metrics(qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    assert window.rename_class(1, "cytoplasm")
    assert window.training.metrics.iou_table.item(1, 0).text() == "cytoplasm"

def test_a_class_renamed_during_a_training_closed_with_the_window_keeps_the_model(
        qtbot, isbi_project):
    """Closing stops the training and saves its model; that model kept the old name (its
    report came after the window stopped listening), so the reopened project had no model."""
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    training.panel.set_settings({**FAST_SETTINGS, "time_budget": 30})
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    assert window.rename_class(1, "cytoplasm")
    window.close()
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    assert training.model_dir is not None and training.live.model is not None
    assert [c.name for c in training.live.model.classes] == ["membrane", "cytoplasm"]
    assert training.panel.model_label.text().startswith("Model: U-Net")


def test_stopping_before_the_first_step_shows_the_model_still_in_use(qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_steps(qtbot, training, 4)
    model_dir, line = training.model_dir, training.panel.model_label.text()
    assert line.startswith("Model: U-Net")
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000) as finished:
        click(qtbot, training.panel.train_button)
        window.rename_class(1, "cytoplasm")  # while it starts: the model takes the name
        training.stop()
    assert finished.args[0].steps == 0
    assert training.model_dir == model_dir and training.panel.model_label.text() == line
    assert training.metrics.iou_table.item(1, 0).text() == "cytoplasm"
    assert training.metrics.iou_table.item(2, 1).text() != "n/a"  # the model's own figures
    saved = json.loads((model_dir / "model.json").read_text())
    assert [c["name"] for c in saved["classes"]] == ["membrane", "cytoplasm"]


def test_stopping_the_first_training_before_its_first_step_says_there_is_no_model(
        qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000) as finished:
        click(qtbot, training.panel.train_button)
        assert "shows its prediction here" in training.prediction_panel.status_label.text()
        training.stop()
    assert finished.args[0].steps == 0 and training.model_dir is None
    assert training.prediction_panel.status_label.text().startswith("No model yet")


def test_training_errors_show_as_messages_and_the_window_keeps_working(qtbot, tmp_path,
                                                                        isbi_dir):
    project = Project.create(tmp_path / "no-labels", [isbi_dir / "images" / "00.png"],
                             default_classes(["membrane", "cell"]))
    project.set_setting("training", FAST_SETTINGS)
    window = open_window(qtbot, project.root)
    training = window.training
    with qtbot.waitSignal(training.trainingFailed, timeout=30_000) as failed:
        click(qtbot, training.panel.train_button)
    assert "label" in failed.args[0].lower()
    assert window.errors and window.errors[-1][0] == "Training failed"
    assert training.panel.train_button.isEnabled() and not training.running
    assert training.panel.model_label.text() == "No model yet: click Train."  # not "Training…"
    # Nothing to accept or export without a model: a message, no crash.
    training.live.accept()
    assert training.jobs.export_onnx(tmp_path / "x.onnx") is False
    assert window.errors[-1][0] == "No model"


def test_switching_images_fast_predicts_only_the_newest(qtbot, isbi_project):
    """A saved model is loaded on open; rapid image changes drop the stale requests."""
    from segstudio.ml.models import build_model
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, save_model

    options = FAST_OVERRIDES["model_options"]
    model = build_model("unet", 2, in_channels=1, **options)
    save_model(SavedModel(model, architecture_dict("unet", 2, 1, **options),
                          isbi_project.classes, Normalization.identity(1)),
               isbi_project.models_dir / "unet-20260101-000000")
    window = open_window(qtbot, isbi_project.root)
    live = window.training.live
    assert live.model is not None  # available at once, before any training
    qtbot.waitUntil(lambda: window.canvas.prediction_layer.indices is not None, timeout=30_000)

    computed = []
    live.worker.ready.connect(lambda key, result: computed.append(key))
    entries = list(window.project.images)
    switches = 0
    for _ in range(3):
        for entry in entries:
            window.show_entry(entry)  # each change asks for a prediction at once
            switches += 1
    last = entries[-1]
    qtbot.waitUntil(lambda: live.shown is not None and live.shown[0] == last.id, timeout=30_000)
    qtbot.waitUntil(lambda: not live.worker.busy.is_set() and not live.worker.has_pending,
                    timeout=30_000)
    assert live.worker.dropped > 0  # requests replaced before the worker got to them
    assert len(computed) < switches  # stale requests were never computed
    assert window.canvas.prediction_layer.indices.shape == (512, 512)

    # Going back to an image shows its prediction at once, from the cache.
    first = entries[0]
    assert first.id in live._cache
    window.show_entry(first)
    assert live.shown[0] == first.id and window.canvas.prediction_layer.indices is not None


def test_a_diverging_training_is_reported_and_its_last_good_model_kept(qtbot, isbi_project,
                                                                        monkeypatch):
    from segstudio.ml import step
    from segstudio.ml.saved import load_model

    good_step, calls = step.StepRunner._step, []

    def diverging_after_three(self, images, masks):  # as a too high learning rate would
        calls.append(1)
        return good_step(self, images, masks) if len(calls) <= 3 else None

    monkeypatch.setattr(step.StepRunner, "_step", diverging_after_three)
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    with qtbot.waitSignal(training.trainingFinished, timeout=60_000) as finished:
        click(qtbot, training.panel.train_button)
    done = finished.args[0]
    assert done.reason == "failed" and "nan" in done.error.lower() and done.steps == 3
    title, message = window.errors[-1]
    assert title == "Training stopped" and f"(step {done.steps}) is saved" in message
    assert load_model(training.model_dir).training["steps_done"] == done.steps
    assert training.live.model is not None  # the kept model draws the overlay
    assert not training.running and training.panel.train_button.isEnabled()


def test_a_continued_run_that_finds_nothing_better_keeps_the_model_without_a_copy(
        qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_steps(qtbot, training, 30)
    first = training.model_dir
    before = json.loads((first / "model.json").read_text())["metrics"]
    # Other images validate now: the kept model's scores are those on them, not its old ones.
    labelled = [e for e in window.project.images if window.project.has_labels(e)]
    assert window.set_split(labelled[0], "val")  # with "02", validating already
    training.config_overrides["lr"] = 1.0  # three steps at this rate ruin the weights
    train_steps(qtbot, training, 3)
    assert training.model_dir == first
    assert sorted(isbi_project.models_dir.iterdir()) == [first]
    status = training.panel.status_label.text()
    assert "the model it started from (kept" in status
    after = json.loads((first / "model.json").read_text())["metrics"]
    assert after["miou"] != before["miou"] and after["step"] == before["step"]
    assert f"best mIoU {after['miou']:.3f}" in status
    assert f"mIoU {after['miou']:.3f}" in training.metrics.summary_label.text()
    assert training.live.model.metrics["miou"] == after["miou"]


def test_a_kept_model_from_outside_the_project_is_not_written_to(qtbot, isbi_project, tmp_path):
    import shutil

    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_steps(qtbot, training, 30)
    elsewhere = shutil.copytree(training.model_dir, tmp_path / "elsewhere" / "model")
    shutil.rmtree(training.model_dir)
    before = (elsewhere / "model.json").read_bytes()
    assert training.load_model(elsewhere)  # as Model > Load model does
    labelled = [e for e in window.project.images if window.project.has_labels(e)]
    assert window.set_split(labelled[0], "val")  # other validation images: other scores
    training.config_overrides["lr"] = 1.0  # three steps at this rate ruin the weights
    train_steps(qtbot, training, 3)
    assert training.model_dir == elsewhere and "(kept" in training.panel.status_label.text()
    assert (elsewhere / "model.json").read_bytes() == before
    miou = training.live.model.metrics["miou"]  # its scores here, shown, not stored there
    assert miou != json.loads(before)["metrics"]["miou"]
    assert f"mIoU {miou:.3f}" in training.metrics.summary_label.text()

def test_a_model_loaded_from_outside_is_copied_into_the_project(qtbot, isbi_project, tmp_path,
                                                                monkeypatch):
    import shutil

    from PySide6.QtWidgets import QFileDialog

    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_steps(qtbot, training, 4)
    elsewhere = shutil.copytree(training.model_dir, tmp_path / "shared" / "cells")
    before = (elsewhere / "model.json").read_bytes()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(elsewhere))
    training.load_action.trigger()  # Model > Load Model...
    assert training.model_dir.parent == isbi_project.models_dir
    assert training.model_dir.name == "cells" and "Copied" in window.statusBar().currentMessage()
    assert window.rename_class(1, "cytoplasm")  # written to the project's copy only
    assert (elsewhere / "model.json").read_bytes() == before
    copied = json.loads((training.model_dir / "model.json").read_text())
    assert copied["classes"][1]["name"] == "cytoplasm"
    # A broken one is named where it is: it named a copy in the project, deleted at once.
    (elsewhere / "model.json").write_text("{ not json")
    kept = training.model_dir
    training.load_action.trigger()
    title, message = window.errors[-1]
    assert title == "Load model" and str(elsewhere / "model.json") in message
    assert training.model_dir == kept
    assert sorted(p.name for p in isbi_project.models_dir.iterdir()).count("cells-2") == 0

def test_the_uncertainty_highlight_never_takes_a_class_colour(qtbot, isbi_project):
    window = open_window(qtbot, isbi_project.root)
    canvas, panel = window.canvas, window.training.prediction_panel
    first = canvas.uncertainty_color
    assert panel.highlight_color == first
    assert first not in [c.color for c in window.project.classes]
    assert window.recolor_class(0, first)  # a class now wears the highlight's colour
    assert canvas.uncertainty_color != first and panel.highlight_color == canvas.uncertainty_color
    canvas.set_uncertainty(np.zeros(window.current_mask().shape, np.float32))
    shown = tuple(int(v) for v in canvas.uncertainty_layer.pixels[0, 0, :3])
    assert shown == tuple(int(v * 200 / 255) for v in canvas.uncertainty_color)


def test_a_short_training_validates_a_quarter_of_its_time_apart(qtbot, isbi_project):
    """With the 30-second interval, a 30-second training showed no IoU until it ended."""
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    training.config_overrides = {}
    settings = {**training.panel.settings(), "limit": "time"}
    intervals = [training._config({**settings, "time_budget": budget}).val_interval_s
                 for budget in (10, 30, 60, 600)]
    assert intervals == [5.0, 7.5, 15.0, 30.0]
    by_steps = training._config({**settings, "limit": "steps", "steps": 100})
    assert by_steps.val_interval_s == 30.0

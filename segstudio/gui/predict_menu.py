"""The Model menu: train and stop, the prediction overlay, accept, load, export, predict.

`update_model_actions(controller)` enables what makes sense now: nothing to train,
load or predict without a project, Stop only while a training runs, export and
predict only with a model. Accept follows the Prediction panel's Accept buttons.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from segstudio.core.errors import UserError
from segstudio.gui.actions import connect_triggered
from segstudio.gui.predict_models import MODEL_FILE, in_models_folder, unique_folder

TRAIN_SHORTCUT = "Ctrl+T"
STOP_SHORTCUT = "Ctrl+."  # Esc alone belongs to the polygon and lasso tools


def build_model_menu(controller, menu) -> None:
    """Fill the window's Model menu; the actions are kept as attributes of `controller`."""
    window = controller.window

    def action(text, slot, shortcut=None, checkable=False, checked=False):
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if checkable:
            act.setCheckable(True)
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            connect_triggered(act, slot)
        menu.addAction(act)
        return act

    controller.train_action = action("&Train", controller.start, TRAIN_SHORTCUT)
    controller.stop_action = action("&Stop Training", controller.stop, STOP_SHORTCUT)
    panel = controller.panel
    panel.train_button.setToolTip(
        f"Train a model on the labelled images ({_native(controller.train_action)})")
    panel.stop_button.setToolTip(
        f"Stop the training and save the model trained so far ({_native(controller.stop_action)})")
    menu.addSeparator()
    controller.show_prediction_action = action(
        "Show &Prediction", controller.prediction_panel.show_check.setChecked,
        checkable=True, checked=True)
    controller.prediction_panel.show_check.toggled.connect(controller.show_prediction_action.setChecked)
    accept = action("&Accept Prediction", lambda: controller.live.accept(False), "Ctrl+Shift+A")
    accept_unlabelled = action("Accept Prediction Where &Unlabelled",
                               lambda: controller.live.accept(True))
    # Accept: as the Prediction panel's buttons, while a prediction of the image shows.
    for act in (accept, accept_unlabelled):
        act.setEnabled(False)
        controller.prediction_panel.predictionAvailable.connect(act.setEnabled)
    menu.addSeparator()
    controller.load_action = action("&Load Model…", lambda: ask_load_model(controller))
    # Export and predict: they need a model.
    controller.model_actions = [
        action("Export Model &Folder…", controller.jobs.ask_export_model_folder),
        action("Export &ONNX…", controller.jobs.ask_export_onnx),
        action("Export Tor&chScript…", controller.jobs.ask_export_torchscript),
    ]
    menu.addSeparator()
    controller.model_actions += [
        action("Predict the &Whole Project…", controller.jobs.ask_predict_project),
        action("Predict a Fol&der…", controller.jobs.ask_predict_folder),
    ]


def update_model_actions(controller, running: bool | None = None) -> None:
    project_open = controller.window.project is not None
    running = controller.running if running is None else running
    controller.train_action.setEnabled(project_open and not running)
    controller.stop_action.setEnabled(running)
    controller.load_action.setEnabled(project_open and not running)
    has_model = project_open and controller.live.model is not None
    for act in controller.model_actions:
        act.setEnabled(has_model)


def ask_load_model(controller) -> None:
    """Load a saved model; one from outside the project is copied into its models folder
    first, so that the project keeps it and what the project writes (new class names,
    validation scores) goes to its own copy."""
    window = controller.window
    if window.project is None:
        return
    models = Path(window.project.models_dir)
    folder = QFileDialog.getExistingDirectory(window, "Load a saved model", str(models))
    if not folder:
        return
    copy = saved = None
    if not in_models_folder(Path(folder), models) and (Path(folder) / MODEL_FILE).is_file():
        from segstudio.ml.saved import load_model

        try:  # read where it is, once: an error names the user's folder, not a copy
            saved = load_model(folder, device="cpu")
        except UserError as exc:
            window.show_error("Load model", f"Could not load the model: {exc}")
            return
        copy = unique_folder(models / Path(folder).name)
        try:
            shutil.copytree(folder, copy)
        except OSError as exc:
            shutil.rmtree(copy, ignore_errors=True)
            window.show_error("Load model", f"{folder}: cannot copy it into {models} ({exc})")
            return
    if not controller.load_model(copy or folder, saved):
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)
        window.show_error("Load model", controller.panel.model_label.text())
    elif copy is not None:
        window.say(f"Copied {folder} into the project as {copy.name}")


def _native(act: QAction) -> str:
    return act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)

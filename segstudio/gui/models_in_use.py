"""The training controller's model side: which saved model the window uses for the
open project, and what becomes of it when the project or its classes change.

A project opened shows the model in use when it was last open (MODEL_IN_USE_KEY), else
its latest model that fits its classes. New class colours, a new
name or new images keep the model (it takes the new names and colours); added, moved
or deleted classes make it a model of other classes, and stop a running training.
The training settings are kept in the project (project.json) under SETTINGS_KEY.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from segstudio.core.errors import UserError
from segstudio.gui.panels.training import MODEL_TITLES
from segstudio.gui.predict_controls import NO_MODEL_TEXT
from segstudio.gui.predict_menu import update_model_actions
from segstudio.gui.predict_models import (
    adopt_classes,
    latest_model_dir,
    saved_loss_history,
    validation_note,
)

SETTINGS_KEY = "training"
MODEL_IN_USE_KEY = "model_in_use"  # its folder, relative to the project's models folder


class ModelInUseMixin:
    """Methods of TrainingController about the model in use (kept apart to keep modules
    short); they use its panels, live predictor and training state."""

    def project_changed(self, project) -> None:
        self.prediction_panel.set_highlight_color(self.window.canvas.uncertainty_color)
        edited = project is not None and project is self._project
        names = [c.name for c in project.classes] if project is not None else []
        if edited and self._class_edit_keeps_the_model(project, names):
            return
        self._class_names = names
        self._keep_settings()  # into the project being closed
        closed, self._project = self._project, project
        stopped = self.running
        if stopped and edited:  # the window is not kept waiting for its last step
            self._let_training_end()
        elif stopped:  # its model is saved into the project it was started for
            self._stop_and_save()
            self.window.statusBar().clearMessage()
            if self.worker.result is not None:
                self._keep_stopped_model(closed, self.worker.result)
            self.thread = self.worker = None  # its queued reports are ignored
        self.model_dir = None
        self.live.set_model(None)
        self._set_running(False)
        self.panel.set_project_open(project is not None)
        if edited and stopped:
            self.panel.show_progress(0.0, "Training stopped: the classes changed. Click Train "
                                          "to train for the new ones.")
        if project is None:
            self.metrics.reset([])
            return
        self.panel.set_settings((project.settings or {}).get(SETTINGS_KEY, {}))
        self._shown_settings = self.panel.settings()
        self.metrics.reset(list(project.classes))
        self.metrics.set_validation_note(validation_note(project))
        chosen = project.settings.get(MODEL_IN_USE_KEY)
        if isinstance(chosen, str) and chosen and self.load_model(project.models_dir / chosen):
            return  # the model in use when the project was last open
        folder = latest_model_dir(Path(project.models_dir))
        if folder is None:
            self.panel.model_label.setText("No model yet: click Train.")
            return
        self.load_model(folder)

    def _class_edit_keeps_the_model(self, project, names: list[str]) -> bool:
        """After a change to the open project: new colours, a new name or new images keep the
        training running and the model in use (renamed to match); other class changes
        (added, moved, deleted) make it a model of other classes."""
        old = self._class_names
        renamed = len(names) == len(old) and set(names) != set(old)
        if names != old and not renamed:
            return False
        self._class_names = names
        # The figures shown keep the names they came with: the table shows the new ones.
        self.metrics.rename_classes(list(project.classes))
        if not self.running:  # a running training's model gets them when saved
            self._adopt_project_classes()
        return True

    def _adopt_project_classes(self) -> None:
        """The model in use takes the project's class names and colours, if they changed."""
        if self._adopt_classes(self.live.model, self.model_dir):
            self.metrics.take_class_names(list(self.window.project.classes))
            self._show_model(self.live.model, self.model_dir)

    def _adopt_classes(self, saved, folder: Path | None, classes=None) -> bool:
        """Give the saved model in `folder` the class names and colours of the project (or
        `classes`); False when it has them already."""
        classes = list(self.window.project.classes if classes is None else classes)
        if folder is None or saved is None or saved.classes == classes:
            return False
        try:
            adopt_classes(saved, folder, classes)
        except (UserError, OSError):
            pass  # a read-only model folder: the model in memory has them anyway
        return True

    def load_model(self, folder: str | Path, saved=None) -> bool:
        """Use the model saved in `folder` (`saved`: as read from it, or from its copy)."""
        from segstudio.ml.saved import load_model

        try:
            saved = saved or load_model(folder, device="cpu")
        except UserError as exc:
            self.panel.model_label.setText(f"Could not load the model: {exc}{self._still_using()}")
            return False
        project = self.window.project
        project_classes = [c.name for c in project.classes] if project else []
        if project is not None and [c.name for c in saved.classes] != project_classes:
            self.panel.model_label.setText(
                f"Train a model for these classes: {Path(folder).name} was trained for "
                f"{', '.join(c.name for c in saved.classes)}.{self._still_using()}")
            return False
        self.model_dir = Path(folder)
        self.live.set_model(saved)
        self._show_model(saved, self.model_dir)
        self.panel.show_progress(0.0, "")  # the last training's line was of another model
        return True

    def _still_using(self) -> str:
        return f" Still using {self.model_dir.name}." if self.model_dir is not None else ""

    def _show_current_model(self) -> None:
        """The model line and metrics for the model in use, after a training that failed."""
        if self.model_dir is not None and self.live.model is not None:
            self._show_model(self.live.model, self.model_dir)
        else:
            self.panel.model_label.setText("No model yet: click Train.")
            self.prediction_panel.set_status(NO_MODEL_TEXT)

    def _show_model(self, saved, folder: Path) -> None:
        miou = (saved.metrics or {}).get("miou")
        score = f", mIoU {miou:.3f}" if isinstance(miou, (int, float)) else ""
        name = saved.architecture.get("name")
        self.panel.model_label.setText(
            f"Model: {MODEL_TITLES.get(name, name)} ({folder.name}{score})")
        self.panel.model_label.setToolTip(str(folder))
        self.prediction_panel.set_status("Predicting with " + folder.name)
        self.metrics.show_saved_model(folder.name, saved.metrics, saved_loss_history(saved))

    def _model_changed(self, saved) -> None:
        update_model_actions(self)
        self.panel.set_current_architecture(None if saved is None else
                                            saved.architecture.get("name"))
        if saved is not None:
            self._remember_model_in_use(self.window.project, self.model_dir)
        else:  # nothing to accept, and the panel says why
            self.prediction_panel.set_has_prediction(False)
            self.prediction_panel.set_status("No model yet for these classes: click Train.")

    def _keep_stopped_model(self, project, result) -> None:
        """A training stopped by closing its project (opening another, or the window): its
        model is the one in use when the project opens again, as if it had ended there,
        under the class names given meanwhile (its report is not handled any more)."""
        folder, saved = Path(result[0]), result[1]
        self._adopt_classes(saved, folder, project.classes)
        self._remember_model_in_use(project, folder)
        self.window.statusBar().showMessage(
            f"The training of {project.root.name} stopped; its model {folder.name} is saved "
            "there and used when the project opens again.", 15_000)

    def _remember_model_in_use(self, project, folder: Path | None) -> None:
        """Keep the model in use in the project, to use it again when the project is opened
        (a model loaded by hand is not the most recent one)."""
        if project is None or folder is None:
            return
        models, folder = Path(project.models_dir).resolve(), folder.resolve()
        # One outside the project's models folder is kept by its whole path.
        chosen = str(folder.relative_to(models)) if folder.is_relative_to(models) else str(folder)
        if project.settings.get(MODEL_IN_USE_KEY) != chosen:
            with contextlib.suppress(UserError, OSError):  # a read-only project: not kept
                project.set_setting(MODEL_IN_USE_KEY, chosen)

    def _save_settings(self, project, settings: dict) -> None:
        project.set_setting(SETTINGS_KEY, dict(settings))
        self._shown_settings = dict(settings)

    def _keep_settings(self) -> None:
        """Store changed settings in the project shown until now, quietly: it is closing."""
        project, settings = self._project, self.panel.settings()
        if project is None or settings == self._shown_settings:
            return
        try:
            self._save_settings(project, settings)
        except (UserError, OSError):
            pass  # a read-only project keeps its old settings

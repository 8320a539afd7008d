"""Training from the window (issue 6): the Training, Prediction and Metrics docks.

`attach_training(window)` builds the docks and the Model menu and returns the
TrainingController, which owns the training worker thread, the live
predictor and the export jobs. The window calls `shutdown()` when it closes:
it sets the stop flag, quits and waits for every worker thread.

The training itself is the engine's Trainer (segstudio.ml.train) reading the
project through a ProjectSource, which re-reads label files that changed on
disk: labels painted while training runs reach it when the window autosaves.
"""

from __future__ import annotations

import time
import traceback
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog

from segstudio.core.errors import UserError
from segstudio.gui.panels.export import ModelJobs
from segstudio.gui.panels.metrics import MetricsPanel
from segstudio.gui.panels.training import MODEL_TITLES, TrainingPanel
from segstudio.gui.predict_controls import PredictionPanel
from segstudio.gui.predict_live import LivePredictor
from segstudio.gui.predict_menu import build_model_menu
from segstudio.gui.predict_models import (
    HoldOutSource,
    default_settings,
    device_status,
    held_out_note,
    latest_model_dir,
    loss_names,
    model_names,
    training_source,
    training_threads,
    unique_folder,
    validation_note,
    warm_up_torch_once,
)
from segstudio.gui.workers import (
    TrainingWorker,
    describe_error,
    start_worker,
    stop_thread,
)

SETTINGS_KEY = "training"
SHUTDOWN_WAIT_MS = 30_000
WARM_UP_DELAY_MS = 1000


def attach_training(window) -> TrainingController:
    return TrainingController(window)


class TrainingController(QObject):
    trainingStarted = Signal()
    progressed = Signal(object)  # StepReport
    validated = Signal(object)  # ValReport
    trainingFinished = Signal(object)  # DoneReport
    trainingFailed = Signal(str)
    modelSaved = Signal(object)  # Path of the saved model folder

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.thread = None
        self.worker: TrainingWorker | None = None
        self.model_dir: Path | None = None  # folder of the current model, to continue from
        self.last_validation = None
        self.stop_requested_at: float | None = None
        self.stopped_after_s: float | None = None  # stop request to final report
        self._closing = False
        self.start_note = ""
        self.source: HoldOutSource | None = None  # what the running training reads
        self._project = None  # the project the panels show, whose settings they hold
        self._shown_settings: dict | None = None  # as loaded or last saved
        # TrainConfig fields the panel does not show (model_options, val_interval_s, seed...).
        self.config_overrides: dict = {}

        devices = device_status()
        self.panel = TrainingPanel(model_names(), loss_names(), devices,
                                   defaults=default_settings(devices))
        self.metrics = MetricsPanel()
        self.prediction_panel = PredictionPanel()
        self.live = LivePredictor(window)
        self.jobs = ModelJobs(window, lambda: self.live.model)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.training_dock = window.add_dock(self.panel, "Training", right)
        self.prediction_dock = window.add_dock(self.prediction_panel, "Prediction", right)
        self.metrics_dock = window.add_dock(self.metrics, "Metrics", right)
        build_model_menu(self, window.menu("Model"))

        self.panel.trainRequested.connect(self.start)
        self.panel.stopRequested.connect(self.stop)
        self.prediction_panel.visibilityChanged.connect(window.canvas.set_prediction_visible)
        self.prediction_panel.opacityChanged.connect(window.canvas.set_prediction_opacity)
        self.prediction_panel.uncertaintyChanged.connect(self.live.set_uncertainty_visible)
        self.prediction_panel.acceptRequested.connect(self.live.accept)
        self.live.predictionShown.connect(self._prediction_shown)
        window.canvas.set_prediction_opacity(self.prediction_panel.opacity())
        window.projectChanged.connect(self.project_changed)
        window.currentImageChanged.connect(self._image_changed)
        if getattr(window, "project", None) is not None:
            self.project_changed(window.project)
        self.warm_up_thread = self.warm_up_worker = None
        QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up)

    def _warm_up(self) -> None:
        if not self._closing:
            self.warm_up_thread, self.warm_up_worker = warm_up_torch_once()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    # --- training -----------------------------------------------------------------

    def start(self) -> bool:
        """Start training with the panel's settings; False (with a message) if it cannot."""
        project = self.window.project
        if self.running:
            return False
        if project is None:
            self.window.show_error("Train", "Open a project (or a folder of images) first.")
            return False
        settings = self.panel.settings()
        try:
            self.window.save_labels()  # the training reads the label files
            self._save_settings(project, settings)
            config = self._config(settings)
            from segstudio.ml.train import DoneReport, Trainer

            source = training_source(project)
        except Exception as exc:  # a UserError, or a bug: a message either way
            if not isinstance(exc, UserError):
                traceback.print_exc()
            self.trainingFailed.emit(describe_error(exc))
            self.window.show_error("Training failed", describe_error(exc))
            return False
        classes = list(project.classes)
        models_dir = Path(project.models_dir)
        model_name = settings["model"]

        def save_when_done(trainer, done):
            """On the worker thread: save the (best) model and read it back, so the live
            predictions use exactly the model that was saved."""
            from segstudio.ml.saved import load_model

            if not done.steps:
                return None
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            folder = unique_folder(models_dir / f"{model_name}-{stamp}")
            trainer.save(folder)
            return folder, load_model(folder, device="cpu")

        def stopped_report(trainer, elapsed_s):
            return DoneReport("stopped", trainer.step, trainer.best_miou, elapsed_s)

        self.worker = TrainingWorker(lambda: Trainer(config, source, classes),
                                     on_done=save_when_done,
                                     torch_threads=training_threads(),
                                     stopped_report=stopped_report,
                                     pause_while=self.live.worker.busy.is_set)
        self.worker.progress.connect(self._progress)
        self.worker.validated.connect(self._validated)
        self.worker.snapshot.connect(self._snapshot)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.stop_requested_at = self.stopped_after_s = None
        self.last_validation = None
        self.metrics.reset(classes)
        self.metrics.set_validation_note(validation_note(project))
        self.source = source
        self.panel.set_running(True)
        self.start_note = "from the current model" if config.init_model_dir else "from scratch"
        self.panel.show_progress(None, f"Preparing the training data ({self.start_note})…")
        title = MODEL_TITLES.get(settings["model"], settings["model"])
        self.panel.model_label.setText(f"Training a {title} model {self.start_note}…")
        self.prediction_panel.set_status("The model in training predicts after its first "
                                         "validation.")
        self.thread = start_worker(self.worker, "segstudio-training")
        self.trainingStarted.emit()
        return True

    def stop(self) -> None:
        if self.worker is not None and self.running:
            self.stop_requested_at = time.monotonic()
            self.worker.stop()
            self.panel.stop_button.setEnabled(False)
            self.panel.show_progress(None, "Stopping…")

    def shutdown(self) -> None:
        """The window closes: keep the settings, stop and wait for every worker thread."""
        self._closing = True
        self._keep_settings()
        if self.worker is not None:
            stop_thread(self.thread, self.worker, SHUTDOWN_WAIT_MS)
        self.live.shutdown()
        self.jobs.shutdown()
        stop_thread(self.warm_up_thread, self.warm_up_worker, SHUTDOWN_WAIT_MS)

    def _config(self, settings: dict):
        from segstudio.ml.train import TrainConfig

        by_time = settings["limit"] == "time"
        init_dir = None
        if settings["continue_training"] and self.model_dir is not None and self._can_continue(
                settings["model"]):
            init_dir = str(self.model_dir)
        values = dict(
            model=settings["model"],
            crop_size=int(settings["crop_size"]),
            batch_size=int(settings["batch_size"]),
            lr=float(settings["lr"]),
            loss=settings["loss"],
            augment=bool(settings["augment"]),
            time_budget=float(settings["time_budget"]) if by_time else None,
            steps=None if by_time else int(settings["steps"]),
            device=settings["device"],
            init_model_dir=init_dir,
        )
        return TrainConfig(**{**values, **self.config_overrides})

    def _can_continue(self, model_name: str) -> bool:
        """Continue only from a saved model of the same architecture and classes."""
        from segstudio.ml.saved import METADATA_FILE, read_metadata

        try:
            metadata = read_metadata(self.model_dir / METADATA_FILE)
        except UserError:
            return False
        classes = [c.get("name") for c in metadata.get("classes", [])]
        same_classes = classes == [c.name for c in self.window.project.classes]
        return same_classes and metadata.get("architecture", {}).get("name") == model_name

    def _progress(self, report) -> None:
        if self._stale_report():
            return
        total = f"/{report.total_steps}" if report.total_steps else ""
        speed = f", {report.images_per_s:.1f} images/s" if report.images_per_s else ""
        text = (f"Step {report.step}{total}, loss {report.loss:.4f}{speed}, "
                f"{report.elapsed_s:.0f} s")
        if self.stop_requested_at is None:
            self.panel.show_progress(report.progress, text)
        self.metrics.add_step(report.step, report.loss)
        self.progressed.emit(report)

    def _validated(self, report) -> None:
        if self._stale_report():
            return
        self.last_validation = report
        self.metrics.show_validation(report)
        note = held_out_note(self.source) if self.source is not None else None
        if note:
            self.metrics.set_validation_note(note)
        self.validated.emit(report)

    def _snapshot(self, saved) -> None:
        if self._stale_report():
            return
        self.live.set_model(saved)
        step = (saved.training or {}).get("steps_done")
        at_step = f" (step {step})" if step else ""
        self.prediction_panel.set_status(f"Predicting with the model in training{at_step}.")

    def _stale_report(self) -> bool:
        """A report queued before shutdown or a project change, or from an older training."""
        sender = self.sender()  # None once a dropped worker is gone
        return self._closing or sender is None or sender is not self.worker

    def _finished(self, done, result) -> None:
        if self._stale_report():
            return
        if self.stop_requested_at is not None:
            self.stopped_after_s = time.monotonic() - self.stop_requested_at
        self._thread_done()
        text = f"Finished ({done.reason}) after {done.steps} steps, {done.elapsed_s:.0f} s"
        if done.best_miou is not None:
            text += f"; best mIoU {done.best_miou:.3f}"
        if result is not None:
            folder, saved = result
            self.model_dir = Path(folder)
            text += f". Saved as {self.model_dir.name}."
            self.live.set_model(saved)
            self._show_model(saved, self.model_dir)
            self.modelSaved.emit(self.model_dir)
        finished = done.reason != "stopped"
        self.panel.show_progress(1.0 if finished else self.panel.progress_bar.value() / 1000, text)
        self.trainingFinished.emit(done)

    def _failed(self, message: str) -> None:
        if self._stale_report():
            return
        self._thread_done()
        self.panel.show_progress(0.0, "Training failed: " + message)
        self.trainingFailed.emit(message)
        self.window.show_error("Training failed", message)

    def _thread_done(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(SHUTDOWN_WAIT_MS)
        self.thread = None
        self.panel.set_running(False)

    # --- project and models ------------------------------------------------------

    def project_changed(self, project) -> None:
        self._keep_settings()  # into the project being closed
        self._project = project
        if self.running:  # its model is saved into the project it was started for
            stop_thread(self.thread, self.worker, SHUTDOWN_WAIT_MS)
            self.thread = self.worker = None  # its queued reports are ignored
            self.panel.set_running(False)
        self.model_dir = None
        self.live.set_model(None)
        if project is None:
            self.metrics.reset([])
            return
        self.panel.set_settings((project.settings or {}).get(SETTINGS_KEY, {}))
        self._shown_settings = self.panel.settings()
        self.metrics.reset(list(project.classes))
        folder = latest_model_dir(Path(project.models_dir))
        if folder is None:
            self.panel.model_label.setText("No model yet: click Train.")
            return
        self.load_model(folder)

    def load_model(self, folder: str | Path) -> bool:
        from segstudio.ml.saved import load_model

        try:
            saved = load_model(folder, device="cpu")
        except UserError as exc:
            self.panel.model_label.setText(f"Could not load the model: {exc}")
            return False
        project = self.window.project
        project_classes = [c.name for c in project.classes] if project else []
        if project is not None and [c.name for c in saved.classes] != project_classes:
            self.panel.model_label.setText(
                f"{Path(folder).name} was trained for the classes "
                f"{', '.join(c.name for c in saved.classes)}, not "
                f"{', '.join(project_classes)}: train a new model.")
            return False
        self.model_dir = Path(folder)
        self.live.set_model(saved)
        self._show_model(saved, self.model_dir)
        return True

    def ask_load_model(self) -> None:
        start = str(self.window.project.models_dir) if self.window.project else ""
        folder = QFileDialog.getExistingDirectory(self.window, "Load a saved model", start)
        if folder and not self.load_model(folder):
            self.window.show_error("Load model", self.panel.model_label.text())

    def _show_model(self, saved, folder: Path) -> None:
        miou = (saved.metrics or {}).get("miou")
        score = f", mIoU {miou:.3f}" if isinstance(miou, (int, float)) else ""
        name = saved.architecture.get("name")
        self.panel.model_label.setText(
            f"Model: {MODEL_TITLES.get(name, name)} ({folder.name}{score})")
        self.prediction_panel.set_status("Predicting with " + folder.name)

    def _image_changed(self, *_args) -> None:
        self.prediction_panel.set_has_prediction(False)
        self.live.image_changed()

    def _prediction_shown(self, entry) -> None:
        self.prediction_panel.set_has_prediction(True)

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

"""Training from the window (issue 6): the Training, Prediction and Metrics docks.

`attach_training(window)` builds the docks and the Model menu and returns the
TrainingController, which owns the training worker thread, the live
predictor and the export jobs (the model in use for the open project is its
ModelInUseMixin's, in models_in_use.py). The window calls `shutdown()` when it
closes: it sets the stop flag, quits and waits for every worker thread.

The training itself is the engine's Trainer (segstudio.ml.train) reading the
project through a ProjectSource, which re-reads label files that changed on
disk: labels painted while training runs reach it when the window autosaves.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal

from segstudio.core.errors import UserError
from segstudio.gui.dock_room import DockRoom
from segstudio.gui.models_in_use import ModelInUseMixin
from segstudio.gui.panels.export import ModelJobs
from segstudio.gui.panels.metrics import MetricsPanel
from segstudio.gui.panels.training import MODEL_TITLES, TrainingPanel, scrolled
from segstudio.gui.predict_controls import PredictionPanel
from segstudio.gui.predict_live import LivePredictor
from segstudio.gui.predict_menu import build_model_menu, update_model_actions
from segstudio.gui.predict_models import (
    add_loss_history,
    can_continue,
    default_settings,
    device_status,
    held_out_note,
    in_models_folder,
    loss_names,
    model_names,
    record_validation,
    training_device_words,
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
from segstudio.ml.holdout import HoldOutSource

STOPPING_TEXT = "Stopping training and saving the model…"
SHUTDOWN_WAIT_MS = 30_000
# Stop validates the final model (its IoU is saved with it) when that takes no longer,
# even when Stop comes before the first validation; a larger held-out set is not waited for.
STOP_VALIDATION_LIMIT_S = 0.5
WARM_UP_DELAY_MS = 1000
MIN_VAL_INTERVAL_S = 5.0  # validations of a short training: a quarter of it apart, at least this


def attach_training(window) -> TrainingController:
    return TrainingController(window)


class TrainingController(ModelInUseMixin, QObject):
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
        # Trainings stopped without waiting (the classes changed), saving their models.
        self._ending: list[tuple[QThread, TrainingWorker]] = []
        self.model_dir: Path | None = None  # folder of the current model, to continue from
        self.last_validation = None
        self.fraction_done = 0.0  # of the running training, as its last step report said
        self.runs_started = 0
        self.stop_requested_at: float | None = None
        self.stopped_after_s: float | None = None  # stop request to final report
        self._closing = False
        self.start_note = ""
        self.source: HoldOutSource | None = None  # what the running training reads
        self._project = None  # the project the panels show, whose settings they hold
        self._class_names: list[str] = []  # its class names when last seen
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
        # Training above, Metrics and Prediction as tabs below it (Metrics in front): the
        # progress and the live IoU are in view together, and the window fits 1280x800.
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.training_dock = window.add_dock(self.panel, "Training", right)
        self.metrics_dock = window.add_dock(scrolled(self.metrics), "Metrics", right)
        self.prediction_dock = window.add_dock(scrolled(self.prediction_panel), "Prediction",
                                               right)
        window.tabifyDockWidget(self.metrics_dock, self.prediction_dock)
        self.dock_room = DockRoom(window, self.training_dock, self.metrics_dock)
        self.metrics_dock.raise_()
        for dock in (self.metrics_dock, self.prediction_dock):  # brought back: in front
            dock.toggleViewAction().triggered.connect(lambda shown, d=dock: shown and d.raise_())
        build_model_menu(self, window.menu("Model"))

        self.panel.trainRequested.connect(self.start)
        self.panel.moreSettingsShown.connect(  # once the panel's new size is known
            lambda _shown: QTimer.singleShot(0, self.dock_room.give))
        self.panel.stopRequested.connect(self.stop)
        self.prediction_panel.visibilityChanged.connect(window.canvas.set_prediction_visible)
        self.prediction_panel.opacityChanged.connect(window.canvas.set_prediction_opacity)
        self.prediction_panel.uncertaintyChanged.connect(self.live.set_uncertainty_visible)
        self.prediction_panel.acceptRequested.connect(self.live.accept)
        self.live.predictionShown.connect(
            lambda _e: self.prediction_panel.set_has_prediction(self.live.shows_current_model()))
        window.canvas.set_prediction_opacity(self.prediction_panel.opacity())
        window.projectChanged.connect(self.project_changed)
        window.currentImageChanged.connect(self._image_changed)
        self.live.modelChanged.connect(self._model_changed)
        self.project_changed(getattr(window, "project", None))
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
        if self._ending:  # one stopped by a class change is still saving: wait for it
            self._stop_and_save()
        if project is None:
            self.window.show_error("Train", "Open a project (or a folder of images) first.")
            return False
        settings = self.panel.settings()
        try:
            self.window.save_labels()  # the training reads the label files
            self._save_settings(project, settings)
            config = self._config(settings)
            where = training_device_words(config.device)  # a device it lacks: said here
            from segstudio.ml.train import Trainer

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
            best = trainer.best_val
            if best is not None and best.step == 0 and config.init_model_dir is not None:
                kept = Path(config.init_model_dir)  # nothing better: no copy of it saved
                saved = load_model(kept, device="cpu")
                # Its scores on this project's validation images: in its folder too when that
                # is the project's (one loaded from elsewhere is not written to).
                inside = in_models_folder(kept, models_dir)
                with contextlib.suppress(UserError, OSError):  # a read-only folder: in memory
                    record_validation(saved, kept if inside else None, best)
                return kept, saved
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            folder = unique_folder(models_dir / f"{model_name}-{stamp}")
            trainer.save(folder)
            add_loss_history(folder, worker.compact_loss_history())
            return folder, load_model(folder, device="cpu")

        self.worker = worker = TrainingWorker(lambda: Trainer(config, source, classes),
                                              on_done=save_when_done,
                                              torch_threads=training_threads(),
                                              final_validation_limit_s=STOP_VALIDATION_LIMIT_S,
                                              pause_while=self.live.worker.busy.is_set)
        self.worker.progress.connect(self._progress)
        self.worker.validated.connect(self._validated)
        self.worker.snapshot.connect(self._snapshot)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.stop_requested_at = self.stopped_after_s = None
        self.runs_started += 1  # its snapshots and result are one model (LivePredictor)
        self.last_validation = None
        self.fraction_done = 0.0
        self.metrics.reset(classes)
        self.metrics.set_validation_note(validation_note(project))
        self.source = source
        self._set_running(True)
        self.start_note = "from the current model" if config.init_model_dir else "from scratch"
        self.panel.show_progress(None, f"Preparing the training data ({self.start_note})…")
        title = MODEL_TITLES.get(settings["model"], settings["model"])
        self.panel.model_label.setText(f"Training {title} {self.start_note} on {where}…")
        self.prediction_panel.set_status("The model in training shows its prediction here "
                                         "after a few seconds.")
        self.thread = start_worker(self.worker, "segstudio-training")
        self.trainingStarted.emit()
        return True

    def stop(self) -> None:
        if self.worker is not None and self.running:
            self.stop_requested_at = time.monotonic()
            self.worker.stop()
            self.panel.stop_button.setEnabled(False)
            self.stop_action.setEnabled(False)
            self.panel.show_progress(None, "Stopping…")

    def shutdown(self) -> None:
        """The window closes: keep the settings, stop and wait for every worker thread."""
        self._closing = True
        self._keep_settings()
        # A training whose end is not reported yet (or still running) is kept as if it ended.
        unhandled = self.worker is not None and self.thread is not None
        self._stop_and_save()
        if unhandled and self.worker.result is not None and self.window.project is not None:
            self._keep_stopped_model(self.window.project, self.worker.result)
        self.live.shutdown()
        self.jobs.shutdown()
        stop_thread(self.warm_up_thread, self.warm_up_worker, SHUTDOWN_WAIT_MS)

    def _stop_and_save(self) -> None:
        """Stop a running training and wait while it saves its model (a few seconds),
        saying so in the Training panel and the status bar, painted before the wait; so
        too for those stopped without waiting that are still saving."""
        trainings = [*self._ending, (self.thread, self.worker)]
        if any(thread is not None and thread.isRunning() for thread, _worker in trainings):
            self.panel.show_progress(None, STOPPING_TEXT)
            self.window.statusBar().showMessage(STOPPING_TEXT)
            self.panel.status_label.repaint()
            self.window.statusBar().repaint()
        for thread, worker in trainings:
            stop_thread(thread, worker, SHUTDOWN_WAIT_MS)
        self._ending.clear()

    def _let_training_end(self) -> None:
        """Stop the running training without waiting for its last step (the classes
        changed: its model, saved in the background, is one of the old classes)."""
        thread, worker = self.thread, self.worker
        worker.stop()
        self._ending.append((thread, worker))
        thread.finished.connect(self._forget_ended)  # queued: runs on the GUI thread
        self.thread = self.worker = None  # its reports are ignored

    def _forget_ended(self) -> None:
        ended = self.sender()
        if ended is not None:
            ended.wait(SHUTDOWN_WAIT_MS)  # it has emitted finished: this returns at once
        self._ending = [(t, w) for t, w in self._ending if t is not ended]

    def _set_running(self, running: bool) -> None:
        self.panel.set_running(running)
        update_model_actions(self, running)

    def _config(self, settings: dict):
        from segstudio.ml.train import TrainConfig

        by_time = settings["limit"] == "time"
        init_dir = None
        if settings["continue_training"] and can_continue(self.model_dir, self.window.project,
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
        if by_time:  # a short training shows its IoU while it runs, not only at its end
            values["val_interval_s"] = min(TrainConfig.val_interval_s,
                                           max(MIN_VAL_INTERVAL_S, values["time_budget"] / 4))
        return TrainConfig(**{**values, **self.config_overrides})

    def _progress(self, report) -> None:
        if self._stale_report():
            return
        total = f"/{report.total_steps}" if report.total_steps else ""
        speed = f", {report.images_per_s:.1f} images/s" if report.images_per_s else ""
        text = (f"Step {report.step}{total}, loss {report.loss:.4f}{speed}, "
                f"{report.elapsed_s:.0f} s")
        if report.progress is not None:
            self.fraction_done = report.progress
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
        self.live.set_model(saved, run=self.runs_started)
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
        if done.error is not None:
            text = f"Stopped by an error after {done.steps} steps, {done.elapsed_s:.0f} s"
        if done.best_miou is not None:
            text += f"; best mIoU {done.best_miou:.3f}"
            if result is not None and Path(result[0]) == self.model_dir:
                text += ", the model it started from (kept: no better one yet)"
        if result is not None:  # the saved model's name shows in the model line below
            folder, saved = result
            self.model_dir = Path(folder)
            self.live.set_model(saved, run=self.runs_started)
            self._show_model(saved, self.model_dir)
            self._adopt_project_classes()  # renamed or recoloured while it trained
            self.modelSaved.emit(self.model_dir)
        else:  # stopped before its first step: the model in use stays, and shows again
            self._show_current_model()
            self._adopt_project_classes()
        finished = done.reason not in ("stopped", "failed")
        self.panel.show_progress(1.0 if finished else self.fraction_done, text)
        self.trainingFinished.emit(done)
        if done.error is not None:
            kept = " is saved and shown" if result is not None else " could not be saved"
            self.window.show_error("Training stopped", f"{done.error.rstrip('.')}.\n\nThe model "
                                   f"as it was before the error (step {done.steps}){kept}.")

    def _failed(self, message: str) -> None:
        if self._stale_report():
            return
        self._thread_done()
        self._show_current_model()  # not "Training U-Net…" any longer
        self._adopt_project_classes()  # renamed or recoloured while it tried
        self.panel.show_progress(0.0, "Training failed: " + message)
        self.trainingFailed.emit(message)
        self.window.show_error("Training failed", message)

    def _thread_done(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(SHUTDOWN_WAIT_MS)
        self.thread = None
        self._set_running(False)

    def _image_changed(self, *_args) -> None:
        self.prediction_panel.set_has_prediction(False)
        self.live.image_changed()

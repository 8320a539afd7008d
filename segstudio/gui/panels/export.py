"""Export the current model and predict many images, from the window, in a worker thread.

Each job runs in a TaskWorker on its own QThread with a progress dialog whose
Cancel button stops it; a failure shows as a message. The `export_*` and
`predict_*` methods take their paths as arguments (the menu actions ask for
them with file dialogs), so they can also be driven directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from segstudio.gui.workers import TaskWorker, start_worker, stop_thread


class ModelJobs(QObject):
    """Runs export and batch-prediction jobs for the window's current model."""

    jobProgress = Signal(int, int)  # done, total
    jobFinished = Signal(str, object)  # job title, result
    jobFailed = Signal(str, str)  # job title, message

    def __init__(self, window, current_model: Callable[[], object]):
        super().__init__(window)
        self.window = window
        self._current_model = current_model
        self.thread = None
        self.worker: TaskWorker | None = None
        self.dialog: QProgressDialog | None = None
        self.show_result_messages = True
        self.title = self.note = self.last_message = ""
        self._active = False

    @property
    def busy(self) -> bool:
        """A job is running (its thread may take a moment more to wind down)."""
        return self._active

    # --- jobs -----------------------------------------------------------------

    def export_model_folder(self, folder: str | Path) -> bool:
        def task(progress, should_stop):
            from segstudio.ml.saved import save_model

            return save_model(model, folder)

        model = self._model_or_error()
        return model is not None and self.start("Export model folder", task,
                                                self._snapshot_note(model))

    def export_onnx(self, path: str | Path) -> bool:
        def task(progress, should_stop):
            from segstudio.ml.export import export_onnx

            return export_onnx(model, path)

        model = self._model_or_error()
        return model is not None and self.start("Export ONNX", task, self._snapshot_note(model))

    def export_torchscript(self, path: str | Path) -> bool:
        def task(progress, should_stop):
            from segstudio.ml.export import export_torchscript

            return export_torchscript(model, path)

        model = self._model_or_error()
        return model is not None and self.start("Export TorchScript", task,
                                                self._snapshot_note(model))

    def predict_images(self, images, out_dir: str | Path, overlay: bool = True,
                       title: str = "Predict images") -> bool:
        """Predict `images` (a folder, or a list of image files) into `out_dir`."""

        def task(progress, should_stop):
            from segstudio.ml.predict import predict_folder

            return predict_folder(
                model, images, out_dir, overlay=overlay,
                progress=lambda done, total, path: progress(done, total),
                should_stop=should_stop,
            )

        model = self._model_or_error()
        return model is not None and self.start(title, task)

    def predict_project(self, out_dir: str | Path | None = None) -> bool:
        project = self.window.project
        if project is None:
            self.window.show_error("Predict project", "Open a project first.")
            return False
        paths = [entry.path for entry in project.images if entry.path.is_file()]
        out_dir = out_dir or Path(project.root) / "predictions"
        return self.predict_images(paths, out_dir, title="Predict project")

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def shutdown(self) -> None:
        stop_thread(self.thread, self.worker)
        if self.dialog is not None:
            self.dialog.close()

    # --- menu actions (ask for the paths) --------------------------------------

    def _start_path(self, file_name: str = "") -> str:
        """Where the export dialogs open: the project's folder, not the process's."""
        project = self.window.project
        folder = Path(project.root) if project is not None else Path.home()
        return str(folder / file_name) if file_name else str(folder)

    def ask_export_model_folder(self) -> None:
        """A folder holding a model is replaced if the user says so; one holding other files
        (the project's, say) gets the model in a new sub-folder."""
        from segstudio.gui.predict_models import unique_folder
        from segstudio.ml.saved import METADATA_FILE, WEIGHTS_FILE

        chosen = QFileDialog.getExistingDirectory(self.window, "Export the model into a folder",
                                                  self._start_path())
        model = self._model_or_error()
        if not chosen or model is None:
            return
        folder = Path(chosen)
        if any((folder / name).exists() for name in (METADATA_FILE, WEIGHTS_FILE)):
            answer = QMessageBox.question(
                self.window, "Export model folder",
                f"{folder} already holds a model. Replace it with the current one?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        elif any(folder.iterdir()):
            folder = unique_folder(folder / f"{model.architecture.get('name', 'model')}-model")
        self.export_model_folder(folder)

    def ask_export_onnx(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export ONNX",
                                              self._start_path("model.onnx"),
                                              "ONNX model (*.onnx)")
        if path:
            self.export_onnx(path)

    def ask_export_torchscript(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export TorchScript",
                                              self._start_path("model.pt"),
                                              "TorchScript model (*.pt)")
        if path:
            self.export_torchscript(path)

    def ask_predict_project(self) -> None:
        if self.window.project is None:
            self.window.show_error("Predict project", "Open a project first.")
            return
        folder = self._ask_results_folder(Path(self.window.project.root) / "predictions")
        if folder:
            self.predict_project(folder)

    def ask_predict_folder(self) -> None:
        from segstudio.gui.predict_models import unique_folder

        images = QFileDialog.getExistingDirectory(self.window, "Predict the images in",
                                                  self._start_path())
        if not images:
            return
        from segstudio.core.images import list_images

        if not list_images(images)[0]:  # said now, not after asking where results go
            self.window.show_error("Predict folder", f"{images}: no images (PNG, JPEG, TIFF, "
                                   "BMP) in this folder or its subfolders")
            return
        out_dir = self._ask_results_folder(
            unique_folder(Path(images).parent / f"{Path(images).name}-predictions"))
        if out_dir:
            self.predict_images(images, out_dir, title="Predict folder")

    def _ask_results_folder(self, suggested: Path) -> str:
        """Where to write predictions, the dialog opening in `suggested`: a folder the
        results may go into, made for the dialog (a folder dialog cannot open in one that
        does not exist) and removed again, while empty, if another is chosen."""
        made = not suggested.exists()
        if made:
            try:
                suggested.mkdir(parents=True)
            except OSError:  # a read-only place: the dialog opens beside it
                made, suggested = False, suggested.parent
        chosen = QFileDialog.getExistingDirectory(
            self.window, "Write the predictions into (an empty folder, or earlier results)",
            str(suggested))
        if made and (not chosen or Path(chosen).resolve() != suggested.resolve()):
            with contextlib.suppress(OSError):
                suggested.rmdir()  # only while empty
        return chosen

    # --- plumbing ---------------------------------------------------------------

    def _snapshot_note(self, model) -> str:
        """For a model of the training under way: the training keeps its best, which may
        be another."""
        training = getattr(self.window, "training", None)
        if training is None or not training.running or training.live.run != training.runs_started:
            return ""
        step = (model.training or {}).get("steps_done")
        return (f"\n\nThis is the model in training{f' at step {step}' if step else ''}: the "
                "training goes on, and the model it keeps when it ends (its best by "
                "validation) may be another. Export again then to have that one.")

    def _model_or_error(self):
        model = self._current_model()
        if model is None:
            self.window.show_error("No model", "Train a model first (or open a project that "
                                   "has one): there is nothing to export or predict with.")
        return model

    def start(self, title: str, task, note: str = "") -> bool:
        """Run `task(progress, should_stop)` on a worker thread, with a progress dialog; its
        result is described in a message when it ends (a text result as it is), `note`
        after it."""
        if self.busy:
            self.window.show_error(title, "Another export or prediction is running; wait for "
                                   "it to finish or cancel it.")
            return False
        if self.thread is not None:
            stop_thread(self.thread, self.worker)  # the previous job's thread, ending
        self._active = True
        self.worker = TaskWorker(task)
        self.dialog = QProgressDialog(f"{title}…", "Cancel", 0, 0, self.window)
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModality.NonModal)
        self.dialog.setMinimumDuration(300)
        # Not worker.stop directly: a queued call would wait for the busy worker thread.
        self.dialog.canceled.connect(self.cancel)
        self.title, self.note = title, note
        # Bound methods of this GUI-thread object, so the calls are queued to the GUI thread
        # (a lambda would run on the worker's thread).
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.thread = start_worker(self.worker, f"segstudio-{title.lower().replace(' ', '-')}")
        return True

    def _progress(self, done: int, total: int) -> None:
        self.jobProgress.emit(done, total)
        if self.dialog is not None:
            self.dialog.setMaximum(total)
            self.dialog.setValue(done)

    def _finished(self, result) -> None:
        title = self.title
        self._close_dialog()
        self.jobFinished.emit(title, result)
        self.last_message = _describe(result) + self.note
        if self.show_result_messages:
            box = QMessageBox(QMessageBox.Icon.Information, title, self.last_message,
                              QMessageBox.StandardButton.Ok, self.window)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # not exec(): the window keeps running

    def _failed(self, message: str) -> None:
        title = self.title
        self._close_dialog()
        self.jobFailed.emit(title, message)
        self.window.show_error(title, message)

    def _close_dialog(self) -> None:
        self._active = False
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog.close()
            self.dialog = None


def _describe(result) -> str:
    from segstudio.ml.predict import OVERLAY_FOLDER

    if isinstance(result, str):
        return result
    written = getattr(result, "written", None)
    if written is None:
        return f"Written: {result}"
    lines = [f"Predicted {len(written)} image(s)."]
    if written:
        overlays = (result.out_dir / OVERLAY_FOLDER).is_dir()
        lines.append(f"Masks in {result.out_dir}"
                     + (f", colour overlays in its \"{OVERLAY_FOLDER}\" folder." if overlays else "."))
    if result.skipped:
        lines.append(f"Skipped {len(result.skipped)}:")
        lines += [f"  {message}" for _, message in result.skipped[:5]]
        if len(result.skipped) > 5:
            lines.append(f"  …and {len(result.skipped) - 5} more")
    if result.stopped:
        lines.append("Cancelled before the end.")
    return "\n".join(lines)

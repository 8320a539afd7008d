"""Live predictions: the current model's prediction for the image on screen.

A PredictionWorker on its own QThread predicts; this object decides what to
ask for (the image on screen, with the newest model) and what to show (only
results for the image still on screen and the model still current). The last
prediction shown can be accepted into the labels as one undoable edit.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.core.edits import paste_labels
from segstudio.gui.workers import PredictionWorker, start_worker, stop_thread

# Predictions kept per model, so going back to an image shows its overlay at once.
CACHED_PREDICTIONS = 16


class LivePredictor(QObject):
    predictionShown = Signal(object)  # the entry whose prediction is now on the canvas
    modelChanged = Signal(object)  # the SavedModel now used, or None

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.model = None  # SavedModel used for predictions (a CPU copy owned by this object)
        self.generation = 0  # bumped with every new model, so older results are dropped
        self.show_uncertainty = False
        self.shown: tuple[object, np.ndarray, np.ndarray | None] | None = None
        self.last_latency_s: float | None = None  # request to overlay, for the benchmark
        self._requested_at: dict[tuple, float] = {}
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._failed_generation = -1
        self.worker = PredictionWorker()
        self.worker.ready.connect(self._show)
        self.worker.failed.connect(self._failed)
        self.thread = start_worker(self.worker, "segstudio-prediction")

    def set_model(self, saved) -> None:
        """Predict with `saved` from now on (None: no model, clear the overlay)."""
        self.model = saved
        self.generation += 1
        self._cache.clear()
        self.modelChanged.emit(saved)
        if saved is None:
            self.clear()
        else:
            self.refresh()

    def clear(self) -> None:
        self.worker.cancel_pending()
        self.shown = None
        self.window.canvas.set_prediction(None)
        self.window.canvas.set_uncertainty(None)

    def image_changed(self) -> None:
        """The image on screen changed: drop its predecessor's overlay, predict this one."""
        self.clear()
        self.refresh()

    def refresh(self) -> None:
        """Ask for a prediction of the image on screen with the current model."""
        entry, model = self.window.current_entry, self.model
        if entry is None or model is None:
            return
        key = (_entry_key(entry), self.generation)
        self._requested_at[key] = time.perf_counter()
        if key in self._cache:
            self.worker.cancel_pending()
            self._show(key, self._cache[key])
            return
        image = self.window.current_image()
        if image is None:
            return
        image = np.array(image, copy=True)  # the worker must not see later changes

        def predict():
            from segstudio.ml.predict import predict_image

            return predict_image(model, image, return_confidence=True)

        self.worker.request(key, predict)

    def set_uncertainty_visible(self, visible: bool) -> None:
        self.show_uncertainty = visible
        confidence = self.shown[2] if (visible and self.shown is not None) else None
        self.window.canvas.set_uncertainty(confidence)

    def prediction_for_current(self) -> np.ndarray | None:
        entry = self.window.current_entry
        if entry is None or self.shown is None or self.shown[0] != _entry_key(entry):
            return None
        return self.shown[1]

    def accept(self, only_unlabelled: bool = False) -> int:
        """Paste the shown prediction into the labels as one undo step; returns pixels changed."""
        labels = self.prediction_for_current()
        if labels is None:
            self.window.show_error(
                "No prediction", "There is no prediction for this image yet: train a model "
                "or wait for the prediction to appear.")
            return 0
        mask = self.window.current_mask()
        if mask is None or mask.shape != labels.shape:
            return 0
        diff = paste_labels(mask, labels, only_unlabelled=only_unlabelled)
        if diff is None:
            return 0
        text = "Accept prediction (unlabelled pixels)" if only_unlabelled else "Accept prediction"
        self.window.apply_mask_edit(diff, text)
        return diff.changed_pixels

    def shutdown(self) -> None:
        self.worker.cancel_pending()
        stop_thread(self.thread, self.worker)

    def _show(self, key, prediction) -> None:
        if key[1] == self.generation:
            self._cache[key] = prediction
            self._cache.move_to_end(key)
            while len(self._cache) > CACHED_PREDICTIONS:
                self._cache.popitem(last=False)
        entry = self.window.current_entry
        requested = self._requested_at.pop(key, None)
        if entry is None or key != (_entry_key(entry), self.generation):
            return  # for an image no longer on screen, or from an older model
        try:
            self.window.canvas.set_prediction(prediction.labels)
            confidence = prediction.confidence if self.show_uncertainty else None
            self.window.canvas.set_uncertainty(confidence)
        except ValueError:  # the image changed size meanwhile; a new request is on its way
            return
        if requested is not None:
            self.last_latency_s = time.perf_counter() - requested
        self._requested_at.clear()
        self.shown = (key[0], prediction.labels, prediction.confidence)
        self.predictionShown.emit(entry)

    def _failed(self, key, message: str) -> None:
        self._requested_at.pop(key, None)
        if key[1] == self.generation and self._failed_generation != self.generation:
            self._failed_generation = self.generation  # one message per model, not per image
            self.window.show_error("Prediction failed", message)


def _entry_key(entry):
    return getattr(entry, "id", None) or getattr(entry, "name", None) or id(entry)

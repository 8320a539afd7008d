"""Live predictions: the current model's prediction for the image on screen.

A PredictionWorker on its own QThread predicts; this object decides what to
ask for and what to show:

- The image on screen is predicted with the newest model. When it changes, the
  request is urgent (the training gives way to it); refreshes after a new model
  are not. Results for an image no longer on screen are only cached.
- Predictions are cached per image. Going back to an image shows its cached
  overlay at once, even from a slightly older model, and asks for a fresh one.
- When the worker is idle, the next and previous images are predicted ahead
  (once each), so browsing shows overlays without waiting.
- When the view shows under half of the image (zoomed in on a large one), the
  part on screen is predicted first and shown at once, then the whole image;
  a newer model's request interrupts that second part. Panning or zooming to
  a part not yet predicted asks for it.
- A large image with nothing of it on show yet (a first prediction at the fitted
  view takes tens of seconds on a CPU) gets its overlay band by band, as the
  rows are predicted.

The prediction on screen can be accepted into the labels as one undoable edit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.core.classes import UNLABELLED
from segstudio.core.edits import paste_labels
from segstudio.gui.workers import (
    PredictionInterrupted,
    PredictionWorker,
    start_worker,
    stop_thread,
)

CACHE_BYTES = 256 * 1024 * 1024  # predictions kept for going back to an image
REGION_MARGIN = 64  # pixels predicted around the view: tile borders stay off screen
VIEW_SETTLE_MS = 250  # after panning or zooming, wait this long before asking
ROWS_MESSAGE = "Predicting this image"  # in the status bar while its rows come in


@dataclass
class CachedPrediction:
    generation: int  # of the model that made it
    labels: np.ndarray
    confidence: np.ndarray | None  # uint8, 0..255
    complete: bool = True  # False: only the parts on screen so far (UNLABELLED elsewhere)

    @property
    def nbytes(self) -> int:
        return self.labels.nbytes + (0 if self.confidence is None else self.confidence.nbytes)


class LivePredictor(QObject):
    predictionShown = Signal(object)  # the entry whose prediction is now on the canvas
    modelChanged = Signal(object)  # the SavedModel now used, or None

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.model = None  # SavedModel used for predictions (a CPU copy owned by this object)
        self.generation = 0  # bumped with every new model
        # The first generation of the model in use: a training's snapshots and its result
        # continue one model; another model (loaded, or a new training) starts anew. An
        # overlay of an older one (cached for going back) may show, but is not accepted.
        self.model_since = 0
        self.run = None  # the training whose snapshots are the current model
        self.show_uncertainty = False
        self.shown: tuple[str, CachedPrediction] | None = None  # (entry key, prediction)
        self.last_latency_s: float | None = None  # request to overlay, for the benchmark
        self._requested_at: dict[tuple, float] = {}
        self._cache: OrderedDict[str, CachedPrediction] = OrderedDict()
        self._failed_generation = -1
        self._oldest_wanted = 0
        self._last_region: tuple[str, int, tuple[int, int, int, int]] | None = None
        self._view_settled = QTimer(self, singleShot=True, interval=VIEW_SETTLE_MS)
        self._view_settled.timeout.connect(self._view_moved)
        window.canvas.viewChanged.connect(self._view_settled.start)
        self.worker = PredictionWorker()
        self.worker.ready.connect(self._ready)
        self.worker.partial.connect(self._partial)
        self.worker.failed.connect(self._failed)
        self.thread = start_worker(self.worker, "segstudio-prediction")

    # --- what the controller calls --------------------------------------------------

    def set_model(self, saved, run=None) -> None:
        """Predict with `saved` from now on (None: no model, clear overlay and cache).
        `run`: the training it comes from; a model of the same run as the last continues it."""
        self.model = saved
        self.generation += 1
        if run is None or run != self.run:
            self.model_since = self.generation
        self.run = run
        self.modelChanged.emit(saved)
        if self.shown is not None:  # an overlay of the model before: no longer acceptable
            self.predictionShown.emit(self.window.current_entry)
        if saved is None:
            self.forget()
        else:
            self.refresh(urgent=False)

    def forget(self) -> None:
        """Drop the overlay, the cache and any pending request."""
        self.worker.cancel_pending()
        self._cache.clear()
        self._requested_at.clear()
        self._oldest_wanted = self.generation  # results of older models still on their way
        self._show_nothing()
        self._clear_rows_message()

    def image_changed(self) -> None:
        """The image on screen changed: show what is known of it at once, then predict it."""
        self.worker.cancel_pending()
        self._clear_rows_message()  # of the image before
        entry = self.window.current_entry
        cached = None if entry is None else self._cache.get(_entry_key(entry))
        if cached is None:
            self._show_nothing()
        else:
            self._display(_entry_key(entry), cached)
        self.refresh(urgent=True)

    def refresh(self, urgent: bool = False) -> None:
        """Ask for the image on screen with the current model, unless it is cached."""
        entry, model = self.window.current_entry, self.model
        if entry is None or model is None:
            return
        cached = self._cache.get(_entry_key(entry))
        if cached is not None and cached.generation == self.generation:
            self._display(_entry_key(entry), cached)
            self._prefetch_neighbours()  # keep one image ahead while browsing
            return
        image = self.window.current_image()
        if image is not None:  # read-only (Project.load_image): shared, no copy
            region = self._view_region(image.shape[:2])
            if region is not None:
                self._last_region = (_entry_key(entry), self.generation, region)
            self._request(entry, lambda: image, urgent=urgent, region=region)

    def set_uncertainty_visible(self, visible: bool) -> None:
        self.show_uncertainty = visible
        confidence = self.shown[1].confidence if (visible and self.shown is not None) else None
        self.window.canvas.set_uncertainty(confidence)

    def prediction_for_current(self) -> np.ndarray | None:
        """The labels shown for the image on screen, when the model in use predicted them."""
        entry = self.window.current_entry
        shown = None if entry is None else self._shown_for(_entry_key(entry))
        return shown.labels if self._of_model_in_use(shown) else None

    def _of_model_in_use(self, prediction: CachedPrediction | None) -> bool:
        return prediction is not None and prediction.generation >= self.model_since

    def shows_current_model(self) -> bool:
        return self.prediction_for_current() is not None

    def accept(self, only_unlabelled: bool = False) -> int:
        """Paste the shown prediction into the labels as one undo step; returns pixels changed."""
        labels = self.prediction_for_current()
        if labels is None:
            self.window.show_error(
                "No prediction", "There is no prediction of the model in use for this image "
                "yet: train a model, or wait for its prediction to appear.")
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

    # --- requests and results ---------------------------------------------------------

    def _request(self, entry, load_image, urgent: bool, region=None) -> None:
        """Ask for a prediction of the entry's image; of `region` (y0, x0, y1, x1) first."""
        model, key, worker = self.model, (_entry_key(entry), self.generation), self.worker
        self._requested_at[key] = time.perf_counter()
        shown = self._shown_for(key[0])
        # The part is laid on a full-size copy of what shows now (or on a blank), made on the
        # worker's thread: 128 MB for an 8000 x 8000 image is not the GUI thread's to fill.
        # Another part of the same image already on show is written into in place instead.
        # Not an earlier model's: the result would pass for this model's, and be accepted.
        base = shown if self._of_model_in_use(shown) else None
        needs_canvas = base is None or base.complete
        current = self.window.current_entry
        show_rows = (region is None and shown is None and current is not None
                     and _entry_key(current) == key[0])

        def predict():
            from segstudio.ml.predict import PredictionStopped, predict_image

            _prefer_channels_last(model.model)
            image, give_way = load_image(), worker.should_stop

            def show_rows_so_far(done, so_far) -> None:
                worker.partial.emit(key, _RowsSoFar(done, so_far))

            try:
                if region is not None:
                    y0, x0, y1, x1 = region
                    part = predict_image(model, image[y0:y1, x0:x1], return_confidence=True,
                                         should_stop=give_way)
                    canvas = _canvas(image.shape[:2], base) if needs_canvas else None
                    worker.partial.emit(key, _ViewPart(region, part, canvas))
                    worker.busy.clear()  # the rest is off screen: training need not wait,
                    # and a newer model's request goes first.
                    give_way = lambda: worker.should_stop() or worker.has_pending  # noqa: E731
                whole = predict_image(model, image, return_confidence=True,
                                      should_stop=give_way,
                                      on_rows=show_rows_so_far if show_rows else None)
            except PredictionStopped:
                raise PredictionInterrupted from None
            return CachedPrediction(key[1], whole.labels, whole.confidence)

        self.worker.request(key, predict, urgent=urgent)

    def _partial(self, key, payload) -> None:
        """A part of the image on screen, ahead of the whole: show it."""
        entry_key, generation = key
        entry, image = self.window.current_entry, self.window.current_image()
        if (generation < self._oldest_wanted or entry is None or image is None
                or _entry_key(entry) != entry_key):
            return
        if isinstance(payload, _ViewPart):
            self._show_view_part(key, payload, image.shape[:2])
        else:
            self._show_rows_so_far(key, payload)

    def _show_rows_so_far(self, key, rows: _RowsSoFar) -> None:
        """A large image's prediction as far as it has come, while nothing else of it is
        on show. Its arrays are the worker's, filled as rows are done: shown as they are."""
        entry_key, generation = key
        labels = rows.so_far.labels
        shown = self._shown_for(entry_key)
        if shown is None:
            shown = CachedPrediction(generation, labels, rows.so_far.confidence, complete=False)
        elif shown.labels is not labels:
            return  # something else came first (an older whole prediction): it stays
        self._display_part(key, shown)
        percent = 100 * rows.done // labels.shape[0]
        self.window.statusBar().showMessage(f"{ROWS_MESSAGE}: {percent}% of its rows…", 10_000)

    def _show_view_part(self, key, payload: _ViewPart, shape: tuple[int, int]) -> None:
        """The part of the image in the view, predicted ahead of the rest."""
        entry_key, generation = key
        shown = self._shown_for(entry_key)
        if shown is not None and (shown.generation > generation
                                  or (shown.generation == generation and shown.complete)):
            return
        if not self._of_model_in_use(shown):
            shown = None  # an earlier model's: not a base for this one's
        if shown is None or shown.complete:  # cached predictions are never changed
            shown = payload.canvas if payload.canvas is not None else _canvas(shape, shown)
        shown.generation = generation
        y0, x0, y1, x1 = payload.region
        shown.labels[y0:y1, x0:x1] = payload.part.labels
        shown.confidence[y0:y1, x0:x1] = payload.part.confidence
        self._display_part(key, shown)
        self._clear_rows_message()  # the rows have given way to the view

    def _clear_rows_message(self) -> None:
        status = self.window.statusBar()
        if status.currentMessage().startswith(ROWS_MESSAGE):
            status.clearMessage()

    def _display_part(self, key, shown: CachedPrediction) -> None:
        requested = self._requested_at.get(key)
        if self._display(key[0], shown) and requested is not None:
            self.last_latency_s = time.perf_counter() - requested

    def _view_region(self, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The part of the image to predict first: the view and a margin, when that is
        under half of the image; else None."""
        visible = self.window.canvas.visible_region()
        if visible is None:
            return None
        height, width = shape
        y0, x0, y1, x1 = visible
        y0, x0 = max(0, y0 - REGION_MARGIN), max(0, x0 - REGION_MARGIN)
        y1, x1 = min(height, y1 + REGION_MARGIN), min(width, x1 + REGION_MARGIN)
        if 2 * (y1 - y0) * (x1 - x0) > height * width:
            return None
        return y0, x0, y1, x1

    def _view_moved(self) -> None:
        """After panning or zooming: ask for the part now on screen if it is not known."""
        entry = self.window.current_entry
        if self.model is None or entry is None:
            return
        key = _entry_key(entry)
        shown = self._shown_for(key)
        if shown is not None and shown.complete and shown.generation == self.generation:
            return
        visible, image = self.window.canvas.visible_region(), self.window.current_image()
        last = self._last_region
        if visible is None or image is None or (
                last is not None and last[:2] == (key, self.generation)
                and _contains(last[2], visible)):
            return
        region = self._view_region(image.shape[:2])
        if region is None and (key, self.generation) in self._requested_at:
            return  # zoomed out, and the whole image is already on its way
        # A part of the image: urgent, it interrupts the rest and training waits a moment.
        # The whole image (zoomed out): the usual request, training goes on meanwhile.
        self.refresh(urgent=region is not None)

    def _ready(self, key, result: CachedPrediction) -> None:
        entry_key, generation = key
        requested = self._requested_at.pop(key, None)
        for stale in [k for k in self._requested_at if k[0] == entry_key and k[1] < generation]:
            del self._requested_at[stale]  # interrupted requests: no result will come
        cached = self._cache.get(entry_key)
        if generation < self._oldest_wanted:
            return  # from before forget(): another project, or a dropped model
        if cached is not None and cached.generation > generation:
            return  # a newer model's prediction is already known
        self._store(entry_key, result)
        entry = self.window.current_entry
        if entry is not None and _entry_key(entry) == entry_key:
            if self._display(entry_key, result) and requested is not None:
                self.last_latency_s = time.perf_counter() - requested
            self._clear_rows_message()
        if generation == self.generation:
            self._prefetch_neighbours()

    def _prefetch_neighbours(self) -> None:
        """Predict the next, then the previous image ahead, once, while the worker is idle."""
        project, entry = self.window.project, self.window.current_entry
        if project is None or entry is None or self.model is None or self.worker.has_pending:
            return
        for other in project.neighbours(entry):
            if _entry_key(other) not in self._cache:
                self._request(other, lambda p=project, e=other: p.load_image(e), urgent=False)
                return

    def _display(self, entry_key: str, prediction: CachedPrediction) -> bool:
        """Put `prediction` on the canvas (unless a newer one is there); True if shown."""
        shown = self._shown_for(entry_key)
        if shown is not None and shown.generation > prediction.generation:
            return False
        try:
            self.window.canvas.set_prediction(prediction.labels)
            confidence = prediction.confidence if self.show_uncertainty else None
            self.window.canvas.set_uncertainty(confidence)
        except ValueError:  # not the size of the image on screen (it changed meanwhile)
            return False
        self.shown = (entry_key, prediction)
        self.predictionShown.emit(self.window.current_entry)
        return True

    def _shown_for(self, entry_key: str) -> CachedPrediction | None:
        """The prediction on the canvas, if it is of that image."""
        if self.shown is None or self.shown[0] != entry_key:
            return None
        return self.shown[1]

    def _show_nothing(self) -> None:
        self.shown = None
        self.window.canvas.set_prediction(None)
        self.window.canvas.set_uncertainty(None)

    def _store(self, entry_key: str, prediction: CachedPrediction) -> None:
        self._cache[entry_key] = prediction
        self._cache.move_to_end(entry_key)
        total = sum(p.nbytes for p in self._cache.values())
        while total > CACHE_BYTES and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            total -= evicted.nbytes

    def _failed(self, key, message: str) -> None:
        self._requested_at.pop(key, None)
        self._clear_rows_message()
        current = self.window.current_entry
        if current is None or _entry_key(current) != key[0]:
            return  # an image read ahead: said if and when the user opens it
        if key[1] == self.generation and self._failed_generation != self.generation:
            self._failed_generation = self.generation  # one message per model, not per image
            where = "" if current.name in message else f"{current.name}: "
            self.window.show_error("Prediction failed", where + message)


@dataclass
class _RowsSoFar:
    done: int  # rows from the top that are final
    so_far: object  # the full-size Prediction being filled


@dataclass
class _ViewPart:
    region: tuple[int, int, int, int]  # y0, x0, y1, x1
    part: object  # the region's Prediction
    canvas: CachedPrediction | None  # a full-size one to lay it on, when one is needed


def _prefer_channels_last(module) -> None:
    """Once per model, on the worker thread: convolutions on the CPU run some 20% faster
    with channels-last weights (measured with benchmarks/gui_responsiveness.py)."""
    if not getattr(module, "_segstudio_channels_last", False):
        import torch

        module.to(memory_format=torch.channels_last)
        module._segstudio_channels_last = True


def _canvas(shape: tuple[int, int], base: CachedPrediction | None) -> CachedPrediction:
    """A partial prediction to write parts into: a copy of `base`, or nothing predicted."""
    labels = np.full(shape, UNLABELLED, np.uint8) if base is None else base.labels.copy()
    confidence = (np.full(shape, 255, np.uint8) if base is None or base.confidence is None
                  else base.confidence.copy())
    return CachedPrediction(-1, labels, confidence, complete=False)


def _contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and inner[2] <= outer[2] and inner[3] <= outer[3])


def _entry_key(entry) -> str:
    return str(getattr(entry, "id", None) or getattr(entry, "name", None) or id(entry))

"""The training loop, as an iterator of reports.

    trainer = Trainer(TrainConfig(time_budget=60), source, classes)
    for report in trainer:          # StepReport ... ValReport ... DoneReport
        ...
    trainer.save("model_dir")       # the best model by validation mIoU

It knows nothing of threads or Qt: another thread may call `stop()` (honoured
between steps, which are kept short) and `snapshot()` (a CPU copy of the
current model for live predictions). An error a user can cause (a TrainingError)
is raised before the first step; after it, training ends with a DoneReport
whose `error` says why, and the model in its last good state is there to save.
The learning rate warms up, stays at its peak, then decays over the last
quarter of the steps or the time budget, whichever ends first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from segstudio.core.classes import UNLABELLED, LabelClass
from segstudio.ml.augment import AugmentConfig
from segstudio.ml.crop_choice import CropPlan, plan_crops
from segstudio.ml.data import SampleSource
from segstudio.ml.devices import pick_device
from segstudio.ml.normalization import Normalization
from segstudio.ml.saved import SavedModel, architecture_dict, load_model, save_model
from segstudio.ml.step import StepRunner
from segstudio.ml.train_config import (
    DoneReport,
    StepReport,
    TrainConfig,
    TrainingError,
    ValReport,
)
from segstudio.ml.trainset import SampleSet
from segstudio.ml.validation import validate

__all__ = [
    "DoneReport", "StepReport", "TrainConfig", "Trainer", "TrainingError", "ValReport",
]

_THROUGHPUT_WINDOW_S = 5.0
_FINAL_LR_FRACTION = 0.02


class Trainer:
    def __init__(self, config: TrainConfig, source: SampleSource, classes: list[LabelClass]):
        config.check()
        self.config, self.source, self.classes = config, source, list(classes)
        if len(self.classes) < 2:
            raise TrainingError("training needs at least two classes; add another class")
        self.device = pick_device(config.device)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.model: torch.nn.Module | None = None
        self.architecture: dict | None = None
        self.normalization: Normalization | None = None
        self.step = 0
        self.last_val: ValReport | None = None
        self.best_val: ValReport | None = None
        self._best_state: dict | None = None
        self._good_state: dict | None = None
        self.rotate90: bool | None = None  # quarter turns, decided from the labels at start
        self.crops: CropPlan | None = None  # crop side and batch size, likewise
        self.class_weights: list[float] | None = None  # the loss's, resolved from "auto"
        self._runner: StepRunner | None = None
        self._val_seconds: float | None = None  # measured duration of one validation
        self._final_validation_limit_s: float | None = None  # set by stop()

    def stop(self, final_validation_limit_s: float | None = None) -> None:
        """Ask training to end after the current step; safe from any thread.

        Training ends with a validation of the final weights (when they have not been
        validated yet). With a limit, that validation is skipped if it would take longer
        (as long as the last one took, or as estimated from the steps' speed): the
        window's Stop validates a small held-out set and does not wait for a large one.
        """
        self._final_validation_limit_s = final_validation_limit_s
        self._stop.set()

    @property
    def best_miou(self) -> float | None:
        return self.best_val.miou if self.best_val else None

    @property
    def runs_on(self) -> dict:
        """Where the training runs and how, as "auto" chose: {"device_used": "cuda",
        "mixed_precision": "bfloat16"} ("off": float32); empty before it starts."""
        if self._runner is None:
            return {}
        dtype = self._runner.amp_dtype
        return {"device_used": self._runner.device.type,
                "mixed_precision": "off" if dtype is None else str(dtype).split(".")[-1]}

    def __iter__(self) -> Iterator[StepReport | ValReport | DoneReport]:
        return self._run_to_the_end()

    def _run_to_the_end(self) -> Iterator[StepReport | ValReport | DoneReport]:
        """`_run`, a TrainingError after the first step ending it as a failed DoneReport."""
        start = time.monotonic()
        try:
            yield from self._run()
        except TrainingError as exc:
            if not self.step:
                raise
            yield DoneReport("failed", self.step, self.best_miou, time.monotonic() - start,
                             error=str(exc))

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> Iterator[StepReport | ValReport | DoneReport]:
        config, start = self.config, time.monotonic()
        rng = np.random.default_rng(config.seed)
        torch.manual_seed(config.seed)
        init = self._load_init_model()
        train_set, val_set = self._load_data(init)
        sparse = labels_are_sparse(train_set)
        self.rotate90 = sparse if config.rotate90 == "auto" else config.rotate90 == "on"
        self.crops = plan_crops(config.crop_size, config.batch_size, sparse,
                                [item.mask for item in train_set.labelled_items()],
                                np.random.default_rng(config.seed))
        runner = self._build(init, train_set)
        self._runner = runner
        self._good_state = self._state_copy()
        if init is not None and val_set.items:
            # The model continued from is the one to beat: a run stopped early, while the
            # full learning rate still shakes it, keeps it rather than a worse one.
            yield self._validate(runner, val_set, start)
        augment = AugmentConfig.none()
        if config.augment:
            augment = AugmentConfig(rotate90=self.rotate90,
                                    elastic_probability=0.5 if config.elastic else 0.0)
        last_reload = last_val = last_good = time.monotonic()
        recent: deque[tuple[float, int]] = deque()
        bad_losses = 0
        while True:
            now = time.monotonic()
            reason = self._end_reason(now - start, runner, val_set)
            if reason is not None:
                break
            if now - last_reload >= config.reload_labels_s:
                if self._reload(train_set, val_set) and config.class_weights == "auto":
                    self._update_class_weights(runner, train_set)
                last_reload = now
            progress = self._progress(now - start)
            lr = _learning_rate(config, progress, self.step)
            images, masks = train_set.batch(
                self.crops.batch_size, self.crops.crop_size, rng, self.normalization, augment
            )
            if not (masks != UNLABELLED).any():
                continue  # rare with label-favouring crops; nothing to learn from
            with self._lock:
                loss = runner.train_step(images, masks, lr)
            if loss is None:
                # The step was skipped, but the forward pass may have spoilt BatchNorm's
                # running statistics: back to the last good state.
                self._restore(self._good_state)
                bad_losses += 1
                if bad_losses >= 3:
                    self._restore(self._best_state or self._good_state)
                    cause = f"try a lower learning rate (now {config.lr:g}) or another loss"
                    if self.step == 0 and config.init_model_dir is not None:
                        cause = ("the model it started from may itself be spoilt: train from "
                                 f"scratch instead, or {cause}")
                    raise TrainingError(
                        f"the loss became NaN or infinite at step {self.step + 1}; {cause}"
                    )
                continue
            bad_losses = 0
            self.step += 1
            now = time.monotonic()
            recent.append((now, self.step))
            while now - recent[0][0] > _THROUGHPUT_WINDOW_S and len(recent) > 2:
                recent.popleft()
            if now - last_good >= config.reload_labels_s:
                self._good_state = self._state_copy()
                last_good = now
            yield StepReport(
                step=self.step, total_steps=config.steps, elapsed_s=now - start,
                progress=self._progress(now - start), loss=loss, lr=lr,
                images_per_s=_rate(recent, self.crops.batch_size),
            )
            if (val_set.items and now - last_val >= config.val_interval_s
                    and not self._stop.is_set()):  # stopping: only the final one, if due
                val_started = time.monotonic()
                yield self._validate(runner, val_set, start)
                last_val = time.monotonic()
                self._val_seconds = last_val - val_started
        if self._final_validation_due(runner, val_set):
            yield self._validate(runner, val_set, start)
        yield DoneReport(reason, self.step, self.best_miou, time.monotonic() - start)

    def _end_reason(self, elapsed: float, runner: StepRunner,
                    val_set: SampleSet) -> str | None:
        """Why training ends now, or None. The time budget keeps room for the last validation."""
        config = self.config
        if self._stop.is_set():
            return "stopped"
        if config.steps is not None and self.step >= config.steps:
            return "steps"
        if config.time_budget is not None and self.step > 0:
            reserve = 0.0
            if val_set.items:
                reserve = self._validation_s(runner, val_set)
            if elapsed + reserve >= config.time_budget:
                return "time"
        return None

    def _final_validation_due(self, runner: StepRunner, val_set: SampleSet) -> bool:
        """Whether training ends with a validation: of weights not validated yet, unless
        stop() set a limit that it would exceed."""
        if not val_set.items or self.step == 0:
            return False
        if self.last_val is not None and self.last_val.step == self.step:
            return False
        limit = self._final_validation_limit_s if self._stop.is_set() else None
        return limit is None or self._validation_s(runner, val_set) <= limit

    def _validation_s(self, runner: StepRunner, val_set: SampleSet) -> float:
        """One validation's duration: as last measured, else estimated from the steps'."""
        if self._val_seconds:
            return self._val_seconds
        return runner.estimate_validation_s(val_set) * (2 if self.config.val_flip else 1)

    def _progress(self, elapsed: float) -> float:
        parts = []
        if self.config.steps is not None:
            parts.append(self.step / self.config.steps)
        if self.config.time_budget is not None:
            parts.append(elapsed / self.config.time_budget)
        return min(1.0, max(parts)) if parts else 0.0

    def _validate(self, runner: StepRunner, val_set: SampleSet, start: float) -> ValReport:
        with self._lock:
            summary = validate(runner, val_set, self.normalization, self.classes,
                               flip=self.config.val_flip)
        report = ValReport(
            step=self.step, elapsed_s=time.monotonic() - start, iou=summary["iou"],
            miou=summary["miou"], dice=summary["dice"],
            pixel_accuracy=summary["pixel_accuracy"], pq=summary.get("pq"),
        )
        self.last_val = report
        if report.miou is not None and (self.best_miou is None or report.miou > self.best_miou):
            self.best_val = report
            self._best_state = self._state_copy()
        self._good_state = self._best_state or self._state_copy()
        return report

    # -- setup ------------------------------------------------------------------------------

    def _load_init_model(self) -> SavedModel | None:
        if self.config.init_model_dir is None:
            return None
        init = load_model(self.config.init_model_dir, device="cpu")
        names = [c.name for c in init.classes]
        if names != [c.name for c in self.classes]:
            raise TrainingError(
                f"{self.config.init_model_dir}: the model was trained for the classes "
                f"{names}, not {[c.name for c in self.classes]}; continue only with the same "
                "classes, or train a new model"
            )
        return init

    def _why_no_training_images(self) -> str:
        missing = getattr(self.source, "missing_labelled", [])
        if missing:
            more = ", …" if len(missing) > 3 else ""
            return (f"the image files of {', '.join(missing[:3])}{more} (labelled) are "
                    "missing; relink them in the window's Images list")
        if self.source.val_samples():
            return ("every labelled image is for validation; move some to training "
                    "(right-click them in the window's Images list, or segstudio project "
                    "split)")
        return "add images with labels"

    def _load_data(self, init: SavedModel | None) -> tuple[SampleSet, SampleSet]:
        in_channels = init.in_channels if init else None
        train_set = SampleSet(len(self.classes), in_channels)
        train_set.refresh(self.source.train_samples())
        if not train_set.items:
            raise TrainingError("no training images: " + self._why_no_training_images())
        if not train_set.labelled_pixels:
            raise TrainingError(
                f"none of the {len(train_set.items)} training image(s) has a labelled pixel "
                f"(first: {next(iter(train_set.items))}); paint some labels first"
            )
        counts = train_set.class_counts()
        labelled = [c.name for c, n in zip(self.classes, counts, strict=True) if n]
        if len(labelled) < 2:
            raise TrainingError(
                f"the labels show only one class ({labelled[0]}); label some pixels of "
                "another class too, so that the model learns to tell them apart"
            )
        val_set = train_set.empty_like()
        val_set.refresh(self.source.val_samples())
        return train_set, val_set

    def _reload(self, train_set: SampleSet, val_set: SampleSet) -> bool:
        """Pick up changed labels; True when the training set changed."""
        changed = train_set.refresh(self.source.train_samples())
        val_set.refresh(self.source.val_samples())
        if not train_set.labelled_pixels:
            raise TrainingError("the labels were removed from every training image")
        return changed

    def _resolve_class_weights(self, train_set: SampleSet) -> list[float] | None:
        from segstudio.ml.losses import balanced_class_weights

        if self.config.class_weights == "auto":
            return balanced_class_weights(train_set.class_counts())
        return self.config.class_weights

    def _update_class_weights(self, runner: StepRunner, train_set: SampleSet) -> None:
        from segstudio.ml.losses import set_class_weights

        self.class_weights = self._resolve_class_weights(train_set)
        set_class_weights(runner.loss, self.class_weights)

    def _build(self, init: SavedModel | None, train_set: SampleSet) -> StepRunner:
        from segstudio.ml.losses import build_loss
        from segstudio.ml.models import build_model

        config = self.config
        if init is not None:
            model, self.architecture = init.model, dict(init.architecture)
            self.normalization = init.normalization
        else:
            options = config.resolved_model_options()
            self.architecture = architecture_dict(
                config.model, len(self.classes), train_set.in_channels, **options
            )
            model = build_model(
                config.model, len(self.classes), in_channels=train_set.in_channels, **options
            )
            labelled = train_set.labelled_items()
            self.normalization = Normalization.fit(
                [item.image for item in labelled], seed=config.seed
            )
        self.class_weights = self._resolve_class_weights(train_set)
        loss = build_loss(config.loss, len(self.classes), class_weights=self.class_weights,
                          **config.loss_options)
        self.model = model
        return StepRunner(model, loss, self.device, config,
                          batch_pixels=self.crops.batch_size * self.crops.crop_size**2)

    # -- models out -------------------------------------------------------------------------

    def snapshot(self) -> SavedModel | None:
        """A CPU copy of the current model with its metadata (None before training starts)."""
        with self._lock:
            if self.model is None:
                return None
            state = self._state_copy()
        return self._saved_model(state, self.last_val)

    def save(self, folder) -> Path:
        """Save the best model by validation mIoU (the latest one without validation)."""
        with self._lock:
            if self.model is None:
                raise TrainingError("nothing to save: training has not started")
            state = self._best_state if self._best_state is not None else self._state_copy()
        return save_model(self._saved_model(state, self.best_val or self.last_val), folder)

    def _saved_model(self, state: dict, val: ValReport | None) -> SavedModel:
        from segstudio.ml.models import build_model

        arch = self.architecture
        model = build_model(arch["name"], arch["num_classes"], in_channels=arch["in_channels"],
                            **arch["options"])
        model.load_state_dict(state)
        metrics = {}
        if val is not None:
            metrics = {"step": val.step, **val.figures()}
        training = {**self.config.to_json(), "steps_done": self.step}
        if self.config.init_model_dir is not None:  # the continued model's, not the settings'
            training.update(model=arch["name"], model_options=dict(arch["options"]))
            if val is not None and val.step == 0:  # no step beat it: its weights are kept
                training["kept_starting_model"] = True
        if self.rotate90 is not None:  # what "auto" chose
            training["rotate90"] = "on" if self.rotate90 else "off"
        if self.crops is not None:
            training.update(crop_size=self.crops.crop_size, batch_size=self.crops.batch_size,
                            crops_chosen_because=self.crops.reason)
        if self.class_weights is not None:
            training["class_weights_used"] = [round(w, 4) for w in self.class_weights]
        training.update(self.runs_on)
        mapping = getattr(self.source, "mapping", None)
        if mapping is not None and mapping.values is not None:
            # How the training masks stored each class, so evaluation reads masks alike.
            training["mask_values"] = list(mapping.values)
            training["mask_ignore_value"] = mapping.ignore_value
        return SavedModel(model.eval(), dict(arch), list(self.classes), self.normalization,
                          training=training, metrics=metrics)

    def _state_copy(self) -> dict:
        return {
            name: tensor.detach().to("cpu", copy=True).contiguous()
            for name, tensor in self.model.state_dict().items()
        }

    def _restore(self, state: dict | None) -> None:
        if state is not None:
            self.model.load_state_dict(state)


SPARSE_LABELS = 0.5  # below this share of the labelled images' pixels, labels are sparse


def labels_are_sparse(train_set: SampleSet) -> bool:
    """Sparse labels (scribbles) get quarter turns and small crops under "auto"."""
    pixels = sum(item.mask.size for item in train_set.labelled_items())
    return train_set.labelled_pixels < SPARSE_LABELS * pixels


def _learning_rate(config: TrainConfig, progress: float, step: int) -> float:
    """Linear warm-up, constant, then a cosine decay to a small fraction over the last
    `decay_fraction` of the steps or budget ("warm-up, stable, decay"); constant (after a
    short warm-up) when training has no limit."""
    if config.steps is None and config.time_budget is None:
        warm = min(1.0, (step + 1) / 50)
        return config.lr * warm
    warmup = config.warmup_fraction
    if progress < warmup:
        return config.lr * max(progress / warmup, 0.02)
    decay_start = max(warmup, 1 - config.decay_fraction)
    decay = (progress - decay_start) / max(1e-9, 1 - decay_start)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, decay))))
    return config.lr * (_FINAL_LR_FRACTION + (1 - _FINAL_LR_FRACTION) * cosine)


def _rate(recent: deque[tuple[float, int]], batch_size: int) -> float:
    if len(recent) < 2:
        return 0.0
    (t0, s0), (t1, s1) = recent[0], recent[-1]
    return (s1 - s0) * batch_size / max(t1 - t0, 1e-9)

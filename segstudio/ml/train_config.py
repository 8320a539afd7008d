"""Training settings and the reports the trainer yields."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from segstudio.core.errors import UserError

# AdamW's step is about the learning rate, whatever the gradient: above 1 the weights only
# blow up (finite but huge, a model that predicts one class), so more is taken as a slip.
MAX_LR = 1.0

# Chosen on ISBI 2012 with about a minute of 2 CPU cores (benchmarks/README.md):
# full-resolution layers with few channels are memory-bound on a CPU, so the U-Net
# runs at input stride 2 (2x2 pixel blocks folded into channels, a sub-pixel head
# out): a step is 2x faster than the 8-wide full-resolution U-Net's at twice the
# width, and full masks score 0.79 instead of 0.77 in a minute (scribbles: 0.65 to
# 0.66 either way, within the noise); a 512x512 prediction is 2x faster too.
DEFAULT_MODEL_OPTIONS: dict[str, dict] = {
    "unet": {"depth": 4, "base_width": 16, "upsampling": "transposed", "input_stride": 2},
}


class TrainingError(UserError):
    """Training cannot go on: no labels, diverging loss, out of memory..."""


@dataclass
class TrainConfig:
    model: str = "unet"
    model_options: dict = field(default_factory=dict)  # on top of DEFAULT_MODEL_OPTIONS
    # Crop side and crops per step. "auto" picks 128 x 8 when labels are sparse or the
    # labelled structures small, else 256 x 4 (ml/crop_choice.py); an "auto" batch with a
    # crop side set is 4.
    crop_size: int | str = "auto"
    batch_size: int | str = "auto"
    lr: float = 3e-3  # peak learning rate of AdamW
    weight_decay: float = 1e-4
    loss: str = "ce"
    loss_options: dict = field(default_factory=dict)
    # Per-class loss weights: "auto" lifts rare classes a little, from the labelled
    # pixels of each class (losses.balanced_class_weights; updated as labels change);
    # None weighs every pixel alike; or a list, one weight per class.
    class_weights: list[float] | str | None = "auto"
    augment: bool = True  # crops favouring labels, flips, quarter turns, intensity jitter
    # Elastic deformation too. Off by default: in 30-60 s CPU budgets on ISBI it cost
    # steps and scored lower (0.762 against 0.772 with full masks, 0.648 against
    # 0.665 with scribbles); worth it for long trainings on few images.
    elastic: bool = False
    # Quarter turns: "auto" turns crops only when labels are sparse (under half of the
    # labelled images' pixels). On ISBI they lift scribbles from ~0.60 to ~0.66 mIoU, but
    # cost complete masks ~0.01 in a minute (and help them no more on 1 or 4 images).
    # Turned off, images keep their up (road scenes need it); flips are left/right only.
    rotate90: str = "auto"  # "auto", "on" or "off"
    steps: int | None = None  # stop after this many steps...
    time_budget: float | None = None  # ...or seconds; neither: until stop()
    device: str = "auto"
    val_interval_s: float = 30.0
    val_flip: bool = False  # average with the mirror image when validating (+0.002 mIoU)
    seed: int = 0
    amp: str = "auto"  # "auto", "on" or "off": mixed precision
    channels_last: str = "auto"  # "auto", "on" or "off"
    init_model_dir: str | None = None  # continue from a saved model
    reload_labels_s: float = 10.0
    warmup_fraction: float = 0.05  # of the steps or time budget: linear warm-up
    # The learning rate stays at its peak until this share of the budget is left, then
    # decays (cosine). Against a cosine over the whole budget, on ISBI: scribbles +0.009
    # mIoU on average, full masks +0.001 (benchmarks/README.md); and the model the window
    # shows while training has the full learning rate behind it for longer.
    decay_fraction: float = 0.25

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise UserError(f"steps must be at least 1, got {self.steps}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise UserError(f"the time budget must be positive, got {self.time_budget} s")
        _check_auto_or_int("crop size", self.crop_size, 16, 4096)
        _check_auto_or_int("batch size", self.batch_size, 1, 1024)
        if not 0 < self.lr <= MAX_LR:
            raise UserError(f"the learning rate must be a positive number up to {MAX_LR:g}, "
                            f"got {self.lr}")
        whole = isinstance(self.seed, int) and not isinstance(self.seed, bool)
        if not whole or not 0 <= self.seed < 2**32:
            raise UserError(f"the seed must be a whole number 0..{2**32 - 1}, got {self.seed!r}")
        for name in ("warmup_fraction", "decay_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise UserError(f"{name} must be 0..1, got {getattr(self, name)}")
        if isinstance(self.class_weights, str) and self.class_weights != "auto":
            raise UserError(f"class weights must be auto, none or one number per class, "
                            f"got {self.class_weights!r}")
        for name in ("amp", "channels_last", "rotate90"):
            value = getattr(self, name)
            if isinstance(value, bool):
                setattr(self, name, "on" if value else "off")
            elif value not in ("auto", "on", "off"):
                raise UserError(f"{name} must be auto, on or off, got {value!r}")

    def resolved_model_options(self) -> dict:
        return {**DEFAULT_MODEL_OPTIONS.get(self.model, {}), **self.model_options}

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["model_options"] = self.resolved_model_options()
        if data["init_model_dir"] is not None:
            data["init_model_dir"] = str(data["init_model_dir"])
        return data


def _check_auto_or_int(name: str, value, low: int, high: int) -> None:
    if value == "auto":
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{name} must be auto or {low}..{high}, got {value!r}")


@dataclass(frozen=True)
class StepReport:
    step: int
    total_steps: int | None  # None when training runs on a time budget or until stopped
    elapsed_s: float
    progress: float  # 0..1 (0 while training has no limit)
    loss: float
    lr: float
    images_per_s: float  # crops per second, averaged over the last few seconds


@dataclass(frozen=True)
class ValReport:
    step: int
    elapsed_s: float
    iou: dict[str, float | None]  # None: the class is absent from prediction and labels
    miou: float | None
    dice: dict[str, float | None]
    pixel_accuracy: float | None
    pq: float | None = None  # panoptic quality, each connected region a segment

    def figures(self) -> dict:
        """The scores as a saved model's metrics hold them (with "step" added there)."""
        return {"miou": self.miou, "iou": self.iou, "dice": self.dice,
                "pixel_accuracy": self.pixel_accuracy, "pq": self.pq}


@dataclass(frozen=True)
class DoneReport:
    reason: str  # "steps", "time", "stopped", or "failed" (after some steps: see `error`)
    steps: int
    best_miou: float | None
    elapsed_s: float
    error: str | None = None  # why training failed, its last good model kept

"""Segmentation losses. Every one ignores the unlabelled value 255 the same way.

    loss = build_loss("ce+dice", num_classes=3, class_weights=[1, 2, 1], weight=0.5)
    value = loss(logits, target)   # logits (N, K, H, W) float, target (N, H, W) long

Only labelled pixels count: an image with a few scribbles trains on those
pixels alone, and a batch with no labelled pixel gives exactly 0 (a finite
value whose backward gives zero gradients), never NaN.

- "ce": cross-entropy, averaged with class weights as PyTorch does:
  sum_i w[t_i] * -log p_i[t_i] / sum_i w[t_i] over labelled pixels i.
- "focal" (Lin et al. 2017): the same with each term times (1 - p_i[t_i])**gamma;
  class weights play the part of alpha. gamma=0 is exactly "ce".
- "dice": soft Dice over the batch, 1 - mean over classes of
  (2 * sum(p_c * y_c) + smooth) / (sum(p_c) + sum(y_c) + smooth), summing over
  labelled pixels only; class weights make it a weighted mean over classes.
- "ce+dice", "ce+focal": ce + weight * (the second loss).

`balanced_class_weights(counts)` gives the weights the trainer uses by default:
mild inverse-frequency weights from the labelled pixels of each class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.classes import MAX_CLASSES, UNLABELLED
from segstudio.core.errors import UserError
from segstudio.ml.registry import builder_options, check_options, lookup

# Keeps 0 / 0 at 0 when no pixel is labelled; far below any real sum of class weights.
_EPS = 1e-12


class SegmentationLoss(nn.Module):
    """Checks the inputs, masks out unlabelled pixels, defers the arithmetic to `compute`."""

    def __init__(self, num_classes: int, class_weights: Sequence[float] | None = None):
        super().__init__()
        self.num_classes = num_classes
        weights = torch.ones(num_classes) if class_weights is None else _weights(
            class_weights, num_classes)
        self.register_buffer("class_weights", weights)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_inputs(logits, target, self.num_classes)
        labelled = target != UNLABELLED
        # Unlabelled pixels get class 0 here; `labelled` zeroes whatever they contribute.
        safe_target = torch.where(labelled, target, torch.zeros_like(target)).long()
        return self.compute(logits.float(), safe_target, labelled)

    def compute(self, logits, target, labelled) -> torch.Tensor:
        raise NotImplementedError


class CrossEntropyLoss(SegmentationLoss):
    def compute(self, logits, target, labelled):
        return _weighted_mean(F.cross_entropy(logits, target, reduction="none"),
                              self.class_weights[target] * labelled)


class FocalLoss(SegmentationLoss):
    def __init__(self, num_classes, class_weights=None, gamma: float = 2.0):
        super().__init__(num_classes, class_weights)
        self.gamma = _non_negative("gamma", gamma)

    def compute(self, logits, target, labelled):
        log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        # The clamp keeps (1 - p) ** gamma and its gradient finite when p rounds to 1.
        modulation = (1 - log_p.exp()).clamp_min(_EPS) ** self.gamma
        return _weighted_mean(-modulation * log_p, self.class_weights[target] * labelled)


class DiceLoss(SegmentationLoss):
    def __init__(self, num_classes, class_weights=None, smooth: float = 1.0):
        super().__init__(num_classes, class_weights)
        self.smooth = _non_negative("smooth", smooth)
        if self.smooth == 0:
            raise UserError("option smooth must be above 0 (it keeps empty classes at Dice 1)")

    def compute(self, logits, target, labelled):
        mask = labelled[:, None].to(logits.dtype)
        probabilities = logits.softmax(dim=1) * mask
        one_hot = F.one_hot(target, self.num_classes).permute(0, 3, 1, 2).to(logits.dtype) * mask
        dims = (0, 2, 3)
        intersection = (probabilities * one_hot).sum(dims)
        total = probabilities.sum(dims) + one_hot.sum(dims)
        dice = (2 * intersection + self.smooth) / (total + self.smooth)
        weights = self.class_weights
        return 1 - (weights * dice).sum() / weights.sum()


class CombinedLoss(nn.Module):
    """first + weight * second."""

    def __init__(self, first: nn.Module, second: nn.Module, weight: float):
        super().__init__()
        self.first, self.second = first, second
        self.weight = _non_negative("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.first(logits, target) + self.weight * self.second(logits, target)


def _ce(num_classes, class_weights):
    return CrossEntropyLoss(num_classes, class_weights)


def _focal(num_classes, class_weights, gamma: float = 2.0):
    return FocalLoss(num_classes, class_weights, gamma)


def _dice(num_classes, class_weights, smooth: float = 1.0):
    return DiceLoss(num_classes, class_weights, smooth)


def _ce_dice(num_classes, class_weights, weight: float = 1.0, smooth: float = 1.0):
    return CombinedLoss(CrossEntropyLoss(num_classes, class_weights),
                        DiceLoss(num_classes, class_weights, smooth), weight)


def _ce_focal(num_classes, class_weights, weight: float = 1.0, gamma: float = 2.0):
    return CombinedLoss(CrossEntropyLoss(num_classes, class_weights),
                        FocalLoss(num_classes, class_weights, gamma), weight)


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "ce": _ce,
    "dice": _dice,
    "focal": _focal,
    "ce+dice": _ce_dice,
    "ce+focal": _ce_focal,
}


# Exponent of the inverse class frequency in balanced weights. Pixel losses favour
# common classes while mIoU weighs every class alike; full inverse frequency (power 1)
# overshoots. Measured (benchmarks/README.md): ISBI full masks +0.003 mIoU at 0.2-0.3
# (class weights 2:1, power ~0.5, lose), CamVid +0.01-0.03; scribbles give each class
# about the same pixels, so their weights stay near 1.
BALANCE_POWER = 0.3


def balanced_class_weights(counts: Sequence[int], power: float = BALANCE_POWER) -> list[float]:
    """(labelled pixels of the most common class / of this class) ** power; 1 for a class
    with no labelled pixel (it adds nothing to the loss either way)."""
    counts = np.asarray(counts, dtype=np.float64)
    most = counts.max(initial=0.0)
    return [float((most / count) ** power) if count > 0 else 1.0 for count in counts]


def set_class_weights(loss: nn.Module, class_weights: Sequence[float]) -> None:
    """New class weights for every part of a loss (both terms of "ce+dice")."""
    for part in loss.modules():
        if isinstance(part, SegmentationLoss):
            part.class_weights.copy_(_weights(class_weights, part.num_classes))


def loss_names() -> list[str]:
    return list(LOSSES)


def loss_options(name: str) -> dict:
    """The options of a loss with their default values."""
    return builder_options(_builder(name))


def build_loss(name: str, num_classes: int, class_weights: Sequence[float] | None = None,
               **options) -> nn.Module:
    builder = _builder(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not (
            1 <= num_classes <= MAX_CLASSES):
        raise UserError(f"num_classes must be an integer from 1 to {MAX_CLASSES}, "
                        f"got {num_classes!r}")
    check_options("loss", name, options, loss_options(name))
    return builder(num_classes, class_weights, **options)


def _builder(name: str) -> Callable[..., nn.Module]:
    return lookup(LOSSES, name, "loss", "losses")


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (values * weights).sum() / weights.sum().clamp_min(_EPS)


def _weights(class_weights, num_classes: int) -> torch.Tensor:
    try:
        weights = torch.as_tensor([float(w) for w in class_weights], dtype=torch.float32)
    except (TypeError, ValueError):
        raise UserError(f"class_weights must be a list of numbers, got {class_weights!r}") from None
    if len(weights) != num_classes:
        raise UserError(f"class_weights has {len(weights)} values for {num_classes} classes")
    if not torch.isfinite(weights).all() or (weights < 0).any() or weights.sum() == 0:
        raise UserError(f"class_weights must be finite, >= 0 and not all 0, got {class_weights!r}")
    return weights


def _non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UserError(f"option {name} must be a number >= 0, got {value!r}")
    return float(value)


def _check_inputs(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> None:
    if logits.ndim != 4 or logits.shape[1] != num_classes:
        raise ValueError(f"logits must be (N, {num_classes}, H, W), got {tuple(logits.shape)}")
    if target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f"target must be (N, H, W) = {tuple(logits.shape[:1] + logits.shape[2:])}"
                         f", got {tuple(target.shape)}")
    if target.dtype.is_floating_point or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class indices, got {target.dtype}")
    bad = (target != UNLABELLED) & ((target < 0) | (target >= num_classes))
    if bad.any():
        values = sorted(torch.unique(target[bad]).tolist())[:10]
        raise UserError(
            f"target holds class value(s) {values} but the model has {num_classes} classes "
            f"(0..{num_classes - 1}; {UNLABELLED} = unlabelled)"
        )

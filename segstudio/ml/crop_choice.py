"""Training crops under crop_size="auto": small where the labels allow it, else large.

In a fixed time, small crops buy steps and large ones context (benchmarks/README.md,
fifth and eighth rounds, 2 CPU cores). ISBI's membranes and cells, a few pixels to a few
tens across, score higher with 128 x batch 8 than with 256 x 4 (full masks, 60 s: mean
0.8015 against 0.7982, higher on each of six seeds). Road scenes, whose regions span
much of the frame, lose 0.04 mIoU with them (camvid-mini, 90 s). What tells the two
apart is how far labelled pixels lie from the nearest pixel of another class: 95% of
ISBI's lie within 32 px, 60% of CamVid's. A 128-pixel crop around a pixel within 32 px
of a boundary holds the boundary and as much again beyond it.

Strokes seldom meet, so sparse labels show no boundaries to measure (nor does the distance
between strokes of two classes tell EM from road scenes). Sparse labels get small crops:
on ISBI strokes they score 0.680 against 0.651 (higher on each of six seeds), on road-scene
strokes 0.212 against 0.226 (three seeds; level in an earlier round).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.classes import UNLABELLED
from segstudio.ml.models import MAX_DOWNSAMPLING

SMALL, LARGE = (128, 8), (256, 4)  # crop side, batch size
NEAR_BOUNDARY_PX = 32  # a quarter of the small crop
NEAR_SHARE = 0.8  # of the labelled pixels, for the small crops
_WINDOW = 512  # boundaries are measured in windows of this side...
_MAX_WINDOWS = 32  # ...at most this many, so a huge image costs no more than a few small


@dataclass(frozen=True)
class CropPlan:
    crop_size: int
    batch_size: int
    reason: str  # in words, for the saved model's training settings


def plan_crops(crop_size: int | str, batch_size: int | str, sparse: bool,
               masks: list[np.ndarray], rng: np.random.Generator) -> CropPlan:
    """The crop side and batch size to train with, given the labelled images' masks and
    whether their labels are sparse. An "auto" batch goes with the crop "auto" chose; with
    a crop side set, it is 4. No crop is larger than the largest image needs (rounded up to
    MAX_DOWNSAMPLING): the rest would be padding, costing time and teaching nothing."""
    plan = _planned(crop_size, batch_size, sparse, masks, rng)
    largest = max((max(mask.shape) for mask in masks), default=plan.crop_size)
    cap = -(-largest // MAX_DOWNSAMPLING) * MAX_DOWNSAMPLING
    if plan.crop_size <= cap:
        return plan
    return CropPlan(cap, plan.batch_size, f"{plan.reason}; {plan.crop_size} cut to {cap} for "
                                          f"the largest image ({largest} px)")


def _planned(crop_size, batch_size, sparse: bool, masks: list[np.ndarray],
             rng: np.random.Generator) -> CropPlan:
    if crop_size != "auto":
        batch = LARGE[1] if batch_size == "auto" else batch_size
        return CropPlan(int(crop_size), int(batch), "as set")
    if sparse:
        crop, reason = SMALL, "sparse labels"
    else:
        share = share_near_boundary(masks, rng)
        crop = SMALL if share >= NEAR_SHARE else LARGE
        reason = (f"{100 * share:.0f}% of the labelled pixels lie within "
                  f"{NEAR_BOUNDARY_PX} px of another class")
    batch = crop[1] if batch_size == "auto" else int(batch_size)
    return CropPlan(crop[0], batch, reason)


def share_near_boundary(masks: list[np.ndarray], rng: np.random.Generator) -> float:
    """Share of labelled pixels within NEAR_BOUNDARY_PX of a pixel of another class,
    measured in up to _MAX_WINDOWS windows of _WINDOW pixels."""
    windows = [window for mask in masks for window in _windows(mask, rng)]
    if len(windows) > _MAX_WINDOWS:
        picks = rng.choice(len(windows), size=_MAX_WINDOWS, replace=False)
        windows = [windows[int(i)] for i in picks]
    near = labelled = 0
    for window in windows:
        inside = window != UNLABELLED
        distance = cv2.distanceTransform((~_class_boundaries(window)).astype(np.uint8),
                                         cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        near += int(np.count_nonzero(inside & (distance <= NEAR_BOUNDARY_PX)))
        labelled += int(np.count_nonzero(inside))
    return near / labelled if labelled else 0.0


def _windows(mask: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Views of the mask: all of it when small, else a few random windows."""
    h, w = mask.shape
    if h <= _WINDOW and w <= _WINDOW:
        return [mask]
    count = min(_MAX_WINDOWS, -(-h * w // _WINDOW**2))
    tops = rng.integers(0, max(1, h - _WINDOW + 1), size=count)
    lefts = rng.integers(0, max(1, w - _WINDOW + 1), size=count)
    return [mask[t:t + _WINDOW, left:left + _WINDOW] for t, left in zip(tops, lefts, strict=True)]


def _class_boundaries(mask: np.ndarray) -> np.ndarray:
    """True at labelled pixels whose right or lower neighbour is of another class."""
    labelled = mask != UNLABELLED
    edges = np.zeros(mask.shape, dtype=bool)
    across = (mask[:, 1:] != mask[:, :-1]) & labelled[:, 1:] & labelled[:, :-1]
    down = (mask[1:] != mask[:-1]) & labelled[1:] & labelled[:-1]
    edges[:, :-1] |= across
    edges[:-1] |= down
    return edges

"""The trainer's view of its samples: images and masks in memory, checked, ready for batches.

`refresh(samples)` is called again while training: new samples are loaded,
removed ones dropped, and a mask the source returns as a new array (its file
changed) replaces the old one, so freshly painted labels are trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segstudio.core.classes import UNLABELLED
from segstudio.core.errors import MaskError, UserError
from segstudio.core.masks import value_histogram
from segstudio.ml.augment import AugmentConfig, LabelledPixels, augment_crop
from segstudio.ml.data import Sample
from segstudio.ml.normalization import Normalization


@dataclass
class LoadedSample:
    name: str
    image: np.ndarray  # (H, W, C) as stored
    mask: np.ndarray  # uint8 (H, W)
    labelled: LabelledPixels
    histogram: np.ndarray  # int64 (256,): pixels of each mask value

    @property
    def labelled_count(self) -> int:
        return self.labelled.count


class SampleSet:
    def __init__(self, num_classes: int, in_channels: int | None = None):
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.pixel_type: np.dtype | None = None  # of the first image: the others must match
        self.first_image = ""
        self.items: dict[str, LoadedSample] = {}
        self._samples: dict[str, Sample] = {}

    def empty_like(self) -> SampleSet:
        """A set for images that must match this one's (the validation images)."""
        alike = SampleSet(self.num_classes, self.in_channels)
        alike.pixel_type, alike.first_image = self.pixel_type, self.first_image
        return alike

    def refresh(self, samples: list[Sample]) -> bool:
        """Bring the set up to date with `samples`; True when anything changed."""
        changed = False
        wanted = {sample.name: sample for sample in samples}
        for name in list(self.items):
            if name not in wanted:
                del self.items[name]
                changed = True
        for name, sample in wanted.items():
            item = self.items.get(name)
            if item is None or self._samples.get(name) is not sample:
                self.items[name] = self._load(sample)
                self._samples[name] = sample
                changed = True
                continue
            mask = sample.load_mask()
            if mask is not item.mask:
                item.histogram = self._check_mask(sample, mask, item.image)
                item.mask, item.labelled = mask, LabelledPixels(mask)
                changed = True
        return changed

    def labelled_items(self) -> list[LoadedSample]:
        return [item for item in self.items.values() if item.labelled_count]

    @property
    def labelled_pixels(self) -> int:
        return sum(item.labelled_count for item in self.items.values())

    def class_counts(self) -> np.ndarray:
        """Labelled pixels of each class over all samples, int64 (num_classes,)."""
        counts = np.zeros(256, dtype=np.int64)
        for item in self.labelled_items():
            counts += item.histogram
        return counts[: self.num_classes]

    def batch(
        self,
        batch_size: int,
        crop_size: int,
        rng: np.random.Generator,
        normalization: Normalization,
        augment: AugmentConfig,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random crops from images that have labels, stacked as (N, C, S, S) and (N, S, S)."""
        items = self.labelled_items()
        picks = rng.integers(len(items), size=batch_size)
        images, masks = [], []
        for index in picks:
            item = items[int(index)]
            image, mask = augment_crop(
                item.image, item.mask, crop_size, rng, augment, item.labelled,
                normalize=normalization.apply,
            )
            images.append(image)
            masks.append(mask)
        return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(masks)).long()

    def _load(self, sample: Sample) -> LoadedSample:
        image = sample.load_image()
        if image.ndim == 2:
            image = image[:, :, None]
        if self.in_channels is None:
            self.in_channels = image.shape[2]
        elif image.shape[2] != self.in_channels:
            raise UserError(
                f"{sample.where}: the image has {image.shape[2]} channel(s), the others (or the "
                f"model) {self.in_channels}; all images must have the same number of channels"
            )
        if self.pixel_type is None:
            self.pixel_type, self.first_image = image.dtype, sample.where
        elif image.dtype != self.pixel_type:
            # One normalisation fits them all: 8-bit and 16-bit or float images, stretched
            # together, would read each other's values on the wrong scale.
            raise UserError(
                f"{sample.where}: the image has {pixel_words(image.dtype)} pixels, "
                f"{self.first_image} {pixel_words(self.pixel_type)} ones; convert the images "
                "to one bit depth to train on them together"
            )
        mask = sample.load_mask()
        histogram = self._check_mask(sample, mask, image)
        return LoadedSample(sample.name, image, mask, LabelledPixels(mask), histogram)

    def _check_mask(self, sample: Sample, mask: np.ndarray, image: np.ndarray) -> np.ndarray:
        """Refuse a mask of the wrong size or with values that are not classes; return
        its histogram (pixels of each value), kept for the class counts."""
        where = sample.mask_path or sample.name
        if mask.shape != image.shape[:2] or mask.dtype != np.uint8:
            raise MaskError(
                f"{where}: the mask is {mask.dtype} of shape {mask.shape}, expected uint8 "
                f"{image.shape[:2]} like its image"
            )
        histogram = value_histogram(mask)  # by bands: no full-size temporaries
        present = np.flatnonzero(histogram)
        bad = present[(present >= self.num_classes) & (present != UNLABELLED)]
        if bad.size:
            raise MaskError(
                f"{where}: values {bad[:8].tolist()} are not class indices "
                f"0..{self.num_classes - 1} or {UNLABELLED} (unlabelled)"
            )
        return histogram


def pixel_words(dtype: np.dtype) -> str:
    """'8-bit', '16-bit', '32-bit float'... for messages."""
    dtype = np.dtype(dtype)
    kind = {"f": " float", "i": " signed"}.get(dtype.kind, "")
    return f"{8 * dtype.itemsize}-bit{kind}"

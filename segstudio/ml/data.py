"""Training data: samples (an image and its label mask) and where they come from.

A `Sample` holds two callables rather than arrays, so that a source can cache
images and re-read a mask only when its file changed: the trainer asks its
source for samples again every few seconds and so picks up labels painted
while it trains. Masks are uint8 class indices with 255 = unlabelled.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from segstudio.core.classes import UNLABELLED, LabelClass
from segstudio.core.errors import UserError
from segstudio.core.images import IMAGE_EXTENSIONS, list_images, load_image
from segstudio.ml.mask_mapping import MaskMapping


@dataclass(frozen=True)
class Sample:
    name: str
    load_image: Callable[[], np.ndarray]  # -> (H, W, C) as stored
    load_mask: Callable[[], np.ndarray]  # -> uint8 (H, W), 255 = unlabelled
    mask_path: Path | None = field(default=None, compare=False)  # for messages

    @property
    def where(self) -> str:
        """The image file when the sample reads one, else its name: for messages."""
        return str(getattr(self.load_image, "path", None) or self.name)


@runtime_checkable
class SampleSource(Protocol):
    def train_samples(self) -> list[Sample]: ...

    def val_samples(self) -> list[Sample]: ...


class CachedFile:
    """The result of reading a file, read again only when its size or time changed."""

    def __init__(self, path: Path, reader: Callable[[Path], np.ndarray]):
        self.path, self._reader = path, reader
        self._key: tuple[int, int] | None = None
        self._value: np.ndarray | None = None
        self._lock = threading.Lock()

    def __call__(self) -> np.ndarray:
        with self._lock:
            try:
                stat = self.path.stat()
                key = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                key = None  # let the reader raise its own error naming the file
            if key is None or key != self._key or self._value is None:
                self._value = self._reader(self.path)
                self._key = key
            return self._value


def make_sample(name: str, image_path: Path, mask_path: Path, mapping: MaskMapping) -> Sample:
    image = CachedFile(image_path, load_image)

    def read_mask(path: Path) -> np.ndarray:
        return mapping.read(path, shape=image().shape[:2])

    return Sample(name, image, CachedFile(mask_path, read_mask), mask_path)


class FolderSource:
    """Images and masks in two folders, paired by file name without extension.

    Sub-folders are paired by their relative path. Images without a mask are
    left out (listed in `unpaired_images`); so are masks without an image
    (`unpaired_masks`). Validation comes from its own folders, or from a
    `val_fraction` of the pairs chosen reproducibly with `seed`, or is empty.
    """

    def __init__(
        self,
        images_dir: str | os.PathLike,
        masks_dir: str | os.PathLike,
        mask_values: str | list[int] | None = None,
        classes_file: str | os.PathLike | None = None,
        val_images: str | os.PathLike | None = None,
        val_masks: str | os.PathLike | None = None,
        val_fraction: float | None = None,
        seed: int = 0,
        mapping: MaskMapping | None = None,
    ):
        self.mapping = _mapping(mask_values, classes_file, mapping)
        if (val_images is None) != (val_masks is None):
            raise UserError("give both --val-images and --val-masks, or neither")
        if val_images is not None and val_fraction:
            raise UserError("give either validation folders or --val-fraction, not both")
        if val_fraction is not None and not 0 <= val_fraction < 1:
            raise UserError(f"--val-fraction {val_fraction}: expected a fraction 0 <= F < 1")
        self.unpaired_images: list[Path] = []
        self.unpaired_masks: list[Path] = []
        self._train = self._pair(Path(images_dir), Path(masks_dir))
        self._val: list[Sample] = []
        if val_images is not None:
            self._val = self._pair(Path(val_images), Path(val_masks))
        elif val_fraction:
            self._train, self._val = _split(self._train, val_fraction, seed)
        self._classes: list[LabelClass] | None = None

    def train_samples(self) -> list[Sample]:
        return list(self._train)

    def val_samples(self) -> list[Sample]:
        return list(self._val)

    @property
    def classes(self) -> list[LabelClass]:
        """The classes: from the mapping, else as many as the largest index in the masks."""
        if self._classes is None:
            count = self.mapping.num_classes
            if self.mapping.classes is None and count is None:
                count = _count_classes(self._train + self._val)
            self._classes = self.mapping.class_list(count)
        return self._classes

    def _pair(self, images_dir: Path, masks_dir: Path) -> list[Sample]:
        images, _ = list_images(images_dir)
        if not images:
            raise UserError(f"{images_dir}: no images found (looked for PNG, JPEG, TIFF, BMP)")
        if not masks_dir.is_dir():
            raise UserError(f"{masks_dir}: not a folder of masks")
        masks = _by_key(masks_dir)
        keys = [image.relative_to(images_dir).with_suffix("").as_posix() for image in images]
        for key, count in Counter(keys).items():
            if count > 1 and key in masks:
                first, second = [image for image, k in zip(images, keys, strict=True)
                                 if k == key][:2]
                raise UserError(f"{second}: two images for one mask ({first.name} and "
                                f"{second.name}, mask {masks[key]}); keep one, or rename it")
        samples = []
        for image_path, key in zip(images, keys, strict=True):
            mask_path = masks.pop(key, None)
            if mask_path is None:
                self.unpaired_images.append(image_path)
            else:
                samples.append(make_sample(key, image_path, mask_path, self.mapping))
        self.unpaired_masks.extend(sorted(masks.values()))
        if not samples:
            raise UserError(
                f"{masks_dir}: no mask has the name of an image in {images_dir} "
                "(masks are paired with images by file name, without the extension)"
            )
        return samples


def _mapping(mask_values, classes_file, mapping: MaskMapping | None) -> MaskMapping:
    if sum(x is not None for x in (mask_values, classes_file, mapping)) > 1:
        raise UserError("give either --mask-values or --classes, not both")
    if mapping is not None:
        return mapping
    if mask_values is not None:
        return MaskMapping.from_values(mask_values)
    if classes_file is not None:
        return MaskMapping.from_classes_file(classes_file)
    return MaskMapping.indices()


def _by_key(masks_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(masks_dir.rglob("*")):
        rel = path.relative_to(masks_dir)
        if any(p.startswith(".") for p in rel.parts) or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        key = rel.with_suffix("").as_posix()
        if key in found:
            raise UserError(
                f"{path}: two masks for the same image ({found[key].name} and {path.name}); "
                "keep one"
            )
        found[key] = path
    return found


def _split(samples: list[Sample], fraction: float, seed: int) -> tuple[list, list]:
    count = len(samples)
    val_count = min(count - 1, max(1, round(count * fraction)))
    if val_count < 1:
        raise UserError(
            f"--val-fraction {fraction}: {count} labelled image(s) are too few to hold some out"
        )
    order = np.random.default_rng(seed).permutation(count)
    val_index = set(order[:val_count].tolist())
    train = [s for i, s in enumerate(samples) if i not in val_index]
    val = [s for i, s in enumerate(samples) if i in val_index]
    return train, val


def _count_classes(samples: list[Sample]) -> int:
    largest = -1
    for sample in samples:
        mask = sample.load_mask()
        labelled = mask[mask != UNLABELLED]
        if labelled.size:
            largest = max(largest, int(labelled.max()))
    return max(largest + 1, 2)


class ProjectSource:
    """A project's labelled images as samples, split by each image's "train"/"val" split.

    Label files are re-read when they change on disk, so labels the window
    saves reach a running training. Each image keeps one Sample object.
    """

    def __init__(self, project):
        self.project = project
        self._samples: dict[str, Sample] = {}

    @property
    def classes(self) -> list[LabelClass]:
        return list(self.project.classes)

    def train_samples(self) -> list[Sample]:
        return self._labelled("train")

    def val_samples(self) -> list[Sample]:
        return self._labelled("val")

    @property
    def missing_labelled(self) -> list[str]:
        """Images with labels whose image file is missing: left out of the training."""
        project = self.project
        return [e.name for e in project.missing_images() if project.has_labels(e)]

    def _labelled(self, split: str) -> list[Sample]:
        project = self.project
        entries = [
            e for e in list(project.images)
            if e.split == split and getattr(e, "exists", True) and project.has_labels(e)
        ]
        return [self._sample(entry) for entry in entries]

    def _sample(self, entry) -> Sample:
        sample = self._samples.get(entry.id)
        if sample is None:
            project, label_path = self.project, self.project.label_path(entry)
            sample = Sample(
                entry.name,
                CachedFile(Path(entry.path), lambda _path: project.load_image(entry)),
                CachedFile(label_path, lambda _path: project.load_labels(entry)),
                label_path,
            )
            self._samples[entry.id] = sample
        return sample

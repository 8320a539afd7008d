"""The pieces of a project: image entries, their label statistics, stable ids, how
image paths are stored in project.json, image sizes from headers, and the staged
label files of a batch."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from segstudio.core.classes import UNLABELLED, LabelClass
from segstudio.core.errors import ImageReadError, MaskError
from segstudio.core.images import JPEG_EXTENSIONS, load_image, tiff_size
from segstudio.core.masks import value_histogram, write_mask

SPLITS = ("train", "val")
EXIF_ORIENTATION = 0x0112  # the EXIF tag
TURNED_A_QUARTER = (5, 6, 7, 8)  # its values that swap width and height
# Images at most this many folders above the project are stored by relative path,
# so the project and its images can be moved together.
_MAX_PARENT_STEPS = 2


@dataclass(frozen=True)
class LabelStats:
    """How much of an image is labelled: fraction of pixels, and pixels per class."""

    fraction: float
    counts: list[int]

    @property
    def labelled(self) -> bool:
        return self.fraction > 0

    @staticmethod
    def of_mask(mask: np.ndarray, num_classes: int) -> LabelStats:
        histogram = value_histogram(mask)
        labelled = int(mask.size - histogram[UNLABELLED])
        return LabelStats(labelled / max(mask.size, 1), histogram[:num_classes].tolist())


@dataclass(eq=False)
class ImageEntry:
    """One image of a project. `id` never changes and names its label file."""

    id: str
    name: str
    path: Path
    split: str = "train"
    size: tuple[int, int] | None = None  # (height, width), cached from the image header
    # Cached label statistics and the (mtime_ns, bytes) of the label file they describe.
    stats: LabelStats | None = field(default=None, repr=False)
    stats_file: tuple[int, int] | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict, repr=False)  # project.json keys we do not know

    @property
    def exists(self) -> bool:
        return self.path.is_file()


def make_id(name: str, taken: set[str]) -> str:
    """A file-name-safe id from an image's relative name: 'sub/a.png' -> 'sub__a'.

    `taken` holds the ids in use, lower-cased: on case-insensitive file systems
    'A' and 'a' would share a label file.
    """
    stem = str(PurePosixPath(name).with_suffix(""))
    base = re.sub(r"[^A-Za-z0-9._-]", "_", stem.replace("/", "__")).strip(".") or "image"
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or 'a-2.png', 'a-3.png', ... when another image already has it."""
    path = PurePosixPath(name)
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = str(path.with_name(f"{path.stem}-{n}{path.suffix}")), n + 1
    return candidate


def stored_path(path: Path, root: Path) -> str:
    """How project.json records an image: relative when inside or near the project."""
    return _stored_path(str(path), str(root))


@functools.lru_cache(maxsize=1 << 16)  # project.json is written often; paths rarely change
def _stored_path(path_text: str, root_text: str) -> str:
    path, root = Path(os.path.abspath(path_text)), Path(root_text)
    try:
        relative = Path(os.path.relpath(path, os.path.abspath(root)))
    except ValueError:  # another drive on Windows
        return path.as_posix()
    if relative.parts[:_MAX_PARENT_STEPS + 1].count("..") > _MAX_PARENT_STEPS:
        return path.as_posix()
    return relative.as_posix()


def resolve_path(stored: str, root: Path) -> Path:
    path = Path(stored)
    return path if path.is_absolute() else Path(os.path.normpath(root / path))


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image from its header, without decoding the pixels.

    Raises ImageReadError naming the file when it is missing, empty or not an image.
    """
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: the file is empty")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            height, width = tiff_size(path)
            return int(height), int(width)
        with Image.open(path) as image:
            width, height = image.size
            if path.suffix.lower() in JPEG_EXTENSIONS and image.getexif().get(
                    EXIF_ORIENTATION, 1) in TURNED_A_QUARTER:
                width, height = height, width  # load_image turns it upright
        return height, width
    except (OSError, UnidentifiedImageError, ValueError, IndexError, tifffile.TiffFileError):
        # Pillow does not know every format OpenCV reads: let the full loader decide.
        array = load_image(path)
        return array.shape[0], array.shape[1]


class LabelBatch:
    """Label files staged by Project.label_batch: `write(image_id, mask)`."""

    def __init__(self, staging: Path, classes: list[LabelClass]):
        self._staging, self._classes = staging, classes
        self.stats: dict[str, LabelStats] = {}

    def write(self, image_id: str, mask: np.ndarray) -> None:
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise MaskError(f"labels for {image_id} must be a 2-D uint8 array")
        write_mask(self._staging / f"{image_id}.png", mask, self._classes)
        self.stats[image_id] = LabelStats.of_mask(mask, len(self._classes))


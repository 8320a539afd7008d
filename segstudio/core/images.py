"""Reading images as users have them: PNG, JPEG, BMP, TIFF; 8/16-bit or float;
gray, RGB, RGBA or any number of channels.

`load_image` always returns an array of shape (H, W, C) in the file's own dtype
(uint8, uint16, float32, ...). Colour images come back in RGB order.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import tifffile

from segstudio.core.errors import ImageReadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_TIFF_EXTENSIONS = (".tif", ".tiff")
# A TIFF whose first axis is this small and last axis large is stored channels-first.
_MAX_PLANES = 64


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | os.PathLike, recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """Return (image files, skipped other files) under `folder`, sorted by path.

    Hidden files and folders (starting with '.') are ignored altogether.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ImageReadError(f"{root}: not a folder of images")
    pattern = "**/*" if recursive else "*"
    images, skipped = [], []
    for path in sorted(root.glob(pattern)):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        (images if is_image_file(path) else skipped).append(path)
    return images, skipped


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an (H, W, C) array in its stored dtype.

    Raises ImageReadError naming the file when it is missing, empty, corrupt
    or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: the file is empty")
    try:
        if path.suffix.lower() in _TIFF_EXTENSIONS:
            array = _read_tiff(path)
        else:
            array = _read_with_opencv(path)
    except ImageReadError:
        raise
    except Exception as exc:  # decoders raise many kinds of errors on corrupt files
        raise ImageReadError(f"{path}: cannot read the image ({exc})") from exc
    return _as_hwc(array, path)


def _read_with_opencv(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)  # works with non-ASCII paths, unlike imread
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(f"{path}: not a readable image (corrupt or unsupported format)")
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    return array


def _read_tiff(path: Path) -> np.ndarray:
    array = np.asarray(tifffile.imread(path))
    if array.ndim == 3 and array.shape[0] <= _MAX_PLANES and array.shape[2] > _MAX_PLANES:
        array = np.moveaxis(array, 0, -1)  # (C, H, W) -> (H, W, C)
    return array


def _as_hwc(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageReadError(
            f"{path}: expected a 2-D image with channels, got an array of shape {array.shape} "
            "(stacks and volumes are not supported: save one slice per file)"
        )
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    return np.ascontiguousarray(array)

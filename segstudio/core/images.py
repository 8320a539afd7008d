"""Reading images as users have them: PNG, JPEG, BMP, TIFF; 8/16-bit or float;
gray, RGB, RGBA or any number of channels.

`load_image` always returns an array of shape (H, W, C) in the file's own dtype
(uint8, uint16, float32, ...). Colour images come back in RGB order.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import tifffile

from segstudio.core.errors import ImageReadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_TIFF_EXTENSIONS = (".tif", ".tiff")
JPEG_EXTENSIONS = (".jpg", ".jpeg")
# tifffile's axes letters: Y, X; channels (C) and samples such as RGB (S); pages of
# unknown meaning (Q, I). Anything else (Z, T, ...) makes a stack, which is refused.
_CHANNEL_AXES = "CS"
_PAGE_AXES = "QI"
# Pages of unknown meaning are channels when few (at most this many) and the images wide.
_MAX_PLANES = 64

# A file that cannot be read is reported once, by the reader's error naming it; the
# libraries' own warnings about it would only be noise on the terminal.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
logging.getLogger("tifffile").setLevel(logging.CRITICAL)


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | os.PathLike, recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """Return (image files, skipped other files) under `folder`, sorted by path.

    Hidden files and folders (starting with '.') are ignored altogether.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ImageReadError(f"{root}: " + ("not a folder of images" if root.exists()
                                           else "no such folder"))
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
    # A JPEG (8-bit, no alpha to keep) is turned as its EXIF orientation says, as viewers
    # and other labelling tools show it: a phone's portrait photo is stored sideways.
    jpeg = path.suffix.lower() in JPEG_EXTENSIONS
    array = cv2.imdecode(data, cv2.IMREAD_ANYCOLOR if jpeg else cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(f"{path}: not a readable image (corrupt or unsupported format)")
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.ndim == 3 and array.shape[2] == 4 and _is_grey_alpha_png(data):
        array = array[:, :, [0, 3]]  # OpenCV spreads the grey over B, G and R
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    return array


def _is_grey_alpha_png(data: np.ndarray) -> bool:
    """Whether the bytes are a PNG of colour type 4 (grey and alpha), read from its header."""
    return bytes(data[:8]) == b"\x89PNG\r\n\x1a\n" and data.size > 25 and data[25] == 4


def _read_tiff(path: Path) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        series, axes = _tiff_series(tif, path)
        array = np.asarray(series.asarray())
    channels = [i for i, a in enumerate(axes) if a in _CHANNEL_AXES]
    order = [axes.index("Y"), axes.index("X"), *channels]
    array = np.moveaxis(array, order, range(array.ndim))
    return array.reshape(array.shape[:2] + (-1,))  # (H, W, C), channel axes merged


def tiff_size(path: Path) -> tuple[int, int]:
    """(height, width) of a TIFF from its header, as load_image will read it."""
    with tifffile.TiffFile(path) as tif:
        series, axes = _tiff_series(tif, path)
        return series.shape[axes.index("Y")], series.shape[axes.index("X")]


def _tiff_series(tif: tifffile.TiffFile, path: Path) -> tuple[tifffile.TiffPageSeries, str]:
    """The file's first series (its image), and its axes as `_tiff_axes` reads them."""
    series = tif.series[0]
    return series, _tiff_axes(series.shape, series.axes, path)


def _tiff_axes(shape: tuple[int, ...], axes: str, path: Path) -> str:
    """tifffile's `axes` of a TIFF series of `shape`, checked to be Y, X and channel axes.

    Pages of unknown meaning (a file without axes metadata) are channels first or
    rows, as their shape makes plain; a stack of pages, slices or time points raises
    ImageReadError naming the file.
    """
    found = axes  # a single page or plane adds a channel axis of size 1:
    axes = "".join("C" if n == 1 and a not in "YX" else a for a, n in zip(axes, shape, strict=True))
    if len(shape) == 3 and axes[0] in _PAGE_AXES and axes[1:] == "YX":
        pages, width = shape[0], shape[2]
        if pages <= _MAX_PLANES < width:
            return "CYX"  # a few planes of a wide image
        if width <= _MAX_PLANES < pages:
            return "YXC"  # (H, W, C) written as H pages of W x C, e.g. by tifffile.imwrite
        raise ImageReadError(
            f"{path}: {pages} pages of {width}x{shape[1]} images, and nothing says whether "
            "they are channels or slices of a stack; stacks are not supported: save one slice "
            "per file, or save the channels with axes metadata (e.g. ImageJ or OME axes 'CYX')"
        )
    if sorted(a for a in axes if a not in _CHANNEL_AXES) != ["X", "Y"]:
        raise ImageReadError(
            f"{path}: a stack or volume of images (TIFF axes {found!r}, shape {tuple(shape)}); "
            "stacks and volumes are not supported: save one slice per file"
        )
    return axes


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

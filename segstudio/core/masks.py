"""Label masks on disk: 8-bit PNGs of class indices (255 = unlabelled).

Written as palette PNGs so any viewer shows the class colours, read back as
indices. Plain single-channel PNG/TIFF index masks are accepted too. Pillow,
not OpenCV, handles palette PNGs: OpenCV expands them to colours.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from segstudio.core.atomic import atomic_path
from segstudio.core.classes import UNLABELLED, LabelClass, palette
from segstudio.core.errors import MaskError


def empty_mask(height: int, width: int) -> np.ndarray:
    return np.full((height, width), UNLABELLED, dtype=np.uint8)


def read_mask_values(path: str | os.PathLike, colour: bool = False) -> np.ndarray:
    """Read a mask file's raw values as a 2-D array (palette indices stay indices,
    1-bit masks are 0 and 255). With `colour`, an RGB(A) mask comes back as (H, W, 3)
    uint8 colours, for a classes file to map."""
    path = Path(path)
    if not path.is_file():
        raise MaskError(f"{path}: mask file not found")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            values = np.asarray(tifffile.imread(path))
        else:
            with Image.open(path) as image:
                if colour and image.mode in ("RGB", "RGBA"):
                    return np.asarray(image.convert("RGB"))
                if image.mode not in ("P", "L", "I", "I;16", "1", "PA", "LA"):
                    raise MaskError(
                        f"{path}: a mask must hold class indices (palette or single-channel), "
                        f"not colours ({image.mode}); colour masks are read with a classes file "
                        "giving each class's colour"
                    )
                values = np.asarray(image)
    except MaskError:
        raise
    except UnidentifiedImageError:
        raise MaskError(f"{path}: not a readable image file (corrupt or of another format)") from None
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise MaskError(f"{path}: cannot read the mask ({exc})") from None
    if colour and values.ndim == 3 and values.shape[2] in (3, 4) and values.dtype == np.uint8:
        return values[:, :, :3]  # an RGB(A) TIFF
    if values.dtype == np.bool_:  # 1-bit: black and white, 0 and 255 as viewers show them
        values = values.astype(np.uint8) * 255
    if values.ndim == 3 and values.shape[2] in (1, 2):  # PA/LA: drop alpha
        values = values[:, :, 0]
    if values.ndim != 2:
        raise MaskError(f"{path}: a mask must be single-channel, got shape {values.shape}")
    if values.dtype.kind == "f":
        return _whole_numbers(values, path)
    return values


def _whole_numbers(values: np.ndarray, path: Path) -> np.ndarray:
    """A float mask's values as integers, when each is a whole number (0.0, 1.0, 255.0):
    a fraction or NaN is no class value, and is not rounded to one."""
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise MaskError(f"{path}: a mask holds whole class values, not {values[row, col]:g} "
                        f"(at x {col}, y {row}; {np.count_nonzero(bad)} such pixels); "
                        "is this a probability map rather than a mask?")
    return values.astype(np.int64)


def map_mask_colours(rgb: np.ndarray, colours: dict[tuple[int, int, int], int],
                     ignore_color: tuple[int, int, int] | None, path: Path) -> np.ndarray:
    """(H, W, 3) colours -> uint8 class indices through `colours` (colour -> index); the
    ignore colour is unlabelled, and any other colour an error naming the file."""
    keys = _colour_keys(rgb)
    mask = np.full(keys.shape, UNLABELLED, np.uint8)
    known = np.zeros(keys.shape, bool)
    meanings = list(colours.items())
    if ignore_color is not None:
        meanings.append((ignore_color, UNLABELLED))
    for colour, index in meanings:
        where = keys == _colour_keys(np.asarray(colour, np.uint8))
        known |= where
        mask[where] = index
    if not known.all():
        unknown = np.unique(keys[~known])[:3]
        listed = ", ".join(str((int(k) >> 16 & 255, int(k) >> 8 & 255, int(k) & 255))
                           for k in unknown)
        raise MaskError(
            f"{path}: colours {listed} are not the colour of any class in the classes file; "
            'add them as classes, or name one "ignore_color" (unlabelled)'
        )
    return mask


def _colour_keys(rgb: np.ndarray) -> np.ndarray:
    """One int32 per pixel: r << 16 | g << 8 | b."""
    rgb = rgb.astype(np.int32)
    return rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]


def read_mask(
    path: str | os.PathLike,
    shape: tuple[int, int] | None = None,
    num_classes: int | None = None,
    hint: str = "",
) -> np.ndarray:
    """Read a segstudio label mask: uint8 class indices, 255 = unlabelled.

    With `shape`, a mask of another size is an error; with `num_classes`, so is
    a value that is neither a class index nor 255. `hint` (what to do) ends every error.
    """
    try:
        values = read_mask_values(path)
        if values.dtype != np.uint8:
            if values.size and (values.min() < 0 or values.max() > 255):
                raise MaskError(f"{path}: mask values must be 0..255, found "
                                f"{values.min()}..{values.max()}")
            values = values.astype(np.uint8)
    except MaskError as exc:
        raise MaskError(f"{exc}; {hint}" if hint else str(exc)) from None
    check_mask(values, path, shape, num_classes, hint)
    return values


def check_mask(
    mask: np.ndarray,
    path: str | os.PathLike,
    shape: tuple[int, int] | None = None,
    num_classes: int | None = None,
    hint: str = "",
) -> None:
    """Raise a MaskError naming the file for a mask of another size than `shape`, or with
    values that are neither class indices nor unlabelled; `hint` says what to do."""
    advice = f"; {hint}" if hint else ""
    if shape is not None and mask.shape != tuple(shape):
        raise MaskError(
            f"{path}: the mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
            f"{shape[1]}x{shape[0]} (width x height){advice}"
        )
    if num_classes is not None:
        bad = np.unique(mask[(mask >= num_classes) & (mask != UNLABELLED)])
        if bad.size:
            raise MaskError(
                f"{path}: values {bad[:8].tolist()} are not class indices 0..{num_classes - 1} "
                f"or {UNLABELLED} (unlabelled){advice}"
            )


def write_mask(path: str | os.PathLike, mask: np.ndarray, classes: list[LabelClass]) -> None:
    """Write class indices as an 8-bit palette PNG, atomically."""
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"a mask is a 2-D uint8 array, got {mask.dtype} {mask.shape}")
    image = Image.fromarray(mask).convert("P")  # "L" -> "P" keeps the index values
    image.putpalette(palette(classes))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=False)


def map_mask_values(
    values: np.ndarray, class_values: list[int], ignore_value: int | None = None
) -> np.ndarray:
    """Turn raw mask values into class indices: values == class_values[i] -> i.

    Pixels with `ignore_value` become unlabelled. Any other value is an error
    (raised as MaskError by the caller's context), since silently dropping it
    would train on wrong labels.
    """
    out = np.full(values.shape, UNLABELLED, dtype=np.uint8)
    known = np.zeros(values.shape, dtype=bool)
    for index, value in enumerate(class_values):
        hit = values == value
        out[hit] = index
        known |= hit
    if ignore_value is not None:
        known |= values == ignore_value
    if not known.all():
        unknown = np.unique(values[~known])[:8].tolist()
        raise MaskError(f"mask values {unknown} are not among the class values {class_values}")
    return out


def labelled_fraction(mask: np.ndarray) -> float:
    return float(np.count_nonzero(mask != UNLABELLED)) / max(mask.size, 1)


# cv2.calcHist is ~30x faster than np.bincount (which widens uint8 to intp) but counts in
# float32, exact only up to 2**24; so count in row bands small enough to stay exact.
_HISTOGRAM_BAND_PIXELS = 1 << 22


def value_histogram(mask: np.ndarray) -> np.ndarray:
    """Exact counts of each uint8 value (256 int64s) in a 2-D mask."""
    rows = max(1, _HISTOGRAM_BAND_PIXELS // max(mask.shape[1], 1))
    histogram = np.zeros(256, dtype=np.int64)
    for top in range(0, mask.shape[0], rows):
        band = np.ascontiguousarray(mask[top : top + rows])
        histogram += cv2.calcHist([band], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    return histogram

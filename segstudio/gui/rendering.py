"""From raw arrays to what the screen shows: display contrast, channel mapping, label colours.

The data is never changed: a raw image (H, W, C) of any dtype is mapped through
per-channel [low, high] ranges into an 8-bit RGB array; a label mask is mapped
through a colour table into premultiplied RGBA (unlabelled = transparent).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtGui import QImage

from segstudio.core.classes import UNLABELLED, LabelClass

AUTO_PERCENTILES = (0.5, 99.5)
# Percentiles are estimated from at most this many pixels, so large images stay fast.
_SAMPLE_PIXELS = 1_000_000
BAND_ROWS = 256  # rows scaled for the screen at a time, each band on a pool thread
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()

Range = tuple[float, float]


@dataclass(frozen=True)
class DisplaySettings:
    """How to show a raw image.

    `channels` picks the source channel of each output: three of them for R, G, B,
    or one shown as gray. `ranges[i]` is the raw value mapped to black and to full
    brightness for output i.
    """

    channels: tuple[int, ...]
    ranges: tuple[Range, ...]
    mode: str = "auto"  # "auto" (percentiles per image), "full" (min..max) or "manual"

    @property
    def gray(self) -> bool:
        return len(self.channels) == 1


def default_channels(image: np.ndarray) -> tuple[int, ...]:
    return (0, 1, 2) if image.shape[2] >= 3 else (0,)


def default_mode(image: np.ndarray) -> str:
    return "full" if image.dtype == np.uint8 else "auto"


def full_range(image: np.ndarray, channel: int) -> Range:
    """0..255 for 8-bit images; otherwise the data's own extremes (16-bit data rarely
    fills 0..65535, so the dtype's range would show it nearly black)."""
    if image.dtype == np.uint8:
        return 0.0, 255.0
    plane = _sample(image[:, :, channel])
    finite = plane[np.isfinite(plane)] if plane.dtype.kind == "f" else plane
    if finite.size == 0:
        return 0.0, 1.0
    return _widened(float(finite.min()), float(finite.max()))


def auto_range(image: np.ndarray, channel: int, percentiles: Range = AUTO_PERCENTILES) -> Range:
    plane = _sample(image[:, :, channel]).astype(np.float64, copy=False)
    plane = plane[np.isfinite(plane)]
    if plane.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(plane, percentiles)
    if high <= low:  # mostly one value (a dark background): show the extremes instead
        low, high = plane.min(), plane.max()
    return _widened(float(low), float(high))


def _widened(low: float, high: float) -> Range:
    """The range itself, or for a single value a range that shows it mid-grey."""
    return (low, high) if high > low else (low - 0.5, low + 0.5)


def ranges_for(image: np.ndarray, channels: tuple[int, ...], mode: str) -> tuple[Range, ...]:
    pick = auto_range if mode == "auto" else full_range
    return tuple(pick(image, c) for c in channels)


def settings_for(image: np.ndarray, previous: DisplaySettings | None = None) -> DisplaySettings:
    """Display settings for a newly shown image, keeping what still applies of `previous`."""
    count = image.shape[2]
    if previous is not None and all(c < count for c in previous.channels):
        channels = previous.channels
    else:
        channels = default_channels(image)
    mode = previous.mode if previous is not None else default_mode(image)
    if previous is not None and mode == "manual" and len(previous.ranges) == len(channels):
        return replace(previous, channels=channels)
    return DisplaySettings(channels, ranges_for(image, channels, mode), mode)


def to_display(image: np.ndarray, settings: DisplaySettings) -> np.ndarray:
    """uint8 pixels for the screen: (H, W, 3) RGB, or (H, W) when one channel is shown as gray.

    Each output channel is scaled from its range to 0..255, by bands of rows on a few
    threads (numpy lets go of the GIL): a 6000 x 6000 16-bit RGB image took 0.7 s of the
    GUI thread at each image switch or contrast step, 0.2 s so.
    """
    if (image.dtype == np.uint8 and image.shape[2] == 3 and settings.channels == (0, 1, 2)
            and all(r == (0.0, 255.0) for r in settings.ranges)):
        return image  # an ordinary 8-bit RGB picture is shown as it is
    scalers = [(channel, _scaler(image.dtype, low, high))
               for channel, (low, high) in zip(settings.channels, settings.ranges, strict=True)]
    height, width = image.shape[:2]
    shown = np.empty((height, width) if len(scalers) == 1 else (height, width, len(scalers)),
                     np.uint8)
    out = shown.reshape(height, width, len(scalers))  # a view: (H, W, 1) for gray

    def band(y0: int) -> None:
        rows = slice(y0, y0 + BAND_ROWS)
        for index, (channel, scale) in enumerate(scalers):
            out[rows, :, index] = scale(image[rows, :, channel])

    list(_band_pool().map(band, range(0, height, BAND_ROWS)))
    return shown


def _scaler(dtype, low: float, high: float):
    """plane -> uint8 plane, `low` black and `high` white."""
    if dtype == np.uint8 and (low, high) == (0.0, 255.0):
        return lambda plane: plane
    span = high - low  # negative when black is set above white: the image shows inverted
    if abs(span) < 1e-12:
        span = 1e-12
    if dtype in (np.uint8, np.uint16):
        # A lookup table over every possible value: one gather per pixel.
        values = np.arange(np.iinfo(dtype).max + 1, dtype=np.float32)
        table = np.clip((values - low) * (255.0 / span) + 0.5, 0, 255).astype(np.uint8)
        return lambda plane: table[plane]

    def scale(plane: np.ndarray) -> np.ndarray:
        scaled = (plane.astype(np.float32) - np.float32(low)) * np.float32(255.0 / span)
        return np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype(np.uint8)

    return scale


def _band_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:  # the GUI thread and the thumbnail threads ask for it
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1),
                                       thread_name_prefix="segstudio-display")
        return _pool


def _sample(plane: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(plane.size / _SAMPLE_PIXELS)))
    return plane[::step, ::step]


# ---------------------------------------------------------------------------
# Labels


def label_colors(classes: list[LabelClass], alpha: int = 255) -> np.ndarray:
    """A (256, 4) premultiplied RGBA table: class index -> colour, unlabelled -> transparent.

    Indices without a class (a stale mask) show as opaque magenta rather than vanish.
    """
    table = np.zeros((256, 4), dtype=np.uint8)
    table[:, :] = (255, 0, 255, 255)
    for index, label_class in enumerate(classes[:UNLABELLED]):
        table[index, :3] = label_class.color
        table[index, 3] = 255
    table[UNLABELLED] = 0
    if alpha != 255:
        table = (table.astype(np.uint16) * alpha // 255).astype(np.uint8)
    return table


# Saturated colours for the uncertainty highlight, in order of preference; gray and
# white are left out because images are often gray.
_HIGHLIGHT_CANDIDATES: list[tuple[int, int, int]] = [
    (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 128, 0), (0, 255, 0), (0, 64, 255),
]
_CLEARLY_DISTINCT = 20_000  # squared RGB distance (about 140 levels in two channels)


def color_distance(one: tuple[int, int, int], other: tuple[int, int, int]) -> int:
    """Squared RGB distance."""
    return sum((a - b) ** 2 for a, b in zip(one, other, strict=True))


def highlight_color(classes: list[LabelClass]) -> tuple[int, int, int]:
    """The highlight colour least like any class colour, so that it never reads as a class."""
    def distance_to_classes(color) -> int:
        return min((color_distance(color, c.color) for c in classes), default=0)

    distinct = (c for c in _HIGHLIGHT_CANDIDATES if distance_to_classes(c) >= _CLEARLY_DISTINCT)
    return next(distinct, max(_HIGHLIGHT_CANDIDATES, key=distance_to_classes))


def confidence_colors(color: tuple[int, int, int] = _HIGHLIGHT_CANDIDATES[0]) -> np.ndarray:
    """A (256, 4) premultiplied RGBA table for confidence 0..255: doubtful pixels glow."""
    confidence = np.arange(256, dtype=np.float32) / 255.0
    alpha = np.clip((0.75 - confidence) / 0.75, 0, 1) * 200
    table = np.zeros((256, 4), dtype=np.uint8)
    table[:, 3] = alpha.astype(np.uint8)
    for channel, value in enumerate(color):
        table[:, channel] = (alpha * (value / 255.0)).astype(np.uint8)
    return table


# ---------------------------------------------------------------------------
# QImage wrappers that share memory with numpy arrays


def array_qimage(pixels: np.ndarray) -> QImage:
    """A QImage viewing uint8 pixels without copying; the caller keeps the array alive.

    (H, W) is gray, (H, W, 3) RGB, (H, W, 4) premultiplied RGBA.
    """
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    formats = {
        1: QImage.Format.Format_Grayscale8,
        3: QImage.Format.Format_RGB888,
        4: QImage.Format.Format_RGBA8888_Premultiplied,
    }
    return QImage(pixels.data, width, height, pixels.strides[0], formats[channels])

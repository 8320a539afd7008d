"""Images as 8-bit RGB for people to look at: contrast stretch and class-colour overlays.

Used for exported overlays (projects and predicted folders); the window has its own
interactive contrast controls.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.classes import UNLABELLED, LabelClass

OVERLAY_ALPHA = 0.5
# Percentiles are estimated on about this many pixels, so huge images stay cheap.
_PERCENTILE_SAMPLE_PIXELS = 1e6


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) image of any dtype as (H, W, 3) uint8 for display.

    8-bit data is shown as is; other types are stretched between their 0.5th and
    99.5th percentiles (NaN shows black). One channel becomes grey; from four or
    more, the first three are shown.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
    if channels.dtype != np.uint8:
        step = max(1, int(np.sqrt(channels.shape[0] * channels.shape[1] / _PERCENTILE_SAMPLE_PIXELS)))
        sample = channels[::step, ::step].astype(np.float64)
        sample = sample[np.isfinite(sample)]
        low, high = np.percentile(sample, [0.5, 99.5]) if sample.size else (0.0, 0.0)
        scale = 255.0 / (high - low) if high > low else 0.0
        stretched = np.nan_to_num((channels.astype(np.float32) - low) * scale)
        channels = np.clip(stretched, 0, 255).astype(np.uint8)
    if channels.shape[2] == 1:
        channels = np.repeat(channels, 3, axis=2)
    return np.ascontiguousarray(channels)


def overlay(image: np.ndarray, labels: np.ndarray, classes: list[LabelClass],
            alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """An RGB uint8 picture of `image` with labelled pixels tinted by their class colour."""
    rgb = to_rgb8(image).astype(np.float32)
    colors = np.zeros((256, 3), np.float32)
    for index, label_class in enumerate(classes):
        colors[index] = label_class.color
    labelled = labels != UNLABELLED
    rgb[labelled] = (1 - alpha) * rgb[labelled] + alpha * colors[labels[labelled]]
    return np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8)  # halves round up

"""Input normalisation: a per-channel affine map fitted on the training images.

`normalised = (image - offset) * scale`, channel by channel. Being affine, it
can be folded into an exported graph as one subtraction and one multiplication.

8-bit images are divided by 255 and standardised. 16-bit and float images
(microscopy, remote sensing) often use a small part of their range and have a
few extreme pixels, so they are first stretched between low and high
percentiles of the training images, then standardised. Either way the result
is one offset and one scale per channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from segstudio.core.errors import UserError

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
# Pixels drawn per image for fitting: plenty for stable statistics, bounded memory.
_SAMPLES_PER_IMAGE = 200_000
_MIN_STD = 1e-6


@dataclass(frozen=True)
class Normalization:
    offset: tuple[float, ...]
    scale: tuple[float, ...]
    method: str = "standardize"  # how it was fitted, for the record: "8-bit" or "percentile"

    def __post_init__(self):
        if len(self.offset) != len(self.scale) or not self.offset:
            raise ValueError(f"offset {self.offset} and scale {self.scale} must match in length")

    @property
    def channels(self) -> int:
        return len(self.offset)

    @staticmethod
    def identity(channels: int) -> Normalization:
        return Normalization((0.0,) * channels, (1.0,) * channels, method="identity")

    @staticmethod
    def fit(images: Iterable[np.ndarray], seed: int = 0) -> Normalization:
        """Fit on (H, W, C) images as loaded (uint8, uint16, float...)."""
        rng = np.random.default_rng(seed)
        samples, eight_bit, channels = [], True, None
        for image in images:
            image = _as_hwc(image)
            if channels is None:
                channels = image.shape[2]
            elif image.shape[2] != channels:
                raise UserError(
                    f"the training images mix {channels}-channel and {image.shape[2]}-channel "
                    "images; convert them to the same number of channels"
                )
            eight_bit &= image.dtype == np.uint8
            samples.append(_sample_pixels(image, rng))
        if not samples:
            raise UserError("no training images to fit the input normalisation on")
        pixels = np.concatenate(samples, axis=0)  # (N, C) float64
        pixels = pixels[np.isfinite(pixels).all(axis=1)]  # NaN marks "no data" in some files
        if not len(pixels):
            raise UserError("every pixel of the training images is NaN or infinite; "
                            "there is nothing to learn from")
        if eight_bit:
            low, span, method = np.zeros(channels), np.full(channels, 255.0), "8-bit"
        else:
            low, high = np.percentile(pixels, [LOW_PERCENTILE, HIGH_PERCENTILE], axis=0)
            span, method = np.maximum(high - low, _MIN_STD), "percentile"
        # Clipped so that a few extreme pixels do not inflate the spread of all the others.
        unit = np.clip((pixels - low) / span, 0.0, 1.0)
        mean, std = unit.mean(axis=0), np.maximum(unit.std(axis=0), _MIN_STD)
        offset = low + mean * span
        scale = 1.0 / (std * span)
        return Normalization(
            tuple(float(v) for v in offset), tuple(float(v) for v in scale), method=method
        )

    def apply(self, image_hwc: np.ndarray) -> np.ndarray:
        """(H, W, C) or (H, W) image of any dtype -> normalised float32 (C, H, W); pixels
        that are not finite numbers come out as 0."""
        image = _as_hwc(image_hwc)
        if image.shape[2] != self.channels:
            raise UserError(
                f"the image has {image.shape[2]} channel(s) but the model expects "
                f"{self.channels}; convert the image or train a model for it"
            )
        offset = np.asarray(self.offset, dtype=np.float32)[:, None, None]
        scale = np.asarray(self.scale, dtype=np.float32)[:, None, None]
        # Always a new array: the image may be shared and read-only (a float32 one would
        # otherwise come back from ascontiguousarray uncopied, and be written over).
        chw = np.empty((image.shape[2], *image.shape[:2]), np.float32)
        np.subtract(image.transpose(2, 0, 1), offset, out=chw, casting="same_kind")
        chw *= scale
        if image.dtype.kind == "f":  # NaN ("no data") and infinities become the mean, 0
            np.nan_to_num(chw, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return chw

    def to_json(self) -> dict:
        return {"offset": list(self.offset), "scale": list(self.scale), "method": self.method}

    @staticmethod
    def from_json(data: dict) -> Normalization:
        offset = tuple(float(v) for v in data["offset"])
        scale = tuple(float(v) for v in data["scale"])
        if not all(np.isfinite(offset)) or not all(np.isfinite(scale)):
            raise ValueError("normalisation offset and scale must be finite numbers")
        return Normalization(offset, scale, method=str(data.get("method", "standardize")))


def _as_hwc(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim != 3:
        raise UserError(f"expected an image of shape (H, W, C), got {image.shape}")
    return image


def _sample_pixels(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flat = image.reshape(-1, image.shape[2])
    if flat.shape[0] > _SAMPLES_PER_IMAGE:
        flat = flat[rng.choice(flat.shape[0], _SAMPLES_PER_IMAGE, replace=False)]
    flat = flat.astype(np.float64)
    finite = np.isfinite(flat).all(axis=1)
    return flat[finite]

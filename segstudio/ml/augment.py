"""Training crops and augmentation: (H, W, C) images as stored in, normalised
(C, H, W) float32 crops and uint8 (H, W) masks out.

Crops favour labelled pixels: with sparse labels (a few scribbles) most random
crops would hold nothing to learn from, so most crop centres are drawn from
the labelled pixels. Geometric transforms move image and mask together
(the mask with nearest-neighbour sampling, so labels stay labels); intensity
jitter touches the image only. Images smaller than the crop are padded, the
mask with 255 (unlabelled) so the padding is never trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.classes import UNLABELLED


@dataclass(frozen=True)
class AugmentConfig:
    labelled_crop_fraction: float = 0.9  # share of crops centred on a labelled pixel
    flips: bool = True
    rotate90: bool = True
    elastic_probability: float = 0.5
    elastic_grid: int = 3  # coarse displacement grid, as in the U-Net paper (3x3)
    elastic_sigma: float = 0.04  # displacement std as a fraction of the crop side
    intensity_probability: float = 0.8
    gain: float = 0.15  # image *= 1 +- gain
    bias: float = 0.15  # image += +- bias (in standard deviations)

    @staticmethod
    def none() -> AugmentConfig:
        return AugmentConfig(
            flips=False, rotate90=False, elastic_probability=0.0, intensity_probability=0.0
        )


class LabelledPixels:
    """Where a mask's labelled pixels are, to pick one at random for a crop.

    Counts labelled pixels per band of rows, not a list of them: a list of flat
    indices takes 8 bytes a pixel (800 MB for a fully labelled 10,000 x 10,000
    mask), these counts a few KB. `pick` returns the k-th labelled pixel in
    row-major order, so a seed gives the same crops as such a list did.
    """

    BAND_PIXELS = 1 << 16  # one pick scans at most a band of about this many pixels

    def __init__(self, mask: np.ndarray):
        self.mask = mask
        self.band_rows = max(1, self.BAND_PIXELS // max(mask.shape[1], 1))
        counts = [
            np.count_nonzero(mask[top : top + self.band_rows] != UNLABELLED)
            for top in range(0, mask.shape[0], self.band_rows)
        ]
        self._cumulative = np.cumsum(np.asarray(counts, dtype=np.int64))
        self.count = int(self._cumulative[-1]) if self._cumulative.size else 0

    def pick(self, rng: np.random.Generator) -> tuple[int, int]:
        """(y, x) of a labelled pixel drawn uniformly; there must be one."""
        k = int(rng.integers(self.count))
        band = int(np.searchsorted(self._cumulative, k, side="right"))
        before = int(self._cumulative[band - 1]) if band else 0
        top = band * self.band_rows
        rows = self.mask[top : top + self.band_rows]
        flat = int(np.flatnonzero(rows.reshape(-1) != UNLABELLED)[k - before])
        y, x = divmod(flat, self.mask.shape[1])
        return top + y, x


def to_chw_float(image_hwc: np.ndarray) -> np.ndarray:
    """The default `normalize`: (H, W, C) -> float32 (C, H, W), values unchanged."""
    return np.ascontiguousarray(image_hwc.transpose(2, 0, 1), dtype=np.float32)


def random_crop(
    image: np.ndarray,
    mask: np.ndarray,
    size: int,
    rng: np.random.Generator,
    labelled: LabelledPixels | None = None,
    labelled_fraction: float = 0.9,
    normalize: Callable[[np.ndarray], np.ndarray] = to_chw_float,
) -> tuple[np.ndarray, np.ndarray]:
    """A size x size crop of an (H, W, C) image and its (H, W) mask.

    Only the crop is normalised (to (C, size, size) float32), so whole images
    stay in memory as stored. With probability `labelled_fraction` the crop
    contains a labelled pixel picked at random (not always at its centre),
    else it is placed uniformly. Where the image is smaller than the crop it
    is padded: the image with 0 after normalisation, the mask with 255.
    """
    height, width = mask.shape
    if labelled is None:
        labelled = LabelledPixels(mask)
    if labelled.count and rng.random() < labelled_fraction:
        y, x = labelled.pick(rng)
        top = y - size // 2 + int(rng.integers(-(size // 4), size // 4 + 1))
        left = x - size // 2 + int(rng.integers(-(size // 4), size // 4 + 1))
    else:
        top = int(rng.integers(0, max(height - size, 0) + 1))
        left = int(rng.integers(0, max(width - size, 0) + 1))
    top = min(max(top, 0), max(height - size, 0))
    left = min(max(left, 0), max(width - size, 0))
    image_crop = normalize(image[top : top + size, left : left + size])
    mask_crop = mask[top : top + size, left : left + size]
    pad_y, pad_x = size - mask_crop.shape[0], size - mask_crop.shape[1]
    if pad_y or pad_x:
        # Zero is the mean of a normalised image.
        image_crop = np.pad(image_crop, ((0, 0), (0, pad_y), (0, pad_x)))
        mask_crop = np.pad(mask_crop, ((0, pad_y), (0, pad_x)), constant_values=UNLABELLED)
    return image_crop, mask_crop


def flip_rotate(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Random flips and quarter turns (the 8 symmetries of a square), on both arrays."""
    if config.flips and rng.random() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    if config.rotate90 and mask.shape[0] == mask.shape[1]:
        turns = int(rng.integers(4))
        if turns:
            image, mask = np.rot90(image, turns, axes=(1, 2)), np.rot90(mask, turns)
    return image, mask


def elastic(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth elastic deformation: random displacements on a coarse grid, upsampled bicubically.

    The image is sampled bilinearly, the mask with nearest neighbour; both reflect at the border.
    """
    height, width = mask.shape
    sigma = config.elastic_sigma * min(height, width)
    grid = config.elastic_grid
    coarse = rng.normal(0.0, sigma, size=(2, grid, grid)).astype(np.float32)
    dx = cv2.resize(coarse[0], (width, height), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(coarse[1], (width, height), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = xs + dx, ys + dy
    warped = np.empty((image.shape[0], height, width), dtype=np.float32)
    for channel in range(image.shape[0]):
        warped[channel] = cv2.remap(
            np.ascontiguousarray(image[channel]), map_x, map_y, cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    warped_mask = cv2.remap(
        np.ascontiguousarray(mask), map_x, map_y, cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return warped, warped_mask


def jitter_intensity(
    image: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> np.ndarray:
    gain = 1.0 + rng.uniform(-config.gain, config.gain)
    bias = rng.uniform(-config.bias, config.bias)
    return image * np.float32(gain) + np.float32(bias)


def augment_crop(
    image: np.ndarray,
    mask: np.ndarray,
    size: int,
    rng: np.random.Generator,
    config: AugmentConfig | None = None,
    labelled: LabelledPixels | None = None,
    normalize: Callable[[np.ndarray], np.ndarray] = to_chw_float,
) -> tuple[np.ndarray, np.ndarray]:
    """One training example from an (H, W, C) image and its mask: a crop
    favouring labels, normalised, then the configured transforms.

    Returns a contiguous float32 (C, size, size) image and uint8 (size, size) mask.
    """
    config = config or AugmentConfig()
    image, mask = random_crop(
        image, mask, size, rng, labelled, config.labelled_crop_fraction, normalize
    )
    image, mask = flip_rotate(image, mask, rng, config)
    if config.elastic_probability and rng.random() < config.elastic_probability:
        image, mask = elastic(image, mask, rng, config)
    if config.intensity_probability and rng.random() < config.intensity_probability:
        image = jitter_intensity(image, rng, config)
    return (
        np.ascontiguousarray(image, dtype=np.float32),
        np.ascontiguousarray(mask, dtype=np.uint8),
    )

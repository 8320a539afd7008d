"""Thin strokes made from true masks, standing in for a person's scribbles."""

from __future__ import annotations

import cv2
import numpy as np

CELL = 32  # strokes are kept or dropped in square cells of this side


def skeleton(region: np.ndarray) -> np.ndarray:
    """Morphological skeleton (Lantuejoul) of a boolean mask, with OpenCV only."""
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    current = region.astype(np.uint8)
    skel = np.zeros_like(current)
    while current.any():
        eroded = cv2.erode(current, kernel)
        skel |= current & ~cv2.dilate(eroded, kernel) & 1
        current = eroded
    return skel.astype(bool)


def scribbles(mask: np.ndarray, widths: dict[int, int], coverage: float,
              seed: int) -> np.ndarray:
    """uint8 labels: strokes of each class in `widths` (class -> stroke width in pixels),
    255 elsewhere. Each class's strokes run along the skeleton of its regions, are kept in
    a random subset of CELL x CELL cells so that each class gets an equal share of the
    coverage, thickened and clipped to the class."""
    rng = np.random.default_rng(seed)
    out = np.full(mask.shape, 255, np.uint8)
    height, width = mask.shape
    for cls, stroke_width in widths.items():
        region = mask == cls
        kernel = np.ones((stroke_width, stroke_width), np.uint8)
        strokes = cv2.dilate(skeleton(region).astype(np.uint8), kernel).astype(bool) & region
        keep_fraction = min(1.0, (coverage / len(widths)) / max(strokes.mean(), 1e-9))
        cells = rng.random((-(-height // CELL), -(-width // CELL))) < keep_fraction
        keep = np.kron(cells, np.ones((CELL, CELL), bool))[:height, :width]
        out[strokes & keep] = cls
    return out

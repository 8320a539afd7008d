"""Export a project's labels as image files: palette PNGs, plain index PNGs, or colour
overlays (the image blended with its class colours), one per labelled image."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from segstudio.core.atomic import atomic_path
from segstudio.core.classes import UNLABELLED, LabelClass
from segstudio.core.errors import ProjectError, UserError
from segstudio.core.masks import write_mask
from segstudio.core.project import Project

MASK_KINDS = ("png", "index", "overlay")
OVERLAY_ALPHA = 0.5


def export_labels(
    project: Project, out_dir: str | os.PathLike, kind: str = "png"
) -> tuple[list[Path], list[str]]:
    """Write one PNG per labelled image under `out_dir`, named like the image.

    kind "png": palette PNG (indices, class colours); "index": 8-bit grey PNG
    of class indices (255 unlabelled); "overlay": RGB image with labelled
    pixels blended with their class colour. Returns (files written, notes).
    """
    if kind not in MASK_KINDS:
        raise ProjectError(f"export format must be one of {', '.join(MASK_KINDS)}, got {kind!r}")
    out_dir = Path(out_dir)
    written, notes = [], []
    for entry in project.images:
        if not project.has_labels(entry):
            continue
        target = out_dir / PurePosixPath(entry.name).with_suffix(".png")
        mask = project.load_labels(entry)
        if kind == "png":
            write_mask(target, mask, project.classes)
        elif kind == "index":
            _write_png(target, Image.fromarray(mask))
        else:
            try:
                image = project.load_image(entry)
            except UserError as exc:
                notes.append(f"{entry.name}: no overlay ({exc})")
                continue
            _write_png(target, Image.fromarray(overlay(image, mask, project.classes)))
        written.append(target)
    if not written and not notes:
        notes.append("no image has labels yet: nothing exported")
    return written, notes


def overlay(image: np.ndarray, mask: np.ndarray, classes: list[LabelClass],
            alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """An RGB uint8 picture of `image` with labelled pixels tinted by their class colour."""
    rgb = to_rgb8(image).astype(np.float32)
    colors = np.zeros((256, 3), np.float32)
    for index, label_class in enumerate(classes):
        colors[index] = label_class.color
    labelled = mask != UNLABELLED
    rgb[labelled] = (1 - alpha) * rgb[labelled] + alpha * colors[mask[labelled]]
    return np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8)  # halves round up


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) image of any dtype as (H, W, 3) uint8 for display.

    8-bit data is shown as is; other types are stretched between their 0.5th
    and 99.5th percentiles. One channel becomes grey; from four or more, the
    first three are shown.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
    if channels.dtype != np.uint8:
        data = channels.astype(np.float32)
        low, high = np.percentile(data, [0.5, 99.5])
        scaled = (data - low) / max(float(high - low), 1e-12) * 255
        channels = np.clip(scaled, 0, 255).astype(np.uint8)
    if channels.shape[2] == 1:
        channels = np.repeat(channels, 3, axis=2)
    return np.ascontiguousarray(channels)


def _write_png(target: Path, image: Image.Image) -> None:
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")

"""Export a project's labels as image files: palette PNGs, plain index PNGs, or colour
overlays (the image blended with its class colours), one per labelled image."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from PIL import Image

from segstudio.core.atomic import atomic_path
from segstudio.core.display import overlay
from segstudio.core.errors import ProjectError, UserError
from segstudio.core.masks import write_mask
from segstudio.core.project import Project
from segstudio.core.results_folder import check_results_folder, mark_results_folder

MASK_KINDS = ("png", "index", "overlay")


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
    check_results_folder(out_dir, "exported labels")  # never over the user's files
    written, notes = [], []
    for entry in project.images:
        if not project.has_labels(entry):
            continue
        target = out_dir / PurePosixPath(entry.name).with_suffix(".png")
        mask = project.load_labels(entry)
        if kind == "overlay":
            try:
                image = project.load_image(entry)
                if image.shape[:2] != mask.shape:
                    raise UserError(f"the image is {image.shape[1]}x{image.shape[0]} now, its "
                                    f"labels {mask.shape[1]}x{mask.shape[0]}")
            except UserError as exc:
                notes.append(f"{entry.name}: no overlay ({exc})")
                continue
        if not written:
            mark_results_folder(out_dir, "Exported labels")
        if kind == "png":
            write_mask(target, mask, project.classes)
        elif kind == "index":
            _write_png(target, Image.fromarray(mask))
        else:
            _write_png(target, Image.fromarray(overlay(image, mask, project.classes)))
        written.append(target)
    if not written and not notes:
        notes.append("no image has labels yet: nothing exported")
    return written, notes


def _write_png(target: Path, image: Image.Image) -> None:
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")

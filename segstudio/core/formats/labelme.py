"""Import labelme JSON files: polygons, rectangles and circles become class pixels.

Points are labelme's pixel coordinates (x = column, y = row, integers at pixel
centres, as labelme draws them). A polygon paints every pixel its outline or
inside touches; a rectangle the pixels between its corners, both included; a
circle (centre, then a point on the rim) the pixels whose centre lies within
the radius. Shapes are painted in file order, so later shapes win. Lines,
line strips, points and mask shapes have no area here and are skipped with a
note. Pixels no shape covers stay unlabelled, or become `background`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.classes import UNLABELLED
from segstudio.core.errors import MaskError, ProjectError
from segstudio.core.formats.common import (
    ImageMatcher,
    ImportReport,
    check_size,
    resolve_classes,
    write_imported,
)
from segstudio.core.project import Project

AREA_SHAPES = ("polygon", "rectangle", "circle")


def import_labelme(
    project: Project,
    folder: str | os.PathLike,
    add_classes: bool = False,
    overwrite: bool = False,
    background: str | None = None,
) -> ImportReport:
    """Import every labelme JSON file under `folder` (see the module docstring).

    Label names map to the project's classes by name; unknown names are an
    error unless `add_classes` (or the project has no classes yet).
    """
    folder = Path(folder)
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else [folder]
    report = ImportReport()
    matcher = ImageMatcher(project)
    documents = []
    for path in files:
        document = _read(path)
        entry = _find_image(matcher, path, document)
        if entry is None:
            report.notes.append(f"{path}: no image {document.get('imagePath')!r} in the project")
            continue
        documents.append((path, entry, document))
    if not documents:
        raise ProjectError(f"{folder}: no labelme file matches an image of the project")
    names = [s["label"] for _, _, d in documents for s in d["shapes"]]
    names += [background] if background else []
    classes, index, report.added_classes = resolve_classes(
        project, names, folder, add_classes
    )
    fill = UNLABELLED if background is None else index[background]

    def rasterised():
        for path, entry, document in documents:
            height, width = project.image_shape(entry)
            if "imageHeight" in document and "imageWidth" in document:
                check_size((document["imageHeight"], document["imageWidth"]), project, entry, path)
            mask = np.full((height, width), fill, np.uint8)
            for number, shape in enumerate(document["shapes"]):
                kind = shape.get("shape_type") or "polygon"
                if kind not in AREA_SHAPES:
                    report.notes.append(f"{path}: shape {number} ({kind}) has no area, skipped")
                    continue
                paint_shape(mask, kind, _points(shape, path, number), index[shape["label"]])
            yield entry, mask

    return write_imported(project, rasterised(), classes, report, overwrite)


def paint_shape(mask: np.ndarray, kind: str, points: np.ndarray, value: int) -> None:
    if kind == "polygon":
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], int(value))
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = np.round(points.min(axis=0)), np.round(points.max(axis=0))
        mask[max(int(y0), 0): int(y1) + 1, max(int(x0), 0): int(x1) + 1] = value
    elif kind == "circle":
        (cx, cy), rim = points[0], points[1]
        radius = float(np.hypot(*(rim - points[0])))
        rows, cols = np.ogrid[: mask.shape[0], : mask.shape[1]]
        mask[(cols - cx) ** 2 + (rows - cy) ** 2 <= radius**2 + 1e-9] = value
    else:
        raise ValueError(f"not an area shape: {kind}")


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MaskError(f"{path}: not a readable labelme JSON file ({exc})") from None
    shapes = document.get("shapes") if isinstance(document, dict) else None
    if not isinstance(shapes, list) or not all(
        isinstance(s, dict) and isinstance(s.get("label"), str) for s in shapes
    ):
        raise MaskError(f"{path}: not a labelme file (expected 'shapes' with a 'label' each)")
    return document


def _find_image(matcher: ImageMatcher, path: Path, document: dict):
    image_path = document.get("imagePath")
    if isinstance(image_path, str) and image_path:
        image_path = image_path.replace("\\", "/")
        entry = matcher.by_file(path.parent / image_path) or matcher.by_name(image_path)
        if entry is not None:
            return entry
    return matcher.by_name(path.stem)


def _points(shape: dict, path: Path, number: int) -> np.ndarray:
    kind = shape.get("shape_type") or "polygon"
    needed = {"polygon": 3, "rectangle": 2, "circle": 2}[kind]
    try:
        points = np.asarray(shape["points"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        points = np.zeros((0, 2))
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < needed:
        raise MaskError(
            f"{path}: shape {number} ({kind}, {shape['label']!r}) needs at least "
            f"{needed} [x, y] points"
        )
    return points

"""COCO segmentation JSON: import polygons and RLE (list or compressed string counts),
export RLE (exact) or polygons (outer contours).

Coordinates are COCO's: continuous, pixel (row r, column c) covers
[c, c + 1) x [r, r + 1). Import paints annotations in file order, so later ones
win; pixels no annotation covers stay unlabelled, or become `background`.
Polygon export writes one annotation per connected region, biggest first, so
a region inside another is painted after it; COCO polygons cannot hold holes,
which is why RLE, exact, is the default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.atomic import atomic_write_text
from segstudio.core.classes import UNLABELLED
from segstudio.core.errors import MaskError, ProjectError
from segstudio.core.formats import rle
from segstudio.core.formats.common import (
    ImageMatcher,
    ImportReport,
    check_size,
    resolve_classes,
    write_imported,
)
from segstudio.core.project import Project

_SUBPIXEL_BITS = 4


EXPORTED_BY = "labels exported by segstudio"  # the start of info.description in our files


def import_coco(
    project: Project,
    path: str | os.PathLike,
    add_classes: bool = False,
    overwrite: bool = False,
    background: str | None = None,
) -> ImportReport:
    """Import a COCO JSON file; category names map to the project's classes by name."""
    path = Path(path)
    document = _read(path)
    report = ImportReport()
    category_names = {c["id"]: c["name"] for c in document["categories"]}
    used = {a["category_id"] for a in document["annotations"]}
    unknown_ids = sorted(used - set(category_names), key=str)
    if unknown_ids:
        raise MaskError(f"{path}: annotations use category ids {unknown_ids} that are not listed")
    take_all = add_classes or not project.classes  # else only the categories in use matter
    names = [c["name"] for c in document["categories"] if c["id"] in used or take_all]
    names += [background] if background else []
    colors = {c["name"]: c["color"] for c in document["categories"] if _is_color(c.get("color"))}
    classes, index, report.added_classes = resolve_classes(
        project, names, path, add_classes, colors
    )
    matcher = ImageMatcher(project)
    by_image: dict = {image["id"]: [] for image in document["images"]}
    for annotation in document["annotations"]:
        if annotation["image_id"] not in by_image:
            raise MaskError(f"{path}: annotation {annotation.get('id')} names an unknown image")
        by_image[annotation["image_id"]].append(annotation)
    targets = []
    for image in document["images"]:
        entry = matcher.by_name(str(image["file_name"]))
        if entry is None:
            report.notes.append(f"{path}: no image {image['file_name']!r} in the project")
        elif by_image[image["id"]]:
            targets.append((image, entry))
    if not targets:
        raise ProjectError(f"{path}: no annotated image of this file is in the project")
    fill = UNLABELLED if background is None else index[background]

    def rasterised():
        for image, entry in targets:
            shape = project.image_shape(entry)
            if "height" in image and "width" in image:
                check_size((image["height"], image["width"]), project, entry, path)
            mask = np.full(shape, fill, np.uint8)
            for annotation in by_image[image["id"]]:
                value = index[category_names[annotation["category_id"]]]
                _paint(mask, annotation, value, path)
            yield entry, mask

    return write_imported(project, rasterised(), classes, report, overwrite)


def export_coco(project: Project, out_file: str | os.PathLike, encoding: str = "rle") -> Path:
    """Write the labelled images' labels as COCO JSON (atomically); returns the file.

    `encoding` "rle" is exact; "polygon" writes outer contours (holes are lost).
    Categories are the classes in order, with ids from 1.
    """
    if encoding not in ("rle", "polygon"):
        raise ProjectError(f"COCO encoding must be 'rle' or 'polygon', got {encoding!r}")
    out_file = Path(out_file)
    _check_replaceable(out_file)
    images, annotations = [], []
    for entry in project.images:
        if not project.has_labels(entry):
            continue
        mask = project.load_labels(entry)
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": entry.name,
                       "height": mask.shape[0], "width": mask.shape[1]})
        found = []
        for value in np.unique(mask[mask != UNLABELLED]).tolist():
            binary = mask == value
            if encoding == "rle":
                found.append((value, rle.encode(binary), binary))
            else:
                found.extend((value, [poly], region) for poly, region in _polygons(binary))
        if encoding == "polygon":
            found.sort(key=lambda item: -int(item[2].sum()))  # enclosing regions first
        for value, segmentation, region in found:
            annotations.append(_annotation(len(annotations) + 1, image_id, value + 1,
                                           segmentation, region))
    document = {
        "info": {"description": f"{EXPORTED_BY} from {project.root.name}"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": c.name, "supercategory": "", "color": list(c.color)}
                       for i, c in enumerate(project.classes)],
    }
    atomic_write_text(out_file, json.dumps(document, ensure_ascii=False))
    return out_file


def _check_replaceable(out_file: Path) -> None:
    """Only an earlier export of ours is written over: never a file of the user's (their
    own annotations.json, or a project's project.json)."""
    if not out_file.exists():
        return
    try:
        described = json.loads(out_file.read_text(encoding="utf-8"))["info"]["description"]
    except (OSError, ValueError, KeyError, TypeError):
        described = None
    if not (isinstance(described, str) and described.startswith(EXPORTED_BY)):
        raise ProjectError(f"{out_file}: a file segstudio did not export is there, and it is "
                           "not written over; choose another file name or folder")


def _annotation(annotation_id, image_id, category_id, segmentation, region) -> dict:
    rows, cols = np.nonzero(region)
    box = [int(cols.min()), int(rows.min()), int(cols.max() - cols.min() + 1),
           int(rows.max() - rows.min() + 1)]
    return {"id": annotation_id, "image_id": image_id, "category_id": category_id,
            "segmentation": segmentation, "area": int(rows.size), "bbox": box, "iscrowd": 0}


def _polygons(binary: np.ndarray):
    """(flat polygon, its region) per connected region; vertices at boundary pixel centres."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        points = contour.reshape(-1, 2).astype(np.float64) + 0.5
        while len(points) < 3:  # a single pixel or a thin line: repeat points
            points = np.concatenate([points, points[::-1]])[:3]
        region = np.zeros(binary.shape, np.uint8)
        cv2.fillPoly(region, [contour], 1)
        yield [round(float(v), 2) for v in points.ravel()], region.astype(bool) & binary


def _paint(mask: np.ndarray, annotation: dict, value: int, path: Path) -> None:
    segmentation = annotation.get("segmentation")
    where = f"{path}: annotation {annotation.get('id')}"
    if isinstance(segmentation, list):
        polygons = []
        for polygon in segmentation:
            if not _numbers(polygon) or len(polygon) < 6:
                raise MaskError(f"{where}: a polygon needs at least 3 [x, y] points")
            points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2) - 0.5  # to centres
            polygons.append(np.round(points * (1 << _SUBPIXEL_BITS)).astype(np.int32))
        cv2.fillPoly(mask, polygons, int(value), shift=_SUBPIXEL_BITS)
    elif isinstance(segmentation, dict):
        try:
            binary = rle.decode(segmentation)
        except (KeyError, TypeError, ValueError) as exc:
            raise MaskError(f"{where}: not a valid RLE ({exc})") from None
        if binary.shape != mask.shape:
            raise MaskError(f"{where}: RLE size {list(binary.shape)} is not the image's "
                            f"{list(mask.shape)} (height, width)")
        mask[binary] = value
    else:
        raise MaskError(f"{where}: 'segmentation' must be polygons or an RLE")


def _numbers(polygon) -> bool:
    return (isinstance(polygon, list) and len(polygon) % 2 == 0
            and all(isinstance(v, (int, float)) for v in polygon))


def _is_color(value) -> bool:
    return (isinstance(value, list) and len(value) == 3
            and all(isinstance(v, int) and 0 <= v <= 255 for v in value))


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{path}: COCO file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MaskError(f"{path}: not a readable COCO JSON file ({exc})") from None
    if not isinstance(document, dict):
        raise MaskError(f"{path}: not a COCO file (expected a JSON object)")
    required = {"images": ("id", "file_name"), "annotations": ("image_id", "category_id"),
                "categories": ("id", "name")}
    for key, fields in required.items():
        items = document.get(key)
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and all(f in item for f in fields) for item in items
        ):
            raise MaskError(
                f"{path}: not a COCO segmentation file: '{key}' must be a list of objects "
                f"with {', '.join(fields)}"
            )
    return document

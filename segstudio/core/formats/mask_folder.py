"""Import a folder of mask images (PNG or TIFF), matched to the project's images by name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segstudio.core.classes import UNLABELLED, load_classes_file
from segstudio.core.errors import MaskError, ProjectError
from segstudio.core.formats.common import (
    ImageMatcher,
    ImportReport,
    check_size,
    resolve_classes,
    write_imported,
)
from segstudio.core.masks import check_mask, map_mask_colours, map_mask_values, read_mask_values
from segstudio.core.project import Project

MASK_EXTENSIONS = (".png", ".tif", ".tiff")


def import_masks(
    project: Project,
    masks_dir: str | os.PathLike,
    mask_values: list[int] | None = None,
    classes_file: str | os.PathLike | None = None,
    add_classes: bool = False,
    overwrite: bool = False,
) -> ImportReport:
    """Import masks named like their images (a.png or a_mask.png for a.jpg).

    How mask values become classes:
    - `mask_values`: value mask_values[i] is class i; 255, unless listed, is unlabelled.
    - `classes_file` (see load_classes_file): its classes are matched to the
      project's by name (unknown names: error, or added with `add_classes`);
      its ignore value means unlabelled.
    - neither: the values are class indices already (255 unlabelled).
    Any other value is an error naming the mask file. All masks are checked
    before anything is written; images with labels are kept unless `overwrite`.
    """
    masks_dir = Path(masks_dir)
    if not masks_dir.is_dir():
        raise ProjectError(f"{masks_dir}: not a folder of masks")
    if mask_values is not None and classes_file is not None:
        raise ProjectError("give mask values or a classes file, not both")
    report = ImportReport()
    classes = list(project.classes)
    if not classes and classes_file is None:
        raise ProjectError(
            f"{project.root}: the project has no classes yet; import with a classes file "
            "(--classes FILE --add-classes) or add the classes in the window first"
        )
    values, ignore, colours, ignore_color = None, None, None, None
    if classes_file is not None:
        spec = load_classes_file(classes_file)
        names = [c.name for c in spec.classes]
        colors = {c.name: c.color for c in spec.classes}
        classes, index, report.added_classes = resolve_classes(
            project, names, Path(classes_file), add_classes, colors
        )
        values = _values_for_classes(spec.values, [index[n] for n in names], len(classes))
        ignore = spec.ignore_value
        colours = {c.color: index[c.name] for c in spec.classes}  # for colour masks
        ignore_color = spec.ignore_color
    elif mask_values is not None:
        if len(mask_values) > len(classes):
            raise ProjectError(
                f"{len(mask_values)} mask values ({mask_values}) need {len(mask_values)} "
                f"classes, the project has {len(classes)}; add classes first"
            )
        if len(set(mask_values)) != len(mask_values):
            raise ProjectError(f"mask values {mask_values} repeat a value")
        values = list(mask_values)
        ignore = None if UNLABELLED in values else UNLABELLED

    matcher = ImageMatcher(project)
    pairs = []
    for path in sorted(p for p in masks_dir.rglob("*") if p.suffix.lower() in MASK_EXTENSIONS):
        if any(part.startswith(".") for part in path.relative_to(masks_dir).parts):
            continue
        entry = matcher.by_name(path.relative_to(masks_dir).as_posix())
        if entry is None:
            report.notes.append(f"{path}: no image of that name in the project, skipped")
        else:
            pairs.append((entry, path))
    if not pairs:
        raise ProjectError(f"{masks_dir}: no mask matches an image of the project by name")

    mostly_unlabelled = []

    def converted() -> Iterator[tuple]:
        for entry, path in pairs:
            raw = read_mask_values(path, colour=colours is not None)
            check_size(raw.shape[:2], project, entry, path)
            if raw.ndim == 3:  # a colour mask, mapped by the classes file's colours
                mask = map_mask_colours(raw, colours, ignore_color, path)
            else:
                mask = _convert(raw, path, values, ignore, len(classes))
            if values is None and np.count_nonzero(mask == UNLABELLED) > mask.size // 2:
                mostly_unlabelled.append(path.name)
            yield entry, mask

    write_imported(project, converted(), classes, report, overwrite)
    if mostly_unlabelled:
        report.notes.append(
            f"{len(mostly_unlabelled)} masks (e.g. {mostly_unlabelled[0]}) are mostly 255, which "
            "means unlabelled; if 255 is a class in your masks, import again with "
            "--mask-values (e.g. 0 255) and --overwrite"
        )
    return report


def _values_for_classes(file_values: list[int], indices: list[int], num_classes: int) -> list:
    """Class values ordered by project class index (None for classes the file lacks)."""
    values: list = [None] * num_classes
    for value, index in zip(file_values, indices, strict=True):
        values[index] = value
    return values


def _convert(raw, path, values, ignore, num_classes) -> np.ndarray:
    if values is None:
        if raw.size and (raw.min() < 0 or raw.max() > 255):
            raise MaskError(f"{path}: mask values must be 0..255, found {raw.min()}..{raw.max()}")
        mask = raw.astype(np.uint8)
        check_mask(mask, path, num_classes=num_classes,
                   hint="give the mask values of the classes, or a classes file")
        return mask
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    try:
        mapped = map_mask_values(raw, [v for v, _ in present], ignore)
    except MaskError as exc:
        raise MaskError(f"{path}: {exc}; list every value with --mask-values") from None
    lookup = np.full(256, UNLABELLED, np.uint8)
    lookup[: len(present)] = [i for _, i in present]
    return lookup[mapped]

"""What the importers share: finding a label file's image, mapping class names to
classes, and writing the imported labels all at once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from segstudio.core.classes import LabelClass, check_classes, default_color
from segstudio.core.errors import MaskError, ProjectError, UserError
from segstudio.core.project import Project
from segstudio.core.project_entries import ImageEntry

# Suffixes label files often add to the image's stem: a_mask.png for a.png.
_LABEL_SUFFIXES = ("_mask", "_masks", "_label", "_labels", "_gt", "_seg", "-mask", "-label")


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)  # image names that got labels
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    added_classes: list[str] = field(default_factory=list)


class ImageMatcher:
    """Finds a project image for a label file's name: by relative path, then by stem."""

    def __init__(self, project: Project):
        self._by_path = {str(PurePosixPath(e.name).with_suffix("")): e for e in project.images}
        self._by_file = {os.path.normcase(os.path.abspath(e.path)): e for e in project.images}
        stems: dict[str, list[ImageEntry]] = {}
        for entry in project.images:
            stems.setdefault(PurePosixPath(entry.name).stem, []).append(entry)
        self._by_stem = {stem: found[0] for stem, found in stems.items() if len(found) == 1}

    def by_file(self, path: Path) -> ImageEntry | None:
        return self._by_file.get(os.path.normcase(os.path.abspath(path)))

    def by_name(self, name: str) -> ImageEntry | None:
        """`name` is a relative path with or without suffix: 'sub/a.png', 'a', 'a_mask'."""
        path = PurePosixPath(name.replace("\\", "/"))
        for key in (str(path.with_suffix("")), str(path)):
            if key in self._by_path:
                return self._by_path[key]
        stem = path.stem
        candidates = [stem] + [stem[: -len(s)] for s in _LABEL_SUFFIXES if stem.endswith(s)]
        for candidate in candidates:
            if candidate in self._by_stem:
                return self._by_stem[candidate]
        return None


def resolve_classes(
    project: Project,
    names: Iterable[str],
    source: Path,
    add_classes: bool,
    colors: dict[str, tuple[int, int, int]] | None = None,
) -> tuple[list[LabelClass], dict[str, int], list[str]]:
    """Map class names found in `source` to the project's classes.

    Unknown names are added as new classes when `add_classes` is set or the
    project has no classes yet; otherwise they are an error listing them.
    Returns (the new class table, name -> index, names added).
    """
    classes = list(project.classes)
    index = {c.name: i for i, c in enumerate(classes)}
    unknown = list(dict.fromkeys(n for n in names if n not in index))
    if unknown and not (add_classes or not classes):
        raise ProjectError(
            f"{source}: unknown class names {unknown}; the project's classes are "
            f"{list(index)}. Add them with --add-classes (add_classes=True), or rename "
            "classes in the project to match"
        )
    for name in unknown:
        color = (colors or {}).get(name) or default_color(len(classes))
        classes.append(LabelClass(name, tuple(color)))
        index[name] = len(classes) - 1
    try:
        check_classes(classes)
    except UserError as exc:
        raise ProjectError(f"{source}: {exc}") from None
    return classes, index, unknown


def write_imported(
    project: Project,
    labels: Iterable[tuple[ImageEntry, np.ndarray]],
    classes: list[LabelClass],
    report: ImportReport,
    overwrite: bool,
) -> ImportReport:
    """Write imported labels and the class table together, all or nothing.

    Images that already have labels are left alone (with a note) unless `overwrite`.
    """
    with project.label_batch(classes) as batch:
        for entry, mask in labels:
            if project.has_labels(entry) and not overwrite:
                report.notes.append(f"{entry.name}: already has labels, kept them "
                                    "(use --overwrite to replace them)")
                continue
            batch.write(entry.id, mask)
            report.imported.append(entry.name)
    return report


def check_size(mask_shape: tuple[int, int], project: Project, entry: ImageEntry, source) -> None:
    height, width = project.image_shape(entry)
    if tuple(mask_shape) != (height, width):
        raise MaskError(
            f"{source}: the labels are {mask_shape[1]}x{mask_shape[0]} but the image "
            f"{entry.name} is {width}x{height} (width x height)"
        )

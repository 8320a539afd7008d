"""Class table changes of a project: add, rename, recolour, move, delete (or merge).

Moving and deleting renumber every label file, through Project.label_batch so
the files and project.json change together or not at all.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.classes import MAX_CLASSES, LabelClass, check_classes, default_color
from segstudio.core.errors import ProjectError
from segstudio.core.masks import read_mask
from segstudio.core.project_entries import LabelStats


class ClassTableMixin:
    """Methods of Project that change its classes (kept apart to keep modules short)."""

    # -- classes -------------------------------------------------------------------

    def add_class(self, name: str, color: tuple[int, int, int] | None = None) -> int:
        if len(self.classes) >= MAX_CLASSES:
            raise ProjectError(f"a project holds at most {MAX_CLASSES} classes")
        new = LabelClass(name, _checked(color) if color else default_color(len(self.classes)))
        check_classes(self.classes + [new])
        with self.changing():
            self.classes.append(new)
            for entry in self.images:
                if entry.stats is not None:
                    entry.stats = LabelStats(entry.stats.fraction, entry.stats.counts + [0])
        return len(self.classes) - 1

    def rename_class(self, index: int, name: str) -> None:
        self._check_index(index)
        renamed = list(self.classes)
        renamed[index] = LabelClass(name, self.classes[index].color)
        check_classes(renamed)
        with self.changing():
            self.classes[:] = renamed

    def recolor_class(self, index: int, color: tuple[int, int, int]) -> None:
        """Change a class colour; label files get the new palette (their indices stay)."""
        self._check_index(index)
        recolored = list(self.classes)
        recolored[index] = LabelClass(self.classes[index].name, _checked(color))
        self._remap_labels(np.arange(256, dtype=np.uint8), recolored)

    def move_class(self, index: int, new_index: int) -> None:
        """Move a class to another position; every label file is renumbered to match."""
        self._check_index(index)
        self._check_index(new_index)
        order = list(range(len(self.classes)))
        order.insert(new_index, order.pop(index))
        lookup = np.full(256, 255, np.uint8)
        lookup[order] = np.arange(len(order))
        self._remap_labels(lookup, [self.classes[i] for i in order])

    def delete_class(self, index: int, merge_into: int | None = None) -> None:
        """Delete a class; its pixels become unlabelled, or class `merge_into`."""
        self._check_index(index)
        if merge_into is not None:
            self._check_index(merge_into)
            if merge_into == index:
                raise ProjectError("a class cannot be merged into itself")
        keep = [i for i in range(len(self.classes)) if i != index]
        lookup = np.full(256, 255, np.uint8)
        lookup[keep] = np.arange(len(keep))
        if merge_into is not None:
            lookup[index] = lookup[merge_into]
        self._remap_labels(lookup, [self.classes[i] for i in keep])

    def _remap_labels(self, lookup: np.ndarray, classes: list[LabelClass]) -> None:
        # Every label file, also those of removed images, so kept labels stay right.
        with self.label_batch(classes) as batch:
            for path in sorted(self.labels_dir.glob("*.png")):
                batch.write(path.stem, lookup[read_mask(path)])

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.classes):
            raise ProjectError(f"class index {index} is out of range 0..{len(self.classes) - 1}")


def _checked(color) -> tuple[int, int, int]:
    rgb = tuple(int(v) for v in color)
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise ProjectError(f"a colour is (r, g, b) with values 0..255, got {tuple(color)}")
    return rgb  # type: ignore[return-value]

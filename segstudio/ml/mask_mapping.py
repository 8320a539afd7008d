"""How the values in a user's mask files become class indices (0..K-1, 255 unlabelled).

Three cases, matching the command-line options:
- masks already hold class indices (segstudio's own label PNGs): no option;
- `--mask-values 0,255` (or `membrane=0,cell=255`): the value of each class,
  in class order; 255, when it is not one of them, stays unlabelled;
- `--classes FILE`: a classes file giving names, colours, the id of each class
  and possibly an ignore value (CamVid's 11). Colour (RGB) masks are then read by
  the classes' colours, and the file's ignore colour, if any, is unlabelled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from segstudio.core.classes import UNLABELLED, LabelClass, default_classes, load_classes_file
from segstudio.core.errors import MaskError, UserError
from segstudio.core.masks import check_mask, map_mask_colours, map_mask_values, read_mask_values


@dataclass(frozen=True)
class MaskMapping:
    values: tuple[int, ...] | None = None  # mask value of each class; None: values are indices
    ignore_value: int | None = None  # a mask value meaning unlabelled, besides 255
    classes: tuple[LabelClass, ...] | None = None  # names and colours, when known
    num_classes: int | None = None  # known class count, for checking index masks
    read_colours: bool = False  # RGB masks are mapped by the classes' colours
    ignore_color: tuple[int, int, int] | None = None  # a colour meaning unlabelled
    named: bool = False  # the classes' names were given (a classes file, name=value)

    @staticmethod
    def indices(num_classes: int | None = None) -> MaskMapping:
        return MaskMapping(num_classes=num_classes)

    @staticmethod
    def from_values(spec: str | list[int] | tuple[int, ...]) -> MaskMapping:
        """Parse "0,255" or "membrane=0,cell=255" (or take a list of ints)."""
        names: list[str | None] = []
        values: list[int] = []
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        try:
            for item in items:
                name, value = None, item
                if isinstance(item, str):
                    item = item.strip()
                    name, _, value = item.rpartition("=") if "=" in item else (None, "", item)
                values.append(int(value))
                names.append(name.strip() if name else None)
        except ValueError:
            raise UserError(
                f"--mask-values {spec!r}: expected comma-separated mask values, one per class "
                "in class order, e.g. 0,255 or membrane=0,cell=255"
            ) from None
        if len(values) < 2:
            raise UserError(f"--mask-values {spec!r}: give the values of at least two classes")
        if len(set(values)) != len(values):
            raise UserError(f"--mask-values {spec!r}: a value is listed twice")
        if any(not 0 <= v <= 65535 for v in values):
            raise UserError(f"--mask-values {spec!r}: values must be 0..65535")
        labels = [n if n else f"value {v}" for n, v in zip(names, values, strict=True)]
        classes = default_classes(labels)
        if len(set(labels)) != len(labels):
            raise UserError(f"--mask-values {spec!r}: two classes have the same name")
        ignore = UNLABELLED if UNLABELLED not in values else None
        return MaskMapping(tuple(values), ignore, tuple(classes), len(values),
                           named=all(names))

    @staticmethod
    def from_classes_file(path: str | os.PathLike) -> MaskMapping:
        parsed = load_classes_file(path)
        ignore = parsed.ignore_value
        if ignore is None and UNLABELLED not in parsed.values:
            ignore = UNLABELLED
        return MaskMapping(
            tuple(parsed.values), ignore, tuple(parsed.classes), len(parsed.classes),
            read_colours=True, ignore_color=parsed.ignore_color, named=True,
        )

    def in_order_of(self, names: list[str]) -> MaskMapping:
        """This mapping with its classes in the order `names` gives (a model's): the same
        names in another order. Masks then read as indices of that order."""
        own = [c.name for c in self.classes]
        order = [own.index(name) for name in names]
        return replace(self, values=None if self.values is None else
                       tuple(self.values[i] for i in order),
                       classes=tuple(self.classes[i] for i in order))

    def class_list(self, num_classes: int | None = None) -> list[LabelClass]:
        """Classes with names and colours; generic names when the mapping has none."""
        if self.classes is not None:
            return list(self.classes)
        count = num_classes if num_classes is not None else self.num_classes
        if count is None:
            raise ValueError("the number of classes is not known")
        return default_classes([f"class {i}" for i in range(count)])

    def read(self, path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Read a mask file as uint8 class indices; errors name the file."""
        path = Path(path)
        values = read_mask_values(path, colour=self.read_colours)
        if shape is not None:
            check_mask(values[:, :, 0] if values.ndim == 3 else values, path, shape)
        if values.ndim == 3:
            colours = {c.color: index for index, c in enumerate(self.classes)}
            return map_mask_colours(values, colours, self.ignore_color, path)
        if self.values is None:
            if values.size and (values.min() < 0 or values.max() > UNLABELLED):
                raise MaskError(
                    f"{path}: values {int(values.min())}..{int(values.max())} are not class "
                    "indices 0..254 (255 = unlabelled); map them with --mask-values or --classes"
                )
            mask = values.astype(np.uint8, copy=False)
            check_mask(mask, path, num_classes=self.num_classes,
                       hint="map them with --mask-values or a classes file")
            return mask
        try:
            return map_mask_values(values, list(self.values), self.ignore_value)
        except MaskError as exc:
            raise MaskError(f"{path}: {exc}; check --mask-values or the classes file") from None

"""Label classes: names and display colours. Class indices are 0..K-1; 255 is unlabelled."""

from __future__ import annotations

import colorsys
import json
import os
from dataclasses import dataclass
from pathlib import Path

from segstudio.core.errors import UserError

UNLABELLED = 255
MAX_CLASSES = 255

Color = tuple[int, int, int]

# Distinct, readable colours for the first classes; later ones are generated.
_BASE_COLORS: list[Color] = [
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (128, 0, 0), (170, 255, 195),
]


@dataclass(frozen=True)
class LabelClass:
    name: str
    color: Color

    def to_json(self) -> dict:
        return {"name": self.name, "color": list(self.color)}

    @staticmethod
    def from_json(data: dict) -> LabelClass:
        return LabelClass(name=str(data["name"]), color=_parse_color(data.get("color")))


def default_color(index: int) -> Color:
    if index < len(_BASE_COLORS):
        return _BASE_COLORS[index]
    hue = (index * 0.618033988749895) % 1.0  # golden-ratio steps spread the hues
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


def default_classes(names: list[str]) -> list[LabelClass]:
    return [LabelClass(name, default_color(i)) for i, name in enumerate(names)]


def palette(classes: list[LabelClass]) -> list[int]:
    """A 256-entry RGB palette (768 ints) for palette PNGs: class colours, then black."""
    flat = [0] * 768
    for index, label_class in enumerate(classes[:MAX_CLASSES]):
        flat[3 * index : 3 * index + 3] = label_class.color
    return flat


def check_classes(classes: list[LabelClass]) -> None:
    if len(classes) > MAX_CLASSES:
        raise UserError(f"at most {MAX_CLASSES} classes are supported, got {len(classes)}")
    names = [c.name for c in classes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"class names must be unique; repeated: {', '.join(duplicates)}")
    if any(not n.strip() for n in names):
        raise UserError("class names must not be empty")


@dataclass(frozen=True)
class ClassesFile:
    """A classes file as read from disk.

    `values` are the mask values that mean each class (classes[i] is stored as
    values[i] in the user's masks); `ignore_value` is a mask value meaning
    unlabelled, if the file names one. Colour masks are read by the classes'
    colours; `ignore_color` is a colour meaning unlabelled in them (e.g. black void).
    """

    classes: list[LabelClass]
    values: list[int]
    ignore_value: int | None
    ignore_color: Color | None = None


def load_classes_file(path: str | os.PathLike) -> ClassesFile:
    """Read a classes JSON file.

    Accepted forms: {"classes": [{"id": 0, "name": ..., "color": [r, g, b]}, ...],
    "ignore_index": 11, "ignore_color": [0, 0, 0]} (CamVid style; "id" is optional
    and defaults to the position; the ignore entries are optional), or a plain list
    of class names.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: classes file not found") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable JSON classes file ({exc})") from None
    try:
        entries = data["classes"] if isinstance(data, dict) else data
        classes, values = [], []
        for position, entry in enumerate(entries):
            if isinstance(entry, str):
                entry = {"name": entry}
            name = str(entry["name"])
            classes.append(LabelClass(name, _parse_color(entry.get("color"), position)))
            values.append(int(entry.get("id", position)))
        ignore = data.get("ignore_index") if isinstance(data, dict) else None
        ignore_value = None if ignore is None else int(ignore)
        ignore_color = data.get("ignore_color") if isinstance(data, dict) else None
        ignore_color = None if ignore_color is None else _parse_color(ignore_color)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{path}: expected {{'classes': [{{'name': ..., 'color': [r, g, b]}}, ...]}} "
            f"or a list of names ({exc!r})"
        ) from None
    if not classes:
        raise UserError(f"{path}: the file lists no classes")
    try:
        check_classes(classes)
    except UserError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    if len(set(values)) != len(values):
        raise UserError(f"{path}: two classes share the same id")
    if ignore_color is not None and ignore_color in [c.color for c in classes]:
        raise UserError(f"{path}: the ignore colour {list(ignore_color)} is a class's colour")
    return ClassesFile(classes, values, ignore_value, ignore_color)


def _parse_color(value, index: int = 0) -> Color:
    if value is None:
        return default_color(index)
    if isinstance(value, str) and value.startswith("#") and len(value) == 7:
        return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    rgb = tuple(int(v) for v in value)
    if len(rgb) != 3 or any(not 0 <= v <= 255 for v in rgb):
        raise ValueError(f"colour {value!r} is not [r, g, b] with values 0..255")
    return rgb  # type: ignore[return-value]

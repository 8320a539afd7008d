"""project.json: reading (with checks and migration of older versions) and writing.

Layout (format 2)::

    {"format_version": 2,
     "classes": [{"name": "cell", "color": [60, 180, 75]}, ...],
     "images": [{"id": "sub__a", "name": "sub/a.png", "path": "../imgs/sub/a.png",
                 "split": "train", "width": 512, "height": 512,
                 "stats": {"fraction": 0.4, "counts": [100, 20], "file": [mtime_ns, bytes]}}],
     "settings": {...},
     "pending_labels": ["sub__a", ...]}   # only while a class change is being committed

Format 1 was the pre-release layout: classes as a list of names, images as a list
of paths, label files named after the image's stem, no splits or statistics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from segstudio.core.classes import LabelClass, check_classes, default_classes
from segstudio.core.errors import ProjectError, UserError
from segstudio.core.project_entries import (
    SPLITS,
    ImageEntry,
    LabelStats,
    make_id,
    resolve_path,
    stored_path,
)

FORMAT_VERSION = 2
PROJECT_FILE = "project.json"


@dataclass
class ProjectData:
    classes: list[LabelClass]
    images: list[ImageEntry]
    settings: dict
    pending_labels: list[str] = field(default_factory=list)
    migrated_from: int | None = None  # the format version read, when older than ours
    # Keys this version does not know (written by a tool or a later version): kept as
    # they were, so a save does not throw away what someone else stored.
    extra: dict = field(default_factory=dict)


_KNOWN_KEYS = {"format_version", "classes", "images", "settings", "pending_labels"}
_KNOWN_ENTRY_KEYS = {"id", "name", "path", "split", "width", "height", "stats"}


def dump(data: ProjectData, root: Path) -> str:
    """project.json text: one line per class and per image, so it reads (and diffs) well."""
    parts = [f' "format_version": {FORMAT_VERSION}',
             _list_block("classes", [c.to_json() for c in data.classes]),
             _list_block("images", [_entry_to_json(e, root) for e in data.images]),
             ' "settings": ' + _json(data.settings, indent=2).replace("\n", "\n ")]
    if data.pending_labels:
        parts.append(' "pending_labels": ' + _json(data.pending_labels))
    parts += [f" {_json(key)}: {_json(value)}" for key, value in data.extra.items()]
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _list_block(key: str, items: list[dict]) -> str:
    if not items:
        return f' "{key}": []'
    return f' "{key}": [\n' + ",\n".join("  " + _json(i) for i in items) + "\n ]"


_COMPACT = json.JSONEncoder(ensure_ascii=False)  # reused: much faster than json.dumps per line


def _json(value, indent: int | None = None) -> str:
    if indent is None:
        return _COMPACT.encode(value)
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _entry_to_json(entry: ImageEntry, root: Path) -> dict:
    item = {"id": entry.id, "name": entry.name, "path": stored_path(entry.path, root),
            "split": entry.split}
    if entry.size is not None:
        item["height"], item["width"] = entry.size
    if entry.stats is not None and entry.stats_file is not None:
        item["stats"] = {"fraction": entry.stats.fraction, "counts": entry.stats.counts,
                         "file": list(entry.stats_file)}
    return item | {k: v for k, v in entry.extra.items() if k not in item}


def load(path: Path) -> ProjectData:
    """Read and check project.json; raise ProjectError naming it and what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(
            f"{path.parent}: not a segstudio project (no {PROJECT_FILE}); "
            "create one with `segstudio project create`"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ProjectError(f"{path}: not readable JSON ({exc}); restore it from a backup") from None
    if not isinstance(document, dict):
        raise ProjectError(f"{path}: expected a JSON object, got {type(document).__name__}")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"{path}: 'format_version' must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"{path}: written by a newer segstudio (project format {version}; this version "
            f"reads up to {FORMAT_VERSION}). Update segstudio to open it."
        )
    try:
        if version == 1:
            document = _migrate_v1(document)
        data = _parse(document, path.parent)
    except _Invalid as exc:
        raise ProjectError(f"{path}: {exc}; fix it by hand or restore a backup") from None
    data.migrated_from = version if version < FORMAT_VERSION else None
    return data


class _Invalid(Exception):
    pass


def _migrate_v1(document: dict) -> dict:
    names = _expect(document, "classes", list, "")
    paths = _expect(document, "images", list, "")
    taken: set[str] = set()
    images = []
    for i, stored in enumerate(paths):
        if not isinstance(stored, str):
            raise _Invalid(f"images[{i}]: expected a path string, got {stored!r}")
        name = stored.replace("\\", "/").rsplit("/", 1)[-1]
        images.append({"id": make_id(name, taken), "name": name, "path": stored,
                       "split": "train"})
        taken.add(images[-1]["id"].lower())
    classes = [c.to_json() for c in default_classes([str(n) for n in names])]
    return _unknown(document, _KNOWN_KEYS) | {"classes": classes, "images": images, "settings": document.get("settings", {})}


def _parse(document: dict, root: Path) -> ProjectData:
    classes = []
    for i, item in enumerate(_expect(document, "classes", list, "")):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _Invalid(f"classes[{i}]: expected {{'name': ..., 'color': [r, g, b]}}")
        try:
            classes.append(LabelClass.from_json(item))
        except (TypeError, ValueError) as exc:
            raise _Invalid(f"classes[{i}]: {exc}") from None
    try:
        check_classes(classes)
    except UserError as exc:
        raise _Invalid(str(exc)) from None
    images, ids = [], set()
    for i, item in enumerate(_expect(document, "images", list, "")):
        entry = _parse_entry(item, f"images[{i}]", root, len(classes))
        if entry.id.lower() in ids:
            raise _Invalid(f"images[{i}]: id {entry.id!r} is used twice")
        ids.add(entry.id.lower())
        images.append(entry)
    settings = document.get("settings", {})
    if not isinstance(settings, dict):
        raise _Invalid(f"'settings' must be an object, got {type(settings).__name__}")
    pending = document.get("pending_labels", [])
    if not isinstance(pending, list) or not all(_is_file_stem(p) for p in pending):
        raise _Invalid("'pending_labels' must list label file names")
    return ProjectData(classes, images, settings, pending, extra=_unknown(document, _KNOWN_KEYS))


def _parse_entry(item, where: str, root: Path, num_classes: int) -> ImageEntry:
    if not isinstance(item, dict):
        raise _Invalid(f"{where}: expected an object")
    image_id = _expect(item, "id", str, where)
    if not _is_file_stem(image_id):
        raise _Invalid(f"{where}.id: {image_id!r} cannot name a label file")
    split = item.get("split", "train")
    if split not in SPLITS:
        raise _Invalid(f"{where}.split: expected 'train' or 'val', got {split!r}")
    entry = ImageEntry(
        id=image_id,
        name=_expect(item, "name", str, where),
        path=resolve_path(_expect(item, "path", str, where), root),
        split=split,
        extra=_unknown(item, _KNOWN_ENTRY_KEYS),
    )
    if "width" in item or "height" in item:
        height, width = item.get("height"), item.get("width")
        if not all(isinstance(v, int) and v > 0 for v in (height, width)):
            raise _Invalid(f"{where}: width and height must be positive integers")
        entry.size = (height, width)
    stats = item.get("stats")
    if stats is not None:
        # A cache: anything odd in it is dropped and recomputed from the label file.
        try:
            counts = [int(c) for c in stats["counts"]]
            mtime, nbytes = (int(v) for v in stats["file"])
            if len(counts) == num_classes:
                entry.stats = LabelStats(float(stats["fraction"]), counts)
                entry.stats_file = (mtime, nbytes)
        except (KeyError, TypeError, ValueError):
            pass
    return entry


def _unknown(mapping: dict, known: set[str]) -> dict:
    """The keys of `mapping` this version does not read, with their values."""
    return {key: value for key, value in mapping.items() if key not in known}


def _is_file_stem(value) -> bool:
    return (isinstance(value, str) and bool(value) and not value.startswith(".")
            and "/" not in value and "\\" not in value)


def _expect(mapping: dict, key: str, kind: type, where: str):
    value = mapping.get(key)
    if not isinstance(value, kind):
        label = f"{where}.{key}" if where else f"'{key}'"
        expected = {list: "a list", str: "a string", dict: "an object"}[kind]
        raise _Invalid(f"{label}: expected {expected}, got {value!r:.60}")
    return value

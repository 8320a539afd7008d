"""Image list changes of a project: add, remove, relink missing images.

Images are checked (header read) before anything changes; names are relative
paths, ids derive from them and name the label files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from segstudio.core.atomic import atomic_path
from segstudio.core.errors import ImageReadError, ProjectError, UserError
from segstudio.core.images import IMAGE_EXTENSIONS, list_images
from segstudio.core.masks import read_mask
from segstudio.core.project_entries import ImageEntry, image_size, make_id, unique_name


class ImageListMixin:
    """Methods of Project that change its image list (kept apart to keep modules short)."""

    def add_images(
        self, paths: list[str | os.PathLike], base: str | os.PathLike | None = None,
        skip_unreadable: bool = False,
    ) -> list[ImageEntry]:
        """Add image files; names are relative to `base` when given, else file names.

        Every file is checked first: an unreadable one raises ImageReadError and
        nothing is added, or with `skip_unreadable` is left out with a note. Images
        already in the project are skipped with a note.
        """
        prepared = self._prepare_images([Path(p) for p in paths], base and Path(base),
                                        skip_unreadable)
        with self.changing():
            added = self._place_images(prepared)
        return added

    def remove_image(self, entry: ImageEntry | str, delete_labels: bool = False) -> None:
        """Drop an image from the project; its label file stays unless asked otherwise.

        A kept label file is picked up again if an image of the same name is re-added.
        """
        entry = self.entry(entry)
        with self.changing():
            self.images.remove(entry)
            self._index = {}
        if delete_labels:
            self.label_path(entry).unlink(missing_ok=True)

    def missing_images(self) -> list[ImageEntry]:
        return [e for e in self.images if not e.exists]

    def relink(self, entry: ImageEntry | str, new_path: str | os.PathLike) -> None:
        """Point an entry at its image's new place; the labels stay with the entry."""
        entry, new_path = self.entry(entry), Path(new_path)
        size = image_size(new_path)
        # Labels fix the size; an image without labels may be swapped for any other.
        old_size = (entry.size or self._label_file_size(entry)) if self.has_labels(entry) else None
        if old_size is not None and old_size != size:
            raise ProjectError(
                f"{new_path}: this image is {size[1]}x{size[0]} but {entry.name} is "
                f"{old_size[1]}x{old_size[0]}; choose the image its labels were painted on"
            )
        if self.copies_images:
            new_path = self._copy_in(new_path, entry.name)
        with self.changing():
            entry.path, entry.size = Path(os.path.abspath(new_path)), size

    def relink_folder(self, folder: str | os.PathLike,
                      exact_only: bool = False) -> list[ImageEntry]:
        """Relink missing images found under `folder` (moved there as a whole, say).

        A file matches by the image's relative name, else (unless `exact_only`: no
        search of the folder's tree) by a file name only one file under `folder` has.
        Returns the entries relinked; the others stay missing, with a note when a
        match was refused (another size, say).
        """
        by_name: dict[str, list[Path]] = {}
        if not exact_only:
            for path in list_images(folder)[0]:
                by_name.setdefault(path.name, []).append(path)
        relinked = []
        with self.changing():  # written once, for them all
            for entry in self.missing_images():
                candidate = Path(folder) / entry.name
                if not candidate.is_file():
                    same_name = by_name.get(Path(entry.name).name, [])
                    if len(same_name) != 1:
                        continue
                    candidate = same_name[0]
                try:
                    self.relink(entry, candidate)
                    relinked.append(entry)
                except UserError as exc:
                    self.notes.append(f"{entry.name}: not relinked ({exc})")
        return relinked

    def _label_file_size(self, entry: ImageEntry) -> tuple[int, int] | None:
        path = self.label_path(entry)
        return read_mask(path).shape if path.is_file() else None

    def _images_in_folder(self, folder: Path) -> list[Path]:
        paths, skipped = list_images(folder)
        own = [self.root / sub for sub in ("labels", "models")]
        paths = [p for p in paths if not any(p.is_relative_to(o) for o in own)]
        if skipped:
            shown = ", ".join(str(p.relative_to(folder)) for p in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            self.notes.append(f"skipped {len(skipped)} files that are not images: {shown}{more}")
        if not paths:
            raise ProjectError(
                f"{folder}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})"
            )
        return paths

    def _prepare_images(self, paths: list[Path], base: Path | None, skip_unreadable: bool):
        """Check images and choose their names and ids before anything is written."""
        known = {os.path.abspath(e.path) for e in self.images}
        names = {e.name for e in self.images}
        ids = {e.id.lower() for e in self.images}
        prepared = []
        for path in paths:
            if os.path.abspath(path) in known:
                self.notes.append(f"{path}: already in the project, skipped")
                continue
            try:
                size = image_size(path)
            except ImageReadError as exc:
                if not skip_unreadable:
                    raise
                self.notes.append(f"skipped: {exc}")
                continue
            inside = base is not None and path.resolve().is_relative_to(base.resolve())
            name = path.resolve().relative_to(base.resolve()).as_posix() if inside else path.name
            name = unique_name(name, names)
            image_id = make_id(name, ids)
            names.add(name)
            ids.add(image_id.lower())
            known.add(os.path.abspath(path))
            prepared.append(ImageEntry(image_id, name, Path(os.path.abspath(path)), size=size))
        return prepared

    def _place_images(self, prepared: list[ImageEntry]) -> list[ImageEntry]:
        if self.copies_images:
            for entry in prepared:
                entry.path = self._copy_in(entry.path, entry.name)
        self.images.extend(prepared)
        return prepared

    def _copy_in(self, source: Path, name: str) -> Path:
        target = self.root / "images" / name
        if target.exists() and target.samefile(source):
            return target
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return Path(os.path.abspath(target))

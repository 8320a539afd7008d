"""A project folder a person can read, where nothing is ever lost.

    PROJECT/project.json   classes, image list, splits, settings, label statistics
    PROJECT/images/        the user's images when copied in (otherwise referenced in place)
    PROJECT/labels/ID.png  one 8-bit palette PNG per image: class index per pixel, 255 unlabelled
    PROJECT/models/        trained models

Every file is written atomically. Changes that rewrite many label files (class
reorder and delete, imports) first write the new files to labels/.staging/, then
record them in project.json (the commit point), then move them into place; a
project interrupted in between is completed when it is next opened.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segstudio.core import project_file
from segstudio.core.atomic import atomic_write_bytes, atomic_write_text, fsync_dir
from segstudio.core.classes import LabelClass, check_classes
from segstudio.core.errors import ImageReadError, MaskError, ProjectError
from segstudio.core.images import load_image
from segstudio.core.masks import check_mask, empty_mask, read_mask, write_mask
from segstudio.core.project_classes import ClassTableMixin
from segstudio.core.project_entries import (
    SPLITS,
    ImageEntry,
    LabelBatch,
    LabelStats,
    image_size,
)
from segstudio.core.project_file import PROJECT_FILE, ProjectData
from segstudio.core.project_images import ImageListMixin
from segstudio.core.shared_images import load_shared

# Temporary files left by atomic writes that a killed process never finished.
_STALE_TEMPORARY = re.compile(r"^\..+\.(png|json)\.tmp$")
_STALE_AFTER_S = 600


class Project(ImageListMixin, ClassTableMixin):
    def __init__(self, root: Path, data: ProjectData):
        self.root = Path(os.path.abspath(root))
        self.classes: list[LabelClass] = data.classes
        self.images: list[ImageEntry] = data.images
        self.settings: dict = data.settings
        self.notes: list[str] = []  # what was skipped while creating or adding, for the user
        self._pending: list[str] = data.pending_labels
        self._migrated_from = data.migrated_from
        self._extra = data.extra
        self._lock = threading.RLock()
        self._index: dict[str, ImageEntry] = {}
        self._changing = False

    # -- folders -----------------------------------------------------------------

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def labels_dir(self) -> Path:
        return self.root / "labels"

    @property
    def _staging_dir(self) -> Path:
        return self.labels_dir / ".staging"

    @property
    def copies_images(self) -> bool:
        return bool(self.settings.get("copy_images", False))

    # -- create, open, save --------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike,
        images: list[Path] | str | os.PathLike,
        classes: list[LabelClass],
        copy_images: bool = False,
    ) -> Project:
        """Start a project in `folder` from a list of image files or a folder of them.

        From a folder, images are found recursively; other files and unreadable
        images are skipped with a note in `project.notes`. An explicit list must
        hold only readable images. An existing project is never overwritten.
        """
        root = Path(folder)
        if (root / PROJECT_FILE).exists():
            raise ProjectError(f"{root}: already a segstudio project; open it instead")
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root}: exists and is not a folder")
        check_classes(list(classes))
        project = cls(root, ProjectData(list(classes), [], {"copy_images": bool(copy_images)}))
        if isinstance(images, (str, os.PathLike)):
            paths, base = project._images_in_folder(Path(images)), Path(images)
            prepared = project._prepare_images(paths, base, skip_unreadable=True)
            if not prepared:
                skipped = "; ".join(project.notes[:5]) + ("; …" if len(project.notes) > 5 else "")
                raise ProjectError(f"{images}: no readable images; {skipped}")
        else:
            prepared = project._prepare_images([Path(p) for p in images], None, False)
        for sub in ("labels", "models"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        project._place_images(prepared)
        project.save()
        return project

    @classmethod
    def open(cls, folder: str | os.PathLike) -> Project:
        """Open a project folder (or its project.json). Older formats migrate in memory."""
        root = Path(folder)
        if root.name == PROJECT_FILE and root.is_file():
            root = root.parent
        project = cls(root, project_file.load(root / PROJECT_FILE))
        project._remove_stale_temporaries()
        if project._pending:
            project._finish_pending()
        elif _is_stale(project._staging_dir):  # a batch that never reached its commit point
            shutil.rmtree(project._staging_dir, ignore_errors=True)
        return project

    def save(self) -> None:
        """Write project.json atomically. Every mutating method calls it."""
        with self._lock, _reported_as_user_error(self.root / PROJECT_FILE):
            path = self.root / PROJECT_FILE
            if self._migrated_from is not None and path.is_file():
                backup = self.root / f"project.v{self._migrated_from}.json.bak"
                if not backup.exists():
                    atomic_write_bytes(backup, path.read_bytes())
                self._migrated_from = None
            data = ProjectData(self.classes, self.images, self.settings, self._pending,
                               extra=self._extra)
            atomic_write_text(path, project_file.dump(data, self.root))

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """A change to what project.json holds, written when the block ends (if anything
        changed). If the block or the writing fails, memory is put back as it was: a change
        the user was told did not happen must not be written later with another one.
        Nested blocks are written (or put back) with the outermost."""
        with self._lock:
            if self._changing:
                yield
                return
            state = self._state()
            self._changing = True
            try:
                yield
                if self._state() != state:  # nothing changed (no image found): no write
                    self.save()
            except BaseException:
                self._restore(state)
                raise
            finally:
                self._changing = False

    def _state(self) -> tuple:
        return (list(self.classes), list(self.images), [dict(vars(e)) for e in self.images],
                copy.deepcopy(self.settings), list(self._pending))

    def _restore(self, state: tuple) -> None:
        classes, images, fields, settings, pending = state
        self.classes[:] = classes
        self.images[:] = images  # the same entries (the window holds them), as they were
        for entry, saved in zip(images, fields, strict=True):
            vars(entry).clear()
            vars(entry).update(saved)
        self.settings.clear()
        self.settings.update(settings)
        self._pending, self._index = pending, {}

    def set_setting(self, key: str, value) -> None:
        with self.changing():
            self.settings[key] = value

    # -- images --------------------------------------------------------------------

    def entry(self, entry_or_id: ImageEntry | str) -> ImageEntry:
        """This project's entry for an id (or for an entry, perhaps of an older Project)."""
        image_id = entry_or_id.id if isinstance(entry_or_id, ImageEntry) else entry_or_id
        found = self._index.get(image_id)
        if found is None or found.id != image_id or len(self._index) != len(self.images):
            self._index = {e.id: e for e in self.images}  # the list changed: re-index
            found = self._index.get(image_id)
        if found is None:
            raise ProjectError(f"{self.root}: no image with id {image_id!r} in this project")
        return found

    def load_image(self, entry: ImageEntry | str) -> np.ndarray:
        entry = self.entry(entry)
        if not entry.exists:
            raise ImageReadError(
                f"{entry.path}: image not found (moved or deleted?); relink it to its new place"
            )
        image = load_shared(entry.path, load_image)  # read-only, one copy in the process
        entry.size = image.shape[:2]
        return image

    def neighbours(self, entry: ImageEntry | str) -> list[ImageEntry]:
        """The next image, then the previous one, in the project's order: those whose
        files exist (missing ones are stepped over)."""
        entry = self.entry(entry)
        index = next(i for i, e in enumerate(self.images) if e.id == entry.id)
        following = (e for e in self.images[index + 1 :] if e.exists)
        preceding = (e for e in reversed(self.images[:index]) if e.exists)
        return [e for e in (next(following, None), next(preceding, None)) if e is not None]

    def image_shape(self, entry: ImageEntry | str) -> tuple[int, int]:
        """(height, width) of an image, from project.json's cache or the file's header."""
        entry = self.entry(entry)
        if entry.size is None:
            entry.size = image_size(entry.path)
        return entry.size

    def set_split(self, entry: ImageEntry | str, split: str) -> None:
        if split not in SPLITS:
            raise ProjectError(f"split must be 'train' or 'val', got {split!r}")
        with self.changing():
            self.entry(entry).split = split

    def auto_split(self, val_fraction: float, seed: int = 0) -> None:
        """Put about `val_fraction` of the images in validation, reproducibly for a seed.

        Labelled and unlabelled images are split separately, so validation gets
        its share of the labelled ones (the only ones that count for training).
        """
        if not 0.0 <= val_fraction <= 1.0:
            raise ProjectError(f"the validation fraction must be in 0..1, got {val_fraction}")
        rng = np.random.default_rng(seed)
        labelled = [e for e in self.images if self.label_stats(e).labelled]
        unlabelled = [e for e in self.images if not self.label_stats(e).labelled]
        with self.changing():
            for group in (labelled, unlabelled):
                group.sort(key=lambda e: e.id)
                n_val = round(val_fraction * len(group))
                if 0 < val_fraction < 1 and len(group) >= 2:
                    n_val = min(max(n_val, 1), len(group) - 1)
                order = rng.permutation(len(group))
                for rank, position in enumerate(order):
                    group[position].split = "val" if rank < n_val else "train"

    # -- labels --------------------------------------------------------------------

    def label_path(self, entry: ImageEntry | str) -> Path:
        image_id = entry.id if isinstance(entry, ImageEntry) else entry
        return self.labels_dir / f"{image_id}.png"

    def has_labels(self, entry: ImageEntry | str) -> bool:
        return self.label_path(entry).is_file()

    def load_labels(self, entry: ImageEntry | str) -> np.ndarray:
        """The image's class indices (uint8, 255 = unlabelled); all 255 if none saved."""
        entry = self.entry(entry)
        path = self.label_path(entry)
        if not path.is_file():
            return empty_mask(*self.image_shape(entry))
        shape = entry.size if entry.size or not entry.exists else self.image_shape(entry)
        return read_mask(path, shape=shape, num_classes=len(self.classes),
                         hint="fix or remove the label file")

    def save_labels(self, entry: ImageEntry | str, mask: np.ndarray) -> None:
        """Write the image's labels (atomic palette PNG) and its statistics. Cheap
        enough for the GUI's autosave: one PNG and project.json."""
        entry = self.entry(entry)
        path = self.label_path(entry)
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise MaskError(f"{path}: labels must be a 2-D uint8 array, got {mask.dtype} {mask.shape}")
        check_mask(mask, path, entry.size, len(self.classes))
        with self._lock, _reported_as_user_error(path):
            write_mask(path, mask, self.classes)
            self._set_stats(entry, LabelStats.of_mask(mask, len(self.classes)), path)
            self.save()

    def label_stats(self, entry: ImageEntry | str) -> LabelStats:
        """Labelled fraction and pixels per class, from the cache when the file is unchanged."""
        entry = self.entry(entry)
        path = self.label_path(entry)
        if not path.is_file():
            return LabelStats(0.0, [0] * len(self.classes))
        stat = path.stat()
        cached = entry.stats
        if (cached is not None and entry.stats_file == (stat.st_mtime_ns, stat.st_size)
                and len(cached.counts) == len(self.classes)):
            return cached
        stats = LabelStats.of_mask(read_mask(path), len(self.classes))
        self._set_stats(entry, stats, path)
        return stats

    @contextlib.contextmanager
    def label_batch(self, classes: list[LabelClass] | None = None) -> Iterator[LabelBatch]:
        """Write many label files, and optionally a new class table, all or nothing.

        Files written with `batch.write(id, mask)` are staged; when the block ends
        without an exception they replace the label files together with the new
        classes. An exception leaves the project as it was.
        """
        with self._lock:
            classes = list(self.classes if classes is None else classes)
            check_classes(classes)
            shutil.rmtree(self._staging_dir, ignore_errors=True)
            self._staging_dir.mkdir(parents=True)
            batch = LabelBatch(self._staging_dir, classes)
            try:
                yield batch
            except BaseException:
                shutil.rmtree(self._staging_dir, ignore_errors=True)
                raise
            state = self._state()
            try:
                self.classes[:] = classes
                ids = {e.id: e for e in self.images}
                for stem, stats in batch.stats.items():
                    if stem in ids:
                        self._set_stats(ids[stem], stats, self._staging_dir / f"{stem}.png")
                self._pending = list(batch.stats)
                self.save()  # the commit point
            except BaseException:  # not written: as it was, in memory too
                self._restore(state)
                shutil.rmtree(self._staging_dir, ignore_errors=True)
                raise
            self._finish_pending()

    # -- internals -----------------------------------------------------------------

    def _finish_pending(self) -> None:
        for stem in self._pending:
            staged = self._staging_dir / f"{stem}.png"
            if staged.is_file():
                os.replace(staged, self.labels_dir / f"{stem}.png")
        fsync_dir(self.labels_dir)
        self._pending = []
        self.save()
        shutil.rmtree(self._staging_dir, ignore_errors=True)

    def _set_stats(self, entry: ImageEntry, stats: LabelStats, file: Path) -> None:
        stat = file.stat()
        entry.stats, entry.stats_file = stats, (stat.st_mtime_ns, stat.st_size)

    def _remove_stale_temporaries(self) -> None:
        for folder in (self.root, self.labels_dir):
            if folder.is_dir():
                for path in folder.iterdir():
                    if _STALE_TEMPORARY.match(path.name) and _is_stale(path):
                        path.unlink(missing_ok=True)


def _is_stale(path: Path) -> bool:
    """Left by a killed process: a fresh one may be another process writing right now."""
    try:
        return path.stat().st_mtime < time.time() - _STALE_AFTER_S
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _reported_as_user_error(path: Path) -> Iterator[None]:
    """A full disk or a read-only folder is the user's to fix: say which file and why."""
    try:
        yield
    except OSError as exc:
        raise ProjectError(
            f"{path}: cannot write ({exc.strerror or exc}); check the folder is writable "
            "and the disk has space"
        ) from exc

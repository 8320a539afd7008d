"""The images panel: the project's images with thumbnails and how much of each is labelled.

Thumbnails and label statistics are computed on a worker thread pool, one
image at a time, so a project of large images never blocks the window; the
list fills in as they arrive.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QVBoxLayout, QWidget

from segstudio.core.errors import UserError
from segstudio.gui.rendering import array_qimage, settings_for, to_display

THUMB_SIZE = 64
PLACEHOLDER_GREY = (70, 70, 76)
ENTRY_ROLE = Qt.ItemDataRole.UserRole
IMAGE_UNREADABLE, LABELS_UNREADABLE = "cannot read the image", "cannot read its labels"


class _Results(QObject):
    # (generation, entry id, thumbnail RGB array or None, labelled fraction or None,
    #  number of channels or None, what could not be read or None)
    ready = Signal(int, object, object, object, object, object)


class _ThumbnailJob(QRunnable):
    def __init__(self, project, entry, generation: int, results: _Results):
        super().__init__()
        self.project, self.entry, self.generation, self.results = project, entry, generation, results

    def run(self) -> None:
        thumb = fraction = channels = problem = None
        try:
            image = self.project.load_image(self.entry)
            thumb, channels = make_thumbnail(image), image.shape[2]
        except (UserError, OSError, ValueError) as exc:
            problem = (IMAGE_UNREADABLE, str(exc))
        try:
            fraction = self.project.label_stats(self.entry).fraction
        except (UserError, OSError, ValueError) as exc:
            problem = problem or (LABELS_UNREADABLE, str(exc))
        try:
            self.results.ready.emit(self.generation, self.entry.id, thumb, fraction, channels,
                                    problem)
        except RuntimeError:  # the panel went away while this job ran
            pass


def make_thumbnail(image: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """A (size, size, 3) uint8 preview: the image fitted inside, centred on the list's
    placeholder grey, so that every row of the list is as tall (a long thin image or a
    tiny one would otherwise make a short row). Shrunk first so big images cost little;
    tiny ones are enlarged pixel by pixel."""
    height, width = image.shape[:2]
    step = max(1, min(height, width) // (4 * size))
    small = image[::step, ::step]
    if small.dtype not in (np.uint8, np.uint16, np.float32):
        small = small.astype(np.float32)  # what cv2.resize takes whatever the channel count
    scale = size / max(small.shape[:2])
    if scale != 1:
        new_size = (max(1, round(small.shape[1] * scale)), max(1, round(small.shape[0] * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
        planes = [cv2.resize(np.ascontiguousarray(small[:, :, c]), new_size,
                             interpolation=interpolation) for c in range(small.shape[2])]
        small = np.stack(planes, axis=2)
    shown = to_display(small, settings_for(small))
    if shown.ndim == 2:
        shown = np.repeat(shown[:, :, None], 3, axis=2)
    thumb = np.empty((size, size, 3), np.uint8)
    thumb[:] = PLACEHOLDER_GREY
    top, left = (size - shown.shape[0]) // 2, (size - shown.shape[1]) // 2
    thumb[top:top + shown.shape[0], left:left + shown.shape[1]] = shown[:, :, :3]
    return thumb


class ImagesPanel(QWidget):
    entryActivated = Signal(object)  # the ImageEntry the user picked
    relinkRequested = Signal(object)  # the ImageEntry whose file should be found again
    splitRequested = Signal(object, str)  # the ImageEntry, and "val" or "train" for it
    removeRequested = Signal(object)  # the ImageEntry to take out of the project

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.list.setUniformItemSizes(True)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._results = _Results(self)
        self._results.ready.connect(self._thumbnail_ready)
        self._generation = 0
        self._items: dict[object, QListWidgetItem] = {}
        self._fractions: dict[object, float] = {}
        self._channels: dict[object, int] = {}  # of the images read so far
        self._channel_counts: Counter[int] = Counter()  # images of each number of channels
        self._problems: dict[object, tuple[str, str]] = {}  # (in short, the error) per image
        self._placeholder = _placeholder_icon()

    def set_project(self, project) -> None:
        self.pool.clear()
        self._generation += 1
        self._items.clear()
        self._fractions.clear()
        self._channels.clear()
        self._channel_counts.clear()
        self._problems.clear()
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        if project is None:
            return
        for entry in project.images:
            item = QListWidgetItem(self._placeholder, "")
            item.setData(ENTRY_ROLE, entry)
            self.list.addItem(item)
            self._items[entry.id] = item
            self._update_text(entry)
            if entry.exists:
                self.pool.start(_ThumbnailJob(project, entry, self._generation, self._results))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)

    def select(self, entry) -> None:
        item = self._items.get(entry.id) if entry is not None else None
        self.list.blockSignals(True)
        self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if item is not None:
            self.list.scrollToItem(item)

    def step(self, offset: int) -> None:
        """Activate the image `offset` rows away from the current one (Page Up/Down)."""
        if self.list.count() == 0:
            return
        row = min(max(self.list.currentRow() + offset, 0), self.list.count() - 1)
        self.list.setCurrentRow(row)

    def set_fraction(self, entry, fraction: float) -> None:
        if self._problems.get(entry.id, ("",))[0] == LABELS_UNREADABLE:
            del self._problems[entry.id]  # its labels were read (or written) since
        self._fractions[entry.id] = fraction
        self._update_text(entry)

    def show_split(self, entry) -> None:
        """Show an entry's text again after it moved between training and validation."""
        self._update_text(entry)

    def refresh(self, project, entry) -> None:
        """Show an entry again after its file changed (relinked): text and thumbnail."""
        self._problems.pop(entry.id, None)
        self._update_text(entry)
        item = self._items.get(entry.id)
        if item is not None and entry.exists:
            item.setForeground(self.list.palette().text())
            self.pool.start(_ThumbnailJob(project, entry, self._generation, self._results))

    def entries(self) -> list:
        return [self.list.item(i).data(ENTRY_ROLE) for i in range(self.list.count())]

    def _update_text(self, entry) -> None:
        item = self._items.get(entry.id)
        if item is None:
            return
        fraction = self._fractions.get(entry.id)
        problem = self._problems.get(entry.id)
        if not entry.exists or problem is not None:
            status = "missing file" if not entry.exists else problem[0]
            item.setForeground(QColor(220, 80, 80))
        elif fraction is None:
            status = "…"
        else:
            status = f"{labelled_percent(fraction)} labelled"
        tip = str(entry.path) + ("" if problem is None else f"\n{problem[1]}")
        if entry.split == "val":
            status += " · validation"
            tip += "\nValidation: its labels score the models, they are not trained on"
        odd = self._odd_channels(entry.id)
        if odd is not None:
            status += f" · {odd} channel{'s' if odd > 1 else ''}"
            tip += (f"\n{odd} channel(s), unlike most images of the project: a model trains on "
                    "images of one number of channels")
        item.setText(f"{entry.name}\n{status}")
        item.setToolTip(tip)

    def _odd_channels(self, entry_id) -> int | None:
        """This image's number of channels when most of the project's images have another."""
        channels = self._channels.get(entry_id)
        return channels if channels not in (None, self._usual_channels()) else None

    def _usual_channels(self) -> int | None:
        counts = self._channel_counts
        return max(counts, key=lambda n: (counts[n], -n)) if counts else None

    def _thumbnail_ready(self, generation, entry_id, thumb, fraction, channels, problem) -> None:
        item = self._items.get(entry_id)
        if generation != self._generation or item is None:
            return
        if problem is not None:
            self._problems[entry_id] = problem
            self._update_text(item.data(ENTRY_ROLE))
        if thumb is not None:
            item.setIcon(QIcon(QPixmap.fromImage(array_qimage(thumb).copy())))
        if channels is not None and self._channels.get(entry_id) != channels:
            usual, before = self._usual_channels(), self._channels.get(entry_id)
            if before is not None:  # its file was relinked to another
                self._channel_counts[before] -= 1
                if not self._channel_counts[before]:
                    del self._channel_counts[before]
            self._channels[entry_id] = channels
            self._channel_counts[channels] += 1
            changed = self._channels if self._usual_channels() != usual else [entry_id]
            for other in changed:
                self._update_text(self._items[other].data(ENTRY_ROLE))
        if fraction is not None and entry_id not in self._fractions:
            self.set_fraction(item.data(ENTRY_ROLE), fraction)

    def _context_menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            self.entry_menu(item.data(ENTRY_ROLE)).exec(self.list.viewport().mapToGlobal(pos))

    def entry_menu(self, entry) -> QMenu:
        """The right-click menu of an image."""
        menu = QMenu(self)
        validation = menu.addAction("Use for Validation")
        validation.setCheckable(True)
        validation.setChecked(entry.split == "val")
        validation.setToolTip("Score the models on this image's labels instead of training "
                              "on them (per-class IoU in Metrics)")
        validation.toggled.connect(
            lambda on: self.splitRequested.emit(entry, "val" if on else "train"))
        relink = menu.addAction("Relink Image File…", lambda: self.relinkRequested.emit(entry))
        relink.setToolTip("Point this image at its file's new place; its labels stay")
        menu.addSeparator()
        remove = menu.addAction("Remove from Project", lambda: self.removeRequested.emit(entry))
        remove.setToolTip("Take this image out of the project; the file stays where it is, "
                          "and its labels come back if it is added again")
        return menu

    def _current_changed(self, current, _previous) -> None:
        if current is not None:
            self.entryActivated.emit(current.data(ENTRY_ROLE))


def _placeholder_icon() -> QIcon:
    image = QImage(THUMB_SIZE, THUMB_SIZE, QImage.Format.Format_RGB888)
    image.fill(QColor(*PLACEHOLDER_GREY))
    return QIcon(QPixmap.fromImage(image))


def labelled_percent(fraction: float) -> str:
    """A whole percentage that never rounds a few strokes to 0%, nor nearly all to 100%."""
    if 0 < fraction < 0.005:
        return "<1%"
    if 0.995 <= fraction < 1:
        return ">99%"
    return f"{fraction:.0%}"

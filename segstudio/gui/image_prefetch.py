"""The images next to the one on screen, read ahead on a background thread.

Decoding a large PNG takes seconds (2.3 s for an 8000 x 8000 RGB one), all of it
spent in the GUI thread when the user steps to the next image. While they look
at one image, its neighbours are read here through `Project.load_image`, and
held. Holding them is all it takes: that read shares one array per version of a
file (core/shared_images.py), so the window's own `load_image` gets the array
read ahead at once, and a file changed since is read afresh. Errors are left
for the window's read to report.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_IMAGES = 3  # the next, the previous and the one on screen
MAX_BYTES = 512 * 1024 * 1024


class ImagePrefetcher:
    def __init__(self, max_images: int = MAX_IMAGES, max_bytes: int = MAX_BYTES):
        self.max_images, self.max_bytes = max_images, max_bytes
        self._lock = threading.Lock()
        self._held: OrderedDict[str, np.ndarray] = OrderedDict()  # the oldest first
        self._pending: set[str] = set()
        self._generation = 0  # bumped by clear(): reads started before are dropped
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segstudio-images")

    def holds(self, entry) -> bool:
        with self._lock:
            return entry.id in self._held

    def prefetch(self, project, entries) -> None:
        """Read these entries' images in the background (those not held or being read)."""
        for entry in entries:
            with self._lock:
                if entry.id in self._held:
                    self._held.move_to_end(entry.id)  # wanted again: kept longer
                    continue
                if entry.id in self._pending:
                    continue
                self._pending.add(entry.id)
                generation = self._generation
            self._executor.submit(self._read, project, entry, generation)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._pending.clear()
            self._generation += 1

    def shutdown(self) -> None:
        self.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _read(self, project, entry, generation: int) -> None:
        try:
            image = project.load_image(entry)
        except Exception:  # noqa: BLE001 - reported by the read when the user opens it
            image = None
        with self._lock:
            self._pending.discard(entry.id)
            if image is None or generation != self._generation:
                return
            self._held[entry.id] = image
            while self._held and (len(self._held) > self.max_images or sum(
                    held.nbytes for held in self._held.values()) > self.max_bytes):
                self._held.popitem(last=False)

"""The images next to the one on screen, read ahead on a background thread.

Decoding a large PNG takes seconds (2.3 s for an 8000 x 8000 RGB one), all of it
spent in the GUI thread when the user steps to the next image. While they look
at one image, its neighbours are read here, so that Page Down shows the next at
once. A read image is handed out once, and only if its file has not changed
since (path, size and modification time); errors are left for the normal read
to report.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_IMAGES = 2  # the next and the previous one
MAX_BYTES = 512 * 1024 * 1024


class ImagePrefetcher:
    def __init__(self, max_images: int = MAX_IMAGES, max_bytes: int = MAX_BYTES):
        self.max_images, self.max_bytes = max_images, max_bytes
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple, np.ndarray]] = OrderedDict()
        self._pending: set[str] = set()
        self._generation = 0  # bumped by clear(): reads started before are dropped
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segstudio-images")

    def take(self, entry) -> np.ndarray | None:
        """The image read ahead for `entry`, if its file is unchanged since; else None."""
        with self._lock:
            item = self._cache.pop(entry.id, None)
        if item is None or item[0] != _stamp(entry):
            return None
        return item[1]

    def prefetch(self, project, entries) -> None:
        """Read these entries' images in the background (those not read or being read)."""
        for entry in entries:
            stamp = _stamp(entry)
            if stamp is None:
                continue
            with self._lock:
                if entry.id in self._cache or entry.id in self._pending:
                    continue
                self._pending.add(entry.id)
                generation = self._generation
            self._executor.submit(self._read, project, entry, stamp, generation)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._pending.clear()
            self._generation += 1

    def shutdown(self) -> None:
        self.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _read(self, project, entry, stamp: tuple, generation: int) -> None:
        try:
            image = project.load_image(entry)
        except Exception:  # noqa: BLE001 - reported by the read when the user opens it
            image = None
        with self._lock:
            self._pending.discard(entry.id)
            if image is None or generation != self._generation:
                return
            self._cache[entry.id] = (stamp, image)
            while self._cache and (len(self._cache) > self.max_images or sum(
                    cached.nbytes for _, cached in self._cache.values()) > self.max_bytes):
                self._cache.popitem(last=False)


def _stamp(entry) -> tuple | None:
    try:
        info = os.stat(entry.path)
    except (OSError, TypeError):
        return None
    return str(entry.path), info.st_size, info.st_mtime_ns

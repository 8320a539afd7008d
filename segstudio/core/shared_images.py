"""One array per image file for the whole process, for as long as anything holds it.

The window, the trainer and the read-ahead each load the images they need, on
their own threads. Through `load_shared` they get the same read-only array: a
huge image is held once rather than once per reader, and a second reader gets
it without decoding the file again. A file changed on disk (its times or size)
is read afresh.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np


class SharedImages:
    def __init__(self):
        self._arrays: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def load(self, path: str | os.PathLike,
             reader: Callable[[Path], np.ndarray]) -> np.ndarray:
        """`reader(path)`, made read-only, or the array already read from that version
        of the file if anything still holds it."""
        path = Path(path)
        try:
            stat = path.stat()
        except OSError:
            return reader(path)  # the reader's own error names the file
        # The change time too: a file rewritten with its size and modification time kept.
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        with self._lock:
            found = self._arrays.get(key)
        if found is not None:
            return found
        array = reader(path)
        array.setflags(write=False)
        with self._lock:  # another thread may have read it meanwhile: keep one
            return self._arrays.setdefault(key, array)


_SHARED = SharedImages()


def load_shared(path: str | os.PathLike, reader: Callable[[Path], np.ndarray]) -> np.ndarray:
    return _SHARED.load(path, reader)

"""Undo commands. Each holds only a MaskDiff (the changed box, before and after).

A large diff (accepting a prediction, a big fill: 128 MB on an 8000 x 8000 mask)
is compressed on a background thread once pushed, and decompressed for the rare
undo or redo, so that an undo history of such edits does not fill the memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PySide6.QtGui import QUndoCommand

from segstudio.core.edits import MaskDiff

COMPRESS_BYTES = 4 * 1024 * 1024  # diffs with old + new above this are kept compressed
_compressor: ThreadPoolExecutor | None = None


class MaskEditCommand(QUndoCommand):
    """An edit already applied to `mask` when pushed: the first redo() does nothing.

    `changed(diff)` is called after every undo and redo so the view can
    re-render the diff's box.
    """

    def __init__(
        self, mask: np.ndarray, diff: MaskDiff, text: str, changed: Callable[[MaskDiff], None]
    ):
        super().__init__(text)
        self.mask = mask
        self.diff: MaskDiff | None = diff  # None once compressed
        self._packed: tuple[int, int, tuple[int, int], bytes, bytes] | None = None
        self._changed = changed
        self._applied = True
        if diff.old.nbytes + diff.new.nbytes > COMPRESS_BYTES:
            _background().submit(self._compress, diff)

    @property
    def nbytes(self) -> int:
        """Memory the command holds for its edit."""
        diff, packed = self.diff, self._packed
        if diff is not None:
            return diff.old.nbytes + diff.new.nbytes
        return len(packed[3]) + len(packed[4])

    def redo(self) -> None:
        if self._applied:
            self._applied = False  # QUndoStack.push calls redo(); the edit is already in
            return
        diff = self._unpacked()
        diff.redo(self.mask)
        self._changed(diff)

    def undo(self) -> None:
        diff = self._unpacked()
        diff.undo(self.mask)
        self._changed(diff)

    def _unpacked(self) -> MaskDiff:
        diff = self.diff  # read once: the compressing thread may drop it meanwhile
        if diff is not None:
            return diff
        y0, x0, shape, old, new = self._packed
        return MaskDiff(y0, x0, _inflate(old, shape), _inflate(new, shape))

    def _compress(self, diff: MaskDiff) -> None:
        # zlib lets other threads run while it works. The packed form is in place before
        # the arrays are let go, so undo and redo always find one or the other.
        level = 1  # fast; label masks are long runs of few values
        self._packed = (diff.y0, diff.x0, diff.old.shape,
                        zlib.compress(np.ascontiguousarray(diff.old).data, level),
                        zlib.compress(np.ascontiguousarray(diff.new).data, level))
        self.diff = None


def _inflate(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    return np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(shape)


def _background() -> ThreadPoolExecutor:
    global _compressor
    if _compressor is None:
        _compressor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segstudio-undo")
    return _compressor

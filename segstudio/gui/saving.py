"""Saving label files off the GUI thread.

A save writes a copy of the mask (taken on the GUI thread, so painting can go
on) as a PNG and updates project.json; for an 8000 x 8000 image that takes
seconds, which the autosave must not spend on the GUI thread. Jobs run one at a
time, in order. Their outcome is collected on the GUI thread: by `take_done()`
when `finished` arrives, or at once after `wait()` (quitting, class changes).
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from segstudio.core.errors import UserError
from segstudio.core.masks import labelled_fraction


class SaveJob(QRunnable):
    def __init__(self, saver: BackgroundSaver, project, document, mask: np.ndarray, position):
        super().__init__()
        self.setAutoDelete(False)  # the saver keeps it until the GUI thread has read it
        self.saver, self.project, self.document = saver, project, document
        self.mask, self.position = mask, position
        self.error: str | None = None
        self.fraction: float | None = None

    def run(self) -> None:
        try:
            self.project.save_labels(self.document.entry, self.mask)
            self.fraction = labelled_fraction(self.mask)
        except (UserError, OSError, ValueError) as exc:
            self.error = f"{self.document.entry.name}: {exc}"
        self.mask = None  # free the copy now
        self.saver._job_done(self)


class BackgroundSaver(QObject):
    finished = Signal()  # some job ended; take_done() on the GUI thread

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._lock = threading.Lock()
        self._done: list[SaveJob] = []
        self._jobs: list[SaveJob] = []

    def submit(self, project, document) -> None:
        mask, position = document.snapshot()
        document.saving = True
        job = SaveJob(self, project, document, mask, position)
        self._jobs.append(job)
        self.pool.start(job)

    def wait(self) -> list[SaveJob]:
        """Block until every job has ended; return the ended jobs not yet taken."""
        self.pool.waitForDone()
        return self.take_done()

    def take_done(self) -> list[SaveJob]:
        with self._lock:
            done, self._done = self._done, []
        for job in done:
            job.document.saving = False
            self._jobs.remove(job)
        return done

    def _job_done(self, job: SaveJob) -> None:  # on the worker thread
        with self._lock:
            self._done.append(job)
        try:
            self.finished.emit()
        except RuntimeError:  # the window is already gone
            pass

"""One window per project: a lock file in the project folder while a window shows it.

Two windows on one project each hold their own copy of project.json, and each save
writes its copy: a class added in one window is lost when the other saves, leaving label
files with values no class has. The lock (Qt's QLockFile: the process id and host in a
file) keeps a second window from opening the project, unless the user insists; the lock
of a process that has ended (a crash) is taken over without asking.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLockFile
from PySide6.QtWidgets import QMessageBox

from segstudio.core.project_lock import LOCK_FILE


class ProjectLock:
    def __init__(self):
        self._lock: QLockFile | None = None
        self._root: Path | None = None

    def take(self, parent, root: Path) -> bool:
        """Hold the lock of the project in `root` instead of the one held; False when
        another window has it open and the user chose not to open it here too."""
        root = Path(root).resolve()
        if root == self._root:
            return True
        lock = QLockFile(str(root / LOCK_FILE))
        lock.setStaleLockTime(0)  # stale only when its process has ended, not by age
        if not lock.tryLock(0) and lock.error() == QLockFile.LockError.LockFailedError:
            if not _open_anyway(parent, root, lock):
                return False
            lock.removeStaleLockFile()
            lock.tryLock(0)
        # Otherwise a folder that cannot be written: nothing to overwrite, no lock needed.
        self.release()
        self._lock, self._root = lock, root
        return True

    def release(self) -> None:
        if self._lock is not None and self._lock.isLocked():
            self._lock.unlock()
        self._lock = self._root = None


def _open_anyway(parent, root: Path, lock: QLockFile) -> bool:
    pid, host = lock.getLockInfo()[-3:-1]  # (pid, host name, application name)
    reply = QMessageBox.question(
        parent, "Project already open",
        f"{root.name} is open in another segstudio window (process {pid} on {host}).\n\n"
        "Two windows on one project overwrite each other's classes and labels: use that "
        "window, or close it first.\n\nOpen it here anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return reply == QMessageBox.StandardButton.Yes

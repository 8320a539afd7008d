"""Who holds a project's lock: a window that has the project open.

The window takes the lock with Qt's QLockFile (gui/project_lock.py). Commands that write
a project (importing labels, splitting) read the same file here, without Qt: the window
keeps its own copy of the labels and classes and would write it over theirs.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from segstudio.core.errors import UserError

LOCK_FILE = ".segstudio.lock"


def lock_holder(root: str | os.PathLike) -> str | None:
    """'process N on HOST' for the window holding the project's lock, or None when no
    running process does (no lock file, or one a crashed window left)."""
    try:
        fields = (Path(root) / LOCK_FILE).read_text(errors="replace").splitlines()
        pid, name, host = int(fields[0]), fields[1], fields[2]
    except (OSError, ValueError, IndexError):
        return None
    if host == socket.gethostname() and not _running(pid, name):
        return None
    return f"process {pid} on {host}"


def refuse_if_open(root: str | os.PathLike) -> None:
    holder = lock_holder(root)
    if holder is not None:
        raise UserError(
            f"{root}: the project is open in a segstudio window ({holder}), whose next save "
            "would write over what this command changes; close the window first (or, if no "
            f"window has it open, delete {Path(root) / LOCK_FILE})"
        )


def _running(pid: int, name: str) -> bool:
    """Whether process `pid` runs, as the program `name` where that can be seen (as Qt
    judges it: a process number taken again by another program is not the lock's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        program = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return True  # no /proc (macOS) or not ours to read: alive is all we know
    return not name or program == name

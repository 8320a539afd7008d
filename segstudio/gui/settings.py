"""Per-user settings (QSettings): recent projects, window layout, display preferences.

SEGSTUDIO_SETTINGS_DIR, when set, keeps everything in an INI file in that
folder instead of the user's real settings (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "segstudio"
APPLICATION = "segstudio"
MAX_RECENT = 10
_RECENT_KEY = "recent_projects"


def app_settings() -> QSettings:
    folder = os.environ.get("SEGSTUDIO_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "segstudio.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def recent_projects() -> list[str]:
    value = app_settings().value(_RECENT_KEY, [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-item list
        value = [value]
    return [str(v) for v in value or []]


def add_recent_project(folder: str | os.PathLike) -> list[str]:
    path = str(Path(folder).resolve())
    recent = [path] + [p for p in recent_projects() if p != path]
    recent = recent[:MAX_RECENT]
    app_settings().setValue(_RECENT_KEY, recent)
    return recent


def remove_recent_project(folder: str) -> None:
    app_settings().setValue(_RECENT_KEY, [p for p in recent_projects() if p != folder])


def clear_recent_projects() -> None:
    app_settings().setValue(_RECENT_KEY, [])

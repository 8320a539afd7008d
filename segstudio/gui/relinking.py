"""Finding images that moved: one image by hand, the others of its folder with it, or every
missing image of the project under a folder the user names."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from segstudio.core.errors import UserError
from segstudio.gui.dialogs import IMAGE_FILTER

RELINK_MENU_TEXT = "File ▸ Relink Missing Images…"


def relink_image(window, entry, path=None) -> bool:
    """Point a moved or missing image at its file (asked for when `path` is None); the
    other missing images are looked for beside it (a folder moved as a whole)."""
    project = window.project
    if path is None:
        path, _ = QFileDialog.getOpenFileName(
            window, f"Where is {entry.name} now?", str(entry.path.parent), IMAGE_FILTER)
        if not path:
            return False
    try:
        project.relink(entry, path)
    except (UserError, OSError) as exc:
        window.show_error("Cannot relink the image", str(exc))
        return False
    window.images_panel.refresh(project, entry)
    shown = window.show_entry(entry)
    if project.missing_images():
        relink_missing(window, Path(path).parent, quiet_when_none=True)
    return shown


def ask_relink_missing(window) -> None:
    project = window.project
    if project is None:
        return
    missing = project.missing_images()
    if not missing:
        window.say("No image of this project is missing")
        return
    folder = QFileDialog.getExistingDirectory(
        window, f"Where are the {len(missing)} missing images now?", str(project.root))
    if folder:
        relink_missing(window, folder)


def relink_missing(window, folder, quiet_when_none: bool = False) -> int:
    """Relink the missing images found under `folder` by their names; how many were."""
    project = window.project
    before = len(project.missing_images())
    project.notes.clear()
    try:
        found = project.relink_folder(folder)
    except (UserError, OSError) as exc:
        window.show_error("Cannot relink the images", str(exc))
        return 0
    for entry in found:
        window.images_panel.refresh(project, entry)
    if window.current_entry is None and found:
        window.show_entry(found[0])
    left = before - len(found)
    if found or not quiet_when_none:
        window.say(f"Found {len(found)} of the {before} missing images in {folder}"
                   + (f"; {left} still missing" if left else ""))
    if project.notes:
        window.show_error("Some images were not relinked", "\n".join(project.notes[:10]))
    return len(found)

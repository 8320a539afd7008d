"""Finding images that moved: one image by hand, the others of its folder with it, or every
missing image of the project under a folder the user names."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

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
    if not window.labels_saved_first(entry):  # unsaved labels fix its size as saved ones do
        return False
    try:
        project.relink(entry, path)
    except (UserError, OSError) as exc:
        window.show_error("Cannot relink the image", str(exc))
        return False
    window.images_panel.refresh(project, entry)
    shown = window.show_entry_anew(entry)
    if project.missing_images():
        relink_missing(window, _names_root(Path(path), entry.name), beside_one=True)
    return shown


def _names_root(path: Path, name: str) -> Path:
    """The folder the project's image names start from, for an image found at `path`:
    'moved/sub' for 'sub/b.png' found as 'moved/sub/b.png' (else the file's folder)."""
    depth = len(PurePosixPath(name).parts)
    if path.parts[-depth:] == PurePosixPath(name).parts:
        return path.parents[depth - 1]
    return path.parent


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


def relink_missing(window, folder, beside_one: bool = False) -> int:
    """Relink the missing images found under `folder` by their names; how many were.
    `beside_one`: unasked, after one image was relinked by hand: only where their names
    say (no search of the folder's tree), and a word only if some were found."""
    project = window.project
    before = len(project.missing_images())
    project.notes.clear()
    try:
        found = project.relink_folder(folder, exact_only=beside_one)
    except (UserError, OSError) as exc:
        window.show_error("Cannot relink the images", str(exc))
        return 0
    for entry in found:
        window.images_panel.refresh(project, entry)
    if window.current_entry is None and found:
        window.show_entry(found[0])
    left = before - len(found)
    if found or not beside_one:
        window.say(f"Found {len(found)} of the {before} missing images in {folder}"
                   + (f"; {left} still missing" if left else ""))
    if project.notes:
        window.show_error("Some images were not relinked", "\n".join(project.notes[:10]))
    return len(found)

"""Folders that segstudio writes results into (predicted masks, exported labels).

Results go only into a new or empty folder, or one that holds earlier results (marked by
a file of RESULTS_MARKER's name), so that no file of the user's is ever overwritten. A
marked folder below a folder of images is not read as images.
"""

from __future__ import annotations

from pathlib import Path

from segstudio.core.errors import UserError, naming

RESULTS_MARKER = ".segstudio-results"


def check_results_folder(out_dir: Path, what: str) -> None:
    """Raise a UserError unless `out_dir` may take results: `what` names them ("masks")."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise UserError(f"{out_dir}: is a file; give a folder for the {what}")
    if (out_dir / RESULTS_MARKER).exists():
        return  # earlier results: writing again replaces them
    held = sorted(path.name for path in out_dir.iterdir())
    if held:
        more = f" and {len(held) - 3} more" if len(held) > 3 else ""
        raise UserError(f"{out_dir}: already holds {', '.join(held[:3])}{more}; give a new or "
                        f"empty folder for the {what} (or one of earlier segstudio results)")


def mark_results_folder(out_dir: Path, what: str) -> None:
    """Create `out_dir` if needed and mark it as holding segstudio's results."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / RESULTS_MARKER).write_text(
            f"{what} written by segstudio: writing results here again replaces them, and "
            "images are not read from this folder.\n")
    except OSError as exc:
        raise naming(exc, out_dir) from None


def in_results_folder(path: Path, root: Path) -> bool:
    """Whether `path` lies in a folder below `root` that holds results."""
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            return False
        if (folder / RESULTS_MARKER).exists():
            return True
    return False

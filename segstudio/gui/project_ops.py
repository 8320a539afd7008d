"""The window's project side: open and create projects, save labels, manage classes.

Saving happens by itself: on image switch, a few seconds after the last edit
(the window's autosave timer), at the latest 15 s after the first unsaved one (steady
painting) and on quit. A failed save shows a message once,
keeps the labels in memory and is retried by the next save.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from segstudio.core.classes import default_classes
from segstudio.core.errors import UserError
from segstudio.core.images import list_images
from segstudio.core.masks import labelled_fraction
from segstudio.core.project import Project
from segstudio.gui import relinking
from segstudio.gui.dialogs import IMAGE_FILTER, NewProjectDialog
from segstudio.gui.settings import (
    add_recent_project,
    clear_recent_projects,
    recent_projects,
    remove_recent_project,
)

PROJECT_FILE = "project.json"
FIRST_IMAGE_TRIES = 50  # images tried when a project opens, until one shows
LAST_IMAGE_KEY = "last_image"  # in project.json settings: the image on screen at closing


class ProjectMixin:
    """Methods of MainWindow that deal with the project and its files."""

    last_save_error: str | None = None

    # ------------------------------------------------------------------ opening

    def open_path(self, path: str | os.PathLike) -> bool:
        """Open a project folder; for a folder of images, offer to create a project."""
        folder = Path(path)
        if (folder / PROJECT_FILE).is_file():
            return self.open_project(folder)
        if folder.is_dir():
            return self.new_project_dialog(folder)
        self.show_error("Cannot open", f"{folder}: not a project or a folder of images")
        return False

    def open_project(self, folder: str | os.PathLike) -> bool:
        try:
            project = Project.open(folder)
        except (UserError, OSError) as exc:
            message = str(exc)
            if not Path(folder).is_dir():
                message = f"{folder}: the folder is not there any more (moved or deleted?)"
            elif not (Path(folder) / PROJECT_FILE).is_file():
                message = (f"{folder}: not a segstudio project (no {PROJECT_FILE}); start one "
                           "with File ▸ New Project from Image Folder…")
            self.show_error("Cannot open the project", message)
            # A project that is gone leaves Open Recent; one the user can mend
            # (project.json edited by hand, a full disk) stays, to open once mended.
            gone = not (Path(folder) / PROJECT_FILE).is_file()
            if gone and str(folder) in recent_projects():
                remove_recent_project(str(folder))
                self.update_recent_menu()
            return False
        return self.set_project(project)

    def create_project_from_folder(self, image_folder, project_folder, classes: list) -> bool:
        """Create a project over a folder of images (left where they are) and open it;
        `classes`: names, or LabelClass items (read from a classes file)."""
        if all(isinstance(c, str) for c in classes):
            classes = default_classes(list(classes))
        try:
            project = Project.create(project_folder, image_folder, classes)
        except (UserError, OSError) as exc:
            self.show_error("Cannot create the project", str(exc))
            return False
        if not self.set_project(project):
            return False
        self._show_skipped(project.notes, f"The project has {_images(len(project.images))}.")
        return True

    def _show_skipped(self, notes: list[str], summary: str) -> None:
        """Tell which files were not added, and why (the project's notes)."""
        if not notes:
            return
        shown = "\n".join(f"• {note.removeprefix('skipped: ')}" for note in notes[:20])
        more = f"\n… and {len(notes) - 20} more" if len(notes) > 20 else ""
        self.show_error("Some files were skipped", f"{summary} Not added:\n{shown}{more}")

    def open_demo(self) -> bool:
        from segstudio.core.demo import open_or_create_demo

        try:
            project = open_or_create_demo()
        except (UserError, OSError) as exc:
            self.show_error("Cannot open the demo project", str(exc))
            return False
        return self.set_project(project)

    def set_project(self, project) -> bool:
        """Close the current project (saving its labels) and show `project`; False when
        the current one stays (its labels not saved, or `project` open in another window)."""
        if self.project is not None and not self.save_labels() and not self._confirm_losing_labels():
            return False
        if project is None:
            self.project_lock.release()
        elif not self.project_lock.take(self, project.root):
            return False
        if self.canvas.tool is not None:
            self.canvas.tool.cancel()
        self.remember_current_image()
        self._forget_documents()
        self.prefetcher.clear()
        self.project, self.current_entry, self._image = project, None, None
        self._show_no_image()
        self.canvas.set_classes(project.classes if project is not None else [])
        self.classes_panel.set_classes(project.classes if project is not None else [], 0)
        self.paint.class_index = 0 if project is not None and project.classes else -1
        self.images_panel.set_project(project)
        if project is not None:
            add_recent_project(project.root)
            self.update_recent_menu()
            self._show_first_image(project)
            missing = [e.name for e in project.images if not e.exists]
            if missing:
                self.show_error("Missing images", f"{len(missing)} image(s) of {project.root} "
                                f"are not found: {', '.join(missing[:5])}.\n\nMoved? Find "
                                f"them with {relinking.RELINK_MENU_TEXT}")
        self._update_title()
        self._update_paint_label()
        self.projectChanged.emit(project)
        return True

    def _show_no_image(self) -> None:
        """The start page instead of an image: it says what the project (if any) needs."""
        self.canvas.set_image(None)
        self.canvas.set_labels(None)
        self.display_panel.show_image(None)
        self.central.setCurrentWidget(self.welcome)
        self.welcome.show_project(self.project)

    def remember_current_image(self) -> None:
        """Keep the image on screen in the project, to show it first when it opens again."""
        project, entry = self.project, self.current_entry
        if project is None or entry is None or project.settings.get(LAST_IMAGE_KEY) == entry.id:
            return
        with contextlib.suppress(UserError, OSError):  # a read-only project: not kept
            project.set_setting(LAST_IMAGE_KEY, entry.id)

    def _show_first_image(self, project) -> None:
        """Show the image last on screen, else the first that opens; one message lists
        those that did not open."""
        failures: list[str] = []
        last = project.settings.get(LAST_IMAGE_KEY)  # where the user left off
        entries = sorted((e for e in project.images if e.exists), key=lambda e: e.id != last)
        entries = entries[:FIRST_IMAGE_TRIES]
        opened = any(self.show_entry(entry, failures) for entry in entries)
        if failures:
            more = f"\n…and {len(failures) - 5} more" if len(failures) > 5 else ""
            self.show_error(f"{len(failures)} image(s) could not be opened",
                            "\n".join(failures[:5]) + more)
        if entries and not opened:
            self.welcome.show_unreadable()
        elif project.images and not entries:
            self.welcome.show_missing(len(project.images))

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a project folder")
        if folder:
            self.open_path(folder)

    def new_project_dialog(self, image_folder=None) -> bool:
        if image_folder is None:
            image_folder = QFileDialog.getExistingDirectory(self, "Folder of images to label")
            if not image_folder:
                return False
        try:
            images, _ = list_images(image_folder)
        except UserError as exc:
            self.show_error("Cannot create the project", str(exc))
            return False
        if not images:
            self.show_error("No images", f"{image_folder}: no images (PNG, JPEG, TIFF, BMP) found")
            return False
        dialog = NewProjectDialog(Path(image_folder), len(images), self)
        if not dialog.exec():
            return False
        return self.create_project_from_folder(
            image_folder, dialog.project_folder(), dialog.project_classes()
        )

    def add_images_dialog(self) -> None:
        if self.project is None:
            self.show_error("No project", "Open or create a project first.")
            return
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Add images", str(self.project.root), IMAGE_FILTER)
        if paths:
            self.add_images(paths)

    def add_images(self, paths) -> bool:
        self.project.notes.clear()  # of an earlier addition
        try:  # the readable ones, the others listed (as a new project does)
            added = self.project.add_images(paths, skip_unreadable=True)
        except (UserError, OSError) as exc:
            self.show_error("Images not added", str(exc))
            return False
        self.say(f"Added {_images(len(added))}")
        self._show_skipped(self.project.notes, f"Added {_images(len(added))}.")
        self.images_panel.set_project(self.project)
        self.images_panel.select(self.current_entry)
        if self.current_entry is None and added:
            self.show_entry(added[0])
        self.projectChanged.emit(self.project)
        return True

    def set_split(self, entry, split: str) -> bool:
        """Use an image for training or for validation ("train" or "val")."""
        try:
            self.project.set_split(entry, split)
        except (UserError, OSError) as exc:
            self.show_error("Image not moved", str(exc))
            return False
        self.images_panel.show_split(entry)
        self.say(f"{entry.name} is now used for "
                 + ("validation" if split == "val" else "training"))
        return True

    def relink_image(self, entry, path=None) -> bool:
        """Point a moved or missing image at its file (asked for when `path` is None)."""
        return relinking.relink_image(self, entry, path)

    def remove_image(self, entry) -> bool:
        """Take an image out of the project (one added by mistake: another channel count,
        say). Its label file stays in labels/, and comes back if it is added again."""
        if not self.labels_saved_first(entry):
            return False
        shown = self.current_entry is not None and self.current_entry.id == entry.id
        following = self.project.neighbours(entry) if shown else []
        try:
            self.project.remove_image(entry)
        except (UserError, OSError) as exc:
            self.show_error("Image not removed", str(exc))
            return False
        if entry.id in self.documents:
            self.forget_document(entry.id)
        self.images_panel.set_project(self.project)
        if shown:
            self.current_entry, self._image = None, None
            if not (following and self.show_entry(following[0])):
                self._show_no_image()
        self.images_panel.select(self.current_entry)
        self._update_title()
        self.say(f"{entry.name} is no longer in the project; its labels stay in labels/ "
                 "and come back if it is added again")
        self.projectChanged.emit(self.project)
        return True

    def update_recent_menu(self) -> None:
        menu = self.actions_.recent_menu
        menu.clear()
        for folder in recent_projects():
            menu.addAction(folder, lambda f=folder: self.open_project(f))
        if not menu.isEmpty():
            menu.addSeparator()
            menu.addAction("&Clear Menu", self._clear_recent)
        menu.setEnabled(not menu.isEmpty())
        self.welcome.show_recent(recent_projects())

    def _clear_recent(self) -> None:
        clear_recent_projects()
        self.update_recent_menu()

    # ------------------------------------------------------------------ saving

    def save_labels(self, report: bool = True) -> bool:
        """Save every image with unsaved labels now; True when nothing is left unsaved."""
        self.stop_autosave()
        failures = self._collect_saves(self.saver.wait())
        for document in list(self.documents.values()):
            if not document.dirty:
                continue
            try:
                self.project.save_labels(document.entry, document.mask)
            except (UserError, OSError, ValueError) as exc:
                failures.append(f"{document.entry.name}: {exc}")
                continue
            document.mark_saved()
            self._saved(document.entry, labelled_fraction(document.mask))
        return self._report_saving(failures, report)

    def save_labels_now(self) -> bool:
        """Save Labels (Ctrl+S): as save_labels, and a failure says so each time it is asked."""
        self.last_save_error = None
        return self.save_labels()

    def save_labels_in_background(self) -> None:
        """Autosave: write every image with unsaved labels on the saver's thread."""
        self.stop_autosave()
        self._saves_finished()
        for document in self.documents.values():
            if document.dirty and not document.saving:
                self.saver.submit(self.project, document)

    def _saves_finished(self) -> None:
        jobs = self.saver.take_done()
        if not jobs:
            return
        failures = self._collect_saves(jobs)
        self._report_saving(failures, report=True)
        self._let_old_documents_go()  # those just saved may go now
        # Edited while it saved (the autosave passed it by then): saved in turn.
        if not failures and any(d.dirty and not d.saving for d in self.documents.values()):
            self._labels_edited(None)

    def _collect_saves(self, jobs) -> list[str]:
        failures = []
        for job in jobs:
            if job.error is not None:
                failures.append(job.error)
            else:
                job.document.mark_saved(job.position)
                self._saved(job.document.entry, job.fraction)
        return failures

    def _saved(self, entry, fraction: float) -> None:
        if entry.id in self.documents:
            # A background save wrote an older copy: the list follows the live mask instead.
            self.refresh_fraction(entry)
        else:
            self.images_panel.set_fraction(entry, fraction)
        self.labelsSaved.emit(entry)

    def _report_saving(self, failures: list[str], report: bool) -> bool:
        self._update_title()
        if not failures:
            if not any(document.dirty for document in self.documents.values()):
                self.last_save_error = None
            return True
        message = "\n".join(failures)
        if report and message != self.last_save_error:  # one message per new problem
            self.show_error(
                "Labels not saved",
                f"{message}\n\nThe labels stay in memory; saving is retried after the next edit.",
            )
        self.last_save_error = message
        return False

    # ------------------------------------------------------------------ classes

    def add_class(self, name: str, color=None) -> bool:
        return self.change_project(lambda: self.project.add_class(name, color))

    def rename_class(self, index: int, name: str) -> bool:
        return self.change_project(lambda: self.project.rename_class(index, name))

    def recolor_class(self, index: int, color) -> bool:
        return self.change_project(lambda: self.project.recolor_class(index, color))

    def move_class(self, index: int, new_index: int) -> bool:
        name = self.project.classes[index].name if self.project is not None else ""
        moved = self.change_project(lambda: self.project.move_class(index, new_index), True)
        if moved:
            self.say(f"Moved \"{name}\" to position {new_index + 1}: the label files were "
                     "renumbered, so undo starts again from here")
        return moved

    def delete_class(self, index: int, merge_into: int | None = None) -> bool:
        return self.change_project(lambda: self.project.delete_class(index, merge_into), True)

    def class_usage(self, index: int) -> tuple[int, int, int]:
        """(pixels labelled `index`, images using it, images): the labels in memory where
        the window has them, the cached statistics of the label files for the others."""
        pixels = used = 0
        for entry in self.project.images:
            document = self.documents.get(entry.id)
            try:
                count = (int(np.count_nonzero(document.mask == index)) if document is not None
                         else self.project.label_stats(entry).counts[index])
            except (UserError, OSError, ValueError, IndexError):
                continue
            pixels, used = pixels + count, used + (count > 0)
        return pixels, used, len(self.project.images)

    def change_project(self, change, rewrites_labels: bool = False,
                       failure_title: str = "Classes not changed") -> bool:
        """Apply a change to the classes (or the label files: an import). One that rewrites
        label files has the labels saved first and reloaded after (their undo histories end
        there), unless `change` returns False: it wrote none after all."""
        if self.project is None:
            return False
        if rewrites_labels and not self.save_labels():
            self.show_error(failure_title, "Save the labels first (see the last message).")
            return False
        self._report_saving(self._collect_saves(self.saver.wait()), report=True)
        try:
            wrote = change()
        except (UserError, OSError, ValueError) as exc:
            self.show_error(failure_title, str(exc))
            return False
        if rewrites_labels and wrote is not False:
            self._reload_labels()
            self._show_saved_fractions()
        self.statusBar().clearMessage()  # an earlier failure's message is out of date
        self.canvas.set_classes(self.project.classes)
        selected = max(min(self.paint.class_index, len(self.project.classes) - 1), 0)
        self.paint.class_index = selected if self.project.classes else -1
        self.classes_panel.set_classes(self.project.classes, selected)
        self._update_paint_label()
        self.projectChanged.emit(self.project)
        return True

    def _show_saved_fractions(self) -> None:
        """The list's "% labelled" after label files were rewritten (cached, cheap)."""
        for entry in self.project.images:
            try:
                self.images_panel.set_fraction(entry, self.project.label_stats(entry).fraction)
            except (UserError, OSError, ValueError):
                continue

    def _reload_labels(self) -> None:
        entry = self.current_entry
        self._forget_documents()
        self.current_entry = None
        if entry is not None:
            self.show_entry(entry)


def _images(count: int) -> str:
    return f"{count} image{'s' if count != 1 else ''}"

"""The annotation window: canvas in the middle, panels in docks, menus and toolbar.

Opening projects, saving and class management live in ProjectMixin
(project_ops.py); this module assembles the window, switches images, routes
edits to the undo history, and offers the API the training GUI builds on.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QUndoGroup
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
)

from segstudio.core.edits import MaskDiff
from segstudio.core.errors import MaskError, UserError
from segstudio.core.masks import labelled_fraction
from segstudio.gui.actions import MENU_ORDER, build_actions, update_project_actions
from segstudio.gui.canvas import Canvas
from segstudio.gui.dialogs import show_about, show_shortcuts
from segstudio.gui.document import LabelDocument
from segstudio.gui.documents_kept import KeptDocumentsMixin
from segstudio.gui.image_prefetch import ImagePrefetcher
from segstudio.gui.panels.classes import ClassesPanel
from segstudio.gui.panels.display import DisplayPanel
from segstudio.gui.panels.images import ImagesPanel
from segstudio.gui.project_lock import ProjectLock
from segstudio.gui.project_ops import ProjectMixin
from segstudio.gui.rendering import to_display
from segstudio.gui.saving import BackgroundSaver
from segstudio.gui.settings import app_settings
from segstudio.gui.spin_typing import SpinTyping
from segstudio.gui.status import StatusInfo
from segstudio.gui.tool_options import attach_tool_options
from segstudio.gui.tools import TOOL_CLASSES, PaintSettings
from segstudio.gui.training_controller import attach_training
from segstudio.gui.welcome import WelcomePage

AUTOSAVE_DELAY_MS = 3000  # after the last edit
AUTOSAVE_MAX_WAIT_MS = 15_000  # after the first unsaved one: steady painting saves too
FRACTION_DELAY_MS = 100  # the "% labelled" of the Images list follows edits this closely


# Bump when the docks change place, so a layout saved by an older version is not restored.
LAYOUT_VERSION = 3


class MainWindow(ProjectMixin, KeptDocumentsMixin, QMainWindow):
    projectChanged = Signal(object)
    currentImageChanged = Signal(object)
    labelsChanged = Signal(object)
    labelsSaved = Signal(object)

    def __init__(self):
        super().__init__()
        self.setObjectName("segstudio_main_window")
        self.setWindowTitle("segstudio[*]")
        self._fit_to_screen(1280, 820)
        self.project = None
        self.project_lock = ProjectLock()  # no second window on the same project
        self.current_entry = None
        self.documents: dict[str, LabelDocument] = {}
        self._image: np.ndarray | None = None
        self.errors: list[tuple[str, str]] = []  # every message shown, newest last
        self.last_message_box: QMessageBox | None = None
        self._menus: dict[str, QMenu] = {}
        self.paint = PaintSettings()
        self.undo_group = QUndoGroup(self)
        # The stack moves its index after calling a command's undo/redo: title then.
        self.undo_group.indexChanged.connect(lambda _index: self._update_title())
        self.saver = BackgroundSaver(self)
        self.prefetcher = ImagePrefetcher()
        self.saver.finished.connect(self._saves_finished)

        self.canvas = Canvas()
        self.tools = {cls.name: cls(self, self.paint, self.canvas.scene()) for cls in TOOL_CLASSES}
        self.welcome = WelcomePage(self)
        self.central = QStackedWidget()
        self.central.addWidget(self.welcome)
        self.central.addWidget(self.canvas)
        self.setCentralWidget(self.central)

        self.images_panel = ImagesPanel()
        self.images_panel.entryActivated.connect(self.show_entry)
        self.images_panel.relinkRequested.connect(self.relink_image)
        self.images_panel.splitRequested.connect(self.set_split)
        self.images_panel.removeRequested.connect(self.remove_image)
        self.classes_panel = ClassesPanel(self)
        self.classes_panel.classSelected.connect(self._class_selected)
        self.display_panel = DisplayPanel()
        self.display_panel.settingsChanged.connect(self._render_image)
        self.display_panel.labelsVisibleChanged.connect(self.set_labels_visible)
        self.display_panel.labelsOpacityChanged.connect(self.canvas.set_labels_opacity)
        self.actions_ = build_actions(self)
        self.projectChanged.connect(lambda project: update_project_actions(self.actions_, project))
        self.add_dock(self.images_panel, "Images", Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock(self.classes_panel, "Classes")
        self.add_dock(self.display_panel, "Display", Qt.DockWidgetArea.LeftDockWidgetArea)

        self.tool_options = attach_tool_options(self)
        self.status = StatusInfo(self.statusBar())
        self._cursor_pos: QPointF | None = None  # last seen over the image, in image pixels
        self.canvas.cursorMoved.connect(self._show_cursor_info)
        self.canvas.zoomChanged.connect(self.status.show_zoom)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self._autosave)
        self.autosave_deadline = QTimer(self)
        self.autosave_deadline.setSingleShot(True)
        self.autosave_deadline.setInterval(AUTOSAVE_MAX_WAIT_MS)
        self.autosave_deadline.timeout.connect(self._autosave)
        self.labelsChanged.connect(self._labels_edited)
        # The Images list shows each image's live labelled fraction, counted on its mask in
        # memory a moment after the last edit (not read back from the saved files).
        self._fractions_due: set[str] = set()
        self.fraction_timer = QTimer(self)
        self.fraction_timer.setSingleShot(True)
        self.fraction_timer.setInterval(FRACTION_DELAY_MS)
        self.fraction_timer.timeout.connect(self._show_fractions)

        self.set_tool("brush")
        self.update_recent_menu()
        self._update_title()
        self.training = attach_training(self)
        self._restore_layout()  # after every dock exists, the training ones included
        self.spin_typing = SpinTyping(self)
        self.spin_typing.watch(self)

    # ------------------------------------------------------------------ API for other parts

    def add_dock(self, widget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea):
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.actions_.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def menu(self, name: str) -> QMenu:
        """The menu titled `name` (without '&'), created before Help if it is new."""
        key = name.replace("&", "")
        if key not in self._menus:
            title = next((t for t in MENU_ORDER if t.replace("&", "") == key), f"&{key}")
            help_menu = self._menus.get("Help")
            menu = QMenu(title, self)
            if help_menu is not None:
                self.menuBar().insertMenu(help_menu.menuAction(), menu)
            else:
                self.menuBar().addMenu(menu)
            self._menus[key] = menu
        return self._menus[key]

    def current_document(self) -> LabelDocument | None:
        entry = self.current_entry
        return None if entry is None else self.documents.get(entry.id)

    def current_mask(self) -> np.ndarray | None:
        document = self.current_document()
        return None if document is None else document.mask

    def current_image(self) -> np.ndarray | None:
        return self._image

    def display_span(self) -> float:
        """Width of the displayed value range (black to white): the fill tolerance's unit."""
        settings = self.display_panel.settings
        if settings is None:
            return 255.0
        return max(abs(high - low) for low, high in settings.ranges)

    def apply_mask_edit(self, diff: MaskDiff | None, text: str) -> None:
        """Record an edit already applied to current_mask() as one undo step, and show it."""
        if diff is None:
            return
        self.preview_edit(diff)
        self.commit_edit(diff, text)

    def show_error(self, title: str, message: str) -> None:
        """A non-modal message: the window keeps working behind it."""
        self.errors.append((title, message))
        self.statusBar().showMessage(f"{title}: {message}", 10000)
        if self._still_showing(title):  # the same trouble again (saving, at each image)
            self.last_message_box.setText(message)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.last_message_box = box

    def _still_showing(self, title: str) -> bool:
        box = self.last_message_box
        try:
            return box is not None and box.isVisible() and box.windowTitle() == title
        except RuntimeError:  # closed, and so deleted
            return False

    # ------------------------------------------------------------------ tools (EditHost)

    def say(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    def preview_edit(self, diff: MaskDiff) -> None:
        self.canvas.refresh_labels(diff.bbox)

    def commit_edit(self, diff: MaskDiff | None, text: str) -> None:
        document = self.current_document()
        if diff is not None and document is not None:
            document.push(diff, text)

    def _labels_edited(self, _entry) -> None:
        self.autosave_timer.start()
        if not self.autosave_deadline.isActive():
            self.autosave_deadline.start()

    def stop_autosave(self) -> None:
        self.autosave_timer.stop()
        self.autosave_deadline.stop()

    def _autosave(self) -> None:
        # Mid-stroke the mask holds part of a stroke the history does not know yet:
        # saving it then would let an undo back to "saved" differ from the file.
        if self.canvas.stroke_in_progress:
            self.autosave_timer.start()
        else:
            self.save_labels_in_background()

    def _document_changed(self, document: LabelDocument, diff: MaskDiff) -> None:
        if document is self.current_document():
            self.canvas.refresh_labels(diff.bbox)
            self._show_cursor_info(self._cursor_pos)  # its class may have changed (undo)
        self._update_title()
        self.refresh_fraction(document.entry)
        self.labelsChanged.emit(document.entry)

    def refresh_fraction(self, entry) -> None:
        """Show `entry`'s labelled fraction in the Images list soon (debounced)."""
        self._fractions_due.add(entry.id)
        self.fraction_timer.start()

    def _show_fractions(self) -> None:
        due, self._fractions_due = self._fractions_due, set()
        for entry_id in due:
            document = self.documents.get(entry_id)
            if document is not None:
                self.images_panel.set_fraction(document.entry, labelled_fraction(document.mask))

    def set_tool(self, name: str) -> None:
        if self.canvas.tool is not None:
            self.canvas.tool.cancel()
        tool = self.tools[name]
        self.canvas.tool = tool
        self.actions_.tool_actions[name].setChecked(True)
        self.canvas.set_brush_radius(self.paint.radius if tool.shows_brush else None)
        self.tool_options.show_for(tool)
        self._update_paint_label()

    def grow_brush(self, steps: int) -> None:
        self.paint.grow_brush(steps)
        self.tool_options.brush.refresh()
        self.brush_size_changed()

    def brush_size_changed(self) -> None:
        if self.canvas.tool is not None and self.canvas.tool.shows_brush:
            self.canvas.set_brush_radius(self.paint.radius)
        self._update_paint_label()

    def select_class(self, index: int) -> None:
        if self.project is not None and 0 <= index < len(self.project.classes):
            self.classes_panel.select(index)

    def step_class(self, step: int) -> None:
        """The next (1) or previous (-1) class, round the list: classes past the tenth
        have no number key."""
        if self.project is not None and self.project.classes:
            self.select_class((self.paint.class_index + step) % len(self.project.classes))

    def _class_selected(self, index: int) -> None:
        self.paint.class_index = index
        self._update_paint_label()

    def set_only_unlabelled(self, on: bool) -> None:
        self.paint.only_unlabelled = bool(on)
        self.actions_.only_unlabelled.setChecked(bool(on))
        self._update_paint_label()

    def set_labels_visible(self, visible: bool) -> None:
        self.canvas.set_labels_visible(visible)
        for control in (self.actions_.show_labels, self.display_panel.labels_visible):
            control.blockSignals(True)
            control.setChecked(visible)
            control.blockSignals(False)

    # ------------------------------------------------------------------ images

    def show_entry(self, entry, failures: list[str] | None = None) -> bool:
        """Make `entry` the current image: save the previous one, load image and labels.
        If it cannot be opened, a message says why, or the reason joins `failures`."""
        if self.project is None or entry is None:
            return False
        if self.current_entry is not None and entry.id == self.current_entry.id:
            return True
        if self.canvas.tool is not None:
            self.canvas.tool.cancel()
        try:
            with waiting_cursor():  # a large PNG not read ahead takes seconds to decode
                image = self.project.load_image(entry)
                document = self.documents.get(entry.id) or self._load_document(entry, image)
        except (UserError, OSError) as exc:
            if failures is not None:
                failures.append(str(exc))
                return False
            hint = "" if entry.exists else "\n\nRight-click it in the Images list to relink it."
            title = "Cannot open the labels" if isinstance(exc, MaskError) else "Cannot open the image"
            self.show_error(title, f"{exc}{hint}")
            # Back to the image still shown, once the list has finished its own change.
            QTimer.singleShot(0, lambda: self.images_panel.select(self.current_entry))
            return False
        self.save_labels_in_background()
        new_size = self._image is None or self._image.shape[:2] != image.shape[:2]
        self.current_entry, self._image = entry, image
        self.documents.pop(entry.id, None)
        self.documents[entry.id] = document  # the newest seen last
        self._let_old_documents_go()
        self.undo_group.addStack(document.undo_stack)  # no-op when already in the group
        self.undo_group.setActiveStack(document.undo_stack)
        self._render_image(self.display_panel.show_image(image))
        self.canvas.set_labels(document.mask)
        self.canvas.set_prediction(None)
        self.canvas.set_uncertainty(None)
        self.central.setCurrentWidget(self.canvas)
        if new_size:  # images of one size keep the zoom and place, to compare them
            self.canvas.fit_to_window()
            QTimer.singleShot(0, self.canvas.fit_to_window)  # again once the layout is done
        # The pixel under a still mouse: of this image (or none until it moves, the view
        # having been fitted anew).
        self._show_cursor_info(None if new_size else self._cursor_pos)
        self.images_panel.select(entry)
        self._update_title()
        self.currentImageChanged.emit(entry)
        self._read_ahead(entry)
        return True

    def _read_ahead(self, entry) -> None:
        """Read the next and the previous image in the background, for Page Down / Up."""
        self.prefetcher.prefetch(self.project, self.project.neighbours(entry))

    def _load_document(self, entry, image: np.ndarray) -> LabelDocument:
        mask = np.require(self.project.load_labels(entry), np.uint8, ["C", "W"])  # painted in place
        if mask.shape != image.shape[:2]:
            raise UserError(
                f"{entry.name}: its label mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                f"is {image.shape[1]}x{image.shape[0]}; fix or remove the label file"
            )
        return LabelDocument(entry, mask, self._document_changed)

    def _render_image(self, settings) -> None:
        if self._image is not None and settings is not None:
            self.canvas.set_image(to_display(self._image, settings))

    # ------------------------------------------------------------------ status bar and title

    def _show_cursor_info(self, pos: QPointF | None) -> None:
        self._cursor_pos = pos
        classes = self.project.classes if self.project is not None else []
        self.status.show_cursor(pos, self._image, self.current_mask(), classes)

    def _update_paint_label(self) -> None:
        if self.project is None:  # nothing to paint on
            self.status.paint_label.clear()
            return
        self.status.show_paint(self.canvas.tool, self.project.classes, self.paint,
                               self.display_span())

    def _update_title(self) -> None:
        parts = ["segstudio"]
        if self.project is not None:
            parts.append(self.project.root.name)
        if self.current_entry is not None:
            parts.append(self.current_entry.name)
        self.setWindowTitle(" – ".join(parts) + "[*]")
        self.setWindowModified(any(doc.dirty for doc in self.documents.values()))

    # ------------------------------------------------------------------ layout and closing

    def _restore_layout(self) -> None:
        settings = app_settings()
        geometry, state = settings.value("window/geometry"), settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
            screen = self.screen()  # it may be smaller now: then the window is fitted to it
            if screen is not None and not screen.availableGeometry().contains(self.geometry()):
                self._fit_to_screen(self.width(), self.height())
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)  # an older layout is ignored
        # The docks as they were, the right-hand column's heights as its panels need them.
        QTimer.singleShot(0, self.training.dock_room.give)  # once shown and sized

    def _fit_to_screen(self, width: int, height: int) -> None:
        screen = self.screen()
        if screen is not None:
            available = screen.availableGeometry()
            width = min(width, int(available.width() * 0.95))
            height = min(height, int(available.height() * 0.92))
        self.resize(width, height)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.canvas.tool is not None:
            self.canvas.tool.cancel()
        if not self.save_labels(report=False) and not self._confirm_losing_labels():
            event.ignore()
            return
        self.stop_autosave()
        self.remember_current_image()
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.images_panel.shutdown()
        self.prefetcher.shutdown()
        if self.training is not None:
            self.training.shutdown()
            self.training = None
        self.project_lock.release()
        event.accept()

    def _confirm_losing_labels(self) -> bool:
        names = ", ".join(doc.entry.name for doc in self.documents.values() if doc.dirty)
        reply = QMessageBox.question(
            self, "Labels not saved",
            f"The labels of {names} could not be saved:\n{self.last_save_error}\n\n"
            "Quit anyway and lose these changes?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return reply == QMessageBox.StandardButton.Discard

    def show_about(self) -> None:
        show_about(self)

    def show_shortcuts(self) -> None:
        show_shortcuts(self)


@contextmanager
def waiting_cursor():
    """The busy cursor while the GUI thread works on something that takes a while."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()

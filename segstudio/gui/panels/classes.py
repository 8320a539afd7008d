"""The classes panel: choose the class to paint; add, rename, recolour, reorder, delete."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from segstudio.core.classes import LabelClass, default_color

# Said where a change of classes makes the current model one of other classes.
MODEL_NOTE = ("\n\nThe current model knows the classes as they are now: after this change, "
              "train a model for the new ones.")


def color_icon(color: tuple[int, int, int], size: int = 16) -> QIcon:
    """A swatch of the colour, shown as it is also in a selected row (not tinted)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)
    return icon


class ClassesPanel(QWidget):
    """Lists the project's classes. `window` does the work (it saves and reloads labels)."""

    classSelected = Signal(int)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.list = QListWidget()
        self.list.setIconSize(QSize(16, 16))
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.rename_selected())

        buttons = QGridLayout()
        self.add_button = self._button("Add", "Add a class", self.add_clicked, buttons, 0, 0)
        self.rename_button = self._button("Rename", "Rename the class (double-click)",
                                          self.rename_selected, buttons, 0, 1)
        self.color_button = self._button("Colour", "Change the class colour",
                                         self.recolor_selected, buttons, 0, 2)
        self.up_button = self._button("Up", "Move the class up", lambda: self.move_selected(-1),
                                      buttons, 1, 0)
        self.down_button = self._button("Down", "Move the class down",
                                        lambda: self.move_selected(1), buttons, 1, 1)
        self.delete_button = self._button("Delete", "Delete the class", self.delete_selected,
                                          buttons, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.set_classes([])

    def _button(self, text, tip, slot, grid, row, column) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.clicked.connect(slot)
        grid.addWidget(button, row, column)
        return button

    # ------------------------------------------------------------------ view

    def set_classes(self, classes: list[LabelClass], selected: int | None = None) -> None:
        current = self.list.currentRow() if selected is None else selected
        self.list.blockSignals(True)
        self.list.clear()
        for index, label_class in enumerate(classes):
            key = str((index + 1) % 10) if index < 10 else ""  # 0 for the tenth
            item = QListWidgetItem(color_icon(label_class.color),
                                   f"{key or ' '}  {label_class.name}")
            item.setToolTip(f"Class {index}: {label_class.name}"
                            + (f" (key {key})" if key else " (keys . and , step to it)"))
            self.list.addItem(item)
        self.list.blockSignals(False)
        has_project = self.window.project is not None
        self.add_button.setEnabled(has_project)
        for button in (self.rename_button, self.color_button, self.up_button, self.down_button,
                       self.delete_button):
            button.setEnabled(bool(classes))
        if classes:
            self.select(min(max(current, 0), len(classes) - 1))

    def select(self, index: int) -> None:
        if 0 <= index < self.list.count():
            self.list.setCurrentRow(index)

    def selected(self) -> int:
        return self.list.currentRow()

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.classSelected.emit(row)

    # ------------------------------------------------------------------ actions

    def add_clicked(self) -> None:
        note = MODEL_NOTE if self._has_model() else ""
        name, ok = QInputDialog.getText(self, "Add class", f"Name of the new class:{note}")
        if ok and name.strip():
            count = len(self.window.project.classes)
            if self.window.add_class(name.strip(), default_color(count)):
                self.select(count)

    def _has_model(self) -> bool:
        training = getattr(self.window, "training", None)
        return training is not None and training.live.model is not None

    def rename_selected(self) -> None:
        index = self.selected()
        if index < 0:
            return
        old = self.window.project.classes[index].name
        name, ok = QInputDialog.getText(self, "Rename class", "New name:", text=old)
        if ok and name.strip() and name.strip() != old:
            self.window.rename_class(index, name.strip())

    def recolor_selected(self) -> None:
        index = self.selected()
        if index < 0:
            return
        old = QColor(*self.window.project.classes[index].color)
        color = QColorDialog.getColor(old, self, "Class colour")
        if color.isValid():
            self.window.recolor_class(index, (color.red(), color.green(), color.blue()))

    def move_selected(self, step: int) -> None:
        index = self.selected()
        target = index + step
        if index >= 0 and 0 <= target < self.list.count():
            if self.window.move_class(index, target):
                self.select(target)

    def delete_selected(self) -> None:
        index = self.selected()
        if index < 0:
            return
        usage = self.window.class_usage(index)
        ok, merge_into = ask_delete_class(self, self.window.project.classes, index, usage,
                                          self._has_model())
        if ok:
            self.window.delete_class(index, merge_into)


def usage_text(name: str, usage: tuple[int, int, int] | None) -> str:
    """What deleting the class touches: (pixels, images using it, images) -> a sentence."""
    if usage is None:
        return ""
    pixels, used, total = usage
    if pixels == 0:
        return f"No pixels are labelled “{name}” (in any of the {total} images)."
    return (f"{pixels:,} labelled pixels in {used} of the {total} images are “{name}”.")


def ask_delete_class(
    parent, classes: list[LabelClass], index: int, usage: tuple[int, int, int] | None = None,
    model_note: bool = False,
) -> tuple[bool, int | None]:
    """Ask what becomes of the class's pixels: (confirmed, index to merge into or None).

    `usage` is (pixels labelled with the class, images using it, images) for the message;
    `model_note` adds that the current model will not fit the classes any more."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Delete class")
    layout = QVBoxLayout(dialog)
    name = classes[index].name
    summary = QLabel(usage_text(name, usage))
    summary.setObjectName("usage")
    summary.setVisible(usage is not None)
    layout.addWidget(summary)
    layout.addWidget(QLabel(f"Delete the class “{name}”. Its labelled pixels:"))
    unlabel = QRadioButton("become unlabelled")
    merge = QRadioButton("are merged into")
    others = QComboBox()
    for other_index, other in enumerate(classes):
        if other_index != index:
            others.addItem(color_icon(other.color), other.name, other_index)
    group = QButtonGroup(dialog)
    for button in (unlabel, merge):
        group.addButton(button)
        layout.addWidget(button)
    layout.addWidget(others)
    warning = QLabel("This cannot be undone: the label files are rewritten, and the undo "
                     f"history of every image ends here.{MODEL_NOTE if model_note else ''}")
    warning.setObjectName("warning")
    warning.setWordWrap(True)
    layout.addWidget(warning)
    unlabel.setChecked(True)
    merge.setEnabled(others.count() > 0)
    others.setEnabled(False)
    merge.toggled.connect(others.setEnabled)
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                           | QDialogButtonBox.StandardButton.Cancel)
    box.button(QDialogButtonBox.StandardButton.Ok).setText("Delete")
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    layout.addWidget(box)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False, None
    return True, (others.currentData() if merge.isChecked() else None)

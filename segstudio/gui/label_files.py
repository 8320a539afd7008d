"""File > Import Labels and File > Export Labels: label files to and from other tools
(mask images, labelme, COCO), as `segstudio project import|export` does them.

An import checks every file before it writes any; the window saves its labels first and
reloads them after (their undo histories end there), like a class change that rewrites
label files. An export runs as a job with a progress dialog (ModelJobs), from the label
files, once the labels in memory are saved.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QMessageBox,
    QRadioButton,
)

from segstudio.core.errors import UserError
from segstudio.gui.dialogs import PathRow, widget_row

IMPORT_KINDS = {  # what the dialog offers: (title, the path is a folder)
    "masks": ("Mask images (PNG or TIFF, named like the images)", True),
    "labelme": ("labelme JSON files", True),
    "coco": ("COCO JSON file", False),
}
EXPORT_FORMATS = {
    "png": "Palette PNG (class numbers, shown in the class colours)",
    "index": "Grey PNG of class numbers (255: unlabelled)",
    "overlay": "Overlay: the image with its labels in the class colours",
    "coco-rle": "COCO JSON, exact masks (RLE)",
    "coco-polygon": "COCO JSON, polygons (holes are lost)",
}
MAX_NOTES_SHOWN = 10
# The import's messages name the command line's options; the dialog's words instead.
REPLACE = "“Replace the labels of images that have some”"
ADD_CLASSES = "“Add classes the project does not have”"
MASK_VALUES = "“These values, one per class in order”"
IN_WINDOW_WORDS = {
    "(use --overwrite to replace them)": f"(tick {REPLACE} to replace them)",
    "Add them with --add-classes (add_classes=True)": f"Tick {ADD_CLASSES}",
    "(--classes FILE --add-classes) or add the classes in the window first":
        f"and {ADD_CLASSES}, or add the classes in the Classes panel first",
    "list every value with --mask-values": f"list every value under {MASK_VALUES}",
    "import again with --mask-values (e.g. 0 255) and --overwrite":
        f"import again with {MASK_VALUES} (e.g. 0,255) and {REPLACE}",
}


class ImportLabelsDialog(QDialog):
    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import labels")
        start = str(Path(project.root).parent)
        self.kind = QComboBox()
        for name, (title, _folder) in IMPORT_KINDS.items():
            self.kind.addItem(title, name)
        self.source = PathRow("Labels to import", start)
        self.by_number = QRadioButton("Class numbers (0: the first class; 255: unlabelled)")
        self.by_values = QRadioButton("These values, one per class in order:")
        self.by_file = QRadioButton("A classes file's values:")
        self.values = QLineEdit()
        self.values.setPlaceholderText("e.g. 0,255 for " + ", ".join(
            c.name for c in project.classes[:2]))
        self.classes_file = PathRow("Classes file", start, folder=False,
                                    file_filter="Classes file (*.json)")
        self.classes_file.edit.clear()
        self.classes_file.edit.setPlaceholderText("names, colours and mask values (JSON)")
        # Typing values or choosing a file chooses that way of reading the masks.
        self.values.textEdited.connect(lambda _text: self.by_values.setChecked(True))
        self.classes_file.edit.textChanged.connect(lambda _text: self.by_file.setChecked(True))
        self._value_choice = QButtonGroup(self)
        for button in (self.by_number, self.by_values, self.by_file):
            self._value_choice.addButton(button)
        self.by_number.setChecked(True)
        self.background = QComboBox()
        self.background.addItem("unlabelled", None)
        for label_class in project.classes:
            self.background.addItem(label_class.name, label_class.name)
        self.add_classes = QCheckBox("Add classes the project does not have")
        self.overwrite = QCheckBox("Replace the labels of images that have some")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        self._form = form = QFormLayout(self)
        form.addRow("Import", self.kind)
        form.addRow("From", self.source)
        form.addRow("Mask values", self.by_number)
        form.addRow("", widget_row(self.by_values, self.values))
        form.addRow("", widget_row(self.by_file, self.classes_file))
        form.addRow("Pixels no shape covers", self.background)
        form.addRow("", self.add_classes)
        form.addRow("", self.overwrite)
        form.addRow(buttons)
        self.kind.currentIndexChanged.connect(self._show_kind)
        self._show_kind()
        self.resize(620, self.sizeHint().height())

    def _show_kind(self) -> None:
        kind = self.kind.currentData()
        self.source.folder = IMPORT_KINDS[kind][1]
        self.source.file_filter = "COCO JSON (*.json)"
        masks = kind == "masks"
        for row in (2, 3, 4):
            self._form.setRowVisible(row, masks)
        self._form.setRowVisible(5, not masks)

    def options(self) -> dict:
        """The import's arguments (see import_labels); raises ValueError on bad values."""
        kind, masks = self.kind.currentData(), self.kind.currentData() == "masks"
        source = self.source.path()
        if source is None:
            raise ValueError("Choose the " + ("folder" if IMPORT_KINDS[kind][1] else "file")
                             + " to import from.")
        values = classes_file = None
        if masks and self.by_values.isChecked():
            values = parse_values(self.values.text())
        if masks and self.by_file.isChecked():
            classes_file = self.classes_file.path()
            if classes_file is None:
                raise ValueError("Choose the classes file.")
        return {"kind": kind, "source": source, "mask_values": values,
                "classes_file": classes_file,
                "background": None if masks else self.background.currentData(),
                "add_classes": self.add_classes.isChecked(),
                "overwrite": self.overwrite.isChecked()}

    def accept(self) -> None:
        try:
            self.options()
        except ValueError as exc:
            QMessageBox.warning(self, "Import labels", str(exc))
            return
        super().accept()


class ExportLabelsDialog(QDialog):
    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export labels")
        self.format = QComboBox()
        for name, title in EXPORT_FORMATS.items():
            self.format.addItem(title, name)
        self.folder = PathRow("Export the labels into",
                              str(Path(project.root) / "exported-labels"))
        self.folder.edit.setToolTip("A new or empty folder, or one of earlier exported labels "
                                    "(never a folder of other files)")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Folder", self.folder)
        form.addRow(buttons)
        self.resize(560, self.sizeHint().height())


def parse_values(text: str) -> list[int]:
    """'0,255' or '0 255': the mask value of each class, as `segstudio train` takes them."""
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"Mask values are whole numbers like 0,255, not {text!r}.") from None
    if not values:
        raise ValueError("Give the mask value of each class, e.g. 0,255.")
    return values


# --- the window's side --------------------------------------------------------------


def _accepted(window, dialog_class) -> QDialog | None:
    """The dialog for the open project, once accepted (None: cancelled, or no project)."""
    if window.project is None:
        window.show_error("No project", "Open or create a project first.")
        return None
    dialog = dialog_class(window.project, window)
    return dialog if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_import_labels(window) -> None:
    dialog = _accepted(window, ImportLabelsDialog)
    if dialog is not None:
        import_labels(window, **dialog.options())


def import_labels(window, kind: str, source, mask_values=None, classes_file=None,
                  background=None, add_classes=False, overwrite=False):
    """Import label files into the open project; returns the ImportReport, None on failure
    (a message says why; nothing is written then)."""
    from segstudio.core.formats.coco import import_coco
    from segstudio.core.formats.labelme import import_labelme
    from segstudio.core.formats.mask_folder import import_masks
    from segstudio.gui.main_window import waiting_cursor

    reports = []
    common = {"add_classes": add_classes, "overwrite": overwrite}

    def run_import() -> bool:
        project = window.project
        try:
            if kind == "masks":
                reports.append(import_masks(project, source, mask_values=mask_values,
                                            classes_file=classes_file, **common))
            elif kind == "labelme":
                reports.append(import_labelme(project, source, background=background, **common))
            else:
                reports.append(import_coco(project, source, background=background, **common))
        except UserError as exc:
            raise type(exc)(in_window_words(str(exc))) from None
        return bool(reports[0].imported)  # all skipped: the labels and their undo stay

    with waiting_cursor():
        changed = window.change_project(run_import, rewrites_labels=True,
                                        failure_title="Labels not imported")
    if not changed:
        return None
    report = reports[0]
    added = f"; added classes {', '.join(report.added_classes)}" if report.added_classes else ""
    summary = f"Imported labels for {len(report.imported)} image(s) from {source}{added}."
    window.say(summary + (" The undo history starts again from here." if report.imported
                          else ""))
    if report.notes:
        notes = [in_window_words(note) for note in report.notes[:MAX_NOTES_SHOWN]]
        if len(report.notes) > MAX_NOTES_SHOWN:
            notes.append(f"…and {len(report.notes) - MAX_NOTES_SHOWN} more")
        _inform(window, "Labels imported", summary + "\n\nSkipped:\n" + "\n".join(notes))
    return report


def in_window_words(message: str) -> str:
    for option_words, dialog_words in IN_WINDOW_WORDS.items():
        message = message.replace(option_words, dialog_words)
    return message


def ask_export_labels(window) -> None:
    dialog = _accepted(window, ExportLabelsDialog)
    if dialog is None:
        return
    if dialog.folder.path() is None:
        window.show_error("Labels not exported", "Choose a folder to export the labels into.")
        return
    export_labels(window, dialog.folder.path(), dialog.format.currentData())


def export_labels(window, folder, kind: str) -> bool:
    """Export the project's labels as `kind` (EXPORT_FORMATS) into `folder`, as a job."""
    if not window.save_labels():
        window.show_error("Labels not exported", "Save the labels first (see the last message).")
        return False
    project = window.project

    def task(progress, should_stop):
        if kind.startswith("coco-"):
            from segstudio.core.formats.coco import export_coco

            out = export_coco(project, Path(folder) / "annotations.json",
                              encoding=kind.removeprefix("coco-"))
            return f"Labels written to {out}."
        from segstudio.core.formats.export import export_labels as export_masks

        written, notes = export_masks(project, folder, kind)
        lines = [f"Labels of {len(written)} image(s) written to {folder}."]
        lines += notes[:MAX_NOTES_SHOWN]
        return "\n".join(lines)

    return window.training.jobs.start("Export labels", task)


def _inform(window, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, title, text,
                      QMessageBox.StandardButton.Ok, window)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()

"""Dialogs of the annotation window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from segstudio import __version__
from segstudio.core.classes import LabelClass, check_classes, default_classes, load_classes_file
from segstudio.core.errors import UserError

DEFAULT_CLASSES = "background, foreground"
SUMMARY_PATH_WIDTH = 420  # pixels of a folder path shown in the New Project dialog
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp)"
SHORTCUTS_HELP = """<table>
<tr><td>B / E / F / P / L</td><td>brush, eraser, fill, polygon, lasso</td></tr>
<tr><td>1 … 9, 0</td><td>choose the class (0: the tenth)</td></tr>
<tr><td>. and ,</td><td>next / previous class</td></tr>
<tr><td>[ and ]</td><td>smaller / larger brush</td></tr>
<tr><td>U</td><td>paint only unlabelled pixels</td></tr>
<tr><td>Fill</td><td>click: the connected area of similar image values (tolerance in the
toolbar), or by label region: of the clicked pixel's label</td></tr>
<tr><td>Polygon</td><td>click corners; double-click or Enter fills; Backspace or Ctrl+Z takes back a corner, Esc cancels</td></tr>
<tr><td>Lasso</td><td>drag around the area; releasing the button fills it; Esc while dragging drops it</td></tr>
<tr><td>Wheel, Ctrl++ / Ctrl+-</td><td>zoom around the cursor, zoom in / out</td></tr>
<tr><td>Space + drag, middle button</td><td>pan</td></tr>
<tr><td>Ctrl+0 / Ctrl+1</td><td>fit to window / actual size</td></tr>
<tr><td>Page Up / Page Down</td><td>previous / next image</td></tr>
<tr><td>Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y</td><td>undo, redo (one stroke each)</td></tr>
<tr><td>H</td><td>hide or show the labels</td></tr>
<tr><td>Ctrl+T / Ctrl+.</td><td>train / stop training</td></tr>
<tr><td>Ctrl+Shift+A</td><td>accept the prediction on show into the labels</td></tr>
<tr><td>Ctrl+O / Ctrl+N / Ctrl+S</td><td>open a project / new project / save the labels</td></tr>
<tr><td>F1</td><td>this list</td></tr>
</table>"""


def widget_row(*widgets, row: QWidget | None = None) -> QWidget:
    """Widgets side by side, as one form field (laid out in `row` when given)."""
    row = row or QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


class PathRow(QWidget):
    """A path field with its Browse… button (a folder, or a file of `file_filter`)."""

    def __init__(self, title: str, start: str, folder: bool = True, file_filter: str = ""):
        super().__init__()
        self.title, self.folder, self.file_filter, self.start = title, folder, file_filter, start
        self.edit = QLineEdit(start)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        widget_row(self.edit, browse, row=self)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text) if text else None

    def _browse(self) -> None:
        start = self.edit.text() or self.start
        if self.folder:
            chosen = QFileDialog.getExistingDirectory(self, self.title, start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, self.title, start, self.file_filter)
        if chosen:
            self.edit.setText(chosen)


class NewProjectDialog(QDialog):
    """Where to put a new project over a folder of images, and its first classes."""

    def __init__(self, image_folder: Path, image_count: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New project")
        location = PathRow("Project folder",
                           str(image_folder.parent / f"{image_folder.name}-labels"))
        self.location = location.edit
        self.classes = QLineEdit(DEFAULT_CLASSES)
        self.classes.setToolTip("Class names separated by commas; you can change them later")
        self.classes.textEdited.connect(self._names_typed)
        self._file_classes: list[LabelClass] | None = None  # read from a classes file
        from_file = QPushButton("From File…")
        from_file.setToolTip("Read the names and colours from a classes file (JSON, as "
                             "segstudio exports or CamVid's classes.json)")
        from_file.clicked.connect(self._classes_from_file)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        files = "1 image file" if image_count == 1 else f"{image_count} image files"
        self.summary = QLabel()
        # A long folder path is cut in its middle rather than widen the dialog off screen.
        where = self.summary.fontMetrics().elidedText(
            str(image_folder), Qt.TextElideMode.ElideMiddle, SUMMARY_PATH_WIDTH)
        self.summary.setText(f"{files} in {where}; they stay where they are.\n"
                             "Files that cannot be read will be skipped and listed.")
        self.summary.setToolTip(str(image_folder))
        self.summary.setWordWrap(True)
        self.problem = QLabel()  # what keeps OK from going on, said here: nothing typed is lost
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828")
        self.problem.hide()
        self._base = image_folder.parent  # a relative project folder is taken from here
        form.addRow(self.summary)
        form.addRow("Project folder", location)
        form.addRow("Classes", widget_row(self.classes, from_file))
        form.addRow(self.problem)
        form.addRow(buttons)
        self.resize(560, self.sizeHint().height())

    def accept(self) -> None:
        problem = self._problem()
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        if not problem:
            super().accept()

    def _problem(self) -> str:
        """Why the project cannot be made as the fields say ('' when it can)."""
        if not self.location.text().strip():
            return "Choose a folder for the project."
        folder = self.project_folder()
        if (folder / "project.json").exists():
            return f"{folder} is a segstudio project already: open it, or choose another folder."
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file: choose a folder for the project."
        if not self.class_names():
            return "Type the class names, separated by commas (two at least to train)."
        try:
            check_classes(self.project_classes())
        except UserError as exc:
            return f"Classes: {exc}."
        return ""

    def project_folder(self) -> Path:
        return self._base / Path(self.location.text().strip()).expanduser()

    def class_names(self) -> list[str]:
        names = [n.strip() for n in self.classes.text().split(",")]
        return [n for n in names if n]

    def project_classes(self) -> list[LabelClass]:
        """The classes file's (with their colours) unless names were typed since."""
        return self._file_classes or default_classes(self.class_names())

    def load_classes(self, path) -> bool:
        try:
            classes = load_classes_file(path).classes
        except UserError as exc:
            QMessageBox.warning(self, "Classes file", str(exc))
            return False
        self._file_classes = classes
        self.classes.setText(", ".join(c.name for c in classes))
        self.classes.setCursorPosition(0)  # the first names show
        self.classes.setToolTip(f"From {path}; typing names instead uses default colours")
        return True

    def _classes_from_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Classes file", self.location.text(),
                                              "Classes file (*.json)")
        if path:
            self.load_classes(path)

    def _names_typed(self, _text: str) -> None:
        self._file_classes = None


def show_about(parent) -> None:
    QMessageBox.about(parent, "About segstudio",
                      f"<b>segstudio {__version__}</b><p>Paint segmentation labels, train "
                      "U-Net, FCN and DeepLab models, review their predictions.</p>")


def show_shortcuts(parent) -> None:
    QMessageBox.information(parent, "Keyboard and mouse", SHORTCUTS_HELP)

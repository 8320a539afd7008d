"""What the window shows before a project is open: how to start."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from segstudio.gui.relinking import RELINK_MENU_TEXT

START_HINT = (
    "Paint labels on your images, then train a model on them.<br>"
    "Start with a project, a folder of images, or the demo."
)
NO_IMAGES_HINT = "<b>This project has no images to show.</b><br>Add some with File ▸ Add Images…"
PAGE_WIDTH = 420
MAX_RECENT_SHOWN = 5
UNREADABLE_HINT = ("<b>The first images of this project could not be opened</b> (see the "
                   "messages).<br>Pick another in the Images list.")


MISSING_HINT = "<b>{what}</b><br>Moved? Find {them} with " + RELINK_MENU_TEXT


class WelcomePage(QWidget):
    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("welcome")
        # Its fixed-width column must not set the window's minimum width once an image
        # shows in its place (the central widget stacks both).
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        title = QLabel("<h2>segstudio</h2>")
        self.hint = hint = QLabel()
        hint.setWordWrap(True)
        hint.setFixedWidth(PAGE_WIDTH)
        self._set_hint(START_HINT)
        self.open_button = QPushButton("Open Project…")
        self.folder_button = QPushButton("New Project from Image Folder…")
        self.demo_button = QPushButton("Open Demo Project")
        self.open_button.clicked.connect(window.open_project_dialog)
        self.folder_button.clicked.connect(lambda: window.new_project_dialog())
        self.demo_button.clicked.connect(window.open_demo)
        self._open_recent = window.open_project
        self.recent_title = QLabel("<br><b>Recent projects</b>")
        self.recent_links: list[QLabel] = []
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (title, hint, self.open_button, self.folder_button, self.demo_button,
                       self.recent_title):
            widget.setMaximumWidth(PAGE_WIDTH)
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        self.recent_layout = QVBoxLayout()
        self.recent_layout.setSpacing(2)
        layout.addLayout(self.recent_layout)
        layout.addStretch(2)
        self.show_recent([])
        for label in (title, hint):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def show_recent(self, folders: list[str]) -> None:
        """The recent projects, newest first: each name a link that opens it, its folder
        beside it."""
        for link in self.recent_links:  # out of sight now: deleteLater waits for the loop
            self.recent_layout.removeWidget(link)
            link.hide()
            link.deleteLater()
        self.recent_links = []
        for folder in folders[:MAX_RECENT_SHOWN]:
            path = Path(folder)
            parent = self.fontMetrics().elidedText(str(path.parent), Qt.TextElideMode.ElideMiddle,
                                                   PAGE_WIDTH // 2)
            link = QLabel(f'<a href="{html.escape(folder)}">{html.escape(path.name or folder)}'
                          f'</a> <span style="color: gray">{html.escape(parent)}</span>')
            link.setToolTip(f"Open {folder}")
            link.setMaximumWidth(PAGE_WIDTH)
            link.linkActivated.connect(self._open_recent)
            self.recent_layout.addWidget(link, 0, Qt.AlignmentFlag.AlignHCenter)
            self.recent_links.append(link)
        self.recent_title.setVisible(bool(self.recent_links))

    def show_project(self, project) -> None:
        """The hint for no project, or for a project without images to show."""
        self._set_hint(START_HINT if project is None else NO_IMAGES_HINT)

    def show_missing(self, count: int) -> None:
        what = (f"The {count} images of this project are not where they were." if count > 1
                else "The image of this project is not where it was.")
        self._set_hint(MISSING_HINT.format(what=what, them="them" if count > 1 else "it"))

    def show_unreadable(self) -> None:
        self._set_hint(UNREADABLE_HINT)

    def _set_hint(self, text: str) -> None:
        # A centred layout gives a wrapped label one line's height unless told its own.
        self.hint.setText(text)
        self.hint.setFixedHeight(self.hint.heightForWidth(PAGE_WIDTH))

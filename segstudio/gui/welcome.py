"""What the window shows before a project is open: how to start."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("welcome")
        title = QLabel("<h2>segstudio</h2>")
        hint = QLabel(
            "Paint labels on your images, then train a segmentation model on them.<br>"
            "Start with a project, a folder of images, or the demo."
        )
        hint.setWordWrap(True)
        hint.setMinimumWidth(380)
        self.open_button = QPushButton("Open a project…")
        self.folder_button = QPushButton("New project from a folder of images…")
        self.demo_button = QPushButton("Try the demo project")
        self.open_button.clicked.connect(window.open_project_dialog)
        self.folder_button.clicked.connect(lambda: window.new_project_dialog())
        self.demo_button.clicked.connect(window.open_demo)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (title, hint, self.open_button, self.folder_button, self.demo_button):
            widget.setMaximumWidth(420)
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        for label in (title, hint):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)

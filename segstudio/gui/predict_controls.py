"""The prediction dock: show the live prediction, its opacity, uncertainty, accept it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from segstudio.gui.panels.classes import color_icon

NO_MODEL_TEXT = "No model yet: train one to see predictions."


class PredictionPanel(QWidget):
    visibilityChanged = Signal(bool)
    opacityChanged = Signal(float)
    uncertaintyChanged = Signal(bool)
    acceptRequested = Signal(bool)  # only_unlabelled
    # A prediction of the image on screen shows (one hidden is not accepted unseen).
    predictionAvailable = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.show_check = QCheckBox("Show prediction")
        self.show_check.setChecked(True)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.uncertainty_check = QCheckBox("Highlight uncertain pixels")
        self.uncertainty_check.setToolTip(
            "Marks the pixels where the model's most likely class has a low probability: "
            "the places worth checking and labelling. Their colour, shown here, is "
            "chosen unlike any class colour."
        )
        self.accept_all_button = QPushButton("Accept all")
        self.accept_all_button.setToolTip("Replace the labels with the prediction (undoable)")
        self.accept_unlabelled_button = QPushButton("Accept where unlabelled")
        self.accept_unlabelled_button.setToolTip(
            "Fill only the pixels not labelled yet with the prediction (undoable)"
        )
        self.status_label = QLabel(NO_MODEL_TEXT)
        self.status_label.setWordWrap(True)

        opacity_row = QHBoxLayout()
        opacity_row.addWidget(QLabel("Opacity"))
        opacity_row.addWidget(self.opacity_slider)
        accept_row = QHBoxLayout()
        accept_row.addWidget(self.accept_all_button)
        accept_row.addWidget(self.accept_unlabelled_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.show_check)
        layout.addLayout(opacity_row)
        layout.addWidget(self.uncertainty_check)
        layout.addLayout(accept_row)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

        self.show_check.toggled.connect(self.visibilityChanged)
        self.show_check.toggled.connect(lambda _shown: self._update_accept())
        self.opacity_slider.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100))
        self.uncertainty_check.toggled.connect(self.uncertaintyChanged)
        self.accept_all_button.clicked.connect(lambda: self.acceptRequested.emit(False))
        self.accept_unlabelled_button.clicked.connect(lambda: self.acceptRequested.emit(True))
        self._has_prediction = False
        self._update_accept()

    def opacity(self) -> float:
        return self.opacity_slider.value() / 100

    def set_has_prediction(self, available: bool) -> None:
        self._has_prediction = available
        self._update_accept()

    def _update_accept(self) -> None:
        available = self._has_prediction and self.show_check.isChecked()
        self.accept_all_button.setEnabled(available)
        self.accept_unlabelled_button.setEnabled(available)
        self.predictionAvailable.emit(available)

    def set_highlight_color(self, color: tuple[int, int, int]) -> None:
        """Show the uncertainty highlight's colour (chosen unlike the classes') by the box."""
        self.uncertainty_check.setIcon(color_icon(color, size=12))
        self.highlight_color = color

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

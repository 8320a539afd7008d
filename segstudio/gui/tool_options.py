"""The tool options toolbar: how the fill tool finds its area, and its tolerance."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QToolBar, QWidget

from segstudio.gui.tools import PaintSettings

FILL_MODES = [
    ("image", "By image similarity",
     "Fill the connected pixels whose image values (in every channel) are within the "
     "tolerance of the clicked pixel: one click labels an object of one brightness or colour"),
    ("label", "By label region",
     "Fill the connected pixels that have the same label as the clicked pixel, whatever the "
     "image shows: e.g. the inside of an outline you painted, or all of the unlabelled area"),
]


class FillOptions(QWidget):
    """Fill mode and tolerance; writes them into the shared PaintSettings."""

    changed = Signal()

    def __init__(self, paint: PaintSettings, parent=None):
        super().__init__(parent)
        self.paint = paint
        self.span = 255.0  # width of the displayed value range, for the tooltip's raw units
        self.mode = QComboBox()
        for index, (key, text, tip) in enumerate(FILL_MODES):
            self.mode.addItem(text, key)
            self.mode.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.mode.setToolTip("How the fill tool (F) finds the area it labels:\n"
                             + "\n".join(f"• {text}: {tip}" for _, text, tip in FILL_MODES))
        self.mode.setCurrentIndex(0 if paint.fill_by_image else 1)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setRange(0.0, 100.0)
        self.tolerance.setDecimals(1)
        self.tolerance.setSingleStep(1.0)
        self.tolerance.setSuffix(" %")
        self.tolerance.setValue(paint.fill_tolerance)
        self.tolerance.setKeyboardTracking(False)
        self.tolerance_label = QLabel("Tolerance")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Fill"))
        layout.addWidget(self.mode)
        layout.addWidget(self.tolerance_label)
        layout.addWidget(self.tolerance)
        self.mode.currentIndexChanged.connect(self._edited)
        self.tolerance.valueChanged.connect(self._edited)
        self._show()

    def set_span(self, span: float) -> None:
        self.span = span
        self._show()

    def _edited(self) -> None:
        self.paint.fill_by_image = self.mode.currentData() == "image"
        self.paint.fill_tolerance = self.tolerance.value()
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        by_image = self.paint.fill_by_image
        self.tolerance.setEnabled(by_image)
        self.tolerance_label.setEnabled(by_image)
        units = self.paint.fill_tolerance / 100 * self.span
        tip = ("Fill by image similarity: how far a pixel's value may be from the clicked "
               "pixel's and still be filled, in % of the displayed value range (black to white "
               f"in the Display panel). Now ±{units:.4g} in the image's own values.")
        self.tolerance.setToolTip(tip)
        self.tolerance_label.setToolTip(tip)


def attach_tool_options(window) -> FillOptions:
    """Add the tool options toolbar under the main one; keep the status bar in step."""
    toolbar = QToolBar("Tool options", window)
    toolbar.setObjectName("tool_options_toolbar")
    options = FillOptions(window.paint, toolbar)
    toolbar.addWidget(options)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    window.actions_.panels_menu.addAction(toolbar.toggleViewAction())

    def display_changed(_settings=None) -> None:
        options.set_span(window.display_span())
        window._update_paint_label()

    options.changed.connect(window._update_paint_label)
    window.display_panel.settingsChanged.connect(display_changed)
    window.currentImageChanged.connect(display_changed)
    return options

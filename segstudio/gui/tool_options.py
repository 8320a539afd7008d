"""The tool options toolbar: what the current tool takes. The brush and eraser their
size, the fill how it finds its area and its tolerance, polygon and lasso how to draw."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolBar,
    QWidget,
)

from segstudio.gui.tools import MAX_BRUSH, MIN_BRUSH, PaintSettings, Tool

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


class BrushOptions(QWidget):
    """The brush (and eraser) size, in image pixels; writes it into the PaintSettings."""

    changed = Signal()

    def __init__(self, paint: PaintSettings, parent=None):
        super().__init__(parent)
        self.paint = paint
        self.size = QSpinBox()
        self.size.setRange(MIN_BRUSH, MAX_BRUSH)
        self.size.setSuffix(" px")
        self.size.setKeyboardTracking(False)
        self.size.setToolTip("Brush diameter in image pixels ([ smaller, ] larger)")
        self.refresh()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Size"))
        layout.addWidget(self.size)
        self.size.valueChanged.connect(self._edited)

    def refresh(self) -> None:
        """Show the size set elsewhere ([ and ] keys)."""
        self.size.blockSignals(True)
        self.size.setValue(round(self.paint.brush_size))
        self.size.blockSignals(False)

    def _edited(self, size: int) -> None:
        self.paint.brush_size = float(size)
        self.changed.emit()


class ToolOptions(QWidget):
    """Shows the options of the current tool only."""

    def __init__(self, paint: PaintSettings, parent=None):
        super().__init__(parent)
        self.brush = BrushOptions(paint)
        self.fill = FillOptions(paint)
        self.hint = QLabel()
        self.hint.setContentsMargins(4, 0, 4, 0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for part in (self.brush, self.fill, self.hint):
            layout.addWidget(part)

    def show_for(self, tool: Tool | None) -> None:
        self.brush.setVisible(tool is not None and tool.shows_brush)
        self.fill.setVisible(tool is not None and tool.name == "fill")
        self.hint.setText(tool.hint if tool is not None else "")
        self.hint.setVisible(bool(self.hint.text()))


def attach_tool_options(window) -> ToolOptions:
    """Add the tool options toolbar under the main one; keep the status bar in step."""
    toolbar = QToolBar("Tool options", window)
    toolbar.setObjectName("tool_options_toolbar")
    options = ToolOptions(window.paint, toolbar)
    toolbar.addWidget(options)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    window.actions_.panels_menu.addAction(toolbar.toggleViewAction())

    def display_changed(_settings=None) -> None:
        options.fill.set_span(window.display_span())
        window._update_paint_label()

    options.fill.changed.connect(window._update_paint_label)
    options.brush.changed.connect(window.brush_size_changed)
    window.display_panel.settingsChanged.connect(display_changed)
    window.currentImageChanged.connect(display_changed)
    return options

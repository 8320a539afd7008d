"""The display panel: label overlay visibility and opacity, contrast and channel mapping.

Nothing here changes the data: the panel builds DisplaySettings, and the window
renders the raw image through them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from segstudio.gui.rendering import DisplaySettings, ranges_for, settings_for

MODES = [("auto", "Auto (percentiles)"), ("full", "Min to max"), ("manual", "Manual")]
OUTPUT_NAMES = ("Red", "Green", "Blue")
SPIN_MIN_WIDTH = 66  # room for five digits and the arrows


class DisplayPanel(QWidget):
    settingsChanged = Signal(object)  # DisplaySettings
    labelsVisibleChanged = Signal(bool)
    labelsOpacityChanged = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.settings: DisplaySettings | None = None
        self._updating = False

        overlay = QGroupBox("Labels")
        self.labels_visible = QCheckBox("Show labels")
        self.labels_visible.setChecked(True)
        self.labels_visible.toggled.connect(self.labelsVisibleChanged)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip("Opacity of the label overlay")
        self.opacity.valueChanged.connect(lambda v: self.labelsOpacityChanged.emit(v / 100))
        overlay_form = QFormLayout(overlay)
        overlay_form.addRow(self.labels_visible)
        overlay_form.addRow("Opacity", self.opacity)

        contrast = QGroupBox("Image display")
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.mode.setToolTip("How raw values map to screen brightness (the data is unchanged)")
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.color_mode = QComboBox()
        self.color_mode.addItem("Colour (R, G, B)", "rgb")
        self.color_mode.addItem("One channel as gray", "gray")
        self.color_mode.currentIndexChanged.connect(self._channels_changed)
        grid = QGridLayout()
        grid.addWidget(QLabel("Channel"), 0, 1)
        grid.addWidget(QLabel("Black at"), 0, 2)
        grid.addWidget(QLabel("White at"), 0, 3)
        self.rows = []
        for row, name in enumerate(OUTPUT_NAMES, start=1):
            label = QLabel(name)
            channel = QComboBox()
            channel.setMaximumWidth(58)
            channel.currentIndexChanged.connect(self._channels_changed)
            low, high = QDoubleSpinBox(), QDoubleSpinBox()
            for spin in (low, high):
                # Float ranges are wide: do not let their size hint widen the panel.
                spin.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
                spin.setMinimumWidth(SPIN_MIN_WIDTH)
                spin.setKeyboardTracking(False)
                spin.valueChanged.connect(self._range_edited)
            grid.addWidget(label, row, 0)
            grid.addWidget(channel, row, 1)
            grid.addWidget(low, row, 2)
            grid.addWidget(high, row, 3)
            self.rows.append((label, channel, low, high))
        for column in (2, 3):  # the spin boxes' own minimum, which Ignored hides from the grid
            grid.setColumnMinimumWidth(column, SPIN_MIN_WIDTH)
            grid.setColumnStretch(column, 1)
        contrast_layout = QFormLayout(contrast)
        contrast_layout.addRow("Contrast", self.mode)
        contrast_layout.addRow("Show", self.color_mode)
        contrast_layout.addRow(grid)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(overlay)
        layout.addWidget(contrast)
        layout.addStretch(1)
        self.setEnabled(False)

    # ------------------------------------------------------------------ image in

    def show_image(self, image: np.ndarray | None) -> DisplaySettings | None:
        """Settings for a newly shown raw image, keeping the user's choices for images of as
        many channels (a colour image after a gray one is shown in colour)."""
        previous = self.image
        self.image = image
        self.setEnabled(image is not None)
        if image is None:
            self.settings = None
            return None
        alike = previous is not None and previous.shape[2:] == image.shape[2:]
        self.settings = settings_for(image, self.settings if alike else None)
        self._show_settings()
        return self.settings

    def set_settings(self, settings: DisplaySettings) -> None:
        self.settings = settings
        self._show_settings()
        self.settingsChanged.emit(settings)

    def _show_settings(self) -> None:
        image, settings = self.image, self.settings
        self._updating = True
        try:
            self.mode.setCurrentIndex([key for key, _ in MODES].index(settings.mode))
            self.color_mode.setCurrentIndex(1 if settings.gray else 0)
            self.color_mode.setEnabled(image.shape[2] > 1)
            integer = np.issubdtype(image.dtype, np.integer)
            top = float(np.iinfo(image.dtype).max) if integer else 1e12
            bottom = float(np.iinfo(image.dtype).min) if integer else -1e12
            for index, (label, channel, low, high) in enumerate(self.rows):
                shown = index < len(settings.channels)
                for widget in (label, channel, low, high):
                    widget.setVisible(shown)
                label.setText("Gray" if settings.gray else OUTPUT_NAMES[index])
                channel.clear()
                channel.addItems([str(c) for c in range(image.shape[2])])
                if not shown:
                    continue
                channel.setCurrentIndex(settings.channels[index])
                decimals = 0 if integer else _decimals_for(*settings.ranges[index])
                for spin, value in zip((low, high), settings.ranges[index], strict=True):
                    spin.setDecimals(decimals)
                    spin.setSingleStep(10.0 ** -decimals)
                    spin.setRange(bottom, top)
                    spin.setValue(value)
        finally:
            self._updating = False

    # ------------------------------------------------------------------ user edits

    def _mode_changed(self) -> None:
        if self._updating or self.image is None:
            return
        mode = self.mode.currentData()
        ranges = self.settings.ranges if mode == "manual" else ranges_for(
            self.image, self.settings.channels, mode
        )
        self.set_settings(DisplaySettings(self.settings.channels, ranges, mode))

    def _channels_changed(self) -> None:
        if self._updating or self.image is None:
            return
        gray = self.color_mode.currentData() == "gray"
        count = 1 if gray else 3
        channels = tuple(
            max(self.rows[i][1].currentIndex(), 0) if i < len(self.settings.channels)
            else min(i, self.image.shape[2] - 1)
            for i in range(count)
        )
        mode = self.settings.mode
        if mode == "manual":
            mode = "auto"  # a new channel has a range of its own
        self.set_settings(DisplaySettings(channels, ranges_for(self.image, channels, mode), mode))

    def _range_edited(self) -> None:
        if self._updating or self.image is None:
            return
        # Only the edited box's value: the others show theirs rounded to their decimals.
        edited, ranges = self.sender(), list(self.settings.ranges)
        for index, (_label, _channel, low, high) in enumerate(self.rows[:len(ranges)]):
            if edited is low or edited is None:
                ranges[index] = (low.value(), ranges[index][1])
            if edited is high or edited is None:
                ranges[index] = (ranges[index][0], high.value())
        self.set_settings(DisplaySettings(self.settings.channels, tuple(ranges), "manual"))


def _decimals_for(low: float, high: float) -> int:
    """Decimals that show a float image's range to about three digits: 0.0123..0.0456
    needs four, -1..1.5 two (four would not fit the box), as many as fit beside the
    integer digits of large values (1000.1..1000.2: two)."""
    span, largest = abs(high - low), max(abs(low), abs(high))
    if not (np.isfinite(span) and np.isfinite(largest)) or span == 0:
        return 4
    integer_digits = int(np.floor(np.log10(largest))) + 1 if largest >= 1 else 1
    return int(np.clip(2 - np.floor(np.log10(span)), 0, max(6 - integer_digits, 0)))

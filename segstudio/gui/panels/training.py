"""The training dock: model and settings, device, Train / Stop, progress.

The panel only holds widgets. It reads and writes its settings as a plain dict
(stored in project.settings["training"] by the controller) and emits
trainRequested / stopRequested; the controller does the rest.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

MODEL_TITLES = {
    "unet": "U-Net",
    "fcn": "FCN",
    "deeplabv3": "DeepLabV3",
    "deeplabv3plus": "DeepLabV3+",
}
LOSS_TITLES = {
    "ce": "Cross-entropy",
    "dice": "Dice",
    "focal": "Focal",
    "ce+dice": "Cross-entropy + Dice",
    "ce+focal": "Cross-entropy + Focal",
}
DEVICE_TITLES = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)", "mps": "MPS (Apple)"}

IDLE_TEXT = "Click Train to train a model on the labelled images."
NO_PROJECT_TEXT = "Open a project (or a folder of images) to train a model."
STATUS_LINES = 2  # lines reserved for the progress text ("Step 25/100, loss ...")
MODEL_LINES = 2  # and for the model in use
MIN_SETTINGS_HEIGHT = 40  # the settings scroll rather than overlap in a short dock
COMBO_MIN_LETTERS = 6

DEFAULT_SETTINGS = {
    "model": "unet",
    "crop_size": 256,
    "batch_size": 4,
    "lr": 3e-3,  # the engine's default peak learning rate (AdamW, warm-up, decay at the end)
    "loss": "ce",
    "augment": True,
    "limit": "time",  # "time": stop after time_budget seconds; "steps": after `steps` steps
    "time_budget": 120,
    "steps": 1000,
    "device": "auto",
    "continue_training": True,
}


class TrainingPanel(QWidget):
    trainRequested = Signal()
    stopRequested = Signal()
    moreSettingsShown = Signal(bool)  # the finer settings were shown or hidden

    def __init__(self, model_names: list[str], loss_names: list[str],
                 devices: dict[str, str | None], defaults: dict | None = None, parent=None):
        """`devices` maps each device name to None when usable, else why it is not.

        `defaults` overrides DEFAULT_SETTINGS (e.g. smaller crops on a CPU-only machine).
        """
        super().__init__(parent)
        self.defaults = {**DEFAULT_SETTINGS, **(defaults or {})}
        self.model_combo = _combo(model_names, MODEL_TITLES)
        self.model_combo.setToolTip(
            "U-Net: fine detail from few images (microscopy, scribbles); FCN: the simplest; "
            "DeepLabV3 and V3+: wider context for scenes (V3+ draws sharper borders)"
        )
        self.crop_spin = _spin(32, 2048, 32, " px")
        self.crop_spin.setToolTip(
            "Side of the square pieces of image trained on. Smaller crops make more steps in "
            "the same time (scribbles train faster); complete masks of large scenes need the "
            "context of 256 px or more"
        )
        self.batch_spin = _spin(1, 256, 1)
        self.batch_spin.setToolTip("Crops per step: more give steadier steps, but fewer of "
                                   "them in the same time")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setToolTip("Peak learning rate (AdamW: a short warm-up, held, then "
                                "lowered over the last quarter); 0.003 suits most data")
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(1e-5, 1.0)
        self.lr_spin.setSingleStep(1e-4)
        self.loss_combo = _combo(loss_names, LOSS_TITLES)
        self.loss_combo.setToolTip("On the labelled pixels only. Cross-entropy suits most "
                                   "labels; Dice and Focal weigh small or hard classes more")
        self.augment_check = QCheckBox("Flips, rotations, brightness")
        self.augment_check.setToolTip(
            "Mirror crops left to right and vary their brightness; turn them by quarter turns "
            "too while fewer than half of the labelled images' pixels are painted (scribbles "
            "need it; complete masks train better without)"
        )
        # Short titles: "Stop after [Time] [120 s]" reads whole at the dock's narrowest.
        self.limit_combo = _combo(["time", "steps"], {"time": "Time", "steps": "Steps"})
        self.limit_combo.setToolTip("Stop after a time budget (seconds of training) or after "
                                    "a number of steps")
        self.time_spin = _spin(1, 7 * 24 * 3600, 10, " s")
        self.steps_spin = _spin(1, 10_000_000, 100)
        self.device_combo = _combo(list(devices), DEVICE_TITLES)
        self.device_combo.setToolTip("Automatic: a CUDA GPU, else Apple MPS, else the CPU")
        _disable_unavailable(self.device_combo, devices)
        self.continue_check = QCheckBox("Start from the current model")
        # The user's choice; the box shows it only where it applies (a model of the chosen
        # architecture is in use), and says why not elsewhere.
        self._continue_wanted = True
        self._current_architecture: str | None = None
        self.continue_check.toggled.connect(self._continue_toggled)
        self.model_combo.currentIndexChanged.connect(self._update_enabled)
        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.status_label = _reserved_label(IDLE_TEXT, STATUS_LINES)
        self.model_label = _reserved_label("No model loaded.", MODEL_LINES)
        self._project_open = True
        self._running = False

        self._limit_row = limit_row = QHBoxLayout()
        limit_row.addWidget(self.limit_combo)
        limit_row.addWidget(self.time_spin)
        limit_row.addWidget(self.steps_spin)
        self.more_button = QToolButton()
        self.more_button.setCheckable(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setAutoRaise(True)
        self.more_button.toggled.connect(self.show_more_settings)
        self._form_widget = form_widget = QWidget()
        self._form = form = QFormLayout(form_widget)
        form.setContentsMargins(0, 0, 0, 0)
        # What is changed from one training to the next first; the finer settings show on
        # request, so that a short dock holds the first ones and the buttons below.
        form.addRow("Model", self.model_combo)
        form.addRow("Stop after", limit_row)
        form.addRow("", self.continue_check)
        form.addRow("", self.more_button)
        self._more_rows = [form.rowCount() + i for i in range(6)]
        form.addRow("Crop size", self.crop_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Augmentation", self.augment_check)
        form.addRow("Device", self.device_combo)
        # The label column as wide from the start as the finer settings make it, so that
        # showing them moves nothing (and the dock is wide enough for them).
        labels = [form.itemAt(row, QFormLayout.ItemRole.LabelRole) for row in range(form.rowCount())]
        widths = [item.widget().sizeHint().width() for item in labels if item and item.widget()]
        for item in labels:
            if item and item.widget():
                item.widget().setMinimumWidth(max(widths))
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        # The settings scroll in a short dock; the buttons, progress and model stay in view.
        self.settings_area = scrolled(form_widget, min_height=MIN_SETTINGS_HEIGHT)
        self.show_more_settings(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.settings_area, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.model_label)
        layout.addStretch(0)

        self.limit_combo.currentIndexChanged.connect(self._show_limit)
        self.train_button.clicked.connect(self.trainRequested)
        self.stop_button.clicked.connect(self.stopRequested)
        self.set_settings(self.defaults)

    def show_more_settings(self, shown: bool) -> None:
        """Show or hide the finer settings (crop, batch, learning rate, loss, augmentation,
        device); they apply either way."""
        for row in self._more_rows:
            self._form.setRowVisible(row, shown)
        self.more_button.setChecked(shown)
        self.more_button.setText("Fewer settings" if shown else "More settings")
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.settings_area.setMaximumHeight(self._form_widget.sizeHint().height())
        self.moreSettingsShown.emit(shown)

    def settings(self) -> dict:
        return {
            "model": self.model_combo.currentData(),
            "crop_size": self.crop_spin.value(),
            "batch_size": self.batch_spin.value(),
            "lr": self.lr_spin.value(),
            "loss": self.loss_combo.currentData(),
            "augment": self.augment_check.isChecked(),
            "limit": self.limit_combo.currentData(),
            "time_budget": self.time_spin.value(),
            "steps": self.steps_spin.value(),
            "device": self.device_combo.currentData(),
            "continue_training": self._continue_wanted,
        }

    def set_settings(self, values: dict) -> None:
        """Show `values` (missing or invalid entries keep the defaults)."""
        defaults = self.defaults
        merged = {**defaults, **(values if isinstance(values, dict) else {})}
        _select(self.model_combo, merged["model"], defaults["model"])
        _select(self.loss_combo, merged["loss"], defaults["loss"])
        _select(self.limit_combo, merged["limit"], "time")
        _select(self.device_combo, merged["device"], "auto")
        for spin, key in ((self.crop_spin, "crop_size"), (self.batch_spin, "batch_size"),
                          (self.time_spin, "time_budget"), (self.steps_spin, "steps")):
            try:
                spin.setValue(int(merged[key]))
            except (TypeError, ValueError):
                spin.setValue(int(defaults[key]))
        try:
            self.lr_spin.setValue(float(merged["lr"]))
        except (TypeError, ValueError):
            self.lr_spin.setValue(defaults["lr"])
        self.augment_check.setChecked(bool(merged["augment"]))
        self._continue_wanted = bool(merged["continue_training"])
        self._update_enabled()
        self._show_limit()

    def set_current_architecture(self, name: str | None) -> None:
        """The architecture of the model in use (None: no model), which training may start
        from when the same one is chosen."""
        self._current_architecture = name
        self._update_enabled()

    def set_running(self, running: bool) -> None:
        self._running = bool(running)
        self._update_enabled()
        if running:
            self.progress_bar.setValue(0)

    def set_project_open(self, project_open: bool) -> None:
        """Without a project there is nothing to train: the controls are disabled."""
        self._project_open = bool(project_open)
        self._update_enabled()
        if not self._running:
            self.show_progress(0.0, IDLE_TEXT if project_open else NO_PROJECT_TEXT)
            self.model_label.setText("No model loaded.")

    def _update_enabled(self) -> None:
        editable = self._project_open and not self._running
        self.train_button.setEnabled(editable)
        self.stop_button.setEnabled(self._running)
        for widget in (self.model_combo, self.crop_spin, self.batch_spin, self.lr_spin,
                       self.loss_combo, self.augment_check, self.limit_combo, self.time_spin,
                       self.steps_spin, self.device_combo):
            widget.setEnabled(editable)
        self._update_continue(editable)

    def _update_continue(self, editable: bool) -> None:
        chosen, current = self.model_combo.currentData(), self._current_architecture
        applies = current is not None and current == chosen
        self.continue_check.setEnabled(editable and applies)
        with QSignalBlocker(self.continue_check):
            self.continue_check.setChecked(self._continue_wanted and applies)
        if current is None:
            tip = "No model in use yet: the first training starts from scratch."
        elif not applies:
            tip = (f"The model in use is a {MODEL_TITLES.get(current, current)}: a "
                   f"{MODEL_TITLES.get(chosen, chosen)} trains from scratch.")
        else:
            tip = ("Train again starting from the model in use (after correcting labels), "
                   "instead of from scratch.")
        self.continue_check.setToolTip(tip)

    def _continue_toggled(self, checked: bool) -> None:
        self._continue_wanted = checked  # by the user: the box is set with signals blocked

    def show_progress(self, fraction: float | None, text: str) -> None:
        if fraction is None:
            self.progress_bar.setRange(0, 0)  # busy indicator
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        self.status_label.setText(text)
        self.status_label.setToolTip(text)

    def _show_limit(self) -> None:
        by_time = self.limit_combo.currentData() == "time"
        self.time_spin.setVisible(by_time)
        self.steps_spin.setVisible(not by_time)
        # Before the window first shows, hiding a widget leaves its row's size cached with
        # both boxes: the dock would lay the settings out too wide for it, cut off on the right.
        self._limit_row.invalidate()


def scrolled(widget: QWidget, min_height: int = 60) -> QScrollArea:
    """`widget` in a frameless vertical scroll area: a dock holding it can be made short
    without its contents being squeezed over each other."""
    area = _ScrollArea()
    area.setObjectName(f"{widget.__class__.__name__}_scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setMinimumHeight(min_height)
    return area


class _ScrollArea(QScrollArea):
    """Asks for the width its contents need at least (not their comfortable width, which
    would widen the whole dock column), and for their full height."""

    def sizeHint(self) -> QSize:
        widget = self.widget()
        if widget is None:
            return super().sizeHint()
        return QSize(self.minimumSizeHint().width(), widget.sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        """Never narrower than its contents need: they would scroll sideways, cut off."""
        widget = self.widget()
        if widget is None:
            return super().minimumSizeHint()
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(widget.minimumSizeHint().width() + bar, super().minimumSizeHint().height())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.updateGeometry()  # the contents' sizes change once they are polished


def _reserved_label(text: str, lines: int) -> QLabel:
    return _LinesLabel(text, lines)


class _LinesLabel(QLabel):
    """A word-wrapped label `lines` lines high whatever its text, so that the widgets below
    it stay in place as the text changes. Text that needs more lines is cut at a word and
    ends in "…" rather than half a line; `text()` and the tooltip give it in full."""

    def __init__(self, text: str, lines: int):
        super().__init__()
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 2)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text)
        super().setText(self._fitted())

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        super().setText(self._fitted())

    def _fitted(self) -> str:
        metrics, area = self.fontMetrics(), QRect(0, 0, max(self.width(), 1), 1 << 20)

        def fits(text: str) -> bool:
            return metrics.boundingRect(area, Qt.TextFlag.TextWordWrap, text).height() < \
                self.height()

        if fits(self._full):
            return self._full
        words = self._full.split(" ")
        low, high = 0, len(words)  # the most words that fit, with the ellipsis: in low..high
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(" ".join(words[:middle]) + "…") else (low, middle - 1)
        return " ".join(words[:low]) + "…"


def _combo(names: list[str], titles: dict[str, str]) -> QComboBox:
    combo = QComboBox()
    for name in names:
        combo.addItem(titles.get(name, name), name)
    # As narrow as a few letters allow: the dock column stays narrow, the list shows all.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(COMBO_MIN_LETTERS)
    return combo


def _spin(low: int, high: int, step: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    return spin


def _select(combo: QComboBox, value, fallback) -> None:
    index = combo.findData(value)
    if index < 0 or not _enabled(combo, index):
        index = combo.findData(fallback)
    combo.setCurrentIndex(max(index, 0))


def _enabled(combo: QComboBox, index: int) -> bool:
    model = combo.model()
    if isinstance(model, QStandardItemModel):
        item = model.item(index)
        return item is None or item.isEnabled()
    return True


def _disable_unavailable(combo: QComboBox, devices: dict[str, str | None]) -> None:
    model = combo.model()
    for index in range(combo.count()):
        why = devices.get(combo.itemData(index))
        if why:
            item = model.item(index)
            item.setEnabled(False)
            item.setToolTip(why)
            combo.setItemText(index, f"{combo.itemText(index)} (unavailable)")
            combo.setItemData(index, why, Qt.ItemDataRole.ToolTipRole)

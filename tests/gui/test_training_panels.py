"""The training, metrics and prediction panels as widgets: settings, charts, buttons."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from segstudio.core.classes import default_classes  # noqa: E402
from segstudio.gui.panels.metrics import MetricsPanel  # noqa: E402
from segstudio.gui.panels.training import DEFAULT_SETTINGS, TrainingPanel  # noqa: E402
from segstudio.gui.predict_controls import PredictionPanel  # noqa: E402

DEVICES = {"auto": None, "cpu": None, "cuda": "No CUDA GPU here", "mps": "Not a Mac"}


def make_panel(qtbot):
    panel = TrainingPanel(["unet", "fcn", "deeplabv3", "deeplabv3plus"], ["ce", "dice"], DEVICES)
    qtbot.addWidget(panel)
    return panel


def test_training_panel_defaults_and_round_trip(qtbot):
    panel = make_panel(qtbot)
    assert panel.settings() == DEFAULT_SETTINGS
    assert panel.model_combo.itemText(3) == "DeepLabV3+"
    wanted = dict(DEFAULT_SETTINGS, model="deeplabv3", crop_size=128, batch_size=2, lr=0.0005,
                  loss="dice", augment=False, limit="steps", steps=50, device="cpu",
                  continue_training=False)
    panel.set_settings(wanted)
    assert panel.settings() == wanted
    assert panel.steps_spin.isVisibleTo(panel) and not panel.time_spin.isVisibleTo(panel)


def test_unavailable_devices_are_disabled_and_explained(qtbot):
    panel = make_panel(qtbot)
    model = panel.device_combo.model()
    cuda = panel.device_combo.findData("cuda")
    assert not model.item(cuda).isEnabled()
    assert "No CUDA GPU" in model.item(cuda).toolTip()
    assert "unavailable" in panel.device_combo.itemText(cuda)
    panel.set_settings({"device": "cuda", "model": "no-such-model", "crop_size": "junk"})
    assert panel.settings()["crop_size"] == DEFAULT_SETTINGS["crop_size"]
    settings = panel.settings()
    assert settings["device"] == "auto"  # a saved device this machine lacks falls back
    assert settings["model"] == "unet" and settings["crop_size"] == DEFAULT_SETTINGS["crop_size"]


def test_machine_specific_defaults(qtbot):
    panel = TrainingPanel(["unet"], ["ce"], DEVICES, defaults={"crop_size": 128})
    qtbot.addWidget(panel)
    assert panel.settings()["crop_size"] == 128
    panel.set_settings({"crop_size": 512})
    assert panel.settings()["crop_size"] == 512
    panel.set_settings({"crop_size": None})  # an invalid saved value falls back to the default
    assert panel.settings()["crop_size"] == 128


def test_before_the_panel_shows_its_width_counts_only_the_shown_limit_box(qtbot):
    """The seconds or the steps box shows, never both; a width counting both, computed
    before the window showed, laid the settings out wider than the dock (cut off)."""
    panel = make_panel(qtbot)
    panel.set_settings({"limit": "steps"})
    before = panel.settings_area.minimumSizeHint().width()
    panel.show()
    qtbot.waitExposed(panel)
    assert before == panel.settings_area.minimumSizeHint().width()
    assert panel.minimumSizeHint().width() >= before  # the dock cannot squeeze them


def test_train_and_stop_buttons(qtbot):
    panel = make_panel(qtbot)
    with qtbot.waitSignal(panel.trainRequested, timeout=1000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    panel.set_running(True)
    assert not panel.train_button.isEnabled() and not panel.crop_spin.isEnabled()
    with qtbot.waitSignal(panel.stopRequested, timeout=1000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    panel.show_progress(0.25, "Step 25/100")
    assert panel.progress_bar.value() == 250 and "25/100" in panel.status_label.text()
    panel.set_running(False)
    assert panel.train_button.isEnabled() and not panel.stop_button.isEnabled()


def test_metrics_panel_shows_loss_and_per_class_iou(qtbot):
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 520)
    classes = default_classes(["membrane", "cell", "mitochondria"])
    panel.reset(classes)
    for step in range(1, 40):
        panel.add_step(step, 1.0 / step)
    panel.add_step(40, float("nan"))  # a NaN loss is not drawn
    report = SimpleNamespace(step=40, miou=0.6, pixel_accuracy=0.9,
                             iou={"membrane": 0.4, "cell": 0.8, "mitochondria": None},
                             dice={"membrane": 0.5, "cell": 0.9, "mitochondria": None})
    panel.show_validation(report)
    assert panel.iou_values() == {"membrane": 0.4, "cell": 0.8, "mitochondria": None}
    assert panel.iou_table.item(3, 0).text() == "mean" and panel.iou_table.item(3, 1).text() == "0.600"
    assert "mIoU 0.600" in panel.summary_label.text()
    assert panel.iou_table.item(1, 2).text() == "0.900"  # Dice
    assert panel.iou_table.item(3, 2).text() == "0.700"  # mean Dice of the present classes
    assert len(panel.loss_curve.points) == 39
    assert panel.iou_chart.values == [0.4, 0.8, None]
    # Both charts paint: the bars carry the class colours.
    image = panel.iou_chart.grab().toImage()
    colours = {image.pixelColor(x, y).getRgb()[:3]
               for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert classes[1].color in colours and classes[0].color in colours
    assert not panel.loss_curve.grab().isNull()
    # Renamed: the figures (keyed by the old names) show under the new ones.
    panel.rename_classes(default_classes(["membrane", "cytoplasm", "mitochondria"]))
    assert panel.iou_values() == {"membrane": 0.4, "cytoplasm": 0.8, "mitochondria": None}
    panel.show_validation(report)  # a later report of the same training
    assert panel.iou_values()["cytoplasm"] == 0.8


def test_metrics_panel_without_classes_lists_what_it_is_given(qtbot):
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.show_iou({"a": 0.5, "b": 0.25}, 0.375)
    assert panel.iou_values() == {"a": 0.5, "b": 0.25}


def test_eleven_classes_and_their_mean_show_without_a_scroll_bar_of_the_table(qtbot):
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.reset(default_classes([f"class {i}" for i in range(11)]))
    panel.show()
    qtbot.waitExposed(panel)
    table = panel.iou_table
    assert table.rowCount() == 12
    assert table.verticalScrollBar().maximum() == 0  # the mean row is in view, not scrolled to
    panel.reset(default_classes([f"class {i}" for i in range(40)]))
    assert table.verticalScrollBar().maximum() > 0  # very many classes scroll in the table


def test_prediction_panel_signals(qtbot):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    assert not panel.accept_all_button.isEnabled()
    panel.set_has_prediction(True)
    with qtbot.waitSignal(panel.acceptRequested, timeout=1000) as accepted:
        qtbot.mouseClick(panel.accept_unlabelled_button, Qt.MouseButton.LeftButton)
    assert accepted.args == [True]
    with qtbot.waitSignal(panel.opacityChanged, timeout=1000) as opacity:
        panel.opacity_slider.setValue(80)
    assert np.isclose(opacity.args[0], 0.8)
    with qtbot.waitSignal(panel.visibilityChanged, timeout=1000) as visible:
        qtbot.mouseClick(panel.show_check, Qt.MouseButton.LeftButton,
                         pos=panel.show_check.rect().bottomLeft() + QPoint(4, -4))
    assert visible.args == [False]
    # A hidden prediction is not accepted unseen; shown again, it can be.
    assert not panel.accept_all_button.isEnabled()
    assert not panel.accept_unlabelled_button.isEnabled()
    with qtbot.waitSignal(panel.predictionAvailable, timeout=1000) as available:
        panel.show_check.setChecked(True)
    assert available.args == [True] and panel.accept_all_button.isEnabled()


def test_a_long_status_ends_in_an_ellipsis_at_a_word_not_half_a_line(qtbot):
    from segstudio.gui.panels.training import _reserved_label

    label = _reserved_label("short", 2)
    qtbot.addWidget(label)
    label.resize(200, label.height())
    label.show()
    text = ("Training failed: b_rgb.png: the image has 3 channel(s), the others (or the model) "
            "1; all images must have the same number of channels")
    label.setText(text)
    shown = QLabel.text(label)  # what is drawn
    assert label.text() == text and label.toolTip() == text
    assert shown.endswith("…") and text.startswith(shown[:-1]) and len(shown) < len(text)
    metrics = label.fontMetrics()
    needed = metrics.boundingRect(0, 0, label.width(), 10_000, Qt.TextFlag.TextWordWrap, shown)
    assert needed.height() <= 2 * metrics.lineSpacing() + 2
    label.resize(2000, label.height())  # wide enough: all of it
    assert QLabel.text(label) == text


def test_start_from_the_current_model_applies_to_its_architecture_only(qtbot):
    """DeepLabV3+ chosen over a U-Net in use trained from scratch with the box still ticked."""
    panel = make_panel(qtbot)
    check = panel.continue_check
    assert not check.isEnabled() and not check.isChecked()  # no model yet
    assert "starts from scratch" in check.toolTip()
    panel.set_current_architecture("unet")
    assert check.isEnabled() and check.isChecked()
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("deeplabv3plus"))
    assert not check.isEnabled() and not check.isChecked()
    assert check.toolTip() == "The model in use is a U-Net: a DeepLabV3+ trains from scratch."
    assert panel.settings()["continue_training"]  # the choice is kept for a U-Net
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("unet"))
    assert check.isEnabled() and check.isChecked()
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))
    assert not check.isChecked() and not panel.settings()["continue_training"]
    panel.set_current_architecture(None)
    panel.set_current_architecture("unet")
    assert not check.isChecked()  # unticked by the user: stays so
    panel.set_running(True)
    assert not check.isEnabled()

"""The training part of the window as a user meets it: it fits a 1280x800 screen with the
progress and the live IoU in view, it is disabled until a project is open, Train and Stop
have shortcuts, the panel does not jump, a reopened model shows its metrics, and quitting
during a training says that the model is being saved.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtCore import QRect, Qt  # noqa: E402
from PySide6.QtGui import QAction, QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication, QDockWidget  # noqa: E402

from segstudio.gui.panels.training import TrainingPanel  # noqa: E402
from tests.gui.test_training_window import (  # noqa: E402
    click,
    isbi_project,  # noqa: F401  (a fixture)
    open_window,
    train_steps,
)

SCREEN = (1280, 800)
DEVICES = {"auto": None, "cpu": None, "cuda": "No CUDA GPU here", "mps": "Not a Mac"}


def rect_in_window(window, widget) -> QRect:
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def shown_part(widget) -> QRect:
    """The part of `widget` not clipped by its parents (scroll areas, docks)."""
    return widget.visibleRegion().boundingRect()


def test_the_window_fits_1280x800_with_progress_and_iou_in_view(qtbot, isbi_project):  # noqa: F811
    window = open_window(qtbot, isbi_project.root)
    hint = window.minimumSizeHint()
    assert hint.width() <= SCREEN[0] and hint.height() <= SCREEN[1], hint
    window.resize(*SCREEN)
    qtbot.waitUntil(lambda: window.size().toTuple() == SCREEN, timeout=3000)
    training = window.training
    # Metrics and Prediction are tabs below Training; Metrics (the live IoU) is in front.
    assert window.tabifiedDockWidgets(training.metrics_dock) == [training.prediction_dock]
    assert training.training_dock not in window.tabifiedDockWidgets(training.metrics_dock)

    with qtbot.waitSignal(training.trainingStarted, timeout=5000):
        click(qtbot, training.panel.train_button)
    qtbot.waitUntil(lambda: training.last_validation is not None, timeout=60_000)
    qtbot.wait(100)
    inside = QRect(0, 0, *SCREEN)
    panel = training.panel
    # The Stop button, progress bar and both status lines are whole and in view...
    for widget in (panel.stop_button, panel.progress_bar, panel.status_label,
                   panel.model_label):
        assert widget.isVisible() and shown_part(widget) == widget.rect(), widget
        assert inside.contains(rect_in_window(window, widget))
    # ...inside the Training dock, above the Metrics dock: nothing drawn over another.
    dock_rect = rect_in_window(window, training.training_dock)
    assert dock_rect.contains(rect_in_window(window, panel.model_label))
    assert not dock_rect.intersects(rect_in_window(window, training.metrics_dock))
    # Every IoU row, the mean included, is in view during the training.
    table = training.metrics.iou_table
    last = table.rowCount() - 1
    assert table.item(last, 0).text() == "mean"
    row_rect = table.visualItemRect(table.item(last, 1))
    row_top_left = table.viewport().mapTo(window, row_rect.topLeft())
    assert inside.contains(QRect(row_top_left, row_rect.size()))
    assert shown_part(table).contains(table.viewport().mapTo(table, row_rect.bottomRight()))
    assert window.statusBar().isVisible()
    assert inside.contains(rect_in_window(window, window.statusBar()))
    with qtbot.waitSignal(training.trainingFinished, timeout=10_000):
        training.stop()
    window.close()


def test_at_1280x800_the_settings_show_and_the_finer_ones_unfold(qtbot, isbi_project):  # noqa: F811
    window = open_window(qtbot, isbi_project.root)
    window.resize(*SCREEN)
    qtbot.waitUntil(lambda: window.size().toTuple() == SCREEN, timeout=3000)
    panel, dock = window.training.panel, window.training.training_dock
    key_settings = (panel.model_combo, panel.limit_combo, panel.time_spin,
                    panel.continue_check, panel.more_button)
    # Whole, once the window has its size: no scrolling, no clipping.
    qtbot.waitUntil(lambda: all(shown_part(w) == w.rect() for w in key_settings), timeout=3000)
    assert not panel.crop_spin.isVisible() and panel.more_button.text() == "More settings"
    height = dock.height()
    assert panel.settings()["crop_size"] == panel.crop_spin.value()  # folded, still applied
    qtbot.mouseClick(panel.more_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.height() > height, timeout=3000)  # the dock makes room
    finer = (panel.crop_spin, panel.batch_spin, panel.lr_spin)
    qtbot.waitUntil(lambda: all(shown_part(w) == w.rect() for w in finer), timeout=3000)
    qtbot.mouseClick(panel.more_button, Qt.MouseButton.LeftButton)
    assert not panel.crop_spin.isVisible()


def settings_whole(window) -> bool:
    panel = window.training.panel
    settings = (panel.model_combo, panel.limit_combo, panel.time_spin, panel.continue_check,
                panel.more_button)
    return all(shown_part(w) == w.rect() for w in settings)


def test_the_settings_stay_whole_across_starts_sizes_and_docking(qtbot, isbi_project):  # noqa: F811
    """The saved layout came back as it was: a Training dock narrower than its settings (cut
    off on the right), or squeezed to a scrolling sliver after a start in a smaller window,
    or after being floated and docked again."""
    for start, size in (("first", SCREEN), ("smaller", (1024, 700)), ("restored", None)):
        window = open_window(qtbot, isbi_project.root)
        if size is not None:
            window.resize(*size)
            qtbot.waitUntil(lambda w=window, s=size: w.size().toTuple() == s, timeout=3000)
        qtbot.waitUntil(lambda w=window: settings_whole(w), timeout=3000)
        assert window.minimumSizeHint().width() <= 1024, start  # fits a 1024-pixel screen
        window.close()
    window = open_window(qtbot, isbi_project.root)
    dock = window.training.training_dock
    dock.setFloating(True)
    qtbot.wait(100)
    dock.setFloating(False)
    qtbot.waitUntil(lambda: settings_whole(window), timeout=3000)


def rows_in_view(class_list) -> int:
    view = class_list.viewport().rect()
    return sum(view.contains(class_list.visualItemRect(class_list.item(row)))
               for row in range(class_list.count()))


def test_the_class_list_grows_with_the_classes(qtbot, isbi_project):  # noqa: F811
    """The Classes dock kept 170 px whatever the number of classes: four rows in view."""
    window = open_window(qtbot, isbi_project.root)
    window.resize(*SCREEN)
    qtbot.waitUntil(lambda: window.size().toTuple() == SCREEN, timeout=3000)
    qtbot.wait(300)  # the column's heights are given
    class_list = window.classes_panel.list
    classes_dock = window.findChild(QDockWidget, "dock_classes")
    two_classes = classes_dock.height()
    for n in range(3, 10):
        assert window.add_class(f"class {n}")
    qtbot.waitUntil(lambda: rows_in_view(class_list) >= 6, timeout=3000)
    assert settings_whole(window)
    assert classes_dock.height() >= two_classes + 3 * class_list.sizeHintForRow(0)

def test_a_restarted_window_keeps_its_size(qtbot, isbi_project):  # noqa: F811
    size = (780, 700)  # within the test screen (800 x 800), wider than 95% of it
    window = open_window(qtbot, isbi_project.root)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=3000)
    window.close()
    window = open_window(qtbot, isbi_project.root)
    assert window.size().toTuple() == size


def test_the_training_panel_keeps_its_layout_when_training_ends(qtbot):
    panel = TrainingPanel(["unet"], ["ce"], DEVICES)
    qtbot.addWidget(panel)
    panel.resize(330, 520)
    panel.show()
    qtbot.waitExposed(panel)
    widgets = (panel.train_button, panel.progress_bar, panel.status_label, panel.model_label)

    def geometry():
        QApplication.processEvents()
        return [w.geometry().getRect() for w in widgets]

    before = geometry()
    panel.set_running(True)
    panel.show_progress(None, "Preparing the training data (from the current model)…")
    panel.model_label.setText("Training a DeepLabV3+ model from the current model…")
    assert geometry() == before
    panel.show_progress(0.4, "Step 25/100, loss 0.3034, 126.4 images/s, 12 s")
    assert geometry() == before
    panel.set_running(False)
    panel.show_progress(1.0, "Finished (stopped) after 173 steps, 40 s; best mIoU 0.731")
    panel.model_label.setText("Model: DeepLabV3+ (deeplabv3plus-20261124-154050, mIoU 0.731)")
    assert geometry() == before


def test_without_a_project_training_export_and_predict_are_disabled(qtbot, isbi_project):  # noqa: F811
    from segstudio.gui.app import create_main_window

    window = create_main_window()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    training = window.training
    panel = training.panel
    assert not panel.train_button.isEnabled() and not panel.stop_button.isEnabled()
    assert not panel.crop_spin.isEnabled() and not panel.model_combo.isEnabled()
    assert "Open a project" in panel.status_label.text()
    for action in (training.train_action, training.stop_action, training.load_action,
                   *training.model_actions):
        assert not action.isEnabled(), action.text()
    training.train_action.trigger()  # a disabled action does nothing: no message
    assert not training.running and not window.errors

    with qtbot.waitSignal(window.projectChanged, timeout=5000):
        assert window.open_project(isbi_project.root)
    assert panel.train_button.isEnabled() and panel.crop_spin.isEnabled()
    assert training.train_action.isEnabled() and training.load_action.isEnabled()
    assert not training.stop_action.isEnabled()
    assert "Click Train" in panel.status_label.text()
    # Export and predict need a model; this project has none yet.
    assert not any(action.isEnabled() for action in training.model_actions)
    window.close()


def test_train_and_stop_have_shortcuts_shown_in_menu_and_tooltips(qtbot, isbi_project):  # noqa: F811
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_keys, stop_keys = QKeySequence("Ctrl+T"), QKeySequence("Ctrl+.")
    assert training.train_action.shortcut() == train_keys
    assert training.stop_action.shortcut() == stop_keys
    native = QKeySequence.SequenceFormat.NativeText
    assert train_keys.toString(native) in training.panel.train_button.toolTip()
    assert stop_keys.toString(native) in training.panel.stop_button.toolTip()
    # No other action of the window uses these keys.
    for action in window.findChildren(QAction):
        if action not in (training.train_action, training.stop_action):
            assert train_keys not in action.shortcuts() and stop_keys not in action.shortcuts()

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.canvas.setFocus()
    control = Qt.KeyboardModifier.ControlModifier
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        qtbot.keyClick(window.canvas, Qt.Key.Key_T, control)
    assert training.running and training.stop_action.isEnabled()
    assert not training.train_action.isEnabled()
    qtbot.waitUntil(lambda: training.panel.progress_bar.value() >= 2, timeout=30_000)
    with qtbot.waitSignal(training.trainingFinished, timeout=10_000) as finished:
        qtbot.keyClick(window.canvas, Qt.Key.Key_Period, control)
    assert finished.args[0].reason == "stopped"
    assert training.train_action.isEnabled() and not training.stop_action.isEnabled()
    # The progress bar shows how far the stopped training got (not a reset bar).
    bar = training.panel.progress_bar
    assert bar.maximum() == 1000 and 0 < bar.value() < 1000
    window.close()


def test_a_reopened_model_shows_its_saved_metrics_and_loss_curve(qtbot, isbi_project):  # noqa: F811
    window = open_window(qtbot, isbi_project.root)
    training = window.training
    train_steps(qtbot, training, 12)
    saved_dir = training.model_dir
    metadata = json.loads((saved_dir / "model.json").read_text())
    history = metadata["training"]["loss_history"]
    assert [step for step, _loss in history] == list(range(1, 13))
    window.close()

    reopened = open_window(qtbot, isbi_project.root)
    metrics = reopened.training.metrics
    saved_iou = metadata["metrics"]["iou"]
    shown = metrics.iou_values()
    assert set(shown) == {"membrane", "cell"}
    for name, value in saved_iou.items():
        assert shown[name] == (None if value is None else pytest.approx(value, abs=1e-3))
    assert any(value is not None for value in shown.values())
    miou = metadata["metrics"]["miou"]
    assert metrics.iou_table.item(2, 1).text() == f"{miou:.3f}"
    assert f"mIoU {miou:.3f}" in metrics.summary_label.text()
    assert f"from the saved model {saved_dir.name}" in metrics.source_label.text().lower()
    assert metrics.source_label.isVisibleTo(metrics)
    assert [p[0] for p in metrics.loss_curve.points] == list(range(1, 13))
    reopened.close()


def test_a_model_without_a_loss_history_still_shows_its_iou(qtbot, isbi_project):  # noqa: F811
    from tests.gui.test_training_export import save_small_model

    folder = save_small_model(isbi_project.models_dir / "unet-20260101-000000",
                              isbi_project.classes)
    path = folder / "model.json"
    metadata = json.loads(path.read_text())
    metadata["metrics"] = {"step": 40, "miou": 0.441, "iou": {"membrane": 0.3, "cell": 0.582},
                           "dice": {"membrane": 0.46, "cell": 0.736}}
    path.write_text(json.dumps(metadata))
    window = open_window(qtbot, isbi_project.root)
    metrics = window.training.metrics
    assert metrics.iou_values() == {"membrane": 0.3, "cell": 0.582}
    assert metrics.iou_table.item(1, 2).text() == "0.736"
    assert "mIoU 0.441" in window.training.panel.model_label.text()
    assert "mIoU 0.441" in metrics.summary_label.text()
    assert not metrics.loss_curve.points
    assert "No loss curve" in metrics.loss_curve.empty_text
    window.close()


def test_quitting_during_training_says_the_model_is_being_saved(qtbot, isbi_project,  # noqa: F811
                                                                monkeypatch):
    from segstudio.gui import training_controller

    window = open_window(qtbot, isbi_project.root)
    training = window.training
    with qtbot.waitSignal(training.progressed, timeout=60_000):
        click(qtbot, training.panel.train_button)
    shown_while_waiting = []
    real_stop_thread = training_controller.stop_thread

    def stop_thread(thread, worker=None, wait_ms=10_000):
        if worker is training.worker:
            shown_while_waiting.append((window.statusBar().currentMessage(),
                                        training.panel.status_label.text()))
        return real_stop_thread(thread, worker, wait_ms)

    monkeypatch.setattr(training_controller, "stop_thread", stop_thread)
    window.close()
    text = training_controller.STOPPING_TEXT
    assert shown_while_waiting == [(text, text)]
    assert "saving the model" in text
    assert list((isbi_project.root / "models").glob("*/model.json"))  # no work lost


def test_the_loss_history_is_thinned_evenly():
    from segstudio.gui.workers import compact_history

    points = [(step, 1.0 / step) for step in range(1, 1001)]
    compact = compact_history(points, 200)
    assert len(compact) == 200
    assert compact[0] == [1, 1.0] and compact[-1][0] == 1000
    steps = [step for step, _ in compact]
    assert steps == sorted(steps) and len(set(steps)) == 200
    assert compact_history(points[:5], 200) == [[s, round(v, 6)] for s, v in points[:5]]


def test_a_dock_brought_back_from_the_view_menu_comes_in_front(qtbot, isbi_project):  # noqa: F811
    window = open_window(qtbot, isbi_project.root)
    metrics, prediction = window.training.metrics_dock, window.training.prediction_dock
    for dock, other in ((metrics, prediction), (prediction, metrics)):
        dock.toggleViewAction().trigger()  # View > Panels: closed
        assert not dock.isVisible()
        other.raise_()
        dock.toggleViewAction().trigger()  # and back
        qtbot.waitUntil(lambda d=dock: not d.visibleRegion().isEmpty(), timeout=3000)
        assert other.visibleRegion().isEmpty()  # behind it, in the other tab

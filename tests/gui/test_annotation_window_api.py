"""What other parts build on: starting the app, the prediction layers, edits from outside."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.core.edits import paste_labels  # noqa: E402
from segstudio.gui import dialogs  # noqa: E402
from segstudio.gui.main_window import MainWindow  # noqa: E402
from tests.gui.window_helpers import drag, key, make_project, open_window  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(qtbot, tmp_path, isbi_dir):
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png"])
    return open_window(qtbot, project.root)


def test_run_app_shows_the_demo_and_runs_the_event_loop(qtbot, monkeypatch):
    from segstudio.gui.app import run_app

    seen = {}

    def event_loop(app):
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["project"] = windows[-1].project
        qtbot.addWidget(windows[-1])  # closed and deleted after the test
        return 0

    # The event loop itself is Qt's; here it only looks at the window it would run.
    monkeypatch.setattr(QApplication, "exec", event_loop)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_app installs its own
    assert run_app(demo=True) == 0
    assert sys.excepthook is not sys.__excepthook__
    assert seen["project"] is not None and len(seen["project"].classes) >= 2


def test_a_folder_of_images_asks_where_to_put_the_project(qtbot, tmp_path, isbi_dir, monkeypatch):
    asked = []

    def accept(dialog):
        asked.append(dialog.location.text())
        dialog.location.setText(str(tmp_path / "made-here"))
        dialog.classes.setText("membrane, cell, mitochondria")
        return True

    monkeypatch.setattr(dialogs.NewProjectDialog, "exec", accept)
    window = open_window(qtbot, isbi_dir / "images")
    qtbot.waitUntil(lambda: window.project is not None, timeout=5000)
    assert asked and asked[0].endswith("images-labels")
    assert window.project.root == tmp_path / "made-here"
    assert [c.name for c in window.project.classes] == ["membrane", "cell", "mitochondria"]
    assert not (isbi_dir / "images" / "project.json").exists()


def test_prediction_and_uncertainty_layers(window):
    canvas = window.canvas
    height, width = window.current_mask().shape
    prediction = np.zeros((height, width), np.uint8)
    prediction[:, width // 2:] = 1
    canvas.set_prediction(prediction)
    assert tuple(canvas.prediction_layer.pixels[5, width - 5, :3]) == window.project.classes[1].color
    canvas.set_prediction_opacity(0.25)
    assert canvas.prediction_layer.opacity() == pytest.approx(0.25)
    canvas.set_prediction_visible(False)
    assert not canvas.prediction_layer.isVisible()
    confidence = np.ones((height, width), np.float32)
    confidence[:10] = 0.1
    canvas.set_uncertainty(confidence)
    alpha = canvas.uncertainty_layer.pixels[..., 3]
    assert alpha[5].min() > 100 and alpha[100].max() == 0
    with pytest.raises(ValueError):
        canvas.set_prediction(np.zeros((3, 3), np.uint8))
    canvas.set_prediction(None)
    canvas.set_uncertainty(None)
    assert canvas.prediction_layer.pixels is None


def test_apply_mask_edit_is_one_undo_step_and_autosaves(qtbot, window):
    changed, saved = [], []
    window.labelsChanged.connect(changed.append)
    window.labelsSaved.connect(saved.append)
    mask = window.current_mask()
    labels = np.full(mask.shape, UNLABELLED, np.uint8)
    labels[100:200, 100:200] = 1
    window.apply_mask_edit(paste_labels(mask, labels), "Accept prediction")
    assert (mask[100:200, 100:200] == 1).all() and changed == [window.current_entry]
    assert window.canvas.label_layer.pixels[150, 150, 3] == 255
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert (mask == UNLABELLED).all() and len(changed) == 2
    assert window.canvas.label_layer.pixels[150, 150, 3] == 0
    assert not window.isWindowModified()  # back to the saved state: nothing to save
    key(qtbot, window, Qt.Key.Key_Y, CTRL)
    assert (mask[100:200, 100:200] == 1).all() and len(changed) == 3
    assert window.save_labels() and saved == [window.current_entry]


def test_docks_and_menus_for_other_parts(window):
    dock = window.add_dock(QLabel("extra"), "Extra Panel")
    assert isinstance(dock, QDockWidget) and window.dockWidgetArea(dock) == (
        Qt.DockWidgetArea.RightDockWidgetArea)
    model_menu = window.menu("Model")
    assert window.menu("&Model") is model_menu
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[:4] == ["File", "Edit", "View", "Tools"] and titles[-1] == "Help"
    assert "Model" in titles
    panels = [a.text() for a in window.actions_.panels_menu.actions()]
    assert {"Images", "Classes", "Display", "Extra Panel"} <= set(panels)


def test_only_one_stroke_per_undo_step_and_title_marks_unsaved(qtbot, window):
    for row in (50.5, 80.5, 110.5):
        drag(qtbot, window, [(20.5, row), (90.5, row), (200.5, row)])
    stack = window.current_document().undo_stack
    assert stack.count() == 3 and window.isWindowModified()
    assert window.windowTitle().startswith("segstudio – proj – 00.png")
    key(qtbot, window, Qt.Key.Key_S, CTRL)
    assert not window.isWindowModified()
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.isWindowModified()  # undoing after a save is an unsaved change again


def test_toolbar_and_menus_show_shortcuts_and_icons(window):
    actions = window.actions_
    assert actions.tool_actions["brush"].toolTip() == "Brush (B)"
    assert actions.tool_actions["polygon"].shortcut().toString() == "P"
    assert "(Ctrl+Z)" in actions.undo.toolTip()
    assert [s.toString() for s in actions.redo.shortcuts()] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert actions.next_image.shortcut().toString() == "PgDown"
    toolbar_actions = [a for a in actions.toolbar.actions() if not a.isSeparator()]
    assert toolbar_actions and all(not a.icon().isNull() for a in toolbar_actions)


def test_the_busy_cursor_shows_while_an_image_loads_and_goes_after(qtbot, tmp_path, isbi_dir,
                                                                   monkeypatch):
    images = [isbi_dir / "images" / f"{n:02d}.png" for n in range(3)]
    window = open_window(qtbot, make_project(tmp_path / "proj", images).root)
    cursors, load = [], window.project.load_image

    def slow_load(entry):
        cursor = QApplication.overrideCursor()
        cursors.append(None if cursor is None else cursor.shape())
        if entry.name.startswith("02"):
            raise OSError("unreadable")
        return load(entry)

    monkeypatch.setattr(window.project, "load_image", slow_load)
    monkeypatch.setattr(window.prefetcher, "prefetch", lambda *args: None)  # reads here only
    window.prefetcher.clear()
    _, second, third = window.project.images
    window.show_entry(second)
    assert cursors == [Qt.CursorShape.WaitCursor] and QApplication.overrideCursor() is None
    assert window.show_entry(third) is False  # the error leaves no busy cursor behind
    assert QApplication.overrideCursor() is None

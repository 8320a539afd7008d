"""Painting in the annotation window with real mouse and key events, on real ISBI slices."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.core.masks import read_mask  # noqa: E402
from tests.gui.window_helpers import (  # noqa: E402
    click,
    drag,
    key,
    make_project,
    open_window,
    view_pos,
    wheel,
)

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def project(tmp_path, isbi_dir):
    return make_project(tmp_path / "proj", [isbi_dir / "images" / f"{n:02d}.png" for n in range(3)])


@pytest.fixture
def window(qtbot, project):
    return open_window(qtbot, project.root)


def label_file(project, entry):
    return project.root / "labels" / f"{entry.id}.png"


def test_stroke_paints_undoes_redoes_and_saves(qtbot, window, project):
    mask = window.current_mask()
    assert (mask == UNLABELLED).all()
    key(qtbot, window, Qt.Key.Key_2)  # class "cell" (index 1)
    drag(qtbot, window, [(100.5, 200.5), (150.5, 200.5), (300.5, 200.5)])
    painted = mask != UNLABELLED
    assert painted[200, 100:301].all() and (mask[painted] == 1).all()
    radius = window.paint.radius
    assert painted[200 - int(radius) + 1, 200] and not painted[200 - int(radius) - 2, 200]
    assert not painted[:150].any()  # nothing far from the stroke
    assert window.isWindowModified() and window.windowTitle().endswith("[*]")
    assert window.current_document().undo_stack.count() == 1  # one stroke, one step

    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert (mask == UNLABELLED).all()
    key(qtbot, window, Qt.Key.Key_Z, CTRL_SHIFT)
    assert np.array_equal(mask != UNLABELLED, painted)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    key(qtbot, window, Qt.Key.Key_Y, CTRL)
    assert np.array_equal(mask != UNLABELLED, painted)
    # The overlay shows the class colour where painted, nothing elsewhere.
    overlay = window.canvas.label_layer.pixels
    assert tuple(overlay[200, 150, :3]) == project.classes[1].color
    assert overlay[50, 50, 3] == 0

    key(qtbot, window, Qt.Key.Key_S, CTRL)
    assert not window.isWindowModified()
    saved = read_mask(label_file(project, window.current_entry))
    assert np.array_equal(saved, mask)


def test_shortcuts_pressed_mid_stroke_act_on_the_stroke_painted_so_far(qtbot, window, project):
    mask, viewport = window.current_mask(), window.canvas.viewport()
    history = window.current_document().undo_stack
    drag(qtbot, window, [(50.5, 100.5), (250.5, 100.5)])  # stroke A
    after_a = mask.copy()

    # Stroke B: Ctrl+S while the button is still down saves A and the part of B painted.
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(window, 50.5, 300.5))
    qtbot.mouseMove(viewport, view_pos(window, 150.5, 300.5))
    key(qtbot, window, Qt.Key.Key_S, CTRL)
    half_b = mask.copy()
    assert (half_b[300, 60:140] != UNLABELLED).all() and (half_b[300, 170:] == UNLABELLED).all()
    assert history.count() == 2 and not window.isWindowModified()
    assert np.array_equal(read_mask(label_file(project, window.current_entry)), half_b)
    # The rest of that drag paints nothing; undo takes the saved half of B away, and the
    # title says the file now differs.
    qtbot.mouseMove(viewport, view_pos(window, 300.5, 300.5))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(window, 300.5, 300.5))
    assert np.array_equal(mask, half_b)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(mask, after_a) and window.isWindowModified()

    # Ctrl+Z mid-stroke undoes the stroke being painted, not the one before it.
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(window, 400.5, 50.5))
    qtbot.mouseMove(viewport, view_pos(window, 400.5, 200.5))
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    qtbot.mouseMove(viewport, view_pos(window, 400.5, 400.5))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(window, 400.5, 400.5))
    assert np.array_equal(mask, after_a)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert (mask == UNLABELLED).all()

    # Escape is the tool's: a lasso being dragged is dropped, not filled.
    key(qtbot, window, Qt.Key.Key_L)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(window, 100.5, 100.5))
    for x, y in ((300.5, 100.5), (300.5, 300.5), (100.5, 300.5)):
        qtbot.mouseMove(viewport, view_pos(window, x, y))
    key(qtbot, window, Qt.Key.Key_Escape)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(window, 100.5, 300.5))
    assert (mask == UNLABELLED).all() and history.index() == 0


def test_eraser_and_only_unlabelled(qtbot, window):
    mask = window.current_mask()
    drag(qtbot, window, [(50.5, 100.5), (250.5, 100.5)])  # class 0
    first = mask.copy()
    key(qtbot, window, Qt.Key.Key_U)  # paint only unlabelled
    key(qtbot, window, Qt.Key.Key_2)
    drag(qtbot, window, [(150.5, 80.5), (150.5, 140.5)])
    assert (mask[first == 0] == 0).all()  # the class-0 stroke was kept
    assert (mask[100:140, 150] == 1).sum() > 0
    key(qtbot, window, Qt.Key.Key_E)
    drag(qtbot, window, [(40.0, 100.5), (300.0, 100.5)])
    assert (mask[100, 60:240] == UNLABELLED).all()


def test_flood_fill_by_label_region_fills_the_enclosed_region(qtbot, window):
    mask = window.current_mask()
    window.tool_options.fill.mode.setCurrentIndex(window.tool_options.fill.mode.findData("label"))
    key(qtbot, window, Qt.Key.Key_BracketLeft)  # a thinner brush
    drag(qtbot, window, [(256.5, 0.2), (256.5, 511.8)])  # a wall down the middle, class 0
    key(qtbot, window, Qt.Key.Key_2)
    key(qtbot, window, Qt.Key.Key_F)
    click(qtbot, window, 20.5, 300.5)
    assert (mask[:, :240] == 1).all()
    assert (mask[:, 270:] == UNLABELLED).all()
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert (mask[:, :240] == UNLABELLED).all()


def test_polygon_closes_with_double_click_or_enter_and_cancels_with_escape(qtbot, window):
    mask = window.current_mask()
    key(qtbot, window, Qt.Key.Key_P)
    for x, y in [(100.5, 100.5), (300.5, 100.5), (300.5, 300.5)]:
        click(qtbot, window, x, y)
    qtbot.mouseDClick(window.canvas.viewport(), Qt.MouseButton.LeftButton,
                      pos=view_pos(window, 100.5, 300.5))
    assert mask[200, 200] == 0 and (mask[110:290, 110:290] == 0).all()
    assert mask[90, 200] == UNLABELLED and mask[200, 310] == UNLABELLED
    assert window.current_document().undo_stack.count() == 1

    key(qtbot, window, Qt.Key.Key_2)
    for x, y in [(350.5, 350.5), (450.5, 350.5), (450.5, 450.5)]:
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Escape)
    assert (mask[340:, 340:] == UNLABELLED).all()
    for x, y in [(350.5, 350.5), (450.5, 350.5), (450.5, 450.5)]:
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Return)
    assert mask[380, 440] == 1 and mask[440, 360] == UNLABELLED  # the triangle only


def test_ctrl_z_while_drawing_a_polygon_takes_back_its_last_corner(qtbot, window):
    """It undid the edit before (labelme and CVAT users expect the corner)."""
    mask = window.current_mask()
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])  # an edit Ctrl+Z must leave alone
    history = window.current_document().undo_stack
    key(qtbot, window, Qt.Key.Key_P)
    for x, y in [(100.5, 100.5), (300.5, 100.5), (450.5, 450.5)]:  # the last one misplaced
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert history.count() == 1 and mask[20, 40] == 0
    click(qtbot, window, 300.5, 300.5)
    key(qtbot, window, Qt.Key.Key_Return)
    assert mask[150, 280] == 0 and mask[400, 420] == UNLABELLED  # the corrected triangle
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # no outline being drawn: undo, as ever
    assert mask[150, 280] == UNLABELLED and history.count() == 2 and history.index() == 1

    # Two corners only: nothing is filled, and the status bar says why.
    for x, y in [(100.5, 400.5), (200.5, 400.5)]:
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Return)
    assert "fewer than three points" in window.statusBar().currentMessage()


def test_lasso_fills_the_dragged_outline(qtbot, window):
    mask = window.current_mask()
    key(qtbot, window, Qt.Key.Key_L)
    points = [(200 + 80 * np.cos(t), 200 + 80 * np.sin(t)) for t in np.linspace(0, 6.2, 40)]
    drag(qtbot, window, points)
    assert (mask[170:230, 170:230] == 0).all()
    assert mask[200, 300] == UNLABELLED and mask[50, 50] == UNLABELLED


def test_switching_images_keeps_labels_and_history(qtbot, window, project):
    first = window.current_entry
    drag(qtbot, window, [(10.5, 10.5), (60.5, 10.5)])
    painted = window.current_mask().copy()
    with qtbot.waitSignal(window.labelsSaved, timeout=5000):  # saved in the background
        key(qtbot, window, Qt.Key.Key_PageDown)
    assert window.current_entry is window.project.images[1]
    assert np.array_equal(read_mask(label_file(project, first)), painted)  # saved on switch
    assert (window.current_mask() == UNLABELLED).all()
    drag(qtbot, window, [(400.5, 400.5), (420.5, 400.5)])
    key(qtbot, window, Qt.Key.Key_PageUp)
    assert window.current_entry is first
    assert np.array_equal(window.current_mask(), painted)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # this image's own history
    assert (window.current_mask() == UNLABELLED).all()
    # A click in the list switches too.
    panel = window.images_panel
    item = panel.list.item(2)
    with qtbot.waitSignal(window.labelsSaved, timeout=5000):
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.list.visualItemRect(item).center())
    assert window.current_entry is window.project.images[2]
    assert not label_file(project, window.project.images[2]).exists()  # nothing painted, no file
    assert read_mask(label_file(project, first)).max() == UNLABELLED  # the undo was saved


def test_zoom_around_cursor_then_paint_at_the_right_pixel(qtbot, window):
    canvas = window.canvas
    before = canvas.zoom
    wheel(window, 400.5, 120.5, steps=4)
    assert canvas.zoom == pytest.approx(before * 1.25**4)
    # The image point under the cursor stays under it.
    assert canvas.mapToScene(view_pos(window, 400.5, 120.5)).x() == pytest.approx(400.5, abs=0.5)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    assert window.paint.brush_size < 5
    click(qtbot, window, 403.5, 125.5)
    mask = window.current_mask()
    assert mask[125, 403] == 0
    ys, xs = np.nonzero(mask != UNLABELLED)
    assert abs(ys.mean() - 125) <= 1 and abs(xs.mean() - 403) <= 1
    # The brush outline has the brush's real size in image pixels.
    assert canvas.brush_outline.rect().width() == pytest.approx(window.paint.brush_size)
    key(qtbot, window, Qt.Key.Key_1, CTRL)  # 1:1
    assert canvas.zoom == pytest.approx(1.0)
    key(qtbot, window, Qt.Key.Key_0, CTRL)  # fit
    assert canvas.zoom < 2


def test_fitting_a_tiny_image_keeps_to_the_zoom_limit_so_wheel_in_zooms_in(qtbot, window):
    from segstudio.gui.canvas import MAX_ZOOM

    canvas = window.canvas
    canvas.set_image(np.full((2, 1, 1), 128, np.uint8))
    canvas.fit_to_window()
    assert canvas.zoom == pytest.approx(MAX_ZOOM)
    canvas.zoom_by(1 / 4)
    wheel(window, 0.5, 1.0, steps=1)
    assert canvas.zoom == pytest.approx(MAX_ZOOM / 4 * 1.25)


def test_fitting_a_long_thin_strip_shows_it_wide_enough_to_see_from_its_start(qtbot, window):
    from segstudio.gui.canvas import MIN_FIT_ACROSS_PX

    canvas = window.canvas
    for shape in ((5000, 3), (3, 5000)):
        canvas.set_image(np.full((*shape, 1), 128, np.uint8))
        canvas.fit_to_window()
        assert min(shape) * canvas.zoom == pytest.approx(MIN_FIT_ACROSS_PX)
        y0, x0, y1, x1 = canvas.visible_region()
        assert (y0, x0) == (0, 0) and (y1, x1)[shape.index(3)] == 3  # all across, its start
    canvas.set_image(np.full((500, 300, 1), 128, np.uint8))  # not a strip: all of it
    canvas.fit_to_window()
    assert canvas.visible_region() == (0, 0, 500, 300)


def test_pan_with_middle_button_and_space_drag(qtbot, window):
    canvas = window.canvas
    canvas.zoom_by(4)
    bar = canvas.horizontalScrollBar()
    start = bar.value()
    viewport = canvas.viewport()
    from PySide6.QtCore import QPoint

    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(300, 300))
    qtbot.mouseMove(viewport, QPoint(250, 300))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(250, 300))
    assert bar.value() == start + 50
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=QPoint(300, 300))
    qtbot.mouseMove(viewport, QPoint(330, 300))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(330, 300))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert bar.value() == start + 20
    assert (window.current_mask() == UNLABELLED).all()  # panning paints nothing


def test_keys_follow_the_mouse_onto_the_canvas_unless_a_field_is_being_typed_in(qtbot, window,
                                                                              monkeypatch):
    from PySide6.QtWidgets import QApplication, QLineEdit

    from segstudio.gui import spin_typing

    images = window.images_panel.list
    qtbot.mouseClick(images.viewport(), Qt.MouseButton.LeftButton,
                     pos=images.visualItemRect(images.item(1)).center())
    assert QApplication.focusWidget() is images
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 100.5, 100.5))
    assert QApplication.focusWidget() is window.canvas  # Space now pans, as expected
    # A spin box keeps the keyboard while a number is typed into it (the mouse crossing
    # the canvas took the rest of "45" as a class key); once the typing pauses, the value
    # typed is taken as it is and the keys follow the mouse again.
    spin = window.training.panel.time_spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "4")

    def move_onto_canvas():
        qtbot.mouseMove(images.viewport(), images.visualItemRect(images.item(0)).center())
        qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 120.5, 100.5))

    move_onto_canvas()
    assert QApplication.focusWidget() is spin
    qtbot.keyClicks(spin, "5")
    assert spin.value() == 45 and window.paint.class_index == 0
    monkeypatch.setattr(spin_typing, "TYPING_PAUSE_S", 0.05)
    qtbot.wait(100)
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 130.5, 100.5))
    assert QApplication.focusWidget() is window.canvas and spin.value() == 45
    field = QLineEdit()
    window.statusBar().addWidget(field)
    field.setFocus()
    move_onto_canvas()
    assert QApplication.focusWidget() is field


def test_status_bar_shows_position_value_and_class(qtbot, window, isbi_dir):
    drag(qtbot, window, [(30.5, 40.5), (35.5, 40.5)])
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 32.5, 40.5))
    assert window.status.position_label.text() == "x 32  y 40"
    raw = int(window.current_image()[40, 32, 0])
    assert window.status.value_label.text() == f"value {raw}"
    assert window.status.class_label.text() == "class: membrane"
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # the pixel under the cursor changes, the mouse not
    assert window.status.class_label.text() == "class: unlabelled"
    key(qtbot, window, Qt.Key.Key_Z, CTRL_SHIFT)
    assert window.status.class_label.text() == "class: membrane"
    # Page Down: the pixel under the still mouse is the next image's (it kept this one's).
    key(qtbot, window, Qt.Key.Key_PageDown)
    assert window.current_entry.name == "01.png"
    assert window.status.value_label.text() == f"value {int(window.current_image()[40, 32, 0])}"
    assert window.status.value_label.text() != f"value {raw}"
    assert window.status.class_label.text() == "class: unlabelled"


def test_the_status_bar_names_no_class_for_the_eraser(qtbot, window):
    assert "class membrane" in window.status.paint_label.text()
    key(qtbot, window, Qt.Key.Key_E)
    assert window.status.paint_label.text() == "Eraser  |  size 15px"
    key(qtbot, window, Qt.Key.Key_U)  # paints only unlabelled pixels: the eraser erases anyway
    assert window.status.paint_label.text() == "Eraser  |  size 15px"
    key(qtbot, window, Qt.Key.Key_B)
    assert window.status.paint_label.text().endswith("only unlabelled")


def test_the_tool_options_bar_shows_what_the_current_tool_takes(qtbot, window):
    options = window.tool_options
    shown = lambda: [part for part in (options.brush, options.fill, options.hint)  # noqa: E731
                     if part.isVisible()]
    key(qtbot, window, Qt.Key.Key_F)
    assert shown() == [options.fill]
    key(qtbot, window, Qt.Key.Key_P)
    assert shown() == [options.hint] and "double-click" in options.hint.text()
    key(qtbot, window, Qt.Key.Key_L)
    assert shown() == [options.hint] and "Drag around" in options.hint.text()
    key(qtbot, window, Qt.Key.Key_E)
    assert shown() == [options.brush]
    key(qtbot, window, Qt.Key.Key_B)
    assert shown() == [options.brush]

    # A size typed in paints a stroke that wide; [ and ] show in the box.
    spin = options.brush.size
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "40")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert window.paint.brush_size == 40 and "size 40px" in window.status.paint_label.text()
    assert window.paint.class_index == 0  # the digits went into the box, not to the classes
    drag(qtbot, window, [(100.5, 200.5), (300.5, 200.5)])
    across = (window.current_mask()[:, 200] != UNLABELLED).sum()
    assert 38 <= across <= 42
    key(qtbot, window, Qt.Key.Key_BracketRight)
    assert spin.value() == window.paint.brush_size == 48


def test_ctrl_equals_zooms_in_as_ctrl_plus_does(qtbot, window):
    zoom = window.canvas.zoom
    key(qtbot, window, Qt.Key.Key_Equal, CTRL)
    assert window.canvas.zoom == pytest.approx(zoom * 1.25)


def test_typing_in_a_field_does_not_trigger_tool_or_class_keys(qtbot, window):
    spin = window.display_panel.rows[0][3]  # "white at" of the gray channel
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "2")
    qtbot.keyClick(spin, Qt.Key.Key_B)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.value() == 2 and window.display_panel.settings.ranges[0][1] == 2
    assert window.paint.class_index == 0


def test_with_no_class_left_painting_says_how_to_add_one(qtbot, window):
    while window.project.classes:  # the user deletes every class
        assert window.delete_class(0)
    mask = window.current_mask()
    for tool_key, strokes in ((Qt.Key.Key_B, [(50.5, 100.5), (250.5, 100.5)]),
                              (Qt.Key.Key_F, None)):
        window.statusBar().clearMessage()
        key(qtbot, window, tool_key)
        if strokes:
            drag(qtbot, window, strokes)
        else:
            click(qtbot, window, 20.5, 300.5)
        assert "add one in the Classes panel" in window.statusBar().currentMessage()
    assert (mask == UNLABELLED).all()

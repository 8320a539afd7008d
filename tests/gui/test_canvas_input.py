"""Mouse buttons, keys and focus around the canvas: what a stroke, a pan or a spin box
does when events come in an unusual order (found by a QA pass)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QCursor, QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSpinBox  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from tests.gui.window_helpers import drag, key, make_project, open_window, view_pos  # noqa: E402

LEFT, MIDDLE = Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton
NONE = Qt.MouseButton.NoButton
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(qtbot, tmp_path, isbi_dir):
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png"])
    return open_window(qtbot, project.root)


def send_mouse(window, kind, x, y, button, buttons):
    viewport = window.canvas.viewport()
    pos = QPointF(view_pos(window, x, y))
    QApplication.sendEvent(viewport, QMouseEvent(
        kind, pos, QPointF(viewport.mapToGlobal(pos.toPoint())), button, buttons,
        Qt.KeyboardModifier.NoModifier))


def test_a_stroke_ends_when_the_middle_button_pans_mid_stroke(window):
    """Left released during a middle-button pan was taken as the pan's end: the stroke
    went on painting under a hovering mouse, and the next click lost it from the history."""
    press, release = QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease
    move = QEvent.Type.MouseMove
    send_mouse(window, press, 100.5, 150.5, LEFT, LEFT)
    send_mouse(window, move, 120.5, 150.5, NONE, LEFT)
    send_mouse(window, press, 120.5, 150.5, MIDDLE, LEFT | MIDDLE)
    assert not window.canvas.stroke_in_progress  # the stroke so far is one undo step
    send_mouse(window, release, 125.5, 155.5, LEFT, MIDDLE)
    send_mouse(window, release, 125.5, 155.5, MIDDLE, NONE)
    painted = window.current_mask().copy()
    send_mouse(window, move, 250.5, 250.5, NONE, NONE)
    np.testing.assert_array_equal(window.current_mask(), painted)  # hovering paints nothing
    # A release that never came (it went to another window): the next move ends the stroke.
    send_mouse(window, press, 20.5, 20.5, LEFT, LEFT)
    send_mouse(window, move, 40.5, 20.5, NONE, NONE)
    assert not window.canvas.stroke_in_progress
    send_mouse(window, move, 300.5, 300.5, NONE, NONE)
    stack = window.current_document().undo_stack
    assert stack.count() == 2 and window.current_mask()[300, 290:310].tolist() == [255] * 20
    while stack.canUndo():
        stack.undo()
    assert (window.current_mask() == UNLABELLED).all()


def test_space_released_elsewhere_is_not_held_down_for_ever(qtbot, window):
    qtbot.keyPress(window.canvas, Qt.Key.Key_Space)
    classes = window.classes_panel.list
    qtbot.mouseClick(classes.viewport(), LEFT, pos=classes.visualItemRect(classes.item(1)).center())
    qtbot.keyRelease(classes, Qt.Key.Key_Space)
    window.canvas.setFocus()
    drag(qtbot, window, [(100.5, 100.5), (120.5, 100.5)])
    assert window.current_mask()[100, 110] == 1  # painted, not panned


def test_undo_keys_after_a_spin_box_was_only_clicked_undo_the_labels(qtbot, window):
    drag(qtbot, window, [(50.5, 50.5), (150.5, 60.5)])
    size = window.tool_options.brush.size
    option = QStyleOptionSpinBox()
    size.initStyleOption(option)
    up = size.style().subControlRect(QStyle.ComplexControl.CC_SpinBox, option,
                                     QStyle.SubControl.SC_SpinBoxUp, size)
    qtbot.mouseClick(size, LEFT, pos=up.center())
    assert QApplication.focusWidget() is size
    qtbot.keyClick(size, Qt.Key.Key_Z, CTRL)
    assert (window.current_mask() == UNLABELLED).all()  # the spin box's own undo took it
    qtbot.keyClick(size, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert window.current_mask()[55, 100] == 0
    # Typed in, the box's text is what Ctrl+Z takes back.
    size.lineEdit().selectAll()
    qtbot.keyClicks(size, "3")
    qtbot.keyClick(size, Qt.Key.Key_Z, CTRL)
    assert window.current_mask()[55, 100] == 0


def test_zooming_by_keys_keeps_the_brush_outline_and_position_under_the_mouse(qtbot, window):
    viewport = window.canvas.viewport()
    at = view_pos(window, 100.5, 100.5)
    QCursor.setPos(viewport.mapToGlobal(at))
    qtbot.mouseMove(viewport, at)
    for zoom_key in (Qt.Key.Key_Equal, Qt.Key.Key_1):
        key(qtbot, window, zoom_key, CTRL)
        under = window.canvas.mapToScene(viewport.mapFromGlobal(QCursor.pos()))
        outline = window.canvas.brush_outline.pos()
        assert abs(outline.x() - under.x()) < 0.01 and abs(outline.y() - under.y()) < 0.01
        assert window.status.position_label.text() == f"x {int(under.x())}  y {int(under.y())}"


def test_wheel_zoom_keeps_the_point_under_the_mouse_when_zoomed_out_too(window):
    """At or below Fit, Qt centred the scene: the point under the mouse moved (31 px a notch
    out, 20 px back in)."""
    from tests.gui.window_helpers import wheel

    canvas = window.canvas
    for x, y in [(20.5, 20.5), (490.5, 500.5), (256.5, 256.5)]:
        canvas.fit_to_window()
        at = view_pos(window, x, y)
        for steps in (-1, -1, -3, 2, 1):
            wheel(window, x, y, steps)
            under = canvas.mapToScene(at)
            assert abs(under.x() - x) * canvas.zoom < 1.5 and abs(under.y() - y) * canvas.zoom < 1.5
    canvas.fit_to_window()  # fitted again: the image in the middle of the view
    centre = canvas.mapToScene(canvas.viewport().rect().center())
    assert abs(centre.x() - 256) < 2 and abs(centre.y() - 256) < 2

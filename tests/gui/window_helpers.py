"""Driving the annotation window with real mouse and key events (pytest-qt)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from segstudio.core.classes import default_classes
from segstudio.core.project import Project

LEFT = Qt.MouseButton.LeftButton


def make_project(folder, images, class_names=("membrane", "cell")) -> Project:
    return Project.create(folder, [*images], default_classes(list(class_names)))


def open_window(qtbot, path=None, demo=False, size=(1100, 760)):
    from segstudio.gui.app import create_main_window

    window = create_main_window(path=None if path is None else str(path), demo=demo)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # window shortcuts (B, 1..9, Ctrl+Z) need the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.canvas.setFocus()
    wait_for_stable_layout(qtbot, window)
    window.canvas.fit_to_window()
    return window


def wait_for_stable_layout(qtbot, window, timeout_s: float = 3.0) -> None:
    """Docks may still grow the window after show(); image-to-view mapping must not move."""
    viewport = window.canvas.viewport()
    last, steady, waited = None, 0, 0.0
    while steady < 3 and waited < timeout_s:
        qtbot.wait(20)
        waited += 0.02
        now = (window.size().toTuple(), viewport.size().toTuple())
        steady = steady + 1 if now == last else 0
        last = now


def view_pos(window, x: float, y: float) -> QPoint:
    """Where image point (x, y) is on the canvas viewport, through the view's transform."""
    return window.canvas.image_to_view(x, y)


def click(qtbot, window, x, y, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(window.canvas.viewport(), LEFT, modifier, view_pos(window, x, y))


def drag(qtbot, window, points, button=LEFT):
    """Press at the first image point, move through the others, release at the last."""
    viewport = window.canvas.viewport()
    first, *rest = [view_pos(window, x, y) for x, y in points]
    qtbot.mousePress(viewport, button, pos=first)
    for pos in rest:
        qtbot.mouseMove(viewport, pos)
    qtbot.mouseRelease(viewport, button, pos=rest[-1] if rest else first)


def key(qtbot, window, key_code, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(window.canvas, key_code, modifier)


def wheel(window, x, y, steps: int) -> None:
    """Turn the mouse wheel over image point (x, y)."""
    viewport = window.canvas.viewport()
    pos = QPointF(view_pos(window, x, y))
    event = QWheelEvent(pos, QPointF(viewport.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def disk(shape, cx, cy, r) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r

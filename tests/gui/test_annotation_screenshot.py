"""A screenshot of the window with the demo project, for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from tests.gui.window_helpers import drag, key, open_window, view_pos  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def save_screenshot(widget, tmp_path, name: str) -> Path:
    image = widget.grab().toImage()
    path = tmp_path / name
    assert image.save(str(path))
    SCREENSHOTS.mkdir(exist_ok=True)
    image.save(str(SCREENSHOTS / name))
    return path


def test_screenshot_of_the_demo_while_painting(qtbot, tmp_path):
    window = open_window(qtbot, demo=True, size=(1280, 860))
    key(qtbot, window, Qt.Key.Key_3)
    drag(qtbot, window, [(40.5, 220.5), (90.5, 230.5), (140.5, 215.5)])
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 140.5, 215.5))
    path = save_screenshot(window, tmp_path, "annotation_window.png")
    shot = QImage(str(path))
    assert shot.width() >= 1000 and shot.height() >= 700
    assert window.status.position_label.text() == "x 140  y 215"
    assert window.status.class_label.text().startswith("class: ")


def test_screenshot_of_the_welcome_page(qtbot, tmp_path):
    window = open_window(qtbot, size=(1000, 700))
    path = save_screenshot(window, tmp_path, "welcome.png")
    assert QImage(str(path)).width() >= 900


def test_screenshot_zoomed_in_with_a_polygon_in_progress(qtbot, tmp_path):
    from tests.gui.window_helpers import click, wheel

    window = open_window(qtbot, demo=True, size=(1280, 860))
    wheel(window, 60.5, 60.5, steps=9)  # about 20 screen pixels per image pixel
    key(qtbot, window, Qt.Key.Key_P)
    for x, y in [(55.5, 52.5), (68.5, 55.5), (66.5, 68.5)]:
        click(qtbot, window, x, y)
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 54.5, 66.5))
    path = save_screenshot(window.canvas, tmp_path, "zoomed_polygon.png")
    shot = QImage(str(path))
    # Crisp pixels: two screen points inside one image pixel show the same colour.
    a, b = view_pos(window, 45.2, 45.2), view_pos(window, 45.8, 45.8)
    assert shot.pixel(a.x(), a.y()) == shot.pixel(b.x(), b.y())
    assert len(window.canvas.tool.points) == 3

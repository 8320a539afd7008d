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
    assert window.position_label.text() == "x 140  y 215"
    assert window.class_label.text().startswith("class: ")


def test_screenshot_of_the_welcome_page(qtbot, tmp_path):
    window = open_window(qtbot, size=(1000, 700))
    path = save_screenshot(window, tmp_path, "welcome.png")
    assert QImage(str(path)).width() >= 900

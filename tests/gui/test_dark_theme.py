"""A dark system theme (macOS dark mode, dark desktop themes) stays readable: the style
sheet takes its colours from the palette, and the icons' dark ink turns light."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QColor, QIcon, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QDockWidget  # noqa: E402

from segstudio.gui.actions import icon  # noqa: E402
from tests.gui.window_helpers import open_window  # noqa: E402

DARK = {QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e0e0e0",
        QPalette.ColorRole.Base: "#1e1e1e", QPalette.ColorRole.Text: "#e0e0e0",
        QPalette.ColorRole.Button: "#353535", QPalette.ColorRole.ButtonText: "#e0e0e0",
        QPalette.ColorRole.Light: "#505050", QPalette.ColorRole.Midlight: "#3c3c3c",
        QPalette.ColorRole.Mid: "#202020", QPalette.ColorRole.Dark: "#151515"}


@pytest.fixture
def dark_palette(qapp):
    light = QApplication.palette()
    palette = QPalette(light)
    for role, color in DARK.items():
        palette.setColor(role, QColor(color))
    QApplication.setPalette(palette)
    yield
    QApplication.setPalette(light)


def ink_lightness(qicon, mode=QIcon.Mode.Normal) -> float:
    """Mean lightness of the icon's gray pixels (its ink, not its blue accents) as seen
    over the dark window colour."""
    image = qicon.pixmap(24, 24, mode).toImage()
    background = QColor(DARK[QPalette.ColorRole.Window]).lightness()
    ink = []
    for color in (image.pixelColor(x, y) for x in range(24) for y in range(24)):
        if color.alpha() > 60 and color.saturation() < 120:
            alpha = color.alphaF()
            ink.append(alpha * color.lightness() + (1 - alpha) * background)
    assert ink, "the icon has gray ink"
    return sum(ink) / len(ink)


def test_icons_are_drawn_dark_on_a_light_theme(qapp):
    assert ink_lightness(icon("open")) < 100


def test_icons_are_drawn_light_on_a_dark_theme(dark_palette):
    assert ink_lightness(icon("open")) > 180
    assert ink_lightness(icon("open"), QIcon.Mode.Disabled) < 120  # faint when disabled


def test_dock_titles_follow_a_dark_palette(qtbot, dark_palette):
    window = open_window(qtbot, size=(1000, 700))
    title = window.findChild(QDockWidget, "dock_images").grab().toImage()
    # The title bar's background (a pixel at its left end, before the text) is dark.
    assert title.pixelColor(2, 4).lightness() < 100

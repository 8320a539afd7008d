"""Display contrast, channel mapping and label colours: raw arrays to screen pixels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from segstudio.core.classes import UNLABELLED, LabelClass, default_classes  # noqa: E402
from segstudio.gui.layers import IndexLayer  # noqa: E402
from segstudio.gui.rendering import (  # noqa: E402
    DisplaySettings,
    auto_range,
    label_colors,
    settings_for,
    to_display,
)


def test_16_bit_auto_contrast_uses_percentiles_of_the_data():
    rng = np.random.default_rng(0)
    raw = rng.normal(3000, 100, (300, 400, 1)).clip(0, 65535).astype(np.uint16)
    raw[0, 0] = 65535  # one hot pixel must not squash the rest
    settings = settings_for(raw)
    assert settings.mode == "auto" and settings.gray
    low, high = settings.ranges[0]
    assert 2600 < low < 2800 and 3200 < high < 3400
    shown = to_display(raw, settings)
    assert shown.dtype == np.uint8 and shown.shape == (300, 400)
    assert 100 < shown.mean() < 155 and shown.std() > 40


def test_eight_bit_rgb_is_shown_unchanged_and_manual_range_clips():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    settings = settings_for(rgb)
    assert settings.mode == "full" and settings.channels == (0, 1, 2)
    assert np.array_equal(to_display(rgb, settings), rgb)
    manual = DisplaySettings((2, 1, 0), ((0, 127.5),) * 3, "manual")
    shown = to_display(rgb, manual)
    assert np.array_equal(shown[..., 0] == 255, rgb[..., 2] >= 128)


def test_float_images_with_nan_and_constant_planes():
    image = np.full((20, 30, 2), 0.5, np.float32)
    image[0, 0, 0] = np.nan
    image[:, 15:, 1] = 2.0
    settings = settings_for(image)
    shown = to_display(image, settings)
    assert shown.shape == (20, 30) and shown[0, 0] == 0
    assert auto_range(image, 1)[1] > auto_range(image, 1)[0]
    two = DisplaySettings((1,), (auto_range(image, 1),), "auto")
    assert to_display(image, two)[5, 20] == 255


def test_a_flat_image_shows_grey_and_a_mostly_flat_one_its_extremes():
    flat = np.full((4, 4, 1), 128, np.uint16)
    assert to_display(flat, settings_for(flat))[0, 0] in (127, 128)
    sparse = np.zeros((100, 100, 1), np.uint16)  # a dark background, a few bright spots
    sparse[:3, :3] = 4000
    sparse[50, 50] = 2000
    shown = to_display(sparse, settings_for(sparse))
    assert shown[0, 0] == 255 and shown[50, 50] in (127, 128) and shown[90, 90] == 0


def test_black_above_white_shows_the_image_inverted():
    image = np.array([[0, 100, 200]], np.uint16)[:, :, None]
    for plane in (image, image.astype(np.float32)):
        inverted = DisplaySettings((0,), ((200.0, 0.0),), "manual")
        assert to_display(plane, inverted)[0, 0] == 255 and to_display(plane, inverted)[0, 2] == 0
        assert to_display(plane, inverted)[0, 1] in (127, 128)


def test_settings_keep_the_users_choices_across_images():
    a = np.zeros((10, 10, 5), np.uint16)
    manual = DisplaySettings((4, 3, 2), ((0, 10),) * 3, "manual")
    assert settings_for(a, manual) == manual
    b = np.zeros((10, 10, 3), np.uint16)  # channel 4 is gone: back to defaults
    assert settings_for(b, manual).channels == (0, 1, 2)


def _render(layer: IndexLayer, width: int, height: int, ratio: int = 1) -> np.ndarray:
    """The layer drawn over its whole image into a width x height RGBA picture (in
    physical pixels: `ratio` of them to a logical one, as on a high-DPI screen)."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QGraphicsScene

    scene = QGraphicsScene()
    scene.addItem(layer)
    picture = QImage(width, height, QImage.Format.Format_RGBA8888)
    picture.fill(QColor(0, 0, 0, 0))
    picture.setDevicePixelRatio(ratio)
    painter = QPainter(picture)
    scene.render(painter, QRectF(0, 0, width / ratio, height / ratio), layer.boundingRect())
    painter.end()
    scene.removeItem(layer)
    return np.frombuffer(picture.constBits(), np.uint8).reshape(height, width, 4).copy()


def test_index_layer_paints_class_colours_at_1_to_1_and_zoomed_out(qapp):
    classes = default_classes(["a", "b"])
    mask = np.full((100, 120), UNLABELLED, np.uint8)
    mask[:, 60:] = 1
    mask[:40, :60] = 0
    layer = IndexLayer(z=0)
    layer.set_indices(mask, label_colors(classes))
    for scale in (1, 4):  # 1:1, and a quarter, where every 4th pixel is drawn
        shown = _render(layer, 120 // scale, 100 // scale)
        assert tuple(shown[60 // scale, 100 // scale]) == (*classes[1].color, 255)
        assert tuple(shown[20 // scale, 20 // scale]) == (*classes[0].color, 255)
        assert shown[80 // scale, 20 // scale, 3] == 0  # unlabelled: transparent
    high_dpi = _render(layer, 60, 50, ratio=2)  # a quarter, on a screen of twice the pixels
    assert tuple(high_dpi[30, 50]) == (*classes[1].color, 255)
    assert tuple(high_dpi[10, 10]) == (*classes[0].color, 255) and high_dpi[40, 10, 3] == 0
    zoomed = _render(layer, 480, 400)  # 4 screen pixels per image pixel, crisp edges
    assert tuple(zoomed[4 * 39 + 3, 4 * 30]) == (*classes[0].color, 255)
    assert zoomed[4 * 40, 4 * 30, 3] == 0
    assert tuple(zoomed[4 * 50, 4 * 60]) == (*classes[1].color, 255)
    assert tuple(zoomed[4 * 50, 4 * 60 - 1]) != tuple(zoomed[4 * 50, 4 * 60])
    assert tuple(layer.pixels[50, 100]) == (*classes[1].color, 255)


def test_index_layer_shows_changed_indices_and_colours(qapp):
    classes = default_classes(["a", "b"])
    mask = np.full((100, 120), UNLABELLED, np.uint8)
    layer = IndexLayer(z=0)
    layer.set_indices(mask, label_colors(classes))
    assert not _render(layer, 120, 100).any()
    mask[10:20, 30:40] = 1  # edited in place, as the canvas does
    layer.refresh_region(10, 30, 20, 40)
    assert tuple(_render(layer, 120, 100)[15, 35]) == (*classes[1].color, 255)
    layer.set_colors(label_colors(default_classes(["x", "y"])[::-1]))
    assert tuple(_render(layer, 120, 100)[15, 35]) == (*default_classes(["x", "y"])[0].color, 255)


def test_index_layer_keeps_no_colour_copy_of_a_big_mask(qapp):
    import tracemalloc

    mask = np.zeros((4000, 4000), np.uint8)
    layer = IndexLayer(z=0)
    tracemalloc.start()
    layer.set_indices(mask, label_colors(default_classes(["a"])))
    shown = _render(layer, 400, 400)  # fitted to a 400-pixel view
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert shown[200, 200, 3] == 255
    assert peak < 4_000_000  # an RGBA copy of the mask would be 64 MB


def test_the_uncertainty_highlight_takes_a_colour_unlike_the_classes():
    from segstudio.gui.rendering import color_distance, confidence_colors, highlight_color

    assert highlight_color([]) == (255, 255, 0)  # yellow when nothing competes
    yellow_magenta = [LabelClass("a", (255, 255, 0)), LabelClass("b", (255, 0, 255))]
    # Cyan is 255 away in two channels from both; blue (0, 64, 255) only 69121 from magenta.
    assert highlight_color(yellow_magenta) == (0, 255, 255)
    table = confidence_colors((0, 255, 255))
    assert tuple(table[0]) == (0, 200, 200, 200) and tuple(table[255]) == (0, 0, 0, 0)
    eleven = default_classes([str(i) for i in range(11)])
    color = highlight_color(eleven)
    assert min(color_distance(color, c.color) for c in eleven) > 5000


def test_large_images_are_scaled_by_bands_of_rows_alike():
    """Bands of rows (on threads) give what one pass over the whole image gives."""
    from segstudio.gui.rendering import BAND_ROWS

    rng = np.random.default_rng(0)
    height = 2 * BAND_ROWS + 37  # a last band shorter than the others
    image = rng.integers(0, 4096, (height, 9, 3), dtype=np.uint16)
    settings = DisplaySettings((2, 0, 1), ((100.0, 3000.0), (0.0, 4095.0), (4000.0, 50.0)),
                               "manual")
    shown = to_display(image, settings)
    for out, (channel, (low, high)) in enumerate(zip(settings.channels, settings.ranges,
                                                     strict=True)):
        expected = np.clip((image[:, :, channel] - low) * (255 / (high - low)) + 0.5, 0, 255)
        np.testing.assert_array_equal(shown[:, :, out], expected.astype(np.uint8))
    gray = to_display(image.astype(np.float32), DisplaySettings((1,), ((0.0, 4095.0),), "manual"))
    assert gray.shape == (height, 9) and gray.flags["C_CONTIGUOUS"]
    expected = np.clip(image[:, :, 1].astype(np.float32) * np.float32(255 / 4095), 0, 255)
    np.testing.assert_array_equal(gray, expected.astype(np.uint8))

"""Images as 8-bit RGB for display, and class-colour overlays."""

import numpy as np

from segstudio.core.classes import default_classes
from segstudio.core.display import overlay, to_rgb8


def test_to_rgb8_stretches_16_bit_and_spreads_grey():
    image = np.zeros((4, 50, 1), np.uint16)
    image[:, 25:] = 4000
    rgb = to_rgb8(image)
    assert rgb.shape == (4, 50, 3) and rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[0, 49].tolist() == [255, 255, 255]
    tinted = overlay(np.full((1, 2, 3), 100, np.uint8), np.array([[0, 255]], np.uint8),
                     default_classes(["a"]))
    assert tinted.tolist() == [[[165, 63, 88], [100, 100, 100]]]  # (100 + 230) / 2, ...


def test_to_rgb8_stretches_16_bit_and_repeats_gray():
    ramp = np.linspace(0, 4000, 100 * 50).reshape(100, 50, 1).astype(np.uint16)
    rgb = to_rgb8(ramp)
    assert rgb.shape == (100, 50, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_to_rgb8_copes_with_nan_pixels():
    image = np.random.default_rng(0).random((40, 30, 1)).astype(np.float32)
    image[:5] = np.nan
    rgb = to_rgb8(image)
    assert rgb.dtype == np.uint8 and (rgb[:5] == 0).all() and rgb[5:].max() == 255
    assert to_rgb8(np.full((4, 4, 2), np.nan, np.float32)).max() == 0

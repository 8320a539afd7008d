"""The fill tool follows the image by default; by label region on request."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from segstudio.core.classes import UNLABELLED  # noqa: E402
from tests.gui.window_helpers import click, key, make_project, open_window  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(qtbot, tmp_path):
    """A noisy dark disk on a noisy bright background: two regions a fill should tell apart."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:240, :320]
    inside = (xx - 110) ** 2 + (yy - 120) ** 2 < 70**2
    pixels = np.where(inside, 60, 190) + rng.integers(-10, 11, inside.shape)
    Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "disk.png")
    np.save(tmp_path / "inside.npy", inside)
    project = make_project(tmp_path / "proj", [tmp_path / "disk.png"])
    return open_window(qtbot, project.root)


def test_fill_click_labels_only_the_clicked_region_of_the_image(qtbot, window, tmp_path):
    inside = np.load(tmp_path / "inside.npy")
    mask = window.current_mask()
    key(qtbot, window, Qt.Key.Key_F)
    status = window.status.paint_label.text()
    assert "Fill" in status and "by image ±10%" in status
    assert "similar image values" in window.actions_.tool_actions["fill"].toolTip()
    key(qtbot, window, Qt.Key.Key_2)
    click(qtbot, window, 110.5, 120.5)  # in the disk
    assert (mask[inside] == 1).all() and (mask[~inside] == UNLABELLED).all()
    key(qtbot, window, Qt.Key.Key_1)
    click(qtbot, window, 300.5, 20.5)  # on the background: the disk keeps its label
    assert (mask[~inside] == 0).all() and (mask[inside] == 1).all()
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert (mask[~inside] == UNLABELLED).all()


def test_fill_options_switch_to_label_regions_and_set_the_tolerance(qtbot, window, tmp_path):
    inside = np.load(tmp_path / "inside.npy")
    mask = window.current_mask()
    options = window.tool_options.fill
    assert options.mode.toolTip() and "±25.5" in options.tolerance.toolTip()  # 10% of 0..255
    key(qtbot, window, Qt.Key.Key_F)
    options.tolerance.setValue(0.0)  # only pixels equal to the clicked one
    click(qtbot, window, 110.5, 120.5)
    assert 0 < np.count_nonzero(mask == 0) < inside.sum() // 5
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    options.mode.setCurrentIndex(options.mode.findData("label"))
    assert not options.tolerance.isEnabled()
    assert "by label region" in window.status.paint_label.text()
    click(qtbot, window, 110.5, 120.5)  # the whole unlabelled area, whatever the image
    assert (mask == 0).all()


def test_fill_works_with_black_set_above_white_which_shows_the_image_inverted(qtbot, window,
                                                                             tmp_path):
    inside = np.load(tmp_path / "inside.npy")
    black, white = window.display_panel.rows[0][2:4]
    black.setValue(250)
    white.setValue(5)
    shown = window.canvas.image_layer.pixels
    assert shown[inside].mean() > 170 and shown[~inside].mean() < 80  # the dark disk shows bright
    key(qtbot, window, Qt.Key.Key_F)
    click(qtbot, window, 110.5, 120.5)  # 10% of the 245 wide range, as with 5..250
    assert (window.current_mask()[inside] == 0).all()
    assert (window.current_mask()[~inside] == UNLABELLED).all()
    assert window.errors == []

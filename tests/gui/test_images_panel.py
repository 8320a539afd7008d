"""The Images list: thumbnails of any image shape make rows of one height."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from segstudio.gui.panels.images import (  # noqa: E402
    ENTRY_ROLE,
    PLACEHOLDER_GREY,
    THUMB_SIZE,
    make_thumbnail,
)


def test_thumbnails_are_square_with_the_image_fitted_and_centred():
    long_thin = np.full((400, 3000, 1), 200, np.uint8)  # 9 rows high in the thumbnail
    thumb = make_thumbnail(long_thin)
    assert thumb.shape == (THUMB_SIZE, THUMB_SIZE, 3)
    middle = THUMB_SIZE // 2
    assert tuple(thumb[middle, 0]) == (200, 200, 200)  # the image spans the width...
    assert tuple(thumb[0, middle]) == PLACEHOLDER_GREY  # ...and sits between grey bands

    tiny = np.zeros((5, 7, 3), np.uint8)
    tiny[:, :, 0] = 255
    thumb = make_thumbnail(tiny)  # enlarged to fill the width, pixel by pixel
    assert thumb.shape == (THUMB_SIZE, THUMB_SIZE, 3)
    assert tuple(thumb[middle, 0]) == (255, 0, 0) and tuple(thumb[middle, -1]) == (255, 0, 0)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint32, np.float64])
def test_thumbnails_of_any_pixel_type_opencv_cannot_resize(dtype):
    image = np.zeros((300, 200, 2), dtype)
    image[:150] = 100
    thumb = make_thumbnail(image)
    assert thumb.shape == (THUMB_SIZE, THUMB_SIZE, 3)
    assert thumb[10, 32, 0] > thumb[60, 32, 0]  # the bright top half shows bright


def test_every_row_of_the_list_is_as_tall_as_a_thumbnail(qtbot):
    """The list measures one row for all (uniform sizes, for speed with thousands of
    images): a tiny or long thin image must not make every row short."""
    from PySide6.QtGui import QIcon, QPixmap
    from PySide6.QtWidgets import QListWidgetItem

    from segstudio.gui.panels.images import ImagesPanel
    from segstudio.gui.rendering import array_qimage

    panel = ImagesPanel()
    qtbot.addWidget(panel)
    for shape in ((300, 300, 1), (40, 3000, 1), (5, 7, 1)):
        icon = QIcon(QPixmap.fromImage(array_qimage(make_thumbnail(np.zeros(shape, np.uint8)))))
        panel.list.addItem(QListWidgetItem(icon, "name.png\n0% labelled"))
    panel.show()
    qtbot.waitExposed(panel)
    heights = {panel.list.visualItemRect(panel.list.item(row)).height()
               for row in range(panel.list.count())}
    assert len(heights) == 1 and heights.pop() >= THUMB_SIZE


def test_images_of_an_unusual_number_of_channels_are_marked(qtbot, tmp_path):
    import cv2

    from tests.gui.window_helpers import make_project, open_window

    paths = []
    for name, shape in (("a.png", (30, 40)), ("b.png", (30, 40)), ("c.png", (30, 40, 3))):
        paths.append(tmp_path / name)
        cv2.imwrite(str(paths[-1]), np.full(shape, 100, np.uint8))
    window = open_window(qtbot, make_project(tmp_path / "proj", paths).root)
    panel = window.images_panel
    qtbot.waitUntil(lambda: len(panel._channels) == 3, timeout=5000)
    texts = [panel.list.item(row).text() for row in range(3)]
    assert texts[2] == "c.png\n0% labelled · 3 channels"
    assert "unlike most images" in panel.list.item(2).toolTip()
    assert all("channel" not in text for text in texts[:2])


def test_the_images_context_menu_moves_an_image_to_validation_and_back(qtbot, tmp_path):
    import cv2

    from segstudio.core.project import Project
    from tests.gui.window_helpers import make_project, open_window

    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in paths:
        cv2.imwrite(str(path), np.full((30, 40), 100, np.uint8))
    window = open_window(qtbot, make_project(tmp_path / "proj", paths).root)
    panel = window.images_panel

    def right_click_and_pick(text):
        menu = panel.entry_menu(panel.list.item(1).data(ENTRY_ROLE))
        next(action for action in menu.actions() if action.text() == text).trigger()

    right_click_and_pick("Use for Validation")
    assert panel.list.item(1).text() == "b.png\n0% labelled · validation"
    assert [e.split for e in Project.open(window.project.root).images] == ["train", "val"]
    assert "now used for validation" in window.statusBar().currentMessage()
    right_click_and_pick("Use for Validation")  # checked: unchecking moves it back
    assert panel.list.item(1).text() == "b.png\n0% labelled"
    assert [e.split for e in Project.open(window.project.root).images] == ["train", "train"]

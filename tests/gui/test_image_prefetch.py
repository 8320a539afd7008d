"""Reading the neighbouring images ahead: Page Down shows the next image without
reading it then, and a file changed meanwhile is read again."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

import cv2  # noqa: E402

from segstudio.core.images import load_image  # noqa: E402
from segstudio.gui.image_prefetch import ImagePrefetcher  # noqa: E402
from tests.gui.window_helpers import make_project, open_window  # noqa: E402


@pytest.fixture
def three_images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for n in range(3):
        path = tmp_path / "images" / f"{n}.png"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 256, (120, 160), dtype=np.uint8))
        paths.append(path)
    return paths


def reads_in_gui_thread(window, monkeypatch) -> list[str]:
    """Names of the images the window itself reads from now on (not the prefetcher)."""
    import threading

    read, load = [], window.project.load_image
    main = threading.main_thread()

    def counting_load(entry):
        if threading.current_thread() is main:
            read.append(entry.name)
        return load(entry)

    monkeypatch.setattr(window.project, "load_image", counting_load)
    return read


def test_the_next_and_previous_images_are_read_ahead(qtbot, tmp_path, three_images,
                                                     monkeypatch):
    window = open_window(qtbot, make_project(tmp_path / "project", three_images).root)
    first, second, third = window.project.images
    read = reads_in_gui_thread(window, monkeypatch)
    window.show_entry(second)  # the first one was on screen: the second was read ahead
    assert read == []
    np.testing.assert_array_equal(window.current_image(), load_image(three_images[1]))
    qtbot.waitUntil(lambda: window.prefetcher._cache.keys() >= {first.id, third.id},
                    timeout=5000)
    window.show_entry(third)
    window.show_entry(first)
    assert read == []


def test_an_image_changed_after_it_was_read_ahead_is_read_again(qtbot, tmp_path,
                                                                three_images, monkeypatch):
    window = open_window(qtbot, make_project(tmp_path / "project", three_images).root)
    second = window.project.images[1]
    qtbot.waitUntil(lambda: second.id in window.prefetcher._cache, timeout=5000)
    changed = np.full((120, 160), 7, np.uint8)
    cv2.imwrite(str(three_images[1]), changed)  # e.g. re-exported by another program
    read = reads_in_gui_thread(window, monkeypatch)
    window.show_entry(second)
    assert read == [second.name]
    np.testing.assert_array_equal(window.current_image()[:, :, 0], changed)


def test_the_read_ahead_keeps_within_its_limits():
    from segstudio.gui.image_prefetch import _stamp

    class Project:
        def load_image(self, entry):
            return np.zeros(entry.shape, np.uint8)

    class Entry:
        def __init__(self, n, shape):
            self.id, self.shape, self.path = str(n), shape, __file__

    prefetcher = ImagePrefetcher(max_images=2, max_bytes=1000)
    small = [Entry(n, (10, 10)) for n in range(3)]  # 100 bytes each
    for entry in small:  # read as the background thread reads, one after the other
        prefetcher._read(Project(), entry, _stamp(entry), prefetcher._generation)
    assert list(prefetcher._cache) == ["1", "2"]  # the oldest made way
    prefetcher._read(Project(), Entry(3, (40, 40)), _stamp(small[0]), prefetcher._generation)
    assert list(prefetcher._cache) == []  # 1600 bytes: over the budget, kept for no one
    assert prefetcher.take(small[2]) is None
    prefetcher._read(Project(), small[2], _stamp(small[2]), prefetcher._generation - 1)
    assert prefetcher.take(small[2]) is None  # read for a project since closed: dropped
    prefetcher._read(Project(), small[2], _stamp(small[2]), prefetcher._generation)
    assert prefetcher.take(small[2]).shape == (10, 10)
    assert prefetcher.take(small[2]) is None  # handed out once
    prefetcher.shutdown()

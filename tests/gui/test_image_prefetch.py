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


def decodes_in_gui_thread(monkeypatch) -> list[str]:
    """Names of the image files decoded in the GUI thread from now on (by the window,
    not the read-ahead)."""
    import threading

    import segstudio.core.project as project_module

    decoded, decode = [], project_module.load_image
    main = threading.main_thread()

    def counting_decode(path):
        if threading.current_thread() is main:
            decoded.append(path.stem)
        return decode(path)

    monkeypatch.setattr(project_module, "load_image", counting_decode)
    return decoded


def test_the_next_and_previous_images_are_read_ahead(qtbot, tmp_path, three_images,
                                                     monkeypatch):
    window = open_window(qtbot, make_project(tmp_path / "project", three_images).root)
    first, second, third = window.project.images
    qtbot.waitUntil(lambda: window.prefetcher.holds(second), timeout=5000)
    decoded = decodes_in_gui_thread(monkeypatch)
    window.show_entry(second)  # the first one was on screen: the second was read ahead
    assert decoded == []
    np.testing.assert_array_equal(window.current_image(), load_image(three_images[1]))
    qtbot.waitUntil(lambda: window.prefetcher.holds(third), timeout=5000)
    window.show_entry(third)
    window.show_entry(second)  # still held: the one before the image on screen
    assert decoded == []


def test_an_image_changed_after_it_was_read_ahead_is_read_again(qtbot, tmp_path,
                                                                three_images, monkeypatch):
    window = open_window(qtbot, make_project(tmp_path / "project", three_images).root)
    second = window.project.images[1]
    qtbot.waitUntil(lambda: window.prefetcher.holds(second), timeout=5000)
    changed = np.full((120, 160), 7, np.uint8)
    cv2.imwrite(str(three_images[1]), changed)  # e.g. re-exported by another program
    decoded = decodes_in_gui_thread(monkeypatch)
    window.show_entry(second)
    assert decoded == [three_images[1].stem]
    np.testing.assert_array_equal(window.current_image()[:, :, 0], changed)


class FakeProject:
    def __init__(self):
        self.reads = []

    def load_image(self, entry):
        self.reads.append(entry.id)
        return np.zeros(entry.shape, np.uint8)


class FakeEntry:
    def __init__(self, n, shape):
        self.id, self.shape = str(n), shape


def test_the_read_ahead_keeps_within_its_limits():
    prefetcher = ImagePrefetcher(max_images=2, max_bytes=1000)
    small = [FakeEntry(n, (10, 10)) for n in range(3)]  # 100 bytes each
    for entry in small:  # read as the background thread reads, one after the other
        prefetcher._read(FakeProject(), entry, prefetcher._generation)
    assert [prefetcher.holds(entry) for entry in small] == [False, True, True]  # oldest out
    large = FakeEntry(3, (40, 40))
    prefetcher._read(FakeProject(), large, prefetcher._generation)
    assert not any(prefetcher.holds(e) for e in small + [large])  # 1600 bytes: over budget
    prefetcher._read(FakeProject(), small[2], prefetcher._generation - 1)
    assert not prefetcher.holds(small[2])  # read for a project since closed: dropped
    prefetcher.shutdown()


def test_an_image_held_or_being_read_is_not_read_again():
    prefetcher = ImagePrefetcher()
    project, entries = FakeProject(), [FakeEntry(n, (10, 10)) for n in range(2)]
    prefetcher.prefetch(project, entries)
    prefetcher.prefetch(project, entries)
    prefetcher._executor.shutdown(wait=True)
    assert sorted(project.reads) == ["0", "1"]
    assert all(prefetcher.holds(entry) for entry in entries)

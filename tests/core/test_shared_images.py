import gc
import os
import threading
import time

import numpy as np
import pytest
import tifffile

from segstudio.core.classes import default_classes
from segstudio.core.images import load_image
from segstudio.core.project import Project
from segstudio.core.shared_images import SharedImages


class CountingReader:
    def __init__(self, delay_s: float = 0.0):
        self.calls, self.delay_s = 0, delay_s

    def __call__(self, path):
        self.calls += 1
        threading.Event().wait(self.delay_s)
        return load_image(path)


@pytest.fixture
def tif(tmp_path):
    path = tmp_path / "image.tif"
    tifffile.imwrite(path, np.arange(48, dtype=np.uint16).reshape(6, 8))
    return path


def test_readers_of_one_file_share_one_read_only_array(tif):
    shared, reader = SharedImages(), CountingReader()
    first, second = shared.load(tif, reader), shared.load(tif, reader)
    assert first is second and reader.calls == 1
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0, 0, 0] = 1
    assert first[:, :, 0].tolist() == np.arange(48).reshape(6, 8).tolist()


def test_a_file_changed_on_disk_is_read_again(tif):
    shared, reader = SharedImages(), CountingReader()
    before = shared.load(tif, reader)
    stat = os.stat(tif)
    time.sleep(0.01)
    tifffile.imwrite(tif, np.full((6, 8), 7, np.uint16))  # the same size on disk
    os.utime(tif, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime, kept
    assert os.stat(tif).st_size == stat.st_size
    after = shared.load(tif, reader)
    assert reader.calls == 2 and after is not before
    assert (after == 7).all() and before[0, 1, 0] == 1  # the old array is left as it was


def test_an_image_nobody_holds_is_let_go(tif):
    shared, reader = SharedImages(), CountingReader()
    shared.load(tif, reader)  # and not kept
    gc.collect()
    shared.load(tif, reader)
    assert reader.calls == 2


def test_threads_reading_the_same_file_at_once_end_with_one_array(tif):
    shared, reader = SharedImages(), CountingReader(delay_s=0.05)
    results, start = [], threading.Barrier(4)

    def read():
        start.wait()
        results.append(shared.load(tif, reader))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_a_missing_file_gets_the_readers_own_error(tmp_path):
    with pytest.raises(Exception, match="missing.tif"):
        SharedImages().load(tmp_path / "missing.tif", load_image)


def test_the_window_and_the_trainer_get_the_same_image_from_a_project(tmp_path, tif):
    project = Project.create(tmp_path / "project", [tif], default_classes(["a", "b"]))
    entry = project.images[0]
    shown = project.load_image(entry)  # the window's
    trained = []  # the trainer's, on its own thread
    thread = threading.Thread(target=lambda: trained.append(project.load_image(entry.id)))
    thread.start()
    thread.join()
    assert trained[0] is shown and not shown.flags.writeable

"""Kill a process writing a project at random moments: every file must be old or new.

A writer subprocess saves label PNGs and project.json (or renumbers classes) in a
loop; the test SIGKILLs it after a random delay, many times over, and checks that
every file still parses and equals one of the versions written.
"""

import inspect
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.core.classes import default_classes
from segstudio.core.masks import read_mask
from segstudio.core.project import Project
from segstudio.core.project_entries import LabelStats

REPO = Path(__file__).resolve().parents[2]
SIZE = 96
KILLS_WRITING = 16
KILLS_RENUMBERING = 10

def version_mask(k, image):
    """Version k of an image's labels, recognisable from its pixels (k in binary, first row)."""
    rng = np.random.default_rng(1000 * k + image)
    mask = rng.integers(0, 3, size=(96, 96)).astype(np.uint8)
    mask[rng.random((96, 96)) < 0.3] = 255
    mask[0, :16] = [(k >> bit) & 1 for bit in range(16)]
    return mask


WRITER = "import numpy as np\n" + inspect.getsource(version_mask) + """
import sys
from segstudio.core.project import Project
project = Project.open(sys.argv[1])
mode = sys.argv[2]
k = project.settings.get("version", 0)
first = k + 1
while True:
    k += 1
    if mode == "write":
        for i, entry in enumerate(project.images):
            project.save_labels(entry, version_mask(k, i))
        project.set_setting("version", k)
    else:
        project.move_class(0, 2)
    if k == first:
        print("ready", flush=True)
"""


def version_of(mask, image):
    k = int(sum(int(v) << bit for bit, v in enumerate(mask[0, :16])))
    return k if np.array_equal(mask, version_mask(k, image)) else None


def make_project(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / "img" / f"{name}.png"), np.zeros((SIZE, SIZE), np.uint8))
    return Project.create(tmp_path / "proj", tmp_path / "img", default_classes(["x", "y", "z"]))


def kill_writer_at_random(project, mode, rng):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(project.root), mode],
        stdout=subprocess.PIPE, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert writer.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0, 0.08))
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()


def test_killed_label_and_project_writes_leave_old_or_new_files(tmp_path):
    project = make_project(tmp_path)
    for i, entry in enumerate(project.images):
        project.save_labels(entry, version_mask(0, i))
    rng = random.Random(7)
    seen_versions = set()
    for _ in range(KILLS_WRITING):
        kill_writer_at_random(project, "write", rng)
        # Every file on disk is whole: read them raw before Project.open tidies anything.
        versions = []
        for i, entry in enumerate(project.images):
            k = version_of(read_mask(project.label_path(entry)), i)
            assert k is not None, f"{entry.id}: torn or unknown label file"
            versions.append(k)
        reopened = Project.open(project.root)
        # Each iteration writes the images in order, then records the version it finished.
        done = reopened.settings["version"]
        assert all(v in (done, done + 1) for v in versions), (done, versions)
        assert versions == sorted(versions, reverse=True)
        seen_versions.update(versions)
        for entry in reopened.images:
            mask = reopened.load_labels(entry)
            assert reopened.label_stats(entry) == LabelStats.of_mask(mask, 3)
        leftovers = [p.name for p in (project.root / "labels").iterdir() if p.name.startswith(".")]
        assert all(name.endswith(".png.tmp") for name in leftovers)  # unfinished temporaries
    assert len(seen_versions) > KILLS_WRITING  # the versions moved on between kills


def test_killed_class_renumbering_keeps_labels_meaning_the_same_classes(tmp_path):
    project = make_project(tmp_path)
    # Columns painted x | y | z | unlabelled, in every image.
    painted = np.full((SIZE, SIZE), 255, np.uint8)
    for index in range(3):
        painted[:, index * 24:(index + 1) * 24] = index
    for entry in project.images:
        project.save_labels(entry, painted)
    rng = random.Random(11)
    for _ in range(KILLS_RENUMBERING):
        kill_writer_at_random(project, "renumber", rng)
        reopened = Project.open(project.root)
        names = [c.name for c in reopened.classes]
        assert sorted(names) == ["x", "y", "z"]
        for entry in reopened.images:
            mask = reopened.load_labels(entry)
            for index, name in enumerate(["x", "y", "z"]):
                column = mask[:, index * 24:(index + 1) * 24]
                assert (column == names.index(name)).all(), f"{entry.id}: {name} renumbered wrongly"
            assert (mask[:, 72:] == 255).all()
        # Any batch left in labels/.staging never reached its commit point: ignored.
        assert "pending_labels" not in (project.root / "project.json").read_text()


@pytest.mark.parametrize("k", [1, 2, 40000])
def test_version_masks_are_recognised(k):
    assert version_of(version_mask(k, 2), 2) == k
    assert version_of(version_mask(k, 2), 1) is None

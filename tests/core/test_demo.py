from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.core.classes import UNLABELLED
from segstudio.core.demo import (
    BACKGROUND,
    CELL,
    DEMO_CLASSES,
    DEMO_DIR_ENV,
    DEMO_IMAGE_COUNT,
    DEMO_SEED,
    NUCLEUS,
    create_demo_project,
    demo_labels,
    demo_project_dir,
    generate_sample,
    open_or_create_demo,
)
from segstudio.core.errors import ProjectError
from segstudio.core.project import Project


@pytest.fixture(scope="module")
def samples():
    return [generate_sample(DEMO_SEED, i) for i in range(DEMO_IMAGE_COUNT)]


def test_samples_are_deterministic_and_differ_from_each_other(samples):
    again = generate_sample(DEMO_SEED, 1)
    assert (again.image == samples[1].image).all() and (again.truth == samples[1].truth).all()
    assert not (samples[0].image == samples[1].image).all()
    assert not (generate_sample(DEMO_SEED + 1, 1).truth == samples[1].truth).all()


def test_sample_shapes_and_classes(samples):
    for sample in samples:
        assert sample.image.shape == (256, 256, 3) and sample.image.dtype == np.uint8
        assert sample.truth.shape == (256, 256) and sample.truth.dtype == np.uint8
        fractions = np.bincount(sample.truth.ravel(), minlength=3) / sample.truth.size
        assert fractions.size == 3  # every pixel is one of the three classes
        assert fractions[BACKGROUND] > 0.5 and fractions[CELL] > 0.1 and fractions[NUCLEUS] > 0.01
    assert [c.name for c in DEMO_CLASSES] == ["background", "cell", "nucleus"]


def test_every_nucleus_lies_inside_a_cell(samples):
    for sample in samples:
        nuclei = (sample.truth == NUCLEUS).astype(np.uint8)
        grown = cv2.dilate(nuclei, np.ones((3, 3), np.uint8))
        assert not (grown.astype(bool) & (sample.truth == BACKGROUND)).any()
        cells = (sample.truth != BACKGROUND).astype(np.uint8)
        count, _ = cv2.connectedComponents(cells, connectivity=4)
        assert count - 1 == len(sample.cells)  # the cells do not touch each other


def test_classes_are_told_apart_by_colour(samples):
    """A nearest-mean-colour classifier fitted on one image labels another well."""
    train, test = samples[0], samples[3]
    smooth = [cv2.blur(s.image, (3, 3)).astype(np.float32) for s in (train, test)]
    means = np.stack([smooth[0][train.truth == c].mean(axis=0) for c in range(3)])
    distances = ((smooth[1][:, :, None, :] - means[None, None]) ** 2).sum(axis=3)
    accuracy = (distances.argmin(axis=2) == test.truth).mean()
    assert accuracy > 0.9
    assert means[NUCLEUS].sum() < means[CELL].sum() < means[BACKGROUND].sum()


def test_demo_labels_agree_with_the_truth_where_painted(samples):
    for index, sample in enumerate(samples):
        labels = demo_labels(sample, index)
        painted = labels != UNLABELLED
        assert (labels[painted] == sample.truth[painted]).all()
        present = set(np.unique(labels[painted]).tolist())
        if index < 2:
            assert present == {BACKGROUND, CELL, NUCLEUS}
            assert 0.01 < painted.mean() < 0.3  # scribbles, not the whole image
        else:
            assert not painted.any()
    assert (demo_labels(samples[1], 1) == demo_labels(generate_sample(DEMO_SEED, 1), 1)).all()


def test_first_image_has_whole_cells_outlined(samples):
    labels, truth = demo_labels(samples[0], 0), samples[0].truth
    cells = (truth != BACKGROUND).astype(np.uint8)
    _, components = cv2.connectedComponents(cells, connectivity=4)
    outlined = np.unique(components[(labels == CELL) | (labels == NUCLEUS)])
    assert len(outlined) == 3
    for component in outlined:  # every pixel of each outlined cell is labelled as in the truth
        inside = components == component
        assert (labels[inside] == truth[inside]).all()


def test_demo_project_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(DEMO_DIR_ENV, str(tmp_path / "here"))
    assert demo_project_dir() == tmp_path / "here"
    monkeypatch.delenv(DEMO_DIR_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = demo_project_dir()
    assert default.parts[-2:] == ("segstudio", "demo")
    assert isinstance(default, Path) and default.is_absolute()


# --- the demo project on disk -------------------------------------------------


def test_create_demo_project(tmp_path, samples):
    created = create_demo_project(tmp_path / "demo")
    project = Project.open(tmp_path / "demo")
    assert project.classes == DEMO_CLASSES
    assert [e.name for e in project.images] == [f"cells_{i}.png" for i in (1, 2, 3, 4)]
    assert [e.id for e in created.images] == [e.id for e in project.images]
    fractions = [project.label_stats(e).fraction for e in project.images]
    assert fractions[0] > 0.01 and fractions[1] > 0.01 and fractions[2:] == [0, 0]
    for index, (entry, sample) in enumerate(zip(project.images, samples, strict=True)):
        image = project.load_image(entry)
        assert (image == sample.image).all()  # lossless PNG of the generated image
        labels = project.load_labels(entry)
        assert (labels == demo_labels(sample, index)).all()
        painted = labels != UNLABELLED
        assert (labels[painted] == sample.truth[painted]).all()


def test_demo_project_is_deterministic(tmp_path):
    first, second = create_demo_project(tmp_path / "a"), create_demo_project(tmp_path / "b")
    for a, b in zip(first.images, second.images, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert (first.load_labels(a) == second.load_labels(b)).all()


def test_open_or_create_demo_keeps_the_users_painting(tmp_path, monkeypatch):
    monkeypatch.setenv(DEMO_DIR_ENV, str(tmp_path / "mine"))
    project = open_or_create_demo()
    assert project.root == tmp_path / "mine"
    entry = project.images[3]
    labels = project.load_labels(entry)
    labels[:10, :10] = CELL
    project.save_labels(entry, labels)
    entry.path.unlink()  # a lost demo image is generated again

    again = open_or_create_demo()
    assert (again.load_labels(again.images[3]) == labels).all()
    assert again.label_stats(again.images[3]).fraction == 100 / 256**2
    assert (again.load_image(again.images[3]) == generate_sample(DEMO_SEED, 3).image).all()
    with pytest.raises(ProjectError):
        create_demo_project(tmp_path / "mine")

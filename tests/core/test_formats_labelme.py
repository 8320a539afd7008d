import json

import cv2
import numpy as np
import pytest

from segstudio.core.classes import UNLABELLED, default_classes
from segstudio.core.errors import MaskError, ProjectError
from segstudio.core.formats.labelme import import_labelme
from segstudio.core.project import Project


@pytest.fixture
def project(tmp_path):
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "x.png"), np.zeros((10, 12), np.uint8))
    cv2.imwrite(str(tmp_path / "img" / "y.png"), np.zeros((10, 12), np.uint8))
    return Project.create(tmp_path / "proj", tmp_path / "img", default_classes(["bg", "a", "b"]))


def write_labelme(folder, name, shapes, image_path="../img/x.png", **extra):
    folder.mkdir(exist_ok=True)
    document = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
                "imageData": None, "imageHeight": 10, "imageWidth": 12, **extra}
    (folder / name).write_text(json.dumps(document))


def shape(label, kind, points):
    return {"label": label, "points": points, "group_id": None, "shape_type": kind, "flags": {}}


def test_polygon_rectangle_circle_match_hand_worked_pixels(tmp_path, project):
    write_labelme(tmp_path / "lm", "x.json", [
        shape("a", "polygon", [[0, 0], [4, 0], [0, 4]]),
        shape("b", "rectangle", [[8, 3], [6, 1]]),  # corners in any order
        shape("a", "circle", [[8, 5], [8, 3]]),  # radius 2; takes (8, 3) from the rectangle
        shape("b", "linestrip", [[0, 9], [5, 9]]),
        shape("b", "point", [[11, 9]]),
    ])
    report = import_labelme(project, tmp_path / "lm")
    assert report.imported == ["x.png"]
    assert sum("linestrip" in n for n in report.notes) == 1
    assert sum("point" in n for n in report.notes) == 1
    expected = np.full((10, 12), UNLABELLED, np.uint8)
    for y in range(5):  # triangle: every pixel with x + y <= 4
        expected[y, : 5 - y] = 1
    expected[1:4, 6:9] = 2  # rectangle, both corners included
    for y, x in np.ndindex(10, 12):  # circle: pixel centres within radius 2 of (8, 5)
        if (x - 8) ** 2 + (y - 5) ** 2 <= 4:
            expected[y, x] = 1
    assert np.count_nonzero(expected == 1) == 15 + 13
    np.testing.assert_array_equal(project.load_labels("x"), expected)
    assert project.label_stats("x").counts == [0, 28, 8]  # the circle took one rectangle pixel


def test_unknown_label_names_are_an_error_or_added(tmp_path, project):
    write_labelme(tmp_path / "lm", "x.json", [shape("car", "rectangle", [[0, 0], [1, 1]]),
                                              shape("tree", "rectangle", [[2, 2], [3, 3]])])
    with pytest.raises(ProjectError, match=r"unknown class names \['car', 'tree'\].*add-classes"):
        import_labelme(project, tmp_path / "lm")
    assert not project.has_labels("x") and len(project.classes) == 3
    report = import_labelme(project, tmp_path / "lm", add_classes=True)
    assert report.added_classes == ["car", "tree"]
    reopened = Project.open(project.root)
    assert [c.name for c in reopened.classes] == ["bg", "a", "b", "car", "tree"]
    assert reopened.load_labels("x")[0, 0] == 3 and reopened.load_labels("x")[3, 3] == 4


def test_background_matching_by_file_stem_and_existing_labels_kept(tmp_path, project):
    write_labelme(tmp_path / "lm", "y.json", [shape("a", "rectangle", [[0, 0], [1, 1]])],
                  image_path="elsewhere/y.jpg")
    import_labelme(project, tmp_path / "lm", background="bg")
    labels = project.load_labels("y")
    assert labels[0, 0] == 1 and (labels[2:] == 0).all()
    write_labelme(tmp_path / "lm", "y.json", [shape("b", "rectangle", [[0, 0], [1, 1]])],
                  image_path="y.png")
    report = import_labelme(project, tmp_path / "lm")
    assert "already has labels" in report.notes[0]
    assert project.load_labels("y")[0, 0] == 1
    import_labelme(project, tmp_path / "lm", overwrite=True)
    assert project.load_labels("y")[0, 0] == 2


def test_bad_labelme_files_are_clear_errors_and_change_nothing(tmp_path, project):
    write_labelme(tmp_path / "size", "x.json", [shape("a", "polygon", [[0, 0], [4, 0], [0, 4]])],
                  imageHeight=20)
    with pytest.raises(MaskError, match=r"x.json.*12x20.*12x10"):
        import_labelme(project, tmp_path / "size")
    write_labelme(tmp_path / "few", "x.json", [shape("a", "polygon", [[0, 0], [4, 0]])])
    with pytest.raises(MaskError, match=r"x.json: shape 0 \(polygon, 'a'\).*3"):
        import_labelme(project, tmp_path / "few")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.json").write_text("{oops")
    with pytest.raises(MaskError, match="x.json: not a readable labelme"):
        import_labelme(project, tmp_path / "junk")
    (tmp_path / "junk" / "x.json").write_text('{"shapes": [{"points": []}]}')
    with pytest.raises(MaskError, match="x.json: not a labelme file"):
        import_labelme(project, tmp_path / "junk")
    assert not project.has_labels("x")

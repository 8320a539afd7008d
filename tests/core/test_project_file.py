import json

import cv2
import numpy as np
import pytest

from segstudio.core.classes import default_classes
from segstudio.core.errors import ProjectError
from segstudio.core.project import Project
from segstudio.core.project_file import FORMAT_VERSION


@pytest.fixture
def project(tmp_path):
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.png"), np.zeros((4, 5), np.uint8))
    return Project.create(tmp_path / "proj", tmp_path / "img", default_classes(["bg", "fg"]))


def test_version_1_project_migrates_in_memory_and_keeps_a_backup(tmp_path):
    (tmp_path / "old" / "labels").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "old" / "x.png"), np.zeros((4, 5), np.uint8))
    cv2.imwrite(str(tmp_path / "old" / "labels" / "x.png"), np.full((4, 5), 1, np.uint8))
    v1 = json.dumps({"format_version": 1, "classes": ["bg", "fg"], "images": ["x.png"],
                     "settings": {"lr": 0.01}, "author": "lab 3"})
    (tmp_path / "old" / "project.json").write_text(v1)
    project = Project.open(tmp_path / "old")
    assert [c.name for c in project.classes] == ["bg", "fg"]
    entry = project.images[0]
    assert (entry.name, entry.split, entry.exists) == ("x.png", "train", True)
    assert (project.load_labels(entry) == 1).all()  # v1 label files are found
    assert project.settings == {"lr": 0.01}
    assert (tmp_path / "old" / "project.json").read_text() == v1  # opening wrote nothing
    project.set_split(entry, "val")
    assert (tmp_path / "old" / "project.v1.json.bak").read_text() == v1
    saved = json.loads((tmp_path / "old" / "project.json").read_text())
    assert saved["format_version"] == FORMAT_VERSION and saved["images"][0]["split"] == "val"
    assert saved["author"] == "lab 3"  # a key this version does not know is kept


def test_newer_project_is_refused(project):
    path = project.root / "project.json"
    document = json.loads(path.read_text())
    document["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(document))
    with pytest.raises(ProjectError, match=r"project.json.*newer segstudio.*Update"):
        Project.open(project.root)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: "{not json", "not readable JSON"),
        (lambda d: "[]", "expected a JSON object"),
        (lambda d: {**d, "format_version": "two"}, "format_version"),
        (lambda d: {k: v for k, v in d.items() if k != "images"}, "'images': expected a list"),
        (lambda d: {**d, "classes": [{"name": "bg", "color": [300, 0, 0]}]}, r"classes\[0\]"),
        (lambda d: {**d, "classes": [{"name": "a"}, {"name": "a"}]}, "unique"),
        (lambda d: {**d, "images": [{**d["images"][0], "split": "test"}]}, r"images\[0\].split"),
        (lambda d: {**d, "images": [{**d["images"][0], "id": "../x"}]}, r"images\[0\].id"),
        (lambda d: {**d, "images": [d["images"][0]] * 2}, "used twice"),
        (lambda d: {**d, "images": [{**d["images"][0], "path": 3}]}, r"images\[0\].path"),
        (lambda d: {**d, "images": [{**d["images"][0], "width": -1}]}, "width and height"),
        (lambda d: {**d, "settings": []}, "settings"),
    ],
)
def test_nonsense_project_json_is_a_clear_error_and_is_not_overwritten(project, edit, message):
    path = project.root / "project.json"
    edited = edit(json.loads(path.read_text()))
    path.write_text(edited if isinstance(edited, str) else json.dumps(edited))
    before = path.read_bytes()
    with pytest.raises(ProjectError, match=f"project.json.*{message}"):
        Project.open(project.root)
    assert path.read_bytes() == before


def test_missing_project_says_how_to_make_one(tmp_path):
    with pytest.raises(ProjectError, match="not a segstudio project.*project create"):
        Project.open(tmp_path)


def test_odd_statistics_cache_is_recomputed_not_an_error(project):
    project.save_labels(project.images[0], np.zeros((4, 5), np.uint8))
    path = project.root / "project.json"
    document = json.loads(path.read_text())
    document["images"][0]["stats"] = {"fraction": "lots", "counts": [1]}
    path.write_text(json.dumps(document))
    assert Project.open(project.root).label_stats("a").counts == [20, 0]



def test_keys_this_version_does_not_know_survive_a_save(project):
    path = project.root / "project.json"
    document = json.loads(path.read_text())
    document["review"] = {"by": "ana", "done": [1, 2]}
    document["images"][0]["note"] = "blurred"
    document["images"][0]["split"] = "val"
    path.write_text(json.dumps(document))
    reopened = Project.open(project.root)
    reopened.set_split("a", "train")  # any change saves
    saved = json.loads(path.read_text())
    assert saved["review"] == {"by": "ana", "done": [1, 2]}
    assert saved["images"][0]["note"] == "blurred"
    assert saved["images"][0]["split"] == "train"
    assert saved["format_version"] == FORMAT_VERSION

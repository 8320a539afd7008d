import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.cli import main
from segstudio.core.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def isbi_subset(tmp_path, isbi_dir):
    """Three ISBI slices and their masks, so the CLI works on a small real folder."""
    for kind in ("images", "masks"):
        (tmp_path / kind).mkdir()
        for name in ("00", "01", "02"):
            (tmp_path / kind / f"{name}.png").write_bytes((isbi_dir / kind / f"{name}.png")
                                                          .read_bytes())
    return tmp_path


def test_create_import_export_info(isbi_subset, capsys):
    proj = str(isbi_subset / "proj")
    assert main(["project", "create", proj, "--images", str(isbi_subset / "images"),
                 "--class-names", "membrane", "cell"]) == 0
    assert "3 images, 2 classes" in capsys.readouterr().out
    assert main(["project", "import", proj, "--masks", str(isbi_subset / "masks"),
                 "--mask-values", "0", "255"]) == 0
    assert "imported labels for 3 images" in capsys.readouterr().out
    assert main(["project", "export", proj, "--format", "png",
                 "--out", str(isbi_subset / "png")]) == 0
    assert main(["project", "export", proj, "--format", "coco",
                 "--out", str(isbi_subset / "coco")]) == 0
    capsys.readouterr()
    truth = cv2.imread(str(isbi_subset / "masks" / "02.png"), cv2.IMREAD_GRAYSCALE) // 255
    exported = cv2.imread(str(isbi_subset / "png" / "02.png"), cv2.IMREAD_UNCHANGED)
    assert exported.ndim == 3  # a palette PNG: OpenCV sees the colours
    np.testing.assert_array_equal(Project.open(proj).load_labels("02"), truth)

    other = str(isbi_subset / "other")
    assert main(["project", "create", other, "--images", str(isbi_subset / "images"),
                 "--copy"]) == 0
    assert "note: no classes yet" in capsys.readouterr().err
    assert main(["project", "import", other, "--coco",
                 str(isbi_subset / "coco" / "annotations.json")]) == 0
    assert main(["project", "split", other, "--val", "0.34", "--seed", "1"]) == 0
    assert "train 2, val 1" in capsys.readouterr().out
    assert main(["project", "info", other, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in info["classes"]] == ["membrane", "cell"]
    assert sum(c["pixels"] for c in info["classes"]) == 3 * 512 * 512
    assert [i["labelled_fraction"] for i in info["images"]] == [1.0, 1.0, 1.0]
    assert info["images"][0]["path"].startswith(other) and info["missing"] == []
    np.testing.assert_array_equal(Project.open(other).load_labels("02"), truth)
    assert main(["project", "info", other]) == 0
    text = capsys.readouterr().out
    assert "membrane" in text and "3 labelled" in text

    # A broken label file is listed; the other images are still summed up (info stopped
    # at the broken file with only its error).
    label_file = Project.open(other).label_path(Project.open(other).images[1])
    label_file.write_bytes(label_file.read_bytes()[:100])
    assert main(["project", "info", other]) == 0
    text = capsys.readouterr().out
    assert "2 labelled" in text and f"unreadable labels: {label_file}" in text
    assert main(["project", "info", other, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert sum(c["pixels"] for c in info["classes"]) == 2 * 512 * 512
    assert len(info["unreadable_labels"]) == 1 and info["images"][1]["counts"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "{p}/new", "--images", "{p}/nowhere"], "nowhere: no such folder"),
        (["create", "{p}/new", "--images", "{p}/images/00.png"], "00.png: not a folder of images"),
        (["create", "{p}/proj", "--images", "{p}/images"], "already a segstudio project"),
        (["import", "{p}/proj", "--masks", "{p}/small"], "the image 00.png is 512x512"),
        (["import", "{p}/proj", "--masks", "{p}/bad"], r"bad/00.png: values \[7\] are not class"),
        (["import", "{p}/proj", "--labelme", "{p}/lm"], r"unknown class names \['car'\]"),
        (["info", "{p}/broken"], "broken/project.json: not readable JSON"),
        (["info", "{p}/images"], "not a segstudio project"),
        (["import", "{p}/proj", "--labelme", "{p}/lm", "--mask-values", "1"], "go with --masks"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(isbi_subset, capsys, args, message):
    p = isbi_subset
    assert main(["project", "create", str(p / "proj"), "--images", str(p / "images"),
                 "--class-names", "membrane", "cell"]) == 0
    (p / "small").mkdir()
    cv2.imwrite(str(p / "small" / "00.png"), np.zeros((10, 10), np.uint8))
    (p / "bad").mkdir()
    cv2.imwrite(str(p / "bad" / "00.png"), np.full((512, 512), 7, np.uint8))
    (p / "lm").mkdir()
    (p / "lm" / "00.json").write_text(json.dumps({"shapes": [
        {"label": "car", "points": [[0, 0], [3, 3]], "shape_type": "rectangle"}],
        "imagePath": "00.png"}))
    (p / "broken").mkdir()
    (p / "broken" / "project.json").write_text('{"format_version": 2, "classes": [')
    before = (p / "proj" / "project.json").read_bytes()
    capsys.readouterr()
    assert main(["project", *[a.format(p=p) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("segstudio: error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert (p / "proj" / "project.json").read_bytes() == before
    assert list((p / "proj" / "labels").iterdir()) == []
    assert (p / "broken" / "project.json").read_text() == '{"format_version": 2, "classes": ['


def test_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["project", "export", str(tmp_path), "--format", "jpeg", "--out", str(tmp_path)])
    assert exit_info.value.code == 2


def test_as_a_process_no_traceback_and_no_torch(tmp_path):
    (tmp_path / "project.json").write_text('{"format_version": 99}')
    code = ("import sys\nfrom segstudio.cli import main\nrc = main(sys.argv[1:])\n"
            "assert 'torch' not in sys.modules\nsys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, "project", "info", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert "newer segstudio" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("values", "names"), [(["0,255"], ["membrane,cell"]),
                                               (["0", "255"], ["membrane", "cell"])])
def test_mask_values_and_class_names_take_commas_or_spaces(isbi_subset, capsys, values, names):
    """--class-names membrane,cell made one class named 'membrane,cell'."""
    proj = str(isbi_subset / "proj")
    assert main(["project", "create", proj, "--images", str(isbi_subset / "images"),
                 "--class-names", *names]) == 0
    assert [c.name for c in Project.open(proj).classes] == ["membrane", "cell"]
    assert main(["project", "import", proj, "--masks", str(isbi_subset / "masks"),
                 "--mask-values", *values]) == 0
    assert "imported labels for 3 images" in capsys.readouterr().out
    project = Project.open(proj)
    entry = project.images[0]
    raw = cv2.imread(str(isbi_subset / "masks" / Path(entry.name).name), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(project.load_labels(entry), (raw == 255).astype(np.uint8))


def test_import_and_split_refuse_a_project_open_in_a_window(isbi_subset, capsys):
    """The window keeps its own labels and classes and wrote them over an import made
    while it had the project open; its lock (Qt's QLockFile) now keeps the commands off."""
    pytest.importorskip("PySide6")
    proj = isbi_subset / "proj"
    assert main(["project", "create", str(proj), "--images", str(isbi_subset / "images"),
                 "--class-names", "membrane", "cell"]) == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, sys; from PySide6.QtCore import QLockFile;"
         " lock = QLockFile(sys.argv[1]); lock.setStaleLockTime(0);"
         " print(lock.tryLock(0), flush=True); sys.stdin.readline(); os._exit(0)",
         str(proj / ".segstudio.lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        before = (proj / "project.json").read_bytes()
        capsys.readouterr()
        for command in (["import", str(proj), "--masks", str(isbi_subset / "masks"),
                         "--mask-values", "0,255"], ["split", str(proj), "--val", "0.34"]):
            assert main(["project", *command]) == 2
            err = capsys.readouterr().err
            assert f"open in a segstudio window (process {holder.pid} on " in err, err
            assert err.count("\n") == 1
        assert (proj / "project.json").read_bytes() == before
        assert list((proj / "labels").iterdir()) == []
    finally:
        holder.communicate("\n")
    # The window crashed: its lock file stays, and the commands work.
    assert (proj / ".segstudio.lock").is_file()
    assert main(["project", "import", str(proj), "--masks", str(isbi_subset / "masks"),
                 "--mask-values", "0,255"]) == 0
    assert main(["project", "split", str(proj), "--val", "0.34"]) == 0

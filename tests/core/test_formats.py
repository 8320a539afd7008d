import json
import re

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.core.classes import UNLABELLED, default_classes, load_classes_file
from segstudio.core.errors import MaskError, ProjectError, UserError
from segstudio.core.formats.coco import export_coco, import_coco
from segstudio.core.formats.export import export_labels
from segstudio.core.formats.mask_folder import import_masks
from segstudio.core.masks import read_mask
from segstudio.core.project import Project

ISBI_SLICES = ["00", "01", "02"]


@pytest.fixture
def isbi_project(tmp_path, isbi_dir):
    images = [isbi_dir / "images" / f"{n}.png" for n in ISBI_SLICES]
    project = Project.create(tmp_path / "isbi", images, default_classes(["membrane", "cell"]))
    import_masks(project, isbi_dir / "masks", mask_values=[0, 255])
    return project


def isbi_truth(isbi_dir, name):
    raw = cv2.imread(str(isbi_dir / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(raw).tolist()) == {0, 255}
    return (raw == 255).astype(np.uint8)  # membrane 0, cell 1


def iou(a, b, value):
    return np.count_nonzero((a == value) & (b == value)) / np.count_nonzero((a == value) | (b == value))


def test_isbi_masks_import_with_mask_values(isbi_project, isbi_dir):
    for name in ISBI_SLICES:
        np.testing.assert_array_equal(isbi_project.load_labels(name), isbi_truth(isbi_dir, name))
    stats = isbi_project.label_stats("00")
    assert stats.fraction == 1.0 and sum(stats.counts) == 512 * 512
    assert 0.15 < stats.counts[0] / (512 * 512) < 0.3  # membrane is about 22%


def test_palette_and_index_png_export(isbi_project, isbi_dir, tmp_path):
    files, _ = export_labels(isbi_project, tmp_path / "png", "png")
    assert [f.name for f in files] == ["00.png", "01.png", "02.png"]
    truth = isbi_truth(isbi_dir, "01")
    with Image.open(tmp_path / "png" / "01.png") as png:
        assert png.mode == "P"
        np.testing.assert_array_equal(np.asarray(png), truth)
        assert png.convert("RGB").getpixel((0, 0)) == isbi_project.classes[truth[0, 0]].color
    export_labels(isbi_project, tmp_path / "index", "index")
    plain = cv2.imread(str(tmp_path / "index" / "01.png"), cv2.IMREAD_UNCHANGED)
    assert plain.ndim == 2
    np.testing.assert_array_equal(plain, truth)

    # Exporting again replaces the earlier export; a folder of the user's files is refused.
    again, _ = export_labels(isbi_project, tmp_path / "png", "index")
    assert again == files
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "01.png").write_bytes(b"an image of mine")
    with pytest.raises(UserError, match="mine: already holds 01.png; give a new or empty"):
        export_labels(isbi_project, mine, "overlay")
    assert [p.name for p in mine.iterdir()] == ["01.png"]
    assert (mine / "01.png").read_bytes() == b"an image of mine"


def test_coco_rle_round_trip_is_pixel_exact(isbi_project, isbi_dir, tmp_path):
    out = export_coco(isbi_project, tmp_path / "coco.json")
    document = json.loads(out.read_text())
    assert [c["name"] for c in document["categories"]] == ["membrane", "cell"]
    assert all(isinstance(a["segmentation"]["counts"], str) for a in document["annotations"])
    first = document["annotations"][0]
    assert first["area"] == np.count_nonzero(isbi_truth(isbi_dir, "00") == 0)
    fresh = Project.create(tmp_path / "fresh", isbi_dir / "images", [])
    report = import_coco(fresh, out)  # a project without classes takes the categories
    assert report.imported == ["00.png", "01.png", "02.png"]
    assert [c.name for c in fresh.classes] == ["membrane", "cell"]
    for name in ISBI_SLICES:
        np.testing.assert_array_equal(fresh.load_labels(name), isbi_truth(isbi_dir, name))
    assert not fresh.has_labels("03")


def test_coco_export_writes_over_its_own_files_only(isbi_project, tmp_path):
    """It wrote over any file: a user's annotations.json, even the project's project.json,
    which then would not open (found by QA)."""
    out = export_coco(isbi_project, tmp_path / "coco.json")
    assert export_coco(isbi_project, out, encoding="polygon") == out  # an earlier export
    assert isinstance(json.loads(out.read_text())["annotations"][0]["segmentation"], list)
    theirs = tmp_path / "annotations.json"
    for kept in (theirs, isbi_project.root / "project.json"):
        if not kept.exists():
            kept.write_text('{"info": {"description": "made by hand"}, "images": []}')
        before = kept.read_bytes()
        with pytest.raises(UserError, match=f"{kept.name}: a file segstudio did not export is "
                                            "there, and it is not written over"):
            export_coco(isbi_project, kept)
        assert kept.read_bytes() == before
    assert Project.open(isbi_project.root).classes == isbi_project.classes


def test_coco_polygon_round_trip_has_iou_near_one(isbi_project, isbi_dir, tmp_path):
    out = export_coco(isbi_project, tmp_path / "poly.json", encoding="polygon")
    annotations = json.loads(out.read_text())["annotations"]
    assert all(isinstance(a["segmentation"], list) for a in annotations)
    fresh = Project.create(tmp_path / "fresh", isbi_dir / "images", default_classes(["membrane",
                                                                                     "cell"]))
    import_coco(fresh, out)
    for name in ISBI_SLICES:
        truth, back = isbi_truth(isbi_dir, name), fresh.load_labels(name)
        assert iou(truth, back, 0) > 0.97 and iou(truth, back, 1) > 0.99


def test_camvid_masks_with_classes_file_and_overlay(tmp_path, camvid_dir):
    names = ["0006R0_f00930", "0006R0_f01080"]
    spec = load_classes_file(camvid_dir / "classes.json")
    project = Project.create(tmp_path / "cam", [camvid_dir / "train" / "images" / f"{n}.png"
                                                for n in names], spec.classes)
    report = import_masks(project, camvid_dir / "train" / "masks",
                          classes_file=camvid_dir / "classes.json")
    assert report.imported == [f"{n}.png" for n in names]
    assert any("no image of that name" in n for n in report.notes)  # the other 40 masks
    raw = read_mask(camvid_dir / "train" / "masks" / f"{names[0]}.png")
    labels = project.load_labels(names[0])
    np.testing.assert_array_equal(labels[raw != 11], raw[raw != 11])
    assert (labels[raw == 11] == UNLABELLED).all() and (raw == 11).any()
    export_labels(project, tmp_path / "over", "overlay")
    picture = np.asarray(Image.open(tmp_path / "over" / f"{names[0]}.png"))
    image = project.load_image(names[0])
    y, x = np.argwhere(labels == 3)[0]  # a road pixel: half image, half road colour
    assert picture[y, x].tolist() == [round(0.5 * v + 0.5 * c + 1e-9)
                                      for v, c in zip(image[y, x], (128, 64, 128), strict=True)]
    y, x = np.argwhere(labels == UNLABELLED)[0]
    assert picture[y, x].tolist() == image[y, x].tolist()
    export_coco(project, tmp_path / "cam.json")
    fresh = Project.create(tmp_path / "fresh", camvid_dir / "train" / "images", [])
    import_coco(fresh, tmp_path / "cam.json")
    assert fresh.classes == spec.classes  # names and colours, in order past 10 classes
    np.testing.assert_array_equal(fresh.load_labels(names[1]), project.load_labels(names[1]))


def test_colour_masks_import_by_the_classes_colours(tmp_path, camvid_dir):
    """The same CamVid labels drawn in the classes' colours (void black, named by the
    classes file's "ignore_color") import as the index masks do."""
    name = "0006R0_f00930"
    spec_data = json.loads((camvid_dir / "classes.json").read_text())
    palette = np.zeros((256, 3), np.uint8)
    for entry in spec_data["classes"]:
        palette[entry["id"]] = entry["color"]
    raw = read_mask(camvid_dir / "train" / "masks" / f"{name}.png")
    (tmp_path / "colour").mkdir()
    Image.fromarray(palette[raw]).save(tmp_path / "colour" / f"{name}.png")
    (tmp_path / "classes.json").write_text(json.dumps({**spec_data, "ignore_color": [0, 0, 0]}))
    spec = load_classes_file(tmp_path / "classes.json")
    assert spec.ignore_color == (0, 0, 0)
    project = Project.create(tmp_path / "cam", [camvid_dir / "train" / "images" / f"{name}.png"],
                             spec.classes)
    report = import_masks(project, tmp_path / "colour", classes_file=tmp_path / "classes.json")
    assert report.imported == [f"{name}.png"]
    labels = project.load_labels(name)
    np.testing.assert_array_equal(labels[raw != 11], raw[raw != 11])
    assert (labels[raw == 11] == UNLABELLED).all()


def test_mask_import_errors_change_nothing(tmp_path, isbi_dir):
    project = Project.create(tmp_path / "p", [isbi_dir / "images" / "00.png",
                                              isbi_dir / "images" / "01.png"],
                             default_classes(["membrane", "cell"]))
    masks = tmp_path / "masks"
    masks.mkdir()
    cv2.imwrite(str(masks / "00_mask.png"), np.zeros((512, 512), np.uint8))
    cv2.imwrite(str(masks / "01.png"), np.zeros((100, 512), np.uint8))
    with pytest.raises(MaskError, match=r"01.png.*512x100.*512x512"):
        import_masks(project, masks, mask_values=[0, 255])
    cv2.imwrite(str(masks / "01.png"), np.full((512, 512), 7, np.uint8))
    with pytest.raises(MaskError, match=r"01.png.*\[7\]"):
        import_masks(project, masks, mask_values=[0, 255])
    with pytest.raises(MaskError, match=r"01.png.*\[7\].*class indices"):
        import_masks(project, masks)
    assert not any(project.has_labels(e) for e in project.images)  # nothing half-imported
    with pytest.raises(ProjectError, match="3 mask values.*2"):
        import_masks(project, masks, mask_values=[0, 7, 255])
    cv2.imwrite(str(masks / "01.png"), np.full((512, 512), 255, np.uint8))
    report = import_masks(project, masks, mask_values=[0, 7])  # 255 is unlabelled here
    assert report.imported == ["00.png", "01.png"]  # 00_mask.png matched 00.png
    assert (project.load_labels("00") == 0).all() and (project.load_labels("01") == 255).all()
    assert not any("mostly 255" in n for n in report.notes)  # values were given


def test_binary_masks_without_values_get_a_warning_note(tmp_path, isbi_dir):
    project = Project.create(tmp_path / "p", [isbi_dir / "images" / "00.png"],
                             default_classes(["membrane", "cell"]))
    report = import_masks(project, isbi_dir / "masks")  # 0 = class 0, 255 = unlabelled
    assert any("mostly 255" in n and "--mask-values" in n for n in report.notes)


def test_masks_for_a_project_without_classes_say_how_to_add_them(tmp_path, isbi_dir):
    project = Project.create(tmp_path / "p", [isbi_dir / "images" / "00.png"], [])
    for values in (None, [0, 255]):
        with pytest.raises(ProjectError, match="no classes yet.*--classes FILE --add-classes"):
            import_masks(project, isbi_dir / "masks", mask_values=values)
    assert not project.has_labels(project.images[0])


def test_unknown_names_in_a_classes_file(tmp_path, camvid_dir):
    project = Project.create(tmp_path / "p", [camvid_dir / "train" / "images" /
                                              "0006R0_f00930.png"], default_classes(["Sky"]))
    with pytest.raises(ProjectError, match="classes.json: unknown class names.*Building"):
        import_masks(project, camvid_dir / "train" / "masks",
                     classes_file=camvid_dir / "classes.json")
    import_masks(project, camvid_dir / "train" / "masks",
                 classes_file=camvid_dir / "classes.json", add_classes=True)
    assert len(project.classes) == 11 and project.classes[3].color == (128, 64, 128)


def coco_file(tmp_path, segmentation, category="b", size=(10, 12)):
    document = {
        "images": [{"id": 7, "file_name": "x.png", "height": size[0], "width": size[1]}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "iscrowd": 0,
                         "segmentation": segmentation}],
        "categories": [{"id": 3, "name": category}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def small(tmp_path):
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "x.png"), np.zeros((10, 12), np.uint8))
    return Project.create(tmp_path / "proj", tmp_path / "img", default_classes(["a", "b"]))


def test_coco_import_polygon_and_both_rle_forms_by_hand(tmp_path, small):
    # A polygon through pixel centres: columns 1..3, rows 1..2.
    import_coco(small, coco_file(tmp_path, [[1.5, 1.5, 3.5, 1.5, 3.5, 2.5, 1.5, 2.5]]))
    expected = np.full((10, 12), UNLABELLED, np.uint8)
    expected[1:3, 1:4] = 1
    np.testing.assert_array_equal(small.load_labels("x"), expected)
    # Uncompressed RLE, column-major: column 0 has rows 2..4 set.
    import_coco(small, coco_file(tmp_path, {"size": [10, 12], "counts": [2, 3, 115]}),
                overwrite=True, background="a")
    expected = np.zeros((10, 12), np.uint8)
    expected[2:5, 0] = 1
    np.testing.assert_array_equal(small.load_labels("x"), expected)
    # pycocotools' string for a 25x25 mask with [5:10, 5:10] set, on a 25x25 image.
    cv2.imwrite(str(tmp_path / "img" / "x.png"), np.zeros((25, 25), np.uint8))
    fresh = Project.create(tmp_path / "p25", tmp_path / "img", default_classes(["a", "b"]))
    import_coco(fresh, coco_file(tmp_path, {"size": [25, 25], "counts": "R45d00000000b;"},
                                 size=(25, 25)))
    assert np.argwhere(fresh.load_labels("x") == 1).tolist() == [
        [r, c] for r in range(5, 10) for c in range(5, 10)]


def test_coco_import_errors(tmp_path, small):
    with pytest.raises(ProjectError, match=r"coco.json: unknown class names \['car'\]"):
        import_coco(small, coco_file(tmp_path, [[0, 0, 2, 0, 2, 2]], category="car"))
    with pytest.raises(MaskError, match=r"coco.json: annotation 1: RLE size \[5, 5\]"):
        import_coco(small, coco_file(tmp_path, {"size": [5, 5], "counts": [25]}))
    with pytest.raises(MaskError, match="coco.json: annotation 1: not a valid RLE"):
        import_coco(small, coco_file(tmp_path, {"size": [10, 12], "counts": [3, 4]}))
    with pytest.raises(MaskError, match=r"coco.json.*12x20.*12x10"):
        import_coco(small, coco_file(tmp_path, [[0, 0, 2, 0, 2, 2]], size=(20, 12)))
    (tmp_path / "coco.json").write_text('{"images": []}')
    with pytest.raises(MaskError, match="coco.json: not a COCO segmentation file"):
        import_coco(small, tmp_path / "coco.json")
    assert not small.has_labels("x")


def test_16_bit_tiff_masks_in_subfolders_and_export_keeps_the_layout(tmp_path):
    for sub in ("left", "right"):
        (tmp_path / "img" / sub).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "img" / sub / "s.png"), np.zeros((3, 4), np.uint8))
        (tmp_path / "masks" / sub).mkdir(parents=True)
    project = Project.create(tmp_path / "p", tmp_path / "img", default_classes(["bg", "fg"]))
    left = np.array([[1000, 2000, 2000, 9], [1000] * 4, [2000] * 4], np.uint16)
    tifffile.imwrite(tmp_path / "masks" / "left" / "s.tif", left)
    tifffile.imwrite(tmp_path / "masks" / "right" / "s.tiff", np.full((3, 4), 2000, np.uint16))
    with pytest.raises(MaskError, match=r"left/s.tif.*\[9\]"):
        import_masks(project, tmp_path / "masks", mask_values=[1000, 2000])
    left[0, 3] = 255  # unlabelled, since 255 is not among the values
    tifffile.imwrite(tmp_path / "masks" / "left" / "s.tif", left)
    import_masks(project, tmp_path / "masks", mask_values=[1000, 2000])
    expected = np.array([[0, 1, 1, 255], [0] * 4, [1] * 4], np.uint8)
    np.testing.assert_array_equal(project.load_labels("left__s"), expected)
    assert (project.load_labels("right__s") == 1).all()
    files, _ = export_labels(project, tmp_path / "out", "index")
    assert sorted(f.relative_to(tmp_path / "out").as_posix() for f in files) == [
        "left/s.png", "right/s.png"]
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out" / "left" / "s.png"),
                                             cv2.IMREAD_UNCHANGED), expected)


def test_a_classes_file_with_repeated_names_is_named(tmp_path):
    """The error said which name repeats but not in which file (found by QA)."""
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"classes": [{"id": 0, "name": "a"}, {"id": 1, "name": "a"}]}))
    with pytest.raises(UserError, match=f"^{re.escape(str(path))}: class names must be unique"):
        load_classes_file(path)

import os

import cv2
import numpy as np
import pytest

from segstudio.core.classes import default_classes
from segstudio.core.errors import UserError
from segstudio.core.masks import write_mask
from segstudio.ml.data import FolderSource, Sample, SampleSource
from segstudio.ml.mask_mapping import MaskMapping


def _link_isbi(isbi_dir, tmp_path, numbers, name="train"):
    """A folder pair holding some ISBI slices (symbolic links, nothing copied)."""
    images, masks = tmp_path / name / "images", tmp_path / name / "masks"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for n in numbers:
        (images / f"{n:02d}.png").symlink_to(isbi_dir / "images" / f"{n:02d}.png")
        (masks / f"{n:02d}.png").symlink_to(isbi_dir / "masks" / f"{n:02d}.png")
    return images, masks


def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def test_isbi_with_mask_values_maps_membrane_and_cells(isbi_dir, tmp_path):
    images, masks = _link_isbi(isbi_dir, tmp_path, range(4))
    source = FolderSource(images, masks, mask_values="0,255")
    assert isinstance(source, SampleSource)
    assert [c.name for c in source.classes] == ["value 0", "value 255"]
    samples = source.train_samples()
    assert [s.name for s in samples] == ["00", "01", "02", "03"] and source.val_samples() == []
    image, mask = samples[0].load_image(), samples[0].load_mask()
    assert image.shape == (512, 512, 1) and mask.shape == (512, 512) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1}
    assert 0.15 < (mask == 0).mean() < 0.3  # membrane is about 22% of the pixels


def test_named_mask_values():
    mapping = MaskMapping.from_values("membrane=0, cell=255")
    assert [c.name for c in mapping.classes] == ["membrane", "cell"]
    assert mapping.values == (0, 255) and mapping.ignore_value is None
    with pytest.raises(UserError, match="--mask-values"):
        MaskMapping.from_values("0,x")
    with pytest.raises(UserError, match="at least two"):
        MaskMapping.from_values("3")


def test_camvid_classes_file_names_classes_and_ignores_eleven(camvid_dir):
    source = FolderSource(
        camvid_dir / "train" / "images", camvid_dir / "train" / "masks",
        classes_file=camvid_dir / "classes.json",
        val_images=camvid_dir / "val" / "images", val_masks=camvid_dir / "val" / "masks",
    )
    assert len(source.classes) == 11 and source.classes[3].name == "Road"
    assert len(source.train_samples()) == 42 and len(source.val_samples()) == 11
    sample = source.val_samples()[0]
    mask = sample.load_mask()
    assert sample.load_image().shape == (360, 480, 3)
    assert mask.max() == 255 or mask.max() <= 10  # 11 became unlabelled
    assert not np.isin(mask, [11]).any()


def test_colour_masks_are_read_by_the_classes_colours(camvid_dir, tmp_path):
    """CamVid's masks drawn in the classes' colours (void black) read back as the same
    class indices, as CVAT or the original CamVid release give them."""
    import json

    from PIL import Image

    spec = json.loads((camvid_dir / "classes.json").read_text())
    palette = np.zeros((256, 3), np.uint8)  # void (11) and anything else: black
    for entry in spec["classes"]:
        palette[entry["id"]] = entry["color"]
    mask_path = sorted((camvid_dir / "train" / "masks").iterdir())[0]
    indices = np.asarray(Image.open(mask_path))
    Image.fromarray(palette[indices]).save(tmp_path / "colour.png")
    (tmp_path / "classes.json").write_text(json.dumps({**spec, "ignore_color": [0, 0, 0]}))

    mapping = MaskMapping.from_classes_file(tmp_path / "classes.json")
    expected = MaskMapping.from_classes_file(camvid_dir / "classes.json").read(mask_path)
    got = mapping.read(tmp_path / "colour.png", shape=indices.shape)
    np.testing.assert_array_equal(got, expected)
    assert (got == 255).any() and len(np.unique(got)) > 5

    (tmp_path / "classes.json").write_text(json.dumps(spec))  # black is no class now
    with pytest.raises(UserError, match=r"colour.png: colours \(0, 0, 0\) are not the colour"):
        MaskMapping.from_classes_file(tmp_path / "classes.json").read(tmp_path / "colour.png")
    with pytest.raises(UserError, match=r"not colours \(RGB\); colour masks are read with a classes file"):
        MaskMapping.from_values("0,255").read(tmp_path / "colour.png")


def test_sparse_masks_and_tiny_images_with_index_masks(tmp_path):
    classes = default_classes(["a", "b", "c"])
    for name, (h, w) in {"one": (5, 7), "two": (3, 3)}.items():
        _write_png(tmp_path / "images" / f"{name}.png", np.full((h, w), 100, np.uint8))
        mask = np.full((h, w), 255, np.uint8)
        mask[1, 1] = 2 if name == "one" else 0
        write_mask(tmp_path / "masks" / f"{name}.png", mask, classes)
    _write_png(tmp_path / "images" / "no_mask.png", np.zeros((4, 4), np.uint8))
    _write_png(tmp_path / "masks" / "no_image.png", np.zeros((4, 4), np.uint8))
    source = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert [s.name for s in source.train_samples()] == ["one", "two"]
    assert len(source.classes) == 3  # the largest index found is 2
    assert source.train_samples()[0].load_mask()[1, 1] == 2
    assert [p.name for p in source.unpaired_images] == ["no_mask.png"]
    assert [p.name for p in source.unpaired_masks] == ["no_image.png"]


def test_val_fraction_is_a_reproducible_split(isbi_dir, tmp_path):
    images, masks = _link_isbi(isbi_dir, tmp_path, range(10))
    first = FolderSource(images, masks, mask_values="0,255", val_fraction=0.3, seed=1)
    again = FolderSource(images, masks, mask_values="0,255", val_fraction=0.3, seed=1)
    other = FolderSource(images, masks, mask_values="0,255", val_fraction=0.3, seed=2)
    names = [s.name for s in first.val_samples()]
    assert len(names) == 3 and len(first.train_samples()) == 7
    assert names == [s.name for s in again.val_samples()]
    assert names != [s.name for s in other.val_samples()]


def test_a_mask_is_read_again_when_its_file_changes(tmp_path):
    classes = default_classes(["a", "b"])
    _write_png(tmp_path / "images" / "x.png", np.zeros((6, 6), np.uint8))
    path = tmp_path / "masks" / "x.png"
    write_mask(path, np.full((6, 6), 255, np.uint8), classes)
    sample: Sample = FolderSource(tmp_path / "images", tmp_path / "masks").train_samples()[0]
    first = sample.load_mask()
    assert sample.load_mask() is first  # cached while the file is unchanged
    painted = first.copy()
    painted[2:4, 2:4] = 1
    write_mask(path, painted, classes)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    np.testing.assert_array_equal(sample.load_mask(), painted)


def test_user_errors_name_the_file(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_png(images / "big.png", np.zeros((8, 8), np.uint8))
    _write_png(masks / "big.png", np.zeros((4, 8), np.uint8))
    _write_png(images / "odd.png", np.zeros((4, 4), np.uint8))
    _write_png(masks / "odd.png", np.full((4, 4), 7, np.uint8))
    _write_png(images / "bad.png", np.zeros((4, 4), np.uint8))
    (masks / "bad.png").write_bytes(b"not a png")
    source = FolderSource(images, masks, mask_values="0,255")
    by_name = {s.name: s for s in source.train_samples()}
    with pytest.raises(UserError, match=r"big\.png.*8x4.*8x8"):
        by_name["big"].load_mask()
    with pytest.raises(UserError, match=r"odd\.png.*\[7\].*--mask-values"):
        by_name["odd"].load_mask()
    with pytest.raises(UserError, match=r"bad\.png"):
        by_name["bad"].load_mask()


def test_folder_errors(tmp_path):
    _write_png(tmp_path / "images" / "a.png", np.zeros((4, 4), np.uint8))
    _write_png(tmp_path / "masks" / "b.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(UserError, match="no mask has the name of an image"):
        FolderSource(tmp_path / "images", tmp_path / "masks")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images found"):
        FolderSource(tmp_path / "empty", tmp_path / "masks")
    with pytest.raises(UserError, match="missing: no such folder"):
        FolderSource(tmp_path / "missing", tmp_path / "masks")
    with pytest.raises(UserError, match="not both"):
        FolderSource(tmp_path / "images", tmp_path / "masks", mask_values="0,1",
                     classes_file=tmp_path / "c.json")
    with pytest.raises(UserError, match="--val-masks"):
        FolderSource(tmp_path / "images", tmp_path / "masks", val_images=tmp_path)
    _write_png(tmp_path / "masks" / "a.tif", np.zeros((4, 4), np.uint8))
    _write_png(tmp_path / "masks" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(UserError, match="two masks for the same image"):
        FolderSource(tmp_path / "images", tmp_path / "masks")
    (tmp_path / "masks" / "a.tif").unlink()  # one mask a.png, and images a.png and a.tif
    _write_png(tmp_path / "images" / "a.tif", np.zeros((4, 4), np.uint8))
    with pytest.raises(UserError, match=r"a\.tif: two images for one mask \(a\.png and a\.tif"):
        FolderSource(tmp_path / "images", tmp_path / "masks")


def test_project_source_gives_labelled_images_by_split(isbi_dir, tmp_path):
    from segstudio.core.project import Project
    from segstudio.ml.data import ProjectSource

    paths = [isbi_dir / "images" / f"{n:02d}.png" for n in range(3)]
    project = Project.create(tmp_path / "project", paths, default_classes(["membrane", "cell"]))
    entries = list(project.images)
    labels = np.full((512, 512), 255, np.uint8)
    labels[:10, :10] = 1
    project.save_labels(entries[0], labels)
    project.save_labels(entries[1], labels)
    project.set_split(entries[1], "val")  # entries[2] has no labels: left out
    source = ProjectSource(Project.open(tmp_path / "project"))
    assert [c.name for c in source.classes] == ["membrane", "cell"]
    train, val = source.train_samples(), source.val_samples()
    assert [s.name for s in train] == [entries[0].name] and [s.name for s in val] == [
        entries[1].name]
    assert train[0].load_image().shape == (512, 512, 1)
    np.testing.assert_array_equal(train[0].load_mask(), labels)
    assert source.train_samples()[0] is train[0]  # one Sample per image, across queries

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.core.classes import UNLABELLED, default_classes, load_classes_file
from segstudio.core.errors import MaskError, UserError
from segstudio.core.masks import (
    map_mask_values,
    read_mask,
    read_mask_values,
    value_histogram,
    write_mask,
)

CLASSES = default_classes(["background", "cell", "membrane"])


def test_palette_png_round_trip_keeps_indices_and_shows_colours(tmp_path):
    mask = np.full((7, 9), UNLABELLED, np.uint8)
    mask[1:3, 2:5] = 1
    mask[5, :] = 2
    write_mask(tmp_path / "m.png", mask, CLASSES)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png", shape=(7, 9), num_classes=3), mask)
    with Image.open(tmp_path / "m.png") as image:
        assert image.mode == "P"
        assert image.convert("RGB").getpixel((2, 1)) == CLASSES[1].color
    # OpenCV (another tool) sees the colours, in BGR order.
    assert tuple(cv2.imread(str(tmp_path / "m.png"))[5, 0][::-1]) == CLASSES[2].color


def test_plain_index_png_is_accepted(tmp_path):
    mask = np.array([[0, 1], [255, 2]], np.uint8)
    cv2.imwrite(str(tmp_path / "plain.png"), mask)
    np.testing.assert_array_equal(read_mask(tmp_path / "plain.png"), mask)


def test_wrong_size_and_out_of_range_values_name_the_file(tmp_path):
    mask = np.array([[0, 7], [255, 2]], np.uint8)
    cv2.imwrite(str(tmp_path / "bad.png"), mask)
    with pytest.raises(MaskError, match=r"bad.png.*2x2.*3x2"):
        read_mask(tmp_path / "bad.png", shape=(2, 3))
    with pytest.raises(MaskError, match=r"bad.png.*\[7\]"):
        read_mask(tmp_path / "bad.png", num_classes=3)


def test_colour_image_is_not_a_mask(tmp_path):
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(MaskError, match=r"not colours \(RGB\)"):
        read_mask(tmp_path / "rgb.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(MaskError) as failed:
        read_mask(tmp_path / "junk.png", hint="fix or remove the label file")
    assert str(failed.value) == (f"{tmp_path / 'junk.png'}: not a readable image file (corrupt "
                                 "or of another format); fix or remove the label file")


def test_map_mask_values_binary_and_ignore():
    raw = np.array([[0, 255], [11, 0]], np.uint8)
    np.testing.assert_array_equal(map_mask_values(raw, [0, 255], ignore_value=11), [[0, 1], [255, 0]])
    with pytest.raises(MaskError, match=r"\[11\]"):
        map_mask_values(raw, [0, 255])


@pytest.mark.parametrize("name", ["bits.png", "bits.tif"])
def test_1_bit_mask_reads_as_black_and_white(tmp_path, name):
    m = np.zeros((5, 7), np.uint8)
    m[1:3, 2:5] = 1
    Image.fromarray(m.astype(bool)).convert("1").save(tmp_path / name)
    values = read_mask_values(tmp_path / name)
    assert values.dtype == np.uint8
    np.testing.assert_array_equal(values, m * 255)
    np.testing.assert_array_equal(map_mask_values(values, [0, 255]), m)  # --mask-values 0,255


def test_camvid_classes_file(camvid_dir):
    spec = load_classes_file(camvid_dir / "classes.json")
    assert len(spec.classes) == 11 and spec.ignore_value == 11
    assert spec.classes[3].name == "Road" and spec.classes[3].color == (128, 64, 128)
    assert spec.values == list(range(11))


def test_bad_classes_files(tmp_path):
    (tmp_path / "a.json").write_text("{nonsense")
    with pytest.raises(UserError, match="a.json"):
        load_classes_file(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('["x", "x"]')
    with pytest.raises(UserError, match="repeated: x"):
        load_classes_file(tmp_path / "b.json")


def test_value_histogram_is_exact_beyond_float32_precision():
    mask = np.zeros((4500, 4000), np.uint8)  # 18M zeros: more than float32 counts exactly
    mask[0, :7] = 3
    mask[-1, -1] = 255
    histogram = value_histogram(mask)
    assert histogram[0] == 4500 * 4000 - 8 and histogram[3] == 7 and histogram[255] == 1
    assert histogram.sum() == mask.size


def test_an_ignore_colour_that_is_a_class_colour_is_refused(tmp_path):
    import json

    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"classes": [{"name": "a", "color": [1, 2, 3]},
                                            {"name": "b", "color": [4, 5, 6]}],
                                "ignore_color": [4, 5, 6]}))
    with pytest.raises(UserError, match=r"classes.json: the ignore colour \[4, 5, 6\]"):
        load_classes_file(path)


def test_a_float_mask_of_whole_numbers_reads_as_them_and_fractions_or_nan_are_refused(tmp_path):
    """0.6 was read as class 0 and NaN as class 0, silently."""
    path = tmp_path / "mask.tif"
    values = np.array([[0.0, 1.0], [255.0, 2.0]], np.float32)
    tifffile.imwrite(path, values)
    assert read_mask_values(path).tolist() == [[0, 1], [255, 2]]
    for bad, shown in ((0.6, "not 0.6 (at x 1, y 0"), (np.nan, "not nan (at x 1, y 0")):
        values[0, 1] = bad
        tifffile.imwrite(path, values)
        with pytest.raises(MaskError, match="mask.tif: a mask holds whole class values") as info:
            read_mask_values(path)
        assert shown in str(info.value)

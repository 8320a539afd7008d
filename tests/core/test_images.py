import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.images import list_images, load_image, tiff_size


def test_real_png_is_gray_uint8(isbi_dir):
    image = load_image(isbi_dir / "images" / "00.png")
    assert image.shape == (512, 512, 1) and image.dtype == np.uint8


def test_rgb_png_comes_back_in_rgb_order(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    Image.fromarray(rgb).save(tmp_path / "red.png")
    image = load_image(tmp_path / "red.png")
    assert image.shape == (4, 5, 3)
    assert image[0, 0].tolist() == [200, 0, 0]


def test_alpha_is_kept_as_the_last_channel_grey_stays_one_channel(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    alpha = np.full((4, 5), 128, np.uint8)
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(tmp_path / "la.png")
    image = load_image(tmp_path / "la.png")
    assert image.shape == (4, 5, 2)
    np.testing.assert_array_equal(image[..., 0], grey)
    np.testing.assert_array_equal(image[..., 1], alpha)
    rgba = np.dstack([grey, grey // 2, grey // 3, alpha])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png"), rgba)


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_a_jpeg_is_turned_upright_as_its_exif_orientation_says(tmp_path, mode):
    """A phone's portrait photo, stored 100 x 60 with orientation 6, showed sideways."""
    from segstudio.core.project_entries import image_size

    stored = np.zeros((60, 100, 3), np.uint8)
    stored[:20, :20] = (250, 250, 250)  # top left as stored: top right once turned
    picture = Image.fromarray(stored).convert(mode)
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    picture.save(tmp_path / "portrait.jpg", exif=exif.tobytes(), quality=95)
    image = load_image(tmp_path / "portrait.jpg")
    assert image.shape[:2] == (100, 60) == image_size(tmp_path / "portrait.jpg")
    gray = image.mean(axis=2)
    assert gray[5, 55] > 200 and gray[5, 5] < 50 and gray[95, 55] < 50
    picture.save(tmp_path / "plain.jpg")  # no orientation: as stored
    assert load_image(tmp_path / "plain.jpg").shape[:2] == (60, 100)

def test_16bit_png_and_tiff_keep_their_values(tmp_path):
    data = (np.arange(60, dtype=np.uint16) * 1000).reshape(6, 10)
    cv2.imwrite(str(tmp_path / "a.png"), data)
    tifffile.imwrite(tmp_path / "a.tif", data)
    for name in ("a.png", "a.tif"):
        image = load_image(tmp_path / name)
        assert image.dtype == np.uint16 and image.shape == (6, 10, 1)
        np.testing.assert_array_equal(image[..., 0], data)


def test_compressed_tiffs_as_opencv_and_microscopes_write_them(tmp_path):
    data = (np.arange(60, dtype=np.uint16) * 1000).reshape(6, 10)
    cv2.imwrite(str(tmp_path / "lzw.tif"), data)  # OpenCV writes LZW
    tifffile.imwrite(tmp_path / "deflate.tif", data, compression="zlib")
    tifffile.imwrite(tmp_path / "zstd.tif", data, compression="zstd")
    for name in ("lzw.tif", "deflate.tif", "zstd.tif"):
        np.testing.assert_array_equal(load_image(tmp_path / name)[..., 0], data, err_msg=name)


def test_multichannel_tiff_channels_first_or_last(tmp_path):
    planes = np.random.default_rng(0).integers(0, 4000, (5, 80, 90), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "first.tif", planes)
    tifffile.imwrite(tmp_path / "last.tif", np.moveaxis(planes, 0, -1), photometric="minisblack", planarconfig="contig")
    for name in ("first.tif", "last.tif"):
        image = load_image(tmp_path / name)
        assert image.shape == (80, 90, 5), name
        np.testing.assert_array_equal(image[..., 2], planes[2])


def test_small_tiffs_follow_their_axes_not_their_shape(tmp_path):
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    bands = rng.random((32, 32, 100)).astype(np.float32)
    tifffile.imwrite(tmp_path / "bands.tif", bands, planarconfig="contig")  # axes YXS
    for name, expected in (("planar.tif", rgb), ("bands.tif", bands)):
        image = load_image(tmp_path / name)
        assert image.shape == expected.shape and image.dtype == expected.dtype, name
        np.testing.assert_array_equal(image, expected)
        assert tiff_size(tmp_path / name) == expected.shape[:2]


@pytest.mark.parametrize("metadata", [{"imagej": True}, {"ome": True}])
def test_imagej_and_ome_channels_first(tmp_path, metadata):
    planes = np.random.default_rng(1).integers(0, 4000, (3, 20, 30), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "cyx.tif", planes, metadata={"axes": "CYX"}, **metadata)
    image = load_image(tmp_path / "cyx.tif")
    assert image.shape == (20, 30, 3)
    np.testing.assert_array_equal(np.moveaxis(image, -1, 0), planes)


@pytest.mark.parametrize("kind, found", [
    ("pages", "3 pages of 64x64"),  # nothing says whether they are channels or slices
    ("many pages", "100 pages of 90x80"),
    ("imagej", "axes 'ZYX'"),
    ("ome", "axes 'ZYX'"),
])
def test_stacks_are_refused_naming_the_file(tmp_path, kind, found):
    if kind == "pages":
        tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 64, 64), np.uint8), photometric="minisblack")
    elif kind == "many pages":
        tifffile.imwrite(tmp_path / "stack.tif", np.zeros((100, 80, 90), np.uint8))
    else:
        tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 64, 64), np.uint8),
                         metadata={"axes": "ZYX"}, **{kind: True})
    with pytest.raises(ImageReadError, match=rf"stack.tif: .*{found}.*not supported"):
        load_image(tmp_path / "stack.tif")
    with pytest.raises(ImageReadError, match="stack.tif"):
        tiff_size(tmp_path / "stack.tif")


def test_1_bit_images_are_uint8_black_and_white(tmp_path):
    bits = np.zeros((5, 7), bool)
    bits[1:3, 2:5] = True
    for name in ("bits.png", "bits.tif", "bits.bmp"):
        Image.fromarray(bits).convert("1").save(tmp_path / name)
        image = load_image(tmp_path / name)
        assert image.dtype == np.uint8 and image.shape == (5, 7, 1), name
        np.testing.assert_array_equal(image[..., 0], bits * 255)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_bad_files_raise_a_clear_error(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="broken.png"):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_list_images_recurses_and_reports_other_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.png", "sub/a.TIF", "notes.txt", ".hidden/x.png"):
        (tmp_path / name).write_bytes(b"x")
    images, skipped = list_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in images] == ["b.png", "sub/a.TIF"]
    assert [p.name for p in skipped] == ["notes.txt"]

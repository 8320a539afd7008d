import json

import numpy as np
import pytest
import torch

from segstudio.core.errors import UserError
from segstudio.core.images import load_image
from segstudio.ml.devices import available_devices, pick_device
from segstudio.ml.normalization import Normalization


def test_eight_bit_images_are_standardised(isbi_dir):
    images = [load_image(isbi_dir / "images" / f"{i:02d}.png") for i in range(3)]
    norm = Normalization.fit(images)
    assert norm.method == "8-bit" and norm.channels == 1
    stacked = np.concatenate([norm.apply(im) for im in images], axis=2)
    assert stacked.dtype == np.float32 and stacked.shape == (1, 512, 3 * 512)
    assert abs(stacked.mean()) < 0.01
    assert abs(stacked.std() - 1) < 0.01


def test_eight_bit_rgb_gets_one_offset_and_scale_per_channel(camvid_dir):
    paths = sorted((camvid_dir / "train" / "images").glob("*.png"))[:3]
    images = [load_image(p) for p in paths]
    norm = Normalization.fit(images)
    assert norm.channels == 3 and len(set(norm.offset)) == 3
    out = np.concatenate([norm.apply(im).reshape(3, -1) for im in images], axis=1)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=0.02)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=0.02)


def test_sixteen_bit_microscopy_is_stretched_between_percentiles():
    rng = np.random.default_rng(0)
    # A dim 16-bit image using a narrow part of its range, with a few hot pixels.
    image = rng.normal(1200, 50, size=(200, 300, 1)).clip(0, 65535).astype(np.uint16)
    image[0, :20] = 65535
    norm = Normalization.fit([image])
    assert norm.method == "percentile"
    out = norm.apply(image)
    body = out[:, 1:]  # without the hot pixels' row
    assert abs(body.mean()) < 0.05 and abs(body.std() - 1) < 0.05
    # The hot pixels did not squash the rest of the range into nothing.
    assert out.max() > 100


def test_float_images_use_percentiles_and_ignore_nan():
    image = np.linspace(-3.0, 5.0, 10_000, dtype=np.float32).reshape(100, 100, 1)
    image[0, 0] = np.nan
    norm = Normalization.fit([image])
    assert norm.method == "percentile" and np.isfinite(norm.offset[0])
    assert abs(norm.offset[0] - 1.0) < 0.05  # the mean of a uniform ramp -3..5


def test_json_round_trip_gives_identical_output():
    image = np.arange(60, dtype=np.uint16).reshape(5, 4, 3) * 1000
    norm = Normalization.fit([image])
    again = Normalization.from_json(json.loads(json.dumps(norm.to_json())))
    assert again == norm
    np.testing.assert_array_equal(again.apply(image), norm.apply(image))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.uint16, np.int32])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_image_is_never_written_to_and_may_be_read_only(dtype, channels):
    rng = np.random.default_rng(0)
    image = (rng.random((6, 7, channels)) * 200).astype(dtype)
    before = image.copy()
    image.setflags(write=False)  # as the window and the trainer share images
    norm = Normalization((10.0,) * channels, (0.5,) * channels)
    chw = norm.apply(image)
    np.testing.assert_array_equal(image, before)
    assert chw.dtype == np.float32 and chw.flags.c_contiguous and chw.shape == (channels, 6, 7)
    expected = (before.astype(np.float64).transpose(2, 0, 1) - 10.0) * 0.5
    np.testing.assert_allclose(chw, expected, rtol=1e-6, atol=1e-4)
    chw[:] = 0  # the result is the caller's own
    np.testing.assert_array_equal(image, before)


def test_gray_2d_input_and_wrong_channel_count():
    norm = Normalization.identity(1)
    assert norm.apply(np.zeros((4, 5), np.uint8)).shape == (1, 4, 5)
    with pytest.raises(UserError, match="3 channel"):
        norm.apply(np.zeros((4, 5, 3), np.uint8))


def test_mixed_channel_counts_are_a_user_error():
    with pytest.raises(UserError, match="same number of channels"):
        Normalization.fit([np.zeros((4, 4, 1), np.uint8), np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(UserError, match="no training images"):
        Normalization.fit([])


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == available_devices()[0]
    assert available_devices()[-1] == "cpu"
    with pytest.raises(UserError, match="unknown device"):
        pick_device("tpu7")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="--device cpu"):
            pick_device("cuda")

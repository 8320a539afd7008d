import dataclasses
import tracemalloc

import cv2
import numpy as np
import pytest

from segstudio.core.images import load_image
from segstudio.core.masks import read_mask_values
from segstudio.ml.augment import (
    AugmentConfig,
    LabelledPixels,
    augment_crop,
    elastic,
    flip_rotate,
    random_crop,
)

NO_INTENSITY = AugmentConfig(intensity_probability=0.0)


def _blocky_mask(height=300, width=200) -> np.ndarray:
    mask = np.full((height, width), 255, np.uint8)
    mask[50:150, 30:120] = 0
    mask[150:250, 60:180] = 1
    mask[:40] = 2
    return mask


def _uniform_neighbourhood(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels whose neighbours all have the same label, away from the crop border
    (where bilinear and nearest sampling reflect differently)."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    uniform = cv2.dilate(mask, kernel) == cv2.erode(mask, kernel)
    uniform[:4], uniform[-4:], uniform[:, :4], uniform[:, -4:] = False, False, False, False
    return uniform


def test_flips_and_rotations_keep_an_image_equal_to_its_mask():
    rng = np.random.default_rng(1)
    mask = _blocky_mask(128, 128)
    image = mask[None].astype(np.float32)
    seen = set()
    for _ in range(40):
        out_image, out_mask = flip_rotate(image, mask, rng, AugmentConfig())
        np.testing.assert_array_equal(out_image[0], out_mask)
        seen.add(out_mask.tobytes())
    assert len(seen) == 8  # all symmetries of the square occur


def test_elastic_deformation_moves_image_and_mask_together():
    rng = np.random.default_rng(2)
    mask = _blocky_mask(160, 160)
    image = mask[None].astype(np.float32)
    warped, warped_mask = elastic(image, mask, rng, AugmentConfig(elastic_sigma=0.08))
    assert not np.array_equal(warped_mask, mask)  # it really deforms
    # Away from label borders (where bilinear sampling blends values) they agree exactly.
    inside = _uniform_neighbourhood(warped_mask)
    assert inside.mean() > 0.7
    np.testing.assert_allclose(warped[0][inside], warped_mask[inside], atol=0.5)
    assert set(np.unique(warped_mask)) <= {0, 1, 2, 255}  # nearest: no invented labels


def test_full_augmentation_keeps_alignment_on_real_masks(isbi_dir):
    rng = np.random.default_rng(3)
    mask = (read_mask_values(isbi_dir / "masks" / "00.png") // 255).astype(np.uint8)
    image = mask[:, :, None]
    for _ in range(10):
        out_image, out_mask = augment_crop(image, mask, 96, rng, NO_INTENSITY)
        assert out_image.shape == (1, 96, 96) and out_image.dtype == np.float32
        assert out_mask.shape == (96, 96) and out_mask.dtype == np.uint8
        inside = _uniform_neighbourhood(out_mask, radius=1)
        np.testing.assert_allclose(out_image[0][inside], out_mask[inside], atol=0.5)
        assert (np.rint(out_image[0]) == out_mask).mean() > 0.9


def test_crops_favour_sparse_labels():
    rng = np.random.default_rng(4)
    mask = np.full((1000, 1200), 255, np.uint8)
    mask[700:705, 100:160] = 1  # one short scribble: 0.025% of the pixels
    image = np.zeros((1000, 1200, 1), np.uint8)
    labelled = LabelledPixels(mask)
    hits = sum(
        (random_crop(image, mask, 64, rng, labelled)[1] != 255).any() for _ in range(200)
    )
    assert hits >= 160  # about 90%, where uniform crops would almost never hit it
    # The scribble is not always at the crop centre.
    offsets = set()
    for _ in range(50):
        _, crop = random_crop(image, mask, 64, rng, labelled, labelled_fraction=1.0)
        ys, xs = np.nonzero(crop != 255)
        offsets.add((int(ys.min()), int(xs.min())))
    assert len(offsets) > 10


@pytest.mark.parametrize("shape", [(300, 200), (7, 70_000), (1000, 3)])
def test_a_picked_labelled_pixel_is_the_kth_in_row_major_order(shape):
    rng = np.random.default_rng(11)
    mask = np.where(rng.random(shape) < 0.01, 1, 255).astype(np.uint8)
    mask[-1, -1] = 0
    where = np.flatnonzero(mask != 255)
    labelled = LabelledPixels(mask)
    assert labelled.count == where.size
    for seed in range(40):
        k = int(np.random.default_rng(seed).integers(where.size))
        y, x = labelled.pick(np.random.default_rng(seed))
        assert (y, x) == divmod(int(where[k]), shape[1]) and mask[y, x] != 255


def test_an_unlabelled_mask_has_nothing_to_pick():
    mask = np.full((40, 50), 255, np.uint8)
    assert LabelledPixels(mask).count == 0
    _, crop = random_crop(np.zeros((40, 50, 1)), mask, 16, np.random.default_rng(0))
    assert crop.shape == (16, 16)


def test_finding_the_labelled_pixels_of_a_big_mask_takes_little_memory():
    mask = np.zeros((4000, 4000), np.uint8)  # 16 MB, every pixel labelled
    tracemalloc.start()
    labelled = LabelledPixels(mask)
    y, x = labelled.pick(np.random.default_rng(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert labelled.count == mask.size and 0 <= y < 4000 and 0 <= x < 4000
    assert peak < 1_000_000  # a list of the labelled pixels' flat indices: 128 MB


def test_images_smaller_than_the_crop_are_padded_unlabelled():
    rng = np.random.default_rng(5)
    image = np.full((20, 30, 3), 200, np.uint8)
    mask = np.ones((20, 30), np.uint8)
    out_image, out_mask = augment_crop(image, mask, 64, rng, AugmentConfig.none(),
                                       normalize=lambda crop: crop.transpose(2, 0, 1) / 100.0)
    assert out_image.shape == (3, 64, 64) and out_mask.shape == (64, 64)
    assert (out_mask == 1).sum() == 20 * 30 and (out_mask == 255).sum() == 64 * 64 - 600
    np.testing.assert_allclose(out_image[:, :20, :30], 2.0)
    assert (out_image[:, 20:, :] == 0).all()


def test_intensity_jitter_changes_the_image_only(isbi_dir):
    image = load_image(isbi_dir / "images" / "01.png")
    mask = np.zeros(image.shape[:2], np.uint8)
    config = AugmentConfig(flips=False, rotate90=False, elastic_probability=0,
                           intensity_probability=1.0, labelled_crop_fraction=0)
    a, mask_a = augment_crop(image, mask, 128, np.random.default_rng(7), config)
    plain = dataclasses.replace(config, intensity_probability=0.0)
    b, _ = augment_crop(image, mask, 128, np.random.default_rng(7), plain)
    assert (mask_a == 0).all()
    gain = np.polyfit(b.ravel(), a.ravel(), 1)[0]
    assert gain == pytest.approx(1.0, abs=0.2) and not np.allclose(a, b)

import numpy as np
import pytest

from segstudio.ml.crop_choice import plan_crops, share_near_boundary

RNG = np.random.default_rng(0)


def _halves(height=200, width=200):
    """Class 0 left of column 100, class 1 from it on."""
    mask = np.zeros((height, width), np.uint8)
    mask[:, width // 2:] = 1
    return mask


def test_share_near_a_boundary_counted_by_hand():
    # The boundary is drawn at column 99 (its right neighbour differs); columns 67..131
    # lie within 32 px of it: 65 of 200.
    assert share_near_boundary([_halves()], RNG) == pytest.approx(65 / 200)
    # Unlabelled pixels neither count nor make a boundary.
    mask = _halves()
    mask[:100] = 255
    assert share_near_boundary([mask], RNG) == pytest.approx(65 / 200)
    gap = _halves()
    gap[:, 95:105] = 255  # two classes that never touch: no boundary
    assert share_near_boundary([gap], RNG) == 0.0


def test_stripes_measured_in_windows_of_a_large_mask():
    stripes = (np.arange(3000)[None, :] // 20 % 2).astype(np.uint8).repeat(2500, axis=0)
    assert share_near_boundary([stripes], RNG) == 1.0
    halves = _halves(2500, 3000)  # the boundary at 1499: the windows that miss it count 0
    share = share_near_boundary([halves], np.random.default_rng(1))
    assert share < 0.2


def test_small_structures_or_sparse_labels_get_small_crops_and_a_larger_batch():
    stripes = (np.arange(256)[None, :] // 16 % 2).astype(np.uint8).repeat(256, axis=0)
    plan = plan_crops("auto", "auto", False, [stripes], RNG)
    assert (plan.crop_size, plan.batch_size) == (128, 8)
    assert "100% of the labelled pixels lie within 32 px" in plan.reason
    plan = plan_crops("auto", "auto", False, [_halves(300, 300)], RNG)
    assert (plan.crop_size, plan.batch_size) == (256, 4)
    plan = plan_crops("auto", "auto", True, [_halves(300, 300)], RNG)
    assert (plan.crop_size, plan.batch_size, plan.reason) == (128, 8, "sparse labels")
    # What is set is kept; a batch left to "auto" with a crop set is 4.
    plan = plan_crops(64, "auto", True, [stripes], RNG)
    assert (plan.crop_size, plan.batch_size) == (64, 4)
    assert plan_crops("auto", 3, False, [stripes], RNG).batch_size == 3


def test_no_crop_is_larger_than_the_largest_image_needs():
    masks = [np.zeros((512, 512), np.uint8), np.zeros((300, 200), np.uint8)]
    plan = plan_crops(1024, 2, False, masks, RNG)
    assert (plan.crop_size, plan.batch_size) == (512, 2)
    assert plan.reason == "as set; 1024 cut to 512 for the largest image (512 px)"
    assert plan_crops(1024, 2, False, [np.zeros((100, 520), np.uint8)], RNG).crop_size == 544
    small = plan_crops("auto", "auto", True, [np.zeros((60, 40), np.uint8)], RNG)
    assert (small.crop_size, small.batch_size) == (64, 8)
    assert plan_crops(256, 4, False, masks, RNG).reason == "as set"

"""Confusion-matrix metrics and panoptic quality against counts worked out by hand."""

import math

import numpy as np
import pytest
import torch

from segstudio.core.errors import UserError
from segstudio.ml.metrics import ConfusionMatrix, PanopticQuality

# Four classes; class 3 appears in neither prediction nor truth.
TARGET = np.array([[0, 0, 1], [1, 255, 2]])
PRED = np.array([[0, 1, 1], [1, 0, 0]])
# Labelled (truth, prediction) pairs: (0,0) (0,1) (1,1) (1,1) (2,0); the 255 pixel is ignored.
# TP = [1, 2, 0, 0]; FP = column sums - TP = [2, 3, 0, 0] - TP = [1, 1, 0, 0];
# FN = row sums - TP = [2, 2, 1, 0] - TP = [1, 0, 1, 0].


def test_confusion_matrix_counts():
    matrix = ConfusionMatrix(4).update(PRED, TARGET).matrix
    np.testing.assert_array_equal(
        matrix, [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_iou_dice_and_accuracy():
    cm = ConfusionMatrix(4).update(PRED, TARGET)
    # IoU = TP / (TP + FP + FN) = [1/3, 2/3, 0/1, 0/0]
    np.testing.assert_allclose(cm.iou(), [1 / 3, 2 / 3, 0.0, np.nan])
    # Dice = 2TP / (2TP + FP + FN) = [2/4, 4/5, 0/1, 0/0]
    np.testing.assert_allclose(cm.dice(), [0.5, 0.8, 0.0, np.nan])
    # Mean over the three classes that were seen: (1/3 + 2/3 + 0) / 3
    assert cm.mean_iou() == pytest.approx(1 / 3)
    assert cm.mean_dice() == pytest.approx(1.3 / 3)
    assert cm.pixel_accuracy() == pytest.approx(3 / 5)


def test_summary_uses_names_and_none_for_empty_classes():
    summary = ConfusionMatrix(4).update(PRED, TARGET).summary(["a", "b", "c", "d"])
    assert summary["miou"] == pytest.approx(1 / 3)
    assert summary["iou"] == {"a": pytest.approx(1 / 3), "b": pytest.approx(2 / 3), "c": 0.0,
                              "d": None}
    assert summary["dice"]["d"] is None and summary["dice"]["b"] == pytest.approx(0.8)
    assert summary["pixel_accuracy"] == pytest.approx(0.6)


def test_nothing_labelled():
    cm = ConfusionMatrix(2).update(np.zeros((3, 3), int), np.full((3, 3), 255))
    assert cm.matrix.sum() == 0
    assert np.isnan(cm.iou()).all() and math.isnan(cm.mean_iou())
    assert cm.summary(["x", "y"]) == {"miou": None, "iou": {"x": None, "y": None},
                                      "dice": {"x": None, "y": None}, "pixel_accuracy": None}


def test_merge_equals_one_update_and_accepts_torch_and_uint8():
    whole = ConfusionMatrix(4).update(PRED, TARGET)
    first = ConfusionMatrix(4).update(torch.from_numpy(PRED[:1]), torch.from_numpy(TARGET[:1]))
    second = ConfusionMatrix(4).update(PRED[1:].astype(np.uint8), TARGET[1:].astype(np.uint8))
    np.testing.assert_array_equal(first.merge(second).matrix, whole.matrix)
    with pytest.raises(ValueError, match="cannot merge"):
        whole.merge(ConfusionMatrix(3))


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        ([[0, 1]], [[0, 4]], r"target holds class value\(s\) \[4\] outside 0..3"),
        ([[0, 255]], [[0, 1]], r"prediction holds class value\(s\) \[255\]"),
        ([[0, -1]], [[0, 1]], r"prediction holds class value\(s\) \[-1\]"),
        ([[0, 1]], [[0, 1, 2]], "does not match target"),
        ([[0.0, 1.0]], [[0, 1]], "integer class indices"),
    ],
)
def test_bad_values_are_clear_errors(pred, target, message):
    with pytest.raises(UserError, match=message):
        ConfusionMatrix(4).update(np.array(pred), np.array(target))


@pytest.mark.parametrize("num_classes", [0, 256, 2.0, True])
def test_bad_class_count(num_classes):
    with pytest.raises(UserError, match="num_classes must be an integer from 1 to 255"):
        ConfusionMatrix(num_classes)
    with pytest.raises(UserError, match="num_classes"):
        PanopticQuality(num_classes)


def two_segment_example():
    """Class 1 has two true segments, A (rows 0-1, cols 0-1: 4 px) and B (rows 3-5,
    cols 3-5: 9 px); everything else (23 px) is class 0, one segment.
    Predicted class 1: A' (rows 0-1, cols 0-2: 6 px) and B' (rows 4-5, cols 4-5: 4 px)."""
    target = np.zeros((6, 6), np.uint8)
    target[0:2, 0:2] = 1
    target[3:6, 3:6] = 1
    pred = np.zeros((6, 6), np.uint8)
    pred[0:2, 0:3] = 1
    pred[4:6, 4:6] = 1
    return pred, target


def test_panoptic_quality_with_two_segments():
    pred, target = two_segment_example()
    pq = PanopticQuality(2).update(pred, target)
    # Class 1: IoU(A, A') = 4/6 = 2/3 > 0.5, a match; IoU(B, B') = 4/9 <= 0.5: B is a FN,
    #   B' a FP. PQ = (2/3) / (1 + 1/2 + 1/2) = 1/3, SQ = 2/3, RQ = 1/2.
    # Class 0: predicted 36 - 10 = 26 px, true 23 px, both one segment; they share 23 - 2
    #   (row 0-1, col 2 went to A') = 21 px. IoU = 21 / (23 + 26 - 21) = 3/4: PQ = SQ = 3/4.
    assert (pq.tp.tolist(), pq.fp.tolist(), pq.fn.tolist()) == ([1, 1], [0, 1], [0, 1])
    per_class = pq.per_class()
    np.testing.assert_allclose(per_class["pq"], [3 / 4, 1 / 3])
    np.testing.assert_allclose(per_class["sq"], [3 / 4, 2 / 3])
    np.testing.assert_allclose(per_class["rq"], [1, 1 / 2])
    assert pq.pq() == pytest.approx((3 / 4 + 1 / 3) / 2)  # 13/24
    assert pq.sq() == pytest.approx((3 / 4 + 2 / 3) / 2)  # 17/24
    assert pq.rq() == pytest.approx(3 / 4)


def test_panoptic_quality_in_the_summary_and_batches():
    pred, target = two_segment_example()
    batch = PanopticQuality(2).update(np.stack([pred, pred]), np.stack([target, target]))
    single = PanopticQuality(2).update(pred, target).merge(PanopticQuality(2).update(pred, target))
    assert batch.tp.tolist() == single.tp.tolist() == [2, 2]
    summary = ConfusionMatrix(2).update(pred, target).summary(["bg", "cell"], pq=batch)
    assert summary["pq"] == pytest.approx(13 / 24)
    assert summary["sq"] == pytest.approx(17 / 24) and summary["rq"] == pytest.approx(3 / 4)
    assert summary["pq_per_class"] == {"bg": pytest.approx(3 / 4), "cell": pytest.approx(1 / 3)}


def void_example(pred_rows: slice):
    """4x4 of class 0 with a void (255) block at rows 2-3, cols 2-3; predicted class 1 at
    `pred_rows` x cols 1-3, class 0 elsewhere."""
    target = np.zeros((4, 4), np.int64)
    target[2:4, 2:4] = 255
    pred = np.zeros((4, 4), np.int64)
    pred[pred_rows, 1:4] = 1
    return pred, target


def test_void_pixels_are_left_out():
    # A class-1 segment of 6 px, 4 of them void (2/3 > 1/2): not a false positive.
    # Class 0: predicted 10 px all labelled, true 12 px: IoU 10/12, a match.
    pq = PanopticQuality(2).update(*void_example(slice(2, 4)))
    assert pq.fp.tolist() == [0, 0]
    assert np.isnan(pq.per_class()["pq"][1])
    assert pq.pq() == pytest.approx(10 / 12)
    # A class-1 segment of 9 px, 4 void (4/9 <= 1/2): a false positive, class-1 PQ 0/(1/2).
    # Class 0: 7 predicted px, IoU 7/12 > 1/2, a match.
    pq = PanopticQuality(2).update(*void_example(slice(1, 4)))
    assert pq.fp.tolist() == [0, 1]
    assert pq.pq() == pytest.approx((7 / 12 + 0) / 2)
    # Void pixels inside a predicted segment do not lower its IoU: all class 0 gives 12/12.
    assert PanopticQuality(2).update(np.zeros((4, 4), int), void_example(slice(0))[1]).pq() == 1


def test_panoptic_quality_of_nothing_is_nan():
    pq = PanopticQuality(3)
    assert math.isnan(pq.pq()) and math.isnan(pq.sq()) and math.isnan(pq.rq())
    assert pq.summary(["a", "b", "c"])["pq"] is None


def test_perfect_prediction_on_real_masks(isbi_dir):
    from PIL import Image

    mask = (np.asarray(Image.open(isbi_dir / "masks" / "00.png")) == 255).astype(np.uint8)
    cm = ConfusionMatrix(2).update(mask, mask)
    pq = PanopticQuality(2).update(mask, mask)
    assert cm.mean_iou() == 1.0 and pq.pq() == 1.0
    assert pq.tp[1] > 50  # the cells of a slice are many separate segments


def test_panoptic_counts_of_many_segments_pair_by_pair_are_the_same(monkeypatch):
    # A noisy prediction has thousands of segments: the pairs are counted without a
    # (true x predicted) table, which for a large image would not fit in memory.
    from segstudio.ml import metrics

    rng = np.random.default_rng(0)
    target = (rng.random((120, 160)) < 0.5).astype(np.uint8)
    target[:10] = 255
    pred = np.where(rng.random((120, 160)) < 0.1, 1 - target % 2, target % 2).astype(np.uint8)
    dense = PanopticQuality(2).update(pred, target)
    monkeypatch.setattr(metrics, "_DENSE_PAIRS", 0)
    paired = PanopticQuality(2).update(pred, target)
    for name in ("tp", "fp", "fn"):
        np.testing.assert_array_equal(getattr(paired, name), getattr(dense, name))
    np.testing.assert_allclose(paired.iou_sum, dense.iou_sum)
    assert dense.tp.sum() > 50 and dense.fp.sum() > 50  # many segments, both ways

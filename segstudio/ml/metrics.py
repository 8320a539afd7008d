"""Segmentation metrics from numpy arrays of class indices; 255 in a target is unlabelled.

ConfusionMatrix counts pixels (rows: truth, columns: prediction) and reduces
them to IoU, Dice and pixel accuracy. A class absent from both the prediction
and the truth has IoU and Dice NaN (no evidence either way) and is left out of
the means. PanopticQuality (Kirillov et al. 2019) treats each connected
component of a class as a segment; see its docstring.

Callers holding torch tensors pass `tensor.cpu().numpy()`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segstudio.core.classes import MAX_CLASSES, UNLABELLED
from segstudio.core.errors import UserError


def _check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or not (
            1 <= num_classes <= MAX_CLASSES):
        raise UserError(f"num_classes must be an integer from 1 to {MAX_CLASSES}, "
                        f"got {num_classes!r}")
    return int(num_classes)


def _as_index_arrays(pred, target, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Both as int64 arrays of one shape; a clear error for shapes or values that do not fit."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise UserError(f"prediction of shape {pred.shape} does not match target {target.shape}")
    for name, array in (("prediction", pred), ("target", target)):
        if not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
            raise UserError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    pred, target = pred.astype(np.int64), target.astype(np.int64)
    bad_target = (target != UNLABELLED) & ((target < 0) | (target >= num_classes))
    if bad_target.any():
        raise UserError(_out_of_range("target", target[bad_target], num_classes))
    bad_pred = (pred < 0) | (pred >= num_classes)
    if bad_pred.any():
        raise UserError(_out_of_range("prediction", pred[bad_pred], num_classes))
    return pred, target


def _out_of_range(name: str, values: np.ndarray, num_classes: int) -> str:
    shown = np.unique(values)[:10].tolist()
    return (f"{name} holds class value(s) {shown} outside 0..{num_classes - 1} "
            f"({UNLABELLED} = unlabelled is allowed in targets only)")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    """Mean over the values that are not NaN; NaN when all are."""
    values = np.asarray(values, dtype=np.float64)
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else math.nan


def _optional(value: float) -> float | None:
    """NaN as None, for JSON."""
    return None if math.isnan(value) else float(value)


class ConfusionMatrix:
    """Pixel counts: matrix[t, p] = pixels of true class t predicted as p."""

    def __init__(self, num_classes: int):
        self.num_classes = _check_num_classes(num_classes)
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred, target) -> ConfusionMatrix:
        """Count one prediction against its target (any shape, the same for both)."""
        pred, target = _as_index_arrays(pred, target, self.num_classes)
        labelled = target != UNLABELLED
        k = self.num_classes
        flat = target[labelled] * k + pred[labelled]
        self.matrix += np.bincount(flat, minlength=k * k).reshape(k, k)
        return self

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge a {other.num_classes}-class confusion matrix "
                             f"into a {self.num_classes}-class one")
        self.matrix += other.matrix
        return self

    def reset(self) -> None:
        self.matrix[:] = 0

    @property
    def true_positives(self) -> np.ndarray:
        return np.diag(self.matrix)

    @property
    def false_positives(self) -> np.ndarray:
        return self.matrix.sum(axis=0) - self.true_positives

    @property
    def false_negatives(self) -> np.ndarray:
        return self.matrix.sum(axis=1) - self.true_positives

    def iou(self) -> np.ndarray:
        """Per class TP / (TP + FP + FN); NaN for a class in neither prediction nor truth."""
        tp = self.true_positives
        return _ratio(tp, tp + self.false_positives + self.false_negatives)

    def dice(self) -> np.ndarray:
        """Per class 2 TP / (2 TP + FP + FN); NaN for a class in neither prediction nor truth."""
        tp = self.true_positives
        return _ratio(2 * tp, 2 * tp + self.false_positives + self.false_negatives)

    def mean_iou(self) -> float:
        """Mean IoU over the classes that are not NaN; NaN when there are none."""
        return _nanmean(self.iou())

    def mean_dice(self) -> float:
        return _nanmean(self.dice())

    def pixel_accuracy(self) -> float:
        """Correct labelled pixels / labelled pixels; NaN when nothing is counted."""
        return float(_ratio(self.true_positives.sum(), self.matrix.sum()))

    def summary(self, class_names: list[str], pq: PanopticQuality | None = None) -> dict:
        """JSON-ready figures; NaN becomes None.

        Keys: "miou", "iou" and "dice" (class name -> value), "pixel_accuracy";
        with `pq` also "pq", "sq", "rq" (overall) and "pq_per_class" (name -> value).
        """
        if len(class_names) != self.num_classes:
            raise ValueError(f"{len(class_names)} class names for {self.num_classes} classes")
        result = {
            "miou": _optional(self.mean_iou()),
            "iou": {n: _optional(v) for n, v in zip(class_names, self.iou(), strict=True)},
            "dice": {n: _optional(v) for n, v in zip(class_names, self.dice(), strict=True)},
            "pixel_accuracy": _optional(self.pixel_accuracy()),
        }
        if pq is not None:
            if pq.num_classes != self.num_classes:
                raise ValueError("the panoptic quality counts have another number of classes")
            result.update(pq.summary(class_names))
        return result


class PanopticQuality:
    """Panoptic quality where every connected component (8-connected) of a class is a segment.

    Following Kirillov et al. 2019: a predicted and a true segment of the same
    class match when their IoU > 0.5 (so matches are unique). Unlabelled (255)
    target pixels are void: they are left out of the IoU, and an unmatched
    predicted segment lying more than half in void is not a false positive.
    Per class c: PQ = sum of matched IoUs / (TP + FP/2 + FN/2) = SQ * RQ with
    SQ = mean matched IoU (0 without matches) and RQ = TP / (TP + FP/2 + FN/2).
    A class with no segment anywhere is NaN; the overall figures are means over
    the other classes, as in the COCO panoptic API.
    """

    MATCH_IOU = 0.5
    VOID_FRACTION = 0.5

    def __init__(self, num_classes: int):
        self.num_classes = _check_num_classes(num_classes)
        self.tp = np.zeros(self.num_classes, dtype=np.int64)
        self.fp = np.zeros(self.num_classes, dtype=np.int64)
        self.fn = np.zeros(self.num_classes, dtype=np.int64)
        self.iou_sum = np.zeros(self.num_classes, dtype=np.float64)

    def update(self, pred, target) -> PanopticQuality:
        """Count one (H, W) image, or each of a batch (N, H, W)."""
        pred, target = _as_index_arrays(pred, target, self.num_classes)
        if pred.ndim == 3:
            for one_pred, one_target in zip(pred, target, strict=True):
                self._update_image(one_pred, one_target)
        elif pred.ndim == 2:
            self._update_image(pred, target)
        else:
            raise UserError(f"expected (H, W) or (N, H, W) arrays, got shape {pred.shape}")
        return self

    def merge(self, other: PanopticQuality) -> PanopticQuality:
        if other.num_classes != self.num_classes:
            raise ValueError("cannot merge panoptic counts with another number of classes")
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou_sum += other.iou_sum
        return self

    def _update_image(self, pred: np.ndarray, target: np.ndarray) -> None:
        void = target == UNLABELLED
        for cls in np.union1d(np.unique(pred), np.unique(target[~void])):
            self._update_class(int(cls), pred == cls, target == cls, void)

    def _update_class(self, cls: int, pred_mask, true_mask, void) -> None:
        n_pred, pred_ids = _components(pred_mask)
        n_true, true_ids = _components(true_mask)
        pred_void = np.bincount(pred_ids[void], minlength=n_pred)[1:]
        true_ids, pred_ids = true_ids[~void], pred_ids[~void]
        true_area = np.bincount(true_ids, minlength=n_true)[1:]
        pred_area = np.bincount(pred_ids, minlength=n_pred)[1:]  # without its void pixels
        t, p, overlap = _overlaps(true_ids, pred_ids, n_true, n_pred)
        iou = overlap / (true_area[t - 1] + pred_area[p - 1] - overlap)
        matched = iou > self.MATCH_IOU  # above 0.5: at most one match for any segment
        mostly_void = pred_void > self.VOID_FRACTION * (pred_area + pred_void)
        unmatched_pred = np.ones(n_pred - 1, bool)
        unmatched_pred[p[matched] - 1] = False
        self.tp[cls] += int(matched.sum())
        self.fn[cls] += int(n_true - 1 - matched.sum())
        self.fp[cls] += int((unmatched_pred & ~mostly_void).sum())
        self.iou_sum[cls] += float(iou[matched].sum())

    def per_class(self) -> dict[str, np.ndarray]:
        """{"pq", "sq", "rq"} -> arrays of one value per class (NaN for a class never seen)."""
        present = (self.tp + self.fp + self.fn) > 0
        denominator = self.tp + 0.5 * self.fp + 0.5 * self.fn
        sq = np.where(present, np.nan_to_num(_ratio(self.iou_sum, self.tp)), np.nan)
        return {"pq": _ratio(self.iou_sum, denominator), "sq": sq,
                "rq": _ratio(self.tp, denominator)}

    def pq(self) -> float:
        return _nanmean(self.per_class()["pq"])

    def sq(self) -> float:
        return _nanmean(self.per_class()["sq"])

    def rq(self) -> float:
        return _nanmean(self.per_class()["rq"])

    def summary(self, class_names: list[str]) -> dict:
        per_class = self.per_class()["pq"]
        return {
            "pq": _optional(self.pq()),
            "sq": _optional(self.sq()),
            "rq": _optional(self.rq()),
            "pq_per_class": {n: _optional(v) for n, v in zip(class_names, per_class, strict=True)},
        }


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of labels including background 0, int64 label image) of a boolean mask."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return count, labels.astype(np.int64)


# Above this many (true, predicted) segment pairs, overlaps are counted pair by pair rather
# than in a dense table (a noisy prediction of a large image has millions of segments).
_DENSE_PAIRS = 1 << 22


def _overlaps(true_ids: np.ndarray, pred_ids: np.ndarray, n_true: int, n_pred: int):
    """(true segment, predicted segment, pixels in common) for every pair that overlaps,
    segments numbered from 1 (0: neither)."""
    codes = true_ids.astype(np.int64) * n_pred + pred_ids
    if n_true * n_pred <= _DENSE_PAIRS:
        counts = np.bincount(codes, minlength=n_true * n_pred)
        codes = np.flatnonzero(counts)
        counts = counts[codes]
    else:
        codes, counts = np.unique(codes, return_counts=True)
    t, p = np.divmod(codes, n_pred)
    both = (t > 0) & (p > 0)
    return t[both], p[both], counts[both]

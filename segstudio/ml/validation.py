"""Scoring a model on labelled images: whole images predicted, compared with their labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from torch import nn

from segstudio.core.classes import LabelClass
from segstudio.ml.normalization import Normalization
from segstudio.ml.predict import predict_with

# Images up to this side are predicted in one piece (faster); larger ones by tiles.
WHOLE_IMAGE_SIDE = 1536


def score(
    model: nn.Module,
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    normalization: Normalization,
    classes: list[LabelClass],
    flip: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Figures over the labelled pixels of (image, mask) pairs.

    {"miou", "iou", "dice", "pixel_accuracy", "pq", "sq", "rq", "pq_per_class"}, with
    None for a figure that nothing was counted for. The model is left in the mode it was in.
    """
    from segstudio.ml.metrics import ConfusionMatrix, PanopticQuality

    matrix, panoptic = ConfusionMatrix(len(classes)), PanopticQuality(len(classes))
    was_training = model.training
    model.eval()
    try:
        for done, (image, mask) in enumerate(pairs, start=1):
            labels = predict_with(model, normalization, len(classes), image,
                                  tile_size=WHOLE_IMAGE_SIDE, flip=flip).labels
            matrix.update(labels, mask)
            panoptic.update(labels, mask)
            if progress is not None:
                progress(done)
    finally:
        model.train(was_training)
    return matrix.summary([c.name for c in classes], pq=panoptic)


def validate(runner, val_set, normalization: Normalization, classes: list[LabelClass],
             flip: bool = True) -> dict:
    pairs = ((item.image, item.mask) for item in val_set.labelled_items())
    return score(runner.model, pairs, normalization, classes, flip)

"""Whole-image predictions during training and evaluation, optionally with flip averaging."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from segstudio.ml.normalization import Normalization

# Larger images go through the tiled predictor, so memory stays bounded.
MAX_WHOLE_IMAGE_PIXELS = 1536 * 1536


def model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def predict_probabilities(
    model: nn.Module,
    image_hwc: np.ndarray,
    normalization: Normalization,
    flip: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Class probabilities (K, H, W), float32, on the model's device; model in eval mode.

    With `flip`, the mean of the image's and its mirror image's probabilities,
    which smooths out some mistakes at little cost.
    """
    device = model_device(model)
    x = torch.from_numpy(normalization.apply(image_hwc))[None].to(device)
    with torch.inference_mode(), torch.autocast(
        device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
    ):
        probs = model(x).float().softmax(dim=1)
        if flip:
            probs += model(x.flip(-1)).float().softmax(dim=1).flip(-1)
            probs *= 0.5
    return probs[0]


def predict_labels(
    model: nn.Module,
    image_hwc: np.ndarray,
    normalization: Normalization,
    num_classes: int,
    flip: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """uint8 (H, W) class labels for one (H, W, C) image as stored."""
    height, width = image_hwc.shape[:2]
    if height * width > MAX_WHOLE_IMAGE_PIXELS:
        return _predict_tiled(model, image_hwc, normalization, num_classes)
    probs = predict_probabilities(model, image_hwc, normalization, flip, autocast_dtype)
    return probs.argmax(dim=0).to(torch.uint8).cpu().numpy()


def _predict_tiled(model, image_hwc, normalization, num_classes) -> np.ndarray:
    from segstudio.core.classes import default_classes
    from segstudio.ml.predict import predict_image
    from segstudio.ml.saved import SavedModel, architecture_dict

    in_channels = 1 if image_hwc.ndim == 2 else image_hwc.shape[2]
    saved = SavedModel(
        model=model,
        architecture=architecture_dict("model", num_classes, in_channels),
        classes=default_classes([str(i) for i in range(num_classes)]),
        normalization=normalization,
    )
    return predict_image(saved, image_hwc).labels

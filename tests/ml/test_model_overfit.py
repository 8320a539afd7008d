"""Each model learns: a few hundred steps overfit one real ISBI crop (membrane vs cell)."""

import torch

from segstudio.ml.models import build_model
from tests.ml.model_helpers import SMALL_OPTIONS, isbi_crop, mean_iou, overfit


def test_unet_overfits_an_isbi_crop(isbi_dir):
    torch.manual_seed(0)
    image, target = isbi_crop(isbi_dir, 128)
    model = build_model("unet", 2, in_channels=1, **SMALL_OPTIONS["unet"])
    prediction = overfit(model, image, target, steps=120, lr=1e-2)
    # Predicting "cell" everywhere scores about 0.39 here; a U-Net memorises the membranes.
    assert mean_iou(prediction, target, 2) >= 0.9

"""Shared by the model tests: small configurations and a real ISBI crop to overfit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Small widths keep the tests fast on two CPU cores; the defaults are tested for shape only.
SMALL_OPTIONS = {
    "unet": {"depth": 3, "base_width": 8},
    "fcn": {"base_width": 8},
    "deeplabv3": {"base_width": 16},
    "deeplabv3plus": {"base_width": 16},
}


def isbi_crop(isbi_dir: Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-left size x size of slice 00, standardised; mask 0 (membrane) -> 0, 255 -> 1."""
    image = np.asarray(Image.open(isbi_dir / "images" / "00.png"), dtype=np.float32)
    mask = np.asarray(Image.open(isbi_dir / "masks" / "00.png"))
    image, mask = image[:size, :size], mask[:size, :size]
    assert set(np.unique(mask)) == {0, 255}
    image = (image - image.mean()) / image.std()
    return torch.from_numpy(image)[None, None], torch.from_numpy((mask == 255).astype(np.int64))[None]


def overfit(model: torch.nn.Module, image: torch.Tensor, target: torch.Tensor, steps: int,
            lr: float) -> torch.Tensor:
    """Train on the one image with cross-entropy; return the eval-mode prediction."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(image), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return model(image).argmax(dim=1)


def mean_iou(prediction: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    ious = []
    for cls in range(num_classes):
        union = ((prediction == cls) | (target == cls)).sum().item()
        ious.append(((prediction == cls) & (target == cls)).sum().item() / union)
    return float(np.mean(ious))

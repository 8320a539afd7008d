"""The model registry: a plain dict from architecture name to builder.

    model = build_model("unet", num_classes=3, in_channels=1, depth=4, base_width=32)

Every model is encoder -> decoder -> head, takes (N, in_channels, H, W) of any
size and returns logits (N, num_classes, H, W). Options are plain JSON values
(saved in model.json and passed back here on load). A builder's keyword
arguments are its options; `model_options(name)` gives their defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from segstudio.core.classes import MAX_CLASSES
from segstudio.core.errors import UserError
from segstudio.ml.models.options import check_choice, check_int
from segstudio.ml.models.unet import UPSAMPLING, UNet

MAX_IN_CHANNELS = 1024


def _unet(num_classes: int, in_channels: int, depth: int = 4, base_width: int = 32,
          upsampling: str = "bilinear") -> nn.Module:
    return UNet(
        num_classes,
        in_channels,
        depth=check_int("depth", depth, 1, 6),
        base_width=check_int("base_width", base_width, 1, 256),
        upsampling=check_choice("upsampling", upsampling, UPSAMPLING),
    )


MODELS: dict[str, Callable[..., nn.Module]] = {
    "unet": _unet,
}


def model_names() -> list[str]:
    return list(MODELS)


def model_options(name: str) -> dict:
    """The options of an architecture with their default values."""
    return {
        param.name: param.default
        for param in list(inspect.signature(_builder(name)).parameters.values())[2:]
    }


def build_model(name: str, num_classes: int, in_channels: int = 1, **options) -> nn.Module:
    """Build an architecture by name; every bad argument raises UserError saying what is valid."""
    builder = _builder(name)
    check_int("num_classes", num_classes, 1, MAX_CLASSES)
    check_int("in_channels", in_channels, 1, MAX_IN_CHANNELS)
    valid = model_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; "
            f"valid options: {', '.join(valid) or 'none'}"
        )
    return builder(num_classes, in_channels, **options)


def _builder(name: str) -> Callable[..., nn.Module]:
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise UserError(
            f"unknown model {name!r}; valid models: {', '.join(MODELS)}"
        ) from None

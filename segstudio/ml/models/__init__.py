"""The model registry: a plain dict from architecture name to builder.

    model = build_model("unet", num_classes=3, in_channels=1, depth=4, base_width=32)

Every model is encoder -> decoder -> head, takes (N, in_channels, H, W) of any
size and returns logits (N, num_classes, H, W). Options are plain JSON values
(saved in model.json and passed back here on load). A builder's keyword
arguments are its options; `model_options(name)` gives their defaults.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from segstudio.core.classes import MAX_CLASSES
from segstudio.ml.models.backbones import RESNETS
from segstudio.ml.models.deeplab import ATROUS_RATES, DeepLab
from segstudio.ml.models.fcn import FCN8s
from segstudio.ml.models.options import check_choice, check_int, check_optional_path
from segstudio.ml.models.unet import INPUT_STRIDES, UPSAMPLING, UNet
from segstudio.ml.registry import builder_options, check_options, lookup

MAX_IN_CHANNELS = 1024
# The total downsampling of the deepest encoders: a side of a multiple of it reaches their
# deepest layer whole (smaller tiles or crops would be padding there).
MAX_DOWNSAMPLING = 32


def _unet(num_classes: int, in_channels: int, depth: int = 4, base_width: int = 32,
          upsampling: str = "bilinear", input_stride: int = 1) -> nn.Module:
    return UNet(
        num_classes,
        in_channels,
        depth=check_int("depth", depth, 1, 6),
        base_width=check_int("base_width", base_width, 1, 256),
        upsampling=check_choice("upsampling", upsampling, UPSAMPLING),
        input_stride=check_choice("input_stride", input_stride, INPUT_STRIDES),
    )


def _fcn(num_classes: int, in_channels: int, base_width: int = 32) -> nn.Module:
    return FCN8s(num_classes, in_channels, base_width=check_int("base_width", base_width, 1, 256))


def _deeplab(num_classes: int, in_channels: int, plus: bool, backbone: str, output_stride: int,
             base_width: int, pretrained: str | None) -> nn.Module:
    return DeepLab(
        num_classes,
        in_channels,
        backbone=check_choice("backbone", backbone, list(RESNETS)),
        output_stride=check_choice("output_stride", output_stride, list(ATROUS_RATES)),
        base_width=check_int("base_width", base_width, 1, 256),
        pretrained=check_optional_path("pretrained", pretrained),
        plus=plus,
    )


# base_width is the width of the first ResNet stage: pretrained torchvision weights need 64.
def _deeplabv3(num_classes: int, in_channels: int, backbone: str = "resnet18",
               output_stride: int = 16, base_width: int = 64,
               pretrained: str | None = None) -> nn.Module:
    return _deeplab(num_classes, in_channels, False, backbone, output_stride, base_width,
                    pretrained)


def _deeplabv3plus(num_classes: int, in_channels: int, backbone: str = "resnet18",
                   output_stride: int = 16, base_width: int = 64,
                   pretrained: str | None = None) -> nn.Module:
    return _deeplab(num_classes, in_channels, True, backbone, output_stride, base_width,
                    pretrained)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "unet": _unet,
    "fcn": _fcn,
    "deeplabv3": _deeplabv3,
    "deeplabv3plus": _deeplabv3plus,
}


def model_names() -> list[str]:
    return list(MODELS)


def model_options(name: str) -> dict:
    """The options of an architecture with their default values."""
    return builder_options(_builder(name))


def build_model(name: str, num_classes: int, in_channels: int = 1, **options) -> nn.Module:
    """Build an architecture by name; every bad argument raises UserError saying what is valid."""
    builder = _builder(name)
    check_int("num_classes", num_classes, 1, MAX_CLASSES)
    check_int("in_channels", in_channels, 1, MAX_IN_CHANNELS)
    check_options("model", name, options, model_options(name))
    return builder(num_classes, in_channels, **options)


def _builder(name: str) -> Callable[..., nn.Module]:
    return lookup(MODELS, name, "model", "models")

"""DeepLabV3 (Chen et al. 2017) and DeepLabV3+ (Chen et al. 2018) on atrous ResNets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.ml.models.backbones import ResNet, load_pretrained
from segstudio.ml.models.blocks import ConvBNReLU, resize_to

ATROUS_RATES = {8: (12, 24, 36), 16: (6, 12, 18)}


class ASPPPooling(nn.Sequential):
    """Image-level features: global average, 1x1 conv, spread back over the map.

    No batch norm here: the pooled map has one value per channel and image, so
    BN would fail on a batch of one.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1),
                         nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1, three dilated 3x3 and image pooling, projected."""

    def __init__(self, in_channels: int, out_channels: int, rates: tuple[int, int, int]):
        super().__init__()
        self.branches = nn.ModuleList(
            [ConvBNReLU(in_channels, out_channels, 1)]
            + [ConvBNReLU(in_channels, out_channels, 3, dilation=rate) for rate in rates]
            + [ASPPPooling(in_channels, out_channels)]
        )
        self.project = ConvBNReLU(len(self.branches) * out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))


class DeepLabV3Decoder(nn.Sequential):
    def __init__(self, in_channels: int, width: int, rates):
        super().__init__(ASPP(in_channels, width, rates), ConvBNReLU(width, width, 3))

    def forward(self, features):
        _, high = features
        return super().forward(high)


class DeepLabV3PlusDecoder(nn.Module):
    """ASPP output upsampled to the stride-4 low-level features, concatenated, refined."""

    def __init__(self, in_channels: int, low_level_channels: int, width: int,
                 low_level_width: int, rates):
        super().__init__()
        self.aspp = ASPP(in_channels, width, rates)
        self.reduce = ConvBNReLU(low_level_channels, low_level_width, 1)
        self.refine = nn.Sequential(ConvBNReLU(width + low_level_width, width, 3),
                                    ConvBNReLU(width, width, 3))

    def forward(self, features):
        low, high = features
        low = self.reduce(low)
        return self.refine(torch.cat([low, resize_to(self.aspp(high), low)], dim=1))


class DeepLab(nn.Module):
    """ResNet encoder -> DeepLabV3 or V3+ decoder -> 1x1 head, upsampled to the input size."""

    def __init__(self, num_classes: int, in_channels: int = 1, backbone: str = "resnet18",
                 output_stride: int = 16, base_width: int = 64, pretrained: str | None = None,
                 plus: bool = False):
        super().__init__()
        self.encoder = ResNet(backbone, in_channels, output_stride, base_width)
        if pretrained is not None:
            load_pretrained(self.encoder, pretrained)
        width = 4 * base_width  # 256 for the standard ResNet width, as in the papers
        rates = ATROUS_RATES[output_stride]
        if plus:
            low_level_width = max(8, 3 * base_width // 4)  # 48 for the standard width
            self.decoder = DeepLabV3PlusDecoder(self.encoder.out_channels,
                                                self.encoder.low_level_channels, width,
                                                low_level_width, rates)
        else:
            self.decoder = DeepLabV3Decoder(self.encoder.out_channels, width, rates)
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize_to(self.head(self.decoder(self.encoder(x))), x)

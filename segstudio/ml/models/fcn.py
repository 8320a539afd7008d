"""FCN-8s (Long et al. 2015): a VGG-style backbone whose classifier is convolutional, and
class scores fused from strides 32, 16 (pool4) and 8 (pool3)."""

from __future__ import annotations

import torch
from torch import nn

from segstudio.ml.models.blocks import ConvBNReLU, bilinear_kernel, crop_to, pad_to_multiple

# Convolutions per stage as in VGG-16; every stage ends with a 2x2 max pool.
_VGG16_STAGES = (2, 2, 3, 3, 3)
_TOTAL_STRIDE = 2 ** len(_VGG16_STAGES)


class VGGEncoder(nn.Module):
    """VGG-16 layout with batch norm (trainable from scratch); returns pool3, pool4, pool5."""

    def __init__(self, in_channels: int, base_width: int):
        super().__init__()
        widths = [base_width * factor for factor in (1, 2, 4, 8, 8)]
        self.stages = nn.ModuleList()
        for convs, width in zip(_VGG16_STAGES, widths, strict=True):
            layers = [ConvBNReLU(in_channels if i == 0 else width, width) for i in range(convs)]
            self.stages.append(nn.Sequential(*layers, nn.MaxPool2d(2)))
            in_channels = width
        self.channels = widths

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pools = []
        for stage in self.stages:
            x = stage(x)
            pools.append(x)
        return pools[2], pools[3], pools[4]


class ConvClassifier(nn.Module):
    """VGG's fc6 and fc7 as convolutions on pool5; pool3 and pool4 pass through for the head."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.fc6 = ConvBNReLU(in_channels, width, kernel_size=3)
        self.fc7 = ConvBNReLU(width, width, kernel_size=1)

    def forward(self, features):
        pool3, pool4, pool5 = features
        return pool3, pool4, self.fc7(self.fc6(pool5))


class FCN8sHead(nn.Module):
    """Scores at stride 32, x2 + pool4 scores, x2 + pool3 scores, x8 to the input size."""

    def __init__(self, num_classes: int, pool3_channels: int, pool4_channels: int,
                 classifier_channels: int):
        super().__init__()
        self.score_fr = nn.Conv2d(classifier_channels, num_classes, 1)
        self.score_pool4 = nn.Conv2d(pool4_channels, num_classes, 1)
        self.score_pool3 = nn.Conv2d(pool3_channels, num_classes, 1)
        self.upscore2 = _bilinear_upsampler(num_classes, 2)
        self.upscore_pool4 = _bilinear_upsampler(num_classes, 2)
        self.upscore8 = _bilinear_upsampler(num_classes, 8)
        # As in the paper: the skip scores start at zero, so training starts from FCN-32s.
        for score in (self.score_pool4, self.score_pool3):
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)

    def forward(self, features) -> torch.Tensor:
        pool3, pool4, classified = features
        fused = self.upscore2(self.score_fr(classified)) + self.score_pool4(pool4)
        fused = self.upscore_pool4(fused) + self.score_pool3(pool3)
        return self.upscore8(fused)


class FCN8s(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, base_width: int = 32):
        super().__init__()
        self.encoder = VGGEncoder(in_channels, base_width)
        classifier_width = 16 * base_width
        self.decoder = ConvClassifier(self.encoder.channels[4], classifier_width)
        self.head = FCN8sHead(num_classes, self.encoder.channels[2], self.encoder.channels[3],
                              classifier_width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A multiple of 32 makes every x2 / x8 transposed convolution land exactly on its skip.
        padded = pad_to_multiple(x, _TOTAL_STRIDE)
        return crop_to(self.head(self.decoder(self.encoder(padded))), x)


def _bilinear_upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A learnable ConvTranspose2d that multiplies the size by `factor`, initialised bilinear."""
    kernel_size = 2 * factor
    layer = nn.ConvTranspose2d(channels, channels, kernel_size, stride=factor,
                               padding=factor // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(bilinear_kernel(channels, kernel_size))
    return layer

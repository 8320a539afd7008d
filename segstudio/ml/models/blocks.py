"""Small building blocks shared by the architectures.

Sizes are taken from tensor shapes only (never from tensor values), so the
models trace to TorchScript and ONNX with dynamic height and width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Sequential):
    """Conv (no bias: BN follows) -> BatchNorm -> ReLU; 'same' padding for odd kernels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, dilation: int = 1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two 3x3 ConvBNReLU, the unit of every U-Net level."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(ConvBNReLU(in_channels, out_channels), ConvBNReLU(out_channels, out_channels))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad height and width at the bottom/right, repeating the edge, up to a multiple."""
    height, width = x.shape[-2:]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    return F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")


def crop_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The top-left part of `x` with the height and width of `like`."""
    height, width = like.shape[-2:]
    return x[..., :height, :width]


def resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of `x` to the height and width of `like`."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights that make a ConvTranspose2d (channels -> channels) a bilinear upsampler.

    As in Long et al. 2015: each channel is upsampled on its own, the kernel is
    the outer product of a 1-D triangle.
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    steps = torch.arange(kernel_size, dtype=torch.float32)
    triangle = 1 - (steps - center).abs() / factor
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    for channel in range(channels):
        weight[channel, channel] = triangle[:, None] * triangle[None, :]
    return weight

"""ResNet backbones (He et al. 2016) with atrous convolutions for DeepLab.

Module names follow torchvision's ResNet (conv1, bn1, layer1..layer4, each
block conv1/bn1/conv2/bn2[/conv3/bn3]/downsample.0/.1), so a torchvision or
timm ResNet state dict loads as it is, without its fc layer.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from segstudio.core.errors import UserError

# name -> (block kind, blocks per layer)
RESNETS = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
# output stride -> which of layer2, layer3, layer4 trade their stride for dilation
_DILATE = {8: (False, True, True), 16: (False, False, True), 32: (False, False, False)}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, planes, stride=1, downsample=None, dilation=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride, padding=dilation,
                               dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels, planes, stride=1, downsample=None, dilation=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    """Returns (layer1 features at stride 4, layer4 features at `output_stride`)."""

    def __init__(self, name: str = "resnet18", in_channels: int = 1, output_stride: int = 16,
                 base_width: int = 64):
        super().__init__()
        kind, layers = RESNETS[name]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.name = name
        self.in_channels = in_channels
        self._inplanes, self._dilation = base_width, 1
        self.conv1 = nn.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        dilate = (False, *_DILATE[output_stride])
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            self._make_layer(block, base_width * 2**i, count, 1 if i == 0 else 2, dilate[i])
            for i, count in enumerate(layers)
        )
        self.low_level_channels = base_width * block.expansion
        self.out_channels = base_width * 8 * block.expansion
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, count, stride, dilate) -> nn.Sequential:
        # As torchvision's replace_stride_with_dilation: the first block keeps the old dilation.
        previous_dilation = self._dilation
        if dilate:
            self._dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self._inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self._inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        blocks = [block(self._inplanes, planes, stride, downsample, previous_dilation)]
        self._inplanes = planes * block.expansion
        blocks += [block(self._inplanes, planes, dilation=self._dilation) for _ in range(1, count)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        low = self.layer1(x)
        return low, self.layer4(self.layer3(self.layer2(low)))


def load_pretrained(backbone: ResNet, path: str | os.PathLike) -> None:
    """Load a torchvision/timm ResNet state dict (.pth, .pt or .safetensors) into `backbone`.

    The fc layer is ignored. For in_channels != 3 the first convolution becomes
    the mean of its RGB weights, repeated per channel and scaled by 3/in_channels,
    so a gray image repeated over the channels gives the responses of the RGB
    original. Raises UserError naming the file when it cannot be read or does not fit.
    """
    path = Path(path)
    state = _read_state_dict(path)
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    conv1 = state.get("conv1.weight")
    if conv1 is not None and conv1.ndim == 4 and conv1.shape[1] != backbone.in_channels:
        if conv1.shape[1] != 3:
            raise UserError(f"{path}: its first convolution takes {conv1.shape[1]} channels; "
                            f"only RGB (3) weights can be adapted to {backbone.in_channels}")
        mean = conv1.float().mean(dim=1, keepdim=True)
        state["conv1.weight"] = mean.repeat(1, backbone.in_channels, 1, 1) * (
            3 / backbone.in_channels)
    expected = backbone.state_dict()
    for key in expected:  # old torchvision files have no BN batch counters
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = expected[key]
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(k for k in set(state) & set(expected)
                        if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or mismatched:
        problems = [f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                    for label, keys in (("missing", missing), ("unexpected", unexpected),
                                        ("wrong shape", mismatched)) if keys]
        hint = ""
        if conv1 is not None and conv1.ndim == 4 and conv1.shape[0] != backbone.conv1.out_channels:
            hint = f"; these weights need base_width={conv1.shape[0]}"
        raise UserError(f"{path}: not a {backbone.name} state dict that fits this backbone "
                        f"({'; '.join(problems)}{hint})")
    backbone.load_state_dict(state)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise UserError(f"{path}: pretrained weights file not found")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            data = load_file(str(path))
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt files raise many kinds of errors
        raise UserError(f"{path}: cannot read pretrained weights ({exc})") from None
    for wrapper in ("state_dict", "model"):  # checkpoints that wrap the state dict
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise UserError(f"{path}: expected a ResNet state dict (names -> tensors)")
    return data

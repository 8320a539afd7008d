"""Pretrained ResNet weights from a local file, named as torchvision names them."""

import pytest
import torch
from safetensors.torch import save_file

from segstudio.core.errors import UserError
from segstudio.ml.models import build_model
from segstudio.ml.models.backbones import ResNet

# torchvision's resnet18 state dict keys, first and last of each part (fc is dropped on load).
TORCHVISION_RESNET18_KEYS = {
    "conv1.weight", "bn1.weight", "bn1.running_var", "bn1.num_batches_tracked",
    "layer1.0.conv1.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
    "layer2.0.downsample.1.running_mean", "layer4.1.conv2.weight", "layer4.1.bn2.weight",
}


def rgb_resnet_state(name: str = "resnet18") -> dict[str, torch.Tensor]:
    """A 'torchvision' RGB state dict: our own backbone's weights plus an fc layer."""
    torch.manual_seed(1)
    backbone = ResNet(name, in_channels=3)
    for module in backbone.modules():  # non-trivial BN statistics to check they load
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    return state


def test_resnet_keys_follow_torchvision():
    keys = set(ResNet("resnet18", in_channels=3).state_dict())
    assert TORCHVISION_RESNET18_KEYS <= keys
    # torchvision's resnet18 has 122 entries; without fc.weight and fc.bias: conv1 + bn1 (1 + 5),
    # 8 blocks of 2 convs + 2 BNs (8 * 12), 3 downsamples of conv + BN (3 * 6) = 120.
    assert len(keys) == 120
    assert "layer3.5.conv3.weight" in ResNet("resnet50", in_channels=3).state_dict()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_rgb_weights_load_into_an_rgb_model(tmp_path, suffix):
    state = rgb_resnet_state()
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    model = build_model("deeplabv3plus", 4, in_channels=3, pretrained=str(path))
    loaded = model.encoder.state_dict()
    for key in ("conv1.weight", "layer3.1.bn2.running_mean", "layer4.0.downsample.0.weight"):
        torch.testing.assert_close(loaded[key], state[key])


def test_first_conv_adapts_to_one_and_five_channels(tmp_path):
    state = rgb_resnet_state()
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": state}, path)  # a wrapped checkpoint works too
    rgb_conv = state["conv1.weight"]
    gray = build_model("deeplabv3", 2, in_channels=1, pretrained=str(path))
    # A gray image gives what the RGB original gives for that image repeated on R, G and B.
    torch.testing.assert_close(gray.encoder.conv1.weight, rgb_conv.sum(dim=1, keepdim=True))
    x = torch.randn(1, 1, 16, 16)
    torch.testing.assert_close(gray.encoder.conv1(x),
                               torch.nn.functional.conv2d(x.repeat(1, 3, 1, 1), rgb_conv,
                                                          stride=2, padding=3))
    five = build_model("deeplabv3", 2, in_channels=5, pretrained=str(path))
    expected = rgb_conv.mean(dim=1, keepdim=True).repeat(1, 5, 1, 1) * 3 / 5
    torch.testing.assert_close(five.encoder.conv1.weight, expected)


def test_weights_of_another_resnet_are_a_user_error(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save(rgb_resnet_state("resnet50"), path)
    with pytest.raises(UserError, match=r"resnet50.pth: not a resnet18 state dict.*unexpected"):
        build_model("deeplabv3", 2, backbone="resnet18", pretrained=str(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a checkpoint", "cannot read pretrained weights"), (None, "pretrained weights file not found")],
)
def test_unreadable_or_missing_file(tmp_path, content, message):
    path = tmp_path / "weights.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=f"weights.pth: {message}"):
        build_model("deeplabv3plus", 2, pretrained=str(path))


def test_pretrained_needs_the_standard_width(tmp_path):
    path = tmp_path / "resnet18.safetensors"
    save_file(rgb_resnet_state(), str(path))
    with pytest.raises(UserError, match=r"wrong shape: bn1.bias.*need base_width=64"):
        build_model("deeplabv3", 2, in_channels=3, base_width=32, pretrained=str(path))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backbone": "resnet101"}, "backbone must be one of 'resnet18', 'resnet34', 'resnet50'"),
        ({"output_stride": 32}, "output_stride must be one of 8, 16"),
        ({"pretrained": 3}, "pretrained must be a file path or None"),
    ],
)
def test_bad_deeplab_options(options, message):
    with pytest.raises(UserError, match=message):
        build_model("deeplabv3", 2, **options)


@pytest.mark.parametrize("backbone", ["resnet34", "resnet50"])
@pytest.mark.parametrize("output_stride", [8, 16])
def test_other_backbones_and_strides(backbone, output_stride):
    model = build_model("deeplabv3plus", 3, backbone=backbone, output_stride=output_stride,
                        base_width=8).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 41, 39)).shape == (1, 3, 41, 39)
    stride = 2 ** (sum(m.stride[0] == 2 for m in model.encoder.modules()
                       if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)) + 1)
    assert stride == output_stride  # conv1, maxpool, and the strided 3x3 convs that remain


def test_a_saved_model_loads_without_its_pretrained_file(tmp_path):
    from segstudio.core.classes import default_classes
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, load_model, save_model

    weights = tmp_path / "resnet18.pth"
    torch.save(rgb_resnet_state(), weights)
    options = {"backbone": "resnet18", "pretrained": str(weights)}
    model = build_model("deeplabv3", 2, in_channels=1, **options).eval()
    saved = SavedModel(
        model=model,
        architecture=architecture_dict("deeplabv3", 2, 1, **options),
        classes=default_classes(["a", "b"]),
        normalization=Normalization((0.0,), (1.0,)),
        training={},
        metrics={},
    )
    assert "pretrained" not in saved.architecture["options"]
    save_model(saved, tmp_path / "model")
    weights.unlink()  # another machine: the backbone file is not there
    loaded = load_model(tmp_path / "model")
    x = torch.rand(1, 1, 40, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.eval()(x), model(x))

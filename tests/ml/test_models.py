"""Every registered model: shapes at any size, gradients, channels_last, autocast, tracing."""

import warnings

import pytest
import torch

from segstudio.core.errors import UserError
from segstudio.ml.models import MODELS, build_model, model_names, model_options
from tests.ml.model_helpers import SMALL_OPTIONS

NAMES = model_names()


def small_model(name: str, num_classes: int = 3, in_channels: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, num_classes, in_channels=in_channels, **SMALL_OPTIONS[name])


def test_registry_is_a_plain_dict_of_every_architecture():
    assert isinstance(MODELS, dict)
    assert set(NAMES) <= set(SMALL_OPTIONS)
    assert NAMES == list(MODELS)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("in_channels", [1, 3])
def test_forward_backward_at_odd_size(name, in_channels):
    model = small_model(name, num_classes=3, in_channels=in_channels)
    x = torch.randn(2, in_channels, 37, 53, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, 3, 37, 53)
    logits.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (17, 40)])
def test_sizes_below_the_total_stride(name, size):
    model = small_model(name).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, *size)).shape == (1, 3, *size)
    model.train()  # batch norm in training needs >1 value per channel: a batch of two
    assert model(torch.randn(2, 1, *size)).shape == (2, 3, *size)


@pytest.mark.parametrize("name", NAMES)
def test_model_has_encoder_decoder_head(name):
    model = small_model(name)
    for part in ("encoder", "decoder", "head"):
        assert isinstance(getattr(model, part), torch.nn.Module), part


@pytest.mark.parametrize("name", NAMES)
def test_default_options_build_and_run(name):
    model = build_model(name, 2).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 45, 50)).shape == (1, 2, 45, 50)


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_gives_the_same_logits(name):
    model = small_model(name, in_channels=3).eval()
    x = torch.randn(2, 3, 40, 44)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_autocast(name):
    model = small_model(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.randn(2, 1, 33, 35))
    assert logits.shape == (2, 3, 33, 35)
    logits.float().mean().backward()


@pytest.mark.parametrize("name", NAMES)
def test_trace_generalises_to_another_size(name):
    model = small_model(name).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, torch.randn(1, 1, 64, 96), check_trace=False)
        x = torch.randn(2, 1, 37, 53)
        torch.testing.assert_close(traced(x), model(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_with_dynamic_size(name, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = small_model(name).eval()
    path = tmp_path / "model.onnx"
    dynamic = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 1, 64, 96),), str(path), dynamo=False,
                          input_names=["image"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"image": dynamic, "logits": dynamic})
    x = torch.randn(2, 1, 37, 53)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_options_are_json_values_with_defaults(name):
    import json

    options = model_options(name)
    assert json.loads(json.dumps(options)) == options


def test_unknown_model_lists_valid_names():
    with pytest.raises(UserError, match="unknown model 'segnet'.*unet"):
        build_model("segnet", 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 0}, "num_classes must be an integer from 1 to 255"),
        ({"num_classes": 256}, "num_classes must be an integer from 1 to 255"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"num_classes": 2, "in_channels": 0}, "in_channels must be an integer from 1"),
        ({"num_classes": 2, "widht": 3}, r"unknown option\(s\) widht .*valid options: depth"),
        ({"num_classes": 2, "depth": 0}, "depth must be an integer from 1 to 6"),
        ({"num_classes": 2, "upsampling": "nearest"}, "upsampling must be one of 'bilinear'"),
        ({"num_classes": 2, "input_stride": 3}, "input_stride must be one of 1, 2, 4, got 3"),
    ],
)
def test_bad_arguments_raise_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        build_model("unet", **kwargs)


def test_unet_transposed_upsampling():
    model = build_model("unet", 2, depth=2, base_width=4, upsampling="transposed")
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())
    assert model(torch.randn(2, 1, 21, 19)).shape == (2, 2, 21, 19)


@pytest.mark.parametrize("stride", [2, 4])
def test_unet_input_stride_folds_pixels_into_channels_and_back(stride):
    torch.manual_seed(0)
    model = build_model("unet", 3, in_channels=2, depth=2, base_width=4, input_stride=stride)
    assert model.encoder.levels[0][0][0].in_channels == 2 * stride**2
    assert model.head.out_channels == 3 * stride**2
    with torch.no_grad():
        for size in ((1, 1), (37, 53), (64, 48)):
            assert model.eval()(torch.randn(1, 2, *size)).shape == (1, 3, *size)

    def block(logits):  # the logits of the top-left stride x stride pixels, one column each
        return logits[0, :, :stride, :stride].reshape(3, -1)

    x = torch.randn(2, 2, 32, 32)
    with torch.no_grad():  # at first every pixel of a block gets the same logits (ICNR)
        first = block(model.eval()(x))
    torch.testing.assert_close(first, first[:, :1].expand_as(first))
    # ...and training draws detail inside the blocks: a checkerboard target.
    target = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model.train()(x), target.expand(2, -1, -1)).backward()
        optimizer.step()
    with torch.no_grad():
        trained = block(model.eval()(x))
    assert (trained[:, 0] - trained[:, 1]).abs().max() > 0.1


def test_unet_has_a_skip_at_every_scale():
    model = build_model("unet", 2, depth=4, base_width=8)
    assert len(model.encoder.levels) == 5 and len(model.decoder.blocks) == 4
    # Each decoder block sees its skip's channels plus the upsampled deeper channels.
    first_convs = [block.conv[0][0] for block in model.decoder.blocks]
    assert [conv.in_channels for conv in first_convs] == [128 + 64, 64 + 32, 32 + 16, 16 + 8]

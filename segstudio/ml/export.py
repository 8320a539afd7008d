"""Export a saved model to ONNX or TorchScript for use without segstudio.

Both take the image as stored: float32 pixel values as read from the file,
shaped (N, C, H, W), any batch size, height and width. The model's input
normalisation is built in, and the output is the logits (N, K, H, W); the
class of a pixel is their argmax over K.
"""

from __future__ import annotations

import importlib.util
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from segstudio.core.atomic import atomic_path, atomic_write_bytes
from segstudio.core.errors import UserError
from segstudio.ml.saved import SavedModel

ONNX_OPSET = 17
# Exported models are checked on an image of another size than the one traced,
# so a model whose code bakes in its input size is caught at export time.
_TRACE_SIZE = (96, 128)
_CHECK_SIZE = (75, 101)


class NormalizedModel(nn.Module):
    """The model with its input normalisation in front: (x - offset) * scale, per channel,
    non-finite values set to 0."""

    def __init__(self, model: nn.Module, offset, scale):
        super().__init__()
        self.model = model
        self.register_buffer("offset", _per_channel(offset))
        self.register_buffer("scale", _per_channel(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.offset) * self.scale
        # As segstudio's own normalisation: NaN ("no data") and infinities become 0.
        return self.model(torch.where(torch.isfinite(x), x, torch.zeros_like(x)))


def export_onnx(saved: SavedModel, path: str | os.PathLike) -> Path:
    """Write an ONNX model with dynamic batch, height and width; input "image", output "logits"."""
    path = _target(path)
    if importlib.util.find_spec("onnx") is None:
        raise UserError(f"{path}: ONNX export needs the onnx package: pip install onnx")
    wrapped = _wrapped_cpu_copy(saved)
    example = _example(saved, _TRACE_SIZE)
    dynamic = {0: "batch", 2: "height", 3: "width"}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter, not the user's concern
        # The TorchScript-based exporter: the dynamo one needs onnxscript.
        torch.onnx.export(
            wrapped,
            (example,),
            str(tmp),
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": dynamic, "logits": dynamic},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )
        _check_onnx(tmp, wrapped, saved, path)
    return path


def export_torchscript(saved: SavedModel, path: str | os.PathLike) -> Path:
    """Write a TorchScript module (torch.jit.load, no segstudio needed) taking any image size."""
    path = _target(path)
    wrapped = _wrapped_cpu_copy(saved)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapped, _example(saved, _TRACE_SIZE), check_trace=False)
        check = _example(saved, _CHECK_SIZE)
        _check_same(traced(check).numpy(), wrapped(check).numpy(), path)
        # Into memory first: torch's own file writer aborts the process when the disk is full.
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _target(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give the name of the file to write")
    return path


def _wrapped_cpu_copy(saved: SavedModel) -> NormalizedModel:
    """A CPU float32 copy in eval mode, so the caller's model is left untouched."""
    import copy

    model = copy.deepcopy(saved.model).to("cpu").float().eval()
    norm = saved.normalization
    return NormalizedModel(model, norm.offset, norm.scale).eval()


def _example(saved: SavedModel, size: tuple[int, int]) -> torch.Tensor:
    """Pixel values as the model's images have them: within two of their standard
    deviations of their mean, channel by channel (the normalisation's inverse)."""
    generator = torch.Generator().manual_seed(0)
    unit = torch.rand((1, saved.in_channels, *size), generator=generator) * 4 - 2
    norm = saved.normalization
    return unit / _per_channel(norm.scale) + _per_channel(norm.offset)


def _check_onnx(tmp: Path, wrapped: nn.Module, saved: SavedModel, path: Path) -> None:
    """Run the written file with onnxruntime (when installed) on a new size."""
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    check = _example(saved, _CHECK_SIZE)
    got = session.run(None, {"image": check.numpy()})[0]
    with torch.no_grad():
        _check_same(got, wrapped(check).numpy(), path)


def _check_same(got: np.ndarray, expected: np.ndarray, path: Path) -> None:
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-3):
        raise UserError(
            f"{path}: the exported model does not reproduce the model on a "
            f"{_CHECK_SIZE[1]}x{_CHECK_SIZE[0]} image (its code depends on the input size "
            "in a way export cannot capture); nothing was written"
        )


def _per_channel(values) -> torch.Tensor:
    array = np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1)
    return torch.from_numpy(array.copy())

"""ONNX and TorchScript exports reproduce the model, loaded where segstudio is not."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from segstudio.core.errors import UserError
from segstudio.core.images import load_image
from segstudio.ml.export import export_onnx, export_torchscript
from segstudio.ml.predict import predict_image
from tests.ml.test_saved import make_saved, model_logits

# Runs in a fresh interpreter: loads the exports with nothing but onnxruntime and torch.
_RUN_EXPORTS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import onnxruntime
    import torch

    for prefix in sys.argv[1:]:
        image = np.load(prefix + "image.npy")
        session = onnxruntime.InferenceSession(prefix + "model.onnx", providers=["CPUExecutionProvider"])
        np.save(prefix + "onnx.npy", session.run(None, {"image": image})[0])
        module = torch.jit.load(prefix + "model.pt")
        with torch.no_grad():
            np.save(prefix + "torchscript.npy", module(torch.from_numpy(image)).numpy())
    assert "segstudio" not in sys.modules, "the exports must not need segstudio"
    """
)


def test_exports_match_the_model_on_odd_sized_real_images(tmp_path, isbi_dir, camvid_dir):
    gray = load_image(isbi_dir / "images" / "05.png")[100:401, 50:307].astype(np.float32)
    gray[40:60, 70:90] = np.nan  # "no data", as float TIFFs mark it: 0 after normalisation
    colour = load_image(sorted((camvid_dir / "train" / "images").iterdir())[0])[30:331, :257]
    cases = []
    # The gray model works at input stride 2 (pixel unshuffle and shuffle), the colour one at 1.
    for channels, image, stride in ((1, gray, 2), (3, colour, 1)):
        assert image.shape == (301, 257, channels)
        saved = make_saved(num_classes=3, in_channels=channels, offset=100.0, scale=1 / 60,
                           input_stride=stride)
        prefix = str(tmp_path / f"c{channels}_")
        export_onnx(saved, prefix + "model.onnx")
        export_torchscript(saved, prefix + "model.pt")
        # A batch of two: the image, and the image upside down.
        pixels = image.astype(np.float32).transpose(2, 0, 1)
        np.save(prefix + "image.npy", np.ascontiguousarray(np.stack([pixels, pixels[:, ::-1]])))
        expected = np.concatenate(
            [model_logits(saved, image).numpy(), model_logits(saved, image[::-1]).numpy()]
        )
        # segstudio's own prediction of the image is that of the exported model too.
        probs = predict_image(saved, image, return_probs=True).probs.astype(np.float32)
        exp = np.exp(expected[0] - expected[0].max(axis=0))
        np.testing.assert_allclose(probs, exp / exp.sum(axis=0), atol=2e-3)
        cases.append((prefix, expected))

    result = subprocess.run(
        [sys.executable, "-c", _RUN_EXPORTS, *(prefix for prefix, _ in cases)],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr

    for prefix, expected in cases:
        for name in ("onnx", "torchscript"):
            got = np.load(prefix + f"{name}.npy")
            assert got.shape == (2, 3, 301, 257), (prefix, name)
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4, err_msg=prefix + name)


def test_a_model_of_a_narrow_input_range_exports(tmp_path):
    """Images of nearly one value give a large scale; the export's own check must use
    pixel values of that range, not 0..255, or it refuses a sound model."""
    saved = make_saved(in_channels=1, offset=100.0, scale=3921.6)
    export_onnx(saved, tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx").stat().st_size > 0


def test_export_leaves_the_model_where_it_was(tmp_path):
    saved = make_saved()
    saved.model.train()
    export_torchscript(saved, tmp_path / "model.pt")
    assert saved.model.training
    assert next(saved.model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("export", [export_onnx, export_torchscript])
def test_export_to_a_folder_is_a_clear_error(tmp_path, export):
    with pytest.raises(UserError, match="is a folder"):
        export(make_saved(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_an_error_naming_the_file_not_an_abort(tmp_path, monkeypatch):
    import errno

    import torch

    # torch.jit.save's own file writer aborts the process on a full disk (c10::Error in a
    # destructor): the module is saved into memory, and written by segstudio.
    real_save = torch.jit.save
    monkeypatch.setattr(torch.jit, "save", lambda module, target: (
        pytest.fail("torch.jit.save was given a file name") if isinstance(target, (str, os.PathLike))
        else real_save(module, target)))

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)  # as a full disk fails a write
    with pytest.raises(OSError, match="No space left") as failed:
        export_torchscript(make_saved(), tmp_path / "model.pt")
    assert failed.value.filename == str(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []

"""`segstudio export`: files that load and run, and one-line errors with exit code 2."""

import json

import numpy as np
import onnxruntime
import pytest
import torch

from segstudio.cli import main
from segstudio.ml.saved import FORMAT_VERSION, load_model, save_model
from tests.ml.test_saved import make_saved, model_logits


@pytest.fixture()
def model_dir(tmp_path):
    return save_model(make_saved(num_classes=2), tmp_path / "model")


def _run_exported(fmt, path, pixels):
    batch = np.ascontiguousarray(pixels.astype(np.float32).transpose(2, 0, 1)[None])
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"image": batch})[0]
    with torch.no_grad():
        return torch.jit.load(str(path))(torch.from_numpy(batch)).numpy()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("fmt", "name"), [("onnx", "m.onnx"), ("torchscript", "m.pt")])
def test_export_writes_a_working_file(model_dir, tmp_path, capsys, fmt, name):
    out = tmp_path / "exports" / name
    assert main(["export", "--model", str(model_dir), "--format", fmt, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    pixels = np.random.default_rng(0).integers(0, 256, size=(45, 70, 1), dtype=np.uint8)
    expected = model_logits(load_model(model_dir), pixels).numpy()
    np.testing.assert_allclose(_run_exported(fmt, out, pixels), expected, atol=1e-4)


def test_unknown_format_is_a_usage_error(model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "--model", str(model_dir), "--format", "tflite",
              "--out", str(tmp_path / "m")])
    assert info.value.code == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err


@pytest.mark.parametrize("problem", ["missing", "newer", "pickle"])
def test_unusable_model_folders(model_dir, tmp_path, capsys, problem):
    if problem == "missing":
        model_dir = tmp_path / "missing"
    elif problem == "newer":
        meta = json.loads((model_dir / "model.json").read_text())
        meta["format_version"] = FORMAT_VERSION + 1
        (model_dir / "model.json").write_text(json.dumps(meta))
    else:
        torch.save({"weights": torch.zeros(3)}, model_dir / "weights.safetensors")
    out = tmp_path / "m.onnx"
    code = main(["export", "--model", str(model_dir), "--format", "onnx", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("segstudio: error: ") and str(model_dir) in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["model.json", "weights.safetensors"])
def test_export_does_not_write_over_the_model(model_dir, capsys, name):
    before = (model_dir / name).read_bytes()
    out = model_dir / name
    assert main(["export", "--model", str(model_dir), "--format", "onnx", "--out", str(out)]) == 2
    assert "is a file of the saved model" in capsys.readouterr().err
    assert (model_dir / name).read_bytes() == before
    load_model(model_dir)  # still a model


def test_an_unwritable_out_is_one_line(model_dir, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "m.onnx"
    assert main(["export", "--model", str(model_dir), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("segstudio: error: ") and "Traceback" not in err[0]


def test_export_replaces_an_earlier_export_but_not_another_file(model_dir, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    args = ["export", "--model", str(model_dir), "--format", "onnx", "--out"]
    assert main([*args, str(notes)]) == 2
    assert "notes.txt: exists and is not onnx" in capsys.readouterr().err
    assert notes.read_text() == "precious"
    earlier = tmp_path / "m.onnx"
    earlier.write_bytes(b"an older export")
    assert main([*args, str(earlier)]) == 0  # exported again to the same file
    assert earlier.read_bytes() != b"an older export"
    onnxruntime.InferenceSession(str(earlier), providers=["CPUExecutionProvider"])

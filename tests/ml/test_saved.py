"""Saved models: round trip, and clear refusals of files that cannot be used."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

from segstudio.core.classes import default_classes
from segstudio.core.errors import UserError
from segstudio.core.images import load_image
from segstudio.ml.normalization import Normalization
from segstudio.ml.saved import (
    FORMAT_VERSION,
    METADATA_FILE,
    WEIGHTS_FILE,
    SavedModel,
    architecture_dict,
    load_model,
    save_model,
)

# A compact U-Net: small enough for fast tests, the real architecture all the same.
SMALL_MODEL = ("unet", {"base_width": 8})


def small_architecture(num_classes=2, in_channels=1, **options) -> dict:
    name, small_options = SMALL_MODEL
    return architecture_dict(name, num_classes, in_channels=in_channels,
                             **{**small_options, **options})


def make_saved(num_classes=2, in_channels=1, seed=0, offset=128.0, scale=1 / 50,
               **options) -> SavedModel:
    """A small real model with random weights and a plain normalisation."""
    from segstudio.ml.models import build_model

    torch.manual_seed(seed)
    architecture = small_architecture(num_classes, in_channels, **options)
    model = build_model(
        architecture["name"], num_classes, in_channels=in_channels, **architecture["options"]
    ).eval()
    normalization = Normalization((offset,) * in_channels, (scale,) * in_channels)
    names = [f"class {i}" for i in range(num_classes)]
    return SavedModel(
        model=model,
        architecture=architecture,
        classes=default_classes(names),
        normalization=normalization,
        training={"epochs": 3, "learning_rate": 0.001},
        metrics={"mean_iou": 0.5},
    )


def model_logits(saved: SavedModel, image_hwc: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        x = torch.from_numpy(saved.normalization.apply(image_hwc))[None]
        return saved.model(x)


@pytest.fixture()
def isbi_image(isbi_dir):
    return load_image(isbi_dir / "images" / "00.png")[:160, :192]


def test_round_trip_gives_identical_outputs(tmp_path, isbi_image):
    saved = make_saved()
    save_model(saved, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert torch.equal(model_logits(loaded, isbi_image), model_logits(saved, isbi_image))
    assert loaded.architecture == saved.architecture
    assert loaded.classes == saved.classes
    assert loaded.training == saved.training and loaded.metrics == saved.metrics
    assert loaded.num_classes == 2 and loaded.in_channels == 1
    assert not loaded.model.training
    np.testing.assert_array_equal(
        loaded.normalization.apply(isbi_image), saved.normalization.apply(isbi_image)
    )


def test_model_json_describes_the_model(tmp_path):
    saved = make_saved(num_classes=3, in_channels=3)
    folder = save_model(saved, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS_FILE, METADATA_FILE])
    meta = json.loads((folder / METADATA_FILE).read_text())
    assert meta["format"] == "segstudio-model" and meta["format_version"] == FORMAT_VERSION
    assert meta["segstudio_version"]
    assert meta["architecture"]["num_classes"] == 3 and meta["architecture"]["in_channels"] == 3
    assert [c["name"] for c in meta["classes"]] == ["class 0", "class 1", "class 2"]
    assert [tuple(c["color"]) for c in meta["classes"]] == [c.color for c in saved.classes]
    assert meta["training"]["epochs"] == 3 and meta["metrics"]["mean_iou"] == 0.5
    assert Normalization.from_json(meta["normalization"]).to_json() == meta["normalization"]
    json.dumps(meta)  # plain JSON all the way down


def test_load_accepts_the_model_json_path(tmp_path):
    save_model(make_saved(), tmp_path / "model")
    assert load_model(tmp_path / "model" / METADATA_FILE).num_classes == 2


def _saved_folder(tmp_path):
    return save_model(make_saved(), tmp_path / "model")


def _edit_metadata(folder, change):
    path = folder / METADATA_FILE
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no saved model here") as info:
        load_model(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


def test_newer_format_version_is_refused(tmp_path):
    folder = _saved_folder(tmp_path)
    _edit_metadata(folder, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(UserError, match="newer segstudio.*upgrade") as info:
        load_model(folder)
    assert str(folder / METADATA_FILE) in str(info.value)


@pytest.mark.parametrize("text", ["{not json", '{"format": "something-else"}', "[]"])
def test_unreadable_model_json_is_refused(tmp_path, text):
    folder = _saved_folder(tmp_path)
    (folder / METADATA_FILE).write_text(text)
    with pytest.raises(UserError, match=METADATA_FILE):
        load_model(folder)


def test_unknown_architecture_is_refused(tmp_path):
    folder = _saved_folder(tmp_path)
    _edit_metadata(folder, lambda m: m["architecture"].update(name="transformer-xxl"))
    with pytest.raises(UserError, match=METADATA_FILE):
        load_model(folder)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    folder = _saved_folder(tmp_path)

    def three_classes(meta):
        meta["architecture"]["num_classes"] = 3
        meta["classes"].append({"name": "extra", "color": [1, 2, 3]})

    _edit_metadata(folder, three_classes)
    with pytest.raises(UserError, match="do not fit") as info:
        load_model(folder)
    assert WEIGHTS_FILE in str(info.value)


def test_truncated_weights_are_refused(tmp_path):
    folder = _saved_folder(tmp_path)
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(UserError, match="does not match"):
        load_model(folder)
    # Without the checksum the safetensors reader itself refuses the file.
    _edit_metadata(folder, lambda m: m.pop("weights"))
    with pytest.raises(UserError, match="not a safetensors"):
        load_model(folder)


class _Booby:
    """Unpickling this object writes a marker file: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_weights_are_never_unpickled(tmp_path):
    folder = _saved_folder(tmp_path)
    marker = tmp_path / "unpickled"
    weights = folder / WEIGHTS_FILE
    # A torch .pt file (a pickle) with a booby-trapped object, in place of the weights,
    # and a model.json whose checksum matches it, so only the file format can stop it.
    torch.save({"state": make_saved().model.state_dict(), "trap": _Booby(marker)}, weights)
    assert pickle.loads(pickle.dumps(_Booby(tmp_path / "check"))) is not None
    assert (tmp_path / "check").exists()  # the trap works when unpickled
    from segstudio.ml.saved import _sha256

    _edit_metadata(folder, lambda m: m["weights"].update(sha256=_sha256(weights)))
    with pytest.raises(UserError, match="never loads pickled"):
        load_model(folder)
    assert not marker.exists()


def test_missing_weights_are_refused(tmp_path):
    folder = _saved_folder(tmp_path)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(UserError, match="weights file not found"):
        load_model(folder)


def test_architecture_dict_is_plain_json():
    arch = architecture_dict("unet", 4, in_channels=3, base_width=8)
    assert json.loads(json.dumps(arch)) == {
        "name": "unet",
        "num_classes": 4,
        "in_channels": 3,
        "options": {"base_width": 8},
    }


def test_saving_over_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "model").write_text("a file")
    with pytest.raises(UserError, match="is a file"):
        save_model(make_saved(), tmp_path / "model")


def test_a_failed_save_leaves_the_model_folder_as_it_was(tmp_path, monkeypatch):
    import errno

    folder = save_model(make_saved(), tmp_path / "model")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)  # as a full disk fails a write
    with pytest.raises(OSError, match="No space left") as failed:
        save_model(make_saved(num_classes=3), folder)
    assert failed.value.filename in {str(folder / "model.json"),
                                     str(folder / "weights.safetensors")}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

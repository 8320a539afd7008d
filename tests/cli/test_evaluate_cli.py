import json
import subprocess
import sys

import numpy as np
import pytest

from segstudio.cli import main
from segstudio.core.classes import default_classes
from segstudio.ml.data import FolderSource
from segstudio.ml.train import TrainConfig, Trainer
from tests.conftest import torch_threads

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(isbi_split):
    """A model trained briefly on ISBI 00-03, and two held-out slices to score it on."""
    root = isbi_split
    source = FolderSource(root / "train" / "images", root / "train" / "masks",
                          mask_values="membrane=0,cell=255")
    config = TrainConfig(model_options={"depth": 3, "base_width": 4}, crop_size=64,
                         batch_size=2, steps=20, lr=1e-2)
    trainer = Trainer(config, source, source.classes)
    with torch_threads(1):  # module fixtures run before the function-scoped one
        list(trainer)
    trainer.save(root / "model")
    return root


def _args(root, *extra):
    return ["evaluate", "--model", str(root / "model"), "--images", str(root / "test" / "images"),
            "--masks", str(root / "test" / "masks"), *extra]


def test_evaluate_prints_figures_as_json(trained, capsys):
    assert main(_args(trained, "--mask-values", "0,255", "--json")) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert set(figures) >= {"miou", "iou", "dice", "pixel_accuracy", "pq", "seconds"}
    assert set(figures["iou"]) == {"membrane", "cell"}  # the model's class names
    assert 0 < figures["miou"] <= 1 and figures["images"] == 2
    assert figures["pq"] is None or 0 <= figures["pq"] <= 1
    assert any("membrane" in line and "IoU" in line for line in out)
    # Flip averaging scores about the same.
    assert main(_args(trained, "--mask-values", "0,255", "--json", "--flip")) == 0
    flipped = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(flipped["miou"] - figures["miou"]) < 0.1, (figures, flipped)


def test_evaluate_reads_masks_as_the_model_was_trained(trained, capsys):
    """Without mask options the 0/255 masks must not be read as class 0 and unlabelled."""
    assert main(_args(trained, "--json")) == 0
    captured = capsys.readouterr()
    assert "training mask values 0,255" in captured.err
    default = json.loads(captured.out.strip().splitlines()[-1])
    assert main(_args(trained, "--mask-values", "0,255", "--json")) == 0
    explicit = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert default["iou"] == explicit["iou"] and default["iou"]["cell"] > 0.3


def test_masks_with_values_that_are_not_classes_exit_2(trained, capsys):
    # Without --mask-values the model's training values (0,255) read the masks.
    assert main(_args(trained, "--json")) == 0
    capsys.readouterr()
    assert main(_args(trained, "--mask-values", "0,128,255")) == 2
    assert "3 classes" in capsys.readouterr().err
    assert main(_args(trained, "--mask-values", "1,2")) == 2
    err = capsys.readouterr().err
    assert "20.png" in err and "[0]" in err


def test_classes_file_with_other_class_count(trained, tmp_path, capsys):
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps([c.name for c in default_classes(["a", "b", "c"])]))
    assert main(_args(trained, "--classes", str(classes))) == 2
    assert "has 2" in capsys.readouterr().err


def test_subprocess_missing_model(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "segstudio", "evaluate", "--model", str(tmp_path / "nope"),
         "--images", str(tmp_path), "--masks", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "nope" in result.stderr


@pytest.mark.parametrize("kind", ["rgb", "16-bit"])
def test_images_the_model_cannot_read_are_named(trained, tmp_path, capsys, kind):
    """The ISBI model knows 1-channel 8-bit images: an RGB or a 16-bit copy of a held-out
    slice is refused, naming the file (16-bit values read as 8-bit ones would make every
    pixel one class)."""
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    gray = cv2.imread(str(trained / "test" / "images" / "20.png"), cv2.IMREAD_GRAYSCALE)
    converted = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) if kind == "rgb" else gray * np.uint16(257)
    cv2.imwrite(str(images / "20.png"), converted)
    args = _args(trained, "--mask-values", "0,255")
    args[args.index("--images") + 1] = str(images)
    assert main(args) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after a note on 21's mask
    assert last.startswith("segstudio: error: ") and str(images / "20.png") in last
    assert ("3 channel(s)" if kind == "rgb" else "uint16 pixels") in last


def test_unpaired_images_are_noted_and_unlabelled_masks_refused(trained, tmp_path, capsys):
    import cv2

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for name in ("20.png", "21.png"):
        (images / name).symlink_to(trained / "test" / "images" / name)
    cv2.imwrite(str(masks / "20.png"), np.full((512, 512), 255, np.uint8))  # nothing labelled
    args = _args(trained, "--mask-values", "0,1")  # so 255 is unlabelled
    args[args.index("--images") + 1], args[args.index("--masks") + 1] = str(images), str(masks)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("1 image(s) without a mask left out" in line and "21.png" in line for line in err)
    assert err[-1].startswith(f"segstudio: error: {masks}: no mask has a labelled pixel")


def test_named_mask_classes_are_matched_to_the_model_by_name(trained, capsys, tmp_path):
    """Classes given in another order were scored by position: one class as the other,
    without a word (found by QA)."""
    assert main(_args(trained, "--mask-values", "membrane=0,cell=255", "--json")) == 0
    captured = capsys.readouterr()
    assert "note" not in captured.err
    truth = json.loads(captured.out.strip().splitlines()[-1])
    assert main(_args(trained, "--mask-values", "cell=255,membrane=0", "--json")) == 0
    captured = capsys.readouterr()
    assert "matched to the model's by name (membrane, cell)" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["iou"] == truth["iou"]
    classes = tmp_path / "classes.json"  # a classes file listing them the other way round
    classes.write_text(json.dumps({"classes": [{"id": 255, "name": "cell"},
                                               {"id": 0, "name": "membrane"}]}))
    assert main(_args(trained, "--classes", str(classes), "--json")) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["iou"] == truth["iou"]
    # Names the model does not have: position decides, and the user is told.
    assert main(_args(trained, "--mask-values", "dark=0,bright=255", "--json")) == 0
    captured = capsys.readouterr()
    assert "(dark, bright) are not named as the model's" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["iou"] == truth["iou"]


def test_a_model_json_with_mask_values_that_are_not_numbers_is_named(trained, tmp_path, capsys):
    """A hand-edited "mask_values": ["a", "b"] ended in a traceback, exit 1 (found by QA)."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(trained / "model", model)
    metadata = json.loads((model / "model.json").read_text())
    metadata["training"]["mask_values"] = ["a", "b"]
    (model / "model.json").write_text(json.dumps(metadata))
    args = ["evaluate", "--model", str(model), "--images", str(trained / "test" / "images"),
            "--masks", str(trained / "test" / "masks")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mask values ['a', 'b']" in err and str(model) in err
    assert main([*args, "--mask-values", "0,255"]) == 0  # given, the saved ones are not used

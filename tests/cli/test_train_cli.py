import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from segstudio.cli import main
from segstudio.ml.saved import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train_args(root, out, *extra):
    return ["train", "--images", str(root / "train" / "images"),
            "--masks", str(root / "train" / "masks"), "--mask-values", "membrane=0,cell=255",
            "--out", str(out), "--crop-size", "64", "--batch-size", "2", *extra]


def test_train_json_and_saved_model(isbi_split, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(_train_args(isbi_split, out, "--steps", "3", "--json",
                            "--val-images", str(isbi_split / "test" / "images"),
                            "--val-masks", str(isbi_split / "test" / "masks")))
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) >= {"miou", "iou", "dice", "pixel_accuracy", "pq", "seconds"}
    assert any(line.startswith("trained 3 steps in") and " on cpu (float32), 2 crops of 64 a step; saved" in line
               for line in lines)  # where and how it trained
    assert set(figures["iou"]) == {"membrane", "cell"} and 0 <= figures["miou"] <= 1
    assert figures["steps"] == 3 and figures["seconds"] > 0
    saved = load_model(out)
    assert [c.name for c in saved.classes] == ["membrane", "cell"]
    assert saved.training["steps_done"] == 3 and saved.metrics["miou"] == figures["miou"]
    # Continue from it.
    again = tmp_path / "again"
    assert main(_train_args(isbi_split, again, "--steps", "2", "--init", str(out),
                            "--elastic")) == 0
    training = load_model(again).training
    assert training["steps_done"] == 2 and training["elastic"] is True


def test_time_budget_without_validation(isbi_split, tmp_path, capsys):
    assert main(_train_args(isbi_split, tmp_path / "m", "--time-budget", "1", "--json")) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["miou"] is None and figures["iou"] == {} and figures["seconds"] < 4


@pytest.mark.parametrize(
    "change, message",
    [
        (["--mask-values", "0,x"], "--mask-values"),
        (["--masks", "/nonexistent/masks"], "/nonexistent/masks"),
        (["--val-fraction", "1.5"], "--val-fraction"),
        (["--device", "tpu"], "unknown device"),
        (["--init", "/nonexistent/model"], "/nonexistent/model"),
        (["--model-option", "input_stride"], "expected NAME=VALUE"),
        (["--model-option", "input_stride=3"], "input_stride must be one of 1, 2, 4, got 3"),
        (["--model-option", "widht=8"], "unknown option(s) widht"),
        (["--lr", "inf"], "learning rate must be a positive number"),
        (["--seed", "-1"], "seed must be a whole number"),
        # Settings are checked before the data is read (a split with seed -1 raised).
        (["--val-fraction", "0.5", "--seed", "-1"], "seed must be a whole number"),
        (["--val-fraction", "0.5", "--steps", "0"], "steps must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(isbi_split, tmp_path, capsys, change, message):
    args = _train_args(isbi_split, tmp_path / "m", "--steps", "1")
    for option, value in zip(change[::2], change[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("segstudio: error:") and message in err[0]


def test_an_out_folder_that_cannot_be_made_fails_before_training(isbi_split, tmp_path,
                                                                  capsys, monkeypatch):
    from segstudio.ml import train

    monkeypatch.setattr(train.Trainer, "__iter__", lambda self: pytest.fail("trained"))
    (tmp_path / "a_file").write_text("")
    assert main(_train_args(isbi_split, tmp_path / "a_file" / "model", "--steps", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"segstudio: error: {tmp_path / 'a_file'}")


def test_an_out_folder_that_cannot_be_written_fails_before_training(isbi_split, tmp_path,
                                                                     capsys, monkeypatch):
    """An existing --out on a read-only disk: said at once, not after the whole budget."""
    from pathlib import Path

    from segstudio.cli.train import WRITE_PROBE
    from segstudio.ml import train

    monkeypatch.setattr(train.Trainer, "__iter__", lambda self: pytest.fail("trained"))
    write_bytes = Path.write_bytes

    def read_only(path, data):
        if path.name == WRITE_PROBE:
            raise OSError(30, "Read-only file system", str(path))
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)
    out = tmp_path / "model"
    out.mkdir()
    assert main(_train_args(isbi_split, out, "--steps", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"segstudio: error: {out}: cannot be written (Read-only file system); "
                   "choose another --out"]


def test_an_empty_or_input_out_is_refused(isbi_split, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:  # argparse: usage and exit code 2
        main(_train_args(isbi_split, "", "--steps", "1"))
    assert info.value.code == 2 and "--out: give a path" in capsys.readouterr().err
    images = isbi_split / "train" / "images"
    assert main(_train_args(isbi_split, images, "--steps", "1")) == 2
    assert "is also an input folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [] and not (images / "model.json").exists()
    # A folder of other files, or another program's model.json, is not a model to replace.
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.json").write_text('{"name": "someone else\'s"}')
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    for out, message in ((other, "not a segstudio model"), (tmp_path / "notes", "other files")):
        assert main(_train_args(isbi_split, out, "--steps", "1")) == 2
        assert message in capsys.readouterr().err
    assert (other / "model.json").read_text() == '{"name": "someone else\'s"}'


def test_a_failed_training_leaves_no_empty_out_folder(isbi_split, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--steps", "1", "--init", str(tmp_path))) == 2
    assert not out.exists()


def test_an_error_after_some_steps_saves_the_last_good_model(isbi_split, tmp_path, capsys,
                                                              monkeypatch):
    from segstudio.ml import step

    good_step, calls = step.StepRunner._step, []

    def out_of_memory_at_the_third(self, images, masks):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return good_step(self, images, masks)

    monkeypatch.setattr(step.StepRunner, "_step", out_of_memory_at_the_third)
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--steps", "10")) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
    assert last.startswith("segstudio: error:") and "out of memory" in last
    assert f"the model as it was before (step 2) is saved in {out}" in last
    assert load_model(out).training["steps_done"] == 2


def test_model_options_reach_the_saved_model(isbi_split, tmp_path):
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--steps", "2", "--model-option", "input_stride=1",
                            "--model-option", "depth=2", "--model-option", "upsampling=bilinear")) == 0
    options = load_model(out).architecture["options"]
    assert options["input_stride"] == 1 and options["depth"] == 2
    assert options["upsampling"] == "bilinear" and options["base_width"] == 16  # a default
    assert load_model(out).training["augment"] is True  # the default


def test_no_augment_reaches_the_trainer(isbi_split, tmp_path):
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--steps", "1", "--no-augment")) == 0
    assert load_model(out).training["augment"] is False


def test_quarter_turns_follow_the_flag(isbi_split, tmp_path):
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--steps", "1")) == 0
    assert load_model(out).training["rotate90"] == "off"  # "auto" with complete masks
    assert main(_train_args(isbi_split, out, "--steps", "1", "--rotate90", "on")) == 0
    assert load_model(out).training["rotate90"] == "on"


def test_class_weights_follow_the_flag(isbi_split, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--steps", "1")) == 0
    membrane, cell = load_model(out).training["class_weights_used"]
    assert cell == 1.0 and membrane > 1.0  # membranes are the rarer class on ISBI
    assert main(_train_args(isbi_split, out, "--steps", "1", "--class-weights", "3,1")) == 0
    assert load_model(out).training["class_weights_used"] == [3.0, 1.0]
    assert main(_train_args(isbi_split, out, "--steps", "1", "--class-weights", "none")) == 0
    assert "class_weights_used" not in load_model(out).training
    assert main(_train_args(isbi_split, out, "--steps", "1", "--class-weights", "heavy")) == 2
    assert "--class-weights 'heavy'" in capsys.readouterr().err


def test_masks_of_a_wrong_size_name_the_file(isbi_split, tmp_path, capsys):
    import cv2
    import numpy as np

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    (images / "00.png").symlink_to(isbi_split / "train" / "images" / "00.png")
    cv2.imwrite(str(masks / "00.png"), np.zeros((100, 100), np.uint8))
    code = main(["train", "--images", str(images), "--masks", str(masks), "--steps", "1",
                 "--out", str(tmp_path / "m")])
    assert code == 2
    assert "00.png" in capsys.readouterr().err


def test_real_subprocess_exit_code_and_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "segstudio", "train", "--images", str(tmp_path / "none"),
         "--masks", str(tmp_path), "--out", str(tmp_path / "m"), "--steps", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and str(tmp_path / "none") in result.stderr


def test_train_a_project(isbi_split, tmp_path, capsys):
    import numpy as np

    from segstudio.core.classes import default_classes
    from segstudio.core.project import Project

    images = sorted((isbi_split / "train" / "images").glob("*.png"))[:2]
    project = Project.create(tmp_path / "p", images, default_classes(["membrane", "cell"]))
    labels = np.full((512, 512), 255, np.uint8)
    labels[100:140, 100:140], labels[300:340, 300:340] = 0, 1
    project.save_labels(list(project.images)[0], labels)
    out = tmp_path / "model"
    assert main(["train", "--project", str(tmp_path / "p"), "--steps", "2", "--crop-size", "64",
                 "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 2
    assert [c.name for c in load_model(out).classes] == ["membrane", "cell"]
    assert main(["train", "--project", str(tmp_path / "p"), "--images", str(tmp_path),
                 "--out", str(out)]) == 2


def test_a_project_without_val_split_holds_an_image_out(isbi_split, tmp_path, capsys):
    import numpy as np

    from segstudio.core.classes import default_classes
    from segstudio.core.project import Project

    images = sorted((isbi_split / "train" / "images").glob("*.png"))
    project = Project.create(tmp_path / "p", images, default_classes(["membrane", "cell"]))
    labels = np.full((512, 512), 255, np.uint8)
    labels[100:140, 100:140], labels[300:340, 300:340] = 0, 1
    for entry in project.images:
        project.save_labels(entry, labels)
    assert main(["train", "--project", str(tmp_path / "p"), "--steps", "2", "--crop-size", "64",
                 "--out", str(tmp_path / "model"), "--json"]) == 0
    captured = capsys.readouterr()
    assert "no 'val' split: held out" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["miou"] is not None


def test_a_project_refuses_the_folder_validation_options(isbi_split, tmp_path, capsys):
    from segstudio.core.classes import default_classes
    from segstudio.core.project import Project

    images = sorted((isbi_split / "train" / "images").glob("*.png"))[:2]
    Project.create(tmp_path / "p", images, default_classes(["membrane", "cell"]))
    for option in (["--val-fraction", "0.5"], ["--val-masks", str(tmp_path)]):
        assert main(["train", "--project", str(tmp_path / "p"), *option,
                     "--out", str(tmp_path / "model")]) == 2
        error = capsys.readouterr().err
        assert "--project validates on the project's 'val' images" in error
        assert "Traceback" not in error
    assert not (tmp_path / "model").exists()


def test_init_reads_the_masks_as_the_model_was_trained(isbi_split, tmp_path, capsys):
    first = tmp_path / "first"
    assert main(_train_args(isbi_split, first, "--steps", "1", "--val-fraction", "0")) == 0
    capsys.readouterr()
    # 0/255 masks without --mask-values: the continued model's 0,255 are used, not class
    # indices (which would read every cell pixel as unlabelled).
    again = tmp_path / "again"
    assert main(["train", "--images", str(isbi_split / "train" / "images"),
                 "--masks", str(isbi_split / "train" / "masks"), "--init", str(first),
                 "--out", str(again), "--crop-size", "64", "--batch-size", "2",
                 "--steps", "1", "--val-fraction", "0"]) == 0
    error = capsys.readouterr().err
    assert "training mask values 0,255 (override with --mask-values)" in error
    assert "no pixel" not in error and "255, which means unlabelled" not in error
    assert load_model(again).training["mask_values"] == [0, 255]
    assert "--model" not in error
    # A --model other than the continued model's is said to be ignored.
    assert main(["train", "--images", str(isbi_split / "train" / "images"),
                 "--masks", str(isbi_split / "train" / "masks"), "--init", str(first),
                 "--out", str(again), "--model", "deeplabv3", "--steps", "1",
                 "--model-option", "base_width=32",
                 "--crop-size", "64", "--batch-size", "2", "--val-fraction", "0"]) == 0
    error = capsys.readouterr().err
    assert "--model deeplabv3 ignored: --init continues its model, a unet" in error
    assert "--model-option ignored: --init continues its model" in error
    continued = load_model(again)
    assert continued.architecture["name"] == continued.training["model"] == "unet"
    assert continued.training["model_options"] == continued.architecture["options"]
    assert continued.architecture["options"]["base_width"] != 32


def _isbi_pairs(isbi_dir, root, numbers):
    for kind in ("images", "masks"):
        (root / kind).mkdir(parents=True)
        for n in numbers:
            (root / kind / f"{n:02d}.png").symlink_to(isbi_dir / kind / f"{n:02d}.png")
    return ["--images", str(root / "images"), "--masks", str(root / "masks")]


def test_mask_values_that_do_not_fit_the_masks_are_pointed_out(isbi_dir, tmp_path, capsys):
    pairs = _isbi_pairs(isbi_dir, tmp_path / "data", range(2))
    common = ["train", *pairs, "--crop-size", "64", "--batch-size", "2", "--steps", "1"]
    # 0/255 masks with classes stored as 0 and 1: class 1 never occurs, 255 is unlabelled;
    # with one class labelled there is nothing to learn, and the note says why.
    assert main([*common, "--mask-values", "0,1", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "class 'value 1' has no pixel in the training masks" in err
    assert "only one class (value 0)" in err.strip().splitlines()[-1]
    # Read as class indices, the cells (255) are all unlabelled.
    assert main([*common, "--out", str(tmp_path / "b")]) == 2
    assert "pass --mask-values 0,255" in capsys.readouterr().err
    # Given right, nothing to point out.
    assert main([*common, "--mask-values", "0,255", "--out", str(tmp_path / "c")]) == 0
    assert "note" not in capsys.readouterr().err


def test_without_validation_options_a_fifth_is_held_out(isbi_dir, tmp_path, capsys):
    pairs = _isbi_pairs(isbi_dir, tmp_path / "data", range(5))
    assert main(["train", *pairs, "--mask-values", "0,255", "--crop-size", "64",
                 "--batch-size", "2", "--steps", "2", "--json", "--out", str(tmp_path / "m")]) == 0
    captured = capsys.readouterr()
    assert "held out 1 of 5 images for validation" in captured.err
    figures = json.loads(captured.out.strip().splitlines()[-1])
    assert figures["miou"] is not None and set(figures["iou"]) == {"value 0", "value 255"}
    # Given a fraction, the images it held out are named as well (they were not).
    assert main(["train", *pairs, "--mask-values", "0,255", "--crop-size", "64",
                 "--batch-size", "2", "--steps", "1", "--val-fraction", "0.4",
                 "--out", str(tmp_path / "m")]) == 0
    held_out = re.search(r"held out 2 of 5 images for validation \((\S+), (\S+)\)\n",
                         capsys.readouterr().err)
    assert held_out and all(re.fullmatch(r"0[0-4]", name) for name in held_out.groups())


def test_a_validation_image_of_other_channels_is_named(isbi_split, tmp_path, capsys):
    import cv2

    images, masks = tmp_path / "val_images", tmp_path / "val_masks"
    images.mkdir()
    masks.mkdir()
    gray = cv2.imread(str(isbi_split / "test" / "images" / "20.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(images / "20.png"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    (masks / "20.png").symlink_to(isbi_split / "test" / "masks" / "20.png")
    args = _train_args(isbi_split, tmp_path / "m", "--steps", "1", "--val-images", str(images),
                       "--val-masks", str(masks))
    assert main(args) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"segstudio: error: {images / '20.png'}: the image has 3 channel(s)")


def test_a_stray_mask_value_is_pointed_out_in_one_note(tmp_path, capsys):
    import cv2

    for kind in ("images", "masks"):
        (tmp_path / kind).mkdir()
    rng = np.random.default_rng(0)
    for n in range(2):
        cv2.imwrite(str(tmp_path / "images" / f"{n}.png"),
                    rng.integers(0, 256, (64, 64), dtype=np.uint8))
        mask = np.zeros((64, 64), np.uint8)
        mask[:, 32:] = 1
        mask[0, 0] = 7  # one stray value: read as indices, that makes 8 classes
        cv2.imwrite(str(tmp_path / "masks" / f"{n}.png"), mask)
    assert main(["train", "--images", str(tmp_path / "images"), "--masks",
                 str(tmp_path / "masks"), "--steps", "1", "--crop-size", "32",
                 "--batch-size", "2", "--out", str(tmp_path / "m")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 1
    assert "5 of the 8 classes have no pixel" in notes[0] and "indices 0, 1, 7" in notes[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_after_the_step_and_saves_the_model(isbi_split, tmp_path,
                                                                     capsys, signum):
    out = tmp_path / "model"
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signum))
    timer.start()
    started = time.monotonic()
    try:
        code = main(_train_args(isbi_split, out, "--time-budget", "60"))
    finally:
        timer.cancel()
    assert code == 128 + signum and time.monotonic() - started < 30
    saved = load_model(out)
    assert saved.training["steps_done"] > 0
    assert f"stopped by {signal.Signals(signum).name}: the model of step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is not None  # the handlers are put back


def test_ctrl_c_before_the_first_step_exits_as_interrupted(isbi_split, tmp_path, capsys,
                                                           monkeypatch):
    from segstudio.ml import train

    steps = train.Trainer.__iter__

    def interrupted_at_once(self):
        os.kill(os.getpid(), signal.SIGINT)  # handled at once, on this thread
        return steps(self)

    monkeypatch.setattr(train.Trainer, "__iter__", interrupted_at_once)
    out = tmp_path / "model"
    assert main(_train_args(isbi_split, out, "--time-budget", "60")) == 130
    err = capsys.readouterr().err
    assert "note: stopped by SIGINT before the first step: no model saved" in err
    assert "error" not in err and not out.exists()


def test_the_stop_note_names_the_model_saved():
    from types import SimpleNamespace as Report

    from segstudio.cli.train import _which_model

    done = Report(steps=40)
    assert _which_model(Report(best_val=None), done) == "the model of step 40"
    assert _which_model(Report(best_val=Report(step=40)), done) == "the model of step 40"
    assert _which_model(Report(best_val=Report(step=25)), done) == (
        "the best model by validation, of step 25")
    assert "it started from (--init" in _which_model(Report(best_val=Report(step=0)), done)


def test_training_images_of_other_bit_depths_are_refused_and_named(tmp_path, capsys):
    """8-bit, 16-bit and float images were stretched together by one normalisation, and the
    model learnt nothing of the float one, without a word."""
    import cv2
    import tifffile

    for kind in ("images", "masks"):
        (tmp_path / kind).mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "images" / "a8.png"), rng.integers(0, 256, (64, 64), np.uint8))
    tifffile.imwrite(tmp_path / "images" / "b16.tif",
                     rng.integers(0, 51000, (64, 64), dtype=np.uint16))
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 32:] = 1
    for name in ("a8", "b16"):
        cv2.imwrite(str(tmp_path / "masks" / f"{name}.png"), mask)
    assert main(["train", "--images", str(tmp_path / "images"), "--masks",
                 str(tmp_path / "masks"), "--steps", "1", "--val-fraction", "0",
                 "--out", str(tmp_path / "m")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"segstudio: error: {tmp_path / 'images' / 'b16.tif'}: the image has 16-bit "
                    f"pixels, {tmp_path / 'images' / 'a8.png'} 8-bit ones; convert the images "
                    "to one bit depth to train on them together")


def test_labelled_images_whose_files_are_missing_are_named(isbi_dir, tmp_path, capsys):
    """Their labels were left out without a word, and with every image gone the message
    said to add images with labels."""
    import shutil

    from segstudio.core.classes import default_classes
    from segstudio.core.project import Project

    (tmp_path / "images").mkdir()
    for n in range(3):
        shutil.copy(isbi_dir / "images" / f"{n:02d}.png", tmp_path / "images")
    project = Project.create(tmp_path / "p", tmp_path / "images",
                             default_classes(["membrane", "cell"]))
    labels = np.full((512, 512), 255, np.uint8)
    labels[100:140, 100:140], labels[300:340, 300:340] = 0, 1
    for entry in project.images:
        project.save_labels(entry, labels)
    (tmp_path / "images" / "01.png").unlink()
    args = ["train", "--project", str(tmp_path / "p"), "--steps", "1", "--crop-size", "64",
            "--out", str(tmp_path / "m")]
    assert main(args) == 0
    assert "left out (their image files are missing): 01.png" in capsys.readouterr().err
    for name in ("00.png", "02.png"):
        (tmp_path / "images" / name).unlink()
    assert main([*args[:-1], str(tmp_path / "m2")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == ("segstudio: error: no training images: the image files of 00.png, 01.png, "
                    "02.png (labelled) are missing; relink them in the window's Images list")


def test_images_without_a_mask_are_noted(tmp_path, capsys):
    import cv2

    for kind in ("images", "masks"):
        (tmp_path / kind).mkdir()
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 32:] = 1
    for name in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"),
                    rng.integers(0, 256, (64, 64), dtype=np.uint8))
    for name in ("a", "b_label"):  # "b_label" is not "b": left out, and now said so
        cv2.imwrite(str(tmp_path / "masks" / f"{name}.png"), mask)
    assert main(["train", "--images", str(tmp_path / "images"), "--masks",
                 str(tmp_path / "masks"), "--steps", "1", "--crop-size", "32",
                 "--val-fraction", "0", "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "note: 2 image(s) have no mask of the same name and are left out: b.png, c.png" in err

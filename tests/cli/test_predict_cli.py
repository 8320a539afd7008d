"""`segstudio predict`: masks written, and one-line errors with exit code 2."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.masks import read_mask
from segstudio.ml.saved import save_model
from tests.ml.test_saved import make_saved


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_model(make_saved(num_classes=2), tmp_path_factory.mktemp("cli") / "model")


@pytest.fixture()
def images_dir(tmp_path, isbi_dir):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("00.png", "01.png"):
        with Image.open(isbi_dir / "images" / name) as image:
            image.crop((0, 0, 200, 150)).save(folder / name)
    return folder


def _one_error_line(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("segstudio: error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, stderr)


def test_predict_writes_masks_and_overlays(model_dir, images_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                 "--out", str(out), "--overlay", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    for name in ("00.png", "01.png"):
        mask = read_mask(out / name, shape=(150, 200), num_classes=2)
        assert mask.dtype == np.uint8
        with Image.open(out / "overlays" / name) as overlay:
            assert overlay.mode == "RGB" and overlay.size == (200, 150)
    assert "wrote 2 label mask(s)" in capsys.readouterr().out


def test_flip_averages_with_the_mirror_image(images_dir, tmp_path):
    import torch

    from segstudio.core.images import load_image
    from segstudio.ml.predict import predict_image
    from tests.ml.test_saved import model_logits

    saved = make_saved(num_classes=2)
    image = load_image(images_dir / "00.png")
    logits = model_logits(saved, image)[0]
    with torch.no_grad():  # move the decision to the median so both classes are predicted
        saved.model.head.bias[1] -= float((logits[1] - logits[0]).median())
    model_dir = save_model(saved, tmp_path / "model")
    mirrored = predict_image(saved, image, flip=True).labels
    assert (mirrored != predict_image(saved, image).labels).any()  # the test can tell them apart
    for extra, expected in (([], predict_image(saved, image).labels), (["--flip"], mirrored)):
        out = tmp_path / f"out{len(extra)}"
        assert main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                     "--out", str(out), *extra]) == 0
        np.testing.assert_array_equal(read_mask(out / "00.png", shape=(150, 200),
                                                num_classes=2), expected)


def test_a_corrupt_image_is_skipped_named_and_fails_the_run(
    model_dir, images_dir, tmp_path, capsys
):
    (images_dir / "02.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"
    code = main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                 "--out", str(out)])
    assert code == 2
    _one_error_line(capsys.readouterr().err, "02.png")
    assert sorted(p.name for p in out.glob("*.png")) == ["00.png", "01.png"]


def test_when_every_image_is_skipped_it_says_no_mask_was_written(model_dir, tmp_path, capsys):
    images = tmp_path / "broken"
    images.mkdir()
    (images / "00.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_dir), "--images", str(images),
                 "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "wrote" not in captured.out and "could not be predicted" in captured.err
    assert not list(out.glob("*.png"))


def test_missing_model_folder(images_dir, tmp_path, capsys):
    code = main(["predict", "--model", str(tmp_path / "no-model"), "--images", str(images_dir),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    _one_error_line(capsys.readouterr().err, "no-model")


def test_empty_image_folder(model_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["predict", "--model", str(model_dir), "--images", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    _one_error_line(capsys.readouterr().err, "empty", "no images")


def test_bad_tile_size_is_one_error_not_one_per_image(model_dir, images_dir, tmp_path, capsys):
    code = main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                 "--out", str(tmp_path / "out"), "--tile-size", "8"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    _one_error_line(err, "tile size 8")


def test_images_of_the_wrong_channel_count(model_dir, tmp_path, capsys):
    folder = tmp_path / "rgb"
    folder.mkdir()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(folder / "colour.png")
    code = main(["predict", "--model", str(model_dir), "--images", str(folder),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    _one_error_line(capsys.readouterr().err, "colour.png", "3 channel")


def test_as_a_separate_process(model_dir, tmp_path):
    """The installed entry point: exit code 2 and a single line, nothing more."""
    result = subprocess.run(
        [sys.executable, "-m", "segstudio", "predict", "--model", str(model_dir / "model.json"),
         "--images", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    _one_error_line(result.stderr, "missing")


def test_masks_are_never_written_over_the_images(model_dir, images_dir, capsys):
    before = {path.name: path.read_bytes() for path in images_dir.iterdir()}
    assert main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                 "--out", str(images_dir), "--device", "cpu"]) == 2
    _one_error_line(capsys.readouterr().err, str(images_dir), "another output folder")
    assert {path.name: path.read_bytes() for path in images_dir.iterdir()} == before


def test_results_inside_the_images_folder_are_not_read_as_images(model_dir, images_dir, capsys):
    def predict(out, *extra):
        return main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                     "--out", str(out), "--device", "cpu", *extra])

    out = images_dir / "predicted"
    assert predict(out, "--overlay") == 0
    assert predict(out) == 0  # again: the masks and overlays of the first run are skipped
    assert sorted(path.name for path in out.glob("*.png")) == ["00.png", "01.png"]
    assert predict(images_dir / "elsewhere") == 0  # nor read by a run writing elsewhere
    assert capsys.readouterr().out.count("wrote 2 label mask(s)") == 3


def test_a_folder_of_the_users_files_is_refused_as_out_and_stays_images(model_dir, images_dir,
                                                                         tmp_path, capsys):
    sub = images_dir / "sub"
    sub.mkdir()
    (images_dir / "01.png").rename(sub / "01.png")  # the user's own images, not results
    (sub / "notes.txt").write_text("mine")
    assert main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                 "--out", str(sub), "--device", "cpu"]) == 2
    _one_error_line(capsys.readouterr().err, str(sub), "give a new or empty folder")
    assert sorted(path.name for path in sub.iterdir()) == ["01.png", "notes.txt"]
    assert main(["predict", "--model", str(model_dir), "--images", str(images_dir),
                 "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    assert "wrote 2 label mask(s)" in capsys.readouterr().out  # sub/01.png is still an image

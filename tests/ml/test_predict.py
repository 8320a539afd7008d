"""Tiled prediction: equal to whole-image prediction, any size, bounded work per band."""

import copy
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from segstudio.core.classes import UNLABELLED
from segstudio.core.errors import UserError
from segstudio.core.images import load_image
from segstudio.core.masks import read_mask, read_mask_values
from segstudio.ml.predict import (
    OVERLAY_FOLDER,
    PredictionStopped,
    predict_folder,
    predict_image,
    predict_with,
)
from segstudio.ml.saved import SavedModel
from tests.ml.test_saved import make_saved, model_logits


@pytest.fixture(scope="module")
def trained_saved(isbi_dir) -> SavedModel:
    """The compact U-Net trained for a few seconds on EM slices: membrane (0) vs cell (1)."""
    saved = make_saved(num_classes=2)
    images = [load_image(isbi_dir / "images" / f"{i:02d}.png") for i in range(4)]
    masks = [read_mask_values(isbi_dir / "masks" / f"{i:02d}.png") > 0 for i in range(4)]
    rng = np.random.default_rng(0)
    model = saved.model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        picks = [(rng.integers(4), *rng.integers(0, 512 - 128, size=2)) for _ in range(4)]
        x = np.stack([saved.normalization.apply(images[i][y:y + 128, x:x + 128]) for i, y, x in picks])
        y = np.stack([masks[i][y:y + 128, x:x + 128] for i, y, x in picks]).astype(np.int64)
        loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return saved


def pointwise_saved(num_classes=3, in_channels=1) -> SavedModel:
    """A model without spatial context: any tiling must reproduce it exactly."""
    saved = make_saved(num_classes, in_channels)
    torch.manual_seed(1)
    saved.model = nn.Sequential(
        nn.Conv2d(in_channels, 8, 1), nn.Tanh(), nn.Conv2d(8, num_classes, 1)
    ).eval()
    return saved


@pytest.fixture(scope="module")
def em_mosaic(isbi_dir):
    """A 900 x 1100 gray image made of real EM slices."""
    slices = [load_image(isbi_dir / "images" / f"{i:02d}.png")[:, :, 0] for i in range(6)]
    mosaic = np.block([slices[:3], slices[3:]])
    return np.ascontiguousarray(mosaic[:900, :1100, None])


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap"),
    [
        (900, 1100, 256, 64),  # many bands, many tiles per band, uneven last tiles
        (301, 257, 512, 64),  # smaller than one tile: padded and cropped
        (130, 700, 256, 32),  # one band, several tiles
        (700, 97, 128, 0),  # one column of tiles, no overlap
        (1, 5, 64, 16),  # a sliver
    ],
)
def test_tiling_reproduces_a_context_free_model_exactly(em_mosaic, height, width, tile, overlap):
    saved = pointwise_saved()
    image = em_mosaic[:height, :width]
    expected = model_logits(saved, image)[0].softmax(dim=0).numpy()
    got = predict_image(
        saved, image, tile_size=tile, overlap=overlap, return_probs=True, return_confidence=True
    )
    assert got.labels.shape == (height, width) and got.labels.dtype == np.uint8
    assert got.probs.shape == (3, height, width) and got.probs.dtype == np.float16
    np.testing.assert_allclose(got.probs, expected, atol=2e-3)
    assert got.confidence.dtype == np.uint8
    np.testing.assert_allclose(got.confidence / 255, expected.max(axis=0), atol=0.5 / 255 + 1e-4)
    margin = np.sort(expected, axis=0)[-1] - np.sort(expected, axis=0)[-2]
    clear = margin > 5e-3  # where float16 rounding cannot flip the winner
    np.testing.assert_array_equal(got.labels[clear], expected.argmax(axis=0)[clear])


def test_tiled_unet_matches_whole_image_prediction(em_mosaic, trained_saved):
    image = em_mosaic[:640, :768]
    whole = predict_image(trained_saved, image, tile_size=768, return_probs=True)
    assert 0.1 < (whole.labels == 0).mean() < 0.5  # it does find membranes

    # A model trained for seconds is unsure of many pixels, where any change of context may flip
    # the winner; agreement is asked where the whole-image prediction is clear (margin > 0.1).
    probs = whole.probs.astype(np.float32)
    clear = np.abs(probs[0] - probs[1]) > 0.1
    assert clear.mean() > 0.9

    def difference(overlap):
        tiled = predict_image(trained_saved, image, tile_size=256, overlap=overlap, return_probs=True)
        diff = np.abs(probs - tiled.probs.astype(np.float32)).mean()
        return diff, (whole.labels == tiled.labels)[clear].mean()

    blended_diff, blended_agreement = difference(64)
    abutting_diff, abutting_agreement = difference(0)
    assert blended_diff < 0.01 and blended_agreement > 0.99, (blended_diff, blended_agreement)
    # blended borders beat tiles that merely abut
    assert blended_diff < abutting_diff and blended_agreement > abutting_agreement


@pytest.mark.parametrize("tile", [512, 128])
def test_flip_averages_the_probabilities_of_the_image_and_its_mirror(em_mosaic, trained_saved, tile):
    saved = trained_saved
    image = em_mosaic[:256, :320]  # whole at tile 512; by blended tiles at 128

    def probabilities(picture):
        return predict_image(saved, picture, tile_size=tile, return_probs=True).probs.astype(float)

    expected = (probabilities(image) + probabilities(image[:, ::-1])[:, :, ::-1]) / 2
    got = predict_with(saved.model, saved.normalization, 2, image, tile_size=tile, flip=True,
                       return_probs=True)
    np.testing.assert_allclose(got.probs, expected, atol=2e-3)
    assert np.abs(expected - probabilities(image)).max() > 0.05  # the mirror does change them
    clear = np.abs(expected[0] - 0.5) > 5e-3
    np.testing.assert_array_equal(got.labels[clear], expected.argmax(axis=0)[clear])


def test_whole_image_prediction_is_the_model_on_the_image_as_it_is(em_mosaic, trained_saved):
    # As an exported model runs it: the model pads what its strides need, itself.
    saved = trained_saved
    image = em_mosaic[:301, :257]
    got = predict_image(saved, image, return_confidence=True)
    x = saved.normalization.apply(image)
    with torch.no_grad():
        logits = saved.model(torch.from_numpy(x)[None])[0]
    np.testing.assert_array_equal(got.labels, logits.argmax(dim=0).numpy())
    np.testing.assert_allclose(
        got.confidence / 255, logits.softmax(dim=0).max(dim=0).values.numpy(), atol=0.5 / 255 + 1e-4
    )
    assert got.probs is None


def test_gray_image_without_channel_axis_and_other_dtypes(em_mosaic):
    saved = pointwise_saved(num_classes=2)
    image = em_mosaic[:200, :300, 0]
    as_uint8 = predict_image(saved, image).labels
    as_float = predict_image(saved, image.astype(np.float32)).labels
    np.testing.assert_array_equal(as_uint8, as_float)


@pytest.mark.parametrize("tile", [512, 128])  # whole, and by tiles
def test_a_read_only_float32_image_is_predicted_and_left_as_it_was(em_mosaic, tile):
    image = em_mosaic[:200, :300].astype(np.float32)  # full rows: bands are views of it
    before = image.copy()
    image.setflags(write=False)  # images are shared, read-only, by the window and trainer
    labels = predict_image(pointwise_saved(num_classes=2), image, tile_size=tile).labels
    assert labels.shape == (200, 300)
    np.testing.assert_array_equal(image, before)


def test_wrong_channel_count_is_a_clear_error(em_mosaic):
    rgb = np.repeat(em_mosaic[:64, :64], 3, axis=2)
    with pytest.raises(UserError, match="3 channel.*1-channel"):
        predict_image(make_saved(), rgb)


def test_a_model_of_16_bit_images_refuses_8_bit_ones_and_the_reverse():
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.predict import check_image_fits

    ramp = np.arange(64, dtype=np.uint16).reshape(8, 8, 1)
    sixteen = Normalization.fit([3000 + ramp])
    with pytest.raises(UserError, match="8-bit pixels but the model was trained on images of"):
        check_image_fits(sixteen, np.zeros((8, 8, 1), np.uint8))
    check_image_fits(sixteen, np.zeros((8, 8, 1), np.uint16))
    eight = Normalization.fit([np.arange(64, dtype=np.uint8).reshape(8, 8, 1)])
    with pytest.raises(UserError, match="trained on 8-bit images"):
        check_image_fits(eight, np.zeros((8, 8, 1), np.uint16))
    # 16-bit files whose values fit in 8 bits make a model that takes 8-bit images too.
    small = Normalization.fit([ramp])
    check_image_fits(small, np.zeros((8, 8, 1), np.uint8))


@pytest.mark.parametrize(("tile", "overlap"), [(16, 0), (256, 200), (256, -1)])
def test_bad_tiling_is_refused(em_mosaic, tile, overlap):
    with pytest.raises(UserError, match="tile size"):
        predict_image(make_saved(), em_mosaic[:64, :64], tile_size=tile, overlap=overlap)


def test_the_result_is_handed_out_as_its_rows_become_final(em_mosaic, trained_saved):
    seen = []

    def on_rows(done, so_far):  # copies of the result as it is at each call
        seen.append((done, so_far.labels.copy(), so_far.confidence.copy(), so_far.probs.copy()))

    got = predict_image(trained_saved, em_mosaic, tile_size=256, overlap=64,
                        return_probs=True, return_confidence=True, on_rows=on_rows)
    done = [d for d, *_ in seen]
    assert len(done) == 5 and done == sorted(done) and done[0] > 0 and done[-1] == 900
    for rows, labels, confidence, probs in seen:
        # Final rows are as in the result, and no later band changed them; the rest
        # is "nothing predicted".
        np.testing.assert_array_equal(labels[:rows], got.labels[:rows])
        np.testing.assert_array_equal(confidence[:rows], got.confidence[:rows])
        np.testing.assert_array_equal(probs[:, :rows], got.probs[:, :rows])
        assert (labels[rows:] == UNLABELLED).all() and (confidence[rows:] == 255).all()
        assert (probs[:, rows:] == 0).all()


def test_an_image_of_one_tile_is_not_handed_out_in_rows(em_mosaic, trained_saved):
    calls = []
    predict_image(trained_saved, em_mosaic[:300, :300], on_rows=lambda *a: calls.append(a))
    assert calls == []


def test_should_stop_interrupts_a_large_image(em_mosaic):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(PredictionStopped):
        predict_image(pointwise_saved(), em_mosaic, tile_size=128, batch_size=2, should_stop=stop)
    assert len(calls) == 3


def test_predict_folder_writes_palette_masks_and_overlays(tmp_path, isbi_dir, trained_saved):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    source = load_image(isbi_dir / "images" / "03.png")
    Image.fromarray(source[:200, :260, 0]).save(images / "a.png")
    Image.fromarray(source[:150, :100, 0].astype(np.uint16) * 257).save(images / "sub" / "b.tif")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (images / "notes.txt").write_text("not an image")
    saved = trained_saved
    seen = []

    result = predict_folder(
        saved, images, tmp_path / "out", overlay=True, progress=lambda *a: seen.append(a)
    )

    out = tmp_path / "out"
    assert sorted(result.written) == [out / "a.png", out / "sub" / "b.png"]
    assert [(p.name, "broken.png" in why) for p, why in result.skipped] == [("broken.png", True)]
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)] and not result.stopped
    with Image.open(out / "a.png") as mask_file:
        assert mask_file.mode == "P"
        assert mask_file.getpalette()[:6] == [*saved.classes[0].color, *saved.classes[1].color]
    mask = read_mask(out / "a.png", shape=(200, 260), num_classes=2)
    np.testing.assert_array_equal(mask, predict_image(saved, source[:200, :260]).labels)
    assert read_mask(out / "sub" / "b.png").shape == (150, 100)
    with Image.open(out / OVERLAY_FOLDER / "sub" / "b.png") as overlay_file:
        assert overlay_file.mode == "RGB" and overlay_file.size == (100, 150)


def test_predict_folder_stops_when_asked(tmp_path, isbi_dir):
    result = predict_folder(
        make_saved(), [isbi_dir / "images" / "00.png"], tmp_path / "out", should_stop=lambda: True
    )
    assert result.stopped and not result.written and not (tmp_path / "out").exists()


def test_predict_folder_refuses_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images found"):
        predict_folder(make_saved(), tmp_path / "empty", tmp_path / "out")


def test_predict_folder_keeps_images_with_the_same_stem_apart(tmp_path, isbi_dir):
    images = tmp_path / "images"
    images.mkdir()
    source = load_image(isbi_dir / "images" / "07.png")[:64, :80, 0]
    Image.fromarray(source).save(images / "a.png")
    Image.fromarray(source[:, ::-1]).save(images / "a.tif")
    Image.fromarray(source[:32]).save(images / "a.jpg")  # sorted before a.png
    Image.fromarray(source[:16]).save(images / "b.jpg")
    Image.fromarray(source[:8]).save(images / "b.tif")
    result = predict_folder(pointwise_saved(2), images, tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in result.written) == [
        "a.jpg.png", "a.png", "a.tif.png", "b.png", "b.tif.png"]
    np.testing.assert_array_equal(read_mask(out / "a.png")[:, ::-1], read_mask(out / "a.tif.png"))
    assert [read_mask(out / name).shape[0] for name in ("a.png", "a.jpg.png", "b.png")] == [
        64, 32, 16]  # each mask is its own image's


def test_predict_folder_never_overwrites_files_that_are_not_earlier_results(tmp_path, isbi_dir):
    images, out = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    out.mkdir()
    source = load_image(isbi_dir / "images" / "07.png")[:64, :80, 0]
    for name in ("a", "b", "c", "d", "e"):
        Image.fromarray(source).save(images / f"{name}.png")
    for name in ("a", "c", "d", "e"):
        (out / f"{name}.png").write_bytes(b"ground truth")  # the user's own files
    with pytest.raises(UserError, match=r"masks: already holds a.png, c.png, d.png and 1 more"):
        predict_folder(pointwise_saved(2), images, out)
    assert all((out / f"{n}.png").read_bytes() == b"ground truth" for n in ("a", "c", "d", "e"))
    assert not (out / "b.png").exists()

    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError, match="a-file: is a file"):
        predict_folder(pointwise_saved(2), images, tmp_path / "a-file")

    # Predicting again into a folder of its own results replaces them.
    first = predict_folder(pointwise_saved(2), images, tmp_path / "results")
    again = predict_folder(pointwise_saved(2), images, tmp_path / "results")
    assert again.written == first.written and len(again.written) == 5


def test_overlays_never_land_on_the_users_files_or_on_other_results(tmp_path, isbi_dir):
    images, out = tmp_path / "images", tmp_path / "out"
    (images / OVERLAY_FOLDER).mkdir(parents=True)
    (out / OVERLAY_FOLDER).mkdir(parents=True)
    source = load_image(isbi_dir / "images" / "07.png")[:64, :80, 0]
    Image.fromarray(source).save(images / "a.png")
    (out / OVERLAY_FOLDER / "a.png").write_bytes(b"mine")
    for overlay in (True, False):
        with pytest.raises(UserError, match=r"already holds overlays; give a new or empty"):
            predict_folder(pointwise_saved(2), [images / "a.png"], out, overlay=overlay)
    assert sorted(out.rglob("*")) == [out / OVERLAY_FOLDER, out / OVERLAY_FOLDER / "a.png"]
    assert (out / OVERLAY_FOLDER / "a.png").read_bytes() == b"mine"
    # An image in a sub-folder named "overlays": its mask would be a.png's overlay.
    Image.fromarray(source).save(images / OVERLAY_FOLDER / "a.png")
    with pytest.raises(UserError, match=r"would both be .*overlays/a.png"):
        predict_folder(pointwise_saved(2), images, tmp_path / "new", overlay=True)
    assert len(predict_folder(pointwise_saved(2), images, tmp_path / "new").written) == 2


def test_worker_threads_with_model_copies_agree(em_mosaic, trained_saved):
    """What the GUI does: predict from worker threads, each with its own model copy."""
    image = em_mosaic[:300, :400]
    expected = predict_image(trained_saved, image, return_confidence=True)
    copies = [
        dataclasses.replace(trained_saved, model=copy.deepcopy(trained_saved.model))
        for _ in range(3)
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda s: predict_image(s, image, return_confidence=True), copies))
    for result in results:
        np.testing.assert_array_equal(result.labels, expected.labels)
        np.testing.assert_array_equal(result.confidence, expected.confidence)

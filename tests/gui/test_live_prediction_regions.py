"""Live prediction of a large image: the part on screen comes first when zoomed in,
and the rows come as they are predicted while there is no overlay yet. Also: float
and 16-bit images, which the window holds read-only, get their overlay.

A real U-Net (random weights) predicts a 2048 x 2048 image in the window. The
whole-image phase is held at a gate (by wrapping predict_image) so that what the
window shows before it can be checked.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

import tifffile  # noqa: E402

from segstudio.core.classes import UNLABELLED, default_classes  # noqa: E402
from segstudio.core.project import Project  # noqa: E402
from segstudio.gui.predict_live import VIEW_SETTLE_MS  # noqa: E402
from tests.gui.window_helpers import open_window  # noqa: E402

SIZE = 2048


@pytest.fixture
def large_project(tmp_path):
    from segstudio.ml.models import build_model
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, save_model

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (SIZE // 64, SIZE // 64), dtype=np.uint8)
    image = np.kron(coarse, np.ones((64, 64), np.uint8))  # blocks: a varied prediction
    tifffile.imwrite(tmp_path / "large.tif", image)
    classes = default_classes(["dark", "bright"])
    project = Project.create(tmp_path / "project", [tmp_path / "large.tif"], classes)
    options = {"depth": 2, "base_width": 4}
    model = build_model("unet", 2, in_channels=1, **options)
    save_model(SavedModel(model, architecture_dict("unet", 2, 1, **options), classes,
                          Normalization((128.0,), (1 / 64,))),
               project.models_dir / "unet-20260101-000000")
    return project


@pytest.fixture
def gated_whole_image(monkeypatch):
    """Whole-image predictions wait for the returned Event (giving way when asked)."""
    import segstudio.ml.predict as predict_module

    gate, original = threading.Event(), predict_module.predict_image

    def predict_image(saved, image, **options):
        if image.shape[:2] == (SIZE, SIZE):
            while not gate.wait(0.01):
                if options["should_stop"]():
                    raise predict_module.PredictionStopped()
        return original(saved, image, **options)

    monkeypatch.setattr(predict_module, "predict_image", predict_image)
    return gate


@pytest.fixture
def held_after_first_rows(monkeypatch):
    """Whole-image predictions stop after handing out their first band of rows, until the
    returned Event is set."""
    import segstudio.ml.predict as predict_module

    gate, original = threading.Event(), predict_module.predict_image

    def predict_image(saved, image, **options):
        on_rows, should_stop = options.get("on_rows"), options["should_stop"]
        if on_rows is not None:
            def held(y0, part):
                on_rows(y0, part)
                while not gate.wait(0.01):
                    if should_stop():
                        raise predict_module.PredictionStopped()
            options["on_rows"] = held
        return original(saved, image, **options)

    monkeypatch.setattr(predict_module, "predict_image", predict_image)
    return gate


def zoom_to(qtbot, window, x: int, y: int) -> tuple[int, int, int, int]:
    canvas = window.canvas
    canvas.zoom_actual_size()
    canvas.centerOn(x, y)
    qtbot.wait(10)
    return canvas.visible_region()


def centre(region) -> tuple[int, int]:
    return (region[0] + region[2]) // 2, (region[1] + region[3]) // 2


def test_the_part_on_screen_is_shown_before_the_whole_image(qtbot, large_project,
                                                            gated_whole_image):
    gated_whole_image.set()
    window = open_window(qtbot, large_project.root)
    live = window.training.live
    assert live.model is not None
    qtbot.waitUntil(lambda: live.shown is not None and live.shown[1].complete, timeout=30_000)
    complete = live.shown[1].labels.copy()
    gated_whole_image.clear()

    visible = zoom_to(qtbot, window, 300, 300)
    assert 2 * (visible[2] - visible[0]) * (visible[3] - visible[1]) < SIZE * SIZE
    live.set_model(live.model, run=1)  # a training's first model: another than the one before
    qtbot.waitUntil(lambda: live.shown[1].generation == live.generation, timeout=30_000)
    partial = live.shown[1]
    assert not partial.complete
    cy, cx = centre(visible)
    # On screen: the new model's prediction, the same as of the whole image (same
    # weights) away from the region's border; off screen, nothing yet: not the earlier
    # model's, which would then pass for this one's and be accepted as such.
    assert (partial.labels[cy - 50 : cy + 50, cx - 50 : cx + 50]
            == complete[cy - 50 : cy + 50, cx - 50 : cx + 50]).all()
    assert partial.labels[1700, 1700] == UNLABELLED and complete[1700, 1700] != UNLABELLED
    assert live.accept() == int((partial.labels != UNLABELLED).sum())
    window.undo_group.undo()

    gated_whole_image.set()
    qtbot.waitUntil(lambda: live.shown[1].complete, timeout=30_000)
    assert (live.shown[1].labels == complete).all()


def test_panning_asks_for_the_part_now_on_screen(qtbot, large_project, gated_whole_image):
    window = open_window(qtbot, large_project.root)
    live = window.training.live
    first = zoom_to(qtbot, window, 300, 300)  # zoomed in before any prediction shows
    live.forget()
    live.refresh(urgent=True)
    qtbot.waitUntil(lambda: live.shown is not None, timeout=30_000)
    labels = live.shown[1].labels
    assert not live.shown[1].complete
    assert labels[centre(first)] != UNLABELLED
    assert labels[1700, 1700] == UNLABELLED  # not predicted yet

    second = zoom_to(qtbot, window, 1700, 1700)  # the whole-image phase is still held
    qtbot.waitUntil(lambda: live.shown[1].labels[centre(second)] != UNLABELLED, timeout=30_000)
    shown = live.shown[1]
    assert not shown.complete and shown.labels[centre(first)] != UNLABELLED
    assert shown.labels[300, 1700] == UNLABELLED  # neither view covered it

    # Accepting now takes what is predicted, and leaves the rest unlabelled.
    changed = live.accept()
    mask = window.current_mask()
    assert changed == int((shown.labels != UNLABELLED).sum())
    assert mask[centre(second)] != UNLABELLED and mask[300, 1700] == UNLABELLED
    gated_whole_image.set()
    qtbot.waitUntil(lambda: live.shown[1].complete, timeout=30_000)


def test_rows_show_as_they_are_predicted_until_the_image_has_an_overlay(
        qtbot, large_project, held_after_first_rows):
    window = open_window(qtbot, large_project.root)  # fitted: the whole image on screen
    live = window.training.live
    qtbot.waitUntil(lambda: live.shown is not None, timeout=30_000)
    assert not live.shown[1].complete
    first = live.shown[1].labels.copy()
    band = int((first[:, 0] != UNLABELLED).sum())
    assert 0 < band < SIZE // 2  # the first band of tiles' rows, nothing below them
    assert (first[:band] != UNLABELLED).all() and (first[band:] == UNLABELLED).all()
    percent = 100 * band // SIZE
    assert window.statusBar().currentMessage() == (
        f"Predicting this image: {percent}% of its rows…")

    held_after_first_rows.set()
    qtbot.waitUntil(lambda: live.shown[1].complete, timeout=60_000)
    assert window.statusBar().currentMessage() == ""  # done: the message goes
    complete = live.shown[1]
    assert (complete.labels[:band] == first[:band]).all()
    assert window.canvas.prediction_layer.indices is complete.labels

    # With an overlay on show, a newer model's rows do not replace it piecemeal: the
    # older prediction stays whole until the new one is done.
    shown = []
    live.predictionShown.connect(lambda _entry: shown.append(live.shown[1]))
    live.set_model(live.model)
    qtbot.waitUntil(lambda: live.shown[1].generation == live.generation, timeout=60_000)
    assert shown and all(p.complete for p in shown)  # never a mix of old and new


def test_fitting_the_view_while_the_whole_image_is_predicted_asks_for_it_once(
        qtbot, large_project, monkeypatch):
    import segstudio.ml.predict as predict_module

    window = open_window(qtbot, large_project.root)
    live = window.training.live
    qtbot.waitUntil(lambda: live.shown is not None and live.shown[1].complete, timeout=30_000)
    calls, original = [], predict_module.predict_image

    def predict_image(saved, image, **options):
        if image.shape[:2] == (SIZE, SIZE):
            calls.append(live.generation)
        return original(saved, image, **options)

    monkeypatch.setattr(predict_module, "predict_image", predict_image)
    live.forget()  # nothing on show: the rows come in as they are predicted
    live.refresh(urgent=True)
    window.canvas.fit_to_window()  # the view "moves" while that runs
    qtbot.waitUntil(lambda: live.shown is not None and live.shown[1].complete, timeout=30_000)
    qtbot.wait(2 * VIEW_SETTLE_MS)
    qtbot.waitUntil(lambda: not live.worker.has_pending, timeout=30_000)
    assert calls == [live.generation]  # one whole-image prediction, not two


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_float_and_16_bit_gray_images_get_a_live_prediction(qtbot, tmp_path, dtype):
    """Images are read-only once shown: normalising one must never write into it (a float32
    one-channel image was normalised in place, and its live prediction failed)."""
    from segstudio.ml.models import build_model
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, save_model

    rng = np.random.default_rng(0)
    image = (rng.random((300, 400)) * (1.0 if dtype == np.float32 else 4000)).astype(dtype)
    tifffile.imwrite(tmp_path / "image.tif", image)
    classes = default_classes(["dark", "bright"])
    project = Project.create(tmp_path / "project", [tmp_path / "image.tif"], classes)
    normalization = Normalization.fit([image[:, :, None]])
    options = {"depth": 2, "base_width": 4}
    save_model(SavedModel(build_model("unet", 2, in_channels=1, **options),
                          architecture_dict("unet", 2, 1, **options), classes, normalization),
               project.models_dir / "unet-20260101-000000")
    window = open_window(qtbot, project.root)
    live = window.training.live
    qtbot.waitUntil(lambda: live.shown is not None and live.shown[1].complete, timeout=30_000)
    assert not window.errors
    assert window.canvas.prediction_layer.indices.shape == (300, 400)
    np.testing.assert_array_equal(window.current_image()[:, :, 0], image)  # untouched
    assert not window.current_image().flags.writeable  # shared with the worker, uncopied


def test_an_image_read_ahead_that_the_model_cannot_read_says_nothing_until_opened(
        qtbot, tmp_path):
    """The model knows gray images; the colour image after the one on screen is predicted
    ahead and fails. No message about an image the user is not looking at; opening it
    gives one that names it."""
    import cv2

    from segstudio.ml.models import build_model
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, save_model

    cv2.imwrite(str(tmp_path / "a_gray.png"), np.full((64, 64), 90, np.uint8))
    cv2.imwrite(str(tmp_path / "b_colour.png"), np.full((64, 64, 3), 90, np.uint8))
    classes = default_classes(["dark", "bright"])
    project = Project.create(tmp_path / "project",
                             [tmp_path / "a_gray.png", tmp_path / "b_colour.png"], classes)
    options = {"depth": 2, "base_width": 4}
    save_model(SavedModel(build_model("unet", 2, in_channels=1, **options),
                          architecture_dict("unet", 2, 1, **options), classes,
                          Normalization((128.0,), (1 / 64,))),
               project.models_dir / "unet-20260101-000000")
    window = open_window(qtbot, project.root)
    live = window.training.live
    gray, colour = window.project.images
    qtbot.waitUntil(lambda: live.shown is not None and live.shown[0] == gray.id, timeout=20_000)
    qtbot.waitUntil(lambda: not live.worker.busy.is_set() and not live.worker.has_pending,
                    timeout=20_000)
    with qtbot.waitSignal(live.worker.failed, timeout=20_000) as failed:
        live._prefetch_neighbours()  # read b_colour ahead (again, if it was already)
    assert failed.args[0][0] == colour.id
    qtbot.wait(50)
    assert window.current_entry.id == gray.id and window.errors == []
    window.show_entry(colour)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=20_000)
    title, message = window.errors[-1]
    assert title == "Prediction failed" and "b_colour.png" in message and "3 channel(s)" in message

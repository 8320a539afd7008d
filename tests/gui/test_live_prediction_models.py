"""Which model's prediction may be accepted: the overlay of an earlier model, cached for
going back to an image, shows until the current model's comes, but is not accepted as if
it were the current one's (found by QA: Accept pasted it while the dock named the new
model). A training's snapshots and its result are one model throughout."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from segstudio.core.classes import default_classes  # noqa: E402
from segstudio.core.project import Project  # noqa: E402
from tests.gui.window_helpers import open_window  # noqa: E402


def saved_model(project, name: str, seed: int):
    import torch

    from segstudio.ml.models import build_model
    from segstudio.ml.normalization import Normalization
    from segstudio.ml.saved import SavedModel, architecture_dict, save_model

    torch.manual_seed(seed)
    options = {"depth": 2, "base_width": 4}
    model = build_model("unet", 2, in_channels=1, **options)
    folder = project.models_dir / name
    save_model(SavedModel(model, architecture_dict("unet", 2, 1, **options), project.classes,
                          Normalization((128.0,), (1 / 64,))), folder)
    return folder


@pytest.fixture
def project(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name in ("a", "b"):
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, (96, 128), dtype=np.uint8)).save(paths[-1])
    return Project.create(tmp_path / "proj", paths, default_classes(["dark", "bright"]))


def test_an_earlier_models_overlay_is_not_accepted(qtbot, project):
    first, second = saved_model(project, "first", 1), saved_model(project, "second", 2)
    window = open_window(qtbot, project.root)
    training, live = window.training, window.training.live
    accept = training.prediction_panel.accept_all_button
    a, b = window.project.images
    assert training.load_model(first)
    qtbot.waitUntil(accept.isEnabled, timeout=20_000)
    by_first = live.prediction_for_current().copy()
    window.show_entry(b)
    assert training.load_model(second)
    live.worker.cancel_pending()  # so that the first model's overlay stays up for a while
    qtbot.waitUntil(lambda: not live.worker.busy.is_set(), timeout=20_000)
    window.show_entry(a)  # its cached overlay shows at once: the first model's
    assert np.array_equal(live.shown[1].labels, by_first)
    assert not accept.isEnabled() and live.prediction_for_current() is None
    assert live.accept() == 0 and "no prediction of the model in use" in window.errors[-1][1]
    qtbot.waitUntil(accept.isEnabled, timeout=20_000)  # the second model's has come
    by_second = live.prediction_for_current()
    assert not np.array_equal(by_second, by_first)
    assert live.accept() == by_second.size
    np.testing.assert_array_equal(window.current_mask(), by_second)


def test_a_trainings_snapshots_are_one_model(qtbot, project):
    from segstudio.ml.saved import load_model

    window = open_window(qtbot, project.root)
    live = window.training.live
    accept = window.training.prediction_panel.accept_all_button
    first = load_model(saved_model(project, "first", 1))
    live.set_model(first, run=7)
    qtbot.waitUntil(accept.isEnabled, timeout=20_000)
    live.set_model(load_model(saved_model(project, "later", 2)), run=7)  # a later snapshot
    assert accept.isEnabled() and live.prediction_for_current() is not None
    live.set_model(first, run=8)  # another training: its own model
    assert not accept.isEnabled()

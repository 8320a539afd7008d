import re
import threading
import time

import numpy as np
import pytest
import torch

from segstudio.core.classes import default_classes
from segstudio.core.errors import UserError
from segstudio.core.images import load_image
from segstudio.core.masks import read_mask_values
from segstudio.ml.data import Sample
from segstudio.ml.saved import load_model
from segstudio.ml.train import (
    DoneReport,
    StepReport,
    TrainConfig,
    Trainer,
    TrainingError,
    ValReport,
)

CLASSES = default_classes(["membrane", "cell"])
# A small, fast model for the tests: the defaults are tuned for real budgets.
TINY = {"depth": 3, "base_width": 4}


class ListSource:
    def __init__(self, train: list[Sample], val: list[Sample] = ()):
        self.train, self.val = list(train), list(val)

    def train_samples(self):
        return list(self.train)

    def val_samples(self):
        return list(self.val)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _isbi_samples(isbi_dir, numbers, crop=None):
    samples = []
    for n in numbers:
        image = load_image(isbi_dir / "images" / f"{n:02d}.png")
        mask = (read_mask_values(isbi_dir / "masks" / f"{n:02d}.png") // 255).astype(np.uint8)
        if crop:
            image, mask = image[:crop, :crop], mask[:crop, :crop]
        samples.append(Sample(f"{n:02d}", lambda i=image: i, lambda m=mask: m))
    return samples


def _run(trainer):
    reports = list(trainer)
    assert isinstance(reports[-1], DoneReport)
    return reports


@pytest.mark.slow
def test_short_training_on_isbi_beats_chance_on_held_out_slices(isbi_dir, tmp_path):
    source = ListSource(_isbi_samples(isbi_dir, range(8)), _isbi_samples(isbi_dir, [20, 25]))
    config = TrainConfig(model_options={"depth": 3, "base_width": 8}, crop_size=128,
                         batch_size=4, steps=60, lr=5e-3, val_interval_s=1e9, seed=1)
    trainer = Trainer(config, source, CLASSES)
    reports = _run(trainer)
    steps = [r for r in reports if isinstance(r, StepReport)]
    vals = [r for r in reports if isinstance(r, ValReport)]
    assert [r.step for r in steps] == list(range(1, 61))
    assert steps[-1].progress == 1.0 and steps[-1].total_steps == 60
    assert np.mean([r.loss for r in steps[-10:]]) < np.mean([r.loss for r in steps[:5]])
    # Always predicting "cell" scores mIoU ~0.39; a model that learnt does much better.
    assert len(vals) == 1 and vals[0].miou > 0.55
    assert vals[0].iou["membrane"] > 0.3 and set(vals[0].iou) == {"membrane", "cell"}
    done = reports[-1]
    assert done.reason == "steps" and done.steps == 60 and done.best_miou == vals[0].miou
    # The saved model predicts as well as the trainer reported.
    trainer.save(tmp_path / "model")
    saved = load_model(tmp_path / "model")
    assert saved.metrics["miou"] == pytest.approx(vals[0].miou)
    assert saved.architecture["options"] == {"depth": 3, "base_width": 8, "input_stride": 2,
                                             "upsampling": "transposed"}  # the defaults
    assert saved.normalization == trainer.normalization


def _small_source(isbi_dir, count=2):
    return ListSource(_isbi_samples(isbi_dir, range(count), crop=96))


def test_stop_from_another_thread_is_honoured_within_a_second(isbi_dir):
    config = TrainConfig(model_options=TINY, crop_size=64, batch_size=2)  # no limit
    trainer = Trainer(config, _small_source(isbi_dir), CLASSES)
    stopped_at = []

    def stop_soon():
        time.sleep(0.5)
        stopped_at.append(time.monotonic())
        trainer.stop()

    thread = threading.Thread(target=stop_soon)
    reports = []
    for report in trainer:
        reports.append(report)
        if len(reports) == 1:
            thread.start()  # once training runs
    ended = time.monotonic()
    thread.join()
    assert reports[-1].reason == "stopped" and reports[-1].steps >= 1
    assert ended - stopped_at[0] < 1.0
    assert all(r.total_steps is None and r.progress == 0 for r in reports[:-1])


def _stopped_at_step_3(trainer, **stop_options) -> list:
    """The reports of a training stopped as its third step is reported."""
    reports = []
    for report in trainer:
        reports.append(report)
        if isinstance(report, StepReport) and report.step == 3:
            trainer.stop(**stop_options)
    return reports


@pytest.mark.parametrize(("stop_options", "validated"), [
    ({}, True),  # the engine's own default: the final weights are validated
    ({"final_validation_limit_s": 60.0}, True),  # the window's Stop, a small held-out set
    ({"final_validation_limit_s": 0.0}, False),  # a validation longer than the limit
])
def test_stop_validates_the_final_weights_unless_that_would_exceed_a_limit(
        isbi_dir, stop_options, validated):
    source = ListSource(_isbi_samples(isbi_dir, [0], crop=96),
                        _isbi_samples(isbi_dir, [20], crop=96))
    config = TrainConfig(model_options=TINY, crop_size=64, batch_size=2)  # until stopped
    reports = _stopped_at_step_3(Trainer(config, source, CLASSES), **stop_options)
    vals = [r for r in reports if isinstance(r, ValReport)]
    assert reports[-1].reason == "stopped" and reports[-1].steps == 3
    assert [v.step for v in vals] == ([3] if validated else [])


def test_no_periodic_validation_starts_once_stop_is_asked(isbi_dir):
    source = ListSource(_isbi_samples(isbi_dir, [0], crop=96),
                        _isbi_samples(isbi_dir, [20], crop=96))
    config = TrainConfig(model_options=TINY, crop_size=64, batch_size=2,
                         val_interval_s=0)  # a validation after every step
    reports = _stopped_at_step_3(Trainer(config, source, CLASSES),
                                 final_validation_limit_s=0.0)
    vals = [r.step for r in reports if isinstance(r, ValReport)]
    assert vals == [1, 2] and reports[-1].steps == 3  # step 3's would have come next


def test_time_budget_is_honoured(isbi_dir):
    config = TrainConfig(model_options=TINY, crop_size=64, batch_size=2, time_budget=2.0)
    started = time.monotonic()
    reports = _run(Trainer(config, _small_source(isbi_dir), CLASSES))
    assert reports[-1].reason == "time"
    assert 2.0 <= time.monotonic() - started < 3.5
    lrs = [r.lr for r in reports if isinstance(r, StepReport)]
    assert max(lrs) > 5 * lrs[-1]  # warm-up then decay over the budget


def test_continue_from_a_saved_model(isbi_dir, tmp_path):
    source = _small_source(isbi_dir)
    config = TrainConfig(model_options=TINY, crop_size=64, batch_size=4, steps=25, lr=1e-2)
    first = Trainer(config, source, CLASSES)
    first_losses = [r.loss for r in first if isinstance(r, StepReport)]
    first.save(tmp_path / "first")
    snapshot = first.snapshot()
    assert next(snapshot.model.parameters()).device.type == "cpu"

    again = Trainer(TrainConfig(crop_size=64, batch_size=4, steps=3, lr=1e-4, seed=3,
                                init_model_dir=tmp_path / "first"), source, CLASSES)
    again_losses = [r.loss for r in again if isinstance(r, StepReport)]
    assert np.mean(again_losses) < np.mean(first_losses[:3])
    assert again.architecture == load_model(tmp_path / "first").architecture

    with pytest.raises(TrainingError, match=r"first.*classes.*same classes"):
        list(Trainer(TrainConfig(steps=1, init_model_dir=tmp_path / "first"), source,
                     default_classes(["a", "b", "c"])))


def test_a_continued_run_that_ends_worse_keeps_the_model_it_started_from(isbi_dir, tmp_path):
    samples = _isbi_samples(isbi_dir, range(3), crop=96)
    source = ListSource(samples[:2], samples[2:])
    first = Trainer(TrainConfig(model_options=TINY, crop_size=64, batch_size=4, steps=30,
                                lr=1e-2), source, CLASSES)
    list(first)
    first.save(tmp_path / "first")
    started_from = load_model(tmp_path / "first")

    # A learning rate far too high wrecks the weights within two steps.
    again = Trainer(TrainConfig(crop_size=64, batch_size=4, steps=2, lr=1.0,
                                init_model_dir=tmp_path / "first"), source, CLASSES)
    vals = [r for r in again if isinstance(r, ValReport)]
    assert [v.step for v in vals] == [0, 2]  # the starting model is scored first
    assert vals[0].miou == pytest.approx(started_from.metrics["miou"], abs=1e-6)
    assert vals[1].miou < vals[0].miou
    again.save(tmp_path / "again")
    kept = load_model(tmp_path / "again")
    assert kept.metrics["step"] == 0 and kept.metrics["miou"] == vals[0].miou
    # The settings describe the continued model, and say its weights were kept (model.json
    # said a fresh U-Net of the default options, trained 2 steps at lr 1).
    assert kept.training["kept_starting_model"] is True
    assert kept.training["model_options"] == started_from.architecture["options"]
    assert kept.training["model_options"]["depth"] == TINY["depth"]
    for name, value in started_from.model.state_dict().items():
        assert torch.equal(kept.model.state_dict()[name], value), name


def test_a_continued_run_that_diverges_at_once_points_at_the_model_it_started_from(
        isbi_dir, tmp_path, monkeypatch):
    from segstudio.ml import step

    source = _small_source(isbi_dir)
    first = Trainer(TrainConfig(model_options=TINY, crop_size=64, steps=2), source, CLASSES)
    list(first)
    first.save(tmp_path / "first")
    monkeypatch.setattr(step.StepRunner, "_step", lambda self, images, masks: None)
    again = Trainer(TrainConfig(crop_size=64, steps=3, init_model_dir=tmp_path / "first"),
                    source, CLASSES)
    with pytest.raises(TrainingError, match="at step 1; the model it started from may itself"):
        list(again)


def test_snapshot_is_a_copy_usable_while_training_goes_on(isbi_dir):
    trainer = Trainer(TrainConfig(model_options=TINY, crop_size=64, steps=4), _small_source(
        isbi_dir), CLASSES)
    assert trainer.snapshot() is None
    iterator = iter(trainer)
    next(iterator)
    snap = trainer.snapshot()
    before = {k: v.clone() for k, v in snap.model.state_dict().items()}
    list(iterator)
    after = snap.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [c.name for c in snap.classes] == ["membrane", "cell"]
    assert not snap.model.training


def test_labels_painted_while_training_are_picked_up(isbi_dir):
    image = load_image(isbi_dir / "images" / "00.png")[:64, :64]
    masks = {"now": np.full((64, 64), 255, np.uint8)}
    masks["now"][:8, :8] = 0
    masks["now"][-8:, -8:] = 1
    sample = Sample("00", lambda: image, lambda: masks["now"])
    config = TrainConfig(model_options=TINY, crop_size=32, batch_size=2, reload_labels_s=0.0,
                         steps=4)
    trainer = Trainer(config, ListSource([sample]), CLASSES)
    iterator = iter(trainer)
    next(iterator)
    painted = masks["now"].copy()
    painted[20:40] = 1
    masks["now"] = painted
    list(iterator)
    assert trainer.step == 4  # trained on with the new mask (checked by the reload)


def test_auto_class_weights_follow_the_labels_as_they_change(tmp_path):
    image = np.zeros((64, 64, 1), np.uint8)
    masks = {"now": np.full((64, 64), 255, np.uint8)}
    masks["now"][:32] = 1  # 2048 cell pixels
    masks["now"][32:40] = 0  # 512 membrane pixels
    sample = Sample("00", lambda: image, lambda: masks["now"])
    config = TrainConfig(model_options=TINY, crop_size=32, batch_size=2, reload_labels_s=0.0,
                         steps=3, loss="ce+dice")
    trainer = Trainer(config, ListSource([sample]), CLASSES)
    iterator = iter(trainer)
    next(iterator)
    assert trainer.class_weights == pytest.approx([4**0.3, 1.0])
    painted = masks["now"].copy()
    painted[32:] = 0  # now 2048 membrane pixels too
    masks["now"] = painted
    list(iterator)
    assert trainer.class_weights == pytest.approx([1.0, 1.0])
    trainer.save(tmp_path / "model")
    training = load_model(tmp_path / "model").training
    assert training["class_weights"] == "auto"
    assert training["class_weights_used"] == [1.0, 1.0]


def test_fixed_or_no_class_weights(tmp_path):
    sample = _half_and_half_sample()
    for setting, used in (([2.0, 1.0], [2.0, 1.0]), (None, None)):
        trainer = Trainer(TrainConfig(model_options=TINY, crop_size=32, batch_size=2, steps=1,
                                      class_weights=setting), ListSource([sample]), CLASSES)
        _run(trainer)
        assert trainer.class_weights == used
    with pytest.raises(UserError, match="class weights must be auto"):
        TrainConfig(class_weights="balanced")


def _half_and_half_sample():
    image = np.zeros((32, 32, 1), np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[16:] = 1
    return Sample("tiny", lambda: image, lambda: mask)


def test_user_errors(isbi_dir):
    image = np.zeros((32, 32, 1), np.uint8)
    empty = Sample("blank", lambda: image, lambda: np.full((32, 32), 255, np.uint8))
    with pytest.raises(TrainingError, match="labelled pixel.*paint some labels"):
        list(Trainer(TrainConfig(steps=1), ListSource([empty]), CLASSES))
    with pytest.raises(TrainingError, match="no training images: add images with labels"):
        list(Trainer(TrainConfig(steps=1), ListSource([]), CLASSES))
    with pytest.raises(TrainingError, match="every labelled image is for validation; move"):
        list(Trainer(TrainConfig(steps=1), ListSource([], [_half_and_half_sample()]), CLASSES))
    with pytest.raises(TrainingError, match="two classes"):
        Trainer(TrainConfig(steps=1), ListSource([empty]), CLASSES[:1])
    wrong = Sample("wrong", lambda: image, lambda: np.full((32, 32), 7, np.uint8))
    with pytest.raises(UserError, match=r"wrong.*\[7\]"):
        list(Trainer(TrainConfig(steps=1), ListSource([wrong]), CLASSES))
    small = Sample("small", lambda: image, lambda: np.zeros((16, 32), np.uint8))
    with pytest.raises(UserError, match="small.*shape"):
        list(Trainer(TrainConfig(steps=1), ListSource([small]), CLASSES))
    with pytest.raises(UserError, match="time budget"):
        TrainConfig(time_budget=0)
    with pytest.raises(UserError, match="unknown model"):
        list(Trainer(TrainConfig(model="nope", steps=1), _small_source(isbi_dir), CLASSES))


def test_a_diverging_loss_stops_training_and_keeps_the_last_good_model(isbi_dir,
                                                                          monkeypatch):
    from segstudio.ml import step

    good_step, calls = step.StepRunner._step, []

    def diverging_after_two(self, images, masks):
        calls.append(1)
        if len(calls) <= 2:
            return good_step(self, images, masks)
        self.model.apply(lambda m: m.weight.data.fill_(float("nan"))  # spoilt by the step
                         if isinstance(m, torch.nn.Conv2d) else None)
        return None  # as _step reports a loss that is not finite

    monkeypatch.setattr(step.StepRunner, "_step", diverging_after_two)
    trainer = Trainer(TrainConfig(model_options=TINY, crop_size=32, steps=20,
                                  augment=False), _small_source(isbi_dir), CLASSES)
    done = list(trainer)[-1]  # after good steps, an error ends training, not raises
    assert isinstance(done, DoneReport) and (done.reason, done.steps) == ("failed", 2)
    assert re.search("NaN or infinite at step 3.*learning rate", done.error)
    assert trainer.step == 2 and len(calls) == 5  # three bad steps in a row end it
    saved = trainer.snapshot()
    assert all(torch.isfinite(v).all() for v in saved.model.state_dict().values()
               if v.is_floating_point())


def test_labels_of_one_class_only_are_refused(isbi_dir):
    image = np.random.default_rng(0).integers(0, 256, (48, 48, 1), dtype=np.uint8)
    mask = np.full((48, 48), 255, np.uint8)
    mask[10:20, 10:20] = 1  # a stroke of "cell", nothing of "membrane"
    trainer = Trainer(TrainConfig(model_options=TINY, crop_size=32, steps=2),
                      ListSource([Sample("one", lambda: image, lambda: mask)]), CLASSES)
    with pytest.raises(TrainingError, match=r"only one class \(cell\).*another class"):
        list(trainer)


def test_pixels_that_are_not_numbers_are_trained_as_the_mean(isbi_dir):
    """NaN marks "no data" in many float TIFFs: it must not spoil the loss or the model."""
    rng = np.random.default_rng(0)
    image = rng.random((48, 48, 1)).astype(np.float32)
    image[10:30, 10:30] = np.nan
    image[0, 0] = np.inf
    mask = (image[:, :, 0] > 0.5).astype(np.uint8)
    sample = Sample("nodata", lambda: image, lambda: mask)
    trainer = Trainer(TrainConfig(model_options=TINY, crop_size=32, batch_size=2, steps=5),
                      ListSource([sample]), CLASSES)
    losses = [r.loss for r in trainer if isinstance(r, StepReport)]
    assert len(losses) == 5 and np.isfinite(losses).all()
    assert np.isfinite(trainer.normalization.offset + trainer.normalization.scale).all()


def test_one_crop_too_small_for_batchnorm_is_a_training_error(isbi_dir):
    config = TrainConfig(model="fcn", crop_size=32, batch_size=1, steps=1)
    trainer = Trainer(config, _small_source(isbi_dir), CLASSES)
    with pytest.raises(TrainingError, match="batch size of 2 or more"):
        list(trainer)


def test_out_of_memory_becomes_a_training_error(isbi_dir, monkeypatch):
    from segstudio.ml import step

    def no_memory(self, images, masks):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(step.StepRunner, "_step", no_memory)
    trainer = Trainer(TrainConfig(model_options=TINY, crop_size=32, steps=2),
                      _small_source(isbi_dir), CLASSES)
    with pytest.raises(TrainingError, match="out of memory.*batch size"):
        list(trainer)


def test_channels_last_changes_the_memory_layout_not_the_training(isbi_dir):
    losses, weights = {}, {}
    for setting in ("on", "off"):
        config = TrainConfig(model_options=TINY, crop_size=64, batch_size=2, steps=4,
                             channels_last=setting)
        trainer = Trainer(config, _small_source(isbi_dir), CLASSES)
        losses[setting] = [r.loss for r in _run(trainer) if isinstance(r, StepReport)]
        first_conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
        assert first_conv.weight.is_contiguous(memory_format=torch.channels_last) == (
            setting == "on")
        weights[setting] = trainer.snapshot().model.state_dict()
    assert losses["on"] == pytest.approx(losses["off"], rel=1e-4)
    for name, value in weights["on"].items():
        assert torch.allclose(value.float(), weights["off"][name].float(), atol=1e-4), name


def test_quarter_turns_are_used_for_sparse_labels_only(isbi_dir, tmp_path, monkeypatch):
    turned = []
    real_rot90 = np.rot90

    def counting_rot90(array, *args, **kwargs):
        turned.append(array.shape)
        return real_rot90(array, *args, **kwargs)

    dense = _isbi_samples(isbi_dir, [0], crop=96)
    full_mask = dense[0].load_mask()
    sparse_mask = np.full_like(full_mask, 255)
    sparse_mask[::8] = full_mask[::8]  # 1 row in 8: 12.5% labelled
    sparse = [Sample("00", dense[0].load_image, lambda: sparse_mask)]
    monkeypatch.setattr(np, "rot90", counting_rot90)
    chosen = {}
    for name, samples, setting in (("dense", dense, "auto"), ("sparse", sparse, "auto"),
                                   ("dense, on", dense, "on"), ("sparse, off", sparse, "off")):
        turned.clear()
        config = TrainConfig(model_options=TINY, crop_size=32, batch_size=4, steps=5,
                             rotate90=setting)
        trainer = Trainer(config, ListSource(samples), CLASSES)
        _run(trainer)
        chosen[name] = (trainer.rotate90, len(turned) > 0)
        trainer.save(tmp_path / name)
        assert load_model(tmp_path / name).training["rotate90"] == ("on" if trainer.rotate90
                                                                    else "off")
    assert chosen == {"dense": (False, False), "sparse": (True, True),
                      "dense, on": (True, True), "sparse, off": (False, False)}


def test_learning_rate_warms_up_holds_then_decays_over_the_last_quarter(isbi_dir):
    config = TrainConfig(model_options=TINY, crop_size=32, batch_size=1, steps=40, lr=0.01,
                         warmup_fraction=0.1, decay_fraction=0.25)
    lrs = [r.lr for r in _run(Trainer(config, _small_source(isbi_dir, 1), CLASSES))
           if isinstance(r, StepReport)]
    assert len(lrs) == 40
    assert lrs[0] < lrs[1] < lrs[3] < 0.01  # warm-up over the first 4 steps
    assert lrs[4:30] == [pytest.approx(0.01)] * 26  # the peak, until a quarter is left
    assert all(a > b for a, b in zip(lrs[30:-1], lrs[31:], strict=True))  # then down...
    assert lrs[-1] < 0.001  # ...to a small fraction


def test_auto_crops_follow_the_labels_and_are_saved(isbi_dir, tmp_path):
    membranes = _isbi_samples(isbi_dir, [0], crop=160)  # cells a few tens of pixels across
    rng = np.random.default_rng(0)
    halves = np.zeros((300, 300), np.uint8)
    halves[:, 150:] = 1
    large = [Sample("halves", lambda: rng.random((300, 300), np.float32), lambda: halves)]
    chosen = {}
    for name, samples in (("membranes", membranes), ("halves", large)):
        trainer = Trainer(TrainConfig(model_options=TINY, steps=2), ListSource(samples), CLASSES)
        _run(trainer)
        trainer.save(tmp_path / name)
        training = load_model(tmp_path / name).training
        chosen[name] = (training["crop_size"], training["batch_size"])
        assert (trainer.crops.crop_size, trainer.crops.batch_size) == chosen[name]
        assert "of the labelled pixels lie within 32 px" in training["crops_chosen_because"]
    assert chosen == {"membranes": (128, 8), "halves": (256, 4)}

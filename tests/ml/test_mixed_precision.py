"""Mixed precision: which autocast type each device gets, and training with it.

The CUDA tests run only where a GPU is (`pytest tests/ml/test_mixed_precision.py`
on one); on the CPU, bfloat16 autocast ("amp": "on") is trained for real.
"""

import numpy as np
import pytest
import torch

from segstudio.ml.predict import predict_image
from segstudio.ml.step import amp_dtype
from segstudio.ml.train import StepReport, TrainConfig, Trainer
from tests.ml.test_train import CLASSES, TINY, ListSource, _isbi_samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize(
    ("setting", "device", "bf16_supported", "expected"),
    [
        ("auto", "cpu", None, None),  # bfloat16 measured slower on AVX-512 CPUs
        ("on", "cpu", None, torch.bfloat16),
        ("off", "cpu", None, None),
        ("auto", "cuda", True, torch.bfloat16),  # no loss scaling needed
        ("auto", "cuda", False, torch.float16),  # older GPUs: float16 with a GradScaler
        ("off", "cuda", True, None),
        ("auto", "mps", None, None),
        ("on", "mps", None, torch.float16),
    ],
)
def test_each_device_gets_the_autocast_type_that_suits_it(monkeypatch, setting, device,
                                                          bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16_supported)
    assert amp_dtype(setting, torch.device(device)) == expected


def _train(isbi_dir, **config):
    source = ListSource(_isbi_samples(isbi_dir, range(2), crop=128))
    trainer = Trainer(TrainConfig(model_options=TINY, crop_size=64, batch_size=4, steps=40,
                                  lr=1e-2, seed=0, **config), source, CLASSES)
    losses = [r.loss for r in trainer if isinstance(r, StepReport)]
    return trainer, losses


def _learnt(losses) -> bool:
    return np.mean(losses[-8:]) < 0.8 * np.mean(losses[:4])


def test_bfloat16_autocast_trains_on_the_cpu_and_saves_float32_weights(isbi_dir):
    trainer, losses = _train(isbi_dir, amp="on", device="cpu")
    assert all(np.isfinite(losses)) and _learnt(losses), losses
    saved = trainer.snapshot()
    assert saved.training["device_used"] == "cpu"
    assert saved.training["mixed_precision"] == "bfloat16"
    assert all(v.dtype == torch.float32 for v in saved.model.state_dict().values()
               if v.is_floating_point())


def test_the_saved_model_says_where_and_how_it_trained(isbi_dir):
    trainer, _ = _train(isbi_dir, device="cpu")  # "auto" on the CPU: float32
    training = trainer.snapshot().training
    assert training["device_used"] == "cpu" and training["mixed_precision"] == "off"
    assert training["amp"] == "auto"  # the setting, kept beside what it chose


@needs_cuda
def test_training_on_cuda_with_mixed_precision_learns(isbi_dir):
    trainer, losses = _train(isbi_dir, device="cuda")  # "auto": autocast and channels-last
    training = trainer.snapshot().training
    assert training["device_used"] == "cuda"
    assert training["mixed_precision"] in ("bfloat16", "float16")
    assert all(np.isfinite(losses)) and _learnt(losses), losses


@needs_cuda
def test_float16_with_loss_scaling_learns(isbi_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    trainer, losses = _train(isbi_dir, device="cuda")
    assert trainer.snapshot().training["mixed_precision"] == "float16"
    assert all(np.isfinite(losses)) and _learnt(losses), losses


@needs_cuda
def test_a_model_trained_on_cuda_predicts_the_same_on_the_cpu(isbi_dir):
    trainer, _ = _train(isbi_dir, device="cuda")
    image = _isbi_samples(isbi_dir, [20])[0].load_image()
    on_cpu = predict_image(trainer.snapshot(), image, device="cpu").labels
    on_gpu = predict_image(trainer.snapshot(), image, device="cuda").labels
    assert (on_cpu == on_gpu).mean() > 0.99  # float16 inference on the GPU

"""One optimisation step on a device, with mixed precision and memory format chosen to suit it."""

from __future__ import annotations

import time

import torch
from torch import nn

from segstudio.ml.train_config import TrainConfig, TrainingError

_MAX_GRAD_NORM = 10.0  # only clips rare spikes
_EMA = 0.9


class StepRunner:
    def __init__(self, model: nn.Module, loss: nn.Module, device: torch.device,
                 config: TrainConfig, batch_pixels: int):
        self.device = device
        self.amp_dtype = amp_dtype(config.amp, device)
        self.channels_last = use_channels_last(config.channels_last, device)
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model.train()
        self.loss = loss.to(device)
        self.optimizer = adamw(list(model.parameters()), config.lr, config.weight_decay)
        needs_scaler = self.amp_dtype == torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if needs_scaler else None
        self.batch_pixels = batch_pixels  # of one training batch, for time estimates
        self.step_seconds: float | None = None  # moving average of one step's duration

    def train_step(self, images: torch.Tensor, masks: torch.Tensor, lr: float) -> float | None:
        """One step at learning rate `lr`; returns the loss, or None when it was not finite
        (the weights are then left unchanged)."""
        started = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        masks = masks.to(self.device, non_blocking=True)
        try:
            value = self._step(images, masks)
        except torch.cuda.OutOfMemoryError as exc:
            self.optimizer.zero_grad(set_to_none=True)
            raise TrainingError(_out_of_memory(self.device, exc)) from None
        except RuntimeError as exc:
            if "out of memory" not in str(exc).lower():
                raise
            self.optimizer.zero_grad(set_to_none=True)
            raise TrainingError(_out_of_memory(self.device, exc)) from None
        except ValueError as exc:  # BatchNorm, given one value per channel
            if "more than 1 value per channel" not in str(exc):
                raise
            raise TrainingError(
                f"{len(images)} crop(s) of {images.shape[-1]} px a step leave this model's "
                "deepest layers one value per channel; use a batch size of 2 or more, or "
                "larger crops") from None
        seconds = time.perf_counter() - started
        self.step_seconds = seconds if self.step_seconds is None else (
            _EMA * self.step_seconds + (1 - _EMA) * seconds
        )
        return value

    def _step(self, images: torch.Tensor, masks: torch.Tensor) -> float | None:
        enabled = self.amp_dtype is not None
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=enabled):
            logits = self.model(images)
        loss = self.loss(logits.float(), masks)
        value = float(loss.detach())
        if not torch.isfinite(torch.tensor(value)):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), _MAX_GRAD_NORM)
            self.scaler.step(self.optimizer)  # skips the step on inf/NaN gradients
            self.scaler.update()
        else:
            loss.backward()
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), _MAX_GRAD_NORM)
            if torch.isfinite(norm):
                self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return value

    def estimate_validation_s(self, val_set) -> float:
        """Seconds one validation pass will take, from the training steps' speed."""
        if self.step_seconds is None:
            return 0.0
        pixels = sum(item.mask.size for item in val_set.labelled_items())
        # A forward pass costs about a third of forward + backward.
        return self.step_seconds / 3 * pixels / self.batch_pixels * 2


def adamw(parameters: list[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused into one kernel where the parameters' device has one: on a CPU that is
    5x faster than the per-tensor loop (1 against 5 ms a step for the default U-Net)."""
    try:
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=True)
    except RuntimeError:
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full float32.

    CUDA: bfloat16 where supported (no loss scaling needed), else float16. CPU:
    off under "auto": on 2-core AVX-512 machines bfloat16 measured slower than
    float32 for these convolutions (see benchmarks/README.md); "on" gives bfloat16.
    """
    if setting == "off":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and setting == "on":
        return torch.bfloat16
    if device.type == "mps" and setting == "on":
        return torch.float16
    return None


def use_channels_last(setting: str, device: torch.device) -> bool:
    """On under "auto" on CUDA and on the CPU, where oneDNN's convolutions are 15-20%
    faster with it for the default U-Net (benchmarks/README.md); MPS only when asked."""
    if setting != "auto":
        return setting == "on"
    return device.type in ("cuda", "cpu")


def _out_of_memory(device: torch.device, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"the {device.type} device ran out of memory ({first}); lower the batch size or the "
        "crop size, or train on the CPU"
    )

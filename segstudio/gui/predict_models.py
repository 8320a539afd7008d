"""Helpers of the training controller: the choices the training dock offers (models,
losses, devices), the project's saved models, validation notes, warming up torch."""

from __future__ import annotations

import os
from pathlib import Path

# Training shares the CPU with the GUI thread and the prediction worker: leaving
# one core to them keeps painting smooth (see benchmarks/gui_responsiveness.py).
RESERVED_CPU_CORES = 1


def latest_model_dir(models_dir: Path) -> Path | None:
    """The most recently saved model folder (one holding model.json), or None."""
    if not models_dir.is_dir():
        return None
    folders = [p for p in models_dir.iterdir() if (p / "model.json").is_file()]
    if not folders:
        return None
    return max(folders, key=lambda p: ((p / "model.json").stat().st_mtime_ns, p.name))


def unique_folder(folder: Path) -> Path:
    candidate, n = folder, 2
    while candidate.exists():
        candidate, n = folder.with_name(f"{folder.name}-{n}"), n + 1
    return candidate


def default_settings(devices: dict[str, str | None]) -> dict:
    """Training defaults for this machine: on a CPU only, smaller crops keep each step (and
    so Stop, and the GUI's share of the CPU) short; a GPU takes the engine's defaults."""
    if devices.get("cuda") is None or devices.get("mps") is None:
        return {}
    return {"crop_size": 128, "batch_size": 4}


def training_threads() -> int:
    return max(1, (os.cpu_count() or 1) - RESERVED_CPU_CORES)


def model_names() -> list[str]:
    try:
        from segstudio.ml.models import model_names as registry_names

        return list(registry_names())
    except ImportError:
        return ["unet", "fcn", "deeplabv3", "deeplabv3plus"]


def loss_names() -> list[str]:
    try:
        from segstudio.ml.losses import loss_names as engine_loss_names

        return list(engine_loss_names())
    except ImportError:
        return ["ce", "dice", "ce+dice"]


def device_status() -> dict[str, str | None]:
    """None for each usable device, else why it cannot be used here."""
    from segstudio.ml.devices import cuda_available, mps_available

    return {
        "auto": None,
        "cpu": None,
        "cuda": None if cuda_available() else "No CUDA GPU usable here (no NVIDIA GPU or "
        "driver, or a CPU-only PyTorch build).",
        "mps": None if mps_available() else "Apple's Metal (MPS) is only available on Macs "
        "with Apple silicon.",
    }


def import_training_modules(progress, should_stop) -> None:
    """Make torch's optimizers import what they import on first use (see the controller)."""
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


def validation_note(project, source) -> str:
    val_entries = [e for e in project.images if getattr(e, "split", "train") == "val"]
    if val_entries:
        return f"Validation: the {len(val_entries)} image(s) of the 'val' split."
    held_out = getattr(source, "held_out", None)
    count = f"{len(held_out)} " if held_out is not None else "a part of the "
    return (f"No 'val' split in this project: {count}labelled image(s) are held out "
            "automatically for validation. Mark images as 'val' to choose them.")

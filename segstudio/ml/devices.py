"""Choosing the device to compute on: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

from segstudio.core.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Device names usable here, best first (always ends with "cpu")."""
    names = []
    if cuda_available():
        names.append("cuda")
    if mps_available():
        names.append("mps")
    return [*names, "cpu"]


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """The device called `name` ("auto", "cpu", "cuda", "cuda:1", "mps").

    "auto" takes the best available one. Asking for one this machine lacks is
    a UserError, rather than a silent fallback that would make training slow.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(
            f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}"
        ) from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not cuda_available():
            raise UserError(
                "device 'cuda' asked for, but no CUDA GPU is usable here (no NVIDIA GPU, no "
                "driver, or a CPU-only PyTorch); use --device cpu or auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise UserError(f"device {name!r} asked for, but this machine has {count} CUDA GPU(s)")
        return device
    if device.type == "mps":
        if not mps_available():
            raise UserError(
                "device 'mps' asked for, but Apple's Metal (MPS) is not available here; "
                "use --device cpu or auto"
            )
        return device
    raise UserError(f"unsupported device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")

"""Helpers of the training controller: the choices the training dock offers (models,
losses, devices), the project's saved models, validation notes, warming up torch."""

from __future__ import annotations

import json
import os
from pathlib import Path

from segstudio.gui.workers import TaskWorker, start_worker
from segstudio.ml.holdout import HOLD_OUT_ONE_IN, HoldOutSource

# Training shares the CPU with the GUI thread and the prediction worker: leaving
# one core to them keeps painting smooth (see benchmarks/gui_responsiveness.py).
RESERVED_CPU_CORES = 1
# A saved model folder's metadata file: segstudio.ml.saved.METADATA_FILE, named here so
# that the window need not import torch to look for models.
MODEL_FILE = "model.json"


def latest_model_dir(models_dir: Path) -> Path | None:
    """The most recently saved model folder (one holding model.json), or None."""
    if not models_dir.is_dir():
        return None
    folders = [p for p in models_dir.iterdir() if (p / MODEL_FILE).is_file()]
    if not folders:
        return None
    return max(folders, key=lambda p: ((p / MODEL_FILE).stat().st_mtime_ns, p.name))


def in_models_folder(folder: Path, models_dir: Path) -> bool:
    """Whether a model folder is inside the project's models folder (the project's own)."""
    return Path(folder).resolve().is_relative_to(Path(models_dir).resolve())


def add_loss_history(folder: Path, history: list) -> None:
    """Store the training's compact loss history ([step, loss] pairs) in the saved model's
    model.json (its "training" section), so the Metrics panel can draw it when the model is
    opened again. The weights and their checksum are left as they are."""
    if history:
        _update_metadata(folder, lambda metadata: metadata.update(
            training={**(metadata.get("training") or {}), "loss_history": history}))


def adopt_classes(saved, folder: Path, classes) -> None:
    """Give a saved model, in memory and in its folder, the project's class names and colours
    after a class was renamed or recoloured (the same classes in the same order: the weights
    stay as they are; per-class metrics follow the names)."""
    renames = {old.name: new.name for old, new in zip(saved.classes, classes, strict=True)}

    def update(metadata: dict) -> None:
        metadata["classes"] = [c.to_json() for c in classes]
        metadata["metrics"] = _renamed_metrics(metadata.get("metrics"), renames)

    saved.classes = list(classes)
    saved.metrics = _renamed_metrics(saved.metrics, renames)
    _update_metadata(folder, update)


def record_validation(saved, folder: Path | None, val) -> None:
    """Give a saved model, in memory and in its folder (unless None), its scores on the
    validation images of now (they may not be those it was scored on when saved). Its step
    stays: the training step the scores are of."""
    def update(metadata: dict) -> None:
        metadata["metrics"] = {**(metadata.get("metrics") or {}), **val.figures()}

    saved.metrics = {**(saved.metrics or {}), **val.figures()}
    if folder is not None:
        _update_metadata(folder, update)


def _renamed_metrics(metrics, renames: dict[str, str]):
    if not isinstance(metrics, dict):
        return metrics
    per_class = {key: {renames.get(name, name): value for name, value in metrics[key].items()}
                 for key in ("iou", "dice") if isinstance(metrics.get(key), dict)}
    return {**metrics, **per_class}


def _update_metadata(folder: Path, update) -> None:
    from segstudio.core.atomic import atomic_write_text
    from segstudio.ml.saved import METADATA_FILE, read_metadata

    path = Path(folder) / METADATA_FILE
    metadata = read_metadata(path)
    update(metadata)
    atomic_write_text(path, json.dumps(metadata, indent=2) + "\n")


def saved_loss_history(saved) -> list[tuple[int, float]]:
    """The [step, loss] pairs a saved model's metadata holds (none when it has none)."""
    points = []
    for item in (getattr(saved, "training", None) or {}).get("loss_history") or []:
        try:
            step, loss = item
            points.append((int(step), float(loss)))
        except (TypeError, ValueError):
            continue  # a hand-edited or foreign entry is skipped
    return points


def can_continue(model_dir: Path | None, project, model_name: str) -> bool:
    """Continue training only from a saved model of the same architecture and classes."""
    from segstudio.core.errors import UserError
    from segstudio.ml.saved import METADATA_FILE, read_metadata

    if model_dir is None or project is None:
        return False
    try:
        metadata = read_metadata(Path(model_dir) / METADATA_FILE)
    except UserError:
        return False
    classes = [c.get("name") for c in metadata.get("classes", [])]
    same_classes = classes == [c.name for c in project.classes]
    return same_classes and metadata.get("architecture", {}).get("name") == model_name


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


DEVICE_WORDS = {"cpu": "the CPU", "cuda": "the GPU (CUDA)", "mps": "the GPU (Apple MPS)"}


def training_device_words(setting: str) -> str:
    """Where a training with this device setting runs, for the user: "the GPU (CUDA)"."""
    from segstudio.ml.devices import pick_device

    device = pick_device(setting).type
    return DEVICE_WORDS.get(device, device)


_warmed_up = False  # the heavy torch imports happen once per process


def warm_up_torch_once() -> tuple[object, object]:
    """Import what the first training step needs, in the background; (thread, worker),
    or (None, None) when done before.

    torch's optimizers import ~800 modules (torch._dynamo, sympy...) on first use,
    holding the GIL for up to a few hundred milliseconds at a time: done while the
    user paints during a training, that would freeze the window (measured with
    benchmarks/gui_responsiveness.py). Done soon after the window opens, it happens
    once, before any training.
    """
    global _warmed_up
    if _warmed_up:
        return None, None
    _warmed_up = True
    worker = TaskWorker(import_training_modules)
    return start_worker(worker, "segstudio-warm-up"), worker


def import_training_modules(progress, should_stop) -> None:
    """Make torch's optimizers import what they import on first use."""
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


def training_source(project) -> HoldOutSource:
    """What a training started from the window reads: the engine's ProjectSource (label
    files re-read when they change), holding images out when there is no 'val' split."""
    from segstudio.ml.data import ProjectSource

    return HoldOutSource(ProjectSource(project))


CHOOSE_VAL = ("to choose them yourself, right-click images in the Images list and use them "
              "for validation")


def validation_note(project) -> str:
    """Which images validate, said before the training starts."""
    val_entries = [e for e in project.images if getattr(e, "split", "train") == "val"]
    if val_entries:
        return f"Validation: the {len(val_entries)} image(s) of the 'val' split."
    labelled = [e for e in project.images if project.has_labels(e)]  # as training counts
    if len(labelled) < 2:
        return ("No 'val' split and fewer than two labelled images: no validation, so no IoU. "
                "Label another image, or right-click images in the Images list and use "
                "them for validation.")
    return (f"No 'val' split: about one labelled image in {HOLD_OUT_ONE_IN} is held out "
            f"automatically for validation; {CHOOSE_VAL}.")


def held_out_note(source: HoldOutSource) -> str | None:
    """Which images were held out, once the training has split them (None: none were)."""
    if not source.held_out:
        return None
    return ("No 'val' split: held out automatically for validation: "
            f"{', '.join(source.held_out)}; {CHOOSE_VAL}.")

"""Saved models: a folder holding `weights.safetensors` and `model.json`.

model.json names the format and its version, the segstudio version that wrote
it, the architecture and its arguments, the classes with their colours, the
input normalisation, the training settings and the final metrics. Weights are
safetensors, so loading never unpickles anything. Both files are written
atomically; the weights' SHA-256 in model.json ties the pair together, so a
half-copied or corrupted weights file is reported rather than loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from segstudio import __version__
from segstudio.core.atomic import atomic_path
from segstudio.core.classes import LabelClass
from segstudio.core.errors import UserError
from segstudio.ml.devices import pick_device
from segstudio.ml.normalization import Normalization

FORMAT_NAME = "segstudio-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
METADATA_FILE = "model.json"


@dataclass
class SavedModel:
    """A model with everything needed to use it on new images."""

    model: nn.Module
    architecture: dict  # {"name", "num_classes", "in_channels", "options"}
    classes: list[LabelClass]
    normalization: Normalization
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(self.architecture["num_classes"])

    @property
    def in_channels(self) -> int:
        return int(self.architecture["in_channels"])


def architecture_dict(name: str, num_classes: int, in_channels: int = 1, **options) -> dict:
    """The `architecture` entry for a model built as build_model(name, num_classes, ...).

    A `pretrained` backbone file is left out: the saved weights replace it, and the
    file need not exist where the model is loaded.
    """
    return {
        "name": name,
        "num_classes": int(num_classes),
        "in_channels": int(in_channels),
        "options": _portable(options),
    }


def _portable(options: dict) -> dict:
    return {key: value for key, value in options.items() if key != "pretrained"}


def save_model(saved: SavedModel, folder: str | os.PathLike) -> Path:
    """Write `saved` into `folder` (created if needed); returns the folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: is a file; give a folder to save the model in")
    if len(saved.classes) != saved.num_classes:
        raise ValueError(
            f"{len(saved.classes)} classes for a model with {saved.num_classes} outputs"
        )
    # Clones break shared storage (tied weights), which safetensors refuses to write.
    tensors = {
        name: tensor.detach().to("cpu").contiguous().clone()
        for name, tensor in saved.model.state_dict().items()
    }
    spoilt = [name for name, tensor in tensors.items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if spoilt:
        raise UserError(f"{folder}: the model's weights are not all finite numbers (first: "
                        f"{spoilt[0]}); training diverged, nothing was saved")
    folder.mkdir(parents=True, exist_ok=True)
    # Serialised in memory and written by segstudio: a full disk is then an OSError naming
    # the file (safetensors' own writer raises an error of its own).
    weights = save(tensors, metadata={"format": "pt"})
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "segstudio_version": __version__,
        "architecture": saved.architecture,
        "classes": [c.to_json() for c in saved.classes],
        "normalization": saved.normalization.to_json(),
        "training": saved.training,
        "metrics": saved.metrics,
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(weights).hexdigest()},
    }
    # Both files are written in full before either replaces the old one (a failure leaves
    # the folder as it was); the weights go first, model.json last: it makes the model.
    with atomic_path(folder / METADATA_FILE) as metadata_tmp, \
            atomic_path(folder / WEIGHTS_FILE) as weights_tmp:
        weights_tmp.write_bytes(weights)
        metadata_tmp.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return folder


def load_model(folder: str | os.PathLike, device: str | torch.device = "cpu") -> SavedModel:
    """Read a saved model folder (or its model.json) and rebuild the model in eval mode."""
    from segstudio.ml.models import build_model  # the registry imports every architecture

    folder = Path(folder)
    if folder.is_file() and folder.name == METADATA_FILE:
        folder = folder.parent
    metadata_path = folder / METADATA_FILE
    if not folder.is_dir():
        raise UserError(
            f"{folder}: no saved model here (expected a folder holding "
            f"{METADATA_FILE} and {WEIGHTS_FILE}, as written by `segstudio train --out`)"
        )
    metadata = read_metadata(metadata_path)
    try:
        arch = metadata["architecture"]
        name, num_classes = str(arch["name"]), int(arch["num_classes"])
        in_channels, options = int(arch.get("in_channels", 1)), _portable(arch.get("options", {}))
        classes = [LabelClass.from_json(c) for c in metadata["classes"]]
        normalization = Normalization.from_json(metadata["normalization"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{metadata_path}: incomplete or invalid model description ({exc!r}); "
            "save the model again"
        ) from None
    if len(classes) != num_classes:
        raise UserError(
            f"{metadata_path}: lists {len(classes)} classes for a model with "
            f"{num_classes} outputs; save the model again"
        )
    try:
        model = build_model(name, num_classes, in_channels=in_channels, **options)
    except UserError as exc:
        raise UserError(f"{metadata_path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{metadata_path}: cannot build architecture {name!r} with options {options} "
            f"({exc}); this segstudio may be too old for the model, upgrade it"
        ) from None
    _load_weights(model, folder / WEIGHTS_FILE, metadata.get("weights", {}), name)
    model.to(pick_device(device)).eval()
    return SavedModel(
        model=model,
        architecture={
            "name": name,
            "num_classes": num_classes,
            "in_channels": in_channels,
            "options": options,
        },
        classes=classes,
        normalization=normalization,
        training=dict(metadata.get("training") or {}),
        metrics=dict(metadata.get("metrics") or {}),
    )


def read_metadata(path: Path) -> dict:
    """Read and check model.json: format name and a version this code can read."""
    if not path.is_file():
        raise UserError(
            f"{path}: not found; a saved model folder holds {METADATA_FILE} and {WEIGHTS_FILE}"
        )
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a readable model description ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise UserError(f"{path}: not a segstudio model description (no format {FORMAT_NAME!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise UserError(
            f"{path}: written by a newer segstudio ({metadata.get('segstudio_version', '?')}, "
            f"model format {version}); this one ({__version__}) reads format {FORMAT_VERSION} "
            "at most: upgrade segstudio to use this model"
        )
    return metadata


def _load_weights(model: nn.Module, path: Path, info: dict, arch_name: str) -> None:
    if not path.is_file():
        raise UserError(f"{path}: weights file not found; copy it along with {METADATA_FILE}")
    expected = info.get("sha256")
    if expected and _sha256(path) != expected:
        raise UserError(
            f"{path}: the weights file does not match {METADATA_FILE} (corrupted, truncated or "
            "from another model); copy the model folder again"
        )
    try:
        # safetensors parses a JSON header and raw tensor bytes: nothing is ever unpickled.
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(
            f"{path}: not a safetensors weights file ({exc}); segstudio never loads pickled "
            "(.pt/.pth) weights: save the model with segstudio"
        ) from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise UserError(
            f"{path}: the weights do not fit architecture {arch_name!r} as described in "
            f"{METADATA_FILE} ({first_line}); the two files come from different models"
        ) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

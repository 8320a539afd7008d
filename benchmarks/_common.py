"""Shared by the ISBI benchmarks: data split, compute peak, FLOP counting, scoring."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ISBI = SHARED_DATA / "isbi2012"
CAMVID = SHARED_DATA / "camvid-mini"


def add_training_arguments(parser, time_budget: float) -> None:
    """The training options both ISBI scripts take."""
    parser.add_argument("--time-budget", type=float, default=time_budget)
    parser.add_argument("--model-options", type=json.loads, default={},
                        help='JSON on top of the defaults, e.g. \'{"input_stride": 2}\'')
    parser.add_argument("--config", type=json.loads, default={},
                        help='TrainConfig fields as JSON, e.g. \'{"augment": false, "loss": '
                        '"ce+dice", "seed": 1}\'')
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")


def train_and_report(name: str, args, source, classes, test_dir: Path) -> dict:
    """Train as `segstudio train --model unet --time-budget T` does (with the overrides in
    `args`), then score on test_dir; the matmul peak is measured first, in the same run."""
    from segstudio.ml.devices import pick_device
    from segstudio.ml.train import DoneReport, TrainConfig, Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    peak = matmul_peak_gflops(pick_device(args.config.get("device", "auto")))
    config = TrainConfig(model="unet", time_budget=args.time_budget,
                         model_options=args.model_options, **args.config)
    trainer = Trainer(config, source, classes)
    done = [r for r in trainer if isinstance(r, DoneReport)][0]
    return report(name, trainer, done, test_dir, peak)


def print_result(result: dict) -> None:
    """The figures both ISBI scripts print after their own first line, JSON last."""
    print(f"held-out mIoU {result['held_out_miou']:.4f} (with flip averaging "
          f"{result['held_out_miou_flip']:.4f}), IoU {result['iou']}")
    print(f"crops {result['crop_x_batch']}")
    print(f"{result['steps']} steps in {result['seconds']} s, {result['crops_per_s']} crops/s, "
          f"{result['train_gflops']} GFLOP/s = {100 * result['fraction_of_peak']:.0f}% of the "
          f"{result['matmul_peak_gflops']} GFLOP/s matmul peak ({result['device']}), "
          f"{result['threads']} thread(s)")
    print(json.dumps(result))


def link_slices(root: Path, numbers, images_from=None, masks_from=None) -> tuple[Path, Path]:
    """images/ and masks/ folders of symbolic links to ISBI slices (nothing copied)."""
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        name = f"{n:02d}.png"
        (images / name).symlink_to((images_from or ISBI / "images") / name)
        if masks_from is not False:
            (masks / name).symlink_to((masks_from or ISBI / "masks") / name)
    return images, masks


def matmul_peak_gflops(device: str | torch.device = "cpu", repeats: int = 5) -> float:
    """Best float32 matrix-multiply speed of this device now, in GFLOP/s."""
    device = torch.device(device)
    size = 2048 if device.type == "cpu" else 8192
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (GPUs run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def flops_per_step(architecture: dict, batch_size: int, crop_size: int) -> float:
    """Forward + backward FLOPs of one training step (the loss and optimiser are negligible)."""
    from segstudio.ml.models import build_model

    model = build_model(architecture["name"], architecture["num_classes"],
                        in_channels=architecture["in_channels"], **architecture["options"])
    x = torch.randn(batch_size, architecture["in_channels"], crop_size, crop_size)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).sum().backward()
    return float(counter.get_total_flops())


def score_held_out(saved, images: Path, masks: Path, flip: bool = False) -> dict:
    from segstudio.ml.data import FolderSource
    from segstudio.ml.validation import score

    source = FolderSource(images, masks, mask_values="0,255")
    pairs = ((s.load_image(), s.load_mask()) for s in source.train_samples())
    return score(saved.model, pairs, saved.normalization, saved.classes, flip=flip)


def report(name: str, trainer, done, test_dir: Path, peak: float) -> dict:
    crops = trainer.crops
    per_step = flops_per_step(trainer.architecture, crops.batch_size, crops.crop_size)
    achieved = per_step * done.steps / done.elapsed_s / 1e9
    saved = trainer.snapshot()
    figures = score_held_out(saved, test_dir / "images", test_dir / "masks")
    flipped = score_held_out(saved, test_dir / "images", test_dir / "masks", flip=True)
    result = {
        "benchmark": name,
        "held_out_miou": round(figures["miou"], 4),
        "held_out_miou_flip": round(flipped["miou"], 4),
        "iou": {k: round(v, 4) for k, v in figures["iou"].items()},
        "steps": done.steps,
        "seconds": round(done.elapsed_s, 1),
        "crops_per_s": round(done.steps * crops.batch_size / done.elapsed_s, 2),
        "crop_x_batch": f"{crops.crop_size} x {crops.batch_size} ({crops.reason})",
        "gflop_per_step": round(per_step / 1e9, 2),
        "train_gflops": round(achieved, 1),
        "matmul_peak_gflops": round(peak, 1),
        "fraction_of_peak": round(achieved / peak, 3),
        "threads": torch.get_num_threads(),
        "device": trainer.device.type,
        "model": trainer.architecture,
    }
    return result

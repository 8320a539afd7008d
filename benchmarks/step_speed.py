"""One training step's time with and without mixed precision and channels-last.

    python benchmarks/step_speed.py [--device auto] [--crop-size 256] [--batch-size 4]
                                    [--steps 30] [--model-options JSON]

For the default U-Net (or `--model-options` on top of it), times `--steps` training
steps (forward, backward, AdamW; after 5 untimed ones) through the trainer's own
StepRunner for each `amp` x `channels_last` setting, on the device `--device` picks
("auto": CUDA, then MPS, then the CPU). Prints the median milliseconds per step,
crops per second and the speed-up over float32 without channels-last, and which
settings `"auto"` chooses there. What it shows is what `amp="auto"` and
`channels_last="auto"` should pick on that device (segstudio/ml/step.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import matmul_peak_gflops, synchronize  # noqa: E402

from segstudio.ml.devices import pick_device  # noqa: E402
from segstudio.ml.losses import build_loss  # noqa: E402
from segstudio.ml.models import build_model  # noqa: E402
from segstudio.ml.step import StepRunner, amp_dtype, use_channels_last  # noqa: E402
from segstudio.ml.train_config import DEFAULT_MODEL_OPTIONS, TrainConfig  # noqa: E402


def time_steps(device, options: dict, config: TrainConfig, steps: int) -> float:
    """Median seconds of one training step."""
    torch.manual_seed(0)
    model = build_model("unet", 2, in_channels=1, **options)
    runner = StepRunner(model, build_loss("ce", 2), device, config,
                        batch_pixels=config.batch_size * config.crop_size**2)
    images = torch.randn(config.batch_size, 1, config.crop_size, config.crop_size)
    masks = torch.randint(0, 2, (config.batch_size, config.crop_size, config.crop_size))
    times = []
    for index in range(steps + 5):
        synchronize(device)
        started = time.perf_counter()
        runner.train_step(images, masks, config.lr)
        synchronize(device)  # train_step reads the loss back, but be sure
        if index >= 5:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _dtype_name(dtype: torch.dtype | None) -> str:
    return "float32" if dtype is None else str(dtype).split(".")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model-options", type=json.loads, default={})
    args = parser.parse_args()
    device = pick_device(args.device)
    options = {**DEFAULT_MODEL_OPTIONS["unet"], **args.model_options}
    what = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"device {what}, float32 matmul peak {matmul_peak_gflops(device):.0f} GFLOP/s, "
          f"U-Net {options}, {args.batch_size} crops of {args.crop_size}")
    results, base = {}, None
    for amp in ("off", "on"):
        for channels_last in ("off", "on"):
            config = TrainConfig(crop_size=args.crop_size, batch_size=args.batch_size,
                                 amp=amp, channels_last=channels_last, device=str(device))
            seconds = time_steps(device, options, config, args.steps)
            base = base or seconds
            name = f"amp {amp} ({_dtype_name(amp_dtype(amp, device))}), " \
                   f"channels_last {channels_last}"
            results[name] = round(seconds * 1000, 2)
            print(f"{name:45s} {seconds * 1000:8.1f} ms/step  "
                  f"{args.batch_size / seconds:8.1f} crops/s  x{base / seconds:.2f}")
    print(f'"auto" picks: {_dtype_name(amp_dtype("auto", device))}, channels_last '
          f'{"on" if use_channels_last("auto", device) else "off"}')
    print(json.dumps({"benchmark": "step_speed", "device": device.type, "ms_per_step": results}))


if __name__ == "__main__":
    main()

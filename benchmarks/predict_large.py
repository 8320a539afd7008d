"""Tiled prediction on a huge image: peak memory and time; and 512x512 latency on the CPU.

    python benchmarks/predict_large.py [--size 10000] [--base-width 16] [--device cpu]

The huge image is a mosaic of real ISBI 2012 EM slices (8-bit gray). The model
is the U-Net that training builds by default, with random weights: speed and
memory do not depend on what it learned. Peak memory is the growth of the
process's resident size during prediction (VmHWM after resetting it, or
ru_maxrss elsewhere), compared with the image's own size.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from segstudio.core.classes import default_classes
from segstudio.core.images import load_image
from segstudio.ml.models import build_model
from segstudio.ml.normalization import Normalization
from segstudio.ml.predict import predict_image
from segstudio.ml.saved import SavedModel, architecture_dict
from segstudio.ml.train_config import DEFAULT_MODEL_OPTIONS

ISBI = Path(__file__).resolve().parents[2] / "shared" / "data" / "isbi2012" / "images"
MIB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="side of the huge image")
    parser.add_argument("--base-width", type=int, help="U-Net base width (default: training's)")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7, help="runs of the 512x512 timing")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    saved = default_unet(args.base_width, args.classes)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {args.device}")
    print(f"U-Net {saved.architecture['options']}: "
          f"{sum(p.numel() for p in saved.model.parameters()) / 1e6:.2f} M parameters")

    slice_512 = load_image(ISBI / "00.png")
    latency_512(saved, slice_512, args.device, args.repeats)

    image = mosaic(args.size)
    rss_before = reset_peak_rss()
    start = time.perf_counter()
    prediction = predict_image(saved, image, device=args.device, tile_size=args.tile_size)
    seconds = time.perf_counter() - start
    growth = peak_rss_bytes() - rss_before
    print(f"{args.size}x{args.size} gray image ({image.nbytes / MIB:.0f} MiB uint8; "
          f"float32 scores for {args.classes} classes would be "
          f"{4 * args.classes * image.size / MIB:.0f} MiB):")
    print(f"  {seconds:.1f} s, {image.size / seconds / 1e6:.2f} Mpixel/s")
    print(f"  peak memory growth {growth / MIB:.0f} MiB = {growth / image.nbytes:.2f} x the image "
          f"(the uint8 labels alone are {prediction.labels.nbytes / MIB:.0f} MiB)")
    print(f"  class fractions {np.bincount(prediction.labels.ravel()) / image.size}")
    return 0


def default_unet(base_width: int | None, classes: int) -> SavedModel:
    torch.manual_seed(0)
    options = dict(DEFAULT_MODEL_OPTIONS["unet"])
    if base_width:
        options["base_width"] = base_width
    architecture = architecture_dict("unet", classes, in_channels=1, **options)
    model = build_model("unet", classes, in_channels=1, **options).eval()
    return SavedModel(
        model=model,
        architecture=architecture,
        classes=default_classes([f"class {i}" for i in range(classes)]),
        normalization=Normalization((128.0,), (1 / 50,)),
    )


def latency_512(saved: SavedModel, image: np.ndarray, device: str, repeats: int) -> None:
    predict_image(saved, image, device=device)  # warm-up: allocator, kernels
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        predict_image(saved, image, device=device)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    print(f"512x512 prediction: median {1000 * statistics.median(times):.0f} ms, "
          f"min {1000 * min(times):.0f} ms over {repeats} runs (target: 150 ms on the CPU); "
          f"CPU time median {1000 * statistics.median(cpu_times):.0f} ms (all threads)")


def mosaic(size: int) -> np.ndarray:
    """A size x size uint8 gray image tiled from the 30 EM slices, built in place."""
    slices = [load_image(path) for path in sorted(ISBI.glob("*.png"))]
    image = np.empty((size, size, 1), dtype=np.uint8)
    for index, y in enumerate(range(0, size, 512)):
        for column, x in enumerate(range(0, size, 512)):
            piece = slices[(index * 7 + column) % len(slices)]
            image[y : y + 512, x : x + 512] = piece[: size - y, : size - x]
    return image


def reset_peak_rss() -> int:
    """Reset the peak resident size where Linux allows it; return the current size."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:"))
                   .split()[1]) * 1024
    except (OSError, StopIteration):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:"))
                   .split()[1]) * 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


if __name__ == "__main__":
    raise SystemExit(main())

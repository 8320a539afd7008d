"""Training on a huge, fully labelled image: peak memory and the time to load it.

    python benchmarks/train_large.py [--size 10000] [--steps 5]

The image is the EM mosaic `predict_large.py` predicts (8-bit gray), its mask a
threshold of it (two classes, every pixel labelled), both written to a temporary
folder as TIFF. `segstudio train` is run in-process on them for a few steps on the
CPU, after the same on a 512 x 512 image (so that what torch allocates for itself
is not counted). Peak memory is the growth of the process's resident size while
the trainer loads the pair and trains, compared with the image's own size: the
trainer keeps image and mask as stored and makes its crops from them, so about
2 x the image (image and mask) is the floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_large import MIB, mosaic, peak_rss_bytes, reset_peak_rss  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="side of the huge image")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    # A small run first: what torch allocates for itself then is not counted against the
    # huge image.
    small = train_once(512, args.steps)
    big = train_once(args.size, args.steps)
    for size, (image_bytes, steps, first_step, seconds, growth) in ((512, small), (args.size, big)):
        print(f"{size}x{size} gray image, every pixel labelled ({image_bytes / MIB:.1f} MiB "
              f"uint8, the mask as much), {steps} steps: first step after {first_step:.1f} s "
              f"(reading the files included), all in {seconds:.1f} s; peak memory growth "
              f"{growth / MIB:.0f} MiB = {growth / image_bytes:.2f} x the image")
    return 0


def train_once(size: int, steps: int) -> tuple[int, int, float, float, int]:
    from segstudio.core.classes import default_classes
    from segstudio.ml.data import FolderSource
    from segstudio.ml.train import DoneReport, StepReport, TrainConfig, Trainer

    with tempfile.TemporaryDirectory() as tmp:
        images, masks = Path(tmp, "images"), Path(tmp, "masks")
        images.mkdir()
        masks.mkdir()
        image = mosaic(size)
        tifffile.imwrite(images / "big.tif", image[:, :, 0])
        tifffile.imwrite(masks / "big.tif", (image[:, :, 0] > 128).astype(np.uint8))
        image_bytes = image.nbytes
        del image
        config = TrainConfig(model="unet", steps=steps, device="cpu")
        trainer = Trainer(config, FolderSource(images, masks), default_classes(["dark", "bright"]))
        rss_before = reset_peak_rss()
        start = time.perf_counter()
        first_step = None
        for report in trainer:
            if isinstance(report, StepReport) and first_step is None:
                first_step = time.perf_counter() - start
            if isinstance(report, DoneReport):
                break
        seconds = time.perf_counter() - start
        growth = peak_rss_bytes() - rss_before
    return image_bytes, report.steps, first_step, seconds, growth


if __name__ == "__main__":
    raise SystemExit(main())

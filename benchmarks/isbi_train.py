"""ISBI 2012: train on slices 00-19 (full masks) for a time budget, score slices 20-29.

    python benchmarks/isbi_train.py [--time-budget 60] [--threads N]

Trains as `segstudio train --model unet` does (the same Trainer and defaults),
then scores the model on the held-out slices and prints mIoU, steps, seconds
and training throughput as a fraction of this machine's float32 matmul peak,
measured in the same run. Target on 2 quiet CPU cores: held-out mIoU >= 0.80
in 60 s. On a shared machine the figures are pessimistic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ISBI,
    add_training_arguments,
    link_slices,
    print_result,
    train_and_report,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser, time_budget=60.0)
    parser.add_argument("--train-slices", type=int, default=20,
                        help="train on slices 00..N-1 (default 20)")
    args = parser.parse_args()
    from segstudio.ml.data import FolderSource

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_images, train_masks = link_slices(tmp / "train", range(args.train_slices))
        link_slices(tmp / "test", range(20, 30))
        # What `segstudio train --model unet --mask-values 0,255 --val-fraction 0
        # --time-budget T` builds: all 20 slices train, none is held out for validation.
        source = FolderSource(train_images, train_masks, mask_values="0,255")
        result = train_and_report("isbi_train", args, source, source.classes, tmp / "test")
    print(f"ISBI 2012, slices 00-{args.train_slices - 1:02d} -> 20-29, "
          f"--time-budget {args.time_budget:g} ({ISBI})")
    print_result(result)


if __name__ == "__main__":
    main()

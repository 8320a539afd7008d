"""ISBI 2012 with sparse labels: thin strokes on 5 slices, about 2% of their pixels.

    python benchmarks/isbi_scribbles.py [--time-budget 30] [--coverage 0.02] [--slices 0,1,2,3,4] [--threads N]

The strokes are made deterministically from the true masks: the morphological
skeleton of each class (strokes run along the middle of membranes and through
cell interiors), kept in a random subset of 32x32 cells so that each class gets
half of the coverage, thickened (3 pixels on membranes, 5 in cells) and clipped to the class. Trains
on slices 00-04 (or --slices) with those strokes only (255 elsewhere) and scores
on the full masks of slices 20-29. Target on 2 quiet CPU cores: held-out mIoU >= 0.75 in 30 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ISBI,
    add_training_arguments,
    link_slices,
    print_result,
    train_and_report,
)
from _strokes import scribbles  # noqa: E402


def isbi_strokes(truth: np.ndarray, coverage: float, seed: int) -> np.ndarray:
    """Strokes on a 0 membrane / 1 cell mask: 3 px on membranes, 5 px in cells (wider)."""
    return scribbles(truth, {0: 3, 1: 5}, coverage, seed)


def slice_numbers(text: str) -> list[int]:
    numbers = [int(part) for part in text.split(",")]
    if not numbers or not all(0 <= n < 20 for n in numbers):
        raise argparse.ArgumentTypeError("training slices are numbers from 0 to 19")
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser, time_budget=30.0)
    parser.add_argument("--coverage", type=float, default=0.02)
    parser.add_argument("--slices", type=slice_numbers, default=[0, 1, 2, 3, 4],
                        help="training slices, comma-separated (default 0,1,2,3,4)")
    args = parser.parse_args()
    from segstudio.core.classes import default_classes
    from segstudio.core.masks import read_mask_values, write_mask
    from segstudio.ml.data import FolderSource

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images, _ = link_slices(tmp / "train", args.slices, masks_from=False)
        masks = tmp / "train" / "masks"
        classes = default_classes(["membrane", "cell"])
        covered = []
        for n in args.slices:
            truth = (read_mask_values(ISBI / "masks" / f"{n:02d}.png") > 0).astype(np.uint8)
            labels = isbi_strokes(truth, args.coverage, seed=n)
            assert ((labels == 255) | (labels == truth)).all()  # strokes are correct labels
            covered.append(float((labels != 255).mean()))
            write_mask(masks / f"{n:02d}.png", labels, classes)
        link_slices(tmp / "test", range(20, 30))
        source = FolderSource(images, masks)  # the strokes are class indices already
        result = train_and_report("isbi_scribbles", args, source, classes, tmp / "test")
    result["labelled_fraction"] = round(float(np.mean(covered)), 4)
    names = ", ".join(f"{n:02d}" for n in args.slices)
    print(f"ISBI 2012 scribbles: slices {names}, {100 * result['labelled_fraction']:.2f}% of "
          f"pixels labelled, --time-budget {args.time_budget:g}, scored on 20-29")
    print_result(result)


if __name__ == "__main__":
    main()

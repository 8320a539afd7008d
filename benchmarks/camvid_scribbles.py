"""camvid-mini with sparse labels: thin strokes on the 42 training frames, about 2% of pixels.

    python benchmarks/camvid_scribbles.py [--time-budget 90] [--coverage 0.02] [--config JSON]

The strokes are made as `isbi_scribbles.py` makes them (the skeleton of each class's
regions, kept in random 32x32 cells so that each class present gets an equal share of
the coverage, 3 px wide, clipped to the class). Trains the default U-Net on them and
scores on the full masks of the 11 validation frames, from elsewhere in the recordings.
Road scenes are the check on choices tuned on EM slices: they need context that EM
texture does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CAMVID, add_training_arguments  # noqa: E402
from _strokes import scribbles  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser, time_budget=90.0)
    parser.add_argument("--coverage", type=float, default=0.02)
    args = parser.parse_args()
    import torch

    from segstudio.core.masks import write_mask
    from segstudio.ml.data import FolderSource
    from segstudio.ml.train import DoneReport, TrainConfig, Trainer
    from segstudio.ml.validation import score

    if args.threads:
        torch.set_num_threads(args.threads)
    def truth(split: str) -> FolderSource:  # classes.json's ignore index read as unlabelled
        return FolderSource(CAMVID / split / "images", CAMVID / split / "masks",
                            classes_file=CAMVID / "classes.json")

    train, classes, covered = truth("train"), truth("train").classes, []
    with tempfile.TemporaryDirectory() as tmp:
        masks = Path(tmp)
        for index, sample in enumerate(train.train_samples()):
            mask = sample.load_mask()
            present = [c for c in range(len(classes)) if (mask == c).any()]
            labels = scribbles(mask, dict.fromkeys(present, 3), args.coverage, seed=index)
            covered.append(float((labels != 255).mean()))
            write_mask(masks / f"{sample.name}.png", labels, classes)
        source = FolderSource(CAMVID / "train" / "images", masks)
        config = TrainConfig(model="unet", time_budget=args.time_budget,
                             model_options=args.model_options, **args.config)
        trainer = Trainer(config, source, classes)
        done = [r for r in trainer if isinstance(r, DoneReport)][0]
    saved = trainer.snapshot()
    val = truth("val")
    figures = score(saved.model, ((s.load_image(), s.load_mask()) for s in val.train_samples()),
                    saved.normalization, saved.classes)
    result = {
        "benchmark": "camvid_scribbles",
        "labelled_fraction": round(float(np.mean(covered)), 4),
        "val_miou": round(figures["miou"], 4),
        "steps": done.steps,
        "seconds": round(done.elapsed_s, 1),
        "crop_x_batch": f"{trainer.crops.crop_size} x {trainer.crops.batch_size} "
                        f"({trainer.crops.reason})",
    }
    print(f"camvid-mini scribbles: {100 * result['labelled_fraction']:.2f}% of the training "
          f"pixels labelled, --time-budget {args.time_budget:g}, scored on val/")
    print(f"validation mIoU {result['val_miou']:.4f}, {done.steps} steps, crops "
          f"{result['crop_x_batch']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

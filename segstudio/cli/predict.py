"""`segstudio predict`: label every image in a folder with a saved model."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from segstudio.cli import output_path
from segstudio.core.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict label masks for a folder of images",
        description="Predict a palette PNG label mask for every image in a folder (and its "
        "sub-folders). Images that cannot be read are reported and skipped; the exit code "
        "is then 2.",
    )
    parser.add_argument("--model", required=True, type=Path, help="a saved model folder")
    parser.add_argument("--images", required=True, type=Path, help="a folder of images")
    parser.add_argument("--out", required=True, type=output_path,
                        help="folder for the label masks")
    parser.add_argument(
        "--overlay", action="store_true", help="also write colour overlays to OUT/overlays"
    )
    parser.add_argument(
        "--device", default="auto", help="auto (default), cpu, cuda, cuda:1 or mps"
    )
    parser.add_argument(
        "--tile-size", type=int, default=512, help="tile side in pixels (default 512)"
    )
    parser.add_argument(
        "--overlap", type=int, default=64, help="overlap between tiles in pixels (default 64)"
    )
    parser.add_argument(
        "--flip", action="store_true",
        help="average each tile's prediction with its mirror image's (twice the time; "
        "+0.002-0.004 mIoU on ISBI, see benchmarks/README.md)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.ml.predict import predict_folder
    from segstudio.ml.saved import load_model

    if not args.images.is_dir():
        raise UserError(f"{args.images}: not a folder of images")
    saved = load_model(args.model, device=args.device)
    bar = ProgressBar("predicting") if sys.stderr.isatty() else None
    result = predict_folder(
        saved,
        args.images,
        args.out,
        overlay=args.overlay,
        progress=bar.update if bar else None,
        tile_size=args.tile_size,
        overlap=args.overlap,
        flip=args.flip,
    )
    if bar:
        bar.close()
    for _path, message in result.skipped:
        print(f"segstudio: skipped {message}", file=sys.stderr)
    if result.written:
        print(f"wrote {len(result.written)} label mask(s) to {args.out}")
    if result.skipped:
        raise UserError(
            f"{len(result.skipped)} image(s) could not be predicted, first: "
            f"{result.skipped[0][1]}"
        )
    return 0


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, width: int = 30):
        self.label, self.width = label, width
        self.start = time.monotonic()
        self.last_draw = 0.0

    def update(self, done: int, total: int, path: Path | None = None) -> None:
        now = time.monotonic()
        if done < total and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        filled = self.width * done // max(total, 1)
        elapsed = now - self.start
        remaining = elapsed / done * (total - done) if done else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(
            f"\r{self.label} [{bar}] {done}/{total}  {elapsed:.0f}s elapsed, "
            f"~{remaining:.0f}s left "
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()

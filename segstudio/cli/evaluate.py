"""`segstudio evaluate`: score a saved model on images with label masks."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from segstudio.cli.mask_options import (
    add_mask_options,
    mask_mapping_from_args,
    matched_to_model,
    saved_mask_mapping,
)
from segstudio.core.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a saved model on images with label masks",
        description="Predict every image that has a mask of the same name and report IoU per "
        "class, mean IoU, Dice, pixel accuracy and panoptic quality over the labelled pixels.",
    )
    parser.add_argument("--model", required=True, type=Path, metavar="MODEL_DIR",
                        help="a saved model folder")
    parser.add_argument("--images", required=True, type=Path, help="folder of images")
    parser.add_argument("--masks", required=True, type=Path,
                        help="folder of label masks, named like their images")
    add_mask_options(parser)
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--flip", action="store_true",
                        help="average with the mirrored image's prediction (twice the time; "
                        "as `segstudio predict --flip` does)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON object on the last line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.ml.data import FolderSource
    from segstudio.ml.devices import pick_device
    from segstudio.ml.predict import check_image_fits
    from segstudio.ml.saved import load_model
    from segstudio.ml.validation import score

    started = time.monotonic()
    saved = load_model(args.model, device=pick_device(args.device))
    mapping, note = matched_to_model(mask_mapping_from_args(args, num_classes=saved.num_classes),
                                     saved.classes, args.model)
    if note:
        print(f"segstudio: note: {note}", file=sys.stderr)
    if mapping.values is None and args.classes is None:
        try:
            trained_with = saved_mask_mapping(saved.training, saved.classes)
        except ValueError as exc:
            raise UserError(f"{args.model}: {exc}; give --mask-values or --classes") from None
        if trained_with is not None:
            mapping = trained_with
            print(f"masks read with the model's training mask values "
                  f"{','.join(map(str, mapping.values))} (override with --mask-values)",
                  file=sys.stderr)
    if mapping.num_classes is not None and mapping.num_classes != saved.num_classes:
        raise UserError(
            f"the mask options give {mapping.num_classes} classes but the model in {args.model} "
            f"has {saved.num_classes} ({', '.join(c.name for c in saved.classes)})"
        )
    source = FolderSource(args.images, args.masks, mapping=mapping)
    samples = source.train_samples()
    for kind, unpaired in (("image(s) without a mask", source.unpaired_images),
                           ("mask(s) without an image", source.unpaired_masks)):
        if unpaired:
            print(f"segstudio: note: {len(unpaired)} {kind} left out, first: {unpaired[0]}",
                  file=sys.stderr)
    tty = sys.stderr.isatty()

    def pairs():
        for sample in samples:
            image = sample.load_image()
            try:
                check_image_fits(saved.normalization, image)
            except UserError as exc:
                raise UserError(f"{sample.where}: {exc}") from None
            yield image, sample.load_mask()

    def progress(done: int) -> None:
        if tty:
            sys.stderr.write(f"\revaluating {done}/{len(samples)}")
            sys.stderr.flush()

    figures = score(saved.model, pairs(), saved.normalization, saved.classes,
                    flip=args.flip, progress=progress)
    if tty:
        sys.stderr.write("\n")
    if figures["miou"] is None:
        raise UserError(f"{args.masks}: no mask has a labelled pixel (all 255 or ignored), so "
                        "there is nothing to score; check --mask-values or --classes")
    seconds = time.monotonic() - started
    print(f"{len(samples)} image(s), mIoU {_fmt(figures['miou'])}, pixel accuracy "
          f"{_fmt(figures['pixel_accuracy'])}, PQ {_fmt(figures['pq'])}")
    width = max(len(c.name) for c in saved.classes)
    for name, iou in figures["iou"].items():
        print(f"  {name:<{width}}  IoU {_fmt(iou)}  Dice {_fmt(figures['dice'][name])}")
    if args.json:
        print(json.dumps({
            "miou": figures["miou"], "iou": figures["iou"], "dice": figures["dice"],
            "pixel_accuracy": figures["pixel_accuracy"], "pq": figures["pq"],
            "seconds": round(seconds, 3), "images": len(samples),
        }))
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"

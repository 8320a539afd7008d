"""`segstudio export`: write a saved model as ONNX or TorchScript."""

from __future__ import annotations

import argparse
from pathlib import Path

from segstudio.cli import output_path
from segstudio.core.errors import UserError

FORMATS = ("onnx", "torchscript")
# An existing --out is replaced only when its name says it is an export of that format:
# another file (notes.txt, an image) given by mistake is not written over.
SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".ts", ".torchscript")}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a saved model to ONNX or TorchScript",
        description="Export a saved model. The exported model takes float32 pixel values as "
        "stored in the image file, shaped (N, C, H, W) with any N, H and W, applies the "
        "model's normalisation itself and returns logits (N, K, H, W).",
    )
    parser.add_argument("--model", required=True, type=Path, help="a saved model folder")
    parser.add_argument("--format", required=True, choices=FORMATS, help="the file format")
    parser.add_argument("--out", required=True, type=output_path,
                        help="the file to write; an existing one is replaced only when its "
                        "name ends as the format's do (.onnx; .pt, .pth, .ts, .torchscript)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.ml.export import export_onnx, export_torchscript
    from segstudio.ml.saved import METADATA_FILE, WEIGHTS_FILE, load_model

    saved = load_model(args.model, device="cpu")
    model_dir = args.model.parent if args.model.is_file() else args.model
    if args.out.resolve() in {(model_dir / name).resolve() for name in (METADATA_FILE,
                                                                       WEIGHTS_FILE)}:
        raise UserError(f"{args.out}: is a file of the saved model; give another --out")
    suffixes = SUFFIXES[args.format]
    if args.out.exists() and args.out.suffix.lower() not in suffixes:
        raise UserError(f"{args.out}: exists and is not {args.format} (its name does not end in "
                        f"{' or '.join(suffixes)}); give another --out, or remove it first")
    export = export_onnx if args.format == "onnx" else export_torchscript
    path = export(saved, args.out)
    print(f"wrote {path} ({args.format}, {saved.num_classes} classes, "
          f"{saved.in_channels} input channel(s))")
    return 0

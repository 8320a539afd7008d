"""`segstudio train`: train a model on a folder of images and masks, save it."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np

from segstudio.cli import output_path
from segstudio.cli.mask_options import (
    add_mask_options,
    mask_mapping_from_args,
    saved_mask_mapping,
)
from segstudio.core.classes import UNLABELLED
from segstudio.core.errors import UserError
from segstudio.core.masks import value_histogram

MODELS = ("unet", "fcn", "deeplabv3", "deeplabv3plus")
DEFAULT_TIME_BUDGET_S = 60.0
WRITE_PROBE = ".segstudio-write-test"  # made and removed in --out before training
# Without validation options, this share of the pairs is held out (from this many pairs on).
DEFAULT_VAL_FRACTION = 0.2
MIN_PAIRS_FOR_DEFAULT_HOLD_OUT = 5


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a segmentation model on images and label masks",
        description="Train a model on images and masks paired by file name, then save it "
        "(weights.safetensors + model.json). With validation images, the model with the best "
        "validation mIoU is saved.",
    )
    parser.add_argument("--images", type=Path, help="folder of training images")
    parser.add_argument("--masks", type=Path,
                        help="folder of label masks, named like their images")
    parser.add_argument("--project", type=Path,
                        help="train on a segstudio project's labelled images instead (its "
                        "'val' images validate)")
    add_mask_options(parser)
    parser.add_argument("--val-images", type=Path, help="folder of validation images")
    parser.add_argument("--val-masks", type=Path, help="folder of validation masks")
    parser.add_argument("--val-fraction", type=float,
                        help="hold out this fraction of the training pairs for validation")
    parser.add_argument("--model", choices=MODELS,
                        help="architecture (default unet; with --init, the model's own)")
    parser.add_argument("--model-option", action="append", default=[], metavar="NAME=VALUE",
                        help="an architecture option, repeatable: e.g. input_stride=1 (the U-Net "
                        "at full resolution; the default 2 runs it at half resolution), "
                        "base_width=32, backbone=resnet50, pretrained=FILE (ignored with --init)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--time-budget", type=float, metavar="SECONDS",
                       help=f"train for this long (default {DEFAULT_TIME_BUDGET_S:g} s)")
    limit.add_argument("--steps", type=int, help="train for this many steps")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--init", type=Path, metavar="MODEL_DIR",
                        help="continue training a saved model (same classes)")
    parser.add_argument("--out", required=True, type=output_path, metavar="MODEL_DIR",
                        help="folder to save the model in")
    parser.add_argument("--crop-size", type=int,
                        help="training crop side in pixels (default: 128 when labels are "
                        "sparse or their regions small, else 256)")
    parser.add_argument("--batch-size", type=int,
                        help="crops per step (default: 8 with 128-pixel crops chosen so, else 4)")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--loss", default="ce",
                        help="ce (default), dice, focal, ce+dice or ce+focal")
    parser.add_argument("--class-weights", default="auto",
                        metavar="auto|none|W0,W1,...",
                        help="loss weight of each class: auto (default) lifts rare classes a "
                        "little, from their labelled pixels; none weighs every pixel alike")
    augment = parser.add_mutually_exclusive_group()
    augment.add_argument("--no-augment", dest="augment", action="store_false",
                        help="train on the crops as they are: no flips, quarter turns or "
                        "intensity jitter (with full masks and a short budget it scores higher; "
                        "sparse labels need augmentation)")
    augment.add_argument("--elastic", action="store_true",
                        help="add elastic deformation to the augmentation (slower steps; "
                        "helps long trainings on few images)")
    parser.add_argument("--rotate90", choices=("auto", "on", "off"), default="auto",
                        help="turn training crops by quarter turns: auto (default) when labels "
                        "are sparse (under half of the pixels), which need them; complete masks "
                        "train better without in short budgets")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", action="store_true",
                        help="print the final figures as one JSON object on the last line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out}: exists and is not a folder; choose another --out")
    for given in (args.images, args.masks, args.val_images, args.val_masks, args.project):
        if given is not None and given.resolve() == args.out.resolve():
            raise UserError(f"{args.out}: is also an input folder; give the model a folder "
                            "of its own (--out)")
    _check_out_holds_no_other_files(args.out)
    created = not args.out.exists()
    args.out.mkdir(parents=True, exist_ok=True)  # a bad --out fails now, not after training
    _check_writable(args.out)
    try:
        return _train(args)
    finally:
        if created and args.out.is_dir() and not any(args.out.iterdir()):
            args.out.rmdir()  # nothing was saved: leave no empty folder behind


@contextlib.contextmanager
def _stop_on_signals(trainer, progress):
    """Ctrl+C (or a scheduler's SIGTERM) ends the training like Stop in the window: after
    the current step, with the model saved. A second Ctrl+C quits at once. Yields the list
    that gets the signal."""
    signalled: list[signal.Signals] = []

    def stop(signum, _frame):
        signalled.append(signal.Signals(signum))
        progress.message(f"{signalled[0].name}: stopping after this step and saving the model "
                         "(Ctrl+C again quits without saving)")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        trainer.stop()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield signalled
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _check_writable(out: Path) -> None:
    """The model can be saved in --out: checked before training, not after it."""
    probe = out / WRITE_PROBE
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{out}: cannot be written ({exc.strerror or exc}); choose another "
                        "--out") from None


def _check_out_holds_no_other_files(out: Path) -> None:
    """--out is new, empty, or a saved model to replace: never a folder of other files."""
    from segstudio.ml.saved import METADATA_FILE, read_metadata

    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / METADATA_FILE).is_file():
        raise UserError(f"{out}: holds other files than a saved model; give a new or empty "
                        "folder for the model (--out), or a model folder to replace")
    read_metadata(out / METADATA_FILE)  # a model.json of segstudio's, or an error saying so


def _train(args: argparse.Namespace) -> int:
    from segstudio.ml.train import DoneReport, StepReport, TrainConfig, Trainer, ValReport

    # The settings are checked (TrainConfig) before the data is read: a bad one fails at once.
    options = {
        name: value for name, value in
        (("crop_size", args.crop_size), ("batch_size", args.batch_size), ("lr", args.lr))
        if value is not None
    }
    time_budget = args.time_budget
    if time_budget is None and args.steps is None:
        time_budget = DEFAULT_TIME_BUDGET_S
    config = TrainConfig(
        model=_architecture(args), loss=args.loss, steps=args.steps, time_budget=time_budget,
        device=args.device, seed=args.seed, init_model_dir=args.init, augment=args.augment,
        elastic=args.elastic, rotate90=args.rotate90, class_weights=_class_weights(args.class_weights),
        model_options=_model_options(args.model_option if args.init is None else []),
        **options,
    )
    if args.init is not None and args.model_option:
        _note("--model-option ignored: --init continues its model, with the options it has")
    source = _source(args)
    for path in getattr(source, "unpaired_masks", [])[:3]:
        _note(f"{path} has no image of the same name; ignored")
    unpaired = getattr(source, "unpaired_images", [])
    if unpaired:  # often meant: a mask misnamed; sometimes not (images left unlabelled)
        more = f" and {len(unpaired) - 3} more" if len(unpaired) > 3 else ""
        _note(f"{len(unpaired)} image(s) have no mask of the same name and are left out: "
              f"{', '.join(p.name for p in unpaired[:3])}{more}")
    if args.project is None:
        _check_mask_values(source, values_given=source.mapping.values is not None or bool(args.classes))
    trainer = Trainer(config, source, source.classes)
    progress = Progress()
    done = None
    with _stop_on_signals(trainer, progress) as signalled:
        for report in trainer:
            if isinstance(report, StepReport):
                progress.step(report)
            elif isinstance(report, ValReport):
                progress.message(f"step {report.step}: validation mIoU {_fmt(report.miou)}")
            elif isinstance(report, DoneReport):
                done = report
    progress.close()
    if signalled and not done.steps:
        _note(f"stopped by {signalled[0].name} before the first step: no model saved")
        return 128 + signalled[0]
    trainer.save(args.out)
    if done.error is not None:  # failed after some steps: its last good state was saved
        raise UserError(f"{done.error}; the model as it was before (step {done.steps}) is "
                        f"saved in {args.out}")
    val = trainer.best_val or trainer.last_val
    runs_on = trainer.runs_on
    precision = runs_on.get("mixed_precision", "off")
    print(f"trained {done.steps} steps in {done.elapsed_s:.1f} s ({done.reason}) on "
          f"{runs_on.get('device_used', 'cpu')} "
          f"({'float32' if precision == 'off' else precision + ' mixed precision'}), "
          f"{trainer.crops.batch_size} crops of {trainer.crops.crop_size} a step; "
          f"saved the model to {args.out}")
    if val is not None:
        print(f"validation mIoU {_fmt(val.miou)} at step {val.step}; IoU per class: "
              + ", ".join(f"{name} {_fmt(value)}" for name, value in val.iou.items()))
    if signalled:
        _note(f"stopped by {signalled[0].name}: {_which_model(trainer, done)} is saved")
    if args.json:
        print(json.dumps({
            "miou": val.miou if val else None,
            "iou": val.iou if val else {},
            "dice": val.dice if val else {},
            "pixel_accuracy": val.pixel_accuracy if val else None,
            "pq": val.pq if val else None,
            "seconds": round(done.elapsed_s, 3),
            "steps": done.steps,
            "model": str(args.out),
        }))
    # Stopped by a signal: saved, but the shell's usual code says the run was cut short.
    return 128 + signalled[0] if signalled else 0


def _which_model(trainer, done) -> str:
    """The model saved: the best by validation, which may be an earlier one."""
    best = trainer.best_val
    if best is None or best.step == done.steps:
        return f"the model of step {done.steps}"
    if best.step == 0:
        return "the model it started from (--init; none better yet)"
    return f"the best model by validation, of step {best.step}"


def _model_options(pairs: list[str]) -> dict:
    """NAME=VALUE pairs; a VALUE that reads as JSON (2, 0.5, true, null) is taken as such."""
    options = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name.strip():
            raise UserError(f"--model-option {pair!r}: expected NAME=VALUE, e.g. input_stride=2")
        try:
            options[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            options[name.strip()] = text
    return options


def _class_weights(text: str) -> str | list[float] | None:
    """auto, none, or one number per class: 2,1,1."""
    word = text.strip().lower()
    if word == "auto":
        return "auto"
    if word == "none":
        return None
    try:
        return [float(value) for value in text.split(",")]
    except ValueError:
        raise UserError(f"--class-weights {text!r}: expected auto, none or numbers such as "
                        "2,1") from None


def _source(args: argparse.Namespace):
    from segstudio.ml.data import FolderSource, ProjectSource

    if args.project is not None:
        if args.images or args.masks or args.mask_values or args.classes:
            raise UserError("--project takes its images, labels and classes from the project; "
                            "leave out --images, --masks and the mask options")
        if args.val_images or args.val_masks or args.val_fraction is not None:
            raise UserError("--project validates on the project's 'val' images (without any, "
                            "it holds some labelled images out itself); leave out --val-images, "
                            "--val-masks and --val-fraction, and mark images as 'val' instead")
        from segstudio.core.project import Project
        from segstudio.ml.holdout import HoldOutSource

        source = HoldOutSource(ProjectSource(Project.open(args.project)))
        if source.missing_labelled:
            _note(f"left out (their image files are missing): "
                  f"{', '.join(source.missing_labelled)}")
        if source.val_samples() and source.held_out:
            _note(f"the project has no 'val' split: held out {', '.join(source.held_out)} "
                  "for validation; mark images as 'val' to choose them")
        return source
    if args.images is None or args.masks is None:
        raise UserError("give --images and --masks (or --project)")
    mapping = _mask_mapping(args)

    def folder_source(val_fraction):
        return FolderSource(
            args.images, args.masks, mapping=mapping,
            val_images=args.val_images, val_masks=args.val_masks,
            val_fraction=val_fraction, seed=args.seed,
        )

    source = folder_source(args.val_fraction)
    if args.val_images is None and args.val_fraction is None:
        if len(source.train_samples()) >= MIN_PAIRS_FOR_DEFAULT_HOLD_OUT:
            source = folder_source(DEFAULT_VAL_FRACTION)
            _note_held_out(source, "; choose with --val-fraction or --val-images")
    elif args.val_images is None and args.val_fraction:
        _note_held_out(source, "")  # which ones, to score them again or keep them out later
    return source


def _note_held_out(source, advice: str) -> None:
    held_out = [s.name for s in source.val_samples()]
    count = len(held_out) + len(source.train_samples())
    shown = ", ".join(held_out[:8]) + (", ..." if len(held_out) > 8 else "")
    _note(f"held out {len(held_out)} of {count} images for validation ({shown}){advice}")


def _architecture(args: argparse.Namespace) -> str:
    """--model, or unet; a continued model keeps its own, and a --model that differs is
    said to be ignored rather than ignored silently."""
    if args.init is None:
        return args.model or "unet"
    architecture = _init_metadata(args).get("architecture")
    name = architecture.get("name") if isinstance(architecture, dict) else None
    if args.model is not None and name is not None and args.model != name:
        _note(f"--model {args.model} ignored: --init continues its model, a {name}")
    return name or args.model or "unet"


def _init_metadata(args: argparse.Namespace) -> dict:
    from segstudio.ml.saved import METADATA_FILE, read_metadata

    folder = args.init.parent if args.init.name == METADATA_FILE else args.init
    if not (folder / METADATA_FILE).is_file():
        return {}  # loading the model says what is wrong
    metadata = read_metadata(folder / METADATA_FILE)
    return metadata if isinstance(metadata, dict) else {}


def _mask_mapping(args: argparse.Namespace):
    """The mask options; without them, a model continued with --init reads the masks as
    its training did (e.g. 0/255 masks it was trained on with --mask-values 0,255)."""
    mapping = mask_mapping_from_args(args)
    if args.init is None or args.mask_values is not None or args.classes is not None:
        return mapping
    from segstudio.core.classes import LabelClass

    metadata = _init_metadata(args)
    try:
        classes = [LabelClass.from_json(c) for c in metadata["classes"]]
        trained_with = saved_mask_mapping(metadata.get("training") or {}, classes)
    except (KeyError, TypeError, ValueError):
        return mapping  # loading the model reports what is wrong with it
    if trained_with is None:
        return mapping
    _note(f"masks read with the --init model's training mask values "
          f"{','.join(map(str, trained_with.values))} (override with --mask-values)")
    return trained_with


def _check_mask_values(source, values_given: bool) -> None:
    """Warn when the masks do not look like what the mask options say: a class that
    never occurs, or most pixels unlabelled (often 0/255 masks read without --mask-values)."""
    counts = np.zeros(256, dtype=np.int64)
    for sample in source.train_samples():
        counts += value_histogram(sample.load_mask())
    total = max(int(counts.sum()), 1)
    empty = [c.name for index, c in enumerate(source.classes) if counts[index] == 0]
    if len(empty) == 1:
        _note(f"class '{empty[0]}' has no pixel in the training masks; "
              "check --mask-values or --classes")
    elif empty:
        used = [int(v) for v in np.flatnonzero(counts[:UNLABELLED])]
        more = ", …" if len(empty) > 4 else ""
        _note(f"{len(empty)} of the {len(source.classes)} classes have no pixel in the "
              f"training masks ({', '.join(empty[:4])}{more}); the masks hold the class "
              f"indices {', '.join(map(str, used[:12]))}: if some are not classes, give "
              "--mask-values or --classes")
    unlabelled = counts[UNLABELLED] / total
    if not values_given and unlabelled > 0.5:
        _note(f"{100 * unlabelled:.0f}% of the mask pixels are 255, which means unlabelled; "
              "if 255 is a class (e.g. binary 0/255 masks), pass --mask-values 0,255")


def _note(text: str) -> None:
    print(f"segstudio: note: {text}", file=sys.stderr)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class Progress:
    """A progress bar on a terminal (stderr); elsewhere a plain line every few seconds."""

    LINE_INTERVAL_S = 5.0

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.drawn = False

    def step(self, report) -> None:
        now = time.monotonic()
        interval = 0.1 if self.tty else self.LINE_INTERVAL_S
        if now - self.last < interval:
            return
        self.last = now
        text = (f"step {report.step}  loss {report.loss:.4f}  "
                f"{report.images_per_s:.1f} crops/s  {report.elapsed_s:.0f} s")
        if self.tty:
            filled = int(30 * report.progress)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\rtraining [{bar}] {100 * report.progress:3.0f}%  {text}  ")
            self.drawn = True
        else:
            self.stream.write(f"training {100 * report.progress:3.0f}%  {text}\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()

"""Mask options shared by the commands that read label masks: --mask-values, --classes."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_mask_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--mask-values", metavar="V0,V1,...",
        help="the mask value of each class, in class order, e.g. 0,255 (ISBI: membrane, cell) "
        "or membrane=0,cell=255; 255, unless listed, means unlabelled. Without this option "
        "or --classes, masks hold class indices 0..K-1 and 255 for unlabelled",
    )
    group.add_argument(
        "--classes", type=Path, metavar="FILE",
        help="a classes JSON file: {\"classes\": [{\"id\": 0, \"name\": ..., \"color\": "
        "[r, g, b]}, ...], \"ignore_index\": 11} or a list of names",
    )


def mask_mapping_from_args(args: argparse.Namespace, num_classes: int | None = None):
    """The MaskMapping the options describe (masks of class indices when neither is given)."""
    from segstudio.ml.mask_mapping import MaskMapping

    if getattr(args, "mask_values", None) is not None:
        return MaskMapping.from_values(args.mask_values)
    if getattr(args, "classes", None) is not None:
        return MaskMapping.from_classes_file(args.classes)
    return MaskMapping.indices(num_classes)


def saved_mask_mapping(training: dict, classes):
    """How a saved model's training masks stored each class (its training settings'
    mask_values), so that masks read for it now are read alike; None when they held
    class indices."""
    from segstudio.ml.mask_mapping import MaskMapping

    if "mask_values" not in training:
        return None
    values, ignore = training["mask_values"], training.get("mask_ignore_value")
    if not (isinstance(values, list) and all(type(v) is int for v in values)
            and (ignore is None or type(ignore) is int)):
        raise ValueError(f"the model's training mask values {values!r} (ignored value "
                         f"{ignore!r}) are not whole numbers")
    return MaskMapping(
        values=tuple(values),
        ignore_value=ignore,
        classes=tuple(classes),
        num_classes=len(classes),
    )


def matched_to_model(mapping, classes, model_dir) -> tuple[object, str | None]:
    """The mapping with its named classes matched to a model's classes by name (a classes
    file listing them in another order scored one class as another), and a note for the
    user when they were reordered, or when their names differ and position decides."""
    if not mapping.named or mapping.classes is None:
        return mapping, None
    own, model = [c.name for c in mapping.classes], [c.name for c in classes]
    if own == model:
        return mapping, None
    if sorted(own) == sorted(model):
        return mapping.in_order_of(model), (
            f"the masks' classes are matched to the model's by name ({', '.join(model)})")
    return mapping, (f"the masks' classes ({', '.join(own)}) are not named as the model's "
                     f"in {model_dir} ({', '.join(model)}): matched by position")

"""`segstudio project create|import|export|split|info`: projects without the window."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segstudio.cli import output_path
from segstudio.core.classes import default_classes, load_classes_file
from segstudio.core.errors import UserError
from segstudio.core.formats.export import MASK_KINDS
from segstudio.core.project import Project
from segstudio.core.project_file import FORMAT_VERSION
from segstudio.core.project_lock import refuse_if_open


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "project", help="create, import into, export and inspect projects",
        description="Work with a segstudio project folder (project.json, labels/, models/).",
    )
    commands = parser.add_subparsers(dest="project_command", required=True)

    create = commands.add_parser("create", help="start a project from a folder of images")
    create.add_argument("project", type=Path, help="the project folder to create")
    create.add_argument("--images", type=Path, required=True,
                        help="folder of images, searched recursively")
    names = create.add_mutually_exclusive_group()
    names.add_argument("--classes", type=Path, metavar="FILE",
                       help="classes JSON file (names and colours)")
    names.add_argument("--class-names", nargs="+", metavar="NAME",
                       help="class names, in order: membrane cell, or membrane,cell")
    create.add_argument("--copy", action="store_true",
                        help="copy the images into PROJECT/images instead of referencing them")

    imp = commands.add_parser("import", help="import labels: masks, labelme or COCO")
    imp.add_argument("project", type=Path)
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument("--masks", type=Path, metavar="DIR",
                        help="folder of PNG/TIFF masks named like their images")
    source.add_argument("--labelme", type=Path, metavar="DIR", help="folder of labelme JSON files")
    source.add_argument("--coco", type=Path, metavar="FILE", help="COCO segmentation JSON file")
    imp.add_argument("--mask-values", nargs="+", type=_mask_values, metavar="V0,V1,...",
                     help="with --masks: the mask value of each class, in the project's "
                          "class order, e.g. 0,255 (0 255 works too)")
    imp.add_argument("--classes", type=Path, metavar="FILE",
                     help="with --masks: classes file giving each class's mask value")
    imp.add_argument("--add-classes", action="store_true",
                     help="add class names the project does not have (default: an error)")
    imp.add_argument("--background", metavar="NAME",
                     help="with --labelme/--coco: class for pixels no shape covers "
                          "(default: unlabelled)")
    imp.add_argument("--overwrite", action="store_true",
                     help="replace labels images already have (default: keep them)")

    export = commands.add_parser("export", help="export labels")
    export.add_argument("project", type=Path)
    export.add_argument("--format", required=True, choices=[*MASK_KINDS, "coco"],
                        help="png: palette PNGs; index: plain index PNGs; overlay: image "
                             "blended with class colours; coco: COCO JSON")
    export.add_argument("--out", type=output_path, required=True,
                        help="output folder (for coco, a folder or a .json file)")
    export.add_argument("--coco-encoding", choices=["rle", "polygon"], default="rle",
                        help="coco: exact RLE masks (default) or polygons (holes are lost)")

    split = commands.add_parser("split", help="split images into train and validation")
    split.add_argument("project", type=Path)
    split.add_argument("--val", type=float, required=True, metavar="FRACTION",
                       help="fraction of the images for validation, e.g. 0.2")
    split.add_argument("--seed", type=int, default=0)

    info = commands.add_parser("info", help="classes, images, splits and how much is labelled")
    info.add_argument("project", type=Path)
    info.add_argument("--json", action="store_true", help="print JSON")

    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return {"create": _create, "import": _import, "export": _export, "split": _split,
            "info": _info}[args.project_command](args)


def _create(args) -> int:
    if args.classes:
        classes = load_classes_file(args.classes).classes
    else:
        # "membrane,cell" as one word is two names, as lists are written elsewhere.
        names = [name.strip() for word in args.class_names or [] for name in word.split(",")]
        classes = default_classes([name for name in names if name])
    project = Project.create(args.project, args.images, classes, copy_images=args.copy)
    _print_notes(project.notes)
    print(f"created {project.root}: {len(project.images)} images, {len(project.classes)} classes")
    if not project.classes:
        print("note: no classes yet: add them in the window, or give --class-names or --classes "
              "FILE (or import labels with --add-classes)", file=sys.stderr)
    return 0


def _import(args) -> int:
    from segstudio.core.formats.coco import import_coco
    from segstudio.core.formats.labelme import import_labelme
    from segstudio.core.formats.mask_folder import import_masks

    if not args.masks and (args.mask_values or args.classes):
        raise UserError("--mask-values and --classes go with --masks")
    if args.masks and args.background:
        raise UserError("--background goes with --labelme or --coco")
    project = Project.open(args.project)
    refuse_if_open(project.root)
    common = {"add_classes": args.add_classes, "overwrite": args.overwrite}
    if args.masks:
        values = None if args.mask_values is None else [v for vs in args.mask_values for v in vs]
        report = import_masks(project, args.masks, mask_values=values,
                              classes_file=args.classes, **common)
    elif args.labelme:
        report = import_labelme(project, args.labelme, background=args.background, **common)
    else:
        report = import_coco(project, args.coco, background=args.background, **common)
    _print_notes(report.notes)
    if report.added_classes:
        print(f"added classes: {', '.join(report.added_classes)}")
    print(f"imported labels for {len(report.imported)} images")
    return 0


def _export(args) -> int:
    project = Project.open(args.project)
    if args.format == "coco":
        from segstudio.core.formats.coco import export_coco

        out = args.out if args.out.suffix.lower() == ".json" else args.out / "annotations.json"
        export_coco(project, out, encoding=args.coco_encoding)
        print(f"wrote {out}")
        return 0
    from segstudio.core.formats.export import export_labels

    written, notes = export_labels(project, args.out, args.format)
    _print_notes(notes)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def _split(args) -> int:
    project = Project.open(args.project)
    refuse_if_open(project.root)
    project.auto_split(args.val, seed=args.seed)
    val = sum(e.split == "val" for e in project.images)
    print(f"train {len(project.images) - val}, val {val}")
    return 0


def _info(args) -> int:
    project = Project.open(args.project)
    summary = project_summary(project)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    images = summary["images"]
    print(f"project {summary['root']} (format {summary['format_version']})")
    print(f"classes: {len(summary['classes'])}")
    for c in summary["classes"]:
        print(f"  {c['index']:3d} {c['name']:<20} {c['color']}  {c['pixels']} pixels")
    splits = {s: sum(i["split"] == s for i in images) for s in ("train", "val")}
    labelled = [i for i in images if (i["labelled_fraction"] or 0) > 0]
    print(f"images: {len(images)} (train {splits['train']}, val {splits['val']}), "
          f"{len(labelled)} labelled")
    for name in summary["missing"]:
        print(f"  missing: {name} (relink it in the window: File ▸ Relink Missing Images…)")
    for message in summary["unreadable_labels"]:
        print(f"  unreadable labels: {message}")
    return 0


def project_summary(project: Project) -> dict:
    images, totals, unreadable = [], [0] * len(project.classes), []
    for entry in project.images:
        try:
            stats = project.label_stats(entry)
        except UserError as exc:  # one broken label file: the others are still summed up
            unreadable.append(str(exc))
            fraction, counts = None, None
        else:
            totals = [a + b for a, b in zip(totals, stats.counts, strict=True)]
            fraction, counts = stats.fraction, stats.counts
        images.append({"id": entry.id, "name": entry.name, "path": str(entry.path),
                       "split": entry.split, "exists": entry.exists,
                       "labelled_fraction": fraction, "counts": counts})
    classes = [{"index": i, "name": c.name, "color": "#{:02x}{:02x}{:02x}".format(*c.color),
                "pixels": totals[i]} for i, c in enumerate(project.classes)]
    return {"root": str(project.root), "format_version": FORMAT_VERSION, "classes": classes,
            "images": images, "missing": [e.name for e in project.missing_images()],
            "unreadable_labels": unreadable,
            "settings": project.settings}


def _print_notes(notes: list[str]) -> None:
    for note in notes[:20]:
        print(f"note: {note}", file=sys.stderr)
    if len(notes) > 20:
        print(f"note: ... and {len(notes) - 20} more", file=sys.stderr)


def _mask_values(text: str) -> list[int]:
    """'0,255' or '0' (one of several words): the same syntax as `segstudio train`."""
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected mask values like 0,255, got {text!r}") from None

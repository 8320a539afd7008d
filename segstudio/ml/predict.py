"""Prediction on whole images of any size, by overlapping tiles.

Tiles overlap by `overlap` pixels and are blended with a weight window that
tapers toward tile edges, where a network sees the least context. Memory stays
bounded on huge images: tiles are processed one row (band) at a time, and the
rows of the image that no later tile touches are turned into labels at once,
so the float32 class scores never exist for more than one band of rows.
Images (or sides) smaller than a tile are reflect-padded to a multiple of 32
and cropped back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from segstudio.core.atomic import atomic_path
from segstudio.core.classes import UNLABELLED, LabelClass
from segstudio.core.display import OVERLAY_ALPHA, overlay
from segstudio.core.errors import UserError
from segstudio.core.images import list_images, load_image
from segstudio.core.masks import write_mask
from segstudio.core.results_folder import (
    check_results_folder,
    in_results_folder,
    mark_results_folder,
)
from segstudio.ml.devices import pick_device
from segstudio.ml.models import MAX_DOWNSAMPLING
from segstudio.ml.normalization import Normalization
from segstudio.ml.saved import SavedModel

MIN_TILE = MAX_DOWNSAMPLING  # the smallest tile
# Weight left at the very edge of a tile; never zero, so that an image border
# covered by a single tile still gets that tile's prediction.
_EDGE_WEIGHT = 1e-3


class PredictionStopped(Exception):
    """Raised inside predict_image when `should_stop()` turns true."""


@dataclass
class Prediction:
    labels: np.ndarray  # uint8 (H, W) class indices
    probs: np.ndarray | None = None  # float16 (K, H, W) class probabilities
    # uint8 (H, W): the winning class's probability x 255, rounded (as an overlay shows it,
    # and a quarter of float32's memory on huge images)
    confidence: np.ndarray | None = None


def predict_image(
    saved: SavedModel,
    image_hwc: np.ndarray,
    device: str | torch.device | None = None,
    **options,
) -> Prediction:
    """Predict class labels for one image as stored (H, W, C) or (H, W).

    Uses the model where it is when `device` is None; otherwise moves it there
    (in place: from a worker thread, pass a copy of a model another thread uses).
    The options are predict_with's.
    """
    if device is not None:
        saved.model.to(pick_device(device))
    return predict_with(saved.model, saved.normalization, saved.num_classes, image_hwc, **options)


def predict_with(
    model: torch.nn.Module,
    normalization: Normalization,
    num_classes: int,
    image_hwc: np.ndarray,
    tile_size: int = 512,
    overlap: int = 64,
    return_probs: bool = False,
    return_confidence: bool = False,
    batch_size: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    flip: bool = False,
    on_rows: Callable[[int, Prediction], None] | None = None,
) -> Prediction:
    """predict_image for a model that is not (yet) a SavedModel: training validates with it.

    Images up to tile_size on both sides go through the model whole; larger ones
    by overlapping tiles whose borders are blended. With `flip`, each tile's
    probabilities are averaged with those of its mirror image. The model is put in
    eval mode on the device it is on.

    `on_rows(done, so_far)`, for a viewer to show a large image's prediction as it
    grows, is called (tiled images only) each time more rows from the top are final:
    `so_far` is the full-size result being filled, rows `done` and below UNLABELLED
    (confidence 255, probabilities 0). Rows above `done` no longer change.
    """
    image = image_hwc[:, :, None] if image_hwc.ndim == 2 else image_hwc
    check_image_fits(normalization, image_hwc)
    check_tiling(tile_size, overlap)
    if model.training:
        model.eval()
    run = _TileRunner(model, _model_device(model), flip)
    if batch_size is None:  # batching speeds up a GPU; on the CPU it only costs memory
        batch_size = 4 if run.device.type == "cuda" else 1
    batch_size = max(1, batch_size)
    height, width = image.shape[:2]
    ys, tile_h, window_y = _axis_layout(height, tile_size, overlap)
    xs, tile_w, window_x = _axis_layout(width, tile_size, overlap)
    tiled = len(ys) > 1 or len(xs) > 1
    out = _Outputs(num_classes, height, width, return_probs, return_confidence,
                   blank=tiled and on_rows is not None)

    with torch.inference_mode():
        if not tiled:  # the common case (and the GUI's): no blending
            logits = run([_normalised_band(normalization, image, 0, height)])[0]
            out.finalise(logits, 0, need_softmax=True)
            return out.result()
        window = (window_y[:, None] * window_x[None, :]).to(run.device)
        acc = torch.zeros((num_classes, tile_h, width), device=run.device)
        weight = torch.zeros((tile_h, width), device=run.device)
        for index, y0 in enumerate(ys):
            band = _normalised_band(normalization, image, y0, tile_h)
            for start in range(0, len(xs), batch_size):
                if should_stop is not None and should_stop():
                    raise PredictionStopped()
                chunk = xs[start : start + batch_size]
                probs = run([band[:, :, x0 : x0 + tile_w] for x0 in chunk]).softmax(dim=1)
                for tile_probs, x0 in zip(probs, chunk, strict=True):
                    acc[:, :, x0 : x0 + tile_w] += tile_probs * window
                    weight[:, x0 : x0 + tile_w] += window
            # Rows above the next band's top are final: no later tile touches them.
            done = (ys[index + 1] if index + 1 < len(ys) else tile_h + y0) - y0
            rows = min(done, height - y0)
            out.finalise(acc[:, :rows, :width] / weight[:rows, :width], y0, need_softmax=False)
            if on_rows is not None:
                on_rows(y0 + rows, out.result())
            acc = torch.cat([acc[:, done:], torch.zeros_like(acc[:, :done])], dim=1)
            weight = torch.cat([weight[done:], torch.zeros_like(weight[:done])], dim=0)
    return out.result()


def check_tiling(tile_size: int, overlap: int) -> None:
    if tile_size < MIN_TILE or not 0 <= overlap <= tile_size // 2:
        raise UserError(
            f"tile size {tile_size} and overlap {overlap}: the tile size must be at least "
            f"{MIN_TILE} and the overlap between 0 and half the tile size"
        )


def _axis_layout(length: int, tile: int, overlap: int) -> tuple[list[int], int, torch.Tensor]:
    """Tile starts, tile extent and blending window along one image axis."""
    if length <= tile:  # whole: the model pads what it needs, as an exported copy does
        return [0], length, torch.ones(length)
    stride = tile - overlap
    starts = list(range(0, length - tile, stride)) + [length - tile]
    if overlap == 0:
        return starts, tile, torch.ones(tile)
    centre_distance = torch.minimum(torch.arange(tile) + 0.5, tile - 0.5 - torch.arange(tile))
    window = (centre_distance / overlap).clamp(_EDGE_WEIGHT, 1.0)
    return starts, tile, window


def _normalised_band(normalization: Normalization, image: np.ndarray, y0: int, rows: int
                     ) -> torch.Tensor:
    """Rows y0..y0+rows of the image, normalised to (C, rows, W)."""
    part = normalization.apply(image[y0 : y0 + rows])
    return torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32))


class _TileRunner:
    """Runs batches of (C, h, w) tiles through the model; returns float32 logits.

    With flip, the "logits" are the log of the mean of the tile's and its mirror
    image's probabilities: their softmax is that mean.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, flip: bool = False):
        self.model, self.device, self.flip = model, device, flip

    def __call__(self, tiles: list[torch.Tensor]) -> torch.Tensor:
        batch = (tiles[0][None] if len(tiles) == 1 else torch.stack(tiles)).to(self.device)
        # Channels-last activations make convolutions markedly faster on CPUs and GPUs alike.
        batch = batch.contiguous(memory_format=torch.channels_last)
        logits = self._logits(batch)
        if self.flip:
            mirrored = self._logits(batch.flip(-1)).flip(-1)
            logits = torch.logaddexp(logits.log_softmax(dim=1), mirrored.log_softmax(dim=1))
        return logits.contiguous()

    def _logits(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            logits = self.model(batch)
        if logits.shape[-2:] != batch.shape[-2:]:
            logits = F.interpolate(logits, size=batch.shape[-2:], mode="bilinear")
        return logits.float()


class _Outputs:
    """The full-size results, filled band by band."""

    def __init__(self, classes: int, height: int, width: int, probs: bool, confidence: bool,
                 blank: bool = False):
        """blank: start from "nothing predicted" rather than leave the memory as it is."""
        def array(shape, dtype, fill):
            return np.full(shape, fill, dtype) if blank else np.empty(shape, dtype)

        self.labels = array((height, width), np.uint8, UNLABELLED)
        self.probs = array((classes, height, width), np.float16, 0) if probs else None
        self.confidence = array((height, width), np.uint8, 255) if confidence else None

    def finalise(self, scores: torch.Tensor, y0: int, need_softmax: bool) -> None:
        """Write rows y0.. from (K, rows, W) scores: logits if need_softmax, else probs."""
        scores = scores.cpu().numpy()
        rows = scores.shape[1]
        labels, best = _argmax_and_max(scores)
        self.labels[y0 : y0 + rows] = labels
        if self.probs is None and self.confidence is None:
            return
        if need_softmax:
            exp = np.exp(scores - best)
            total = exp.sum(axis=0)
            best = 1.0 / total  # the winner's probability: exp(0) / total
            scores = exp / total
        if self.confidence is not None:
            self.confidence[y0 : y0 + rows] = np.rint(np.nan_to_num(best) * 255).clip(0, 255)
        if self.probs is not None:
            self.probs[:, y0 : y0 + rows] = scores

    def result(self) -> Prediction:
        return Prediction(self.labels, self.probs, self.confidence)


def _argmax_and_max(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winning class (uint8) and its score over axis 0, in K passes over contiguous
    planes: several times faster on the CPU than argmax along the first axis."""
    best = scores[0].copy()
    labels = np.zeros(best.shape, dtype=np.uint8)
    better = np.empty(best.shape, dtype=bool)
    for k in range(1, scores.shape[0]):
        np.greater(scores[k], best, out=better)
        labels[better] = k
        np.maximum(best, scores[k], out=best)
    return labels, best


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


OVERLAY_FOLDER = "overlays"


@dataclass
class FolderPrediction:
    out_dir: Path  # where the masks go; overlays in its OVERLAY_FOLDER
    written: list[Path] = field(default_factory=list)  # the label masks written
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (image, why)
    stopped: bool = False  # should_stop() ended the run early


def check_image_fits(normalization: Normalization, image_hwc: np.ndarray) -> None:
    """Raise a UserError when the model cannot read this image: its shape, its number of
    channels, or other than 8-bit pixels for a model that knows only 8-bit ones (their
    values would be read on the wrong scale, and every pixel predicted as one class)."""
    image = image_hwc[:, :, None] if image_hwc.ndim == 2 else image_hwc
    if image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise UserError(f"expected an image of shape (H, W, C), got {image_hwc.shape}")
    if image.shape[2] != normalization.channels:
        raise UserError(
            f"the image has {image.shape[2]} channel(s) but the model was trained on "
            f"{normalization.channels}-channel images; convert the image or train a model for it"
        )
    if normalization.method == "8-bit" and image.dtype != np.uint8:
        raise UserError(
            f"the image has {image.dtype} pixels but the model was trained on 8-bit images; "
            "convert the image to 8 bits or train a model on images like it"
        )
    typical = max(normalization.offset)  # the training pixels' mean value
    if normalization.method == "percentile" and image.dtype == np.uint8 and typical > 255:
        raise UserError(
            f"the image has 8-bit pixels but the model was trained on images of higher "
            f"values (around {typical:.0f}), which 8 bits cannot hold; give it images like "
            "those, or train a model on 8-bit images"
        )


def predict_folder(
    saved: SavedModel,
    images: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    overlay: bool = False,
    progress: Callable[[int, int, Path], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str | torch.device | None = None,
    **predict_options,
) -> FolderPrediction:
    """Predict every image in a folder (or a list of files) and write the results.

    Label masks go to `out_dir` as palette PNGs named after the images (with
    their sub-folders), colour overlays to `out_dir/overlays`. An image that
    cannot be read or does not fit the model is skipped and listed in the result.
    `progress(done, total, path)` is called after each image.
    """
    check_tiling(predict_options.get("tile_size", 512), predict_options.get("overlap", 64))
    out_dir = Path(out_dir)
    paths = _image_paths(images, out_dir, overlay)
    check_results_folder(out_dir, "masks")
    result = FolderPrediction(out_dir)
    for done, (path, relative) in enumerate(paths, start=1):
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        try:
            image = load_image(path)
            prediction = predict_image(
                saved, image, device=device, should_stop=should_stop, **predict_options
            )
        except PredictionStopped:
            result.stopped = True
            break
        except UserError as exc:
            message = str(exc)
            result.skipped.append((path, message if str(path) in message else f"{path}: {message}"))
        else:
            if not result.written:
                mark_results_folder(out_dir, "Label masks")
            write_mask(out_dir / relative, prediction.labels, saved.classes)
            if overlay:
                write_overlay(out_dir / OVERLAY_FOLDER / relative, image, prediction.labels,
                              saved.classes)
            result.written.append(out_dir / relative)
        if progress is not None:
            progress(done, len(paths), path)
    return result


def write_overlay(
    path: str | os.PathLike,
    image_hwc: np.ndarray,
    labels: np.ndarray,
    classes: list[LabelClass],
    alpha: float = OVERLAY_ALPHA,
) -> None:
    """Write the image with the class colours blended over it as an RGB PNG, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(overlay(image_hwc, labels, classes, alpha)).save(tmp, format="PNG")


def _image_paths(images, out_dir: Path, overlay: bool) -> list[tuple[Path, Path]]:
    """(image file, output name) pairs; output names keep the images' sub-folders. Earlier
    results (folders that `predict_folder` marked) are not images to predict, and no
    output may overwrite an image, another output or a file of the user's."""
    if isinstance(images, (str, os.PathLike)):
        root = Path(images)
        if root.resolve() == out_dir.resolve():
            raise UserError(f"{out_dir}: is the folder of images; the masks would overwrite "
                            "or mix with them, so give another output folder")
        paths, _ = list_images(root)
        paths = [path for path in paths if not in_results_folder(path, root)]
        if not paths:
            raise UserError(f"{root}: no images found (looked for PNG, JPEG, TIFF and BMP files)")
    else:
        paths = [Path(p) for p in images]
        if not paths:
            raise UserError("no images to predict")
        root = Path(os.path.commonpath([p.absolute().parent for p in paths]))
    relatives = [path.absolute().relative_to(root.absolute()) for path in paths]
    # A PNG's mask takes its own name; another image beside one of its stem (a.jpg beside
    # a.png), or beside another of its stem, takes its full name (a.jpg.png).
    taken = {relative for relative in relatives if relative.suffix == ".png"}
    names = {}
    for relative in relatives:
        if relative not in taken:
            name = relative.with_suffix(".png")
            names[relative] = relative.with_name(relative.name + ".png") if name in taken else name
            taken.add(names[relative])
    pairs = []
    for path, relative in zip(paths, relatives, strict=True):
        name = names.get(relative, relative)
        if (out_dir / name).resolve() == path.resolve():
            raise UserError(f"{path}: its mask would be written over it; give another "
                            "output folder")
        pairs.append((path, name))
    _check_no_collision(out_dir, pairs, overlay)
    return pairs


def _check_no_collision(out_dir: Path, pairs: list[tuple[Path, Path]], overlay: bool) -> None:
    """Refuse outputs that would land on one another (an image in an "overlays" folder)."""
    written: dict[Path, Path] = {}  # output name -> the image it is for
    for path, name in pairs:
        for output in (name, Path(OVERLAY_FOLDER) / name) if overlay else (name,):
            if output in written:
                raise UserError(
                    f"{path}: its results and those of {written[output]} would both be "
                    f"{out_dir / output}; predict without overlays, or rename the "
                    f"\"{OVERLAY_FOLDER}\" folder among the images"
                )
            written[output] = path

"""The built-in demo project: synthetic cell images, three classes, some labels painted.

Everything is generated here, deterministically from a seed: light textured
background, pink textured cells with a darker membrane, dark purple nuclei.
Classes: background, cell (membrane included), nucleus. The colours and
textures differ enough that a small U-Net learns them from scribbles in
seconds. Of the images, the first has a few whole cells outlined (polygons)
plus background strokes, the second has brush scribbles of every class, and
the rest are unlabelled, for the user to paint or to predict.

The ground truth is rasterised with the same edit functions that paint the
demo labels, so painted labels agree with it exactly.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.atomic import atomic_write_bytes
from segstudio.core.classes import UNLABELLED, LabelClass
from segstudio.core.edits import MaskDiff, Point, brush_stroke, fill_polygon
from segstudio.core.errors import ProjectError
from segstudio.core.masks import empty_mask
from segstudio.core.project import Project
from segstudio.core.project_file import PROJECT_FILE

DEMO_SEED = 20240
DEMO_SIZE = 256
DEMO_IMAGE_COUNT = 4
DEMO_DIR_ENV = "SEGSTUDIO_DEMO_DIR"

BACKGROUND, CELL, NUCLEUS = 0, 1, 2
DEMO_CLASSES = [
    LabelClass("background", (0, 130, 200)),
    LabelClass("cell", (60, 180, 75)),
    LabelClass("nucleus", (230, 25, 75)),
]

# Mean RGB colour of each class in the images, and how strong its texture is.
_CLASS_RGB = np.array([[226, 220, 234], [228, 160, 190], [92, 58, 146]], dtype=np.float32)
_TEXTURE = np.array([5.0, 14.0, 16.0], dtype=np.float32)
_MEMBRANE_RGB = np.array([160, 92, 132], dtype=np.float32)


@dataclass
class Cell:
    outline: list[Point]  # polygon of the whole cell
    nucleus: list[Point]  # polygon of its nucleus, inside the outline
    centre: Point
    radius: float  # no point of the outline is farther than this from the centre


@dataclass
class DemoSample:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    truth: np.ndarray  # (H, W) uint8 class indices, every pixel labelled
    cells: list[Cell]


def generate_sample(seed: int, index: int, size: int = DEMO_SIZE) -> DemoSample:
    """Image `index` of the demo set for `seed`: the same arrays on every run."""
    rng = np.random.default_rng([seed, index])
    cells = _place_cells(rng, size)
    truth = empty_mask(size, size)
    truth[:] = BACKGROUND
    for cell in cells:
        fill_polygon(truth, cell.outline, CELL)
        fill_polygon(truth, cell.nucleus, NUCLEUS)
    return DemoSample(_render(rng, truth), truth, cells)


def _place_cells(rng: np.random.Generator, size: int) -> list[Cell]:
    """Non-overlapping cells, some cut by the border; about a quarter of the area."""
    cells: list[Cell] = []
    wanted = int(rng.integers(8, 12))
    for _ in range(300):
        if len(cells) == wanted:
            break
        radius = float(rng.uniform(17, 30))
        cx, cy = rng.uniform(0, size, 2)
        if any(math.dist((cx, cy), c.centre) < 1.2 * radius + c.radius + 4 for c in cells):
            continue
        cells.append(_make_cell(rng, float(cx), float(cy), radius))
    return cells


def _make_cell(rng: np.random.Generator, cx: float, cy: float, radius: float) -> Cell:
    # Outline radius stays within [0.7, 1.2] x radius; the nucleus within 0.6 x radius
    # of the centre, so it always lies inside the cell with a margin for the membrane.
    outline = _blob(rng, cx, cy, radius, squash=rng.uniform(0.8, 1.0), wobble=0.12)
    offset = rng.uniform(0, 0.15 * radius)
    angle = rng.uniform(0, 2 * math.pi)
    nx, ny = cx + offset * math.cos(angle), cy + offset * math.sin(angle)
    nucleus = _blob(rng, nx, ny, rng.uniform(0.28, 0.38) * radius, squash=0.85, wobble=0.1)
    return Cell(outline, nucleus, (cx, cy), 1.2 * radius)


def _blob(
    rng: np.random.Generator, cx: float, cy: float, radius: float, squash: float, wobble: float
) -> list[Point]:
    """A star-shaped wobbly ellipse (a simple polygon) of 48 vertices."""
    theta = np.linspace(0, 2 * math.pi, 48, endpoint=False)
    phases = rng.uniform(0, 2 * math.pi, 2)
    r = radius * (
        1 + wobble * (0.6 * np.sin(2 * theta + phases[0]) + 0.4 * np.sin(3 * theta + phases[1]))
    )
    rotation = rng.uniform(0, math.pi)
    x, y = r * np.cos(theta), squash * r * np.sin(theta)
    xs = cx + x * math.cos(rotation) - y * math.sin(rotation)
    ys = cy + x * math.sin(rotation) + y * math.cos(rotation)
    return [(float(a), float(b)) for a, b in zip(xs, ys, strict=True)]


def _render(rng: np.random.Generator, truth: np.ndarray) -> np.ndarray:
    """Colour each class, add its texture, a darker membrane, shading and noise."""
    size = truth.shape[0]
    image = _CLASS_RGB[truth].copy()
    texture = cv2.GaussianBlur(rng.normal(0, 1, truth.shape).astype(np.float32), (0, 0), 1.2)
    image += (texture / texture.std() * _TEXTURE[truth])[:, :, None]
    cells = (truth != BACKGROUND).astype(np.uint8)
    inner = cv2.erode(cells, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    membrane = (cells > inner) & (truth == CELL)
    image[membrane] = 0.35 * image[membrane] + 0.65 * _MEMBRANE_RGB
    image = cv2.GaussianBlur(image, (0, 0), 0.8)
    shading = cv2.resize(
        rng.normal(0, 10, (4, 4)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    image += shading[:, :, None] + rng.normal(0, 4, image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# Painting the demo labels


def outline_cells(sample: DemoSample, mask: np.ndarray, count: int) -> None:
    """Label `count` whole cells lying fully inside the image, as a user would with polygons."""
    size = sample.truth.shape[0]
    inside = [
        c
        for c in sample.cells
        if c.radius < min(c.centre[0], c.centre[1], size - c.centre[0], size - c.centre[1])
    ]
    for cell in inside[:count]:
        fill_polygon(mask, cell.outline, CELL)
        fill_polygon(mask, cell.nucleus, NUCLEUS)


def scribble(
    sample: DemoSample,
    mask: np.ndarray,
    rng: np.random.Generator,
    label: int,
    strokes: int,
    radius: float,
    steps: int = 12,
) -> None:
    """Paint `strokes` random brush strokes that stay inside the true region of `label`.

    Each stroke wanders in steps of a few pixels and stops before it would
    leave the region shrunk by about the brush radius; a stroke that would
    still paint a pixel of another class is undone, so every painted pixel
    agrees with the ground truth.
    """
    margin = math.ceil(radius) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    safe = cv2.erode((sample.truth == label).astype(np.uint8), kernel, borderValue=0) > 0
    candidates = np.argwhere(safe)
    for _ in range(strokes if candidates.size else 0):
        row, col = candidates[rng.integers(len(candidates))]
        points = [(col + 0.5, row + 0.5)]
        heading = rng.uniform(0, 2 * math.pi)
        for _ in range(steps):
            heading += rng.normal(0, 0.4)
            step = _next_point(safe, points[-1], heading)
            if step is None:
                break
            points.append(step)
            heading = math.atan2(step[1] - points[-2][1], step[0] - points[-2][0])
        diff = brush_stroke(mask, points, radius, label)
        if diff is not None and (sample.truth[_slices(diff)] != label)[diff.changed].any():
            diff.undo(mask)


def _slices(diff: MaskDiff) -> tuple[slice, slice]:
    y0, x0, y1, x1 = diff.bbox
    return slice(y0, y1), slice(x0, x1)


def _next_point(safe: np.ndarray, start: Point, heading: float) -> Point | None:
    """A point 4 px away, turning away from the region's edge if need be; None if boxed in."""
    for turn in (0.0, 0.7, -0.7, 1.4, -1.4):
        x = start[0] + 4 * math.cos(heading + turn)
        y = start[1] + 4 * math.sin(heading + turn)
        if _segment_inside(safe, start, (x, y)):
            return x, y
    return None


def _segment_inside(safe: np.ndarray, start: Point, end: Point) -> bool:
    """Whether every point of the segment lies on a pixel of `safe` (sampled every 1/4 px)."""
    samples = max(2, math.ceil(4 * math.dist(start, end)) + 1)
    xs = np.floor(np.linspace(start[0], end[0], samples)).astype(int)
    ys = np.floor(np.linspace(start[1], end[1], samples)).astype(int)
    height, width = safe.shape
    if xs.min() < 0 or ys.min() < 0 or xs.max() >= width or ys.max() >= height:
        return False
    return bool(safe[ys, xs].all())


def demo_labels(sample: DemoSample, index: int, seed: int = DEMO_SEED) -> np.ndarray:
    """The labels the demo starts with for image `index` (all UNLABELLED after the second)."""
    mask = np.full(sample.truth.shape, UNLABELLED, dtype=np.uint8)
    rng = np.random.default_rng([seed, index, 1])
    if index == 0:
        outline_cells(sample, mask, count=3)
        scribble(sample, mask, rng, BACKGROUND, strokes=5, radius=4, steps=16)
    elif index == 1:
        scribble(sample, mask, rng, BACKGROUND, strokes=6, radius=4, steps=20)
        scribble(sample, mask, rng, CELL, strokes=8, radius=2, steps=6)
        scribble(sample, mask, rng, NUCLEUS, strokes=6, radius=1.5, steps=2)
    return mask


# The demo project on disk


def demo_project_dir() -> Path:
    """Where the demo project lives for this user ($SEGSTUDIO_DEMO_DIR overrides it)."""
    override = os.environ.get(DEMO_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "segstudio" / "demo"


def demo_image_path(folder: str | os.PathLike, index: int) -> Path:
    return Path(folder) / "images" / f"cells_{index + 1}.png"


def create_demo_project(folder: str | os.PathLike, seed: int = DEMO_SEED) -> Project:
    """Write the demo images under folder/images/ and make a project of them, labels painted."""
    folder = Path(folder)
    if (folder / PROJECT_FILE).exists():
        raise ProjectError(f"{folder}: already a segstudio project; open it instead")
    samples = [generate_sample(seed, index) for index in range(DEMO_IMAGE_COUNT)]
    paths = [demo_image_path(folder, index) for index in range(DEMO_IMAGE_COUNT)]
    for sample, path in zip(samples, paths, strict=True):
        _write_png(path, sample.image)
    project = Project.create(folder, paths, DEMO_CLASSES)
    by_path = {path.resolve(): index for index, path in enumerate(paths)}
    for entry in project.images:
        index = by_path[entry.path.resolve()]
        labels = demo_labels(samples[index], index, seed)
        if (labels != UNLABELLED).any():
            project.save_labels(entry, labels)
    return project


def open_or_create_demo(folder: str | os.PathLike | None = None) -> Project:
    """Open the user's demo project, keeping their painting, or create it the first time.

    Demo images that went missing are generated again (they are always the same).
    """
    folder = Path(folder) if folder is not None else demo_project_dir()
    if not (folder / PROJECT_FILE).exists():
        return create_demo_project(folder)
    project = Project.open(folder)
    for index in range(DEMO_IMAGE_COUNT):
        path = demo_image_path(folder, index)
        if not path.exists() and any(e.path.name == path.name for e in project.images):
            _write_png(path, generate_sample(DEMO_SEED, index).image)
    return project


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - encoding a small uint8 array does not fail
        raise OSError(f"{path}: could not encode the demo image")
    atomic_write_bytes(path, data.tobytes())

"""Mask edits: pure functions that change a label mask in place and return the diff.

A label mask is a 2-D uint8 array of class indices, 255 = unlabelled. Every
edit returns a `MaskDiff` holding only the bounding box of the pixels it
changed (their values before and after), or None when nothing changed, so
undo and redo are exact and cheap. Brush and polygon edits only ever touch
their own bounding box, so their cost does not depend on the image size.

Coordinates are floats in image pixels: x is the column, y the row, and pixel
(row r, column c) covers [c, c + 1) x [r, r + 1), its centre at (c + 0.5, r + 0.5).
So the pixel under a point (x, y) is (floor(y), floor(x)).

`only_unlabelled=True` ("paint only unlabelled pixels") restricts any edit to
pixels that are UNLABELLED before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.classes import UNLABELLED

Point = tuple[float, float]
MIN_PIECE = 64.0  # px: the longest piece of a brush segment painted at once, for thin brushes


@dataclass
class MaskDiff:
    """The values of a rectangle of the mask before (`old`) and after (`new`) an edit.

    Pixels where old == new were not changed; undo and redo write only the
    others, so diffs stay exact even for rectangles that overlap other edits.
    """

    y0: int
    x0: int
    old: np.ndarray
    new: np.ndarray

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1), with y1 and x1 exclusive."""
        height, width = self.old.shape
        return self.y0, self.x0, self.y0 + height, self.x0 + width

    @property
    def changed(self) -> np.ndarray:
        """Boolean array over the bounding box: True where the edit changed the pixel."""
        return self.old != self.new

    @property
    def changed_pixels(self) -> int:
        return int(np.count_nonzero(self.changed))

    def undo(self, mask: np.ndarray) -> None:
        self._write(mask, self.old)

    def redo(self, mask: np.ndarray) -> None:
        self._write(mask, self.new)

    def _write(self, mask: np.ndarray, values: np.ndarray) -> None:
        y0, x0, y1, x1 = self.bbox
        np.copyto(mask[y0:y1, x0:x1], values, where=self.changed)  # faster than [changed]


# Brush


def brush_dab(
    mask: np.ndarray, x: float, y: float, radius: float, value: int, only_unlabelled: bool = False
) -> MaskDiff | None:
    """Paint a round dab: the pixels whose centre lies within `radius` of (x, y).

    The pixel under (x, y) is always painted, so any radius <= 0.5 paints
    exactly one pixel.
    """
    return brush_stroke(mask, [(x, y)], radius, value, only_unlabelled)


def brush_stroke(
    mask: np.ndarray,
    points: Sequence[Point],
    radius: float,
    value: int,
    only_unlabelled: bool = False,
) -> MaskDiff | None:
    """Paint a thick line with round caps through successive mouse positions.

    Painted: the pixels whose centre lies within `radius` of the polyline,
    plus the 8-connected line of pixels under it (so a thin brush leaves no
    gaps). Clipped to the mask; None when nothing changed.
    """
    _check_value(value)
    pts = [(float(px), float(py)) for px, py in points if math.isfinite(px) and math.isfinite(py)]
    if not pts:
        return None
    if not math.isfinite(radius):
        raise ValueError(f"a brush radius is a finite number of pixels, got {radius}")
    radius = max(float(radius), 0.0)
    box = _clip_box(mask.shape, pts, radius)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    footprint = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    segments = list(zip(pts[:-1], pts[1:], strict=True)) or [(pts[0], pts[0])]
    for start, end in segments:
        for piece_start, piece_end in _pieces(start, end, max(MIN_PIECE, 4 * radius)):
            _paint_segment(footprint, y0, x0, piece_start, piece_end, radius)
    return _apply(mask, y0, x0, footprint.view(bool), value, only_unlabelled)


def _pieces(start: Point, end: Point, longest: float) -> list[tuple[Point, Point]]:
    """A segment cut into pieces no longer than `longest`: the distances are computed in
    each piece's own box, not in the box of a long diagonal (a flick across a 6000 x 6000
    image: 36 M pixels, seconds and a gigabyte)."""
    (ax, ay), (bx, by) = start, end
    count = max(1, math.ceil(math.hypot(bx - ax, by - ay) / longest))
    # The ends as given: computed, -1 + (-1e-107 - -1) is 0.0, another pixel's edge.
    inner = [(ax + (bx - ax) * i / count, ay + (by - ay) * i / count) for i in range(1, count)]
    points = [start, *inner, end]
    return list(zip(points[:-1], points[1:], strict=True))


def erase_stroke(mask: np.ndarray, points: Sequence[Point], radius: float) -> MaskDiff | None:
    """Set the pixels under a brush stroke back to UNLABELLED."""
    return brush_stroke(mask, points, radius, UNLABELLED)


def _paint_segment(
    footprint: np.ndarray, y0: int, x0: int, start: Point, end: Point, radius: float
) -> None:
    """Mark (set to 1) the footprint pixels of one segment, within the segment's own box."""
    box = _clip_box((y0 + footprint.shape[0], x0 + footprint.shape[1]), [start, end], radius)
    if box is None:
        return
    sy0, sx0, sy1, sx1 = box
    sy0, sx0 = max(sy0, y0), max(sx0, x0)
    if sy0 < sy1 and sx0 < sx1:
        (ax, ay), (bx, by) = start, end
        ys = np.arange(sy0, sy1, dtype=np.float64)[:, None] + 0.5
        xs = np.arange(sx0, sx1, dtype=np.float64)[None, :] + 0.5
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        if length2 > 0:
            t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0.0, 1.0)
            dist2 = (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2
        else:
            dist2 = (xs - ax) ** 2 + (ys - ay) ** 2
        footprint[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] |= (dist2 <= radius * radius).view(
            np.uint8
        )
    # The pixels under the path itself, whatever the radius.
    cv2.line(
        footprint,
        (math.floor(start[0]) - x0, math.floor(start[1]) - y0),
        (math.floor(end[0]) - x0, math.floor(end[1]) - y0),
        1,
        thickness=1,
        lineType=cv2.LINE_8,
    )


# Polygon / lasso


def fill_polygon(
    mask: np.ndarray, points: Sequence[Point], value: int, only_unlabelled: bool = False
) -> MaskDiff | None:
    """Fill a polygon (lasso): pixels whose centre is inside it, plus its outline.

    Inside is decided by the even-odd rule, so the overlap of a self-crossing
    lasso is a hole. The outline is the 8-connected line of pixels under the
    edges (closed back to the first point), as a 1-pixel brush would paint it.
    """
    _check_value(value)
    pts = [(float(px), float(py)) for px, py in points if math.isfinite(px) and math.isfinite(py)]
    if not pts:
        return None
    box = _clip_box(mask.shape, pts, 0.0)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    footprint = _even_odd_inside(pts, y0, x0, y1, x1).view(np.uint8)
    outline = np.array(
        [[math.floor(px) - x0, math.floor(py) - y0] for px, py in pts], dtype=np.int32
    )
    cv2.polylines(footprint, [outline], True, 1, thickness=1, lineType=cv2.LINE_8)
    return _apply(mask, y0, x0, footprint.view(bool), value, only_unlabelled)


def _even_odd_inside(pts: list[Point], y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    """Boolean (y1-y0, x1-x0): pixel centres inside the closed polygon, even-odd rule.

    Scanline: each edge crossing a row's centre line toggles "inside" for all
    pixels whose centre lies at or right of the crossing.
    """
    height, width = y1 - y0, x1 - x0
    if len(pts) < 3:
        return np.zeros((height, width), dtype=bool)
    poly = np.asarray(pts, dtype=np.float64)
    ax, ay = poly[:, 0], poly[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    yc = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5  # (rows, 1) against (edges,)
    crosses = (ay <= yc) != (by <= yc)  # half-open, so a vertex on the line counts once
    # Edges that do not cross a row may divide by ~0 there; only crossing edges are used.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x_cross = ax + (yc - ay) * (bx - ax) / (by - ay)
    rows, edges = np.nonzero(crosses)
    # First column whose centre is >= the crossing: c + 0.5 >= x  <=>  c >= ceil(x - 0.5).
    start = np.clip(np.ceil(x_cross[rows, edges] - 0.5) - x0, 0, width).astype(np.int64)
    # Parity in one byte a pixel (a cumulative sum took 8: 290 MB and seconds for a
    # polygon across 6000 x 6000).
    toggles = np.zeros((height, width + 1), dtype=np.uint8)
    np.bitwise_xor.at(toggles, (rows, start), 1)
    return np.bitwise_xor.accumulate(toggles[:, :width], axis=1).view(bool)


# Flood fill


def flood_fill(
    mask: np.ndarray,
    x: float,
    y: float,
    value: int,
    image: np.ndarray | None = None,
    tolerance: float = 0,
    only_unlabelled: bool = False,
) -> MaskDiff | None:
    """Fill the 4-connected region around the pixel under (x, y).

    Without `image`: the region of the same label value as that pixel. With
    `image` ((H, W) or (H, W, C), any dtype): the region whose pixels are, in
    every channel, within `tolerance` (in the image's own units) of the seed
    pixel. With `only_unlabelled`, only the unlabelled pixels of that region
    are painted (the region itself is found as without the flag).
    """
    _check_value(value)
    if not tolerance >= 0:
        raise ValueError(f"fill tolerance must be 0 or more, not {tolerance}")
    height, width = mask.shape
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    col, row = math.floor(x), math.floor(y)
    if not (0 <= row < height and 0 <= col < width):
        return None
    if image is None:
        region, box = _flood_region(mask, row, col, 0)
    else:
        if image.shape[:2] != mask.shape:
            raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
        region, box = _flood_region(image, row, col, tolerance)
    y0, x0, y1, x1 = box
    return _apply(mask, y0, x0, region[y0:y1, x0:x1], value, only_unlabelled)


def _flood_region(
    image: np.ndarray, row: int, col: int, tolerance: float
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The 4-connected region within `tolerance` of image[row, col], and its box.

    Returns a boolean view of an (H, W) array and (y0, x0, y1, x1).
    """
    image = image if image.ndim == 3 else image[:, :, None]
    channels = image.shape[2]
    if image.dtype.kind == "f" and np.isnan(image[row, col]).any():
        # A no-data pixel is like no value: its region is the connected no-data pixels.
        source, tol = np.isnan(image).any(axis=2).view(np.uint8), 0.0
    elif channels in (1, 3) and image.dtype in (np.uint8, np.float32):
        source, tol = image, float(tolerance)
    elif channels in (1, 3) and image.dtype in (np.uint16, np.int16, np.int8):
        # cv2.floodFill takes 8-bit or float32 only; float32 holds 16-bit values exactly.
        source, tol = image.astype(np.float32), float(tolerance)
    else:
        # Other channel counts: compare with the seed here, then fill the binary image.
        diff = np.abs(image.astype(np.float64) - image[row, col].astype(np.float64))
        source, tol = (diff.max(axis=2) <= tolerance).view(np.uint8), 0.0
    if source.ndim == 3 and source.shape[2] == 1:
        source = source[:, :, 0]
    source = np.ascontiguousarray(source)
    if not source.flags.writeable:  # cv2 refuses read-only input even with MASK_ONLY
        source = source.copy()
    height, width = source.shape[:2]
    fill_mask = np.zeros((height + 2, width + 2), dtype=np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    span = (tol,) * 4
    _, _, _, rect = cv2.floodFill(source, fill_mask, (col, row), 0, span, span, flags)
    rx, ry, rw, rh = rect
    return fill_mask[1:-1, 1:-1].view(bool), (ry, rx, ry + rh, rx + rw)


# Whole-mask edits


def replace_class(mask: np.ndarray, old_value: int, new_value: int) -> MaskDiff | None:
    """Relabel every pixel of `old_value` as `new_value` (e.g. merge two classes)."""
    _check_value(new_value)
    if old_value == new_value:
        return None
    hit = mask == old_value
    return _apply(mask, 0, 0, hit, new_value, only_unlabelled=False)


def paste_labels(
    mask: np.ndarray, labels: np.ndarray, only_unlabelled: bool = False
) -> MaskDiff | None:
    """Accept labels (e.g. a model's prediction) into the mask.

    Pixels that are UNLABELLED in `labels` are left as they are; with
    `only_unlabelled`, so are pixels already labelled in `mask`.
    """
    if labels.shape != mask.shape:
        raise ValueError(f"labels {labels.shape} and mask {mask.shape} differ in size")
    labels = labels.astype(np.uint8, copy=False)
    return _apply(mask, 0, 0, labels != UNLABELLED, labels, only_unlabelled)


# Combining diffs


def combine(diffs: Sequence[MaskDiff | None], mask: np.ndarray | None = None) -> MaskDiff | None:
    """Merge the diffs of successive edits (e.g. one mouse stroke) into one undo step.

    The result spans the union of their boxes: old holds the values before the
    first diff, new the values after the last; exact when diffs overlap. Pixels
    of that box that no diff's box covers were not changed: they are copied
    from `mask` (the mask after the edits) when given, else UNLABELLED in both
    old and new, which undo and redo skip alike.
    """
    diffs = [d for d in diffs if d is not None]
    if not diffs:
        return None
    boxes = np.array([d.bbox for d in diffs])
    y0, x0 = int(boxes[:, 0].min()), int(boxes[:, 1].min())
    y1, x1 = int(boxes[:, 2].max()), int(boxes[:, 3].max())
    if mask is None:
        old = np.full((y1 - y0, x1 - x0), UNLABELLED, dtype=np.uint8)
    else:
        old = mask[y0:y1, x0:x1].copy()
    new = old.copy()
    # The first diff whose box covers a pixel saw its original value, the last
    # one left its final value: write the olds last-to-first, the news first-to-last.
    for diff in reversed(diffs):
        dy0, dx0, dy1, dx1 = diff.bbox
        old[dy0 - y0 : dy1 - y0, dx0 - x0 : dx1 - x0] = diff.old
    for diff in diffs:
        dy0, dx0, dy1, dx1 = diff.bbox
        new[dy0 - y0 : dy1 - y0, dx0 - x0 : dx1 - x0] = diff.new
    return _trimmed(y0, x0, old, new)


# Helpers


def _check_value(value: int) -> None:
    if not 0 <= int(value) <= 255:
        raise ValueError(f"a label value is 0..255 (255 = unlabelled), got {value}")


def _clip_box(
    shape: tuple[int, ...], pts: Sequence[Point], radius: float
) -> tuple[int, int, int, int] | None:
    """(y0, x0, y1, x1) of every pixel within `radius` of the points, clipped; None if empty."""
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x0 = max(math.floor(min(xs) - radius), 0)
    y0 = max(math.floor(min(ys) - radius), 0)
    x1 = min(math.floor(max(xs) + radius) + 1, shape[1])
    y1 = min(math.floor(max(ys) + radius) + 1, shape[0])
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, x0, y1, x1


def _apply(
    mask: np.ndarray,
    y0: int,
    x0: int,
    footprint: np.ndarray,
    values: int | np.ndarray,
    only_unlabelled: bool,
) -> MaskDiff | None:
    """Write `values` where `footprint` is True in the box at (y0, x0); return the diff."""
    height, width = footprint.shape
    region = mask[y0 : y0 + height, x0 : x0 + width]
    change = footprint & (region != values)
    if only_unlabelled:
        change &= region == UNLABELLED
    box = _changed_box(change)
    if box is None:
        return None
    change = change[box]
    old = region[box].copy()
    new = old.copy()
    np.copyto(new, values if np.isscalar(values) else values[box], where=change)
    region[box] = new
    return MaskDiff(y0 + box[0].start, x0 + box[1].start, old, new)


def _trimmed(y0: int, x0: int, old: np.ndarray, new: np.ndarray) -> MaskDiff | None:
    box = _changed_box(old != new)
    if box is None:
        return None
    return MaskDiff(y0 + box[0].start, x0 + box[1].start, old[box].copy(), new[box].copy())


def _changed_box(changed: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)

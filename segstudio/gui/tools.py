"""Painting tools: brush, eraser, flood fill, polygon and lasso.

A tool turns mouse positions (image pixels, as floats) into calls of
segstudio.core.edits on the live mask. While a stroke goes on, each piece is
shown at once (`host.preview_edit`, which re-renders only its bounding box);
when the stroke ends its pieces are combined into one diff and handed to
`host.commit_edit`, which makes it one undo step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsScene

from segstudio.core import edits
from segstudio.core.classes import UNLABELLED
from segstudio.core.edits import MaskDiff
from segstudio.gui.layers import TwoTonePath

MIN_BRUSH, MAX_BRUSH = 1, 1000
DEFAULT_FILL_TOLERANCE = 10.0


@dataclass
class PaintSettings:
    """What the tools paint with; shared by all tools and the panels that set it."""

    class_index: int = 0  # -1 while the project has no classes: nothing to paint with
    brush_size: float = 15.0  # diameter in image pixels
    only_unlabelled: bool = False
    fill_by_image: bool = True  # fill follows the image; False: the clicked label's region
    fill_tolerance: float = DEFAULT_FILL_TOLERANCE  # percent of the displayed value range

    @property
    def radius(self) -> float:
        return self.brush_size / 2

    def grow_brush(self, steps: int) -> None:
        """Change the size by ~20% per step (at least one pixel), within limits."""
        size = self.brush_size
        for _ in range(abs(steps)):
            change = max(1.0, round(size * 0.2))
            size = size + change if steps > 0 else size - change
        self.brush_size = float(min(max(size, MIN_BRUSH), MAX_BRUSH))


class EditHost(Protocol):
    def current_mask(self) -> np.ndarray | None: ...
    def current_image(self) -> np.ndarray | None: ...
    def display_span(self) -> float: ...  # width of the displayed value range, raw units
    def preview_edit(self, diff: MaskDiff) -> None: ...
    def commit_edit(self, diff: MaskDiff | None, text: str) -> None: ...
    def say(self, text: str) -> None: ...  # a passing hint, in the status bar


def fill_tolerance(settings: PaintSettings, host: EditHost) -> float:
    """The fill's tolerance in the image's own units: a percentage of the displayed range."""
    return settings.fill_tolerance / 100 * host.display_span()


class Tool:
    name = ""
    text = ""
    tip = ""  # a longer tooltip than the text, where the text does not say enough
    hint = ""  # how to draw with it, in the tool options bar (short: it shares a row)
    shortcut = ""
    icon = ""
    shows_brush = False

    def __init__(self, host: EditHost, settings: PaintSettings, scene: QGraphicsScene):
        self.host = host
        self.settings = settings
        self.scene = scene

    def press(self, pos: QPointF) -> None: ...
    def move(self, pos: QPointF, pressed: bool) -> None: ...
    def release(self, pos: QPointF) -> None: ...
    def double_click(self, pos: QPointF) -> None: ...

    def key_press(self, key: int) -> bool:
        return False

    @property
    def drawing(self) -> bool:
        """An outline being drawn point by point, whose last point Ctrl+Z takes back."""
        return False

    def _has_class(self) -> bool:
        """Whether there is a class to paint with; if not, the status bar says so."""
        if self.settings.class_index >= 0:
            return True
        self.host.say("No class to paint with: add one in the Classes panel")
        return False

    def cancel(self) -> None:
        """Drop or finish anything in progress (image switch, tool change)."""


class BrushTool(Tool):
    name, text, shortcut, icon = "brush", "&Brush", "B", "brush"
    shows_brush = True
    undo_text = "Brush stroke"

    def __init__(self, *args):
        super().__init__(*args)
        self._diffs: list[MaskDiff] = []
        self._last: tuple[float, float] | None = None

    def value(self) -> int:
        return self.settings.class_index

    def only_unlabelled(self) -> bool:
        return self.settings.only_unlabelled

    def press(self, pos):
        self._diffs = []
        self._last = (pos.x(), pos.y())
        self._paint([self._last])

    def move(self, pos, pressed):
        if not pressed or self._last is None:
            return
        point = (pos.x(), pos.y())
        self._paint([self._last, point])
        self._last = point

    def release(self, pos):
        if self._last is not None:
            self.move(pos, True)
        self.cancel()

    def cancel(self):
        diffs, self._diffs, self._last = self._diffs, [], None
        if diffs:
            self.host.commit_edit(edits.combine(diffs), self.undo_text)

    def _paint(self, points):
        mask = self.host.current_mask()
        if mask is None or (self.value() != UNLABELLED and not self._has_class()):
            return
        diff = edits.brush_stroke(
            mask, points, self.settings.radius, self.value(), self.only_unlabelled()
        )
        if diff is not None:
            self._diffs.append(diff)
            self.host.preview_edit(diff)


class EraserTool(BrushTool):
    name, text, shortcut, icon = "eraser", "&Eraser", "E", "eraser"
    undo_text = "Erase"

    def value(self) -> int:
        return UNLABELLED

    def only_unlabelled(self) -> bool:
        return False


class FillTool(Tool):
    """Click to fill the connected area around the pixel: by default the pixels whose image
    values are within a tolerance of the clicked one (an object of one brightness or
    colour); or, by label region, those with the clicked pixel's label (an outlined area)."""

    name, text, shortcut, icon = "fill", "&Fill", "F", "fill"
    tip = ("Fill: click to label the connected area of similar image values "
           "(or of the same label; see the fill options in the toolbar)")

    def press(self, pos):
        mask = self.host.current_mask()
        if mask is None or not self._has_class():
            return
        image = self.host.current_image() if self.settings.fill_by_image else None
        tolerance = 0.0 if image is None else fill_tolerance(self.settings, self.host)
        diff = edits.flood_fill(
            mask, pos.x(), pos.y(), self.settings.class_index, image=image, tolerance=tolerance,
            only_unlabelled=self.settings.only_unlabelled,
        )
        if diff is not None:
            self.host.preview_edit(diff)
            self.host.commit_edit(diff, "Fill")


class _OutlineTool(Tool):
    """Shared by polygon and lasso: a preview path in the scene, then fill_polygon."""

    undo_text = ""

    def __init__(self, *args):
        super().__init__(*args)
        self.points: list[tuple[float, float]] = []
        self._path_item = TwoTonePath()
        self._path_item.setZValue(9)
        self.scene.addItem(self._path_item)

    def _show(self, cursor: tuple[float, float] | None = None) -> None:
        path = QPainterPath()
        points = self.points + ([cursor] if cursor else [])
        if points:
            path.moveTo(*points[0])
            for point in points[1:]:
                path.lineTo(*point)
        self._path_item.setPath(path)

    def finish(self) -> None:
        points, self.points = self.points, []
        self._show()
        mask = self.host.current_mask()
        if mask is None or not points or not self._has_class():
            return
        if len(points) < 3:
            self.host.say(f"{self.undo_text}: an outline of fewer than three points fills "
                          "nothing")
            return
        diff = edits.fill_polygon(
            mask, points, self.settings.class_index, self.settings.only_unlabelled
        )
        if diff is not None:
            self.host.preview_edit(diff)
            self.host.commit_edit(diff, self.undo_text)

    def cancel(self):
        self.points = []
        self._show()


class PolygonTool(_OutlineTool):
    """Click the vertices; double-click or Enter fills, Backspace drops a vertex, Esc cancels."""

    name, text, shortcut, icon = "polygon", "&Polygon", "P", "polygon"
    hint = "Click the corners; double-click or Enter fills; Esc cancels"
    undo_text = "Polygon"

    def press(self, pos):
        point = (pos.x(), pos.y())
        if not self.points or _distance(point, self.points[-1]) > 1e-6:
            self.points.append(point)
        self._show()

    def move(self, pos, pressed):
        if self.points:
            self._show((pos.x(), pos.y()))

    def double_click(self, pos):
        self.press(pos)
        self.finish()

    @property
    def drawing(self) -> bool:
        return bool(self.points)

    def key_press(self, key):
        if not self.points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()
        elif key == Qt.Key.Key_Escape:
            self.cancel()
        elif key == Qt.Key.Key_Backspace:
            self.points.pop()
            self._show()
        else:
            return False
        return True


class LassoTool(_OutlineTool):
    """Drag around a region; releasing the button fills it."""

    name, text, shortcut, icon = "lasso", "&Lasso", "L", "lasso"
    hint = "Drag around the region; release to fill; Esc cancels"
    undo_text = "Lasso"

    def press(self, pos):
        self.points = [(pos.x(), pos.y())]
        self._show()

    def move(self, pos, pressed):
        if pressed and self.points:
            point = (pos.x(), pos.y())
            if _distance(point, self.points[-1]) >= 0.5:
                self.points.append(point)
                self._show()

    def release(self, pos):
        if self.points:
            self.move(pos, True)
            self.finish()

    def key_press(self, key):
        if key == Qt.Key.Key_Escape and self.points:
            self.cancel()
            return True
        return False


TOOL_CLASSES: list[type[Tool]] = [BrushTool, EraserTool, FillTool, PolygonTool, LassoTool]


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])

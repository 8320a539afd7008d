"""The status bar: cursor position, raw pixel value and class under the cursor; tool and zoom."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLabel, QStatusBar

from segstudio.core.classes import UNLABELLED, LabelClass


class StatusInfo:
    def __init__(self, bar: QStatusBar):
        self.position_label = QLabel()
        self.value_label = QLabel()
        self.class_label = QLabel()
        self.paint_label = QLabel()
        self.zoom_label = QLabel()
        for label in (self.position_label, self.value_label, self.class_label,
                      self.paint_label, self.zoom_label):
            bar.addPermanentWidget(label)

    def show_cursor(self, pos: QPointF | None, image: np.ndarray | None,
                    mask: np.ndarray | None, classes: list[LabelClass]) -> None:
        """What is under image point `pos`: raw values (any dtype, any channels) and class."""
        if pos is None or image is None or mask is None:
            for label in (self.position_label, self.value_label, self.class_label):
                label.clear()
            return
        col, row = int(pos.x()), int(pos.y())
        self.position_label.setText(f"x {col}  y {row}")
        values = image[row, col]
        if values.size == 1:
            text = f"value {_format_value(values[0])}"
        elif values.size in (3, 4):  # colour (and alpha); other counts are not named
            text = "  ".join(f"{n} {_format_value(v)}" for n, v in zip("RGBA", values, strict=False))
        else:
            text = " ".join(_format_value(v) for v in values)
        self.value_label.setText(text)
        label = int(mask[row, col])
        name = ("unlabelled" if label == UNLABELLED
                else classes[label].name if label < len(classes) else f"unknown ({label})")
        self.class_label.setText(f"class: {name}")

    def show_paint(self, tool, classes: list[LabelClass], paint, span: float = 255.0) -> None:
        """The tool and what it paints; for the fill, what it fills (`span`: the width of
        the displayed value range, the unit of the fill tolerance)."""
        index = paint.class_index
        name = classes[index].name if 0 <= index < len(classes) else "-"
        parts = [tool.text.replace("&", "") if tool else ""]
        paints_a_class = tool is None or tool.name != "eraser"
        if paints_a_class:
            parts.append(f"class {name}")
        if tool is not None and tool.shows_brush:
            parts.append(f"size {paint.brush_size:g}px")
        if tool is not None and tool.name == "fill":
            units = paint.fill_tolerance / 100 * span
            parts.append(f"by image ±{paint.fill_tolerance:g}% ({units:.3g})"
                         if paint.fill_by_image else "by label region")
        self.paint_label.setToolTip(getattr(tool, "tip", "") or "")
        if paint.only_unlabelled and paints_a_class:  # the eraser erases labels all the same
            parts.append("only unlabelled")
        self.paint_label.setText("  |  ".join(parts))

    def show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}")


def _format_value(value) -> str:
    if isinstance(value, np.floating | float):
        return f"{float(value):.4g}"
    return str(int(value))

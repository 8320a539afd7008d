"""The metrics dock: the loss curve, and per-class IoU as a table and a bar chart.

QtCharts is not part of PySide6-Essentials, so both charts are small QPainter
widgets. They keep their own data and repaint when it changes.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segstudio.core.classes import LabelClass

MAX_CURVE_POINTS = 2000  # older points are thinned so long trainings stay cheap to draw
EMPTY_CURVE_TEXT = "Loss appears while training"
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 10, 10, 22


class LossCurve(QWidget):
    """Training loss against steps, with a smoothed line over the raw points."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []
        self.empty_text = EMPTY_CURVE_TEXT
        self.setMinimumHeight(100)

    def clear(self) -> None:
        self.points = []
        self.empty_text = EMPTY_CURVE_TEXT
        self.update()

    def set_points(self, points) -> None:
        self.points = []
        for step, loss in points:
            self.add_point(step, loss)
        self.update()

    def add_point(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            return
        self.points.append((int(step), float(loss)))
        if len(self.points) > MAX_CURVE_POINTS:
            self.points = self.points[::2]
        self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        plot = QRectF(MARGIN_LEFT, MARGIN_TOP, self.width() - MARGIN_LEFT - MARGIN_RIGHT,
                      self.height() - MARGIN_TOP - MARGIN_BOTTOM)
        text_pen = QPen(self.palette().text().color())
        painter.setPen(QPen(QColor(150, 150, 150)))
        painter.drawRect(plot)
        if len(self.points) < 1 or plot.width() < 10 or plot.height() < 10:
            painter.setPen(text_pen)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
            return
        steps = [p[0] for p in self.points]
        losses = [p[1] for p in self.points]
        x0, x1 = min(steps), max(max(steps), min(steps) + 1)
        y0, y1 = 0.0, max(max(losses), 1e-6) * 1.05

        def to_screen(step: float, loss: float) -> QPointF:
            return QPointF(plot.left() + (step - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (loss - y0) / (y1 - y0) * plot.height())

        painter.setPen(QPen(QColor(120, 160, 220, 110), 1))
        painter.drawPath(_polyline([to_screen(s, v) for s, v in self.points]))
        painter.setPen(QPen(QColor(30, 90, 200), 2))
        painter.drawPath(_polyline([to_screen(s, v) for s, v in _smoothed(self.points)]))
        painter.setPen(text_pen)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRectF(0, plot.top() - 6, MARGIN_LEFT - 4, 12), right, f"{y1:.3g}")
        painter.drawText(QRectF(0, plot.bottom() - 6, MARGIN_LEFT - 4, 12), right, "0")
        painter.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), 16),
                         Qt.AlignmentFlag.AlignLeft, f"step {x0}")
        painter.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), 16),
                         Qt.AlignmentFlag.AlignRight, f"step {steps[-1]}  loss {losses[-1]:.4f}")


class IoUBarChart(QWidget):
    """One horizontal bar per class, in the class colour, 0..1; n/a for absent classes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.classes: list[LabelClass] = []
        self.values: list[float | None] = []
        self.setMinimumHeight(80)

    def set_values(self, classes: list[LabelClass], values: list[float | None]) -> None:
        self.classes, self.values = list(classes), list(values)
        self.setMinimumHeight(20 + 22 * max(1, len(self.classes)))
        self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        text_color = self.palette().text().color()
        painter.setPen(text_color)
        if not self.classes:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Per-class IoU appears after the first validation")
            return
        label_width = min(140, self.width() // 3)
        value_width = 44
        bar_left = label_width + 6
        bar_span = max(10, self.width() - bar_left - value_width - 6)
        row_height = min(22, max(12, (self.height() - 10) // len(self.classes)))
        for row, (label_class, value) in enumerate(zip(self.classes, self.values, strict=False)):
            top = 5 + row * row_height
            painter.setPen(text_color)
            painter.drawText(QRectF(0, top, label_width, row_height),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             label_class.name)
            painter.setPen(QColor(170, 170, 170))
            painter.drawRect(QRectF(bar_left, top + 3, bar_span, row_height - 6))
            if value is not None:
                painter.fillRect(QRectF(bar_left, top + 3, bar_span * max(0.0, min(value, 1.0)),
                                        row_height - 6), QColor(*label_class.color))
            painter.setPen(text_color)
            painter.drawText(QRectF(bar_left + bar_span + 4, top, value_width, row_height),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             "n/a" if value is None else f"{value:.3f}")


class MetricsPanel(QWidget):
    """Loss curve, IoU table and IoU chart, updated from the training reports."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.classes: list[LabelClass] = []
        self._report_names: list[str] = []
        self._shown: tuple = ({}, None, {})  # the figures in the table: (iou, miou, dice)
        self.loss_curve = LossCurve()
        self.summary_label = QLabel("No validation yet.")
        self.summary_label.setWordWrap(True)
        self.validation_label = QLabel("")
        self.validation_label.setWordWrap(True)
        self.iou_table = QTableWidget(0, 3)
        self.iou_table.setHorizontalHeaderLabels(["Class", "IoU", "Dice"])
        self.iou_table.verticalHeader().setVisible(False)
        # Compact rows: a dozen classes fit beside the loss curve.
        self.iou_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.iou_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.iou_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.iou_chart = IoUBarChart()
        self.source_label = QLabel("")  # where the figures come from: training, or a saved model
        self.source_label.setWordWrap(True)
        self.source_label.hide()
        # The IoU first: in a short dock it is what stays in view while training.
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.iou_table)
        layout.addWidget(self.validation_label)
        layout.addWidget(QLabel("Training loss"))
        layout.addWidget(self.loss_curve, 2)
        layout.addWidget(self.iou_chart)

    def reset(self, classes: list[LabelClass]) -> None:
        self.classes = list(classes)
        self._report_names = [c.name for c in classes]  # what the figures are keyed by
        self.loss_curve.clear()
        self.summary_label.setText("No validation yet.")
        self.validation_label.setText("")
        self.set_source("")
        self.show_iou({}, None)

    def rename_classes(self, classes: list[LabelClass]) -> None:
        """New names or colours for the classes, shown at once; the figures still come
        keyed by the names they had at the last reset (a running training's)."""
        self.classes = list(classes)
        self.show_iou(*self._shown)

    def take_class_names(self, classes: list[LabelClass]) -> None:
        """The figures come keyed by these names from now on (the model took them); what
        is shown stays: the loss curve, the validation note."""
        self.classes = list(classes)
        self._report_names = [c.name for c in classes]

    def set_source(self, text: str) -> None:
        self.source_label.setText(text)
        self.source_label.setVisible(bool(text))

    def show_saved_model(self, name: str, metrics: dict, loss_history=()) -> None:
        """Show a saved model's metrics (model.json): per-class IoU and Dice, mIoU, and its
        loss curve when it stored one; the live curve of a training just ended is kept."""
        metrics = metrics if isinstance(metrics, dict) else {}
        iou = metrics.get("iou") if isinstance(metrics.get("iou"), dict) else {}
        dice = metrics.get("dice") if isinstance(metrics.get("dice"), dict) else {}
        self.show_iou(iou, metrics.get("miou"), dice)
        if loss_history and not self.loss_curve.points:
            self.loss_curve.set_points(loss_history)
        elif not self.loss_curve.points:
            self.loss_curve.empty_text = "No loss curve was saved with this model"
            self.loss_curve.update()
        if metrics.get("miou") is None and not iou:
            self.summary_label.setText("The saved model has no validation figures.")
        else:
            parts = [f"mIoU {_fmt(metrics.get('miou'))}"]
            if metrics.get("step") is not None:
                parts.insert(0, f"step {metrics['step']}")
            if metrics.get("pixel_accuracy") is not None:
                parts.append(f"pixel accuracy {_fmt(metrics['pixel_accuracy'])}")
            self.summary_label.setText("Validation: " + ", ".join(parts))
        self.set_source(f"From the saved model {name}.")

    def set_validation_note(self, text: str) -> None:
        self.validation_label.setText(text)

    def add_step(self, step: int, loss: float) -> None:
        self.loss_curve.add_point(step, loss)

    def show_validation(self, report) -> None:
        """Show a ValReport: per-class IoU and Dice (None = class absent), mIoU, accuracy."""
        self.set_source("")
        dice = report.dice if isinstance(getattr(report, "dice", None), dict) else {}
        self.show_iou(report.iou, report.miou, dice)
        parts = [f"step {report.step}", f"mIoU {_fmt(report.miou)}"]
        if getattr(report, "pixel_accuracy", None) is not None:
            parts.append(f"pixel accuracy {_fmt(report.pixel_accuracy)}")
        self.summary_label.setText("Validation: " + ", ".join(parts))

    def show_iou(self, iou: dict[str, float | None], miou: float | None,
                 dice: dict[str, float | None] | None = None) -> None:
        dice = dice or {}
        self._shown = (iou, miou, dice)
        names = [c.name for c in self.classes] or list(iou)
        same_count = self.classes and len(self._report_names) == len(self.classes)
        keys = self._report_names if same_count else names
        values = [_finite_or_none(iou.get(key)) for key in keys]
        self.iou_table.setRowCount(len(names) + 1)
        for row, (name, key, value) in enumerate(zip(names, keys, values, strict=True)):
            self._set_row(row, name, value, _finite_or_none(dice.get(key)))
        self._set_row(len(names), "mean", _finite_or_none(miou), _mean(dice.values()))
        self._fit_table_height()
        classes = self.classes or [LabelClass(n, (100, 100, 200)) for n in names]
        self.iou_chart.set_values(classes, values)

    def _fit_table_height(self, max_rows: int = 17) -> None:
        """As tall as its rows, so that the dock's own scroll bar is the only one: up to
        max_rows (16 classes and the mean: CamVid's 11 fit), then it scrolls."""
        table = self.iou_table
        rows = min(table.rowCount(), max_rows)
        height = table.horizontalHeader().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(r) for r in range(rows))
        table.setFixedHeight(height)

    def iou_values(self) -> dict[str, float | None]:
        """The per-class values shown in the table (for tests and export)."""
        result = {}
        for row in range(self.iou_table.rowCount() - 1):
            text = self.iou_table.item(row, 1).text()
            result[self.iou_table.item(row, 0).text()] = None if text == "n/a" else float(text)
        return result

    def _set_row(self, row: int, name: str, iou: float | None, dice: float | None) -> None:
        self.iou_table.setItem(row, 0, QTableWidgetItem(name))
        for column, value in ((1, iou), (2, dice)):
            item = QTableWidgetItem("n/a" if value is None else f"{value:.3f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if value is None:
                item.setToolTip("The class is absent from the validation labels and predictions")
            self.iou_table.setItem(row, column, item)


def _polyline(points: list[QPointF]) -> QPainterPath:
    path = QPainterPath()
    for index, point in enumerate(points):
        if index == 0:
            path.moveTo(point)
        else:
            path.lineTo(point)
    return path


def _smoothed(points: list[tuple[int, float]], weight: float = 0.9) -> list[tuple[int, float]]:
    """Exponential moving average (as TensorBoard draws it), debiased at the start."""
    result, average = [], 0.0
    for index, (step, value) in enumerate(points, start=1):
        average = weight * average + (1 - weight) * value
        result.append((step, average / (1 - weight**index)))
    return result


def _finite_or_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _mean(values) -> float | None:
    finite = [v for v in (_finite_or_none(x) for x in values) if v is not None]
    return sum(finite) / len(finite) if finite else None


def _fmt(value) -> str:
    value = _finite_or_none(value)
    return "n/a" if value is None else f"{value:.3f}"

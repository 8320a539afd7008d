"""Scene items that draw numpy-backed images: the picture, the labels, the prediction.

The picture layer keeps an (H, W) or (H, W, 3) uint8 array and a QImage sharing
its memory; the index layers keep only their index arrays and colour what they
paint. Painting draws only the exposed part of the image, and `refresh_region`
repaints only a changed rectangle, so an edit on an 8000 x 8000 mask costs as
much as on a small one. One scene unit is one image pixel; pixels are drawn
without smoothing so they stay crisp when zoomed in.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QStyleOptionGraphicsItem,
)

from segstudio.gui.rendering import array_qimage


class ArrayLayer(QGraphicsItem):
    def __init__(self, z: float):
        super().__init__()
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.pixels: np.ndarray | None = None
        self._qimage: QImage | None = None

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        """(H, W) gray, (H, W, 3) RGB or (H, W, 4) premultiplied RGBA uint8 pixels."""
        self.prepareGeometryChange()
        if pixels is None:
            self.pixels, self._qimage = None, None
        else:
            self.pixels = np.ascontiguousarray(pixels)
            self._qimage = array_qimage(self.pixels)
        self.update()

    def boundingRect(self) -> QRectF:
        if self.pixels is None:
            return QRectF()
        height, width = self.pixels.shape[:2]
        return QRectF(0, 0, width, height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        rect = _exposed_pixels(option, self.boundingRect())
        if self._qimage is None or rect is None:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(rect), self._qimage, QRectF(rect))


class IndexLayer(QGraphicsItem):
    """Shows a 2-D index array (labels, prediction, confidence) through a colour table.

    Colours are made when painting, for the exposed part only, and from every n-th
    pixel when zoomed out below 1:1 (as many as the screen shows): no full-size
    RGBA copy, which on an 8000 x 8000 image would take 256 MB per layer and a
    second to make. Colours are looked up as one uint32 per pixel (RGBA bytes packed).
    """

    def __init__(self, z: float):
        super().__init__()
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.indices: np.ndarray | None = None
        self.colors = np.zeros((256, 4), dtype=np.uint8)
        self._packed = np.zeros(256, dtype=np.uint32)

    def set_indices(self, indices: np.ndarray | None, colors: np.ndarray | None = None) -> None:
        """Show `indices` (kept by reference: changes appear after refresh_region)."""
        if colors is not None:
            self._set_table(colors)
        self.prepareGeometryChange()
        self.indices = None if indices is None else np.ascontiguousarray(indices)
        self.update()

    def set_colors(self, colors: np.ndarray) -> None:
        self._set_table(colors)
        self.update()

    def refresh_region(self, y0: int, x0: int, y1: int, x1: int) -> None:
        """Repaint the rectangle [y0:y1, x0:x1] after its indices changed."""
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    @property
    def pixels(self) -> np.ndarray | None:
        """The premultiplied RGBA (H, W, 4) the layer shows at 1:1 (made on request)."""
        if self.indices is None:
            return None
        return self.colored(self.indices)

    def colored(self, indices: np.ndarray) -> np.ndarray:
        return self._packed[indices].view(np.uint8).reshape(*indices.shape, 4)

    def boundingRect(self) -> QRectF:
        if self.indices is None:
            return QRectF()
        height, width = self.indices.shape
        return QRectF(0, 0, width, height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        bounds = self.boundingRect()
        rect = _exposed_pixels(option, bounds)
        if self.indices is None or rect is None:
            return
        # Screen pixels per image pixel (physical ones on high-DPI screens); below 1, every
        # step-th pixel is all that shows.
        transform = painter.worldTransform()
        scale = min(abs(transform.m11()), abs(transform.m22()))
        device = painter.device()
        scale *= device.devicePixelRatioF() if device is not None else 1.0
        step = max(1, int(1 / scale)) if scale > 0 else 1
        y0, x0 = rect.top() // step * step, rect.left() // step * step
        y1, x1 = rect.bottom() + 1, rect.right() + 1
        pixels = self.colored(self.indices[y0:y1:step, x0:x1:step])
        height, width = pixels.shape[:2]
        image = QImage(pixels.data, width, height, 4 * width,
                       QImage.Format.Format_RGBA8888_Premultiplied)
        painter.save()
        painter.setClipRect(bounds)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(x0, y0, width * step, height * step), image)
        painter.restore()

    def _set_table(self, colors: np.ndarray) -> None:
        self.colors = np.ascontiguousarray(colors, dtype=np.uint8)
        self._packed = self.colors.view(np.uint32).reshape(256)


def _exposed_pixels(option: QStyleOptionGraphicsItem, bounds: QRectF) -> QRect | None:
    """The whole image pixels around the part to paint (so that source and target
    rectangles agree), or None when nothing of the image is exposed."""
    exposed = option.exposedRect.intersected(bounds)
    if exposed.isEmpty():
        return None
    rect = exposed.toAlignedRect().intersected(bounds.toAlignedRect())
    return None if rect.isEmpty() else rect


def _cosmetic_pen(color: QColor, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(color, width, style)
    pen.setCosmetic(True)  # the same screen width at any zoom
    return pen


def _paint_two_tone(item, painter: QPainter, light: QPen, draw) -> None:
    """Draw the item's shape with its dark pen, then again with the light one on top."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(item.pen())
    draw(painter)
    painter.setPen(light)
    draw(painter)


class TwoToneEllipse(QGraphicsEllipseItem):
    """A light line on a dark one: visible on bright and dark images alike."""

    def __init__(self):
        super().__init__()
        self.setPen(_cosmetic_pen(QColor(0, 0, 0, 190), 3))

    def paint(self, painter: QPainter, option, widget=None) -> None:
        _paint_two_tone(self, painter, _cosmetic_pen(QColor(255, 255, 255), 1.2),
                        lambda p: p.drawEllipse(self.rect()))


class TwoTonePath(QGraphicsPathItem):
    """A dashed light line on a dark one, for outlines being drawn."""

    def __init__(self):
        super().__init__()
        self.setPen(_cosmetic_pen(QColor(0, 0, 0, 190), 3))

    def paint(self, painter: QPainter, option, widget=None) -> None:
        light = _cosmetic_pen(QColor(255, 255, 255), 1.2, Qt.PenStyle.DashLine)
        _paint_two_tone(self, painter, light, lambda p: p.drawPath(self.path()))

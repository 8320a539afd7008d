"""The image view: the picture with label and prediction overlays, zoom, pan and the active tool.

One scene unit is one image pixel (pixel (row r, column c) covers [c, c + 1) x
[r, r + 1)), the same convention as segstudio.core.edits, so mouse positions
map to edit coordinates through the view's transform alone.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QCursor,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsScene,
    QGraphicsView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from segstudio.core.classes import LabelClass
from segstudio.gui.layers import ArrayLayer, IndexLayer, TwoToneEllipse
from segstudio.gui.rendering import confidence_colors, highlight_color, label_colors
from segstudio.gui.spin_typing import being_typed_in

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
MIN_FIT_ACROSS_PX = 64  # the least width (or height) on screen a fitted image shows
WHEEL_STEP = 1.25
TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit)
# Keys that do not end a stroke: modifiers, Space (pan) and Escape (the tool's: a lasso
# being dragged is dropped).
TOOL_KEYS = {Qt.Key.Key_Control, Qt.Key.Key_Shift, Qt.Key.Key_Alt, Qt.Key.Key_Meta,
             Qt.Key.Key_Space, Qt.Key.Key_Escape}


class Canvas(QGraphicsView):
    cursorMoved = Signal(object)  # QPointF in image pixels, or None when outside the image
    zoomChanged = Signal(float)
    viewChanged = Signal()  # zoomed or panned: another part of the image may show

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(40, 40, 44)))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setMouseTracking(True)
        # Pan with space-drag or the middle button; the scroll bars only hold the position.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.horizontalScrollBar().valueChanged.connect(self.viewChanged)
        self.verticalScrollBar().valueChanged.connect(self.viewChanged)
        self.zoomChanged.connect(self.viewChanged)
        self.zoomChanged.connect(self._follow_cursor)  # zoomed by a key: the mouse stayed
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)

        self.image_layer = ArrayLayer(z=0)
        self.prediction_layer = IndexLayer(z=1)
        self.uncertainty_layer = IndexLayer(z=2)
        self.label_layer = IndexLayer(z=3)
        for layer in (self.image_layer, self.prediction_layer, self.uncertainty_layer,
                      self.label_layer):
            self.scene().addItem(layer)
        self.label_layer.setOpacity(0.5)
        self.prediction_layer.setOpacity(0.4)

        self.brush_outline = TwoToneEllipse()
        self.brush_outline.setZValue(10)
        self.brush_outline.setVisible(False)
        self.scene().addItem(self.brush_outline)
        self._brush_radius: float | None = None

        self.tool = None
        self._classes: list[LabelClass] = []
        self.set_classes([])
        self._space_down = False
        self._pan_from: QPoint | None = None
        self._pan_button = Qt.MouseButton.NoButton  # the button whose release ends the pan
        self._tool_pressed = False
        self._last_scene_pos = QPointF()

    # ------------------------------------------------------------------ content

    def set_image(self, pixels: np.ndarray | None) -> None:
        """Show uint8 display pixels, (H, W) gray or (H, W, 3) RGB (see rendering.to_display)."""
        size_changed = pixels is None or self.image_layer.pixels is None or (
            pixels.shape[:2] != self.image_layer.pixels.shape[:2]
        )
        self.image_layer.set_pixels(pixels)
        if size_changed:
            rect = QRectF() if pixels is None else QRectF(0, 0, pixels.shape[1], pixels.shape[0])
            margin = 0 if pixels is None else max(rect.width(), rect.height()) * 0.5
            self.scene().setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
            self.set_prediction(None)
            self.set_uncertainty(None)

    def set_classes(self, classes: list[LabelClass]) -> None:
        self._classes = list(classes)
        self.label_layer.set_colors(label_colors(self._classes))
        self.prediction_layer.set_colors(label_colors(self._classes))
        self.uncertainty_color = highlight_color(self._classes)
        self.uncertainty_layer.set_colors(confidence_colors(self.uncertainty_color))

    def set_labels(self, mask: np.ndarray | None) -> None:
        """Show `mask` (kept by reference: edits to it appear after refresh_labels)."""
        self.label_layer.set_indices(mask)

    def refresh_labels(self, bbox: tuple[int, int, int, int]) -> None:
        """Re-render the label overlay in bbox (y0, x0, y1, x1) only."""
        self.label_layer.refresh_region(*bbox)

    def set_labels_visible(self, visible: bool) -> None:
        self.label_layer.setVisible(visible)

    def set_labels_opacity(self, opacity: float) -> None:
        self.label_layer.setOpacity(min(max(opacity, 0.0), 1.0))

    def set_prediction(self, labels: np.ndarray | None) -> None:
        """Show a predicted class map in the class colours; None clears it."""
        self.prediction_layer.set_indices(self._checked(labels, np.uint8))

    def set_prediction_visible(self, visible: bool) -> None:
        self.prediction_layer.setVisible(visible)
        self.uncertainty_layer.setVisible(visible)

    def set_prediction_opacity(self, opacity: float) -> None:
        self.prediction_layer.setOpacity(min(max(opacity, 0.0), 1.0))

    def set_uncertainty(self, confidence: np.ndarray | None) -> None:
        """Highlight pixels whose confidence (0..1, or uint8 0..255) is low; None clears it."""
        if confidence is not None and confidence.dtype != np.uint8:
            confidence = np.clip(np.nan_to_num(confidence) * 255 + 0.5, 0, 255).astype(np.uint8)
        self.uncertainty_layer.set_indices(self._checked(confidence, np.uint8))

    def _checked(self, array: np.ndarray | None, dtype) -> np.ndarray | None:
        if array is None:
            return None
        image = self.image_layer.pixels
        if image is None or array.shape != image.shape[:2]:
            shape = None if image is None else image.shape[:2]
            raise ValueError(f"overlay of shape {array.shape} does not match the image {shape}")
        return np.ascontiguousarray(array, dtype=dtype)

    @property
    def stroke_in_progress(self) -> bool:
        """True while the mouse button is held down with a painting tool."""
        return self._tool_pressed

    def end_stroke(self) -> None:
        """Finish the stroke in progress where it is, as if the button were released there;
        the rest of the drag paints nothing."""
        if self._tool_pressed:
            self._tool_pressed = False
            if self.tool:
                self.tool.release(self._last_scene_pos)

    def has_image(self) -> bool:
        return self.image_layer.pixels is not None

    # ------------------------------------------------------------------ zoom and pan

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        factor = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM) / self.zoom
        self._give_room(self.zoom * factor)
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        else:
            # Keep the scene point under `anchor` where it is.
            before = self.mapToScene(anchor)
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            self.scale(factor, factor)
            after = self.mapToScene(anchor)
            self.translate(after.x() - before.x(), after.y() - before.y())
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.zoomChanged.emit(self.zoom)

    def fit_to_window(self) -> None:
        """The whole image in view; a long thin strip (a line scan, a kymograph) that would
        show thinner than MIN_FIT_ACROSS_PX is shown that wide instead, from its start."""
        if self.image_layer.pixels is None:
            return
        image = self.image_layer.boundingRect()
        self.fitInView(image, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_by(1.0)  # back within MIN_ZOOM..MAX_ZOOM (a 1-pixel image fits at x600)
        self.centerOn(image.center())
        height, width = self.image_layer.pixels.shape[:2]
        across = min(height, width)
        if across * self.zoom < MIN_FIT_ACROSS_PX:
            self.zoom_by(MIN_FIT_ACROSS_PX / (across * self.zoom))
            view = self.mapToScene(self.viewport().rect()).boundingRect()
            start = (QPointF(width / 2, view.height() / 2) if height > width
                     else QPointF(view.width() / 2, height / 2))
            self.centerOn(start)

    def _give_room(self, zoom: float) -> None:
        """A scene reaching a viewport's width and height beyond the image at this zoom:
        a view larger than its scene is centred by Qt, which moved the point under the
        mouse when zooming out, or in from there."""
        pixels = self.image_layer.pixels
        if pixels is None:
            return
        height, width = pixels.shape[:2]
        margin_x = max(width * 0.5, self.viewport().width() / zoom)
        margin_y = max(height * 0.5, self.viewport().height() / zoom)
        wanted = QRectF(-margin_x, -margin_y, width + 2 * margin_x, height + 2 * margin_y)
        if not self.sceneRect().contains(wanted):
            self.scene().setSceneRect(self.sceneRect().united(wanted))

    def zoom_actual_size(self) -> None:
        center = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(center)
        self.zoomChanged.emit(self.zoom)

    def visible_region(self) -> tuple[int, int, int, int] | None:
        """(y0, x0, y1, x1): the image pixels the viewport shows, or None without an image."""
        if self.image_layer.pixels is None:
            return None
        height, width = self.image_layer.pixels.shape[:2]
        rect = self.mapToScene(self.viewport().rect()).boundingRect()
        y0, x0 = max(0, int(rect.top())), max(0, int(rect.left()))
        y1, x1 = min(height, int(rect.bottom()) + 1), min(width, int(rect.right()) + 1)
        if y0 >= y1 or x0 >= x1:
            return None
        return y0, x0, y1, x1

    def image_to_view(self, x: float, y: float) -> QPoint:
        """The viewport position of image point (x, y) (for tests and tools)."""
        return self.mapFromScene(QPointF(x, y))

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(WHEEL_STEP**steps, event.position().toPoint())
        event.accept()

    # ------------------------------------------------------------------ brush outline

    def set_brush_radius(self, radius: float | None) -> None:
        """Show a circle of the brush's real size (image pixels) at the cursor; None hides it."""
        self._brush_radius = radius
        if radius is None:
            self.brush_outline.setVisible(False)
            return
        self.brush_outline.setRect(QRectF(-radius, -radius, 2 * radius, 2 * radius))
        cursor = self.mapToScene(self.viewport().mapFromGlobal(self.cursor().pos()))
        self._move_outline(cursor)

    def _move_outline(self, scene_pos: QPointF) -> None:
        if self._brush_radius is None:
            return
        self.brush_outline.setPos(scene_pos)
        self.brush_outline.setVisible(self.has_image() and self.underMouse() or self._tool_pressed)

    # ------------------------------------------------------------------ mouse and keys

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space_down
        ):
            self.end_stroke()  # the middle button pressed mid-stroke: the stroke so far
            self._pan_from, self._pan_button = event.position().toPoint(), event.button()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool and self.has_image():
            self._tool_pressed = True
            self._last_scene_pos = self.mapToScene(event.position().toPoint())
            self.tool.press(self._last_scene_pos)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._take_keys()
        point = event.position().toPoint()
        scene_pos = self.mapToScene(point)
        if self._pan_from is not None:
            delta = point - self._pan_from
            self._pan_from = point
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif self.tool and self.has_image():
            if self._tool_pressed and not event.buttons() & Qt.MouseButton.LeftButton:
                self.end_stroke()  # its release went elsewhere: hovering must not paint
            self._last_scene_pos = scene_pos
            self.tool.move(scene_pos, self._tool_pressed)
        self._move_outline(scene_pos)
        self.cursorMoved.emit(scene_pos if self._inside(scene_pos) else None)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() == self._pan_button:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.CrossCursor
            )
        elif event.button() == Qt.MouseButton.LeftButton and self._tool_pressed:
            self._tool_pressed = False
            if self.tool:
                self.tool.release(self.mapToScene(event.position().toPoint()))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.tool and self.has_image():
            self.tool.double_click(self.mapToScene(event.position().toPoint()))
        event.accept()

    def enterEvent(self, event) -> None:
        self._take_keys()
        super().enterEvent(event)

    def _take_keys(self) -> None:
        # Keys follow the mouse onto the canvas (Space to pan, Enter to close a polygon),
        # unless a text field is being typed in, or a spin box (then once the typing pauses:
        # the mouse crossing the canvas while "32" is typed must not take the "2").
        focus = QApplication.focusWidget()
        if focus is not self and not (isinstance(focus, TEXT_INPUTS) or being_typed_in(focus)):
            self.setFocus(Qt.FocusReason.MouseFocusReason)

    def focusOutEvent(self, event) -> None:
        # Space released elsewhere (another widget, another window) is never seen here.
        self._space_down = False
        if self._pan_from is None:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        super().focusOutEvent(event)

    def _follow_cursor(self) -> None:
        """The outline and the position shown follow the image point now under the mouse."""
        if self.underMouse():
            scene_pos = self.mapToScene(self.viewport().mapFromGlobal(QCursor.pos()))
            self._move_outline(scene_pos)
            self.cursorMoved.emit(scene_pos if self._inside(scene_pos) else None)

    def leaveEvent(self, event) -> None:
        self.brush_outline.setVisible(False)
        self.cursorMoved.emit(None)
        super().leaveEvent(event)

    def event(self, event) -> bool:
        # A shortcut pressed mid-stroke (undo, save, another tool...) acts on the stroke
        # painted so far, as one undo step, never on a half-recorded one.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() not in TOOL_KEYS:
            if event.matches(QKeySequence.StandardKey.Undo) and self.tool and self.tool.drawing:
                event.accept()  # to keyPressEvent: the outline drawn loses its last point
                return True
            self.end_stroke()
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if self.tool and self.tool.key_press(event.key()):
            event.accept()
            return
        if event.matches(QKeySequence.StandardKey.Undo) and self.tool and self.tool.drawing:
            self.tool.key_press(Qt.Key.Key_Backspace)  # as labelme and CVAT do
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if self._pan_button == Qt.MouseButton.LeftButton:
                self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            return
        super().keyReleaseEvent(event)

    def _inside(self, pos: QPointF) -> bool:
        pixels = self.image_layer.pixels
        return pixels is not None and 0 <= pos.x() < pixels.shape[1] and 0 <= pos.y() < pixels.shape[0]

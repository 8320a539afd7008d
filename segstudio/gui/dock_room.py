"""Heights in the right-hand dock column: the Classes list a few rows, the Training panel
what its settings need, Metrics (tabbed with Prediction) the rest.

Qt keeps dock heights as they were saved or as a resize shared them out, which squeezed
the Training settings into a scrolling sliver: after a restart at another window or screen
size, a re-docked Training panel, or a shorter window. So the room is given again at every
start, when the Training dock is docked again, when its finer settings fold in or out, and
after a resize that left it shorter than it needs.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget

CLASSES_DOCK_HEIGHT = 170  # a list of a few classes and its buttons
MIN_METRICS_HEIGHT = 120  # the Metrics dock's first lines
RESIZE_SETTLE_MS = 150  # a resize by dragging sends many events: act once it pauses


class DockRoom(QObject):
    def __init__(self, window, training_dock: QDockWidget, metrics_dock: QDockWidget):
        super().__init__(window)
        self.window, self.training_dock, self.metrics_dock = window, training_dock, metrics_dock
        self._after_resize = QTimer(self)
        self._after_resize.setSingleShot(True)
        self._after_resize.setInterval(RESIZE_SETTLE_MS)
        self._after_resize.timeout.connect(self._unsqueeze_training)
        window.installEventFilter(self)
        training_dock.topLevelChanged.connect(
            lambda floating: floating or QTimer.singleShot(0, self.give))

    def give(self) -> None:
        """Set the column's heights; nothing when a dock of it floats or is hidden."""
        classes = self.window.findChild(QDockWidget, "dock_classes")
        docks = [classes, self.training_dock, self.metrics_dock]
        if classes is None or any(dock.isFloating() or not dock.isVisible() for dock in docks):
            return
        total = sum(dock.height() for dock in docks)
        training = min(self.training_dock.sizeHint().height(),
                       total - CLASSES_DOCK_HEIGHT - MIN_METRICS_HEIGHT)
        if training > 0:  # else as Qt shares it out
            heights = [CLASSES_DOCK_HEIGHT, training, total - CLASSES_DOCK_HEIGHT - training]
            self.window.resizeDocks(docks, heights, Qt.Orientation.Vertical)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Resize:
            self._after_resize.start()
        return False

    def _unsqueeze_training(self) -> None:
        dock = self.training_dock
        if dock.isVisible() and not dock.isFloating() and \
                dock.height() < dock.sizeHint().height():
            self.give()

"""Heights in the right-hand dock column: the Classes list a row per class (three to
seven rows, at most a third of the column), the Training panel what its settings need,
Metrics (tabbed with Prediction) the rest.

Qt keeps dock heights as they were saved or as a resize shared them out, which squeezed
the Training settings into a scrolling sliver: after a restart at another window or screen
size, a re-docked Training panel, or a shorter window; a taller window gave its height to
the blank below the settings. So the room is given again at every start, after a resize,
when the Training dock is docked again, when its finer settings fold in or out and when
the number of classes changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget

CLASS_ROWS = (3, 7)  # the fewest and most rows the Classes list is given room for
MIN_CLASSES_HEIGHT = 130  # two rows of the list, its buttons
MIN_METRICS_HEIGHT = 120  # the Metrics dock's first lines
RESIZE_SETTLE_MS = 150  # a resize by dragging sends many events: act once it pauses


class DockRoom(QObject):
    def __init__(self, window, training_dock: QDockWidget, metrics_dock: QDockWidget):
        super().__init__(window)
        self.window, self.training_dock, self.metrics_dock = window, training_dock, metrics_dock
        self._after_resize = QTimer(self)
        self._after_resize.setSingleShot(True)
        self._after_resize.setInterval(RESIZE_SETTLE_MS)
        self._after_resize.timeout.connect(self.give)
        window.installEventFilter(self)
        training_dock.topLevelChanged.connect(
            lambda floating: floating or QTimer.singleShot(0, self.give))
        self._class_count = None
        window.projectChanged.connect(self._classes_may_have_changed)

    def give(self) -> None:
        """Set the column's heights; nothing when a dock of it floats or is hidden. Short of
        room, the class list gives some up before the settings have to scroll."""
        classes = self.window.findChild(QDockWidget, "dock_classes")
        docks = [classes, self.training_dock, self.metrics_dock]
        if classes is None or any(dock.isFloating() or not dock.isVisible() for dock in docks):
            return
        total = sum(dock.height() for dock in docks)
        wanted = self.training_dock.sizeHint().height()
        classes_height = max(MIN_CLASSES_HEIGHT, min(self._classes_wanted(classes), total // 3,
                                                     total - wanted - MIN_METRICS_HEIGHT))
        training = min(wanted, total - classes_height - MIN_METRICS_HEIGHT)
        if training > 0:  # else as Qt shares it out
            heights = [classes_height, training, total - classes_height - training]
            self.window.resizeDocks(docks, heights, Qt.Orientation.Vertical)

    def _classes_wanted(self, classes: QDockWidget) -> int:
        """The Classes dock's height with a row in its list per class (within CLASS_ROWS)."""
        class_list = self.window.classes_panel.list
        self._class_count = class_list.count()
        rows = min(max(self._class_count, CLASS_ROWS[0]), CLASS_ROWS[1])
        row_height = class_list.sizeHintForRow(0) if self._class_count else 0
        if row_height <= 0:
            row_height = class_list.fontMetrics().height() + 4
        return classes.height() - class_list.viewport().height() + rows * row_height

    def _classes_may_have_changed(self, _project) -> None:
        if self.window.classes_panel.list.count() != self._class_count:
            QTimer.singleShot(0, self.give)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Resize:
            self._after_resize.start()
        return False

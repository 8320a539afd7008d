"""Spin boxes and the window's keys: a number being typed keeps its keys, and a spin box
done with gives the window its keys back.

A spin box is "edited" from a key that edits its text until Enter, Escape, Tab or the
focus leaving it; while edited, Ctrl+Z and Ctrl+Shift+Z undo its text, else the labels
(as the Edit menu says: a box only clicked, its arrows say, kept them). It is "being
typed in" for TYPING_PAUSE_S after such a key: meanwhile the canvas does not take the
keyboard when the mouse crosses it (the rest of "32" went to the canvas as class 2);
after the pause it does, a value typed being taken as it is typed.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

TYPING_PAUSE_S = 1.0
LAST_EDIT = "segstudio_last_edit"  # a spin box's dynamic property: time of its last edit key
ENDING_KEYS = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Tab,
               Qt.Key.Key_Backtab}
EDITING_KEYS = {Qt.Key.Key_Backspace, Qt.Key.Key_Delete}
COMMAND = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
           | Qt.KeyboardModifier.MetaModifier)


def _last_edit(widget: QWidget | None) -> float:
    return float((widget.property(LAST_EDIT) if widget is not None else None) or 0.0)


def being_typed_in(widget: QWidget | None) -> bool:
    return time.monotonic() - _last_edit(widget) < TYPING_PAUSE_S


class SpinTyping(QObject):
    def watch(self, root: QWidget) -> None:
        """Follow every spin box under `root`."""
        for box in root.findChildren(QAbstractSpinBox):
            box.installEventFilter(self)

    def eventFilter(self, box, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress:
            if event.key() in ENDING_KEYS:
                box.setProperty(LAST_EDIT, 0.0)
            elif event.key() in EDITING_KEYS or (event.text() and event.text().isprintable()
                                                 and not event.modifiers() & COMMAND):
                box.setProperty(LAST_EDIT, time.monotonic())
        elif kind == QEvent.Type.FocusOut:
            box.setProperty(LAST_EDIT, 0.0)
        elif kind == QEvent.Type.ShortcutOverride and not _last_edit(box) and (
                event.matches(QKeySequence.StandardKey.Undo)
                or event.matches(QKeySequence.StandardKey.Redo)):
            event.ignore()  # not the box's to take: the window's shortcut has it
            return True
        return False

"""Starting the window: `run_app` for the `segstudio` command, `create_main_window` for tests."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from importlib.resources import files

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from segstudio.gui.main_window import MainWindow
from segstudio.gui.settings import APPLICATION, ORGANIZATION

SIGNAL_CHECK_MS = 250  # how soon SIGTERM or SIGHUP is acted on


def ensure_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("segstudio")
    resources = files("segstudio.resources")
    style = resources.joinpath("style.qss")
    if style.is_file() and not app.styleSheet():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    icon = resources.joinpath("icons", "app.svg")
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def create_main_window(path: str | os.PathLike | None = None, demo: bool = False) -> MainWindow:
    """A window (not shown) with the demo, a project, or nothing open.

    A folder of images without a project asks where to create one, once the
    event loop runs (so the caller is not blocked by the dialog).
    """
    ensure_application()
    window = MainWindow()
    if demo:
        window.open_demo()
    elif path is not None:
        if (os.path.isdir(path) and os.path.isfile(os.path.join(path, "project.json"))):
            window.open_project(path)
        else:
            QTimer.singleShot(0, lambda: window.open_path(path))
    return window


def run_app(path: str | os.PathLike | None = None, demo: bool = False) -> int:
    app = ensure_application()
    window = create_main_window(path, demo)
    _report_unexpected_errors(window)
    _close_when_terminated(window)
    window.show()
    return app.exec()


def _close_when_terminated(window) -> None:
    """SIGTERM (kill, a logout or shutdown) and SIGHUP (its terminal closed) close the
    window as its close button does, the labels saved first: they were lost as in a crash
    (the last seconds of painting)."""
    def close(signum, _frame):
        signal.signal(signum, signal.SIG_DFL)  # asked twice (a close that waits): it ends
        QTimer.singleShot(0, window.close)

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        # Ignored (started with nohup): it stays ignored.
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, close)
    # Python runs a signal's handler between two Python steps: wake it now and then.
    waker = QTimer(window)
    waker.timeout.connect(lambda: None)
    waker.start(SIGNAL_CHECK_MS)


def _report_unexpected_errors(window) -> None:
    """A bug in a slot must not take the labels down with it: show it, keep running."""

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        if issubclass(kind, KeyboardInterrupt):
            QApplication.instance().quit()
            return
        try:
            window.show_error("Unexpected error",
                              f"{kind.__name__}: {value}\n\nDetails are in the terminal. "
                              "Your labels are kept; please report this.")
        except RuntimeError:  # the window is gone
            pass

    sys.excepthook = hook

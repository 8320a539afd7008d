"""Painting cost on a huge image vs a small one, through the real window.

Opens a project with an 8000 x 8000 and a 512 x 512 image, shows each at 1:1
zoom and paints the same scripted brush stroke (mouse press, moves, release)
with real mouse events on the canvas, letting the window repaint after every
move. Prints the time per mouse move for both and their ratio: since an edit
re-renders only its bounding box, the ratio should be close to 1.

    python benchmarks/canvas_paint.py [--moves 200] [--big 8000]

Timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import tifffile  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segstudio.core.classes import default_classes  # noqa: E402
from segstudio.core.project import Project  # noqa: E402


def send_mouse(viewport, kind, pos, buttons) -> None:
    button = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def time_stroke(window, app, entry, moves: int) -> list[float]:
    window.show_entry(entry)
    canvas = window.canvas
    canvas.zoom_actual_size()
    height, width = window.current_mask().shape
    cy, cx = height / 2, width / 2
    canvas.centerOn(cx, cy)
    app.processEvents()
    viewport = canvas.viewport()
    points = [(cx - 150 + 300 * i / moves, cy + 60 * np.sin(i / 12)) for i in range(moves + 1)]
    held = Qt.MouseButton.LeftButton
    send_mouse(viewport, QMouseEvent.Type.MouseButtonPress, canvas.image_to_view(*points[0]), held)
    app.processEvents()
    times = []
    for x, y in points[1:]:
        start = time.perf_counter()
        send_mouse(viewport, QMouseEvent.Type.MouseMove, canvas.image_to_view(x, y), held)
        app.processEvents()  # paint the changed region now, as the screen would, and time it
        times.append(time.perf_counter() - start)
    release_start = time.perf_counter()
    send_mouse(viewport, QMouseEvent.Type.MouseButtonRelease, canvas.image_to_view(*points[-1]),
               Qt.MouseButton.NoButton)
    app.processEvents()
    times.append(time.perf_counter() - release_start)  # the stroke's one undo step
    assert window.current_document().undo_stack.index() >= 1
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--big", type=int, default=8000)
    args = parser.parse_args()
    os.environ.setdefault("SEGSTUDIO_SETTINGS_DIR", tempfile.mkdtemp(prefix="segstudio-bench-"))
    from segstudio.gui.app import create_main_window

    with tempfile.TemporaryDirectory(prefix="segstudio-bench-") as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(0)
        tifffile.imwrite(folder / "big.tif", rng.integers(0, 255, (args.big, args.big), np.uint8))
        tifffile.imwrite(folder / "small.tif", rng.integers(0, 255, (512, 512), np.uint8))
        project = Project.create(folder / "project", [folder / "small.tif", folder / "big.tif"],
                                 default_classes(["a", "b"]))
        window = create_main_window(project.root)
        window.resize(1200, 800)
        window.show()
        app = QApplication.instance()
        app.processEvents()
        entries = {e.name: e for e in window.project.images}
        time_stroke(window, app, entries["small.tif"], args.moves)  # warm-up, not counted
        window.undo_group.undo()
        results = {}
        for name in ("small.tif", "big.tif"):
            started = time.perf_counter()
            window.show_entry(entries[name])
            opened = time.perf_counter() - started
            times = time_stroke(window, app, entries[name], args.moves)
            moves, release = times[:-1], times[-1]
            results[name] = statistics.median(moves)
            print(f"{name:10s} {window.current_mask().shape[1]}x{window.current_mask().shape[0]}: "
                  f"open {opened * 1000:7.1f} ms, per move median "
                  f"{statistics.median(moves) * 1000:6.2f} ms, p95 "
                  f"{np.percentile(moves, 95) * 1000:6.2f} ms, stroke end (undo step) "
                  f"{release * 1000:6.2f} ms")
        print(f"ratio big / small per move: {results['big.tif'] / results['small.tif']:.2f}")
        window.save_labels()
        window.close()


if __name__ == "__main__":
    main()

"""The window with a huge image: memory, event-loop lateness while training, closing.

Makes a project of an 8000 x 8000 EM mosaic (8-bit gray, its top tenth labelled by a
threshold) and a 512 x 512 validation image, opens it in the window, trains on the
CPU for a while with the live prediction of the huge image on screen, then closes
the window while that prediction may still run. Prints the process's memory growth
(opening, and at its peak), how late a 5 ms timer fired (p50 / p99 / max, with what
the window did just before each late tick), when overlays appeared, and how long
closing took.

    python benchmarks/gui_large_image.py [--size 8000] [--seconds 45] [--rgb] [--actual-size]

With --actual-size the view is at 1:1 (a part of the image on screen, as when
painting) rather than fitted to the window.

Timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import tifffile  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gui_responsiveness import EventLog, LatenessProbe, describe, run_for  # noqa: E402
from predict_large import MIB, mosaic, peak_rss_bytes, reset_peak_rss  # noqa: E402

from segstudio.core.classes import UNLABELLED, default_classes  # noqa: E402
from segstudio.core.project import Project  # noqa: E402


def make_project(folder: Path, size: int, rgb: bool) -> tuple[Project, int]:
    gray = mosaic(size)[:, :, 0]
    image = np.stack([gray, gray // 2 + 60, 255 - gray], -1) if rgb else gray
    tifffile.imwrite(folder / "huge.tif", image)
    tifffile.imwrite(folder / "small.tif", image[:512, :512])
    project = Project.create(folder / "project", [folder / "huge.tif", folder / "small.tif"],
                             default_classes(["dark", "bright"]))
    labels = np.full(gray.shape, UNLABELLED, np.uint8)
    labels[: size // 10] = gray[: size // 10] > 128
    project.save_labels(project.images[0], labels)
    project.save_labels(project.images[1], (gray[:512, :512] > 128).astype(np.uint8))
    project.set_split(project.images[1], "val")
    project.set_setting("training", {"limit": "time", "time_budget": 600, "device": "cpu",
                                     "continue_training": False})
    return project, image.nbytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=8000, help="side of the huge image")
    parser.add_argument("--seconds", type=float, default=45.0, help="training time measured")
    parser.add_argument("--rgb", action="store_true", help="a 3-channel image instead of gray")
    parser.add_argument("--actual-size", action="store_true", help="view at 1:1, not fitted")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from segstudio.gui.app import create_main_window

    with tempfile.TemporaryDirectory() as tmp:
        project, image_bytes = make_project(Path(tmp), args.size, args.rgb)
        print(f"{args.size}x{args.size} {'RGB' if args.rgb else 'gray'} image, "
              f"{image_bytes / MIB:.0f} MiB as stored; {os.cpu_count()} cores")
        rss_before = reset_peak_rss()
        started = time.perf_counter()
        window = create_main_window(path=str(project.root))
        window.resize(1300, 850)
        window.show()
        run_for(1.0)
        growth = peak_rss_bytes() - rss_before
        print(f"opening: {time.perf_counter() - started:.1f} s (1 s of it waiting), memory "
              f"growth {growth / MIB:.0f} MiB = {growth / image_bytes:.1f} x the image")

        if args.actual_size:
            window.canvas.zoom_actual_size()
        training, probe = window.training, LatenessProbe()
        shown: list[tuple[float, bool]] = []  # when, and whether of the whole image
        training.live.predictionShown.connect(
            lambda *_: shown.append((time.perf_counter(),
                                getattr(training.live.shown[1], "complete", True))))
        probe.start()
        training.start()
        events = EventLog(window, training, probe.clock)
        began = time.perf_counter()
        run_for(args.seconds)
        probe.stop()
        print(describe("lateness while training", probe.samples))
        events.explain(probe, threshold_ms=50)
        print("overlays shown at (s): " + (", ".join(
            f"{t - began:.1f}{'' if whole else ' (part)'}" for t, whole in shown) or "none"))
        growth = peak_rss_bytes() - rss_before
        print(f"peak memory growth {growth / MIB:.0f} MiB = {growth / image_bytes:.1f} x the "
              f"image")
        started = time.perf_counter()
        window.close()
        print(f"closing (training and prediction stopped): "
              f"{time.perf_counter() - started:.2f} s")
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

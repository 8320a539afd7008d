"""How responsive the window stays while a U-Net trains on the CPU.

Opens a project of real ISBI 2012 slices (from ../shared/data, referenced, not
copied), starts a training from the Training dock and, meanwhile, paints a
scripted brush stroke on the canvas. A 5 ms QTimer probe records how late each
of its ticks fires: that is the delay any user input would see. Also measures
how long after a request (switching image) the live prediction overlay of a
512x512 image appears. Prints p50 / p99 / max.

    python benchmarks/gui_responsiveness.py [--seconds 20] [--switches 12] [--threads N]

Targets: event-loop lateness p99 < 16 ms and max < 50 ms; overlay < 150 ms.
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
from PySide6.QtCore import QElapsedTimer, QEvent, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from segstudio.core.classes import UNLABELLED, default_classes  # noqa: E402
from segstudio.core.images import load_image  # noqa: E402
from segstudio.core.project import Project  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "isbi2012"
PROBE_INTERVAL_MS = 5


class LatenessProbe:
    """A 5 ms timer; each tick records how much later than due it fired."""

    def __init__(self):
        self.samples: list[float] = []
        self.times: list[float] = []  # when each tick fired, ms on `clock`
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self._last = None

    def start(self):
        self.samples.clear()
        self.times.clear()
        if not self.clock.isValid():
            self.clock.start()
        self._last = self.clock.nsecsElapsed()
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def _tick(self):
        now = self.clock.nsecsElapsed()
        self.samples.append(max(0.0, (now - self._last) / 1e6 - PROBE_INTERVAL_MS))
        self.times.append(now / 1e6)
        self._last = now

    def late_ticks(self, threshold_ms: float) -> list[tuple[float, float]]:
        return [(t, s) for t, s in zip(self.times, self.samples, strict=True) if s > threshold_ms]


class ScriptedStroke:
    """Drags the brush across the canvas in circles, one mouse move every 16 ms."""

    def __init__(self, canvas):
        self.canvas = canvas
        self.viewport = canvas.viewport()
        self.step = 0
        self.timer = QTimer()
        self.timer.setInterval(16)
        self.timer.timeout.connect(self._move)

    def start(self):
        self._send(QEvent.Type.MouseButtonPress, self._position(), Qt.MouseButton.LeftButton)
        self.timer.start()

    def stop(self):
        self.timer.stop()
        self._send(QEvent.Type.MouseButtonRelease, self._position(), Qt.MouseButton.NoButton)

    def _position(self) -> QPointF:
        rect = self.viewport.rect()
        angle = self.step * 0.15
        radius = 0.3 * min(rect.width(), rect.height())
        return QPointF(rect.center().x() + radius * np.cos(angle),
                       rect.center().y() + radius * np.sin(angle))

    def _move(self):
        self.step += 1
        self._send(QEvent.Type.MouseMove, self._position(), Qt.MouseButton.LeftButton)

    def _send(self, kind, position: QPointF, buttons):
        event = QMouseEvent(kind, position, self.viewport.mapToGlobal(position),
                            Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(self.viewport, event)


class EventLog:
    """When the window got training reports, models, predictions and saves, to explain
    the probe's late ticks."""

    def __init__(self, window, training, clock: QElapsedTimer):
        self.clock, self.events = clock, []
        for signal, name in ((training.validated, "validation"),
                             (training.live.modelChanged, "new model"),
                             (training.live.predictionShown, "overlay shown"),
                             (window.labelsSaved, "labels autosaved")):
            signal.connect(lambda *_args, n=name: self.events.append((self._now(), n)))

    def _now(self) -> float:
        return self.clock.nsecsElapsed() / 1e6

    def explain(self, probe: LatenessProbe, threshold_ms: float) -> None:
        """Print each late tick with the events of the 300 ms before it."""
        for when, late in probe.late_ticks(threshold_ms):
            near = [name for t, name in self.events if when - 300 <= t <= when]
            print(f"    late by {late:5.1f} ms at {when / 1000:6.2f} s; just before: "
                  f"{', '.join(near) or 'nothing the window reported'}")


def make_project(folder: Path, count: int) -> Project:
    names = [f"{i:02d}" for i in range(count)]
    project = Project.create(folder, [DATA / "images" / f"{n}.png" for n in names],
                             default_classes(["membrane", "cell"]))
    for index, entry in enumerate(project.images):
        truth = load_image(DATA / "masks" / f"{names[index]}.png")[:, :, 0]
        labels = np.full(truth.shape, UNLABELLED, dtype=np.uint8)
        labels[:256] = (truth[:256] > 127).astype(np.uint8)
        project.save_labels(entry, labels)
    project.set_split(project.images[-1], "val")
    return project


def run_for(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.0005)


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        QApplication.processEvents()
        time.sleep(0.001)
    return False


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (f"{name}: n={len(values)}  p50 {p50:.1f} ms  p99 {p99:.1f} ms  "
            f"max {ordered[-1]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time while training")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for the training (default: the app's choice)")
    parser.add_argument("--switches", type=int, default=12, help="image switches to time")
    parser.add_argument("--crop", type=int, default=None, help="default: the window's")
    parser.add_argument("--batch", type=int, default=None, help="default: the window's")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"data not found: {DATA}", file=sys.stderr)
        return 2

    import segstudio.gui.training_controller as controller_module
    from segstudio.gui.app import create_main_window

    if args.threads:
        controller_module.training_threads = lambda: args.threads

    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "bench", 6)
        settings = {"limit": "time", "time_budget": int(args.seconds + 60), "device": "cpu",
                    "continue_training": False}
        if args.crop:
            settings["crop_size"] = args.crop
        if args.batch:
            settings["batch_size"] = args.batch
        project.set_setting("training", settings)
        window = create_main_window(path=str(project.root))
        window.show()
        training = window.training
        training.config_overrides = {"val_interval_s": 3.0}
        probe, stroke = LatenessProbe(), ScriptedStroke(window.canvas)
        chosen = training.panel.settings()
        print(f"cores: {os.cpu_count()}, training threads: "
              f"{controller_module.training_threads()}, crop {chosen['crop_size']}, "
              f"batch {chosen['batch_size']}, load average {os.getloadavg()[0]:.1f}")

        # The window warms torch up in the background right after start; measure after.
        run_for(1.5)
        warm_up = training.warm_up_thread
        wait_until(lambda: warm_up is None or warm_up.isFinished(), 60)
        probe.start()
        run_for(3.0)
        probe.stop()
        print(describe("idle event-loop lateness   ", probe.samples))

        training.start()
        if not wait_until(lambda: training.last_validation is not None, 120):
            print("training gave no validation in 120 s", file=sys.stderr)
        events = EventLog(window, training, probe.clock)
        steps_before = training.metrics.loss_curve.points[-1][0]
        probe.start()
        stroke.start()
        run_for(args.seconds)
        stroke.stop()
        probe.stop()
        print(describe("training + painting lateness", probe.samples))
        events.explain(probe, threshold_ms=30)
        points = training.metrics.loss_curve.points
        print(f"stroke moves sent: {stroke.step}; training at step "
              f"{points[-1][0] if points else 0} ({steps_before} when painting began)")

        # Switching images while training. Cold: the cache is emptied first, so every
        # overlay is a new prediction. Browsing: as a user sees it (cache, prefetching).
        entries = list(project.images)
        for mode in ("cold", "browsing"):
            switch, overlay, worker_only = [], [], []
            training.live.forget()
            probe.start()
            for round_index in range(args.switches):
                if mode == "cold":
                    training.live.forget()
                entry = entries[(round_index + 1) % len(entries)]
                training.live.last_latency_s = None
                requested = time.perf_counter()
                window.show_entry(entry)
                switch.append((time.perf_counter() - requested) * 1000)
                if wait_until(lambda e=entry: training.live.shown is not None
                              and training.live.shown[0] == e.id, 10):
                    overlay.append((time.perf_counter() - requested) * 1000)
                    if training.live.last_latency_s is not None:
                        worker_only.append(training.live.last_latency_s * 1000)
                run_for(0.5)
            probe.stop()
            print(f"switching images, {mode}:")
            print(describe("  show_entry (load + display)", switch))
            print(describe("  image switch to overlay    ", overlay))
            print(describe("  request to overlay (worker)", worker_only))
            print(describe("  event-loop lateness        ", probe.samples))
        stop_at = time.monotonic()
        training.stop()
        wait_until(lambda: not training.running, 10)
        print(f"stop took {1000 * (time.monotonic() - stop_at):.0f} ms")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

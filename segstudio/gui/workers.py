"""Background workers: QObjects moved to their own QThread, talking to the GUI by signals.

- TrainingWorker drives the engine's training iterator and turns its reports
  into signals. It is stopped by a thread-safe flag checked between steps.
- PredictionWorker predicts one image at a time and keeps at most one pending
  request: a newer request replaces an older one that has not started (as in
  Qt's Mandelbrot example), so only the newest image on screen is predicted.
- TaskWorker runs one long function (export, predicting a folder) with
  progress and cancel.

`start_worker` / `stop_thread` implement the one threading pattern used by all:
worker.moveToThread(thread), thread.started -> worker.run, on shutdown set the
stop flag, quit() and wait().
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from segstudio.core.errors import UserError, os_error_message

# Step reports arrive up to hundreds of times a second with small crops; the GUI
# needs a few a second. Validation and final reports are always sent.
STEP_SIGNAL_INTERVAL_S = 0.1
# How often a copy of the model is sent for live predictions between validations.
SNAPSHOT_INTERVAL_S = 5.0
# Longest the training waits for an urgent live prediction before going on.
MAX_PAUSE_S = 2.0
# The loss history kept for the saved model's metadata: thinned to at most this many points.
LOSS_HISTORY_POINTS = 200


def describe_error(exc: BaseException) -> str:
    """A message for the user: UserErrors as they are, known runtime failures explained."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError):  # a path that cannot be written or read: the user's to fix
        return os_error_message(exc)
    text = str(exc) or type(exc).__name__
    if "out of memory" in text.lower():
        return (
            f"The device ran out of memory ({text.splitlines()[0]}). "
            "Lower the batch size or crop size, or train on the CPU."
        )
    return f"{type(exc).__name__}: {text}"


def _print_if_bug(exc: BaseException) -> None:
    """A UserError or OSError is the user's to fix (shown as a message); anything else gets
    a traceback."""
    if not isinstance(exc, (UserError, OSError)):
        traceback.print_exception(exc)


class TrainingWorker(QObject):
    """Runs `make_trainer()` and iterates it on its thread, emitting one signal per report.

    `make_trainer` is called on the worker thread (building the data set can take a
    while) and returns the engine's Trainer: an iterable of reports with `stop()` and
    `snapshot()`. `on_done(trainer, done_report)` also runs on the worker thread once
    training ends (saving the model) and its result goes out with `finished`.

    `stop()` passes `final_validation_limit_s` on to the engine's stop(): the engine
    then skips the validation that ends a training if it would take longer, so that
    Stop takes effect within a step (and that validation) rather than seconds later.

    While `pause_while()` is true (a live prediction is running), the worker waits
    between steps (at most MAX_PAUSE_S), so the prediction gets the CPU cores.
    """

    progress = Signal(object)  # StepReport
    validated = Signal(object)  # ValReport
    snapshot = Signal(object)  # SavedModel, a CPU copy for live predictions
    finished = Signal(object, object)  # DoneReport, on_done's result
    failed = Signal(str)
    stopped_thread = Signal()  # emitted last, whatever happened: the thread may quit

    def __init__(
        self,
        make_trainer: Callable[[], Iterable],
        on_done: Callable[[object, object], object] | None = None,
        want_snapshots: bool = True,
        torch_threads: int | None = None,
        final_validation_limit_s: float | None = None,
        pause_while: Callable[[], bool] | None = None,
    ):
        super().__init__()
        self._make_trainer = make_trainer
        self._on_done = on_done
        self._final_validation_limit_s = final_validation_limit_s
        self._pause_while = pause_while
        self._want_snapshots = want_snapshots
        self._torch_threads = torch_threads
        self._lock = threading.Lock()
        self._stop_requested = False
        self._trainer = None
        self.stop_requested_at: float | None = None
        # (step, loss) of every step, thinned as it grows; read by on_done (same thread).
        self.loss_history: list[tuple[int, float]] = []
        self.result = None  # on_done's, also sent with `finished`: for a caller that stopped waiting

    def stop(self) -> None:
        """Ask the training to stop; safe from any thread, returns at once."""
        with self._lock:
            self._stop_requested = True
            if self.stop_requested_at is None:
                self.stop_requested_at = time.monotonic()
            if self._trainer is not None:
                self._stop_trainer(self._trainer)

    def _stop_trainer(self, trainer) -> None:
        trainer.stop(final_validation_limit_s=self._final_validation_limit_s)

    @property
    def stop_requested(self) -> bool:
        with self._lock:
            return self._stop_requested

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # any failure becomes a message, never a crash
            _print_if_bug(exc)
            self.failed.emit(describe_error(exc))
        finally:
            self.stopped_thread.emit()

    def _run(self) -> None:
        if self._torch_threads:
            import torch

            torch.set_num_threads(self._torch_threads)
        trainer = self._make_trainer()
        with self._lock:
            self._trainer = trainer
            if self._stop_requested:
                self._stop_trainer(trainer)
        last_snapshot = time.monotonic()
        last_step_signal = 0.0
        pending_step = None
        for report in trainer:
            kind = type(report).__name__
            now = time.monotonic()
            if kind == "StepReport":
                pending_step = report
                self._record_loss(report)
                if now - last_step_signal >= STEP_SIGNAL_INTERVAL_S:
                    self.progress.emit(report)
                    last_step_signal, pending_step = now, None
                if self._want_snapshots and now - last_snapshot >= SNAPSHOT_INTERVAL_S:
                    self._send_snapshot(trainer)
                    last_snapshot = time.monotonic()
            elif kind == "ValReport":
                if pending_step is not None:
                    self.progress.emit(pending_step)
                    pending_step = None
                self.validated.emit(report)
                if self._want_snapshots:
                    self._send_snapshot(trainer)
                    last_snapshot = time.monotonic()
            elif kind == "DoneReport":
                if pending_step is not None:
                    self.progress.emit(pending_step)
                self.result = self._on_done(trainer, report) if self._on_done else None
                with self._lock:
                    self._trainer = None  # let the data set and model go
                self.finished.emit(report, self.result)
                return
            self._pause()
        raise RuntimeError("training ended without a final report")

    def _record_loss(self, report) -> None:
        loss = getattr(report, "loss", None)
        if isinstance(loss, (int, float)) and math.isfinite(loss):
            self.loss_history.append((int(report.step), float(loss)))
            if len(self.loss_history) > 2 * LOSS_HISTORY_POINTS:
                self.loss_history = self.loss_history[::2]

    def compact_loss_history(self) -> list[list[float]]:
        """At most LOSS_HISTORY_POINTS [step, loss] pairs, evenly spread, the last one kept."""
        return compact_history(self.loss_history, LOSS_HISTORY_POINTS)

    def _pause(self) -> None:
        if self._pause_while is None:
            return
        until = time.monotonic() + MAX_PAUSE_S
        while self._pause_while() and not self.stop_requested and time.monotonic() < until:
            time.sleep(0.005)

    def _send_snapshot(self, trainer) -> None:
        if hasattr(trainer, "snapshot") and not self.stop_requested:
            saved = trainer.snapshot()
            if saved is not None:
                self.snapshot.emit(saved)


def compact_history(points, limit: int) -> list[list[float]]:
    """`points` thinned to at most `limit` [step, loss] pairs, first and last kept."""
    points = list(points)
    if len(points) > limit:
        last = len(points) - 1
        points = [points[round(i * last / (limit - 1))] for i in range(limit)]
    return [[int(step), round(float(loss), 6)] for step, loss in points]


class PredictionInterrupted(Exception):
    """Raised by a PredictionWorker job that gave way (see should_stop): no result, no message."""


class PredictionWorker(QObject):
    """Predicts the newest requested image; older requests not yet started are dropped.

    `request(key, predict)` may be called from the GUI thread at any rate: it
    stores the call as the single pending request and wakes the worker. The
    worker runs `predict()` (returning any result) and emits `ready(key, result)`.
    An urgent request (the user switched images) and `stop()` also interrupt the
    prediction under way, if it polls `should_stop` (a large image's can take
    seconds) and then raises PredictionInterrupted: it ends without a result or a
    message. A job may also emit `partial(key, anything)` along the way.
    """

    ready = Signal(object, object)  # key, result
    partial = Signal(object, object)  # key, part of a result (emitted by the job itself)
    failed = Signal(object, str)  # key, message
    _wake = Signal()

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._pending: tuple[object, Callable[[], object], bool] | None = None
        self.busy = threading.Event()  # set during urgent predictions: training gives way
        self._interrupt = threading.Event()
        self._wake.connect(self._process)
        self.dropped = 0  # requests replaced before they started (for tests and benchmarks)

    def request(self, key, predict: Callable[[], object], urgent: bool = False) -> None:
        """Replace any pending request. `busy` is set while an urgent one runs."""
        with self._lock:
            if self._pending is not None:
                self.dropped += 1
            self._pending = (key, predict, urgent)
            if urgent:  # set under the lock: taking the next job clears it under the same
                self._interrupt.set()
        self._wake.emit()  # queued: _process runs on the worker's thread

    def should_stop(self) -> bool:
        """For the prediction under way: True once it should give up."""
        return self._interrupt.is_set()

    def stop(self) -> None:
        """Drop the pending request and interrupt the one under way (on shutdown)."""
        with self._lock:
            self._pending = None
            self._interrupt.set()

    @property
    def has_pending(self) -> bool:
        with self._lock:
            return self._pending is not None

    def cancel_pending(self) -> None:
        with self._lock:
            if self._pending is not None:
                self.dropped += 1
            self._pending = None

    @Slot()
    def _process(self) -> None:
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is not None:
                    self._interrupt.clear()
            if job is None:
                return
            key, predict, urgent = job
            if urgent:
                self.busy.set()
            try:
                result = predict()
            except PredictionInterrupted:
                continue  # gave way on purpose: nothing to show
            except Exception as exc:  # shown as a message; the worker goes on
                _print_if_bug(exc)
                self.failed.emit(key, describe_error(exc))
            else:
                self.ready.emit(key, result)
            finally:
                self.busy.clear()


class TaskWorker(QObject):
    """Runs `task(progress, should_stop)` once; progress(done, total) reports along the way."""

    progress = Signal(int, int)
    finished = Signal(object)  # the task's result
    failed = Signal(str)
    stopped_thread = Signal()

    def __init__(self, task: Callable[[Callable[[int, int], None], Callable[[], bool]], object]):
        super().__init__()
        self._task = task
        self._cancel = threading.Event()

    def stop(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @Slot()
    def run(self) -> None:
        try:
            result = self._task(lambda done, total: self.progress.emit(done, total),
                                self._cancel.is_set)
        except Exception as exc:  # shown as a message
            _print_if_bug(exc)
            self.failed.emit(describe_error(exc))
        else:
            self.finished.emit(result)
        finally:
            self.stopped_thread.emit()


def start_worker(worker: QObject, name: str, run_slot: Callable | None = None) -> QThread:
    """Move `worker` to a new QThread; call `run_slot` (default: worker.run, if any) on start.

    The thread quits by itself once the worker emits `stopped_thread` (when it has one).
    The caller keeps references to both and calls stop_thread() on shutdown.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    run = run_slot or getattr(worker, "run", None)
    if run is not None:
        thread.started.connect(run)
    if hasattr(worker, "stopped_thread"):
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI thread,
        # which may itself be blocked in wait() for this thread.
        worker.stopped_thread.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.start()
    return thread


def stop_thread(thread: QThread | None, worker: QObject | None = None, wait_ms: int = 10000) -> bool:
    """Ask the worker to stop, end the thread's event loop and wait for it; True if it ended."""
    if worker is not None and hasattr(worker, "stop"):
        worker.stop()
    if thread is None:
        return True
    thread.quit()
    return thread.wait(wait_ms)

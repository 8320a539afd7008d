"""The worker layer on its own: threading, stop, stale-request dropping, errors.

A fake trainer (a plain iterator of report objects) stands in for the engine
here, to test only the Qt threading; the end-to-end tests use the real engine.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, QThread, Signal  # noqa: E402

from segstudio.core.errors import UserError  # noqa: E402
from segstudio.gui import workers  # noqa: E402
from segstudio.gui.workers import (  # noqa: E402
    PredictionInterrupted,
    PredictionWorker,
    TaskWorker,
    TrainingWorker,
    stop_thread,
)

_started: list[tuple] = []


def start_worker(worker, name, run_slot=None):
    """workers.start_worker, remembered so that the thread is ended after the test."""
    thread = workers.start_worker(worker, name, run_slot)
    _started.append((thread, worker))
    return thread


@pytest.fixture(autouse=True)
def _threads_end_even_when_a_test_fails():
    # A QThread destroyed while it runs aborts the whole test process; a failed
    # assertion must cost one test, not the run.
    yield
    while _started:
        stop_thread(*_started.pop())


@dataclass
class StepReport:
    step: int
    loss: float
    progress: float = 0.0


@dataclass
class ValReport:
    step: int
    iou: dict
    miou: float


@dataclass
class DoneReport:
    reason: str
    steps: int
    error: str | None = None


class FakeTrainer:
    """Yields a step every `step_s` seconds, a validation every 5 steps, until stopped."""

    def __init__(self, step_s=0.01, max_steps=None, fail_at=None, final_validation_s=0.0):
        self.step_s, self.max_steps, self.fail_at = step_s, max_steps, fail_at
        self.final_validation_s = final_validation_s
        self.final_validation_limit_s = None
        self.final_validated = False
        self._stop = threading.Event()
        self.thread = None

    def stop(self, final_validation_limit_s=None):
        self.final_validation_limit_s = final_validation_limit_s
        self._stop.set()

    def snapshot(self):
        return {"snapshot_of_thread": threading.current_thread().name}

    def __iter__(self):
        self.thread = QThread.currentThread()
        self.step = 0
        while not self._stop.is_set() and (self.max_steps is None or self.step < self.max_steps):
            time.sleep(self.step_s)
            self.step += 1
            if self.step == self.fail_at:
                raise UserError("no labelled images: paint some labels first")
            yield StepReport(self.step, 1.0 / self.step)
            if self.step % 5 == 0:
                yield ValReport(self.step, {"cell": 0.5, "membrane": None}, 0.5)
        limit = self.final_validation_limit_s
        if limit is None or self.final_validation_s <= limit:  # as the engine decides
            time.sleep(self.final_validation_s)
            self.final_validated = True
            yield ValReport(self.step, {"cell": 0.5, "membrane": None}, 0.5)
        yield DoneReport("stopped" if self._stop.is_set() else "steps", self.step)


def test_training_worker_runs_off_the_gui_thread_and_reports(qtbot, qapp):
    trainer = FakeTrainer(max_steps=12)
    saved_on = []
    worker = TrainingWorker(
        lambda: trainer, on_done=lambda t, done: saved_on.append(QThread.currentThread()) or "dir"
    )
    steps, vals, snaps = [], [], []
    worker.progress.connect(steps.append)
    worker.validated.connect(vals.append)
    worker.snapshot.connect(snaps.append)
    with qtbot.waitSignal(worker.finished, timeout=5000) as finished:
        thread = start_worker(worker, "training-test")
    done, result = finished.args
    assert done.reason == "steps" and done.steps == 12 and result == "dir"
    assert trainer.thread is thread and saved_on == [thread]
    assert thread is not qapp.thread()
    assert [v.step for v in vals] == [5, 10, 12]
    assert steps and steps[-1].step == 12  # the last step is always sent, even when throttled
    assert len(snaps) == 3  # one copy of the model after each validation
    assert stop_thread(thread, worker)
    assert thread.isFinished()


def test_training_worker_stops_within_a_second(qtbot):
    trainer = FakeTrainer(step_s=0.05)
    worker = TrainingWorker(lambda: trainer)
    with qtbot.waitSignal(worker.progress, timeout=5000):
        thread = start_worker(worker, "training-test")
    with qtbot.waitSignal(worker.finished, timeout=2000) as finished:
        started = time.monotonic()
        worker.stop()
    assert time.monotonic() - started < 1.0
    assert finished.args[0].reason == "stopped"
    assert stop_thread(thread, worker)


@pytest.mark.parametrize(("validation_s", "validated"), [(3.0, False), (0.2, True)])
def test_stop_passes_its_limit_on_the_final_validation_to_the_engine(qtbot, validation_s,
                                                                    validated):
    trainer = FakeTrainer(step_s=0.05, final_validation_s=validation_s)
    worker = TrainingWorker(lambda: trainer, final_validation_limit_s=0.5)
    reports = []
    worker.validated.connect(reports.append)
    with qtbot.waitSignal(worker.progress, timeout=5000):
        thread = start_worker(worker, "training-test")
    with qtbot.waitSignal(worker.finished, timeout=2000) as finished:
        started = time.monotonic()
        worker.stop()
    assert time.monotonic() - started < 1.0  # never the 3 s validation
    assert trainer.final_validation_limit_s == 0.5
    assert finished.args[0].reason == "stopped" and finished.args[0].steps == trainer.step
    assert trainer.final_validated is validated
    if validated:  # the final weights' figures reach the window
        assert reports[-1].step == trainer.step
    assert stop_thread(thread, worker)


def test_training_gives_way_while_a_prediction_runs(qtbot):
    trainer = FakeTrainer(step_s=0.01)
    predicting = threading.Event()
    worker = TrainingWorker(lambda: trainer, pause_while=predicting.is_set)
    with qtbot.waitSignal(worker.progress, timeout=5000):
        thread = start_worker(worker, "training-test")
    predicting.set()
    qtbot.wait(100)
    paused_at = trainer.step
    qtbot.wait(300)
    assert trainer.step == paused_at  # no step while the prediction runs
    predicting.clear()
    qtbot.waitUntil(lambda: trainer.step > paused_at + 5, timeout=2000)
    predicting.set()  # a stop request ends the pause at once
    with qtbot.waitSignal(worker.finished, timeout=1000):
        worker.stop()
    assert stop_thread(thread, worker)


def test_training_worker_reports_errors_as_messages(qtbot):
    saved = []
    worker = TrainingWorker(lambda: FakeTrainer(fail_at=3), on_done=lambda *args: saved.append(1))
    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        thread = start_worker(worker, "training-test")
    assert "no labelled images" in failed.args[0]
    assert saved == []  # an error raised by the trainer: nothing to save
    assert stop_thread(thread, worker)


def test_a_training_that_failed_after_some_steps_is_saved_like_any_other(qtbot):
    class FailingAfterThree(FakeTrainer):  # as the engine ends on a NaN loss at step 4
        def __iter__(self):
            for self.step in range(1, 4):
                yield StepReport(self.step, 1.0)
            yield DoneReport("failed", 3, error="the loss became NaN or infinite at step 4")

    trainer = FailingAfterThree()
    worker = TrainingWorker(lambda: trainer, on_done=lambda t, done: f"saved at {t.step}")
    with qtbot.waitSignal(worker.finished, timeout=5000) as finished:
        thread = start_worker(worker, "training-test")
    done, result = finished.args
    assert (done.reason, done.steps, result) == ("failed", 3, "saved at 3")
    assert "NaN or infinite" in done.error
    assert stop_thread(thread, worker)


def test_stop_before_the_trainer_exists_is_honoured(qtbot):
    def slow_to_build():
        time.sleep(0.2)
        return FakeTrainer()

    worker = TrainingWorker(slow_to_build)
    with qtbot.waitSignal(worker.finished, timeout=3000) as finished:
        thread = start_worker(worker, "training-test")
        worker.stop()
    assert finished.args[0].reason == "stopped"
    assert stop_thread(thread, worker)


def test_prediction_worker_drops_stale_requests(qtbot):
    worker = PredictionWorker()
    thread = start_worker(worker, "prediction-test")
    gate = threading.Event()
    predicted = []

    def job(key):
        def predict():
            if key == 0:
                gate.wait(5)  # hold the worker busy while more requests arrive
            predicted.append(key)
            return key * 10

        return predict

    results = []
    worker.ready.connect(lambda key, result: results.append((key, result)))
    worker.request(0, job(0))
    qtbot.waitUntil(lambda: not gate.is_set() and worker._pending is None, timeout=2000)
    for key in range(1, 6):
        worker.request(key, job(key))
    gate.set()
    qtbot.waitUntil(lambda: (5, 50) in results, timeout=5000)
    qtbot.wait(50)
    assert predicted == [0, 5]  # 1..4 were replaced before they started
    assert worker.dropped == 4
    assert stop_thread(thread, worker)


def test_prediction_worker_keeps_going_after_an_error(qtbot):
    worker = PredictionWorker()
    thread = start_worker(worker, "prediction-test")

    def broken():
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")

    with qtbot.waitSignal(worker.failed, timeout=3000) as failed:
        worker.request("a", broken)
    assert failed.args[0] == "a" and "Lower the batch size" in failed.args[1]
    with qtbot.waitSignal(worker.ready, timeout=3000) as ready:
        worker.request("b", lambda: 42)
    assert ready.args == ["b", 42]
    assert stop_thread(thread, worker)


def _tiled_job(worker: PredictionWorker, started: threading.Event, tiles: int = 200):
    """A prediction that polls should_stop between 'tiles' of 10 ms, like predict_image."""
    def predict():
        started.set()
        for _ in range(tiles):
            if worker.should_stop():
                raise PredictionInterrupted
            time.sleep(0.01)
        return "slow"

    return predict


def test_an_urgent_request_interrupts_a_long_prediction(qtbot):
    worker = PredictionWorker()
    thread = start_worker(worker, "prediction-test")
    results, failures, started = [], [], threading.Event()
    worker.ready.connect(lambda key, result: results.append((key, result)))
    worker.failed.connect(lambda key, message: failures.append(key))
    worker.request("big", _tiled_job(worker, started))  # 2 s of tiles
    qtbot.waitUntil(started.is_set, timeout=2000)
    worker.request("refresh", lambda: "not urgent")  # waits its turn
    qtbot.wait(50)
    assert results == []
    begun = time.monotonic()
    worker.request("switched", lambda: "urgent", urgent=True)
    qtbot.waitUntil(lambda: ("switched", "urgent") in results, timeout=1000)
    assert time.monotonic() - begun < 0.5
    assert results == [("switched", "urgent")] and failures == []  # no message for it
    assert stop_thread(thread, worker)


def test_stopping_the_prediction_thread_does_not_wait_for_a_long_prediction(qtbot):
    worker = PredictionWorker()
    thread = start_worker(worker, "prediction-test")
    started = threading.Event()
    worker.request("big", _tiled_job(worker, started, tiles=1000))  # 10 s of tiles
    qtbot.waitUntil(started.is_set, timeout=2000)
    begun = time.monotonic()
    assert stop_thread(thread, worker, wait_ms=3000)
    assert time.monotonic() - begun < 1.0


def test_task_worker_progress_and_cancel(qtbot):
    def task(progress, should_stop):
        for index in range(1000):
            if should_stop():
                return ("cancelled", index)
            progress(index + 1, 1000)
            time.sleep(0.005)
        return ("done", 1000)

    worker = TaskWorker(task)
    with qtbot.waitSignal(worker.progress, timeout=3000):
        thread = start_worker(worker, "task-test")
    with qtbot.waitSignal(worker.finished, timeout=2000) as finished:
        worker.stop()
    assert finished.args[0][0] == "cancelled"
    assert thread.wait(2000)


def test_many_emits_and_void_calls_do_not_exhaust_true_and_none(qapp):
    """PySide6 6.12.0 on Python 3.11 loses a reference to True per emit() and to None per
    void call, and aborts the interpreter (bool_dealloc / none_dealloc) after some
    thousands: the workers emit that often. pyproject.toml excludes that version."""

    class Chatty(QObject):
        ping = Signal(object)

    chatty = Chatty()
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(30_000):
        chatty.ping.emit(None)
        qapp.processEvents()
    assert sys.getrefcount(True) > true_before - 1000
    assert sys.getrefcount(None) > none_before - 1000


def test_file_errors_read_as_one_line_naming_the_path(capsys):
    from segstudio.gui.workers import TaskWorker, describe_error

    assert describe_error(PermissionError(13, "Permission denied", "/data/out")) == (
        "/data/out: Permission denied")
    failures = []
    worker = TaskWorker(lambda progress, stop: open("/nonexistent-folder/x.png", "wb"))
    worker.failed.connect(failures.append)
    worker.run()
    assert failures == ["/nonexistent-folder/x.png: No such file or directory"]
    assert "Traceback" not in capsys.readouterr().err  # the user's to fix, not a bug

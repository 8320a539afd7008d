"""`segstudio PROJECT` told to end by a signal (kill, a shutdown, its terminal closed)
saves the labels painted in its last seconds first, as its close button does; they were
lost as in a crash (found by QA)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("PySide6")

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.core.masks import read_mask  # noqa: E402
from tests.gui.window_helpers import make_project  # noqa: E402

CHILD = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    import segstudio.gui.app as app
    from segstudio.core.edits import brush_stroke

    made = app.create_main_window

    def paint(window):  # a stroke the autosave (3 s later) has not saved yet
        window.apply_mask_edit(brush_stroke(window.current_mask(), [(20, 300), (200, 300)],
                                            3, 0), "Brush")
        print("PAINTED", window.current_document().dirty, flush=True)

    def create_main_window(*args, **kwargs):
        window = made(*args, **kwargs)
        QTimer.singleShot(500, lambda: paint(window))
        return window

    app.create_main_window = create_main_window
    from segstudio.cli import main
    sys.exit(main([sys.argv[1]]))
""")


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_window_saves_its_labels_first(tmp_path, isbi_dir, signum):
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png"])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "SEGSTUDIO_SETTINGS_DIR": str(tmp_path / "settings")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(project.root)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("PAINTED"):
                break
        assert lines and lines[-1].split() == ["PAINTED", "True"], "".join(lines)
        child.send_signal(signum)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    label_file = project.root / "labels" / f"{project.images[0].id}.png"
    assert label_file.is_file()
    saved = read_mask(label_file)
    assert saved[300, 100] == 0 and saved[100, 100] == UNLABELLED
    assert not (project.root / ".segstudio.lock").exists()  # closed, not killed


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_a_window_started_with_nohup_stays_when_its_terminal_closes(tmp_path, isbi_dir):
    import time

    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png"])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "SEGSTUDIO_SETTINGS_DIR": str(tmp_path / "settings")}
    child = subprocess.Popen(  # SIGHUP ignored, as nohup starts it
        [sys.executable, "-c", CHILD, str(project.root)], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        for line in child.stdout:
            if line.startswith("PAINTED"):
                break
        child.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert child.poll() is None  # still there
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert read_mask(project.root / "labels" / f"{project.images[0].id}.png")[300, 100] == 0

"""Projects, files and errors in the annotation window: opening, saving, classes, quitting."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

import tifffile  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMessageBox,
)

from segstudio.core.classes import UNLABELLED  # noqa: E402
from segstudio.core.masks import read_mask  # noqa: E402
from segstudio.core.project import Project  # noqa: E402
from segstudio.gui import settings as user_settings  # noqa: E402
from segstudio.gui.panels import classes as classes_panel  # noqa: E402
from tests.gui.window_helpers import drag, key, make_project, open_window, view_pos  # noqa: E402


@pytest.fixture
def project(tmp_path, isbi_dir):
    return make_project(tmp_path / "proj", [isbi_dir / "images" / f"{n:02d}.png" for n in (0, 1)])


def saved_labels(window, entry=None):
    entry = entry or window.current_entry
    return read_mask(window.project.root / "labels" / f"{entry.id}.png")


def test_empty_window_shows_the_welcome_page(qtbot):
    window = open_window(qtbot)
    assert window.project is None and window.central.currentWidget() is window.welcome
    assert window.welcome.demo_button.isVisible()
    key(qtbot, window, Qt.Key.Key_B)  # shortcuts without a project do nothing harmful
    assert window.current_mask() is None and not window.errors


def test_actions_that_need_a_project_wait_for_one_and_the_class_menu_names_its_classes(
        qtbot, project):
    window = open_window(qtbot)
    actions = window.actions_
    needing = (actions.add_images, actions.relink_missing, actions.import_labels,
               actions.save, actions.fit, actions.next_image, actions.tool_actions["brush"])
    assert not any(a.isEnabled() for a in needing)
    assert actions.open_project.isEnabled() and actions.open_demo.isEnabled()
    assert not any(a.isVisible() for a in actions.class_keys)
    assert window.status.paint_label.text() == ""  # no "Brush | class -" with nothing to paint
    assert window.open_project(project.root)
    assert all(a.isEnabled() for a in needing)
    assert window.status.paint_label.text().startswith("Brush")
    assert [a.text() for a in actions.class_keys if a.isVisible()] == ["membrane", "cell"]
    assert window.add_class("R&D")
    assert [a.text() for a in actions.class_keys if a.isVisible()][2] == "R&&D"


def test_no_two_entries_of_a_menu_share_an_access_key(qtbot):
    window = open_window(qtbot)
    menus, seen = [window.menuBar()], 0
    while menus:
        menu = menus.pop()
        seen += 1
        keys = []
        for action in menu.actions():
            if action.menu() is not None:
                menus.append(action.menu())
            text = action.text().replace("&&", "")
            if "&" in text:
                keys.append(text[text.index("&") + 1].lower())
        assert len(keys) == len(set(keys)), [a.text() for a in menu.actions()]
    assert seen > 6  # the bar, its menus and their submenus

def test_demo_opens_with_classes_and_painted_labels(qtbot):
    window = open_window(qtbot, demo=True)
    assert window.project is not None and len(window.project.classes) >= 2
    assert window.central.currentWidget() is window.canvas
    assert (window.current_mask() != UNLABELLED).any()
    assert str(window.project.root).startswith(os.environ["SEGSTUDIO_DEMO_DIR"])


def test_folder_of_images_becomes_a_project(qtbot, tmp_path, isbi_dir):
    window = open_window(qtbot)
    images = isbi_dir / "images"
    assert window.create_project_from_folder(images, tmp_path / "new", ["membrane", "cell"])
    assert len(window.project.images) == len(list(images.glob("*.png")))
    assert [c.name for c in window.project.classes] == ["membrane", "cell"]
    assert window.images_panel.list.count() == len(window.project.images)
    # Thumbnails and labelled fractions arrive from the worker thread.
    qtbot.waitUntil(lambda: "0% labelled" in window.images_panel.list.item(3).text(), timeout=10000)
    assert user_settings.recent_projects()[0] == str((tmp_path / "new").resolve())
    window.close()
    # Reopening from the command-line path finds the project.
    again = open_window(qtbot, tmp_path / "new")
    assert again.project.root == tmp_path / "new" and again.current_entry is not None


def test_add_rename_and_delete_classes_from_the_panel(qtbot, project, monkeypatch):
    window = open_window(qtbot, project.root)
    panel = window.classes_panel
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("mitochondria", True))
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in window.project.classes] == ["membrane", "cell", "mitochondria"]
    assert panel.list.count() == 3 and panel.selected() == 2
    assert window.paint.class_index == 2

    drag(qtbot, window, [(100.5, 100.5), (200.5, 100.5)])  # mitochondria
    key(qtbot, window, Qt.Key.Key_1)
    drag(qtbot, window, [(100.5, 300.5), (200.5, 300.5)])  # membrane
    assert window.current_mask()[100, 150] == 2, window.current_mask()[100, 150]
    assert window.current_mask()[300, 150] == 0, (window.current_mask()[300, 150], window.paint.class_index)

    panel.select(2)
    monkeypatch.setattr(classes_panel, "ask_delete_class", lambda *_: (True, 1))
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in window.project.classes] == ["membrane", "cell"]
    mask = window.current_mask()
    assert mask[100, 150] == 1 and mask[300, 150] == 0  # merged into "cell"
    assert np.array_equal(saved_labels(window), mask)

    panel.select(0)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("boundary", True))
    qtbot.mouseClick(panel.rename_button, Qt.MouseButton.LeftButton)
    assert window.project.classes[0].name == "boundary"
    assert "boundary" in panel.list.item(0).text()
    qtbot.mouseClick(panel.down_button, Qt.MouseButton.LeftButton)  # reorder
    assert [c.name for c in window.project.classes] == ["cell", "boundary"]
    assert window.current_mask()[300, 150] == 1 and window.current_mask()[100, 150] == 0
    assert "undo starts again" in window.statusBar().currentMessage()
    assert not window.actions_.undo.isEnabled()


def test_16_bit_tiff_gets_automatic_contrast(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    raw = (1000 + rng.integers(0, 200, (120, 160))).astype(np.uint16)  # dark in 0..65535
    tifffile.imwrite(tmp_path / "dark.tif", raw)
    project = make_project(tmp_path / "proj", [tmp_path / "dark.tif"])
    window = open_window(qtbot, project.root)
    assert window.current_image().dtype == np.uint16
    shown = window.canvas.image_layer.pixels
    assert shown.dtype == np.uint8 and shown.min() <= 5 and shown.max() >= 250
    assert window.display_panel.settings.mode == "auto"
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 10.5, 20.5))
    assert window.status.value_label.text() == f"value {raw[20, 10]}"  # the raw value, not the shown one
    # Manual range: values at or above 1100 turn white.
    low, high = window.display_panel.rows[0][2:]
    low.setValue(1000)
    high.setValue(1100)
    shown = window.canvas.image_layer.pixels
    assert window.display_panel.settings.mode == "manual"
    assert (shown[raw >= 1100] == 255).all() and (shown[raw < 1050] < 130).all()
    assert np.array_equal(window.current_image(), raw[:, :, None])  # data unchanged


@pytest.mark.parametrize(("low", "high", "shown"), [(-1.0, 1.4987, "-1.00"), (0.01, 0.05, "0.0100"),
                                                     (0.0, 4000.0, "0"), (1000.1, 1000.2, "1000.10")])
def test_a_float_image_range_shows_to_about_three_digits(qtbot, tmp_path, low, high, shown):
    raw = np.linspace(low, high, 60 * 80, dtype=np.float32).reshape(60, 80)
    tifffile.imwrite(tmp_path / "float.tif", raw)
    window = open_window(qtbot, make_project(tmp_path / "proj", [tmp_path / "float.tif"]).root)
    window.display_panel.mode.setCurrentIndex(1)  # min to max
    black_at = window.display_panel.rows[0][2]
    assert black_at.text() == shown
    white_at = window.display_panel.rows[0][3].value()
    black_at.stepUp()  # a step is one shown digit
    assert black_at.value() == pytest.approx(float(shown) + 10.0 ** -black_at.decimals())
    assert window.display_panel.settings.mode == "manual"
    # The other box keeps its exact value, not the one rounded to its decimals.
    assert window.display_panel.settings.ranges[0][1] == pytest.approx(high, abs=1e-4)
    assert white_at == pytest.approx(high, abs=10.0 ** -black_at.decimals())

def test_multichannel_image_maps_channels_and_shows_one_as_gray(qtbot, tmp_path):
    planes = np.zeros((5, 64, 80), dtype=np.uint16)
    for c in range(5):
        planes[c, :, c * 16:(c + 1) * 16] = 1000 * (c + 1)
    tifffile.imwrite(tmp_path / "five.tif", planes)
    project = make_project(tmp_path / "proj", [tmp_path / "five.tif"])
    window = open_window(qtbot, project.root)
    panel = window.display_panel
    assert window.current_image().shape == (64, 80, 5)
    panel.rows[0][1].setCurrentIndex(4)  # red <- channel 4
    shown = window.canvas.image_layer.pixels
    assert shown[10, 70, 0] > 200 and shown[10, 70, 1] == 0
    panel.color_mode.setCurrentIndex(1)  # one channel as gray
    panel.rows[0][1].setCurrentIndex(2)
    shown = window.canvas.image_layer.pixels
    assert shown.ndim == 2 and shown[10, 40] > 200  # gray
    assert shown[10, 5] == 0
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 40.5, 10.5))
    assert window.status.value_label.text() == "0 0 3000 0 0"


def test_the_channel_rows_fit_a_display_panel_docked_as_narrow_as_it_goes(qtbot, tmp_path):
    tifffile.imwrite(tmp_path / "five.tif", np.zeros((5, 64, 80), dtype=np.uint16) + 4000)
    window = open_window(qtbot, make_project(tmp_path / "proj", [tmp_path / "five.tif"]).root,
                         size=(1000, 700))
    dock = window.findChild(QDockWidget, "dock_display")
    window.resizeDocks([dock], [120], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: dock.width() < 400)
    box = window.display_panel.rows[0][2].parentWidget()
    for _label, channel, low, high in window.display_panel.rows:
        assert channel.geometry().right() < low.geometry().left()
        assert low.geometry().right() < high.geometry().left()
        assert high.geometry().right() < box.contentsRect().right()
        assert low.width() >= 66 and high.width() >= 66

@pytest.mark.parametrize(("channels", "shown"), [(2, "312 624"), (3, "R 312  G 624  B 936"),
                                                 (4, "R 312  G 624  B 936  A 1248")])
def test_the_status_bar_names_colour_channels_only(qtbot, tmp_path, channels, shown):
    planes = np.stack([np.full((20, 30), 312 * (c + 1), np.uint16) for c in range(channels)])
    tifffile.imwrite(tmp_path / "planes.tif", planes, photometric="minisblack",
                     metadata={"axes": "CYX"})
    window = open_window(qtbot, make_project(tmp_path / "proj", [tmp_path / "planes.tif"]).root)
    # A point of its own: the cursor may be where an earlier test left it (no move event).
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window, 2.5 * channels, 5.5))
    assert window.status.value_label.text() == shown


def test_adding_images_says_which_were_skipped_and_why(qtbot, tmp_path, isbi_dir):
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png"])
    window = open_window(qtbot, project.root)
    assert window.add_images([isbi_dir / "images" / "00.png", isbi_dir / "images" / "01.png"])
    assert window.images_panel.list.count() == 2
    title, message = window.errors[-1]
    assert title == "Some files were skipped" and message.startswith("Added 1 image.")
    assert "00.png: already in the project" in message and "01.png" not in message
    errors = len(window.errors)
    assert window.add_images([isbi_dir / "images" / "02.png"])
    assert len(window.errors) == errors  # nothing skipped: no message (the notes were told)
    assert window.statusBar().currentMessage() == "Added 1 image"
    # One unreadable file among them: the others are added, it is listed (it refused them
    # all, where a new project skips such files; found by QA).
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    assert window.add_images([broken, isbi_dir / "images" / "03.png"])
    assert [e.name for e in window.project.images][-1] == "03.png"
    title, message = window.errors[-1]
    assert title == "Some files were skipped" and "broken.png" in message

def test_a_colour_image_after_a_gray_one_is_shown_in_colour(qtbot, tmp_path):
    import cv2

    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :, 0] = 200  # red
    cv2.imwrite(str(tmp_path / "a_colour.png"), rgb[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "b_gray.png"), np.full((40, 60), 90, np.uint8))
    window = open_window(qtbot, make_project(tmp_path / "proj", [tmp_path / "a_colour.png",
                                                                 tmp_path / "b_gray.png"]).root)
    colour, gray = window.project.images
    for entry in (gray, colour):  # the gray image's one channel must not stick
        window.show_entry(entry)
    assert window.display_panel.settings.channels == (0, 1, 2)
    assert tuple(window.canvas.image_layer.pixels[5, 5]) == (200, 0, 0)


def test_corrupt_image_shows_a_message_and_the_window_keeps_working(qtbot, project):
    bad = project.root / "bad.png"
    bad.write_bytes((project.images[0].path).read_bytes())
    project.add_images([bad])
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    window = open_window(qtbot, project.root)
    first = window.current_entry
    drag(qtbot, window, [(10.5, 10.5), (50.5, 10.5)])
    window.images_panel.list.setCurrentRow(2)
    qtbot.wait(20)
    assert window.errors and "bad.png" in window.errors[-1][1]
    assert window.last_message_box.isVisible()  # non-modal: nothing waits for it
    assert window.current_entry is first and window.current_mask()[10, 30] == 0
    box = window.last_message_box
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    key(qtbot, window, Qt.Key.Key_PageDown)
    assert window.current_entry.name == "01.png"


def test_saving_that_keeps_failing_shows_one_message_box(qtbot, project, monkeypatch):
    """Each image switch opened another box while saving failed (its text names every image
    not saved, so it was new each time), and each took the keys from the window (found by
    QA)."""
    window = open_window(qtbot, project.root)

    def full_disk(entry, mask):
        raise OSError(28, "No space left on device", str(project.label_path(entry)))

    monkeypatch.setattr(window.project, "save_labels", full_disk)
    first, second = window.project.images
    drag(qtbot, window, [(10.5, 10.5), (50.5, 10.5)])
    assert not window.save_labels()
    box = window.last_message_box
    assert box.isVisible() and first.name in box.text() and second.name not in box.text()
    window.show_entry(second)
    drag(qtbot, window, [(10.5, 10.5), (50.5, 10.5)])
    assert not window.save_labels()
    assert window.last_message_box is box and second.name in box.text()
    assert len([w for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible()]) == 1
    box.close()
    window.show_error("Labels not saved", "again")  # once closed, the next one shows
    assert window.last_message_box is not box and window.last_message_box.isVisible()
    monkeypatch.undo()  # the disk has room again: closing saves


def test_a_first_image_whose_labels_cannot_be_read_gives_way_to_the_next(qtbot, project):
    first, second = project.images
    Image.fromarray(np.full((10, 10), 1, np.uint8)).save(project.label_path(first))
    window = open_window(qtbot, project.root)
    assert window.current_entry.id == second.id
    [(title, message)] = window.errors
    assert title == "1 image(s) could not be opened"
    assert message.endswith("the mask is 10x10 but its image is 512x512 (width x height); "
                            "fix or remove the label file")
    assert "--" not in message  # no command-line options in the window
    window.close()

    project.label_path(second).write_bytes(b"not a png")  # none opens: one message, and a hint
    window = open_window(qtbot, project.root)
    [(title, message)] = window.errors
    assert title == "2 image(s) could not be opened" and len(message.splitlines()) == 2
    assert window.central.currentWidget() is window.welcome
    assert "could not be opened" in window.welcome.hint.text()


def test_quitting_saves_unsaved_strokes_without_asking(qtbot, project, monkeypatch):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a))
    window = open_window(qtbot, project.root)
    drag(qtbot, window, [(20.5, 20.5), (120.5, 20.5)])
    painted = window.current_mask().copy()
    assert window.isWindowModified()
    assert window.close()
    assert not asked
    assert np.array_equal(saved_labels(window), painted)


def test_autosave_a_moment_after_the_last_edit(qtbot, project):
    window = open_window(qtbot, project.root)
    window.autosave_timer.setInterval(200)
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])
    path = window.project.root / "labels" / f"{window.current_entry.id}.png"
    assert not path.exists()
    with qtbot.waitSignal(window.labelsSaved, timeout=5000):
        pass
    assert np.array_equal(read_mask(path), window.current_mask())
    assert not window.isWindowModified() and not window.windowTitle().startswith("*")
    assert "labelled" in window.images_panel.list.item(0).text()



def test_steady_painting_is_saved_while_it_goes_on(qtbot, project):
    """Each stroke restarted the 3 s wait: strokes 2 s apart were never saved, and a crash
    lost them all."""
    window = open_window(qtbot, project.root)
    window.autosave_timer.setInterval(400)  # the 3 s after the last stroke, scaled down
    window.autosave_deadline.setInterval(1000)  # and the 15 s after the first unsaved one
    path = window.project.root / "labels" / f"{window.current_entry.id}.png"
    saved = []
    window.labelsSaved.connect(lambda *_args: saved.append(len(strokes)))
    strokes = []
    for n in range(12):  # a stroke every 200 ms: the 400 ms wait is never reached
        y = 20.5 + 10 * n
        drag(qtbot, window, [(20.5, y), (60.5, y)])
        strokes.append(y)
        qtbot.wait(200)
    assert saved and saved[0] < len(strokes)  # saved while painting went on
    assert path.exists() and read_mask(path)[20, 40] == window.current_mask()[20, 40] != UNLABELLED

def test_a_stroke_made_while_a_slow_autosave_runs_is_saved_after_it(qtbot, project,
                                                                     monkeypatch):
    """The stroke's autosave came while the image was being saved (seconds, for a large
    one) and passed it by; nothing saved it afterwards until the next edit."""
    import threading

    window = open_window(qtbot, project.root)
    window.autosave_timer.setInterval(50)
    saving, release, real_save = threading.Event(), threading.Event(), window.project.save_labels

    def slow_save(entry, mask):
        saving.set()
        release.wait(10)
        real_save(entry, mask)

    monkeypatch.setattr(window.project, "save_labels", slow_save)
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])
    qtbot.waitUntil(saving.is_set)  # the first autosave is writing
    drag(qtbot, window, [(20.5, 80.5), (60.5, 80.5)])  # the stroke made meanwhile
    qtbot.wait(200)  # its autosave comes, and passes the image by: it is being saved
    release.set()
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=5000)
    assert np.array_equal(saved_labels(window), window.current_mask())


def test_failed_save_keeps_labels_and_retries(qtbot, project, monkeypatch):
    window = open_window(qtbot, project.root)
    real_save = window.project.save_labels

    def read_only(entry, mask):
        raise PermissionError(13, "Permission denied", str(window.project.root / "labels"))

    monkeypatch.setattr(window.project, "save_labels", read_only)
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])
    assert not window.save_labels()
    assert window.errors[-1][0] == "Labels not saved" and "00.png" in window.errors[-1][1]
    assert "labels" in window.errors[-1][1]
    assert window.isWindowModified()
    window.save_labels()
    assert len(window.errors) == 1  # the same problem is not repeated at every autosave
    key(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert len(window.errors) == 2  # but Save asked for says it failed, each time

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a)
                        or QMessageBox.StandardButton.Cancel)
    assert not window.close()  # quitting would lose them: asked, and cancelled
    assert asked and window.isVisible()

    monkeypatch.setattr(window.project, "save_labels", real_save)
    drag(qtbot, window, [(20.5, 40.5), (60.5, 40.5)])
    assert window.save_labels()
    assert np.array_equal(saved_labels(window), window.current_mask())
    assert (saved_labels(window)[20, 30], saved_labels(window)[40, 30]) == (0, 0)


def test_unwritable_label_file_keeps_labels_in_memory(qtbot, project):
    """A real OSError from the file system (a folder where the label PNG should go)."""
    window = open_window(qtbot, project.root)
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])
    painted = window.current_mask().copy()
    blocker = window.project.root / "labels" / f"{window.current_entry.id}.png"
    blocker.mkdir()
    assert not window.save_labels() and window.isWindowModified()
    assert str(blocker.name) in window.errors[-1][1]
    assert np.array_equal(window.current_mask(), painted)
    blocker.rmdir()
    assert window.save_labels()
    assert np.array_equal(saved_labels(window), painted)


def test_a_project_open_in_another_window_is_not_opened_twice_unless_asked(qtbot, project,
                                                                            monkeypatch):
    """Each window saved its own copy of project.json: a class added in one was lost when
    the other saved, leaving label files with values no class has."""
    from PySide6.QtWidgets import QMessageBox

    answers, asked = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes], []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda _p, title, text, *a: (asked.append(text), answers.pop(0))[1])
    first = open_window(qtbot, project.root)
    second = open_window(qtbot)
    assert not second.open_project(project.root) and second.project is None
    assert "is open in another segstudio window" in asked[0]
    assert second.open_project(project.root)  # "Open it here anyway?" Yes
    assert len(asked) == 2
    second.close()
    first.close()  # closing lets it go: the next window opens it without asking
    assert open_window(qtbot, project.root).project is not None and len(asked) == 2


def test_the_lock_of_a_window_that_crashed_is_taken_over(qtbot, project):
    import subprocess
    import sys

    from segstudio.gui.project_lock import LOCK_FILE

    subprocess.run([sys.executable, "-c", "import os, sys; from PySide6.QtCore import QLockFile;"
                    " lock = QLockFile(sys.argv[1]); lock.setStaleLockTime(0);"
                    " assert lock.tryLock(0); os._exit(0)", str(project.root / LOCK_FILE)],
                   check=True)
    assert (project.root / LOCK_FILE).is_file()
    window = open_window(qtbot, project.root)  # no question: that process has ended
    assert window.project is not None


def test_layout_and_recent_projects_are_remembered(qtbot, project):
    window = open_window(qtbot, project.root, size=(900, 650))
    window.findChild(QDockWidget, "dock_display").hide()
    window.close()
    again = open_window(qtbot, size=(900, 650))
    assert not again.findChild(QDockWidget, "dock_display").isVisible()
    recent = [a.text() for a in again.actions_.recent_menu.actions()]
    assert recent == [str(project.root.resolve()), "", "&Clear Menu"]
    again.actions_.recent_menu.actions()[0].trigger()
    assert again.project is not None and again.project.root == project.root.resolve()


def test_the_start_page_opens_recent_projects_and_drops_those_gone(qtbot, project, tmp_path):
    other = make_project(tmp_path / "other", [project.images[0].path])
    for folder in (other.root, project.root):
        open_window(qtbot, folder).close()
    window = open_window(qtbot)
    links = window.welcome.recent_links
    assert [link.text().split(">")[1].split("<")[0] for link in links] == ["proj", "other"]
    assert all(link.isVisible() for link in links)
    window.update_recent_menu()  # shown again: those of before are gone at once
    assert window.welcome.recent_layout.count() == 2
    links = window.welcome.recent_links
    shutil.rmtree(other.root)
    links[1].linkActivated.emit(str(other.root.resolve()))
    assert window.project is None and "not there any more" in window.errors[-1][1]
    assert len(window.welcome.recent_links) == 1
    window.welcome.recent_links[0].linkActivated.emit(str(project.root.resolve()))
    assert window.project is not None and window.project.root == project.root.resolve()
    window.actions_.recent_menu.actions()[-1].trigger()  # Clear Menu
    assert window.actions_.recent_menu.actions() == [] and window.welcome.recent_links == []
    assert not window.actions_.recent_menu.isEnabled()

def test_missing_image_is_marked_and_can_be_relinked(qtbot, tmp_path, isbi_dir):
    moved = tmp_path / "moved"
    moved.mkdir()
    first = tmp_path / "01.png"
    first.write_bytes((isbi_dir / "images" / "01.png").read_bytes())
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png", first])
    first.rename(moved / "01.png")
    window = open_window(qtbot, project.root)
    assert any("01.png" in message for _, message in window.errors)  # told at once
    entry = window.project.images[1]
    assert "missing file" in window.images_panel.list.item(1).text()
    window.images_panel.list.setCurrentRow(1)
    assert "relink" in window.errors[-1][1] and window.current_entry.name == "00.png"
    assert window.relink_image(entry, moved / "01.png")
    assert window.current_entry is entry and window.current_image().shape[:2] == (512, 512)
    assert "missing" not in window.images_panel.list.item(1).text()


def test_relinking_the_image_on_screen_shows_the_new_file(qtbot, tmp_path):
    """The canvas kept the old pixels (strokes and fills went by the wrong picture), and
    fresh strokes not yet saved let an image of another size in, after which they could
    never be saved (found by QA)."""
    dark, bright = tmp_path / "dark.png", tmp_path / "moved" / "dark.png"
    bright.parent.mkdir()
    Image.fromarray(np.zeros((60, 80), np.uint8)).save(dark)
    Image.fromarray(np.full((60, 80), 200, np.uint8)).save(bright)
    larger = tmp_path / "larger.png"
    Image.fromarray(np.full((90, 120), 50, np.uint8)).save(larger)
    window = open_window(qtbot, make_project(tmp_path / "proj", [dark]).root)
    entry = window.current_entry
    assert window.relink_image(entry, larger)  # no labels yet: any size will do
    assert window.current_image().shape[:2] == (90, 120) and window.current_image().max() == 50
    assert window.current_mask().shape == (90, 120)
    assert window.relink_image(entry, dark)
    drag(qtbot, window, [(10.5, 10.5), (40.5, 10.5)])  # not saved yet
    assert window.isWindowModified()
    assert not window.relink_image(entry, larger)
    assert "choose the image its labels were painted on" in window.errors[-1][1]
    assert entry.path == dark and window.current_image().max() == 0
    np.testing.assert_array_equal(saved_labels(window), window.current_mask())  # saved first
    assert window.relink_image(entry, bright)  # of the same size: the labels go with it
    assert window.current_entry is entry and window.current_image().max() == 200
    assert window.canvas.image_layer.pixels.min() > 0  # drawn from the new file
    assert window.current_mask()[10, 20] == 0
    drag(qtbot, window, [(10.5, 40.5), (40.5, 40.5)])
    assert window.save_labels(report=False)
    assert saved_labels(window)[40, 20] == 0 and saved_labels(window)[10, 20] == 0


def test_labels_of_images_seen_long_ago_are_let_go_once_saved(qtbot, tmp_path, monkeypatch):
    """The window kept every visited image's labels and history: a walk through a project
    of large images grew without bound (found by QA). Past a budget, the saved labels of
    the images seen longest ago are dropped, and read from their files when shown again."""
    from segstudio.gui import documents_kept

    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((100, 100), 40 * i, np.uint8)).save(paths[-1])
    # Two masks and their strokes' history (a box of about 66 x 16 before and after each).
    monkeypatch.setattr(documents_kept, "KEPT_LABELS_BYTES", 25_000)
    window = open_window(qtbot, make_project(tmp_path / "proj", paths).root)
    window.autosave_timer.setInterval(60_000)  # only image changes save
    entries = window.project.images
    for i, entry in enumerate(entries):
        window.show_entry(entry)
        drag(qtbot, window, [(10.5, 10.5 + 10 * i), (60.5, 10.5 + 10 * i)])
    qtbot.waitUntil(lambda: not any(d.saving for d in window.documents.values()))
    window.show_entry(entries[3])  # shown already: nothing changes
    assert list(window.documents) == [e.id for e in entries[2:]]
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # unsaved now
    window.show_entry(entries[0])  # back to one let go: its labels from its file
    assert window.current_mask()[10, 30] == 0 and not window.undo_group.canUndo()
    assert entries[3].id in window.documents  # kept while unsaved, whatever its age
    assert entries[2].id not in window.documents
    window.show_entry(entries[3])
    assert window.current_mask()[40, 30] == UNLABELLED and window.undo_group.canRedo()
    assert window.save_labels(report=False)
    for i, entry in enumerate(entries[:3]):
        assert saved_labels(window, entry)[10 + 10 * i, 30] == 0
    assert (window.project.load_labels(entries[3]) == UNLABELLED).all()  # its stroke undone


def test_the_undo_history_counts_towards_the_labels_kept(qtbot, tmp_path, monkeypatch):
    """Only the masks were counted: a long history of large edits was kept whatever its
    size (found by QA)."""
    from segstudio.core.edits import paste_labels
    from segstudio.gui import documents_kept

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((100, 100), 40 * i, np.uint8)).save(paths[-1])
    monkeypatch.setattr(documents_kept, "KEPT_LABELS_BYTES", 3 * 100 * 100)  # three masks
    window = open_window(qtbot, make_project(tmp_path / "proj", paths).root)
    first, *others = window.project.images
    for value in (0, 1, 0, 1):  # whole-image edits: 20 kB of history each
        window.apply_mask_edit(paste_labels(window.current_mask(),
                                            np.full((100, 100), value, np.uint8)), "Accept")
    assert window.current_document().nbytes == 100 * 100 * 9
    for entry in others:
        window.show_entry(entry)
    qtbot.waitUntil(lambda: not any(d.saving for d in window.documents.values()))
    assert first.id not in window.documents  # three masks, but its history is larger
    assert saved_labels(window, first)[50, 50] == 1


def test_recolour_a_class_updates_the_overlay(qtbot, project, monkeypatch):
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QColorDialog

    window = open_window(qtbot, project.root)
    drag(qtbot, window, [(100.5, 100.5), (200.5, 100.5)])
    monkeypatch.setattr(QColorDialog, "getColor", lambda *a, **k: QColor(10, 20, 30))
    window.classes_panel.select(0)
    qtbot.mouseClick(window.classes_panel.color_button, Qt.MouseButton.LeftButton)
    assert window.project.classes[0].color == (10, 20, 30)
    assert tuple(window.canvas.label_layer.pixels[100, 150, :3]) == (10, 20, 30)
    assert window.current_mask()[100, 150] == 0  # indices unchanged


def test_autosave_waits_for_the_stroke_to_end(qtbot, project):
    from tests.gui.window_helpers import LEFT

    window = open_window(qtbot, project.root)
    window.autosave_timer.setInterval(50)
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])  # starts the timer
    viewport = window.canvas.viewport()
    qtbot.mousePress(viewport, LEFT, pos=view_pos(window, 20.5, 80.5))
    qtbot.mouseMove(viewport, view_pos(window, 90.5, 80.5))
    qtbot.wait(300)  # the timer fired during the stroke, and waited
    assert window.isWindowModified()
    qtbot.mouseRelease(viewport, LEFT, pos=view_pos(window, 90.5, 80.5))
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=3000)
    assert np.array_equal(saved_labels(window), window.current_mask())
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.isWindowModified() and window.current_mask()[80, 50] == UNLABELLED


def test_a_moved_image_folder_is_found_again_from_the_menu_or_one_image(qtbot, tmp_path,
                                                                        isbi_dir, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("00.png", "01.png", "02.png"):
        shutil.copy(isbi_dir / "images" / name, images / name)
    project = make_project(tmp_path / "proj", sorted(images.iterdir()))
    images.rename(tmp_path / "moved")
    window = open_window(qtbot, project.root)
    assert window.central.currentWidget() is window.welcome
    assert "The 3 images of this project are not where they were" in window.welcome.hint.text()
    window.welcome.show_missing(1)
    assert "The image of this project is not where it was" in window.welcome.hint.text()
    assert "Relink Missing Images" in window.errors[-1][1]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path / "moved"))
    relink = next(a for a in window.menu("File").actions()
                  if "Relink Missing" in a.text().replace("&", ""))
    relink.trigger()
    assert window.project.missing_images() == []
    assert window.central.currentWidget() is window.canvas and window.current_entry is not None
    texts = [window.images_panel.list.item(i).text() for i in range(3)]
    assert not any("missing" in text for text in texts)
    assert "Found 3 of the 3 missing images" in window.statusBar().currentMessage()
    # Moved again: relinking one image by hand finds the others beside it.
    (tmp_path / "moved").rename(tmp_path / "again")
    window.close()
    window = open_window(qtbot, project.root)
    first = window.project.images[0]
    assert window.relink_image(first, tmp_path / "again" / "00.png")
    assert window.project.missing_images() == []

def test_relinking_one_image_of_a_subfolder_finds_the_others_by_their_names(qtbot, tmp_path,
                                                                           isbi_dir):
    from segstudio.core.classes import default_classes
    from segstudio.core.project import Project

    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for name in ("00.png", "sub/01.png", "sub/02.png"):
        shutil.copy(isbi_dir / "images" / Path(name).name, images / name)
    project = Project.create(tmp_path / "proj", images, default_classes(["a", "b"]))
    images.rename(tmp_path / "moved")
    (tmp_path / "moved" / "stray").mkdir()  # a file of the same name elsewhere: not taken
    shutil.copy(isbi_dir / "images" / "03.png", tmp_path / "moved" / "stray" / "02.png")
    window = open_window(qtbot, project.root)
    entry = next(e for e in window.project.images if e.name == "sub/01.png")
    (tmp_path / "moved" / "sub" / "02.png").unlink()
    assert window.relink_image(entry, tmp_path / "moved" / "sub" / "01.png")
    assert [e.name for e in window.project.missing_images()] == ["sub/02.png"]

def test_add_images_to_an_empty_project(qtbot, tmp_path, isbi_dir):
    from segstudio.core.classes import default_classes
    from segstudio.core.project import Project

    project = Project.create(tmp_path / "proj", [], default_classes(["a", "b"]))
    window = open_window(qtbot, project.root)
    assert window.central.currentWidget() is window.welcome
    assert "no images" in window.welcome.hint.text()
    changed = []
    window.projectChanged.connect(changed.append)
    assert window.add_images([isbi_dir / "images" / "05.png", isbi_dir / "images" / "06.png"])
    assert window.images_panel.list.count() == 2 and changed
    assert window.current_entry.name == "05.png"
    assert window.central.currentWidget() is window.canvas


def test_deleting_the_last_class_leaves_nothing_to_paint_with(qtbot, project, monkeypatch):
    window = open_window(qtbot, project.root)
    monkeypatch.setattr(classes_panel, "ask_delete_class", lambda *_: (True, None))
    for _ in range(2):
        window.classes_panel.select(0)
        qtbot.mouseClick(window.classes_panel.delete_button, Qt.MouseButton.LeftButton)
    assert window.project.classes == [] and window.paint.class_index == -1
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])
    assert (window.current_mask() == UNLABELLED).all() and not window.errors
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("new", True))
    qtbot.mouseClick(window.classes_panel.add_button, Qt.MouseButton.LeftButton)
    assert window.paint.class_index == 0
    drag(qtbot, window, [(20.5, 20.5), (60.5, 20.5)])
    assert window.current_mask()[20, 40] == 0


def test_a_layout_saved_by_an_older_version_is_not_restored(qtbot, project):
    from segstudio.gui.settings import app_settings

    window = open_window(qtbot, project.root, size=(900, 650))
    window.findChild(QDockWidget, "dock_display").hide()
    app_settings().setValue("window/state", window.saveState())  # as the old version saved it
    window.hide()  # not closed: the old layout stays in the settings
    again = open_window(qtbot, size=(900, 650))
    assert again.findChild(QDockWidget, "dock_display").isVisible()


def test_the_window_opens_within_the_screen(qtbot):
    from segstudio.gui.app import create_main_window

    window = create_main_window()
    qtbot.addWidget(window)
    available = window.screen().availableGeometry()
    assert window.width() <= available.width() and window.height() <= available.height()


def test_a_reopened_project_shows_the_image_it_was_left_at(qtbot, tmp_path, isbi_dir):
    project = make_project(tmp_path / "p", [isbi_dir / "images" / f"{n:02d}.png" for n in range(3)])
    window = open_window(qtbot, project.root)
    assert window.current_entry.name == "00.png"
    window.show_entry(window.project.images[2])
    window.close()
    reopened = open_window(qtbot, project.root)
    assert reopened.current_entry.name == "02.png"
    assert reopened.images_panel.list.currentRow() == 2


def test_the_images_list_marks_images_and_labels_that_cannot_be_read(qtbot, tmp_path, isbi_dir):
    """A PNG cut short after its header joined the project and showed a grey square; a
    broken label file showed '…' for ever."""
    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n:02d}.png").write_bytes((isbi_dir / "images" / f"{n:02d}.png").read_bytes())
    whole = (folder / "01.png").read_bytes()
    (folder / "01.png").write_bytes(whole[:2000])  # the header and a little more
    project = make_project(tmp_path / "proj", [folder / f"{n:02d}.png" for n in (0, 1, 2)])
    broken_labels = project.label_path(project.images[2])
    broken_labels.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    window = open_window(qtbot, project.root)
    items = window.images_panel._items
    second, third = (items[e.id] for e in project.images[1:])
    qtbot.waitUntil(lambda: "cannot" in second.text() and "cannot" in third.text(),
                    timeout=5000)
    assert second.text() == "01.png\ncannot read the image"
    assert "01.png" in second.toolTip().splitlines()[1]  # the reader's message
    assert third.text() == "02.png\ncannot read its labels"
    assert items[project.images[0].id].text() == "00.png\n0% labelled"


def test_recent_project_that_fails_to_open_stays_until_it_is_gone(qtbot, project):
    open_window(qtbot, project.root).close()
    window = open_window(qtbot)
    project_file = project.root / "project.json"
    text = project_file.read_text()
    project_file.write_text("{ broken")
    window.actions_.recent_menu.actions()[0].trigger()
    assert window.project is None and "project.json" in window.errors[-1][1]
    assert window.actions_.recent_menu.actions()[0].text() == str(project.root.resolve())
    project_file.write_text(text)  # mended by hand: opens from the menu
    window.actions_.recent_menu.actions()[0].trigger()
    assert window.project is not None
    window.close()
    project_file.unlink()
    again = open_window(qtbot)
    again.actions_.recent_menu.actions()[0].trigger()
    assert again.project is None and again.actions_.recent_menu.actions() == []
    assert "not a segstudio project" in again.errors[-1][1]
    assert "File ▸ New Project" in again.errors[-1][1]  # the window's way, not the CLI's
    project.root.rename(project.root.with_name("moved"))
    assert not again.open_project(project.root)  # as from Open Recent
    assert "the folder is not there any more" in again.errors[-1][1]


def test_an_image_added_by_mistake_can_be_removed_and_added_again(qtbot, tmp_path, isbi_dir):
    """Nothing took an image out of a project (an RGB one in a grey project stopped every
    training; found by QA). Its labels stay in labels/ and come back with it."""
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((64, 80, 3), np.uint8)).save(rgb)
    project = make_project(tmp_path / "proj", [isbi_dir / "images" / "00.png", rgb])
    window = open_window(qtbot, project.root)
    grey, colour = window.project.images
    window.show_entry(colour)
    drag(qtbot, window, [(10.5, 10.5), (40.5, 10.5)])  # painted, not yet saved
    menu = window.images_panel.entry_menu(colour)
    remove = next(a for a in menu.actions() if a.text() == "Remove from Project")
    remove.trigger()
    assert [e.name for e in window.project.images] == ["00.png"]
    assert window.current_entry is grey and window.images_panel.list.count() == 1
    assert colour.id not in window.documents and not window.isWindowModified()
    assert [e.name for e in Project.open(project.root).images] == ["00.png"]
    assert window.add_images([rgb])  # back, with the labels painted before
    again = next(e for e in window.project.images if e.name == "rgb.png")
    window.show_entry(again)
    assert window.current_mask()[10, 20] == 0
    for entry in list(window.project.images):  # the last one gone: the start page says so
        window.remove_image(entry)
    assert window.current_entry is None and window.central.currentWidget() is window.welcome
    assert "no images" in window.welcome.hint.text()

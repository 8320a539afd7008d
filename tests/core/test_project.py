import json
import os
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from segstudio.core.classes import UNLABELLED, LabelClass, default_classes
from segstudio.core.errors import ImageReadError, MaskError, ProjectError, UserError
from segstudio.core.masks import read_mask
from segstudio.core.project import Project

CLASSES = default_classes(["sky", "road", "car"])


def make_image(path, height=6, width=8, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), value, np.uint8))
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    make_image(folder / "a.png")
    make_image(folder / "sub" / "a.png", value=50)
    make_image(folder / "sub" / "b.jpg", height=5, width=4)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_create_from_folder_finds_images_recursively_with_unique_label_files(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    assert [e.name for e in project.images] == ["a.png", "sub/a.png", "sub/b.jpg"]
    assert [project.label_path(e).name for e in project.images] == ["a.png", "sub__a.png",
                                                                    "sub__b.png"]
    assert any("notes.txt" in note for note in project.notes)
    assert project.models_dir.is_dir() and (project.root / "labels").is_dir()
    document = json.loads((project.root / "project.json").read_text())
    # The images sit next to the project: stored relative, so both can move together.
    assert [i["path"] for i in document["images"]] == ["../photos/a.png", "../photos/sub/a.png",
                                                       "../photos/sub/b.jpg"]
    assert document["classes"][1] == {"name": "road", "color": list(CLASSES[1].color)}
    reopened = Project.open(tmp_path / "proj")
    assert [e.path for e in reopened.images] == [photos / "a.png", photos / "sub/a.png",
                                                  photos / "sub/b.jpg"]
    assert reopened.image_shape(reopened.images[2]) == (5, 4)
    assert reopened.load_image(reopened.images[1])[0, 0].tolist() == [50, 50, 50]


def test_neighbours_are_the_next_then_the_previous_image_that_exists(tmp_path):
    folder = tmp_path / "photos"
    paths = [make_image(folder / f"{n}.png") for n in range(5)]
    project = Project.create(tmp_path / "project", paths, default_classes(["a"]))
    names = lambda entries: [e.name for e in entries]  # noqa: E731
    first, second, third, fourth, last = project.images
    assert names(project.neighbours(first)) == ["1.png"]
    assert names(project.neighbours(third)) == ["3.png", "1.png"]
    assert names(project.neighbours(last)) == ["3.png"]
    paths[3].unlink()
    paths[1].unlink()
    assert names(project.neighbours(third)) == ["4.png", "0.png"]  # missing ones stepped over
    assert names(project.neighbours(last)) == ["2.png"]


def test_far_away_images_are_stored_by_absolute_path(tmp_path, isbi_dir):
    project = Project.create(tmp_path / "proj", [isbi_dir / "images" / "00.png"], CLASSES)
    document = json.loads((project.root / "project.json").read_text())
    assert document["images"][0]["path"] == (isbi_dir / "images" / "00.png").as_posix()


def test_existing_project_is_never_overwritten(tmp_path, photos):
    Project.create(tmp_path / "proj", photos, CLASSES)
    before = (tmp_path / "proj" / "project.json").read_bytes()
    with pytest.raises(ProjectError, match="already a segstudio project"):
        Project.create(tmp_path / "proj", photos, [])
    assert (tmp_path / "proj" / "project.json").read_bytes() == before


def test_labels_round_trip_with_cached_statistics(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    entry = project.images[0]
    assert (project.load_labels(entry) == UNLABELLED).all()
    assert project.label_stats(entry).counts == [0, 0, 0]
    mask = np.full((6, 8), UNLABELLED, np.uint8)
    mask[0, :] = 0  # 8 sky
    mask[1:3, 2:5] = 2  # 6 car
    project.save_labels(entry, mask)
    with Image.open(project.label_path(entry)) as png:
        assert png.mode == "P" and png.convert("RGB").getpixel((3, 1)) == CLASSES[2].color
    reopened = Project.open(project.root)
    np.testing.assert_array_equal(reopened.load_labels(entry.id), mask)
    stats = reopened.label_stats(entry.id)
    assert stats.counts == [8, 0, 6] and stats.fraction == pytest.approx(14 / 48)
    cached = json.loads((project.root / "project.json").read_text())["images"][0]["stats"]
    assert cached["counts"] == [8, 0, 6]
    # A label file changed behind the project's back: the cache notices.
    mask[5, :] = 1
    Image.fromarray(mask).save(project.label_path(entry))
    assert reopened.label_stats(entry.id).counts == [8, 8, 6]


def test_labels_of_the_wrong_size_or_values_are_refused(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    entry = project.images[0]
    with pytest.raises(MaskError, match="a.png.*5x6.*8x6"):
        project.save_labels(entry, np.zeros((6, 5), np.uint8))
    with pytest.raises(MaskError, match=r"\[7\]"):
        project.save_labels(entry, np.full((6, 8), 7, np.uint8))
    assert not project.label_path(entry).exists()
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(project.label_path(entry))
    with pytest.raises(MaskError, match=r"labels/a.png.*3x3.*8x6"):
        project.load_labels(entry)


def test_copied_images_travel_with_the_project(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES, copy_images=True)
    assert (tmp_path / "proj" / "images" / "sub" / "b.jpg").is_file()
    project.save_labels(project.images[1], np.zeros((6, 8), np.uint8))
    shutil.move(tmp_path / "proj", tmp_path / "moved")
    shutil.rmtree(photos)
    moved = Project.open(tmp_path / "moved")
    assert moved.missing_images() == []
    assert moved.load_image(moved.images[1])[0, 0, 0] == 50
    assert (moved.load_labels(moved.images[1]) == 0).all()


def test_add_and_remove_images_keeping_or_deleting_labels(tmp_path, photos):
    project = Project.create(tmp_path / "proj", [photos / "a.png"], CLASSES)
    added = project.add_images([photos / "sub" / "a.png", photos / "a.png"])
    assert [e.name for e in added] == ["a-2.png"]  # the same file twice is skipped
    assert project.label_path(added[0]).name == "a-2.png"
    assert any("already in the project" in n for n in project.notes)
    project.save_labels(added[0], np.ones((6, 8), np.uint8))
    project.remove_image(added[0])
    assert project.label_path(added[0]).is_file()  # kept
    assert [e.id for e in Project.open(project.root).images] == ["a"]
    again = project.add_images([photos / "sub" / "a.png"])[0]
    assert (project.load_labels(again) == 1).all()  # the kept labels come back
    project.remove_image(again, delete_labels=True)
    assert not project.label_path(again).exists()


def test_add_images_checks_every_file_first(tmp_path, photos):
    project = Project.create(tmp_path / "proj", [photos / "a.png"], CLASSES)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    for bad in ("empty.png", "corrupt.png"):
        with pytest.raises(ImageReadError, match=bad):
            project.add_images([photos / "sub" / "a.png", tmp_path / bad])
    assert [e.name for e in Project.open(project.root).images] == ["a.png"]


def test_create_from_folder_skips_unreadable_images_with_a_note(tmp_path, photos):
    (photos / "empty.png").write_bytes(b"")
    (photos / "corrupt.jpg").write_bytes(b"not a jpeg at all")
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    assert "empty.png" not in [e.name for e in project.images]
    assert any("empty.png" in n and "empty" in n for n in project.notes)
    assert any("corrupt.jpg" in n for n in project.notes)
    with pytest.raises(ProjectError, match="no images found"):
        Project.create(tmp_path / "other", tmp_path / "proj" / "labels", CLASSES)
    assert not (tmp_path / "other" / "project.json").exists()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "bad.png").write_bytes(b"\x89PNG nothing more")
    (tmp_path / "junk" / "empty.tif").write_bytes(b"")
    with pytest.raises(ProjectError, match=r"junk: no readable images.*bad.png.*empty.tif"):
        Project.create(tmp_path / "other", tmp_path / "junk", CLASSES)
    assert not (tmp_path / "other").exists()


def test_missing_image_is_reported_and_relinked_with_its_labels(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    entry = project.images[2]
    labels = np.full((5, 4), 1, np.uint8)
    project.save_labels(entry, labels)
    os.rename(photos / "sub" / "b.jpg", tmp_path / "b-moved.jpg")
    reopened = Project.open(project.root)
    assert [e.name for e in reopened.missing_images()] == ["sub/b.jpg"]
    assert not reopened.images[2].exists and len(reopened.images) == 3
    with pytest.raises(ImageReadError, match="relink"):
        reopened.load_image(entry.id)
    np.testing.assert_array_equal(reopened.load_labels(entry.id), labels)
    with pytest.raises(ProjectError, match="8x6.*4x5"):
        reopened.relink(entry.id, photos / "a.png")
    reopened.relink(entry.id, tmp_path / "b-moved.jpg")
    again = Project.open(project.root)
    assert again.missing_images() == [] and again.images[2].id == entry.id
    np.testing.assert_array_equal(again.load_labels(entry.id), labels)


def test_class_add_rename_recolor(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    project.save_labels(project.images[0], np.full((6, 8), 1, np.uint8))
    assert project.add_class("person") == 3
    project.rename_class(1, "street")
    project.recolor_class(1, (1, 2, 3))
    with pytest.raises(UserError, match="unique"):
        project.add_class("sky")
    reopened = Project.open(project.root)
    assert [c.name for c in reopened.classes] == ["sky", "street", "car", "person"]
    assert reopened.classes[1] == LabelClass("street", (1, 2, 3))
    with Image.open(project.label_path(project.images[0])) as png:
        assert png.convert("RGB").getpixel((0, 0)) == (1, 2, 3)
    assert reopened.label_stats(project.images[0]).counts == [0, 48, 0, 0]


def test_recolour_with_a_broken_label_file_changes_nothing(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    project.save_labels(project.images[0], np.full((6, 8), 1, np.uint8))
    project.label_path(project.images[1]).write_bytes(b"not a png")
    before = (project.root / "project.json").read_text()
    with pytest.raises(UserError, match=project.images[1].id):
        project.recolor_class(1, (1, 2, 3))
    assert project.classes == CLASSES and (project.root / "project.json").read_text() == before
    assert Project.open(project.root).classes == CLASSES


def labelled_project(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    first = np.array([[0, 1, 2, 255]] * 6, np.uint8).repeat(2, axis=1)
    project.save_labels(project.images[0], first)
    project.save_labels(project.images[2], np.full((5, 4), 2, np.uint8))
    return project, first


def test_move_class_renumbers_every_label_file(tmp_path, photos):
    project, first = labelled_project(tmp_path, photos)
    project.move_class(2, 0)  # sky road car -> car sky road
    assert [c.name for c in project.classes] == ["car", "sky", "road"]
    expected = np.array([[1, 2, 0, 255]] * 6, np.uint8).repeat(2, axis=1)
    for proj in (project, Project.open(project.root)):
        np.testing.assert_array_equal(proj.load_labels(proj.images[0]), expected)
        assert (proj.load_labels(proj.images[2]) == 0).all()
        assert proj.label_stats(proj.images[0]).counts == [12, 12, 12]
    assert not (project.root / "labels" / ".staging").exists()
    with Image.open(project.label_path(project.images[0])) as png:  # palette follows
        assert png.convert("RGB").getpixel((0, 0)) == CLASSES[0].color
        assert png.convert("RGB").getpixel((4, 0)) == CLASSES[2].color


def test_delete_class_to_unlabelled_or_merged(tmp_path, photos):
    project, _ = labelled_project(tmp_path, photos)
    project.delete_class(1)  # road pixels become unlabelled
    assert [c.name for c in project.classes] == ["sky", "car"]
    row = np.array([0, 255, 1, 255], np.uint8).repeat(2)
    np.testing.assert_array_equal(project.load_labels(project.images[0]), [row] * 6)
    assert (project.load_labels(project.images[2]) == 1).all()
    project.delete_class(0, merge_into=1)  # sky merged into car
    reopened = Project.open(project.root)
    assert [c.name for c in reopened.classes] == ["car"]
    row = np.array([0, 255, 0, 255], np.uint8).repeat(2)
    np.testing.assert_array_equal(reopened.load_labels(reopened.images[0]), [row] * 6)
    stats = reopened.label_stats(reopened.images[0])
    assert stats.counts == [24] and stats.fraction == pytest.approx(0.5)
    with pytest.raises(ProjectError, match="itself"):
        reopened.delete_class(0, merge_into=0)


def test_class_change_also_renumbers_kept_labels_of_removed_images(tmp_path, photos):
    project, _ = labelled_project(tmp_path, photos)
    removed = project.images[2]
    project.remove_image(removed)
    project.move_class(0, 2)  # car: 2 -> 1
    assert (read_mask(project.label_path(removed)) == 1).all()


def test_interrupted_class_change_completes_or_vanishes_on_open(tmp_path, photos):
    project, first = labelled_project(tmp_path, photos)
    label_file = project.label_path(project.images[0])
    # Killed before the commit point: staged files exist, project.json does not know them.
    staging = project.root / "labels" / ".staging"
    staging.mkdir()
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(staging / label_file.name)
    reopened = Project.open(project.root)
    np.testing.assert_array_equal(reopened.load_labels(reopened.images[0]), first)
    assert staging.exists()  # fresh: perhaps another process is writing it right now
    os.utime(staging, (1_000_000_000, 1_000_000_000))
    reopened = Project.open(project.root)
    np.testing.assert_array_equal(reopened.load_labels(reopened.images[0]), first)
    assert not staging.exists()
    # Killed after the commit point: project.json lists them; opening finishes the move.
    staging.mkdir()
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(staging / label_file.name)
    document = json.loads((project.root / "project.json").read_text())
    document["pending_labels"] = ["a"]
    (project.root / "project.json").write_text(json.dumps(document))
    reopened = Project.open(project.root)
    assert (reopened.load_labels(reopened.images[0]) == 0).all()
    assert "pending_labels" not in json.loads((project.root / "project.json").read_text())


def test_splits_manual_and_seeded_automatic(tmp_path, isbi_dir):
    project = Project.create(tmp_path / "proj", isbi_dir / "images", CLASSES)
    assert {e.split for e in project.images} == {"train"}
    project.set_split(project.images[0], "val")
    with pytest.raises(ProjectError, match="'train' or 'val'"):
        project.set_split(project.images[0], "test")
    assert Project.open(project.root).images[0].split == "val"
    for entry in project.images[:10]:
        project.save_labels(entry, np.zeros((512, 512), np.uint8))
    project.auto_split(0.2, seed=3)
    splits = [e.split for e in project.images]
    assert splits[:10].count("val") == 2 and splits[10:].count("val") == 4
    assert [e.split for e in Project.open(project.root).images] == splits
    project.auto_split(0.2, seed=3)
    assert [e.split for e in project.images] == splits
    project.auto_split(0.2, seed=4)
    assert [e.split for e in project.images] != splits


def test_settings_are_saved(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    project.settings["training"] = {"model": "unet", "epochs": 3}
    project.save()
    project.set_setting("tile", 256)
    reopened = Project.open(project.root / "project.json")
    assert reopened.settings["training"] == {"model": "unet", "epochs": 3}
    assert reopened.settings["tile"] == 256


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_project_is_a_clear_error(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    os.chmod(project.root / "labels", 0o500)
    try:
        with pytest.raises(ProjectError, match=r"labels/a.png: cannot write"):
            project.save_labels(project.images[0], np.zeros((6, 8), np.uint8))
    finally:
        os.chmod(project.root / "labels", 0o700)


def test_unwritable_project_json_is_a_clear_error(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    (project.root / "project.json").unlink()
    (project.root / "project.json").mkdir()  # os.replace onto a folder fails, even as root
    with pytest.raises(ProjectError, match=r"project.json: cannot write"):
        project.set_split(project.images[0], "val")


def test_old_temporaries_of_killed_writes_are_removed_fresh_ones_kept(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    old = project.root / "labels" / ".a.x1y2.png.tmp"
    fresh = project.root / ".project.z9.json.tmp"
    old.write_bytes(b"half a png")
    fresh.write_bytes(b'{"half')
    os.utime(old, (1_000_000_000, 1_000_000_000))
    Project.open(project.root)
    assert not old.exists() and fresh.exists()  # fresh: maybe another process, mid-write


def test_ids_are_file_name_safe_and_unique_ignoring_case(tmp_path):
    names = ["A.png", "a.png", "sub/a b.png", "sub__a b.tif", "é.png"]
    for name in names:
        make_image(tmp_path / "img" / name)
    project = Project.create(tmp_path / "proj", tmp_path / "img", CLASSES)
    ids = {e.name: e.id for e in project.images}
    assert ids == {"A.png": "A", "a.png": "a-2", "sub/a b.png": "sub__a_b",
                   "sub__a b.tif": "sub__a_b-2", "é.png": "_"}
    for entry in project.images:
        project.save_labels(entry, np.full((6, 8), project.images.index(entry) % 3, np.uint8))
    assert len(list((project.root / "labels").glob("*.png"))) == 5
    assert [project.load_labels(e)[0, 0] for e in project.images] == [0, 1, 2, 0, 1]


def test_relink_folder_finds_moved_images_by_name(tmp_path, photos):
    project = Project.create(tmp_path / "proj", photos, CLASSES)
    project.save_labels(project.images[1], np.full((6, 8), 2, np.uint8))
    shutil.move(photos, tmp_path / "moved")
    make_image(tmp_path / "moved" / "elsewhere" / "b.jpg", height=9, width=9)  # not unique
    assert len(project.missing_images()) == 3
    relinked = project.relink_folder(tmp_path / "moved")
    assert [e.name for e in relinked] == ["a.png", "sub/a.png", "sub/b.jpg"]
    reopened = Project.open(project.root)
    assert reopened.missing_images() == []
    assert reopened.images[2].path == tmp_path / "moved" / "sub" / "b.jpg"
    assert (reopened.load_labels(reopened.images[1]) == 2).all()


def test_a_change_that_cannot_be_written_is_undone_in_memory_too(tmp_path, photos):
    """A change whose project.json write failed stayed in memory, and was written with the
    next change: a class delete the window said had not happened then renumbered labels
    painted meanwhile (found by QA)."""
    files = [photos / "a.png", photos / "sub" / "a.png", photos / "sub" / "b.jpg"]
    project = Project.create(tmp_path / "proj", files[:2], CLASSES)
    mask = np.full(project.image_shape(project.images[0]), UNLABELLED, np.uint8)
    mask[:4] = 2
    project.save_labels(project.images[0], mask)
    entries = list(project.images)

    def state():
        return ([(c.name, c.color) for c in project.classes],
                [(e.id, e.split, e.path, e.size, e.stats) for e in project.images],
                dict(project.settings))

    before = state()
    (project.root / "project.json").unlink()
    (project.root / "project.json").mkdir()  # os.replace onto a folder fails, even as root
    moved = tmp_path / "moved.png"
    shutil.copy(files[0], moved)
    changes = [
        lambda: project.add_class("tumour"),
        lambda: project.rename_class(0, "sea"),
        lambda: project.recolor_class(0, (1, 2, 3)),
        lambda: project.delete_class(1),
        lambda: project.move_class(0, 2),
        lambda: project.set_split(entries[1], "val"),
        lambda: project.auto_split(1.0),
        lambda: project.add_images([files[2]]),
        lambda: project.remove_image(entries[1]),
        lambda: project.relink(entries[0], moved),
        lambda: project.set_setting("model_in_use", "models/x"),
    ]
    for change in changes:
        with pytest.raises(ProjectError, match="project.json: cannot write"):
            change()
        assert state() == before
        assert project.images == entries  # the same entries (the window holds them)
    (project.root / "project.json").rmdir()
    project.set_setting("note", "written again")
    again = Project.open(project.root)
    assert [c.name for c in again.classes] == [c.name for c in CLASSES]
    assert [(e.id, e.split, e.path) for e in again.images] == [(e.id, e.split, e.path)
                                                                for e in entries]
    np.testing.assert_array_equal(again.load_labels(entries[0]), mask)  # not renumbered
    assert not (project.root / "labels" / ".staging").exists()
    # What changes nothing writes nothing: no error on a folder that cannot be written.
    (project.root / "project.json").unlink()
    (project.root / "project.json").mkdir()
    (tmp_path / "empty").mkdir()
    assert project.relink_folder(tmp_path / "empty") == []
    project.set_split(entries[0], entries[0].split)

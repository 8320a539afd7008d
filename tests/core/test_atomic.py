import os
import stat

import pytest

import segstudio.core.atomic as atomic
from segstudio.core.atomic import atomic_path, atomic_write_text


def test_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_new_files_get_the_umask_default_and_existing_ones_keep_their_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_UMASK", 0o022)
    target = tmp_path / "new.txt"
    atomic_write_text(target, "x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not mkstemp's private 0600
    os.chmod(target, 0o640)
    atomic_write_text(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_errors_name_the_file_asked_for_not_the_temporary_one(tmp_path, monkeypatch):
    import errno
    import tempfile

    from segstudio.core.errors import os_error_message

    target = tmp_path / "model.onnx"
    with pytest.raises(OSError) as failed, atomic_path(target) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert os_error_message(failed.value) == f"{target}: No space left on device"
    with pytest.raises(OSError) as failed, atomic_path(target):
        raise OSError(errno.ENOSPC, "No space left on device")  # as a full disk's write says
    assert os_error_message(failed.value) == f"{target}: No space left on device"
    assert list(tmp_path.iterdir()) == []

    def read_only(*args, **kwargs):  # what a read-only file system answers (root ignores modes)
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".model.x.onnx.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as failed:
        atomic_write_text(target, "x")
    assert isinstance(failed.value, OSError) and failed.value.errno == errno.EROFS
    assert os_error_message(failed.value) == f"{target}: Read-only file system"

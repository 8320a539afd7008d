"""The `segstudio` entry point: commands, the window, and mistyped input."""

import subprocess
import sys

from segstudio.cli import main


def test_a_mistyped_command_is_one_line_and_exit_code_2(capsys):
    assert main(["trian", "--images", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "'trian' is neither a command" in err and "train" in err


def test_a_missing_path_does_not_start_qt(tmp_path):
    # No display is set: starting Qt here would abort the process instead of exiting 2.
    result = subprocess.run(
        [sys.executable, "-m", "segstudio", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env={"PATH": "", "QT_QPA_PLATFORM": "xcb", "DISPLAY": ""},
    )
    assert result.returncode == 2, result.stderr
    assert "nowhere" in result.stderr and "Traceback" not in result.stderr


def test_version_and_command_help(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "segstudio" in capsys.readouterr().out

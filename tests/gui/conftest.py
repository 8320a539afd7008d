"""GUI test fixtures: isolated user settings and demo folder, small real projects."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_user_settings(tmp_path_factory, monkeypatch):
    """QSettings and the demo project go to temporary folders, never the user's own."""
    monkeypatch.setenv("SEGSTUDIO_SETTINGS_DIR", str(tmp_path_factory.mktemp("settings")))
    monkeypatch.setenv("SEGSTUDIO_DEMO_DIR", str(tmp_path_factory.mktemp("demo") / "demo"))


@pytest.fixture(autouse=True)
def no_unexpected_questions(monkeypatch):
    """A modal question no test answers would wait for a click forever offscreen: it fails
    the test instead (tests that expect one patch QMessageBox.question themselves)."""
    from PySide6.QtWidgets import QMessageBox

    def unexpected(_parent, title, text, *_args, **_kwargs):
        raise AssertionError(f"unexpected question: {title}: {text}")

    monkeypatch.setattr(QMessageBox, "question", unexpected)

"""GUI test fixtures: isolated user settings and demo folder, small real projects."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_user_settings(tmp_path_factory, monkeypatch):
    """QSettings and the demo project go to temporary folders, never the user's own."""
    monkeypatch.setenv("SEGSTUDIO_SETTINGS_DIR", str(tmp_path_factory.mktemp("settings")))
    monkeypatch.setenv("SEGSTUDIO_DEMO_DIR", str(tmp_path_factory.mktemp("demo") / "demo"))

"""Checks for model options: each failure is a UserError naming the option and what is valid."""

from __future__ import annotations

import os

from segstudio.core.errors import UserError


def check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"option {name} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise UserError(f"option {name} must be one of {valid}, got {value!r}")
    return value


def check_optional_path(name: str, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise UserError(f"option {name} must be a file path or None, got {value!r}")
    return os.fspath(value)

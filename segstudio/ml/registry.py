"""Plain-dict registries (name -> builder) whose errors say what is valid.

Models and losses are both built this way: `builder(num_classes, second, **options)`,
where every keyword after the first two parameters is a user-facing option.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from segstudio.core.errors import UserError


def lookup(registry: dict[str, Callable], name: str, kind: str, kinds: str) -> Callable:
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise UserError(f"unknown {kind} {name!r}; valid {kinds}: {', '.join(registry)}") from None


def builder_options(builder: Callable) -> dict:
    """A builder's options with their default values."""
    return {
        param.name: param.default
        for param in list(inspect.signature(builder).parameters.values())[2:]
    }


def check_options(kind: str, name: str, options: dict, valid: dict) -> None:
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"unknown option(s) {', '.join(unknown)} for {kind} {name!r}; "
            f"valid options: {', '.join(valid) or 'none'}"
        )

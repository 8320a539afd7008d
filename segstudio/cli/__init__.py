"""Command line: `segstudio [PROJECT_OR_FOLDER] [--demo]` opens the window;
`segstudio COMMAND ...` runs headless work (train, evaluate, predict, export, project).

Each command lives in its own module with `add_parser(subparsers)` registering
itself and setting `func=run`. A UserError, or an OSError (a path that cannot be
read or written), becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from segstudio import __version__
from segstudio.core.errors import UserError, os_error_message

# command name -> module under segstudio.cli that implements it
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "export": "export",
    "project": "project",
}

EXIT_USER_ERROR = 2


def output_path(text: str) -> Path:
    """The argparse type of --out: a path, not an empty string (which would mean here)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a path, not an empty string")
    return Path(text)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return _run_command(argv)
        return _run_gui(argv)
    except UserError as exc:
        print(f"segstudio: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a path that cannot be written or read: the user's to fix
        print(f"segstudio: error: {os_error_message(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("segstudio: interrupted", file=sys.stderr)
        return 130


def _run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="segstudio")
    subparsers = parser.add_subparsers(dest="command", required=True)
    # Only the command asked for is imported: `segstudio project info` needs no torch.
    module = importlib.import_module(f"segstudio.cli.{COMMANDS[argv[0]]}")
    module.add_parser(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def _run_gui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="Open the segstudio window. Headless commands: " + ", ".join(COMMANDS),
        epilog="Run `segstudio COMMAND --help` for a command's options.",
    )
    parser.add_argument("path", nargs="?", help="a project folder, or a folder of images")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo project")
    parser.add_argument("--version", action="version", version=f"segstudio {__version__}")
    args, unknown = parser.parse_known_args(argv)
    if args.path is not None and not Path(args.path).exists():
        raise UserError(
            f"'{args.path}' is neither a command ({', '.join(COMMANDS)}) "
            "nor an existing project or folder of images"
        )
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    from segstudio.gui.app import run_app  # Qt is imported only when the window opens

    return run_app(path=args.path, demo=args.demo)

"""Errors a user can cause. They carry a message meant for the user.

The CLI prints them as one line and exits with code 2; the GUI shows them in a
message box and keeps running. Anything else is a bug.
"""


class UserError(Exception):
    """A problem with the user's input: a file, an argument, a setting."""


class ImageReadError(UserError):
    """An image file that cannot be read."""


class MaskError(UserError):
    """A label mask that cannot be read or does not fit its image."""


class ProjectError(UserError):
    """A project folder or project.json that cannot be used."""


def naming(exc: OSError, path) -> OSError:
    """The same error about `path`: the file the user asked for, rather than a temporary or
    marker file of ours (or none, as a full disk says)."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def os_error_message(exc: OSError) -> str:
    """One line for a file that cannot be read or written: "PATH: Permission denied"."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"

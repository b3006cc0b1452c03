"""The few exceptions that may escape a stage.

A broken post or a dead link is never an exception: it is a value (a `Problem`, a
status). What raises is a fault of the environment or of what the user asked for::

    ArchiverError
    ├── ConfigError     the configuration file is missing, unreadable or invalid
    ├── OptionError     a command-line option's value is out of its key's range
    ├── InputError      a path given on the command line does not exist
    ├── OutputError     an output file or folder cannot be written
    └── LockedError     another run is using the output folder

The command line turns each into a message and an exit code; nothing here is meant to
reach the user as a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ArchiverError(Exception):
    """Base class of every exception the archiver raises on purpose."""


class ConfigError(ArchiverError):
    """The configuration cannot be used; the message names the file and the key."""

    def __init__(self, path: Path, message: str, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {message}")


class OptionError(ArchiverError):
    """A command-line option's value breaks its configuration key's rules; the message names the option."""

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(f"{option}: {message}")


class InputError(ArchiverError):
    """A post path given by the user does not exist or cannot be read."""


class OutputError(ArchiverError):
    """An output file or folder cannot be created or written; the message names it."""


class LockedError(ArchiverError):
    """Another run holds the output folder; the message says which."""

"""The exceptions tunescope raises for problems a user can fix.

Every `TunescopeError` carries one line that names the value at fault and the
fix. The command line prints that line on stderr, without a traceback, and
exits with `exit_status`.
"""

from __future__ import annotations


class TunescopeError(Exception):
    """An error a person can act on; its message is one line."""

    exit_status = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TunescopeError):
    """An invalid experiment file: the message names file, key path and fix."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        location = f"{source}: {key}" if key else source
        super().__init__(f"{location}: {problem}")


class DataError(TunescopeError):
    """A data set that is missing, unreadable or malformed."""


class ModelError(TunescopeError):
    """A model family that cannot be built from the given settings."""


class RunDirError(TunescopeError):
    """A run directory that does not exist, is not one, or cannot be resumed."""


class DependencyError(TunescopeError):
    """An optional package that a requested feature needs is not installed."""

    def __init__(self, package: str, feature: str, extra: str | None = None) -> None:
        install = f"pip install 'tunescope[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package '{package}', which is not installed; run: {install}")


class StudyFailed(TunescopeError):
    """The study ended on an unexpected error, not on bad input."""

    exit_status = 1

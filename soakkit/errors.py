"""soakkit's exception hierarchy: every user-facing failure is a :class:`SoakkitError`.

Errors carry fields (papermill style), and ``str(error)`` is what the command line
prints: one line per problem, never a traceback. ``exit_code`` is the conventional code
for the error; a command may map it differently where its contract says so (rotation
reports bad arguments with 1, as the legacy tool did).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ArtifactError",
    "ClusterError",
    "ConfigError",
    "JsonFormatError",
    "LockedError",
    "NotebookRunError",
    "Problem",
    "RotationError",
    "RuntimeOverridesError",
    "SoakkitError",
    "StaleRevisionError",
    "TapeError",
    "UsageError",
]


class SoakkitError(Exception):
    """Base class of every error soakkit reports to a user."""

    exit_code: int = 2


class UsageError(SoakkitError):
    """A command-line argument or API argument is invalid."""


@dataclass(frozen=True)
class Problem:
    """One configuration problem: where it is (layer and source), which key, what is wrong."""

    layer: str
    source: str
    key: str | None
    message: str

    def __str__(self) -> str:
        key = f" {self.key}:" if self.key else ""
        return f"{self.layer} ({self.source}):{key} {self.message}"


class ConfigError(SoakkitError):
    """One or more configuration problems, all reported together."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class JsonFormatError(SoakkitError):
    """A JSON document could not be parsed strictly."""

    def __init__(self, source: str, line: int, column: int, message: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.message = message
        where = f"{source}:{line}:{column}" if line else source
        super().__init__(f"{where}: {message}")


class RuntimeOverridesError(SoakkitError):
    """``runtime_overrides.json`` is corrupt or invalid; soakkit fails closed."""

    exit_code = 1


class StaleRevisionError(RuntimeOverridesError):
    """A compare-and-swap write lost: somebody else wrote the file first."""

    def __init__(self, path: str, expected: int, found: int) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(
            f"{path}: revision is {found}, expected {expected}: another writer changed it; "
            "nothing was written")


class ArtifactError(SoakkitError):
    """An artifact folder or file is missing, unknown or unreadable."""

    exit_code = 1


class LockedError(SoakkitError):
    """Another process holds the lock (a rotation, or an active soak run)."""

    exit_code = 1

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        super().__init__(f"locked: {what} ({path}) is held by another process")


class RotationError(SoakkitError):
    """Rotation could not start or could not log; nothing was changed."""

    exit_code = 1


class ClusterError(SoakkitError):
    """A sweep lost its Dask cluster mid-way; what was stored stays, a rerun continues."""

    exit_code = 1


class TapeError(SoakkitError):
    """A recorded market tape is missing, unreadable or invalid (names the file and row)."""

    exit_code = 2


class NotebookRunError(SoakkitError):
    """A notebook could not be prepared or run (bad parameter, missing template or kernel)."""

    exit_code = 2


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (difflib ratio >= 0.6), or ``None``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    best = closest(word, choices)
    return f" (did you mean {best!r}?)" if best else ""

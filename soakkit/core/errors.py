"""Exit codes and the exception hierarchy: every user-facing failure is a :class:`SoakkitError`.

Errors carry fields (papermill style), and ``str(error)`` is what the command line
prints, each line as ``soakkit: error: <line>``: one line per problem, never a traceback.
``exit_code`` is the conventional code for the error (:class:`ExitCode`, the one table the
README, ``docs/ERRORS.md`` and every ``--help`` repeat). The other codes are derived from
it: a report's status (:data:`REPORT_STATUS_CODES`) and ``soakkit rotate``'s legacy codes
(:data:`ROTATE_EXIT_CODES`: bad arguments are 1, as the legacy tool had them, because its 2
means "over budget"; :func:`rotate_exit_code` maps the rest).

An :class:`OSError` on a path the user gave becomes a :class:`FileSystemError`
(:func:`fs_errors`, :func:`filesystem_error`): ``<path>: <what> (<errno name>)``.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "EXIT_CODE_MEANINGS",
    "READ_ERRORS",
    "REPORT_STATUS_CODES",
    "ROTATE_EXIT_CODES",
    "ROTATE_OVER_BUDGET",
    "ROTATE_USAGE",
    "ArtifactError",
    "ClusterError",
    "ConfigError",
    "ExitCode",
    "FileSystemError",
    "JsonFormatError",
    "LockedError",
    "NotebookRunError",
    "Problem",
    "RotationError",
    "RuntimeOverridesError",
    "SoakkitError",
    "StaleRevisionError",
    "StrategyError",
    "TapeError",
    "UsageError",
    "exit_codes_help",
    "filesystem_error",
    "fs_errors",
    "os_reason",
    "printable",
    "rotate_exit_code",
    "unreadable_reason",
]


class ExitCode(IntEnum):
    """Every exit code of ``soakkit`` (README "Exit codes" and ``docs/ERRORS.md`` list them)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    TIMEOUT = 3
    DEAD_KERNEL = 4
    PROBLEMS = 5
    SIGINT = 130
    SIGTERM = 143


#: What each exit code means, in the words of the README table.
EXIT_CODE_MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.OK: "success (a PASS or WARN verdict)",
    ExitCode.FAILED: "a FAIL verdict, a failed notebook cell, a held lock, a file another "
                     "writer changed first, or a strategy that crashed, hung or wrote junk",
    ExitCode.USAGE: "usage, configuration or input error: a bad flag, value, file (a state "
                    "file soakkit refuses, too) or run id, or a path the file system refuses "
                    "(nothing is left half-written)",
    ExitCode.TIMEOUT: "a report cell ran longer than --cell-timeout",
    ExitCode.DEAD_KERNEL: "a report's kernel died",
    ExitCode.PROBLEMS: "ok, with problems: the output is complete, but input files were "
                       "skipped; each one is a `soakkit: warning:` line on stderr",
    ExitCode.SIGINT: "interrupted by Ctrl-C (SIGINT)",
    ExitCode.SIGTERM: "terminated by SIGTERM",
}

_SHORT: Mapping[ExitCode, str] = {
    ExitCode.OK: "ok", ExitCode.FAILED: "failed", ExitCode.USAGE: "usage or input error",
    ExitCode.TIMEOUT: "cell timeout", ExitCode.DEAD_KERNEL: "dead kernel",
    ExitCode.PROBLEMS: "ok, with problems (listed on stderr)",
    ExitCode.SIGINT: "interrupted (SIGINT)", ExitCode.SIGTERM: "terminated (SIGTERM)",
}

#: A report notebook's status (``soakkit.notebooks.RunResult.status``) → its exit code.
REPORT_STATUS_CODES: Mapping[str, ExitCode] = {
    "ok": ExitCode.OK, "error": ExitCode.FAILED, "timeout": ExitCode.TIMEOUT,
    "dead_kernel": ExitCode.DEAD_KERNEL,
}

#: ``soakkit rotate`` keeps the legacy tool's codes: a usage error is a plain failure (1) ...
ROTATE_USAGE = ExitCode.FAILED
#: ... because 2 means "over --max-size-mb after rotation" there.
ROTATE_OVER_BUDGET = 2

#: ``soakkit rotate`` / ``python -m soakkit.rotation``: :class:`ExitCode` with the legacy 2.
ROTATE_EXIT_CODES: Mapping[int, str] = {
    ExitCode.OK: _SHORT[ExitCode.OK],
    ROTATE_USAGE: "error, lock held or bad arguments",
    ROTATE_OVER_BUDGET: "over --max-size-mb after rotation",
    ExitCode.SIGINT: _SHORT[ExitCode.SIGINT],
    ExitCode.SIGTERM: _SHORT[ExitCode.SIGTERM],
}


def rotate_exit_code(code: int) -> int:
    """``code`` (an :class:`ExitCode`) as ``soakkit rotate`` reports it: 2 (usage) → 1."""
    return int(ROTATE_USAGE) if code == ExitCode.USAGE else int(code)


def exit_codes_help(codes: Sequence[int], meanings: Mapping[int, str] | None = None) -> str:
    """The ``exit codes:`` paragraph of a command's ``--help``, from :class:`ExitCode`.

    ``meanings`` gives a command's own wording for a code (``1``: "FAIL verdict"); the
    interrupt codes 130 and 143 are always listed.
    """
    meanings = dict(meanings or {})
    wanted = list(dict.fromkeys([*codes, ExitCode.SIGINT, ExitCode.SIGTERM]))
    parts = [f"{int(c)} {meanings.get(c) or _SHORT[ExitCode(c)]}" for c in wanted]
    lines, line = [], "exit codes:"
    for part in parts:
        piece = f" {part},"
        if len(line) + len(piece) > 88:
            lines.append(line)
            line = " "
        line += piece
    lines.append(line.rstrip(","))
    return "\n".join(lines)


class SoakkitError(Exception):
    """Base class of every error soakkit reports to a user."""

    exit_code: int = ExitCode.USAGE


class UsageError(SoakkitError):
    """A command-line argument or API argument is invalid."""


class Problem(NamedTuple):
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

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[Problem, ...]]]:
        """Pickled with its problems (by default an exception is rebuilt from its message)."""
        return type(self), (self.problems,)


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
    """``runtime_overrides.json`` is corrupt or invalid; soakkit fails closed (exit code 2,
    as every file soakkit refuses: ``soak --resume`` and ``config show`` alike)."""

    exit_code = ExitCode.USAGE


class StaleRevisionError(RuntimeOverridesError):
    """A compare-and-swap write lost: somebody else wrote the file first."""

    exit_code = ExitCode.FAILED

    def __init__(self, path: str, expected: int, found: int) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(
            f"{path}: revision is {found}, expected {expected}: another writer changed it; "
            "nothing was written")


class ArtifactError(SoakkitError):
    """An artifact folder, run or file the user named is missing, unknown or unreadable."""

    exit_code = ExitCode.USAGE


class LockedError(SoakkitError):
    """Another process holds the lock (a rotation, or an active soak run)."""

    exit_code = ExitCode.FAILED

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        super().__init__(f"locked: {what} ({path}) is held by another process")


class RotationError(SoakkitError):
    """Rotation could not start or could not log; nothing was changed."""

    exit_code = ExitCode.FAILED


class ClusterError(SoakkitError):
    """A sweep lost its Dask cluster mid-way; what was stored stays, a rerun continues."""

    exit_code = ExitCode.FAILED


class StrategyError(SoakkitError):
    """A strategy failed while it ran: an external program that crashed, hung past its
    deadline or wrote junk, or a strategy that returned something the engine cannot act
    on. One line naming what it did and when; what was written before stays."""

    exit_code = ExitCode.FAILED


class TapeError(SoakkitError):
    """A recorded market tape is missing, unreadable or invalid (names the file and row)."""

    exit_code = ExitCode.USAGE


class NotebookRunError(SoakkitError):
    """A notebook could not be prepared or run (bad parameter, missing template or kernel)."""

    exit_code = ExitCode.USAGE


class FileSystemError(SoakkitError):
    """The file system refused an operation on a path: ``<path>: <what> (<errno name>)``."""

    exit_code = ExitCode.USAGE

    def __init__(self, path: str, what: str, errno_name: str | None = None) -> None:
        self.path = path
        self.what = what
        self.errno_name = errno_name
        suffix = f" ({errno_name})" if errno_name else ""
        super().__init__(f"{path}: {what}{suffix}")


def _blocking_file(path: str) -> str | None:
    """The nearest existing ancestor of ``path`` that is not a folder (a file in the way)."""
    probe = Path(path)
    for candidate in (probe, *probe.parents):
        with contextlib.suppress(OSError, ValueError):
            if os.path.lexists(candidate):
                return None if candidate.is_dir() else str(candidate)
    return None


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if c not in (0x09,)}


def printable(text: str) -> str:
    """``text`` as one line a terminal shows faithfully: bytes that are not UTF-8 (a file
    name's, carried as surrogates) as ``\\xff``, control characters (a raw ``\\r``, an
    escape sequence, a newline inside a value) as ``\\x1b``."""
    if text.isprintable():
        return text
    try:
        escaped = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name made (a JSON "\\ud800")
        escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.translate(_CONTROL)


def os_reason(exc: OSError) -> str:
    """What the system said, as soakkit words it: ``permission denied (EACCES)``."""
    reason = (exc.strerror or str(exc) or type(exc).__name__).strip()
    name = errno.errorcode.get(exc.errno or 0)
    return reason[:1].lower() + reason[1:] + (f" ({name})" if name else "")


#: What reading (and decompressing) a file may raise: :func:`unreadable_reason` words each.
READ_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error,
                                            UnicodeDecodeError)


def unreadable_reason(exc: BaseException, kind: str = "file") -> str:
    """Why a file could not be read, in soakkit's words (never a library's own, which may
    quote raw bytes): ``truncated: the compressed data ends early``, ``permission denied
    (EACCES)``, else ``not a readable <kind> (truncated or damaged)``."""
    if isinstance(exc, gzip.BadGzipFile):
        return "not gzip-compressed data (or damaged)"
    if isinstance(exc, EOFError):
        return "truncated: the compressed data ends early"
    if isinstance(exc, zlib.error):
        return "damaged compressed data"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and exc.errno:
        return os_reason(exc)
    return f"not a readable {kind} (truncated or damaged)"


def filesystem_error(exc: OSError, path: str | os.PathLike[str] | None = None,
                     action: str | None = None) -> FileSystemError:
    """The one-line :class:`FileSystemError` for ``exc``.

    The path is the one the operating system named (``exc.filename``), else ``path``;
    ``action`` (``"cannot create the run folder"``) goes before the system's reason. A
    "not a directory" names the file that stands where a folder belongs.
    """
    named = exc.filename if isinstance(exc.filename, str | bytes | os.PathLike) else None
    where = named if named is not None else path  # a descriptor (an int) names nothing
    where_text = os.fsdecode(where) if where is not None else "<unknown path>"
    name = errno.errorcode.get(exc.errno or 0)
    reason = (exc.strerror or str(exc) or type(exc).__name__).strip()
    reason = reason[:1].lower() + reason[1:]
    if exc.errno == errno.ENOTDIR and (blocker := _blocking_file(where_text)):
        where_text, reason = blocker, "is a file where a folder belongs"
    elif exc.errno == errno.ENAMETOOLONG:
        reason = f"name too long ({len(where_text)} characters)"
        if len(where_text) > 200:
            where_text = where_text[:96] + "..." + where_text[-96:]
    what = f"{action}: {reason}" if action else reason
    return FileSystemError(where_text, what, name)


@contextlib.contextmanager
def fs_errors(path: str | os.PathLike[str] | None = None,
              action: str | None = None) -> Iterator[None]:
    """Turn an :class:`OSError` inside the ``with`` body into a :class:`FileSystemError`."""
    try:
        yield
    except OSError as exc:
        raise filesystem_error(exc, path, action) from None


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (difflib ratio >= 0.6), or ``None``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    best = closest(word, choices)
    return f" (did you mean {best!r}?)" if best else ""

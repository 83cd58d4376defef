"""What soakkit says on stderr: one path for every message a user reads there.

Every line is ``soakkit: <kind>: <text>`` (``error``, ``warning``, ``note``), so scripts and
people can grep for it; a text of several lines becomes one prefixed line each.

* :func:`error` – a problem that changes the exit code (``soakkit: error: <what and where>``);
* :func:`print_error` – a :class:`~soakkit.core.errors.SoakkitError`, one ``error`` line per
  line of its message (what :func:`soakkit.core.signals.run_command` prints);
* :func:`warning` – the command went on, but something was skipped or is deprecated;
* :func:`note` – context a user may want (why a cache or log was not used);
* :func:`interrupted` – Ctrl-C or SIGTERM ended the command (``soakkit: interrupted (SIGINT)``);
* :func:`progress` – a progress line, as it is (only on a terminal: callers decide).

stderr is looked up at each call, so a redirected ``sys.stderr`` receives the lines.
"""

from __future__ import annotations

import sys

from soakkit.core.errors import SoakkitError, printable

__all__ = ["PROG", "error", "interrupted", "note", "print_error", "progress", "warning"]

#: The name every message starts with.
PROG = "soakkit"


def _lines(prefix: str, text: str) -> None:
    """``prefix`` and each line of ``text``, its control characters escaped."""
    stream = sys.stderr
    for line in text.splitlines() or [""]:
        print(f"{prefix}{printable(line)}", file=stream, flush=True)


def error(text: str) -> None:
    """``soakkit: error: <text>`` on stderr, one line per line of ``text``."""
    _lines(f"{PROG}: error: ", text)


def warning(text: str) -> None:
    """``soakkit: warning: <text>`` on stderr, one line per line of ``text``."""
    _lines(f"{PROG}: warning: ", text)


def note(text: str) -> None:
    """``soakkit: note: <text>`` on stderr, one line per line of ``text``."""
    _lines(f"{PROG}: note: ", text)


def print_error(exc: SoakkitError) -> None:
    """Every line of ``exc`` as ``soakkit: error: <line>`` (its class name when empty)."""
    text = str(exc)
    error(text if text.splitlines() else type(exc).__name__)


def interrupted(signal: str, detail: str | None = None) -> None:
    """``soakkit: interrupted (SIGINT)`` or ``soakkit: interrupted (SIGTERM): <detail>``."""
    _lines("", f"{PROG}: interrupted ({signal})" + (f": {detail}" if detail else ""))


def progress(line: str) -> None:
    """A progress line on stderr, as it is, flushed at once."""
    _lines("", line)

"""Ctrl-C and SIGTERM: both end a command the same way, with exit code 130 or 143.

SIGTERM (what cron, systemd, Airflow and ``kill`` send) raises :class:`Terminated`, a
:class:`KeyboardInterrupt`, so every cleanup path that handles Ctrl-C handles it too: a
soak writes ``RUN.json`` ``interrupted``, a report renames its ``.partial`` folder
``.failed``. :func:`deferred_signals` holds both signals while such cleanup writes its
last files, so a second Ctrl-C cannot cut it short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from soakkit.errors import ExitCode

__all__ = ["Terminated", "deferred_signals", "exit_code_for", "signal_name",
           "terminate_as_interrupt"]


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (raised where Ctrl-C would raise :class:`KeyboardInterrupt`)."""


def signal_name(exc: BaseException) -> str:
    """``SIGTERM`` for :class:`Terminated`, else ``SIGINT``."""
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def exit_code_for(exc: BaseException) -> int:
    """143 for :class:`Terminated`, 130 for Ctrl-C."""
    return ExitCode.SIGTERM if isinstance(exc, Terminated) else ExitCode.SIGINT


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the ``with`` body SIGTERM raises :class:`Terminated` (main thread only)."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during the ``with`` body; raise the first one afterwards.

    For the few writes that must finish once started (the last ``RUN.json``, the rename
    of a report folder). A signal the process ignores stays ignored.
    """
    if not _main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    saved = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current is not signal.SIG_IGN:
            saved[signum] = current if current is not None else signal.SIG_DFL
            signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    if pending:
        raise Terminated() if pending[0] == signal.SIGTERM else KeyboardInterrupt()

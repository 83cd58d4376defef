"""How a command ends: Ctrl-C and SIGTERM (exit code 130 or 143) and every error (one line each).

:func:`run_command` is the one wrapper both command lines use (``soakkit`` and the legacy
``python -m soakkit.rotation``): a :class:`~soakkit.core.errors.SoakkitError`, an
:class:`OSError` that escaped (a path the file system refused) or input nested too deeply
become ``soakkit: error: ...`` lines (:func:`soakkit.core.messages.print_error`) and their
exit code, never a traceback.

SIGTERM (what cron, systemd, Airflow and ``kill`` send) raises :class:`Terminated`, a
:class:`KeyboardInterrupt`, so every cleanup path that handles Ctrl-C handles it too: a
soak writes ``RUN.json`` ``interrupted``, a report renames its ``.partial`` folder
``.failed``. :func:`deferred_signals` holds both signals while such cleanup writes its
last files, so a second Ctrl-C cannot cut it short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from soakkit.core.errors import ExitCode, SoakkitError, UsageError, filesystem_error
from soakkit.core.messages import interrupted, print_error
from soakkit.core.streams import STDOUT_NAME

__all__ = ["Terminated", "deferred_signals", "exit_code_for", "print_error", "run_command",
           "signal_name", "terminate_as_interrupt"]


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


def _silence_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered is dropped at exit
    instead of failing again (and Python printing its own complaint)."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_command(command: Callable[[], int], *,
                codes: Callable[[int], int] | None = None) -> int:
    """Run ``command`` and return its exit code; errors and signals end it cleanly.

    ``codes`` maps an error's :class:`ExitCode` for commands whose contract says otherwise
    (rotation: :func:`soakkit.core.errors.rotate_exit_code`, because its 2 means "over
    budget").
    """
    with terminate_as_interrupt():
        try:
            try:
                try:
                    code = int(command())
                except SystemExit as exc:  # --help / --version
                    code = exc.code if isinstance(exc.code, int) else 0
                sys.stdout.flush()  # a full disk under `> out.txt` is this command's error
                return code
            except BrokenPipeError:  # `soakkit catalog | head`
                _silence_stdout()
                return ExitCode.FAILED
            except SoakkitError as exc:
                error = exc
            except OSError as exc:  # a path the file system refused, wherever it surfaced
                if exc.filename == STDOUT_NAME:  # what is still buffered would fail again
                    _silence_stdout()
                error = filesystem_error(exc, action="cannot write" if exc.filename ==
                                         STDOUT_NAME else None)
            except RecursionError:
                error = UsageError("input nested too deeply to read")
            print_error(error)
            code = int(error.exit_code)
            return codes(code) if codes is not None else code
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
            interrupted(signal_name(exc))
            return exit_code_for(exc)

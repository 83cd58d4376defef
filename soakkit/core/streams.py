"""The process's standard output as soakkit writes it: errors name it, any bytes pass.

A full disk under ``soakkit catalog > out.txt`` raises an :class:`OSError` that names no
file; here it names ``standard output``, so the one-line error says where. Paths are
written as the bytes they are (``surrogateescape``): a folder whose name is not UTF-8 is
printed as it is named, never a :class:`UnicodeEncodeError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

__all__ = ["STDOUT_NAME", "null_for_closed_streams", "standard_output"]

#: How errors name the standard output.
STDOUT_NAME = "standard output"


class _NamedOutput(io.FileIO):
    """File descriptor 1, whose write errors carry :data:`STDOUT_NAME` as their file."""

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return super().write(data)
        except OSError as exc:
            exc.filename = STDOUT_NAME
            raise


def null_for_closed_streams() -> None:
    """Give a process started with stdout or stderr closed (``soakkit … >&-``) /dev/null
    there: what it prints is dropped, as Python's ``print`` drops it, and the descriptor is
    not free for the next file soakkit opens (a child process would write into that file)."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, os.O_WRONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        setattr(sys, name, open(fd, "w", encoding="utf-8", errors="surrogateescape",  # noqa: SIM115
                                closefd=False))


@contextlib.contextmanager
def standard_output() -> Iterator[None]:
    """Inside the block, ``sys.stdout`` (when it is the process's own) writes through
    :class:`_NamedOutput` with ``surrogateescape``; a caller's replacement (a test's
    ``StringIO``) is left alone."""
    original = sys.stdout
    fileno = -1
    if isinstance(original, io.TextIOWrapper) and original is sys.__stdout__:
        with contextlib.suppress(OSError, ValueError):
            fileno = original.fileno()
    if fileno != 1 or not isinstance(original, io.TextIOWrapper):
        yield
        return
    original.flush()
    raw = _NamedOutput(1, "wb", closefd=False)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=original.encoding,
                                  errors="surrogateescape",
                                  line_buffering=bool(original.line_buffering))
    try:
        yield
    finally:
        replacement, sys.stdout = sys.stdout, original
        with contextlib.suppress(OSError, ValueError):
            replacement.flush()
        with contextlib.suppress(OSError, ValueError):
            replacement.detach()

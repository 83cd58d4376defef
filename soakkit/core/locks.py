"""Advisory file locks (``flock``): released by the kernel when a process dies.

Used by the soak runner (an active run holds its run lock), by rotation (one rotation
per tree; it skips runs whose lock is held) and by the runtime-overrides writer
(compare-and-swap). No stale lock files ever need a manual unlock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from soakkit.core.errors import LockedError

__all__ = ["close_inherited_locks", "exclusive_lock", "folder_lock", "is_locked"]

#: Descriptors of the locks this process holds (a forked child closes its copies).
_HELD: set[int] = set()


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


@contextlib.contextmanager
def exclusive_lock(path: Path, what: str, *, wait_s: float = 0.0,
                   poll_s: float = 0.05) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the ``with`` body.

    Waits up to ``wait_s`` seconds for another holder, then raises
    :class:`~soakkit.core.errors.LockedError` naming ``what``.
    """
    fd = _open_lock(Path(path))
    try:
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockedError(str(path), what) from None
                time.sleep(poll_s)
        _HELD.add(fd)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # closing the descriptor releases the lock


def close_inherited_locks() -> None:
    """In a forked child: close the copies of the parent's lock descriptors.

    The parent keeps its locks (an ``flock`` lives until every descriptor of it is
    closed), and a child that outlives a killed parent no longer holds them.
    """
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


def is_locked(path: Path) -> bool:
    """True when another process holds ``path``'s lock (a file or a folder; never creates it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the folder ``path`` itself (it follows renames).

    Marks a folder as being written by a live process (a report's ``.partial`` folder);
    :func:`is_locked` asks. Raises :class:`~soakkit.core.errors.LockedError` if held.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise LockedError(str(path), "a folder being written") from None
        yield
    finally:
        os.close(fd)


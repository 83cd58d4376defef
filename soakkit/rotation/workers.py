"""Use the second core: run pure work on shares of a list in forked children.

:func:`fork_map` is what the scan and the compression use instead of a process pool. A
child only reads (files, folders) and computes; it never writes into the tree, closes its
copies of the parent's lock descriptors first (a child outliving a ``kill -9`` of its
parent holds no lock), sends its result back through a pipe and exits. A child that fails
or dies is redone by the parent, so a result never depends on the children.

:func:`thread_each` is for the parent's own per-file work that releases the GIL (system
calls that wait for the disk, zlib and hashlib on large buffers): a few threads of this
process run side by side and die with it; they are joined before it returns, so the process
can fork again.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from soakkit.core.locks import close_inherited_locks

__all__ = ["CPU_THREADS", "IO_THREADS", "can_fork", "fork_map", "thread_each"]

#: Threads of :func:`thread_each` for system calls: more than the cores, as most of their
#: time is a wait for the disk (on a filesystem mounted with ``discard`` every unlink waits
#: for one; 1,000 unlinks took 4-10x less time in 8 threads than in one, docs/PERFORMANCE.md).
IO_THREADS = 8
#: Threads of :func:`thread_each` for computing (the cores this process may use).
CPU_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1))

S = TypeVar("S")
R = TypeVar("R")


def can_fork() -> bool:
    """True when forking is safe: no other Python or native thread in this process."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1]) == 1
    except OSError:
        return False
    return False


def _child(func: Callable[[S], R], share: S, write_fd: int, parent: int) -> None:
    code = 1
    try:
        close_inherited_locks()
        result = func(share)
        if os.getppid() == parent:  # an orphan's result has no reader
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            code = 0
    finally:
        os._exit(code)


def _collect(pid: int, read_fd: int) -> tuple[bool, object]:
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        return False, None
    try:
        return True, pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, ValueError):
        return False, None


def fork_map(func: Callable[[S], R], shares: Sequence[S]) -> list[R]:
    """``[func(s) for s in shares]``: ``shares[1:]`` in forked children, ``shares[0]`` here.

    Call only when :func:`can_fork`; ``func`` must not write files (the parent does).
    """
    parent = os.getpid()
    children: list[tuple[int, int] | None] = []
    for share in shares[1:]:
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            children.append(None)
            continue
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            os.close(read_fd)
            _child(func, share, write_fd, parent)
        os.close(write_fd)
        children.append((pid, read_fd))
    results: list[R] = [func(shares[0])]
    for share, child in zip(shares[1:], children, strict=True):
        ok, value = (False, None)
        if child is not None:
            with contextlib.suppress(OSError):
                ok, value = _collect(*child)
        results.append(value if ok else func(share))  # type: ignore[arg-type]
    return results


def thread_each(func: Callable[[S], object], items: Sequence[S],
                threads: int = IO_THREADS) -> None:
    """``func(item)`` for every item, the items shared among ``threads`` threads (this one
    included), in no particular order; ``func`` handles its own errors (the first exception
    that escapes is raised once every thread has ended). One thread for a short list."""
    threads = min(threads, len(items) // 4)
    if threads <= 1:
        for item in items:
            func(item)
        return
    escaped: list[BaseException] = []

    def run(share: Sequence[S]) -> None:
        try:
            for item in share:
                func(item)
        except BaseException as exc:
            escaped.append(exc)

    others = [threading.Thread(target=run, args=(items[k::threads],), daemon=True)
              for k in range(1, threads)]
    for thread in others:
        thread.start()
    try:
        run(items[0::threads])
    finally:
        for thread in others:
            thread.join()
    if escaped:
        raise escaped[0]

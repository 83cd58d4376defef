"""GNU ``find`` listing the catalog's folders in a process of its own (no polars).

A cold load checks every ITER_SUMMARY file against its iteration log, so it ``lstat``\\ s
every file (:mod:`soakkit.catalog.scan`). :class:`FindListing` starts ``find`` on the
folders and keeps its output in memory (a ``memfd``, else an unlinked temporary file) so it
runs to the end unread: started before polars is imported (:mod:`soakkit.catalog.entry`),
it lists the files on the other core while the interpreter imports polars.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

__all__ = ["FIND_ARG_BYTES", "FIND_MIN_FOLDERS", "FindListing", "findable"]

#: The fewest folders listed by ``find`` (below, a thread costs less than a process).
FIND_MIN_FOLDERS = 8
#: The most bytes of folder paths one ``find`` command line takes (more: more commands).
FIND_ARG_BYTES = 64 * 1024
#: ``find -printf``: folder NUL name NUL inode NUL size NUL mtime, a line per regular file.
_PRINTF = "%h\\0%f\\0%i\\0%s\\0%T@\\n"


def findable(folders: Sequence[Path]) -> bool:
    """Many folders, with paths find takes and prints as they are."""
    if len(folders) < FIND_MIN_FOLDERS:
        return False
    try:
        return not any(text.startswith("-") or any(c in text for c in "\n\r\x00")
                       for text in (os.fsencode(f).decode("utf-8") for f in folders))
    except UnicodeDecodeError:
        return False


def _distinct(folders: Sequence[Path]) -> list[str]:
    """The folders as text, each once, in their order."""
    return list(dict.fromkeys(map(str, folders)))


def _command_lines(folders: Sequence[Path]) -> list[list[str]]:
    """The folders, each once, in groups of at most :data:`FIND_ARG_BYTES` of paths (a
    command line's length is bounded; a folder given twice would list its files twice), none
    for no folder (find without a path lists the working directory)."""
    out: list[list[str]] = []
    size = 0
    for folder in _distinct(folders):
        length = len(os.fsencode(folder)) + 1  # the kernel counts bytes, with the NUL
        if not out or size + length > FIND_ARG_BYTES:
            out.append([])
            size = 0
        out[-1].append(folder)
        size += length
    return out


def _memory_file() -> IO[bytes]:
    """A file in memory for a child's output (read back from its start)."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("soakkit-find", os.MFD_CLOEXEC), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


class FindListing:
    """``find`` listing ``folders`` (one command line at a time, the first one started
    now): :meth:`output` waits for its lines, :meth:`close` (from any thread) stops what
    still runs.

    Use as a context manager (or call :meth:`close`): no ``find`` outlives it.
    """

    def __init__(self, folders: Sequence[Path]) -> None:
        self._folders = _distinct(folders)
        self._lines = _command_lines(folders)
        self._lock = threading.Lock()
        self._running: tuple[subprocess.Popen[bytes], IO[bytes]] | None = None
        self._failed = self._closed = False
        self._output: bytes | None = None
        self._next = 0
        self._start()

    def _start(self) -> None:
        """Start the next command line, if any (a failure to start: :meth:`output` is
        None, and the caller lists the files another way)."""
        if self._closed or self._next >= len(self._lines):
            return
        paths = self._lines[self._next]
        self._next += 1
        try:
            out = _memory_file()
        except OSError:  # out of descriptors or memory
            self._failed = True
            return
        try:
            proc = subprocess.Popen(
                ["find", "-H", *paths, "-ignore_readdir_race", "-mindepth", "1",
                 "-maxdepth", "1", "-type", "f", "-printf", _PRINTF],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
                env={**os.environ, "LC_ALL": "C"})
        except OSError:
            out.close()
            self._failed = True
            return
        self._running = (proc, out)

    def output(self) -> bytes | None:
        """Every regular file directly in the folders as ``find`` printed it, or None where
        find is missing or fails, or the listing was closed before it was complete."""
        chunks: list[bytes] = []
        while True:
            with self._lock:
                if self._ended():
                    return self._output
                if self._running is None:
                    self._output = b"".join(chunks)
                    return self._output
                proc, out = self._running
            code = proc.wait()  # without the lock: close() may stop it meanwhile
            with self._lock:
                if self._closed:  # close() took it, and closed its output
                    return None
                self._running = None
                with out:
                    out.seek(0)
                    chunks.append(out.read())
                if code != 0:
                    self._failed = True
                    return None
                self._start()

    def lists(self, folders: Sequence[Path]) -> bool:
        """Started for exactly ``folders`` (in their order, each once)."""
        return self._folders == _distinct(folders)

    def _ended(self) -> bool:
        """Complete, failed or closed (read with the lock held)."""
        return self._output is not None or self._failed or self._closed

    def close(self) -> None:
        """Stop a ``find`` still running and free its output (:meth:`output` is then None
        unless it was complete)."""
        with self._lock:
            self._closed = True
            running, self._running = self._running, None
        if running is not None:
            proc, out = running
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()

    def __enter__(self) -> FindListing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

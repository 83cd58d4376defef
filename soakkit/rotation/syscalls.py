"""Linux system calls Python's ``os`` lacks, through libc, each with a portable fallback.

* :func:`syncfs` – ``syncfs(fd)``: make everything written to one filesystem durable with
  one call (one cache flush) instead of an ``fsync`` per file; it reports write-back errors
  only since Linux 5.8 (:func:`syncfs_reports_errors`), so elsewhere callers fsync each file;
* :func:`start_writeback` – ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` on many files, so the
  ``fsync`` calls that follow mostly wait for one journal commit instead of one each;
* :func:`rename_noreplace` – ``renameat2(RENAME_NOREPLACE)``: publish a temp file under its
  final name in one step, never clobbering (else ``link`` + ``unlink``: two steps).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["SYNCFS_FILESYSTEMS", "filesystem_magic", "rename_noreplace", "start_writeback",
           "syncfs", "syncfs_covers", "syncfs_reports_errors"]

_SYNC_FILE_RANGE_WRITE = 2
#: Linux reports write-back errors through ``syncfs`` since this release (errseq on the
#: superblock; before it, ``syncfs`` returned 0 even when writing a file's data failed).
SYNCFS_ERRORS_SINCE = (5, 8)
_RENAME_NOREPLACE = 1
#: Filesystems (``statfs`` ``f_type``, linux/magic.h) whose ``syncfs`` writes every file's
#: data to their own device: ext2/3/4, XFS, Btrfs, F2FS, tmpfs. Elsewhere (FUSE, NFS, CIFS,
#: overlays...) ``syncfs`` may return 0 without the data reaching storage (a FUSE server
#: without FUSE_SYNCFS), while an ``fsync`` does reach it: those get an fsync per file.
SYNCFS_FILESYSTEMS = frozenset({0xEF53, 0x58465342, 0x9123683E, 0xF2F52010, 0x01021994})
_STATFS_BYTES = 256  #: larger than any ``struct statfs``; ``f_type`` is its first word


@functools.cache
def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _function(name: str) -> Any:
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None


def _kernel_release(release: str) -> tuple[int, int]:
    """``(major, minor)`` of a Linux release string such as ``6.18.44-fc``; (0, 0) if odd."""
    fields = release.split(".")
    try:
        return int(fields[0]), int("".join(c for c in fields[1] if c.isdigit()) or "0")
    except (IndexError, ValueError):
        return 0, 0


@functools.cache
def syncfs_reports_errors() -> bool:
    """True when :func:`syncfs` exists here and reports write-back errors (Linux ≥ 5.8)."""
    uname = os.uname()
    return (uname.sysname == "Linux" and _function("syncfs") is not None
            and _kernel_release(uname.release) >= SYNCFS_ERRORS_SINCE)


def filesystem_magic(fd: int) -> int | None:
    """The ``f_type`` of the filesystem holding ``fd`` (``fstatfs``); None if unknown."""
    fstatfs = _function("fstatfs")
    if fstatfs is None:
        return None
    buffer = ctypes.create_string_buffer(_STATFS_BYTES)
    if fstatfs(fd, buffer) != 0:
        return None
    return ctypes.c_long.from_buffer(buffer).value


def syncfs_covers(fd: int) -> bool:
    """True when one :func:`syncfs` makes every file written on ``fd``'s filesystem durable
    and reports their write-back errors: Linux ≥ 5.8 and a filesystem of
    :data:`SYNCFS_FILESYSTEMS`."""
    return syncfs_reports_errors() and filesystem_magic(fd) in SYNCFS_FILESYSTEMS


def syncfs(fd: int) -> None:
    """Write the whole filesystem holding ``fd`` to stable storage; ``OSError`` if any
    write-back on it failed since ``fd`` was opened or last passed here (Linux ≥ 5.8)."""
    function = _function("syncfs")
    if function is None:
        raise OSError(errno.ENOSYS, "syncfs is not available")
    if function(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def start_writeback(fds: Sequence[int]) -> None:
    """Ask the kernel to start writing every file of ``fds`` now (a no-op elsewhere)."""
    sync_range = _function("sync_file_range")
    if sync_range is None:
        return
    for fd in fds:
        sync_range(fd, ctypes.c_longlong(0), ctypes.c_longlong(0), _SYNC_FILE_RANGE_WRITE)


_NOREPLACE_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


def rename_noreplace(dir_fd: int, src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` in the folder ``dir_fd``; ``FileExistsError`` if ``dst``
    exists. Atomic where ``renameat2`` works; else ``link`` then ``unlink`` (a crash in
    between leaves both names, and the temp one is removed by the next run)."""
    renameat2 = _function("renameat2")
    if renameat2 is not None:
        if renameat2(dir_fd, os.fsencode(src), dir_fd, os.fsencode(dst),
                     _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in _NOREPLACE_UNSUPPORTED:
            raise OSError(code, os.strerror(code), dst)
    os.link(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(src, dir_fd=dir_fd)

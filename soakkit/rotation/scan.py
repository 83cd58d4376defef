"""Scan the artifacts tree once: ``lstat`` only, never following symlinks or leaving the filesystem.

:func:`walk` scans and plans every folder (the planner is pure and per folder, so both run
together). On a large tree it splits the folders between the calling process and forked
children (``jobs``, :mod:`soakkit.rotation.workers`), which is how a Python walk keeps pace
with ``find`` on 2 cores; the merged result is sorted, so it does not depend on how the work
was split.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soakkit.artifacts.layout import RUN_LOCK
from soakkit.core.errors import RotationError, os_reason
from soakkit.core.io import file_time_ns
from soakkit.core.locks import is_locked
from soakkit.rotation.plan import (
    FILE,
    OTHER,
    OTHER_DEVICE,
    SYMLINK,
    DirPlan,
    DirScan,
    plan_directory,
)
from soakkit.rotation.policy import PROTECTED_DIRS, ROTATION_DIR, RotationPolicy
from soakkit.rotation.workers import can_fork, fork_map

__all__ = ["DIR_FLAGS", "Walk", "check_root", "natural_key", "open_dir", "walk"]

_NUM = re.compile(r"(\d+)")
_S_IFMT, _S_IFREG, _S_IFDIR, _S_IFLNK = 0o170000, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK


#: How rotation opens a folder: a real directory, never through a symlink.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def natural_key(path: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing digit runs as numbers (``run2`` before ``run10``)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _NUM.split(path) if p)


@dataclass(frozen=True)
class _Job:
    rel: str
    active: bool
    protected: bool


def _listing(entries: Iterator[os.DirEntry[str]], rel: str,
             errors: list[str]) -> Iterator[os.DirEntry[str]]:
    """``entries`` until the listing fails (some kernel folders refuse midway, /proc's with
    EINVAL): the failure is one error line for the folder, the entries before it count."""
    try:
        yield from entries
    except OSError as exc:
        errors.append(f"{rel or '.'}: cannot list: {os_reason(exc)}")


def _scan_one(root: str, job: _Job, root_dev: int) -> tuple[DirScan, list[_Job], list[str]]:
    """List one folder: entries with lstat fields, and the sub-folders to descend into."""
    path = os.path.join(root, job.rel) if job.rel else root
    names: list[str] = []
    flat: list[int] = []  # per entry: kind size blocks mtime_ns nlink ino
    subdirs: list[_Job] = []
    errors: list[str] = []
    try:  # listed through a descriptor: each stat is then one lookup, not a whole path's
        fd = os.open(path, DIR_FLAGS)
    except OSError as exc:
        errors.append(f"{job.rel or '.'}: cannot list: {os_reason(exc)}")
        return _empty_scan(job.rel), [], errors
    has_lock = False
    try:
        with os.scandir(fd) as it:
            for entry in _listing(it, job.rel, errors):
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished between listing and stat
                fmt = st.st_mode & _S_IFMT  # inline S_ISREG/S_ISDIR: this loop runs per file
                if fmt == _S_IFREG:
                    kind = FILE
                    if entry.name == RUN_LOCK:
                        has_lock = True
                elif fmt == _S_IFDIR:
                    if not job.rel and entry.name == ROTATION_DIR:
                        continue  # rotation's own log, manifest and lock: never scanned or counted
                    if st.st_dev == root_dev:
                        rel = f"{job.rel}/{entry.name}" if job.rel else entry.name
                        protected = job.protected or (not job.rel and entry.name in PROTECTED_DIRS)
                        subdirs.append(_Job(rel, job.active, protected))
                        continue
                    kind = OTHER_DEVICE
                elif fmt == _S_IFLNK:
                    kind = SYMLINK
                else:
                    kind = OTHER
                names.append(entry.name)
                flat += (kind, st.st_size, st.st_blocks, file_time_ns(st), st.st_nlink,
                         st.st_ino)
    finally:
        os.close(fd)
    active = job.active or (has_lock and is_locked(Path(path) / RUN_LOCK))
    if active and not job.active:  # the run is live: so is everything below it
        subdirs = [_Job(j.rel, True, j.protected) for j in subdirs]
    table = np.array(flat, dtype=np.int64).reshape(-1, 6)
    scan = DirScan(job.rel, names, table[:, 0].astype(np.int8), table[:, 1], table[:, 2],
                   table[:, 3], table[:, 4], table[:, 5], active=active,
                   protected=job.protected)
    return scan, subdirs, errors


def _empty_scan(rel: str) -> DirScan:
    zero = np.zeros(0, dtype=np.int64)
    return DirScan(rel, [], zero.astype(np.int8), zero, zero, zero, zero, zero)


def _walk_jobs(root: str, jobs: Iterable[_Job], root_dev: int, policy: RotationPolicy,
               now_s: float, render: bool) -> tuple[list[DirPlan], list[str]]:
    plans: list[DirPlan] = []
    errors: list[str] = []
    stack = list(jobs)
    while stack:
        scan, subdirs, errs = _scan_one(root, stack.pop(), root_dev)
        plans.append(plan := plan_directory(scan, policy, now_s))
        if render:
            plan.render_dry_run()
        errors += errs
        stack += subdirs
    return plans, errors


@dataclass(frozen=True)
class Walk:
    """Every folder's plan (sorted by path, numeric-aware) and the folders that failed."""

    root_dev: int
    dirs: tuple[DirPlan, ...]
    errors: tuple[str, ...]


def open_dir(root_fd: int, rel: str, dev: int) -> int:
    """Open ``rel`` below ``root_fd`` one component at a time, never following a symlink."""
    fd = os.dup(root_fd)
    for part in [p for p in rel.split("/") if p]:
        try:
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
        if os.fstat(fd).st_dev != dev:
            os.close(fd)
            raise OSError(errno.EXDEV, "crosses into another filesystem")
    return fd


def check_root(root: Path) -> os.stat_result:
    """``--artifacts`` must exist and be a real directory (not a file, not a symlink)."""
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        raise RotationError(f"--artifacts {root}: no such directory") from None
    except OSError as exc:
        raise RotationError(f"--artifacts {root}: {os_reason(exc)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise RotationError(f"--artifacts {root}: is a symlink; give the real directory")
    if not stat.S_ISDIR(st.st_mode):
        raise RotationError(f"--artifacts {root}: not a directory")
    return st


def walk(root: Path, policy: RotationPolicy, now_s: float, jobs: int = 1,
         render: bool = False) -> Walk:
    """Scan and plan the whole tree under ``root`` with up to ``jobs`` processes (with
    ``render``, each also renders its folders' dry-run lines: the second core's share)."""
    root_st = check_root(root)
    root_s = os.fspath(root)
    dev = root_st.st_dev
    plans: list[DirPlan] = []
    errors: list[str] = []
    frontier = [_Job("", False, False)]
    parallel = jobs > 1 and can_fork()
    # expand breadth-first until there is enough work to share
    while frontier and (not parallel or len(frontier) < 8 * jobs):
        level: list[_Job] = []
        for job in frontier:
            scan, subdirs, errs = _scan_one(root_s, job, dev)
            plans.append(plan_directory(scan, policy, now_s))
            errors += errs
            level += subdirs
        frontier = level
        if not parallel:
            more, errs = _walk_jobs(root_s, frontier, dev, policy, now_s, render)
            plans += more
            errors += errs
            frontier = []
    if frontier:
        frontier.sort(key=lambda j: natural_key(j.rel))
        shares = [frontier[i::jobs] for i in range(jobs)]
        for more, errs in fork_map(
                lambda share: _walk_jobs(root_s, share, dev, policy, now_s, render), shares):
            plans += more
            errors += errs
    plans.sort(key=lambda p: natural_key(p.rel))
    return Walk(dev, tuple(plans), tuple(sorted(errors)))

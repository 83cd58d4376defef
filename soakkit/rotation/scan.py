"""Scan the artifacts tree once: ``lstat`` only, never following symlinks or leaving the filesystem.

:func:`walk` scans and plans every folder (the planner is pure and per folder, so both run
together). On a large tree it splits the folders between the calling process and forked
children (``jobs``, :mod:`soakkit.rotation.workers`), which is how a Python walk keeps pace
with ``find`` on 2 cores; the merged result is sorted, so it does not depend on how the work
was split.
"""

from __future__ import annotations

import errno
import itertools
import operator
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soakkit.artifacts.layout import RUN_LOCK
from soakkit.core import collector
from soakkit.core.errors import RotationError, os_reason
from soakkit.core.io import FILE_TIME_NS_RANGE, file_time_ns
from soakkit.core.locks import is_locked
from soakkit.rotation.plan import (
    FILE,
    OTHER,
    OTHER_DEVICE,
    SYMLINK,
    DirPlan,
    DirScan,
    plan_directory,
    stored_inode,
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


#: The lstat fields the planner keeps, read per entry in C (``map``) once a folder is listed
#: (``st_dev`` only for folders: they are few).
_FIELDS = operator.attrgetter("st_mode", "st_size", "st_blocks", "st_mtime_ns", "st_nlink",
                              "st_ino")
_MODE, _SIZE, _BLOCKS, _MTIME, _NLINK, _INO = range(6)


def _stat_table(stats: list[os.stat_result]) -> np.ndarray:
    """The entries' :data:`_FIELDS` as an int64 table, one row per entry; file times
    within soakkit's range (:func:`~soakkit.core.io.file_time_ns`), inodes of 2**63 or more
    as their two's complement (some file systems number them so)."""
    try:
        table = np.fromiter(itertools.chain.from_iterable(map(_FIELDS, stats)),
                            dtype=np.int64, count=6 * len(stats)).reshape(-1, 6)
    except OverflowError:  # a time beyond int64 or such an inode: those rows field by field
        table = np.array([(*fields[:_MTIME], file_time_ns(st), fields[_NLINK],
                           stored_inode(fields[_INO]))
                          for st, fields in zip(stats, map(_FIELDS, stats), strict=True)],
                         dtype=np.int64).reshape(-1, 6)
    np.clip(table[:, _MTIME], *FILE_TIME_NS_RANGE, out=table[:, _MTIME])
    return table


def _scan_one(root: str, job: _Job, root_dev: int) -> tuple[DirScan, list[_Job], list[str]]:
    """List one folder: entries with lstat fields, and the sub-folders to descend into.

    The loop per entry only lists and stats (what any scan must do); kinds, fields and the
    sub-folders are read from the folder's stats afterwards, in bulk."""
    path = os.path.join(root, job.rel) if job.rel else root
    names: list[str] = []
    stats: list[os.stat_result] = []
    errors: list[str] = []
    try:  # listed through a descriptor: each stat is then one lookup, not a whole path's
        fd = os.open(path, DIR_FLAGS)
    except OSError as exc:
        errors.append(f"{job.rel or '.'}: cannot list: {os_reason(exc)}")
        return _empty_scan(job.rel), [], errors
    try:
        with os.scandir(fd) as it:
            try:
                for entry in it:
                    try:
                        stats.append(entry.stat(follow_symlinks=False))
                    except OSError:
                        continue  # vanished between listing and stat
                    names.append(entry.name)
            except OSError as exc:  # some kernel folders refuse midway (/proc's: EINVAL):
                # one error line for the folder, the entries before it count
                errors.append(f"{job.rel or '.'}: cannot list: {os_reason(exc)}")
    finally:
        os.close(fd)
    table = _stat_table(stats)
    fmt = table[:, _MODE] & _S_IFMT
    kind = np.full(len(names), OTHER, dtype=np.int8)
    kind[fmt == _S_IFREG] = FILE
    kind[fmt == _S_IFLNK] = SYMLINK
    subdirs: list[_Job] = []
    dropped: list[int] = []  # folders descended into, and rotation's own: not entries here
    for i in np.flatnonzero(fmt == _S_IFDIR).tolist():
        name = names[i]
        if not job.rel and name == ROTATION_DIR:
            dropped.append(i)  # rotation's own log, manifest and lock: never scanned or counted
        elif stats[i].st_dev == root_dev:
            rel = f"{job.rel}/{name}" if job.rel else name
            protected = job.protected or (not job.rel and name in PROTECTED_DIRS)
            subdirs.append(_Job(rel, job.active, protected))
            dropped.append(i)
        else:
            kind[i] = OTHER_DEVICE
    if dropped:
        rows = np.delete(np.arange(len(names)), dropped)
        names = [names[i] for i in rows.tolist()]
        table, kind = table[rows], kind[rows]
    has_lock = RUN_LOCK in names and kind[names.index(RUN_LOCK)] == FILE
    active = job.active or (has_lock and is_locked(Path(path) / RUN_LOCK))
    if active and not job.active:  # the run is live: so is everything below it
        subdirs = [_Job(j.rel, True, j.protected) for j in subdirs]
    scan = DirScan(job.rel, names, kind, table[:, _SIZE], table[:, _BLOCKS], table[:, _MTIME],
                   table[:, _NLINK], table[:, _INO], active=active, protected=job.protected)
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
    with collector.paused():  # a stat result and a name per file, and not one cycle
        return _walk(root, policy, now_s, jobs, render)


def _walk(root: Path, policy: RotationPolicy, now_s: float, jobs: int, render: bool) -> Walk:
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

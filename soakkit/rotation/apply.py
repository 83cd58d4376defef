"""Plan, then apply: :func:`rotate` is the one entry point of artifact rotation.

A real run takes the rotation lock, opens the log (an unwritable log stops everything),
scans and plans the tree once with one captured ``now``, then executes the plan phase by
phase: ``recover`` (leftovers of an interrupted run), ``history`` (preserve the content of
every ITER_SUMMARY about to be deleted in the folder's ``iterations.jsonl.gz``, read back
and verified), ``delete``, ``compress`` (crash-safe, in place), ``budget`` (only with
``--delete-to-budget``). A dry run computes the same plan and changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from soakkit import __version__
from soakkit.artifacts import HISTORY_FILE, read_history, write_history
from soakkit.errors import JsonFormatError, RotationError
from soakkit.io import canonical_json, format_utc, loads_strict
from soakkit.locks import exclusive_lock
from soakkit.rotation.compress import (
    CompressOutcome,
    compress_in_place,
    decompress_bytes,
    finish_interrupted,
    sha256_of_decompressed,
    temp_name,
)
from soakkit.rotation.log import (
    append_line,
    append_manifest,
    ensure_rotation_dir,
    last_record,
    open_log,
)
from soakkit.rotation.plan import (
    DELETE,
    FILE,
    KEEP,
    PHASES,
    R_BUDGET,
    R_COMPRESSED,
    Decision,
    DirPlan,
)
from soakkit.rotation.policy import LOCK_FILE, RotationPolicy
from soakkit.rotation.scan import Walk, check_root, open_dir, walk

__all__ = ["Plan", "RotationResult", "Sizes", "plan_rotation", "rotate"]


@dataclass(frozen=True)
class Sizes:
    """Regular files under the root: count, apparent bytes (st_size), allocated (st_blocks)."""

    files: int
    apparent_bytes: int
    allocated_bytes: int

    def to_json(self) -> dict[str, int]:
        return {"files": self.files, "apparent_bytes": self.apparent_bytes,
                "allocated_bytes": self.allocated_bytes}


def _sizes(dirs: tuple[DirPlan, ...]) -> Sizes:
    files = apparent = blocks = 0
    for d in dirs:
        regular = d.kind == FILE
        files += int(regular.sum())
        apparent += int(d.size[regular].sum())
        blocks += int(d.blocks[regular].sum())
    return Sizes(files, apparent, blocks * 512)


@dataclass
class Plan:
    """Every decision for the tree, in execution order."""

    root: Path
    now: datetime
    policy: RotationPolicy
    walk: Walk
    before: Sizes

    def decisions(self, *, include_keep: bool = False) -> Iterator[Decision]:
        """Decisions in (phase, folder, numeric file) order; keeps only when asked."""
        by_phase: dict[str, list[Decision]] = {p: [] for p in PHASES}
        for d in self.walk.dirs:
            for i in d.order:
                if not include_keep and int(d.verb[i]) == KEEP:
                    continue
                decision = d.decision(i)
                by_phase[decision.phase].append(decision)
        for phase in PHASES:
            if phase == "history":
                yield from self.history_decisions()
            yield from by_phase[phase]

    def history_decisions(self) -> Iterator[Decision]:
        """One ``history`` decision per folder losing ITER_SUMMARY files."""
        for d in self.walk.dirs:
            doomed = [i for i in d.rows((DELETE,)) if d.iteration[i] >= 0]
            if doomed:
                path = f"{d.rel}/{HISTORY_FILE}" if d.rel else HISTORY_FILE
                yield Decision("history", "preserve", path,
                               f"history:preserve(iterations={len(doomed)})", 0, 0, 0, 0, None)

    def kept_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.walk.dirs:
            for code in np.unique(d.reason[d.verb == KEEP]).tolist():
                label = d.decision(int(np.flatnonzero((d.verb == KEEP)
                                                       & (d.reason == code))[0])).reason
                key = label.split("(")[0]
                counts[key] = counts.get(key, 0) + int(((d.verb == KEEP)
                                                        & (d.reason == code)).sum())
        return dict(sorted(counts.items()))

    def projected_after(self) -> Sizes:
        """Sizes after the plan's deletions (compression savings are not projected)."""
        files, apparent, blocks = self.before.files, self.before.apparent_bytes, 0
        for d in self.walk.dirs:
            gone = d.verb == DELETE
            files -= int(gone.sum())
            apparent -= int(d.size[gone].sum())
            blocks += int(d.blocks[gone].sum())
        return Sizes(files, apparent, self.before.allocated_bytes - blocks * 512)


def _apply_budget(plan: Plan) -> None:
    """With ``--delete-to-budget``: delete the oldest compressed files until within budget."""
    budget = plan.policy.budget_bytes
    if not plan.policy.delete_to_budget or budget is None:
        return
    over = plan.projected_after().allocated_bytes - budget
    if over <= 0:
        return
    candidates = []
    for k, d in enumerate(plan.walk.dirs):
        for i in np.flatnonzero((d.verb == KEEP) & (d.reason == R_COMPRESSED)
                                & (d.iteration < 0)).tolist():
            candidates.append((int(d.mtime_ns[i]), d.rel, d.names[i], k, i))
    for _, _, _, k, i in sorted(candidates):
        if over <= 0:
            break
        d = plan.walk.dirs[k]
        d.verb[i] = DELETE
        d.reason[i] = R_BUDGET
        over -= int(d.blocks[i]) * 512


def plan_rotation(root: Path, policy: RotationPolicy, now: datetime, *, jobs: int = 1) -> Plan:
    """Scan ``root`` once and plan every action (pure apart from the scan; changes nothing)."""
    policy.validate()
    found = walk(Path(root), policy, now.timestamp(), jobs=jobs)
    plan = Plan(Path(root), now, policy, found, _sizes(found.dirs))
    _apply_budget(plan)
    return plan


# --------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------
def _errname(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "EIO")


@dataclass
class _Executor:
    plan: Plan
    root_fd: int
    rotation_dir: Path
    results: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _fds: dict[str, int] = field(default_factory=dict)

    def dir_fd(self, rel: str) -> int:
        if rel not in self._fds:
            self._fds[rel] = open_dir(self.root_fd, rel, self.plan.walk.root_dev)
        return self._fds[rel]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)

    def record(self, d: Decision, result: str) -> None:
        self.results[(d.phase, d.path)] = result
        if result.startswith("error"):
            self.errors.append(f"{d.path}: {result}")

    def _split(self, path: str) -> tuple[str, str]:
        rel, _, name = path.rpartition("/")
        return rel, name

    def unchanged(self, fd: int, name: str, d: Decision) -> bool:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (stat.S_ISREG(st.st_mode) and st.st_ino == d.ino and st.st_size == d.size
                and st.st_mtime_ns == d.mtime_ns and st.st_nlink == 1)

    def recover(self, d: Decision) -> None:
        rel, name = self._split(d.path)
        try:
            fd = self.dir_fd(rel)
            if d.reason.startswith("recover:remove_stale_temp"):
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    self.record(d, "skipped:not_regular")
                    return
                os.unlink(name, dir_fd=fd)
                os.fsync(fd)
                self.record(d, "done")
                return
            compressed = name + ".gz" if os.path.lexists(
                os.path.join(self.plan.root, rel, name + ".gz")) else name + ".zst"
            result = finish_interrupted(fd, name, compressed)
            if result == "done":
                self._manifest_if_missing(rel, fd, name, compressed, d)
            self.record(d, result)
        except OSError as exc:
            self.record(d, f"error:{_errname(exc)}")

    def _manifest_if_missing(self, rel: str, fd: int, name: str, compressed: str,
                             d: Decision) -> None:
        from soakkit.rotation.log import read_manifest

        key = f"{rel}/{compressed}" if rel else compressed
        if key in read_manifest(self.rotation_dir):
            return
        sha, length = sha256_of_decompressed(fd, compressed)
        st = os.stat(compressed, dir_fd=fd, follow_symlinks=False)
        with os.fdopen(os.open(compressed, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd), "rb") as fh:
            import hashlib

            csha = hashlib.sha256(fh.read()).hexdigest()
        append_manifest(self.rotation_dir, {
            "path": d.path, "size": length, "sha256": sha, "mtime_ns": st.st_mtime_ns,
            "compressed": key, "compressed_size": st.st_size, "compressed_sha256": csha,
            "codec": "gzip" if compressed.endswith(".gz") else "zstd"})

    def history(self, d: Decision, doomed: list[tuple[int, Decision]]) -> set[int]:
        """Preserve the content of ``doomed`` ITER_SUMMARY files; returns what is safe to delete.

        A file that changed since the scan or does not parse is left out (and so kept).
        """
        rel, _ = self._split(d.path)
        folder = self.plan.root / rel if rel else self.plan.root
        preserved: dict[int, dict[str, Any]] = {}
        left_out: list[str] = []
        try:
            fd = self.dir_fd(rel)
            records = {int(r["iteration"]): r for r in read_history(folder)
                       if isinstance(r.get("iteration"), int)}
            for n, item in doomed:
                _, name = self._split(item.path)
                if not self.unchanged(fd, name, item):
                    continue  # the delete step reports it as changed
                try:
                    with os.fdopen(os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd),
                                   "rb") as fh:
                        raw = fh.read()
                    if name.endswith((".gz", ".zst")):
                        raw = decompress_bytes(raw, name)
                    preserved[n] = {**loads_strict(raw, item.path), "iteration": n}
                except (OSError, JsonFormatError, EOFError, zlib.error, gzip.BadGzipFile):
                    left_out.append(name)
            records.update(preserved)
            if preserved:
                write_history(folder, list(records.values()), tmp_name=temp_name(HISTORY_FILE))
                back = {int(r["iteration"]): r for r in read_history(folder)}
                for n, doc in preserved.items():
                    if canonical_json(back.get(n), digits=None) != canonical_json(doc, digits=None):
                        raise RotationError(f"history read-back differs for iteration {n}")
        except (OSError, JsonFormatError, RotationError, EOFError, zlib.error,
                gzip.BadGzipFile) as exc:
            why = _errname(exc) if isinstance(exc, OSError) else str(exc)
            self.record(d, f"error:history_not_written({why}); nothing deleted in {rel or '.'}")
            return set()
        note = f"; kept unreadable: {', '.join(sorted(left_out))}" if left_out else ""
        self.record(d, f"done(preserved={len(preserved)}){note}")
        return set(preserved)

    def delete(self, d: Decision) -> None:
        rel, name = self._split(d.path)
        try:
            fd = self.dir_fd(rel)
            if not self.unchanged(fd, name, d):
                self.record(d, "skipped:changed")
                return
            os.unlink(name, dir_fd=fd)
            self.record(d, "done")
        except OSError as exc:
            self.record(d, f"error:{_errname(exc)}")

    def compress(self, d: Decision) -> None:
        rel, name = self._split(d.path)
        policy = self.plan.policy

        def manifest(outcome: CompressOutcome) -> None:
            append_manifest(self.rotation_dir, {
                "path": d.path, "size": outcome.original_size, "sha256": outcome.original_sha256,
                "mtime_ns": d.mtime_ns,
                "compressed": f"{rel}/{outcome.compressed_name}" if rel
                else outcome.compressed_name,
                "compressed_size": outcome.compressed_size,
                "compressed_sha256": outcome.compressed_sha256, "codec": policy.codec,
                "level": policy.codec_level})

        try:
            fd = self.dir_fd(rel)
            outcome = compress_in_place(fd, name, expect=(d.ino, d.size, d.mtime_ns),
                                        codec=policy.codec, level=policy.codec_level,
                                        on_published=manifest)
            self.record(d, outcome.status)
        except OSError as exc:
            self.record(d, f"error:{_errname(exc)}")

    def run(self) -> None:
        decisions = list(self.plan.decisions())
        doomed_by_dir: dict[str, list[tuple[int, Decision]]] = {}
        for d in decisions:
            if d.phase in ("delete", "budget") and d.iteration is not None:
                doomed_by_dir.setdefault(self._split(d.path)[0], []).append((d.iteration, d))
        safe: dict[str, set[int]] = {}
        synced: set[str] = set()
        for d in decisions:
            rel = self._split(d.path)[0]
            if d.phase == "recover":
                self.recover(d)
            elif d.phase == "history":
                safe[rel] = self.history(d, doomed_by_dir.get(rel, []))
            elif d.phase in ("delete", "budget"):
                if d.iteration is not None and d.iteration not in safe.get(rel, set()):
                    fd = self.dir_fd(rel)
                    changed = not self.unchanged(fd, self._split(d.path)[1], d)
                    self.record(d, "skipped:changed" if changed else "skipped:not_preserved")
                    continue
                self.delete(d)
                synced.add(rel)
            elif d.phase == "compress":
                self.compress(d)
        for rel in sorted(synced):
            with contextlib.suppress(OSError):
                os.fsync(self.dir_fd(rel))


@dataclass(frozen=True)
class RotationResult:
    """The log record of one rotation, its exit code and the plan behind it."""

    record: dict[str, Any]
    exit_code: int
    plan: Plan


def _record(plan: Plan, dry_run: bool, after: Sizes, results: dict[tuple[str, str], str],
            errors: list[str], warnings: list[str]) -> dict[str, Any]:
    actions = []
    for d in plan.decisions():
        entry = d.to_json()
        if not dry_run:
            entry["result"] = results.get((d.phase, d.path),
                                          "skipped" if d.phase == "skip" else "not_run")
        actions.append(entry)
    budget = plan.policy.budget_bytes
    over = budget is not None and after.allocated_bytes > budget
    status = "error" if errors else ("over_budget" if over else "ok")
    return {
        "soakkit_version": __version__, "root": ".", "dry_run": dry_run,
        "now": format_utc(plan.now), "args": plan.policy.to_json(),
        "before": plan.before.to_json(), "after": after.to_json(),
        "after_is_projection": dry_run, "budget_bytes": budget, "over_budget": over,
        "actions": actions, "kept": plan.kept_counts(),
        "scan_errors": list(plan.walk.errors), "errors": errors, "warnings": warnings,
        "status": status,
    }


def _exit_code(record: dict[str, Any]) -> int:
    if record["errors"] or record["scan_errors"]:
        return 1
    return 2 if record["over_budget"] else 0


def rotate(root: Path, policy: RotationPolicy, *, now: datetime, dry_run: bool = False,
           wait_lock: float = 0.0, jobs: int = 1) -> RotationResult:
    """Rotate the artifacts under ``root``.

    Parameters
    ----------
    root
        The artifacts folder (a real directory; symlinks are refused).
    policy
        Keep-latest, TTL, budget and codec (validated here).
    now
        The one instant every age is measured against (inject it for reproducible runs).
    dry_run
        Plan and report exactly what a real run would do; change nothing, log nothing.
    wait_lock
        Seconds to wait for a concurrent rotation; then :class:`~soakkit.errors.LockedError`.
    jobs
        Processes for the scan (forked only when this process is single-threaded).

    Returns
    -------
    RotationResult
        ``exit_code`` 0 ok, 1 error, 2 over budget after rotation.
    """
    policy.validate()
    root = Path(root)
    check_root(root)
    warnings: list[str] = []
    if dry_run:
        plan = plan_rotation(root, policy, now, jobs=jobs)
        record = _record(plan, True, plan.projected_after(), {}, [], warnings)
        return RotationResult(record, _exit_code(record), plan)
    folder = ensure_rotation_dir(root)
    with exclusive_lock(folder / LOCK_FILE, f"rotation of {root}", wait_s=wait_lock), \
            open_log(folder) as log:
        previous = last_record(folder)
        if previous and isinstance(previous.get("now"), str) and previous["now"] > format_utc(now):
            warnings.append(f"clock went backwards: previous rotation ran at {previous['now']}")
        plan = plan_rotation(root, policy, now, jobs=jobs)
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        executor = _Executor(plan, root_fd, folder)
        try:
            executor.run()
        finally:
            executor.close()
            os.close(root_fd)
        after = _sizes(walk(root, policy, now.timestamp(), jobs=jobs).dirs)
        record = _record(plan, False, after, executor.results, executor.errors, warnings)
        append_line(log, record)
    return RotationResult(record, _exit_code(record), plan)


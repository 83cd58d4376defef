"""Execute a rotation plan, phase by phase: recover, history, delete, compress, budget.

Every action re-checks the file it acts on (same inode, size and mtime as the scan saw,
still a regular single-link file) and opens folders component by component without
following symlinks. Errors of single files are recorded per action; the rest still runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soakkit.artifacts.iterlog import append_entries, entry_line, file_id, read_log
from soakkit.core.errors import JsonFormatError, RotationError
from soakkit.core.io import file_time_ns, loads_strict
from soakkit.rotation.codec import (
    VERIFY_ERRORS,
    decompress_bytes,
    file_sha256,
    sha256_of_decompressed,
)
from soakkit.rotation.compress import (
    CompressJob,
    CompressOutcome,
    batches,
    compress_batch,
    finish_interrupted,
)
from soakkit.rotation.log import append_manifest, read_manifest
from soakkit.rotation.plan import Decision
from soakkit.rotation.scan import open_dir
from soakkit.rotation.tree import Plan

__all__ = ["Executor"]


def _errname(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "EIO")


@dataclass
class Executor:
    """Runs a plan's actions; ``results`` maps (phase, path) to what happened."""

    plan: Plan
    root_fd: int
    rotation_dir: Path
    jobs: int = 1
    results: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _fds: dict[str, int] = field(default_factory=dict)
    _manifested: set[str] | None = None

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
                and file_time_ns(st) == d.mtime_ns and st.st_nlink == 1)

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

        key = f"{rel}/{compressed}" if rel else compressed
        if self._manifested is None:  # read once per rotation, only when recovering
            self._manifested = set(read_manifest(self.rotation_dir))
        if key in self._manifested:
            return
        sha, length = sha256_of_decompressed(fd, compressed)
        st = os.stat(compressed, dir_fd=fd, follow_symlinks=False)
        csha = file_sha256(fd, compressed)
        self._manifested.add(key)
        append_manifest(self.rotation_dir, [{
            "path": d.path, "size": length, "sha256": sha, "mtime_ns": file_time_ns(st),
            "compressed": key, "compressed_size": st.st_size, "compressed_sha256": csha,
            "codec": "gzip" if compressed.endswith(".gz") else "zstd"}])

    def history(self, d: Decision, doomed: list[tuple[int, Decision]]) -> set[int]:
        """Make sure the run's iteration log holds each doomed file's exact content.

        A file the log already holds (the soak runner logged it) costs a read and a
        compare; any other is appended to the log (one write, one fsync), read back and
        compared. Returns the iterations safe to delete; a file that changed since the scan
        or does not parse is left out (and so kept).
        """
        rel, _ = self._split(d.path)
        folder = self.plan.root / rel if rel else self.plan.root
        safe: set[int] = set()
        logged: dict[int, dict[str, Any]] = {}
        lines: list[bytes] = []
        left_out: list[str] = []
        try:
            fd = self.dir_fd(rel)
            held = read_log(folder)[0]
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
                    doc = loads_strict(raw, item.path)
                except (OSError, JsonFormatError, *VERIFY_ERRORS):
                    left_out.append(name)
                    continue
                if n in held and held[n].holds(doc):
                    safe.add(n)
                    continue
                logged[n] = doc
                lines.append(entry_line(n, file_id(name.removesuffix(".gz").removesuffix(
                    ".zst"), raw, item.mtime_ns), doc))
            if lines:
                append_entries(folder, lines, mtime=self.plan.now.timestamp())
                back = read_log(folder)[0]
                for n, doc in logged.items():
                    if n not in back or not back[n].holds(doc):
                        raise RotationError(f"iteration log read-back differs for iteration {n}")
                    safe.add(n)
        except (OSError, JsonFormatError, RotationError) as exc:
            why = _errname(exc) if isinstance(exc, OSError) else str(exc)
            self.record(d, f"error:log_not_written({why}); nothing deleted in {rel or '.'}")
            return set()
        note = f"; kept unreadable: {', '.join(sorted(left_out))}" if left_out else ""
        self.record(d, f"done(logged={len(logged)}, already_logged={len(safe) - len(logged)})"
                       f"{note}")
        return safe

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

    def compress(self, todo: list[Decision]) -> None:
        """Compress in batches (group commit); a large batch uses a second process."""
        policy = self.plan.policy

        def manifest(published: list[tuple[CompressJob, CompressOutcome]]) -> None:
            append_manifest(self.rotation_dir, [{
                "path": d.path, "size": out.original_size, "sha256": out.original_sha256,
                "mtime_ns": d.mtime_ns,
                "compressed": f"{rel}/{out.compressed_name}" if rel else out.compressed_name,
                "compressed_size": out.compressed_size,
                "compressed_sha256": out.compressed_sha256, "codec": policy.codec,
                "level": policy.codec_level}
                for job, out in published
                for d, rel in [jobs_by_id[id(job)]]])

        for span in batches([d.size for d in todo]):
            jobs: list[CompressJob] = []
            decisions: list[Decision] = []
            jobs_by_id: dict[int, tuple[Decision, str]] = {}
            for d in (todo[i] for i in span):
                rel, name = self._split(d.path)
                try:
                    fd = self.dir_fd(rel)
                except OSError as exc:
                    self.record(d, f"error:{_errname(exc)}")
                    continue
                job = CompressJob(fd, name, (d.ino, d.size, d.mtime_ns))
                jobs.append(job)
                decisions.append(d)
                jobs_by_id[id(job)] = (d, rel)
            try:
                outcomes = compress_batch(jobs, codec=policy.codec, level=policy.codec_level,
                                          on_published=manifest, parallel=self.jobs > 1)
            except OSError as exc:
                outcomes = [CompressOutcome(f"error:{_errname(exc)}")] * len(jobs)
            for d, outcome in zip(decisions, outcomes, strict=True):
                self.record(d, outcome.status)

    def run(self) -> None:
        decisions = list(self.plan.decisions())
        doomed_by_dir: dict[str, list[tuple[int, Decision]]] = {}
        for d in decisions:
            if d.phase in ("delete", "budget") and d.iteration is not None:
                doomed_by_dir.setdefault(self._split(d.path)[0], []).append((d.iteration, d))
        safe: dict[str, set[int]] = {}
        synced: set[str] = set()
        compress: list[Decision] = []
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
                compress.append(d)
        self.compress(compress)
        for rel in sorted(synced):
            with contextlib.suppress(OSError):
                os.fsync(self.dir_fd(rel))

"""Crash-safe compression in place, a batch at a time (group commit, as databases do).

A batch is up to :data:`BATCH_FILES` files or :data:`BATCH_BYTES` of input, possibly in
several folders; every operation is relative to an ``O_DIRECTORY`` descriptor of the
file's folder:

1. **compress** each file: open it with ``O_NOFOLLOW``; it must still be the regular,
   single-link file the scan saw (inode, size, mtime), else ``skipped:changed``; compress it
   hashing the input (sha256) — in memory, half of a large batch in a forked second process
   (:mod:`soakkit.rotation.workers`), files over :data:`STREAM_BYTES` streamed — into its
   temp ``.<hash>.soakkit-tmp`` created with ``O_EXCL | O_NOFOLLOW``;
2. **make every temp durable** with one ``syncfs`` of its filesystem (Linux ≥ 5.8, where
   it reports write-back errors, on a local filesystem whose ``syncfs`` writes every file's
   data: :func:`~soakkit.rotation.syscalls.syncfs_covers`), else, or if it fails,
   with an fsync per temp (write-back of all of them started first), so that a failure
   names its file; then **verify** each: read it back, decompress it completely and compare
   sha256 and length; the source must not have changed meanwhile (a fresh ``lstat``), else
   ``skipped:modified_during_compress``; a copy that is not smaller is dropped
   (``skipped:incompressible``); the temp gets the source's times;
3. **rename** every temp to its final name with ``renameat2(RENAME_NOREPLACE)``, which
   never clobbers (:mod:`soakkit.rotation.syscalls`; ``link`` + ``unlink`` where the
   kernel or filesystem lacks it): an existing file with the same content is accepted, a
   different one is an error and both are kept; then fsync each folder;
4. **append the batch to the manifest** with one fsync (sha256 of every original and
   compressed file);
5. **unlink the sources**, fsync each folder.

The manifest comes before the unlinks (not after, as a first sketch had it): a crash then
never leaves a compressed file the manifest does not know, which ``restore`` would refuse.

Verification (zlib and hashlib release the GIL) and the unlinks (on a filesystem mounted
with ``discard`` each waits for the disk) run in threads of this process
(:func:`soakkit.rotation.workers.thread_each`), each step finished before the next starts,
so the order above holds for every file.

A crash leaves, per file, only a temp file (removed by the next run), or the source and
its verified, durable compressed copy (the next run re-verifies it, adds a missing manifest
line and finishes step 5). Gzip output has mtime 0 and no file name in its header, so
equal input gives equal bytes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from soakkit.core.io import file_time_ns
from soakkit.rotation.codec import (
    EXTENSIONS,
    VERIFY_ERRORS,
    Writer,
    digest_of_bytes,
    file_sha256,
    sha256_of_decompressed,
)
from soakkit.rotation.policy import TMP_SUFFIX
from soakkit.rotation.syscalls import (
    rename_noreplace,
    start_writeback,
    syncfs,
    syncfs_covers,
)
from soakkit.rotation.workers import CPU_THREADS, can_fork, fork_map, thread_each

__all__ = ["BATCH_BYTES", "BATCH_FILES", "CompressJob", "CompressOutcome", "batches",
           "checkpoint", "compress_batch", "finish_interrupted", "temp_name"]

_CHUNK = 1 << 20
#: A batch holds at most this many files or this many bytes of input.
BATCH_FILES = 256
BATCH_BYTES = 32 << 20
#: Files larger than this are streamed into their temp file by this process.
STREAM_BYTES = 4 << 20
#: A batch with at least this many small files is shared with a forked second process.
PARALLEL_MIN_FILES = 64


def temp_name(final: str) -> str:
    """A short, hidden, fixed-length temp name for ``final`` (fits any file name length)."""
    digest = hashlib.sha1(os.fsencode(final), usedforsecurity=False).hexdigest()[:16]
    return f".{digest}{TMP_SUFFIX}"


def checkpoint(stage: str, name: str) -> None:
    """A no-op between protocol steps; tests replace it to inject crashes and races."""


@dataclass(frozen=True)
class CompressOutcome:
    """What happened to one file."""

    status: str  #: done | skipped:<why> | error:<why>
    original_size: int = 0
    original_sha256: str = ""
    compressed_name: str = ""
    compressed_size: int = 0
    compressed_sha256: str = ""


@dataclass(frozen=True)
class CompressJob:
    """One file to compress: its folder's descriptor, its name, what the scan saw."""

    dir_fd: int
    name: str
    expect: tuple[int, int, int]  #: (inode, size, mtime_ns)


def _unlink_quiet(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def _errname(exc: OSError) -> str:
    return f"error:{errno.errorcode.get(exc.errno or 0, 'EIO')}"


# --------------------------------------------------------------------------------------
# step 1: compress (pure apart from reading the source: may run in a forked child)
# --------------------------------------------------------------------------------------
#: status, compressed bytes (None: stream it), sha256 and length of the input, times, mode
_Compressed = tuple[str, bytes | None, str, int, tuple[int, int], int]


def _compress_source(job: CompressJob, codec: str, level: int) -> _Compressed:
    try:
        fd = os.open(job.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=job.dir_fd)
    except FileNotFoundError:
        return "skipped:vanished", None, "", 0, (0, 0), 0
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "skipped:changed(now a symlink)", None, "", 0, (0, 0), 0
        return _errname(exc), None, "", 0, (0, 0), 0
    try:  # plain descriptors: a file object would cost an ioctl and two lseeks per file
        st = os.fstat(fd)
        times, mode = (st.st_atime_ns, st.st_mtime_ns), stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or \
                (st.st_ino, st.st_size, file_time_ns(st)) != job.expect:
            return "skipped:changed", None, "", 0, times, mode
        if st.st_size > STREAM_BYTES:
            return "stream", None, "", 0, times, mode
        try:
            data = b"".join(iter(lambda: os.read(fd, max(st.st_size + 1, _CHUNK)), b""))
        except OSError as exc:
            return _errname(exc), None, "", 0, times, mode
    finally:
        os.close(fd)
    out = io.BytesIO()
    writer = Writer(out, codec, level)
    writer.write(data)
    writer.close()
    return "ok", out.getvalue(), hashlib.sha256(data).hexdigest(), len(data), times, mode


def _compress_share(args: tuple[Sequence[CompressJob], str, int]) -> list[_Compressed]:
    jobs, codec, level = args
    return [_compress_source(job, codec, level) for job in jobs]


def _compress_all(jobs: Sequence[CompressJob], codec: str, level: int,
                  parallel: bool) -> list[_Compressed]:
    if parallel and len(jobs) >= PARALLEL_MIN_FILES and can_fork():
        half = len(jobs) // 2
        first, second = fork_map(_compress_share, [(jobs[:half], codec, level),
                                                   (jobs[half:], codec, level)])
        return first + second
    return _compress_share((jobs, codec, level))


# --------------------------------------------------------------------------------------
# steps 1-5 for a batch
# --------------------------------------------------------------------------------------
@dataclass
class _File:
    job: CompressJob
    final: str
    tmp: str
    times: tuple[int, int] = (0, 0)
    fd: int = -1
    sha: str = ""
    length: int = 0
    outcome: CompressOutcome | None = None  #: set once the file leaves the batch

    def finish(self, status: str, outcome: CompressOutcome | None = None) -> None:
        """The file leaves the batch: close and (unless published) remove its temp."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if status != "done" and self.tmp:
            _unlink_quiet(self.job.dir_fd, self.tmp)
        self.outcome = outcome or CompressOutcome(status)

    @property
    def ready(self) -> bool:
        return self.outcome is not None and self.outcome.status == "done"


def _write_temp(f: _File, blob: bytes | None, mode: int, codec: str, level: int) -> None:
    """Step 1's output: the temp file, written from ``blob`` or streamed from the source."""
    name, dir_fd = f.job.name, f.job.dir_fd
    f.fd = os.open(f.tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode,
                   dir_fd=dir_fd)
    if blob is not None:
        checkpoint("writing", name)
        view = memoryview(blob)
        while view:
            view = view[os.write(f.fd, view):]
        return
    with os.fdopen(os.dup(f.fd), "wb") as out:
        digest, length = hashlib.sha256(), 0
        src_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        with os.fdopen(src_fd, "rb") as src:
            writer = Writer(out, codec, level)
            for block in iter(lambda: src.read(_CHUNK), b""):
                digest.update(block)
                length += len(block)
                writer.write(block)
                checkpoint("writing", name)
            writer.close()
        f.sha, f.length = digest.hexdigest(), length


def _verify(f: _File, codec: str) -> None:
    """Step 2 for one synced temp: its content, the source, the size; then the times."""
    name, dir_fd = f.job.name, f.job.dir_fd
    size = os.fstat(f.fd).st_size
    if size <= STREAM_BYTES:
        raw = os.pread(f.fd, size + 1, 0)
        got = digest_of_bytes(raw, codec)
        compressed_sha = hashlib.sha256(raw).hexdigest()
    else:
        got = sha256_of_decompressed(dir_fd, f.tmp)
        compressed_sha = file_sha256(dir_fd, f.tmp)
    if got != (f.sha, f.length):
        f.finish("error:verify_mismatch")
        return
    checkpoint("verified", name)
    try:
        now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        now = None  # removed or renamed by another process meanwhile
    if now is None or (now.st_ino, now.st_size, file_time_ns(now)) != f.job.expect:
        f.finish("skipped:modified_during_compress")
        return
    if size >= f.length:
        f.finish("skipped:incompressible",
                 CompressOutcome("skipped:incompressible", f.length, f.sha))
        return
    os.utime(f.fd, ns=f.times)
    f.outcome = CompressOutcome("done", f.length, f.sha, f.final, size, compressed_sha)


def _link(f: _File) -> None:
    """Step 3 for one file: publish the temp under the final name, never clobbering."""
    dir_fd = f.job.dir_fd
    try:
        rename_noreplace(dir_fd, f.tmp, f.final)
    except FileExistsError:
        try:
            existing, _ = sha256_of_decompressed(dir_fd, f.final)
        except (OSError, *VERIFY_ERRORS):
            existing = ""
        if existing != f.sha:
            f.finish("error:target_exists_different")
            return
        f.outcome = CompressOutcome("done", f.length, f.sha, f.final,
                                    os.stat(f.final, dir_fd=dir_fd).st_size,
                                    file_sha256(dir_fd, f.final))
        _unlink_quiet(dir_fd, f.tmp)
    checkpoint("linked", f.job.name)


def _fsync_dirs(files: Sequence[_File]) -> None:
    for fd in sorted({f.job.dir_fd for f in files}):
        os.fsync(fd)


def _guard(f: _File, step: Callable[[_File], None]) -> None:
    try:
        step(f)
    except OSError as exc:
        f.finish(_errname(exc))
    except VERIFY_ERRORS:
        f.finish("error:verify_failed")


def _create_temp(f: _File, compressed: _Compressed, codec: str, level: int) -> None:
    """Step 1's output for one file (or why it left the batch)."""
    status, blob, sha, length, times, mode = compressed
    if status not in ("ok", "stream"):
        f.tmp = ""  # nothing of ours to remove
        f.finish(status)
        return
    f.sha, f.length, f.times = sha, length, times
    try:
        _write_temp(f, blob, mode, codec, level)
    except FileExistsError:
        f.tmp = ""  # not ours: a concurrent writer's, or a leftover the next run removes
        f.finish("skipped:temp_exists")
    except OSError as exc:
        f.finish(_errname(exc))


def _make_durable(live: Sequence[_File]) -> None:
    """Step 2's fsync: one ``syncfs`` per filesystem where it covers the temps and reports
    their write-back errors (:func:`syncfs_covers`); elsewhere, or if it fails, an fsync
    per temp (write-back of all started first), so that a failure names its file and
    leaves the others durable."""
    folders = {f.job.dir_fd for f in live}
    devices = {os.fstat(fd).st_dev: fd for fd in sorted(folders)}
    if all(syncfs_covers(fd) for fd in devices.values()):
        try:
            for fd in devices.values():
                syncfs(fd)
        except OSError:
            pass  # some write-back failed: find the files through their own fsyncs
        else:
            return
    start_writeback([f.fd for f in live])
    for f in live:
        _guard(f, lambda f: os.fsync(f.fd))


def _unlink_source(f: _File) -> None:
    """Step 5 for one published file."""
    try:
        os.unlink(f.job.name, dir_fd=f.job.dir_fd)
    except FileNotFoundError:
        pass  # removed meanwhile: its compressed copy holds it
    except OSError as exc:
        f.outcome = CompressOutcome(f"{_errname(exc)}(kept both)")


def compress_batch(jobs: Sequence[CompressJob], *, codec: str, level: int,
                   on_published: Callable[[list[tuple[CompressJob, CompressOutcome]]], None],
                   parallel: bool = False) -> list[CompressOutcome]:
    """Compress ``jobs`` in place by the protocol above; one outcome per job, in order.

    ``on_published`` appends the manifest lines of the published files with one fsync
    (step 4), after their compressed copies are durable and before the sources go.
    """
    ext = EXTENSIONS[codec]
    files = [_File(job, job.name + ext, temp_name(job.name + ext)) for job in jobs]
    try:
        compressed = _compress_all(jobs, codec, level, parallel)
        for f, one in zip(files, compressed, strict=True):
            _create_temp(f, one, codec, level)  # threads gain nothing here (measured)
        live = [f for f in files if f.outcome is None]
        _make_durable(live)
        for f in live:
            if f.outcome is None:
                checkpoint("tmp_synced", f.job.name)
        thread_each(lambda f: _guard(f, lambda f: _verify(f, codec)),
                    [f for f in live if f.outcome is None], CPU_THREADS)
        ready = [f for f in live if f.ready]
        for f in ready:
            os.close(f.fd)
            f.fd = -1
        if ready:  # a rename needs no folder fsync before it: the temp's data is durable
            for f in ready:
                _guard(f, _link)
            ready = [f for f in ready if f.ready]
            _fsync_dirs(ready)
        if ready:
            on_published([(f.job, f.outcome) for f in ready if f.outcome is not None])
            for f in ready:
                checkpoint("published", f.job.name)
            thread_each(_unlink_source, ready)
            _fsync_dirs(ready)
    finally:
        for f in files:
            if f.outcome is None:
                f.finish("error:interrupted")
    return [f.outcome or CompressOutcome("error:EIO") for f in files]


def batches(sizes: Sequence[int]) -> Iterator[range]:
    """Index ranges of consecutive items forming batches (files and bytes bounded)."""
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= BATCH_FILES or total + size > BATCH_BYTES):
            yield range(start, i)
            start, total = i, 0
        total += size
    if start < len(sizes):
        yield range(start, len(sizes))


def finish_interrupted(dir_fd: int, name: str, compressed: str) -> str:
    """``name`` and its compressed copy both exist: unlink ``name`` if the copy holds it."""
    try:
        want = file_sha256(dir_fd, name)
        got, _ = sha256_of_decompressed(dir_fd, compressed)
    except FileNotFoundError:
        return "skipped:vanished"
    except (OSError, *VERIFY_ERRORS):
        return "error:compressed_copy_unreadable(kept both)"
    if got != want:
        return "error:compressed_copy_differs(kept both)"
    os.unlink(name, dir_fd=dir_fd)
    os.fsync(dir_fd)
    return "done"

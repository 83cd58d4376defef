"""Crash-safe compression in place, and its reverse (restore).

Per file, all operations relative to an ``O_DIRECTORY`` descriptor of its folder:

1. open the source with ``O_NOFOLLOW``; it must still be the regular, single-link file the
   scan saw (same inode, size and mtime), else ``skip:changed``;
2. stream it through the codec into ``.<name>.<ext>.soakkit-tmp`` created with
   ``O_EXCL | O_NOFOLLOW``, hashing the input (sha256); fsync the temp file;
3. verify: decompress the temp file completely and compare sha256 and length;
4. check the source did not change meanwhile (fstat and a fresh lstat by name), else
   remove the temp file: ``skip:modified_during_compress``;
5. give the temp file the source's times; publish it without clobbering (``link`` fails
   if the final name exists: same content → finish, different → error, keep both);
   remove the temp name; fsync the folder;
6. append the manifest line (sha256 of the original and of the compressed file);
7. unlink the source; fsync the folder.

A crash leaves either only a temp file (removed by the next run), or both the source and
its verified compressed copy (the next run re-verifies and finishes step 7). Gzip output
has mtime 0 and no file name in its header, so equal input gives equal bytes.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from soakkit.rotation.policy import TMP_SUFFIX

__all__ = ["CompressOutcome", "checkpoint", "compress_in_place", "decompress_bytes",
           "sha256_of_decompressed"]

_CHUNK = 1 << 20
EXTENSIONS = {"gzip": ".gz", "zstd": ".zst"}


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


class _Writer:
    """Streaming compressor for the chosen codec."""

    def __init__(self, fh: IO[bytes], codec: str, level: int) -> None:
        self._fh = fh
        self._gz: Any = None
        self._zs: Any = None
        if codec == "gzip":
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=level,
                                     mtime=0)
        else:
            import zstandard

            self._zs = zstandard.ZstdCompressor(level=level, write_checksum=True).stream_writer(
                fh, closefd=False)

    def write(self, data: bytes) -> None:
        (self._gz or self._zs).write(data)

    def close(self) -> None:
        (self._gz or self._zs).close()


def _decompressed_chunks(fh: IO[bytes], codec: str) -> Iterator[bytes]:
    if codec == "gzip":
        with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
            yield from iter(lambda: gz.read(_CHUNK), b"")
    else:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(fh, closefd=False)
        yield from iter(lambda: reader.read(_CHUNK), b"")


def codec_of(name: str) -> str | None:
    """``gzip`` / ``zstd`` from a compressed file's extension, else ``None``."""
    for codec, ext in EXTENSIONS.items():
        if name.endswith(ext):
            return codec
    return None


def sha256_of_decompressed(dir_fd: int, name: str) -> tuple[str, int]:
    """sha256 and length of what a compressed file decompresses to (raises on corruption)."""
    codec = codec_of(name) or "gzip"
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    digest, length = hashlib.sha256(), 0
    with os.fdopen(fd, "rb") as fh:
        for chunk in _decompressed_chunks(fh, codec):
            digest.update(chunk)
            length += len(chunk)
    return digest.hexdigest(), length


def decompress_bytes(data: bytes, name: str) -> bytes:
    """Decompress a whole file's bytes according to its extension."""
    codec = codec_of(name) or "gzip"
    return b"".join(_decompressed_chunks(io.BytesIO(data), codec))


def _file_sha256(dir_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_size, b.st_mtime_ns)


def _unlink_quiet(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def compress_in_place(dir_fd: int, name: str, *, expect: tuple[int, int, int], codec: str,
                      level: int, on_published: Callable[[CompressOutcome], None]
                      ) -> CompressOutcome:
    """Compress ``name`` (in the folder ``dir_fd``) to ``name + ext`` by the protocol above.

    ``expect`` is (inode, size, mtime_ns) from the scan. ``on_published`` records the
    manifest line after the compressed file is durable and before the source goes.
    """
    final = name + EXTENSIONS[codec]
    tmp = temp_name(final)
    try:
        src_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        return CompressOutcome("skipped:vanished")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return CompressOutcome("skipped:changed(now a symlink)")
        return CompressOutcome(f"error:{errno.errorcode.get(exc.errno or 0, 'EIO')}")
    with os.fdopen(src_fd, "rb") as src:
        before = os.fstat(src.fileno())
        if not stat.S_ISREG(before.st_mode) or before.st_nlink != 1 or \
                (before.st_ino, before.st_size, before.st_mtime_ns) != expect:
            return CompressOutcome("skipped:changed")
        digest, length = hashlib.sha256(), 0
        try:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             stat.S_IMODE(before.st_mode), dir_fd=dir_fd)
        except FileExistsError:
            return CompressOutcome("skipped:temp_exists")
        try:
            with os.fdopen(out_fd, "wb") as out:
                writer = _Writer(out, codec, level)
                for block in iter(lambda: src.read(_CHUNK), b""):
                    digest.update(block)
                    length += len(block)
                    writer.write(block)
                    checkpoint("writing", name)
                writer.close()
                out.flush()
                os.fsync(out.fileno())
            checkpoint("tmp_synced", name)
            check, check_len = sha256_of_decompressed(dir_fd, tmp)
            if (check, check_len) != (digest.hexdigest(), length):
                _unlink_quiet(dir_fd, tmp)
                return CompressOutcome("error:verify_mismatch")
            checkpoint("verified", name)
            after = os.fstat(src.fileno())
            try:
                by_name: os.stat_result | None = os.stat(name, dir_fd=dir_fd,
                                                         follow_symlinks=False)
            except FileNotFoundError:
                by_name = None  # removed or renamed by another process meanwhile
            if by_name is None or not _same(before, after) or not _same(before, by_name):
                _unlink_quiet(dir_fd, tmp)
                return CompressOutcome("skipped:modified_during_compress")
            tmp_st = os.stat(tmp, dir_fd=dir_fd, follow_symlinks=False)
            if tmp_st.st_size >= length:
                _unlink_quiet(dir_fd, tmp)
                return CompressOutcome("skipped:incompressible", length, digest.hexdigest())
            os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns), dir_fd=dir_fd,
                     follow_symlinks=False)
        except BaseException as exc:
            _unlink_quiet(dir_fd, tmp)
            if isinstance(exc, OSError):
                return CompressOutcome(f"error:{errno.errorcode.get(exc.errno or 0, 'EIO')}")
            if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
                return CompressOutcome("error:verify_failed")
            raise
    compressed_sha = _file_sha256(dir_fd, tmp)
    outcome = CompressOutcome("done", length, digest.hexdigest(), final, tmp_st.st_size,
                              compressed_sha)
    try:
        os.link(tmp, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        _unlink_quiet(dir_fd, tmp)
        try:
            existing, _ = sha256_of_decompressed(dir_fd, final)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile):
            existing = ""
        if existing != outcome.original_sha256:
            return CompressOutcome("error:target_exists_different")
        outcome = CompressOutcome("done", length, digest.hexdigest(), final,
                                  os.stat(final, dir_fd=dir_fd).st_size,
                                  _file_sha256(dir_fd, final))
    else:
        checkpoint("linked", name)
        _unlink_quiet(dir_fd, tmp)
    os.fsync(dir_fd)
    on_published(outcome)
    checkpoint("published", name)
    os.unlink(name, dir_fd=dir_fd)
    os.fsync(dir_fd)
    return outcome


def finish_interrupted(dir_fd: int, name: str, compressed: str) -> str:
    """``name`` and its compressed copy both exist: unlink ``name`` if the copy holds it."""
    try:
        want = _file_sha256(dir_fd, name)
        got, _ = sha256_of_decompressed(dir_fd, compressed)
    except FileNotFoundError:
        return "skipped:vanished"
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError):
        return "error:compressed_copy_unreadable(kept both)"
    if got != want:
        return "error:compressed_copy_differs(kept both)"
    os.unlink(name, dir_fd=dir_fd)
    os.fsync(dir_fd)
    return "done"

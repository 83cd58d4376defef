"""Rotation's own files under ``<path>/rotation/``: the JSONL log, the manifest, the lock.

``ROTATION_LOG.jsonl`` gets one canonical JSON line (sorted keys, compact, ASCII, no NaN)
per rotation; the same tree and the same ``--now`` give a byte-identical line. The log is
opened before anything else happens: if it cannot be written, rotation stops before any
action. It rotates itself by size (``ROTATION_LOG.jsonl.1`` … ``.3``).

``MANIFEST.jsonl`` gets one line per compressed file: the original's relative path, size,
mtime and sha256, and the compressed file's name, size and sha256.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from soakkit.core.errors import JsonFormatError, RotationError, os_reason
from soakkit.core.io import canonical_json, fsync_dir, loads_strict, open_append
from soakkit.rotation.policy import LOG_FILE, LOG_KEEP, LOG_MAX_BYTES, MANIFEST_FILE, ROTATION_DIR

__all__ = [
    "append_line",
    "ensure_rotation_dir",
    "last_record",
    "open_log",
    "read_manifest",
]


def ensure_rotation_dir(root: Path) -> Path:
    """``<root>/rotation``, created if missing; must be a real directory."""
    folder = Path(root) / ROTATION_DIR
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        try:
            os.mkdir(folder, 0o755)
        except OSError as exc:
            raise RotationError(f"{folder}: cannot create: {os_reason(exc)}; nothing changed") \
                from None
        fsync_dir(Path(root))
        return folder
    if not stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
        raise RotationError(f"{folder} is not a directory; nothing changed")
    return folder


def _rotate_by_size(path: Path) -> None:
    try:
        size = os.lstat(path).st_size
    except FileNotFoundError:
        return
    if size < LOG_MAX_BYTES:
        return
    for k in range(LOG_KEEP - 1, 0, -1):
        older = path.with_name(f"{path.name}.{k}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{k + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))
    fsync_dir(path.parent)


def _open_append(path: Path, what: str) -> IO[bytes]:
    """Open for appending; a torn last line (a crash mid-append) is terminated first."""
    try:
        fd = open_append(path)
    except OSError as exc:
        raise RotationError(f"{path}: cannot write {what}: {os_reason(exc)}; nothing changed") \
            from None
    return os.fdopen(fd, "ab")


@contextlib.contextmanager
def open_log(folder: Path) -> Iterator[IO[bytes]]:
    """Open ``ROTATION_LOG.jsonl`` for appending (rotating it by size first)."""
    path = folder / LOG_FILE
    _rotate_by_size(path)
    fh = _open_append(path, "rotation log")
    try:
        yield fh
    finally:
        fh.close()


def append_line(fh: IO[bytes], record: dict[str, Any]) -> None:
    """Append one canonical JSON line and fsync it."""
    append_lines(fh, [record])


def append_lines(fh: IO[bytes], records: list[dict[str, Any]]) -> None:
    """Append canonical JSON lines with one write and one fsync (numbers as they are:
    sizes, hashes and the policy's own flags, nothing computed to round)."""
    fh.write("".join(canonical_json(r, compact=True, digits=None)
                     for r in records).encode("ascii"))
    fh.flush()
    os.fsync(fh.fileno())


def append_manifest(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Append manifest lines with one write and one fsync."""
    with _open_append(folder / MANIFEST_FILE, "manifest") as fh:
        append_lines(fh, entries)


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Manifest entries by compressed path (the last entry for a path wins)."""
    path = folder / MANIFEST_FILE
    entries: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return entries
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = loads_strict(line, f"{path}:{lineno}")
        except JsonFormatError:
            continue  # a torn last line after a crash; the next line is intact
        if isinstance(doc.get("compressed"), str):
            entries[doc["compressed"]] = doc
    return entries


def last_record(folder: Path) -> dict[str, Any] | None:
    """The last complete log record, if any (for the clock-went-backwards check)."""
    path = folder / LOG_FILE
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - (1 << 20)))
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            doc = loads_strict(line, str(path))
        except JsonFormatError:
            continue
        return dict(doc)
    return None

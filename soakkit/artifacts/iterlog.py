"""The per-run iteration log: a copy of every ITER_SUMMARY document of a run, one line each.

``<run>/iterations.jsonl`` holds one compact canonical JSON line per ITER_SUMMARY file::

    {"doc": {...the whole document...},
     "file": {"mtime_ns": 1767225600000000000, "name": "ITER_SUMMARY_7.json",
              "sha256": "…", "size": 4612},
     "iteration": 7}

It is appended (one write, one fsync) by two writers, and only by them:

* the soak runner, right after it writes ``ITER_SUMMARY_<n>.json`` (the run's lock is held);
* rotation, before it deletes an ITER_SUMMARY file the log does not hold yet (legacy runs,
  runs written before the log existed, a file edited by hand), under the rotation lock.

Every document is written losslessly (``canonical_json(..., digits=None)``); the ``file``
part says which file the line copies. The last line of an iteration wins; a torn last line
(a crash in the middle of an append) is skipped by readers and terminated before the next
append. The ITER_SUMMARY files stay the source of truth: rotation deletes one only once the
log holds its exact content (:meth:`LogEntry.holds`), and the catalog uses the log only for
files whose name, size and mtime it records (:mod:`soakkit.catalog.load`).

Runs rotated before the log existed keep their ``iterations.jsonl.gz`` (documents only);
it is read, never written (:func:`preserved_documents`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soakkit.artifacts.layout import HISTORY_FILE, ITER_LOG_FILE, iter_summary_name, read_history
from soakkit.core.errors import JsonFormatError
from soakkit.core.io import (
    append_durably,
    atomic_write_bytes,
    canonical_json,
    file_time_ns,
    loads_strict,
    round_floats,
)
from soakkit.core.json_canonical import JsonRecord

__all__ = ["FileId", "LogEntry", "append_entries", "entry_line", "file_id", "preserved_documents",
           "read_log", "write_iteration"]


@dataclass(frozen=True)
class FileId(JsonRecord):
    """Which file a log line copies: name, size, mtime and sha256 of its bytes."""

    name: str
    size: int
    mtime_ns: int
    sha256: str


def file_id(name: str, data: bytes, mtime_ns: int) -> FileId:
    """The :class:`FileId` of a file's bytes (plain, never compressed)."""
    return FileId(name, len(data), mtime_ns, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class LogEntry:
    """One line of the log."""

    iteration: int
    file: FileId
    doc: dict[str, Any]

    def holds(self, doc: Any) -> bool:
        """True when this line holds exactly ``doc`` (every value, every digit)."""
        return canonical_json(self.doc, digits=None) == canonical_json(doc, digits=None)


def entry_line(iteration: int, file: FileId, doc: Mapping[str, Any]) -> bytes:
    """One log line (lossless: floats keep every digit)."""
    return canonical_json({"iteration": iteration, "file": file.to_json(), "doc": doc},
                          compact=True, digits=None).encode("ascii")


def write_iteration(folder: Path, n: int, doc: Mapping[str, Any], *, mtime: float) -> None:
    """Write ``ITER_SUMMARY_<n>.json`` atomically, then append its copy to the log.

    The log line holds the document exactly as the file does (floats rounded as
    :func:`~soakkit.core.io.canonical_json` writes them) and the file's size, mtime and sha256.
    """
    data = canonical_json(doc).encode("ascii")
    path = Path(folder) / iter_summary_name(n)
    atomic_write_bytes(path, data, mtime=mtime)
    fid = file_id(path.name, data, file_time_ns(os.stat(path)))
    append_entries(folder, [entry_line(n, fid, round_floats(doc))], mtime=mtime)


def append_entries(folder: Path, lines: Iterable[bytes], *, mtime: float | None = None) -> None:
    """Append lines to ``folder``'s log with one write and one fsync (``mtime``: a stamp)."""
    data = b"".join(lines)
    if data:
        append_durably(Path(folder) / ITER_LOG_FILE, data, mtime=mtime)


def _entry(raw: Any) -> LogEntry | None:
    if not isinstance(raw, dict):
        return None
    n, file, doc = raw.get("iteration"), raw.get("file"), raw.get("doc")
    if type(n) is not int or not isinstance(file, dict) or not isinstance(doc, dict):
        return None
    try:
        fid = FileId(str(file["name"]), int(file["size"]), file_time_ns(int(file["mtime_ns"])),
                     str(file["sha256"]))
    except (KeyError, TypeError, ValueError):
        return None
    return LogEntry(n, fid, doc)


def read_log(folder: Path) -> tuple[dict[int, LogEntry], list[str]]:
    """Entries by iteration (the last line wins) and one problem line per bad line."""
    path = Path(folder) / ITER_LOG_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, []
    entries: dict[int, LogEntry] = {}
    problems: list[str] = []
    lines = data.split(b"\n")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = _entry(loads_strict(line, f"{path}:{lineno}"))
        except JsonFormatError as exc:
            if lineno == len(lines):
                continue  # a torn last line: the append it belonged to never finished
            problems.append(f"{exc}; line skipped")
            continue
        if entry is None:
            problems.append(f"{path}:{lineno}: not an iteration log line; skipped")
            continue
        entries[entry.iteration] = entry
    return entries, problems


def preserved_documents(folder: Path) -> dict[int, dict[str, Any]]:
    """Every document the folder's log (or a legacy ``iterations.jsonl.gz``) holds."""
    docs: dict[int, dict[str, Any]] = {}
    if os.path.exists(Path(folder) / HISTORY_FILE):
        docs.update({int(r["iteration"]): r for r in read_history(Path(folder))
                     if type(r.get("iteration")) is int})
    docs.update({n: e.doc for n, e in read_log(folder)[0].items()})
    return docs

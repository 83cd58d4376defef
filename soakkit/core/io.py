"""Files and time: the one place soakkit writes bytes or reads the clock.

Every write in soakkit goes through :func:`atomic_write_bytes` (temp file in the same
folder, fsync, rename, fsync of the folder) or, for logs, :func:`append_durably`; "now"
comes from a :class:`Clock` (:func:`clock_from`: ``--now``, ``SOAKKIT_NOW`` or the system
clock). JSON is encoded by :mod:`soakkit.core.json_canonical` and read by
:mod:`soakkit.core.json_strict`, digests come from :mod:`soakkit.core.digests`; their public
names are re-exported here, where users have always imported them.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import stat
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

from soakkit.core.digests import sha256_bytes, sha256_file
from soakkit.core.errors import UsageError
from soakkit.core.json_canonical import FLOAT_DIGITS, canonical_json, round_floats
from soakkit.core.json_strict import load_json_file, loads_strict, read_limited

__all__ = [
    "FILE_TIME_NS_RANGE",
    "FLOAT_DIGITS",
    "MAX_UTC",
    "MIN_UTC",
    "Clock",
    "FixedClock",
    "SystemClock",
    "append_durably",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "canonical_json",
    "clock_from",
    "file_time_ns",
    "format_utc",
    "fsync_dir",
    "load_json_file",
    "loads_strict",
    "open_append",
    "parse_utc",
    "read_limited",
    "round_floats",
    "sha256_bytes",
    "sha256_file",
]

_TMP_COUNTER = itertools.count()


# --------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------
def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or unlink inside it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name_for(path: Path) -> Path:
    """A hidden, unique temp name next to ``path`` (same folder, so rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_TMP_COUNTER)}.tmp")


def _refuse_special(path: Path) -> None:
    """A device, pipe or socket where a file is to be written is never replaced (renaming
    over ``/dev/full`` would replace the device itself)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise OSError(errno.EEXIST, "not a regular file; refusing to replace it", str(path))


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644, tmp_name: str | None = None,
                  mtime: float | None = None) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into, published when the block ends
    so readers see the old file or the new one, never a mix (:func:`atomic_write_bytes`
    for content written piece by piece: a large export never sits in memory whole).

    The content goes to an exclusive temp file in the same folder (never following a
    symlink), is fsynced, renamed over ``path`` and the folder is fsynced. On any failure
    (the block's included) the temp file is removed and ``path`` is untouched; a ``path``
    that is a device, pipe or socket is refused (an :class:`OSError`). ``tmp_name`` lets a
    caller that owns a lock use its own recognisable temp name (rotation cleans up its
    own). ``mtime`` (epoch seconds) sets the file's modification time before the rename,
    so a writer with an injected clock creates files whose age agrees with that clock.
    """
    path = Path(path)
    _refuse_special(path)
    tmp = path.with_name(tmp_name) if tmp_name else tmp_name_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.filename == os.fspath(tmp):
            exc.filename = os.fspath(path)  # the user knows the file, not our temp name
        raise
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if mtime is not None:
                os.utime(fh.fileno(), (mtime, mtime))
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename in (None, os.fspath(tmp)):
            exc.filename = os.fspath(path)  # the user knows the file, not our temp name
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644,
                       tmp_name: str | None = None, mtime: float | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix
    (:func:`atomic_writer`: temp file, fsync, rename, folder fsync)."""
    with atomic_writer(path, mode=mode, tmp_name=tmp_name, mtime=mtime) as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str, *, mtime: float | None = None) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), mtime=mtime)


def atomic_write_json(path: Path, obj: Any, *, compact: bool = False,
                      mtime: float | None = None) -> None:
    """Write ``obj`` as canonical JSON (see :func:`canonical_json`), atomically."""
    atomic_write_bytes(path, canonical_json(obj, compact=compact).encode("utf-8"), mtime=mtime)


# --------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------
class Clock(Protocol):
    """Where soakkit gets "now" from; inject :class:`FixedClock` for reproducible files."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock, in UTC (a plain class: an empty NamedTuple would be falsy, and
    ``clock or default`` would replace it)."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"

    def __eq__(self, other: object) -> bool:
        return True if type(other) is type(self) else NotImplemented

    def __hash__(self) -> int:
        return hash(type(self))


class FixedClock(NamedTuple):
    """A frozen clock: every call returns the same instant (``--now`` / ``SOAKKIT_NOW``)."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant


#: The instants soakkit accepts (``--now``, ``SOAKKIT_NOW``, the clock, tape times): a run id
#: has a four-digit year, and nanoseconds since the epoch must fit an int64 (until
#: 2262-04-11). ``soakkit soak --help`` states the window.
MIN_UTC = datetime(1970, 1, 1, tzinfo=UTC)
MAX_UTC = datetime(2261, 12, 31, 23, 59, 59, tzinfo=UTC)

#: File times soakkit stores are int64 nanoseconds (1677..2262); a file the operating
#: system dates outside (a hand-set or restored time, such as 2446) counts as the nearest.
FILE_TIME_NS_RANGE = (-(2**63), 2**63 - 1)


def file_time_ns(st: os.stat_result | int) -> int:
    """``st.st_mtime_ns`` (or a file time read back from a log) within int64 (see
    ``FILE_TIME_NS_RANGE``): the one way soakkit puts a file's time in a table, key or log."""
    ns = st if isinstance(st, int) else st.st_mtime_ns
    return min(max(ns, FILE_TIME_NS_RANGE[0]), FILE_TIME_NS_RANGE[1])


_UTC_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})$"
)


def parse_utc(text: str, where: str = "timestamp") -> datetime:
    """Parse an ISO-8601 instant with an explicit zone (``Z`` or ``±HH:MM``) into UTC.

    A naive time is refused: the legacy toolkit mixed local and UTC times.
    """
    m = _UTC_RE.match(text.strip())
    if not m:
        raise UsageError(
            f"{where}: {text!r} is not an ISO-8601 UTC time such as 2026-11-24T12:00:00Z")
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise UsageError(f"{where}: {text!r} is not a valid time ({exc})") from None
    if not MIN_UTC <= dt <= MAX_UTC:
        raise UsageError(f"{where}: {text!r} is outside {format_utc(MIN_UTC)[:10]}.."
                         f"{format_utc(MAX_UTC)[:10]} (run ids and file times stay within it)")
    return dt


def format_utc(dt: datetime) -> str:
    """``2026-11-24T04:29:13.123Z``: UTC, millisecond precision, always the same width."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def clock_from(now: str | None, env: Mapping[str, str] | None = None) -> Clock:
    """A :class:`FixedClock` from ``--now`` or ``SOAKKIT_NOW``, else the system clock."""
    env = os.environ if env is None else env
    if now is not None:
        return FixedClock(parse_utc(now, "--now"))
    value = env.get("SOAKKIT_NOW")
    if value is not None:
        return FixedClock(parse_utc(value, "SOAKKIT_NOW"))
    return SystemClock()


def open_append(path: Path) -> int:
    """Open ``path`` for appending lines (created if missing, never through a symlink).

    A torn last line (a crash in the middle of an append) is terminated first, so the
    next line starts on a line of its own. Returns the descriptor.
    """
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.write(fd, b"\n")
    return fd


def append_durably(path: Path, data: bytes, *, mtime: float | None = None) -> None:
    """Append whole lines with one write and one fsync (and the folder's, for a new file).

    ``mtime`` (epoch seconds) stamps the file, as :func:`atomic_write_bytes` does.
    """
    path = Path(path)
    created = not os.path.lexists(path)
    fd = open_append(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)

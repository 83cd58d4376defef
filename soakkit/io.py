"""Files, JSON and time: the one place soakkit writes bytes, encodes JSON or reads the clock.

Every write in soakkit goes through :func:`atomic_write_bytes` (temp file in the same
folder, fsync, rename, fsync of the folder), every JSON document is encoded by
:func:`canonical_json` (sorted keys, no NaN, trailing newline) and every JSON document is
read by :func:`loads_strict`, which rejects what Python's :mod:`json` silently accepts
(NaN, Infinity, duplicate keys) and reports line and column.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from soakkit.errors import JsonFormatError, UsageError, filesystem_error
from soakkit.inputs import json_float, json_int

__all__ = [
    "FLOAT_DIGITS",
    "Clock",
    "FixedClock",
    "SystemClock",
    "append_durably",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "canonical_json",
    "clock_from",
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


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644,
                       tmp_name: str | None = None, mtime: float | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.

    The bytes go to an exclusive temp file in the same folder (never following a
    symlink), are fsynced, renamed over ``path`` and the folder is fsynced. On any
    failure the temp file is removed and ``path`` is untouched. ``tmp_name`` lets a caller
    that owns a lock use its own recognisable temp name (rotation cleans up its own).
    ``mtime`` (epoch seconds) sets the file's modification time before the rename, so a
    writer with an injected clock creates files whose age agrees with that clock.
    """
    path = Path(path)
    tmp = path.with_name(tmp_name) if tmp_name else tmp_name_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.filename == os.fspath(tmp):
            exc.filename = os.fspath(path)  # the user knows the file, not our temp name
        raise
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if mtime is not None:
                os.utime(fh.fileno(), (mtime, mtime))
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename == os.fspath(tmp):
            exc.filename = os.fspath(path)  # the user knows the file, not our temp name
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mtime: float | None = None) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), mtime=mtime)


def atomic_write_json(path: Path, obj: Any, *, compact: bool = False,
                      mtime: float | None = None) -> None:
    """Write ``obj`` as canonical JSON (see :func:`canonical_json`), atomically."""
    atomic_write_bytes(path, canonical_json(obj, compact=compact).encode("utf-8"), mtime=mtime)


# --------------------------------------------------------------------------------------
# canonical and strict JSON
# --------------------------------------------------------------------------------------
#: Significant digits of every float soakkit writes. numpy picks its SIMD kernels per CPU
#: (AVX-512 or AVX2), and ``exp``/``log`` and sums may differ in the last one or two ulps
#: between them; past about 12 digits a KPI is noise. Ten digits keep every value exact
#: to far below anything a report shows, and make the files of one run agree across
#: machines except in the rare value that sits on a rounding boundary (docs/ARTIFACTS.md).
FLOAT_DIGITS = 10


def round_floats(obj: Any, digits: int = FLOAT_DIGITS) -> Any:
    """``obj`` with every float rounded to ``digits`` significant digits (ints untouched).

    Idempotent: rounding a rounded value gives the same value, so the numbers a run
    acts on in memory and the numbers it writes are the same.
    """
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_floats(v, digits) for v in obj]
    return obj


def canonical_json(obj: Any, *, compact: bool = False,
                   digits: int | None = FLOAT_DIGITS) -> str:
    """Encode ``obj`` deterministically: sorted keys, ASCII, no NaN/Infinity, final newline.

    Floats carry ``digits`` significant digits (:func:`round_floats`); ``digits=None``
    keeps every float exactly (for copies that must be lossless, such as the history
    rotation keeps of the files it deletes). ``compact=True`` gives one line (for JSONL
    and signatures); otherwise two-space indent. Raises :class:`ValueError` on NaN or
    Infinity instead of writing invalid JSON.
    """
    if digits is not None:
        obj = round_floats(obj, digits)
    if compact:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":"))
    else:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False, indent=2)
    return text + "\n"


class _BadConstant(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not valid JSON (numbers must be finite)")
        self.name = name


class _BadNumber(ValueError):
    pass


def _number(parse: Any) -> Any:
    def hook(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise _BadNumber(str(exc)) from None
    return hook


_JSON_INT = _number(json_int)
_JSON_FLOAT = _number(json_float)
#: Largest JSON document soakkit reads (a profile, RUN.json, an ITER_SUMMARY...).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _reject_constant(name: str) -> Any:
    raise _BadConstant(name)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    if index < 0:
        return 0, 0
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def _duplicate_position(text: str, key: str) -> tuple[int, int]:
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    matches = list(pattern.finditer(text))
    return _position(text, matches[1].start()) if len(matches) > 1 else (0, 0)


def _constant_position(text: str, name: str) -> tuple[int, int]:
    m = re.search(r"(?<![A-Za-z\"])" + re.escape(name) + r"(?![A-Za-z\"])", text)
    return _position(text, m.start()) if m else (0, 0)


def loads_strict(text: str | bytes, source: str, *, require_object: bool = True) -> Any:
    """Parse JSON strictly; errors name ``source`` and the line and column.

    Rejects NaN/Infinity, duplicate keys, a byte-order mark, non-UTF-8 bytes, numbers
    that are too long or overflow (:func:`soakkit.inputs.json_int`/``json_float``), nesting
    deeper than Python can parse, trailing garbage and (with ``require_object``) a top level
    that is not an object. Raises :class:`~soakkit.errors.JsonFormatError`.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonFormatError(source, 0, 0, f"not UTF-8 ({exc.reason})") from None
    if text.startswith("\ufeff"):
        raise JsonFormatError(source, 1, 1, "starts with a byte-order mark; save as plain UTF-8")
    if not text.strip():
        raise JsonFormatError(source, 1, 1, "empty document")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates,
                           parse_constant=_reject_constant, parse_int=_JSON_INT,
                           parse_float=_JSON_FLOAT)
    except RecursionError:
        raise JsonFormatError(source, 0, 0, "nested too deeply to read") from None
    except _BadNumber as exc:
        raise JsonFormatError(source, 0, 0, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise JsonFormatError(source, exc.lineno, exc.colno, exc.msg) from None
    except _DuplicateKey as exc:
        raise JsonFormatError(source, *_duplicate_position(text, exc.key), str(exc)) from None
    except _BadConstant as exc:
        raise JsonFormatError(source, *_constant_position(text, exc.name), str(exc)) from None
    except ValueError:  # int() refusing a number with thousands of digits
        raise JsonFormatError(source, 0, 0, "a number has too many digits") from None
    if require_object and not isinstance(value, dict):
        raise JsonFormatError(source, 1, 1,
                              f"top level must be a JSON object, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def load_json_file(path: Path, *, require_object: bool = True) -> Any:
    """Read and strictly parse a JSON file; the error names the file."""
    try:
        data = read_limited(Path(path))
    except FileNotFoundError:
        raise JsonFormatError(str(path), 0, 0, "file not found") from None
    except IsADirectoryError:
        raise JsonFormatError(str(path), 0, 0, "is a directory, not a file") from None
    return loads_strict(data, str(path), require_object=require_object)


def read_limited(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A file's bytes, refusing (:class:`JsonFormatError`) one larger than ``limit``.

    ``FileNotFoundError`` and ``IsADirectoryError`` pass through for the caller to word;
    any other :class:`OSError` becomes a :class:`~soakkit.errors.FileSystemError`.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (FileNotFoundError, IsADirectoryError):
        raise
    except OSError as exc:
        raise filesystem_error(exc, path, "cannot read") from None
    if len(data) > limit:
        raise JsonFormatError(str(path), 0, 0, f"larger than {limit // 1048576} MiB; "
                              "refusing to read it")
    return data


def is_finite_number(value: Any) -> bool:
    """True for an int or finite float that is not a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


# --------------------------------------------------------------------------------------
# hashing
# --------------------------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def signature(obj: Any) -> str:
    """sha256 over the canonical compact JSON of ``obj`` (stable across processes)."""
    return sha256_bytes(canonical_json(obj, compact=True).encode("ascii"))


# --------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------
class Clock(Protocol):
    """Where soakkit gets "now" from; inject :class:`FixedClock` for reproducible files."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A frozen clock: every call returns the same instant (``--now`` / ``SOAKKIT_NOW``)."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant


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
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{where}: {text!r} is not a valid time ({exc})") from None
    return dt.astimezone(UTC)


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

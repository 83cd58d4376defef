"""Strict JSON: the one way soakkit reads a JSON document.

:func:`loads_strict` rejects what Python's :mod:`json` silently accepts (NaN, Infinity,
duplicate keys, a byte-order mark, overlong numbers) and reports line and column;
:func:`load_json_file` reads a file of at most :data:`MAX_DOCUMENT_BYTES` and parses it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from soakkit.core.errors import JsonFormatError, filesystem_error
from soakkit.core.inputs import json_float, json_int

__all__ = ["MAX_DOCUMENT_BYTES", "is_finite_number", "load_json_file", "load_json_if_present",
           "loads_strict", "read_limited"]


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
    that are too long or overflow (:func:`soakkit.core.inputs.json_int`/``json_float``), nesting
    deeper than Python can parse, trailing garbage and (with ``require_object``) a top level
    that is not an object. Raises :class:`~soakkit.core.errors.JsonFormatError`.
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


def load_json_if_present(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` when there is no such file (a store's
    ``sweep.json``/``study.json`` before its first start)."""
    if not path.exists():
        return None
    doc: dict[str, Any] = load_json_file(path)
    return doc


def read_limited(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A file's bytes, refusing (:class:`JsonFormatError`) one larger than ``limit``.

    ``FileNotFoundError`` and ``IsADirectoryError`` pass through for the caller to word;
    any other :class:`OSError` becomes a :class:`~soakkit.core.errors.FileSystemError`.
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

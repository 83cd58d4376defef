"""soakkit.core.io: atomic writes, canonical JSON, strict JSON, clock."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soakkit.core.errors import JsonFormatError, UsageError
from soakkit.core.io import (
    FixedClock,
    SystemClock,
    atomic_write_bytes,
    atomic_write_json,
    clock_from,
    format_utc,
    parse_utc,
)
from soakkit.core.json_canonical import canonical_json
from soakkit.core.json_strict import loads_strict


def test_canonical_json_is_sorted_ascii_with_trailing_newline() -> None:
    text = canonical_json({"b": 1, "a": {"d": "é", "c": 2}})
    assert text.endswith("\n")
    assert text.index('"a"') < text.index('"b"')
    assert "\\u00e9" in text
    assert canonical_json({"x": [1, 2]}, compact=True) == '{"x":[1,2]}\n'


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write_json(target, {"v": 1})
    atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert sorted(os.listdir(tmp_path)) == ["f.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    atomic_write_bytes(target, b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.txt"]


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        ('{"a": 1,\n "a": 2}', 2, 2, "duplicate key 'a'"),
        ('{"a": NaN}', 1, 7, "NaN is not valid JSON"),
        ('{"a": -Infinity}', 1, 7, "-Infinity is not valid JSON"),
        ('{"a": 1', 1, 8, "Expecting"),
        ('{"a": 1} x', 1, 10, "Extra data"),
        ("[1, 2]", 1, 1, "top level must be a JSON object, not an array"),
        ("", 1, 1, "empty document"),
        ("\ufeff{}", 1, 1, "byte-order mark"),
    ],
)
def test_loads_strict_rejects_with_position(text: str, line: int, col: int, fragment: str) -> None:
    with pytest.raises(JsonFormatError) as info:
        loads_strict(text, "src.json")
    err = info.value
    assert (err.line, err.column) == (line, col)
    assert fragment in str(err)
    assert str(err).startswith(f"src.json:{line}:{col}: ")


def test_loads_strict_rejects_huge_integer_cleanly() -> None:
    with pytest.raises(JsonFormatError, match="an integer has 5000 digits"):
        loads_strict('{"a": ' + "9" * 5000 + "}", "big.json")


def test_loads_strict_rejects_non_utf8() -> None:
    with pytest.raises(JsonFormatError, match="not UTF-8"):
        loads_strict(b'{"a": "\xff"}', "bytes.json")


def test_clock_injection() -> None:
    fixed = clock_from("2026-01-02T03:04:05Z", {})
    assert isinstance(fixed, FixedClock)
    assert format_utc(fixed.now()) == "2026-01-02T03:04:05.000Z"
    env_clock = clock_from(None, {"SOAKKIT_NOW": "2026-01-02T04:04:05+01:00"})
    assert env_clock.now() == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert isinstance(clock_from(None, {}), SystemClock)


def test_every_clock_is_truthy_so_clock_or_default_keeps_it() -> None:
    """``clock = clock or default`` is how optional clocks are filled in: a clock given must
    survive it (an empty record type would be falsy)."""
    system, fixed = SystemClock(), FixedClock(datetime(2026, 1, 2, tzinfo=UTC))
    assert (system or None) is system and (fixed or None) is fixed
    assert system == SystemClock() and hash(system) == hash(SystemClock())
    assert system != fixed and SystemClock().__eq__(object()) is NotImplemented


@pytest.mark.parametrize("bad", ["2026-01-02T03:04:05", "yesterday", "2026-13-02T00:00:00Z"])
def test_parse_utc_refuses_naive_or_invalid(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_utc(bad, "--now")


def test_a_config_error_survives_pickling_with_its_problems() -> None:
    """Errors cross process boundaries (Dask workers, papermill); a ConfigError comes back
    with the same problems, not its message split into characters."""
    import pickle

    from soakkit.core.errors import ConfigError, Problem

    error = ConfigError([Problem("cli", "--set", "spread", "not a number"),
                         Problem("env", "SOAK_X", None, "unknown")])
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.problems, str(back)) == (ConfigError, error.problems, str(error))

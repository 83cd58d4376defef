"""runtime_overrides.json: compare-and-swap, fail-closed reads, no torn reads under concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from soakkit.config.runtime import (
    AppliedRecord,
    read_runtime_overrides,
    write_runtime_overrides,
)
from soakkit.core.errors import RuntimeOverridesError, StaleRevisionError

SHA = "a" * 64


def _create(path: Path, **values: float) -> None:
    write_runtime_overrides(path, expected_revision=None, base_profile="steady_safe",
                            base_profile_sha256=SHA, values=values, applied=None)


def test_create_then_cas_increments_revision(tmp_path: Path) -> None:
    path = tmp_path / "runtime_overrides.json"
    _create(path, tail_age_ms=800)
    doc = write_runtime_overrides(path, expected_revision=0, base_profile="steady_safe",
                                  base_profile_sha256=SHA, values={"tail_age_ms": 850},
                                  applied=AppliedRecord(1, "b" * 64, {"tail_age_ms": 800}))
    assert doc.revision == 1
    again = read_runtime_overrides(path)
    assert again.values == {"tail_age_ms": 850}
    assert again.applied == AppliedRecord(1, "b" * 64, {"tail_age_ms": 800})
    assert set(json.loads(path.read_text())) == {"schema_version", "revision", "base_profile",
                                                  "base_profile_sha256", "values", "applied"}


def test_stale_revision_is_refused_and_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "runtime_overrides.json"
    _create(path)
    write_runtime_overrides(path, expected_revision=0, base_profile="steady_safe",
                            base_profile_sha256=SHA, values={"tail_age_ms": 900}, applied=None)
    before = path.read_bytes()
    with pytest.raises(StaleRevisionError) as info:
        write_runtime_overrides(path, expected_revision=0, base_profile="steady_safe",
                                base_profile_sha256=SHA, values={"tail_age_ms": 950},
                                applied=None)
    assert (info.value.expected, info.value.found) == (0, 1)
    assert path.read_bytes() == before
    with pytest.raises(StaleRevisionError):
        _create(path)  # creating over an existing file is a stale write too


@pytest.mark.parametrize(
    ("values", "fragment"),
    [({"symbol": 1}, "unknown parameter"), ({"base_spread_bps": 3.0}, "not tunable"),
     ({"tail_age_ms": 5}, "out of bounds"), ({"tail_age_ms": 700.5}, "expected an integer")],
)
def test_writer_refuses_invalid_values(tmp_path: Path, values: dict[str, float],
                                       fragment: str) -> None:
    path = tmp_path / "runtime_overrides.json"
    with pytest.raises(RuntimeOverridesError, match=fragment):
        write_runtime_overrides(path, expected_revision=None, base_profile="steady_safe",
                                base_profile_sha256=SHA, values=values, applied=None)
    assert not path.exists()


def test_truncated_file_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "runtime_overrides.json"
    _create(path, tail_age_ms=800)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeOverridesError, match="corrupt or truncated"):
        read_runtime_overrides(path)
    assert path.read_bytes() == data[: len(data) // 2]


_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from soakkit.config.runtime import read_runtime_overrides, write_runtime_overrides
    from soakkit.core.errors import StaleRevisionError
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    done = 0
    while done < count:
        cur = read_runtime_overrides(path)
        value = 300 + (cur.revision % 1200)
        try:
            write_runtime_overrides(path, expected_revision=cur.revision,
                                    base_profile="steady_safe", base_profile_sha256="a" * 64,
                                    values={"tail_age_ms": value,
                                            "position_limit_notional": 1000.0 + cur.revision},
                                    applied=None)
            done += 1
        except StaleRevisionError:
            continue
""")


def test_concurrent_writers_never_lose_an_update(tmp_path: Path) -> None:
    path = tmp_path / "runtime_overrides.json"
    _create(path)
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(path), "40"]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert read_runtime_overrides(path).revision == 120


def test_reader_never_sees_a_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "runtime_overrides.json"
    _create(path)
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    writer = subprocess.Popen([sys.executable, str(script), str(path), "300"])
    reads, last = 0, -1
    while writer.poll() is None or reads == 0:
        doc = read_runtime_overrides(path)  # raises on any torn or partial file
        assert doc.revision >= last
        last = doc.revision
        reads += 1
    assert writer.wait(timeout=120) == 0
    assert reads > 10
    assert read_runtime_overrides(path).revision == 300

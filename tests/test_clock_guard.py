"""The suite's guard against date-dependent tests really fires (tests/clock_guard.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soakkit.rotation import RotationPolicy, rotate

from .clock_guard import SESSION_START_ENV, DateDependentTestError
from .conftest import run_subprocess
from .rotation_helpers import NOW, write


def test_a_real_mtime_under_an_injected_clock_is_refused(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "made-today.json").write_text("{}\n")  # real mtime: the mistake
    with pytest.raises(DateDependentTestError, match=r"made-today\.json: its mtime is the real"):
        rotate(tmp_path, RotationPolicy(ttl_days=7.0), now=NOW)


def test_mtimes_set_from_the_injected_clock_pass(tmp_path: Path) -> None:
    write(tmp_path / "snapshots" / "old.json", b"{}\n", age_days=30)
    result = rotate(tmp_path, RotationPolicy(ttl_days=7.0), now=NOW)
    assert [a["action"] for a in result.record["actions"]] == ["compress"]


def test_the_real_clock_with_real_mtimes_passes(tmp_path: Path) -> None:
    from soakkit.core.io import SystemClock

    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "new.json").write_text("{}\n")
    result = rotate(tmp_path, RotationPolicy(ttl_days=7.0), now=SystemClock().now())
    assert result.record["actions"] == []


def test_back_dated_files_under_the_real_clock_are_refused(tmp_path: Path) -> None:
    from soakkit.core.io import SystemClock

    write(tmp_path / "snapshots" / "old.json", b"{}\n", age_days=30)  # 30 days before NOW
    with pytest.raises(DateDependentTestError, match=r"old\.json: its mtime .* set explicitly"):
        rotate(tmp_path, RotationPolicy(ttl_days=7.0), now=SystemClock().now())


def test_the_guard_runs_in_child_processes(tmp_path: Path) -> None:
    assert os.environ[SESSION_START_ENV]
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "made-today.json").write_text("{}\n")
    out = run_subprocess("rotate", "--path", str(tmp_path), "--now", "2026-11-24T12:00:00Z")
    assert out.code != 0
    assert "DateDependentTestError" in out.err and "made-today.json" in out.err


def test_a_stamp_that_happens_to_fall_in_the_session_passes(tmp_path: Path) -> None:
    """A test whose fixed clock puts a file's stamp at the very minute the suite runs (as
    the 100-kill loop did when CI crossed midnight) did nothing wrong: utime set it."""
    import time

    path = tmp_path / "snapshots" / "stamped.json"
    write(path, b"{}\n", age_days=30)
    stamp = time.time() - 2.2  # inside the session, and apart from the ctime utime sets
    os.utime(path, (stamp, stamp))
    result = rotate(tmp_path, RotationPolicy(ttl_days=7.0), now=NOW)
    assert [a["path"] for a in result.record["actions"]] == []

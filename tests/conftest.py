"""Shared fixtures: a clean environment, a temp artifacts root, and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soakkit.cli import main

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def pytest_sessionstart(session: pytest.Session) -> None:
    """Isolate the catalog cache; build the goldens' deterministic artifacts before nbval."""
    import tempfile

    os.environ["SOAKKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="soakkit-cache-")
    if session.config.getoption("nbval", default=False):
        from tests.golden_support import build_golden_artifacts

        build_golden_artifacts()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SOAKKIT_*/MM_*/SOAK_* variable leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.upper().startswith(("SOAKKIT_", "MM_", "SOAK_")) and name != "SOAKKIT_CACHE_DIR":
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts" / "soak"
    root.mkdir(parents=True)
    return root


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``soakkit`` in-process: ``cli("config", "show", ...)`` → CliResult."""

    def run(*argv: str) -> CliResult:
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_subprocess(*argv: str, env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> CliResult:
    """Run ``python -m soakkit`` in a child process (to see exit codes and stderr as users do)."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.upper().startswith(("SOAKKIT_", "MM_", "SOAK_"))}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "soakkit", *argv], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=300)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    """Exit 2-style user error: error lines only, each naming what is wrong, no traceback."""
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines, "expected an error message"
    assert all(line.startswith("soakkit: error: ") for line in lines), lines
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)

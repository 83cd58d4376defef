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

from .clock_guard import SESSION_START_ENV, kernel_now, write_sitecustomize
from .clock_guard import install as install_clock_guard

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str


#: Variables the test session itself sets; every other SOAKKIT_*/MM_*/SOAK_* is cleared.
SESSION_ENV = ("SOAKKIT_CACHE_DIR", SESSION_START_ENV)


def pytest_configure(config: pytest.Config) -> None:
    """Everything the suite writes goes under one temporary folder, never the user's home.

    Caches and settings of soakkit, matplotlib, Jupyter and IPython are redirected there
    (child processes and notebook kernels inherit it), hypothesis keeps no database, and
    the clock guard (tests/clock_guard.py) is installed here and in every child process.
    """
    import tempfile

    from hypothesis import settings

    base = Path(tempfile.mkdtemp(prefix="soakkit-tests-"))
    for name, sub in (("SOAKKIT_CACHE_DIR", "soakkit-cache"), ("XDG_CACHE_HOME", "cache"),
                      ("XDG_CONFIG_HOME", "config"), ("MPLCONFIGDIR", "matplotlib"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
                      ("JUPYTER_CONFIG_DIR", "jupyter-config"), ("IPYTHONDIR", "ipython")):
        (base / sub).mkdir()
        os.environ[name] = str(base / sub)
    guard = base / "site"
    guard.mkdir()
    write_sitecustomize(guard)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(guard), os.environ.get("PYTHONPATH", "")) if p)
    os.environ[SESSION_START_ENV] = repr(kernel_now())
    install_clock_guard()
    settings.register_profile("soakkit-tests", database=None)
    settings.load_profile("soakkit-tests")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Golden notebook cells are determinism tests too (CI reruns them without AVX-512), and
    slow ones, as browser checks are: ``-m "not slow"`` (the fast loop) leaves them out.

    ``tryfirst``: the markers are in place before ``-m`` deselects anything.
    """
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.determinism)
            item.add_marker(pytest.mark.slow)
        elif item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)


_GOLDEN_BASE = pytest.StashKey[Path]()


def _golden_base(config: pytest.Config) -> Path:
    """The goldens' deterministic artifacts (in a temporary folder), built when the first
    golden cell runs: a session that deselects the goldens (``-m "not slow"``) never pays."""
    base = config.stash.get(_GOLDEN_BASE, None)
    if base is None:
        import tempfile

        from tests.golden_support import build_golden_artifacts

        base = Path(tempfile.mkdtemp(prefix="soakkit-goldens-"))
        build_golden_artifacts(base)
        config.stash[_GOLDEN_BASE] = base
    return base


def pytest_sessionfinish(session: pytest.Session) -> None:
    import shutil

    base = session.config.stash.get(_GOLDEN_BASE, None)
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """A golden's kernel (started when its first cell is set up) finds its artifacts through
    ``SOAKKIT_ARTIFACTS``, as a notebook opened by an analyst does (tests/golden_support.py)."""
    if type(item).__name__ != "IPyNbCell":
        yield
        return
    from tests.golden_support import golden_env

    env = golden_env(_golden_base(item.config), Path(str(item.fspath)).stem)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SOAKKIT_*/MM_*/SOAK_* variable leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.upper().startswith(("SOAKKIT_", "MM_", "SOAK_")) and name not in SESSION_ENV:
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


def subprocess_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This session's environment without the developer's SOAKKIT_*/MM_*/SOAK_*, plus ``env``."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.upper().startswith(("SOAKKIT_", "MM_", "SOAK_")) or k in SESSION_ENV}
    full_env.update(env or {})
    return full_env


def run_subprocess(*argv: str, env: dict[str, str] | None = None,
                   cwd: Path | None = None, prefix: tuple[str, ...] = ()) -> CliResult:
    """Run ``python -m soakkit`` in a child process (to see exit codes and stderr as users do).

    ``prefix`` runs it through another command (``unshare ... --``).
    """
    proc = subprocess.run([*prefix, sys.executable, "-m", "soakkit", *argv], capture_output=True,
                          text=True, env=subprocess_env(env), cwd=cwd, timeout=300)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    """Exit 2-style user error: error lines only, each naming what is wrong, no traceback."""
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines, "expected an error message"
    assert all(line.startswith("soakkit: error: ") for line in lines), lines
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)

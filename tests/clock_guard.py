"""A guard against tests that depend on the day they run.

A test depends on the calendar when it mixes a fixed instant with the real one. In
soakkit the only place where the clock meets the file system is rotation planning (age =
now − mtime; ``tests/test_packaging.py`` checks that only ``soakkit/core/io.py`` reads the
wall clock), so every rotation plan made while the tests run is checked, both ways:

* the plan's ``now`` was injected (``now=2026-11-24``) → no file whose age decided its
  fate may carry a *real* mtime from this test session. This is the mistake of the
  issue: the files become "future" once the real date passes the frozen one. Fix: set
  the mtime relative to the injected clock (``tests/rotation_helpers.write``), or write
  the file through soakkit with that clock (soakkit stamps its files with its clock);
* the plan runs on the real clock → every such file must have been stamped by the real
  clock during this session. A file back-dated against a fixed instant (``NOW - 30 d``)
  ages by one day for every real day that passes. Fix: inject the clock the mtimes were
  set against (``now=NOW``, ``--now``).

(``faketime`` cannot find these: Debian's libfaketime 0.9.10 does not shift the mtimes
Python's ``stat`` returns, and timed waits hang under it; see docs/ARTIFACTS.md.)

The guard is installed in the pytest process by ``tests/conftest.py`` and, through a
``sitecustomize`` on ``PYTHONPATH``, in every child process (CLI runs, notebook kernels),
lazily: it patches ``soakkit.rotation.apply`` when that module is first imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

TARGET = "soakkit.rotation.apply"
#: Environment variable holding the kernel time (epoch s) at which the test session began.
SESSION_START_ENV = "SOAKKIT_TEST_SESSION_START"
#: A plan's ``now`` this close to the real time is the real clock, not an injected one.
REAL_CLOCK_TOLERANCE_S = 120.0
_SLACK_S = 2.0


class DateDependentTestError(AssertionError):
    """A test injected a clock but created files with the real time's mtime."""


def kernel_now() -> float:
    """The kernel's current time as it stamps files (immune to faketime in the process)."""
    with tempfile.NamedTemporaryFile(prefix="soakkit-clock-probe-") as fh:
        return os.fstat(fh.fileno()).st_mtime


def _written_by_the_real_clock(root: Path, path: str, mtime: float) -> bool:
    """True unless the mtime was set explicitly: ``utime`` moves the mtime away from the
    ctime, so a stamp that happens to fall inside the session (a test spanning the very
    day its fixed clock points at) is not mistaken for a file written without one."""
    try:
        ctime = os.lstat(root / path).st_ctime
    except OSError:
        return True
    return abs(ctime - mtime) <= _SLACK_S


def check_walk(found: Any, now_s: float, root: Path | None = None) -> None:
    """Raise :class:`DateDependentTestError` for the first file that breaks the rule."""
    from soakkit.rotation.plan import (
        R_FUTURE,
        R_LATEST,
        R_NAME_TOO_LONG,
        R_OLD,
        R_YOUNG,
    )

    start = float(os.environ.get(SESSION_START_ENV, "0") or 0)
    if not start:
        return
    real = kernel_now()
    injected = abs(now_s - real) >= REAL_CLOCK_TOLERANCE_S
    aged = {R_OLD, R_YOUNG, R_FUTURE, R_NAME_TOO_LONG, R_LATEST}
    for d in found.dirs:
        for i, name in enumerate(d.names):
            if int(d.reason[i]) not in aged:
                continue
            mtime = float(d.mtime_ns[i]) / 1e9
            stamped_now = start - _SLACK_S <= mtime <= real + _SLACK_S
            if stamped_now != injected:
                continue
            path = f"{d.rel}/{name}" if d.rel else name
            if injected and root is not None and \
                    not _written_by_the_real_clock(root, path, mtime):
                continue
            raise DateDependentTestError(_message(path, injected, now_s, mtime))


def _message(path: str, injected: bool, now_s: float, mtime: float) -> str:
    if injected:
        return (f"{path}: its mtime is the real time this test ran, but the rotation's clock "
                f"was injected (now={now_s:.0f}): the outcome depends on the day the test "
                "runs; set the file's mtime relative to the injected clock "
                "(tests/rotation_helpers.write), or write it through soakkit with that clock")
    return (f"{path}: its mtime ({mtime:.0f}) was set explicitly, but the rotation ran on the "
            "real clock: the file's age grows with every real day; inject the clock the mtime "
            "was set against (now=NOW, --now)")


def patch(module: ModuleType) -> None:
    """Wrap ``module.plan_rotation`` (every rotation and disk report plans through it)."""
    real_plan = module.plan_rotation
    if getattr(real_plan, "_clock_guard", False):
        return

    def guarded_plan(root: Any, policy: Any, now: Any, **options: Any) -> Any:
        plan = real_plan(root, policy, now, **options)
        check_walk(plan.walk, now.timestamp(), Path(root))
        return plan

    guarded_plan._clock_guard = True  # type: ignore[attr-defined]
    module.plan_rotation = guarded_plan


class _Finder(importlib.abc.MetaPathFinder):
    """Patches :data:`TARGET` right after it is imported (nothing is imported early)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Install the guard in this process (now if soakkit's rotation is loaded, else lazily)."""
    if TARGET in sys.modules:
        patch(sys.modules[TARGET])
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def write_sitecustomize(folder: Path) -> Path:
    """A ``sitecustomize.py`` in ``folder`` that installs the guard in child processes.

    It loads this file by path under a private name, so no other ``tests`` package on the
    child's ``sys.path`` can shadow it.
    """
    path = folder / "sitecustomize.py"
    path.write_text("import importlib.util as _u\n"
                    f"_s = _u.spec_from_file_location('soakkit_clock_guard', {__file__!r})\n"
                    "_m = _u.module_from_spec(_s)\n"
                    "_s.loader.exec_module(_m)\n"
                    "_m.install()\n")
    return path

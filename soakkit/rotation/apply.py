"""Plan, then apply: :func:`rotate` is the one entry point of artifact rotation.

A real run takes the rotation lock, opens the log (an unwritable log stops everything),
scans and plans the tree once with one captured ``now``, then executes the plan phase by
phase: ``recover`` (leftovers of an interrupted run), ``history`` (make sure the run's
iteration log ``iterations.jsonl`` holds the exact content of every ITER_SUMMARY about to be
deleted, appending and reading back what it lacks), ``delete``, ``compress`` (crash-safe,
in place, in batches), ``budget`` (only with ``--delete-to-budget``).
A dry run computes the same plan and changes nothing.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.core.errors import ROTATE_OVER_BUDGET, ExitCode
from soakkit.core.io import format_utc
from soakkit.core.locks import exclusive_lock
from soakkit.rotation.log import append_line, ensure_rotation_dir, last_record, open_log
from soakkit.rotation.policy import LOCK_FILE, RotationPolicy
from soakkit.rotation.scan import DIR_FLAGS, check_root, walk
from soakkit.rotation.tree import Plan, Sizes, plan_rotation, sizes_of

__all__ = ["Plan", "RotationResult", "Sizes", "plan_rotation", "rotate"]


@dataclass(frozen=True)
class RotationResult:
    """One rotation: its log record, exit code and the plan behind it.

    ``summary`` is the record without its ``actions``; ``record`` adds them (built on first
    use for a dry run: the text output prints them straight from the plan's arrays).
    """

    summary: dict[str, Any]
    exit_code: int
    plan: Plan
    #: (phase, path) → outcome of every action a real run attempted; None for a dry run
    results: dict[tuple[str, str], str] | None = None

    @functools.cached_property
    def record(self) -> dict[str, Any]:
        """The log record (what ``--json`` prints and ``ROTATION_LOG.jsonl`` holds)."""
        actions = self.plan.actions()
        if self.results is not None:
            for entry in actions:
                entry["result"] = self.outcome(entry["phase"], entry["path"])
        return {**self.summary, "actions": actions}

    def outcome(self, phase: str, path: str) -> str:
        """What a real run did with one action of the plan."""
        results = self.results or {}
        return results.get((phase, path), "skipped" if phase == "skip" else "not_run")


def _summary(plan: Plan, dry_run: bool, after: Sizes, errors: list[str],
             warnings: list[str]) -> dict[str, Any]:
    budget = plan.policy.budget_bytes
    over = budget is not None and after.allocated_bytes > budget
    status = "error" if errors else ("over_budget" if over else "ok")
    return {
        "soakkit_version": __version__, "root": ".", "dry_run": dry_run,
        "now": format_utc(plan.now), "args": plan.policy.to_json(),
        "before": plan.before.to_json(), "after": after.to_json(),
        "after_is_projection": dry_run, "budget_bytes": budget, "over_budget": over,
        "kept": plan.kept_counts(),
        "scan_errors": list(plan.walk.errors), "errors": errors, "warnings": warnings,
        "status": status,
    }


def _exit_code(summary: dict[str, Any]) -> int:
    """The legacy tool's codes (:data:`~soakkit.core.errors.ROTATE_EXIT_CODES`)."""
    if summary["errors"] or summary["scan_errors"]:
        return int(ExitCode.FAILED)
    return ROTATE_OVER_BUDGET if summary["over_budget"] else int(ExitCode.OK)


def rotate(root: Path, policy: RotationPolicy, *, now: datetime, dry_run: bool = False,
           wait_lock: float = 0.0, jobs: int = 1, render: bool = False) -> RotationResult:
    """Rotate the artifacts under ``root``.

    Parameters
    ----------
    root
        The artifacts folder (a real directory; symlinks are refused).
    policy
        Keep-latest, TTL, budget and codec (validated here).
    now
        The one instant every age is measured against (inject it for reproducible runs).
    dry_run
        Plan and report exactly what a real run would do; change nothing, log nothing.
    wait_lock
        Seconds to wait for a concurrent rotation; then :class:`~soakkit.core.errors.LockedError`.
    jobs
        Processes for the scan (forked only when this process is single-threaded).
    render
        With ``dry_run``: render the lines a dry run prints while scanning, in each scan
        process (``result.plan.dry_run_lines()`` is then ready; the CLI prints it).

    Returns
    -------
    RotationResult
        ``exit_code`` 0 ok, 1 error, 2 over budget after rotation.
    """
    policy.validate()
    root = Path(root)
    check_root(root)
    warnings: list[str] = []
    if dry_run:
        plan = plan_rotation(root, policy, now, jobs=jobs, render=render)
        summary = _summary(plan, True, plan.projected_after(), [], warnings)
        return RotationResult(summary, _exit_code(summary), plan)
    folder = ensure_rotation_dir(root)
    with exclusive_lock(folder / LOCK_FILE, f"rotation of {root}", wait_s=wait_lock), \
            open_log(folder) as log:
        previous = last_record(folder)
        if previous and isinstance(previous.get("now"), str) and previous["now"] > format_utc(now):
            warnings.append(f"clock went backwards: previous rotation ran at {previous['now']}")
        plan = plan_rotation(root, policy, now, jobs=jobs)
        from soakkit.rotation.execute import Executor  # a dry run needs none of it

        root_fd = os.open(root, DIR_FLAGS)
        executor = Executor(plan, root_fd, folder, jobs)
        try:
            executor.run()
        finally:
            executor.close()
            os.close(root_fd)
        after = sizes_of(walk(root, policy, now.timestamp(), jobs=jobs).dirs)
        summary = _summary(plan, False, after, executor.errors, warnings)
        result = RotationResult(summary, _exit_code(summary), plan, executor.results)
        append_line(log, result.record)
    return result


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

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.io import format_utc
from soakkit.locks import exclusive_lock
from soakkit.rotation.execute import Executor
from soakkit.rotation.log import append_line, ensure_rotation_dir, last_record, open_log
from soakkit.rotation.policy import LOCK_FILE, RotationPolicy
from soakkit.rotation.scan import check_root, walk
from soakkit.rotation.tree import Plan, Sizes, plan_rotation, sizes_of

__all__ = ["Plan", "RotationResult", "Sizes", "plan_rotation", "rotate"]


@dataclass(frozen=True)
class RotationResult:
    """The log record of one rotation, its exit code and the plan behind it."""

    record: dict[str, Any]
    exit_code: int
    plan: Plan


def _record(plan: Plan, dry_run: bool, after: Sizes, results: dict[tuple[str, str], str],
            errors: list[str], warnings: list[str]) -> dict[str, Any]:
    actions = plan.actions()
    if not dry_run:
        for entry in actions:
            entry["result"] = results.get((entry["phase"], entry["path"]),
                                          "skipped" if entry["phase"] == "skip" else "not_run")
    budget = plan.policy.budget_bytes
    over = budget is not None and after.allocated_bytes > budget
    status = "error" if errors else ("over_budget" if over else "ok")
    return {
        "soakkit_version": __version__, "root": ".", "dry_run": dry_run,
        "now": format_utc(plan.now), "args": plan.policy.to_json(),
        "before": plan.before.to_json(), "after": after.to_json(),
        "after_is_projection": dry_run, "budget_bytes": budget, "over_budget": over,
        "actions": actions, "kept": plan.kept_counts(),
        "scan_errors": list(plan.walk.errors), "errors": errors, "warnings": warnings,
        "status": status,
    }


def _exit_code(record: dict[str, Any]) -> int:
    if record["errors"] or record["scan_errors"]:
        return 1
    return 2 if record["over_budget"] else 0


def rotate(root: Path, policy: RotationPolicy, *, now: datetime, dry_run: bool = False,
           wait_lock: float = 0.0, jobs: int = 1) -> RotationResult:
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
        Seconds to wait for a concurrent rotation; then :class:`~soakkit.errors.LockedError`.
    jobs
        Processes for the scan (forked only when this process is single-threaded).

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
        plan = plan_rotation(root, policy, now, jobs=jobs)
        record = _record(plan, True, plan.projected_after(), {}, [], warnings)
        return RotationResult(record, _exit_code(record), plan)
    folder = ensure_rotation_dir(root)
    with exclusive_lock(folder / LOCK_FILE, f"rotation of {root}", wait_s=wait_lock), \
            open_log(folder) as log:
        previous = last_record(folder)
        if previous and isinstance(previous.get("now"), str) and previous["now"] > format_utc(now):
            warnings.append(f"clock went backwards: previous rotation ran at {previous['now']}")
        plan = plan_rotation(root, policy, now, jobs=jobs)
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        executor = Executor(plan, root_fd, folder, jobs)
        try:
            executor.run()
        finally:
            executor.close()
            os.close(root_fd)
        after = sizes_of(walk(root, policy, now.timestamp(), jobs=jobs).dirs)
        record = _record(plan, False, after, executor.results, executor.errors, warnings)
        append_line(log, record)
    return RotationResult(record, _exit_code(record), plan)


"""Data of the disk report: usage, growth, what rotation would reclaim now, the largest files.

One dry-run rotation plan (:func:`soakkit.rotation.plan_rotation`: a single scan, nothing
changed) supplies the usage tables, the reclaimable bytes and the largest files; the
rotation log supplies growth over time. ``rotation/`` itself is counted separately.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from soakkit.artifacts.layout import HISTORY_FILE, LOG_FILES, RUNS_DIR, resolve_artifacts
from soakkit.core.errors import ArtifactError, printable
from soakkit.core.io import clock_from
from soakkit.core.tables import table_html
from soakkit.rotation.apply import Plan, plan_rotation
from soakkit.rotation.plan import FILE
from soakkit.rotation.policy import LOG_FILE, ROTATION_DIR, RotationPolicy

__all__ = ["DiskReport", "load_disk_report"]

_META = frozenset({"RUN.json", "TUNING_REPORT.json", "runtime_overrides.json"})


@dataclass(frozen=True)
class DiskReport:
    """Tables of the disk report."""

    budget_bytes: int
    usage: pl.DataFrame  #: per group (run folder, legacy latest/, snapshots, ...)
    by_kind: pl.DataFrame
    history: pl.DataFrame  #: one row per logged rotation
    reclaim: pl.DataFrame  #: what the dry-run plan would do, by action
    largest: pl.DataFrame
    total_apparent: int
    total_allocated: int

    @property
    def over_budget(self) -> bool:
        return self.total_allocated > self.budget_bytes

    def _repr_html_(self) -> str:
        """Jupyter: usage by run against the budget, in the reports' table style."""
        state = "OVER BUDGET" if self.over_budget else "within budget"
        caption = (f"allocated {self.total_allocated / 2**20:.2f} MiB of "
                   f"{self.budget_bytes / 2**20:g} MiB: {state}")
        return table_html(self.usage, caption=caption)

    def record(self) -> dict[str, Any]:
        """Headline numbers written to ``kpis.json``."""
        return {"total_apparent_bytes": self.total_apparent,
                "total_allocated_bytes": self.total_allocated,
                "budget_bytes": self.budget_bytes, "over_budget": self.over_budget,
                "reclaim": self.reclaim.to_dicts(), "rotations_logged": self.history.height}


def _group(rel: str) -> str:
    parts = rel.split("/")
    if parts[0] == RUNS_DIR and len(parts) > 1:
        return f"{RUNS_DIR}/{parts[1]}"
    if parts[0] == "latest":
        return "latest/ (legacy)"
    return parts[0] + "/" if parts[0] else "(top level)"


def _kind(rel: str, name: str) -> str:
    if name.startswith("."):
        return "locks and hidden files"
    if name.startswith("ITER_SUMMARY_"):
        return "ITER_SUMMARY (gzip)" if name.endswith(".gz") else "ITER_SUMMARY"
    if name in LOG_FILES:
        return "iteration log" if name != HISTORY_FILE else "history (iterations.jsonl.gz)"
    if name in _META:
        return "run metadata"
    if rel.startswith("snapshots"):
        return "snapshot (gzip)" if name.endswith(".gz") else "snapshot"
    if name.endswith((".gz", ".zst")):
        return "other (compressed)"
    return "other"


def _files(plan: Plan) -> pl.DataFrame:
    rows = []
    for d in plan.walk.dirs:
        for i in np.flatnonzero(d.kind == FILE).tolist():
            # a name that is not UTF-8 is shown with its bytes escaped (\xff): tables are text
            rows.append((printable(d.path(i)), printable(_group(d.rel)),
                         _kind(d.rel, d.names[i]), int(d.size[i]),
                         int(d.blocks[i]) * 512, int(d.verb[i]), d.decision(i).phase))
    return pl.DataFrame(rows, schema={"path": pl.String, "group": pl.String, "kind": pl.String,
                                      "apparent_bytes": pl.Int64, "allocated_bytes": pl.Int64,
                                      "verb": pl.Int8, "phase": pl.String}, orient="row")


def _rotation_files(root: Path) -> pl.DataFrame:
    rows = []
    folder = root / ROTATION_DIR
    if folder.is_dir() and not folder.is_symlink():
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                rows.append((printable(f"{ROTATION_DIR}/{entry.name}"), "rotation/",
                             "rotation log and state",
                             st.st_size, st.st_blocks * 512, 0, "keep"))
    return pl.DataFrame(rows, schema={"path": pl.String, "group": pl.String, "kind": pl.String,
                                      "apparent_bytes": pl.Int64, "allocated_bytes": pl.Int64,
                                      "verb": pl.Int8, "phase": pl.String}, orient="row")


def _history(root: Path) -> pl.DataFrame:
    rows = []
    try:
        lines = (root / ROTATION_DIR / LOG_FILE).read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        lines = []
    for line in lines:
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if doc.get("dry_run") or not isinstance(doc.get("before"), dict):
            continue
        rows.append((str(doc.get("now")), int(doc["before"]["allocated_bytes"]),
                     int(doc["after"]["allocated_bytes"]), len(doc.get("actions", [])),
                     str(doc.get("status"))))
    return pl.DataFrame(rows, schema={"now": pl.String, "before_allocated": pl.Int64,
                                      "after_allocated": pl.Int64, "actions": pl.Int64,
                                      "status": pl.String}, orient="row")


def load_disk_report(artifacts: Path | str | None = None, *, budget_mb: float = 900.0,
                     ttl_days: float = 7.0, keep_latest: int = 100,
                     now: datetime | None = None) -> DiskReport:
    """Assemble the disk report of ``artifacts`` (nothing is changed).

    ``artifacts`` defaults to :func:`soakkit.artifacts.layout.resolve_artifacts`.

    Ages are measured from ``now`` (default: the clock of ``SOAKKIT_NOW``, else real time).
    Tables are sorted by what is stable across machines (names and file counts), not by
    sizes, which depend on the file system and on the last digits of the floats.
    """
    artifacts = resolve_artifacts(artifacts)
    if not artifacts.is_dir():
        raise ArtifactError(f"{artifacts}: artifacts folder not found")
    policy = RotationPolicy(keep_latest=keep_latest, ttl_days=ttl_days, max_size_mb=budget_mb)
    plan = plan_rotation(artifacts, policy, now or clock_from(None).now())
    files = pl.concat([_files(plan), _rotation_files(artifacts)])
    sums = [pl.len().alias("files"), pl.col("apparent_bytes").sum(),
            pl.col("allocated_bytes").sum()]
    usage = files.group_by("group").agg(sums).sort("group")
    by_kind = files.group_by("kind").agg(sums).sort(["files", "kind"], descending=[True, False])
    reclaim = (files.filter(pl.col("phase").is_in(["delete", "compress", "budget"]))
               .group_by("phase").agg(sums).sort("phase")
               .rename({"phase": "action"}))
    largest = files.sort(["allocated_bytes", "path"], descending=[True, False]).head(10).select(
        "path", "kind", "apparent_bytes", "allocated_bytes")
    return DiskReport(int(policy.budget_bytes or 0), usage, by_kind, _history(artifacts),
                      reclaim, largest, int(files["apparent_bytes"].sum()),
                      int(files["allocated_bytes"].sum()))

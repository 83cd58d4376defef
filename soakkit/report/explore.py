"""Data of the exploration notebook: every run of a time window, at a glance.

From the run catalog: one row per run (:func:`soakkit.catalog.load.run_summary`), verdicts by
profile × mode, KPI and P&L distributions per profile, the slowest and the failing runs,
and the run to drill into. The notebook ``explore_runs.ipynb`` only displays what this
returns (the drill-down is :func:`soakkit.report.kpi_report.load_kpi_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.catalog.entry import load_catalog
from soakkit.catalog.folders import LEGACY_RUN_ID
from soakkit.catalog.load import run_summary
from soakkit.core.errors import ArtifactError, UsageError
from soakkit.core.tables import table_html

__all__ = ["DISTRIBUTION_KPIS", "Exploration", "load_exploration"]

#: Per-iteration KPIs whose distributions are compared across profiles.
DISTRIBUTION_KPIS = ("net_bps", "pnl_usd", "risk_ratio", "p95_latency_ms")
_VERDICTS = ("PASS", "WARN", "FAIL")
_TOP = 5


@dataclass(frozen=True)
class Exploration:
    """Every run of a window and the views of the exploration notebook."""

    since: datetime | None  #: window start (None: every run)
    runs: pl.DataFrame  #: one row per run (soakkit.catalog.load.RUN_SUMMARY_SCHEMA)
    iterations: pl.DataFrame  #: the catalog rows of those runs
    verdicts: pl.DataFrame  #: profile × mode: runs per run verdict, first and last start
    profiles: pl.DataFrame  #: per profile: runs, iterations, KPI and P&L medians and p95s
    slowest: pl.DataFrame
    failing: pl.DataFrame
    selected: str  #: the run to drill into
    problems: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        """Headline numbers written to ``kpis.json``."""
        counts = {v: int((self.runs["verdict"] == v).sum()) for v in _VERDICTS}
        return {"runs": self.runs.height, "iterations": self.iterations.height,
                "verdicts": counts, "failing": self.failing["run"].to_list(),
                "selected": self.selected,
                "since": None if self.since is None else self.since.isoformat(),
                "problems": list(self.problems)}

    def _repr_html_(self) -> str:
        """Jupyter: the runs of the window in the reports' table style."""
        window = "every run" if self.since is None else f"runs since {self.since:%Y-%m-%d %H:%M}"
        return table_html(self.runs, caption=f"{window}: {self.runs.height} run(s)")


def _verdicts(runs: pl.DataFrame) -> pl.DataFrame:
    return (runs.group_by("profile", "mode")
            .agg(pl.len().alias("runs"),
                 *[(pl.col("verdict") == v).sum().alias(v) for v in _VERDICTS],
                 pl.col("started_utc").min().alias("first"),
                 pl.col("started_utc").max().alias("last"))
            .sort("profile", "mode", nulls_last=True))


def _profiles(runs: pl.DataFrame, iterations: pl.DataFrame) -> pl.DataFrame:
    per_iteration = iterations.group_by("profile").agg(
        pl.col("run_id").n_unique().alias("runs"), pl.len().alias("iterations"),
        *[e for k in ("net_bps", "risk_ratio", "p95_latency_ms") for e in (
            pl.col(k).median().alias(f"{k} p50"), pl.col(k).quantile(0.95, "linear")
            .alias(f"{k} p95"))])
    per_run = runs.group_by("profile").agg(
        pl.col("pnl_usd").median().alias("run pnl_usd p50"),
        pl.col("pnl_usd").min().alias("run pnl_usd min"))
    return per_iteration.join(per_run, on="profile", how="left").sort("profile",
                                                                      nulls_last=True)


def _select(runs: pl.DataFrame, run: str) -> str:
    if run != "latest":
        return run
    dated = runs.filter(pl.col("run_id") != LEGACY_RUN_ID)
    return str((dated if dated.height else runs)["run_id"][-1])


def load_exploration(artifacts: Path | str | None = None, *, days: float = 7.0,
                     now: datetime | None = None, run: str = "latest") -> Exploration:
    """Every run that started in the ``days`` before ``now`` (0: every run).

    Parameters
    ----------
    artifacts
        Artifacts root (default: :func:`soakkit.artifacts.layout.resolve_artifacts`).
    days, now
        The window; ``now`` is required when ``days`` > 0 (inject the clock).
    run
        The run to drill into: a run id, or ``latest`` (the newest run of the window).

    Raises
    ------
    ArtifactError
        No runs in the window.
    UsageError
        A negative window.
    """
    if days < 0:
        raise UsageError(f"days {days:g}: expected 0 (every run) or a positive window")
    catalog = load_catalog(artifacts)  # resolves the artifacts root once
    runs: pl.DataFrame = run_summary(catalog.frame)
    since = None
    if days > 0:
        if now is None:
            raise UsageError("a window of days needs `now` "
                             "(soakkit.core.io.clock_from(None).now())")
        since = now - timedelta(days=days)
        runs = runs.filter(pl.col("started_utc") >= since)
    if runs.height == 0:
        window = "" if since is None else f" since {since:%Y-%m-%d %H:%M} UTC"
        raise ArtifactError(f"no runs{window}: widen `days` or run `soakkit soak`")
    iterations = catalog.frame.filter(pl.col("run_id").is_in(runs["run_id"].implode()))
    slowest = (runs.sort(["duration_s", "run_id"], descending=[True, False], nulls_last=True)
               .head(_TOP).select(pl.col("run_id").alias("run"), "profile", "mode",
                                  "iterations", "duration_s", "verdict"))
    failing = (runs.filter((pl.col("verdict") == "FAIL") | (pl.col("fail_iterations") > 0))
               .sort(["fail_iterations", "run_id"], descending=[True, False])
               .select(pl.col("run_id").alias("run"), "profile", "mode", "verdict",
                       "fail_iterations", "iterations", "pnl_usd", "risk_ratio_max"))
    return Exploration(since, runs, iterations, _verdicts(runs), _profiles(runs, iterations),
                       slowest, failing, _select(runs, run), catalog.problems)

"""From a sweep's rows to one row per cell and one per configuration.

A cell's figures are means over its iterations (``pnl_usd`` is the mean P&L per
iteration); ``pass_rate`` is the share of its iterations the sweep's gate did not FAIL.
A *configuration* is a value of every axis except the seed (and, by default, the market
mode): what the bot would run. The report compares configurations on the same seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from soakkit.sweep.rows import kpi_columns

__all__ = ["cell_summary", "config_summary", "configuration_axes"]


def configuration_axes(columns: Sequence[str], *, per_mode: bool = False) -> list[str]:
    """The axes that make a configuration: profile, tune, the ``--set`` axes (and mode)."""
    axes = [c for c in columns if c not in ("seed", "mode", "cell_key")]
    return [c for c in columns if c == "mode"] + axes if per_mode else axes


def cell_summary(rows: pl.DataFrame, axes: Sequence[str]) -> pl.DataFrame:
    """One row per cell: its axes, error, iterations, pass rate, run verdict, KPI means.

    Every numeric column of the rows that is not an axis is a KPI here, so a KPI a newer
    soakkit wrote is summarised by an older reader too.
    """
    known = kpi_columns()
    skip = {*axes, "seed", "iteration"}
    extra = [c for c, t in rows.schema.items() if t.is_numeric() and c not in skip
             and c not in known]
    kpis = [k for k in known if k in rows.columns] + extra
    return (rows.group_by("cell_key", maintain_order=True)
            .agg(*[pl.col(a).first() for a in axes],
                 pl.col("error").drop_nulls().first(),
                 pl.col("iteration").count().alias("iterations"),
                 (pl.col("verdict") != "FAIL").mean().alias("pass_rate"),
                 pl.col("run_verdict").first(),
                 *[pl.col(k).mean() for k in kpis])
            .sort(list(axes)))


def config_summary(cells: pl.DataFrame, config: Sequence[str],
                   metrics: Sequence[str] = ("pass_rate", "net_bps", "pnl_usd", "risk_ratio",
                                             "volume_usd")) -> pl.DataFrame:
    """One row per configuration: cells, failed cells, and the mean of each metric."""
    present = [m for m in metrics if m in cells.columns]
    ok = pl.col("error").is_null()
    return (cells.group_by(list(config), maintain_order=True)
            .agg(pl.len().alias("cells"), (~ok).sum().alias("failed"),
                 (pl.col("run_verdict") != "FAIL").filter(ok).mean().alias("run_pass_share"),
                 *[pl.col(m).filter(ok).mean() for m in present])
            .sort(list(config)))

"""The sweep report's figure: P&L against risk per configuration, with the Pareto front."""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure

__all__ = ["pnl_vs_risk"]

FRONT, OTHER, BASE = "#1b7837", "#8c8c8c", "#2166ac"


def pnl_vs_risk(points: pl.DataFrame) -> Figure:
    """Mean P&L (USD per iteration) against mean risk per configuration, 95 % intervals as
    error bars; the Pareto front (no configuration has less risk and more P&L) joined."""
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    ax = fig.subplots()
    rows = points.filter(pl.col("risk").is_not_nan() & pl.col("pnl").is_not_nan()).to_dicts()
    for row in rows:
        number = row["#"]
        colour = BASE if row["baseline"] else (FRONT if row["pareto"] else OTHER)
        ax.errorbar(row["risk"], row["pnl"],
                    xerr=[[row["risk"] - row["risk_lo"]], [row["risk_hi"] - row["risk"]]],
                    yerr=[[row["pnl"] - row["pnl_lo"]], [row["pnl_hi"] - row["pnl"]]],
                    fmt="*" if row["baseline"] else "o", ms=11 if row["baseline"] else 6,
                    color=colour, ecolor=colour, elinewidth=0.8, capsize=2, zorder=3)
        ax.annotate(str(number), (row["risk"], row["pnl"]), textcoords="offset points",
                    xytext=(6, 5), fontsize=8, color=colour)
    front = sorted((r["risk"], r["pnl"]) for r in rows if r["pareto"])
    if len(front) > 1:
        ax.step([r for r, _ in front], [p for _, p in front], where="post", color=FRONT, lw=1.2,
                alpha=0.7, zorder=2, label="Pareto front")
    ax.plot([], [], "*", color=BASE, ms=11, label="baseline")
    ax.plot([], [], "o", color=FRONT, label="on the front")
    ax.plot([], [], "o", color=OTHER, label="dominated")
    ax.set_xlabel("risk: mean risk_ratio (p95 inventory / risk budget; lower is safer)")
    ax.set_ylabel("P&L: mean pnl_usd per iteration (USD)")
    ax.legend(fontsize=8, loc="best", frameon=False)
    ax.set_title("P&L against risk (95 % bootstrap intervals; numbers as in the table of "
                 "configurations)", fontsize=10)
    return fig

"""The reports' static figures, built with matplotlib's object-oriented API (no pyplot state).

Each function returns a :class:`matplotlib.figure.Figure` of fixed size, or a sentence
saying why there is nothing to draw (no empty plot); notebooks show either with
:func:`soakkit.report.display.show`. The KPI trends, the tuner's figures and the runs
overview are interactive charts (:mod:`soakkit.report.charts`): a notebook that shows only
those never imports matplotlib. Times are UTC on a 24-hour clock.
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
import polars as pl
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from soakkit.report.palette import VERDICT_COLOURS

__all__ = ["disk_growth", "disk_usage", "profile_distributions", "verdict_timeline"]


def _unit(max_bytes: float) -> tuple[float, str]:
    for scale, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if max_bytes >= scale:
            return float(scale), name
    return 1.0, "bytes"


def _budget_note(budget_bytes: int | None, total: float) -> str:
    if budget_bytes is None:
        return ""
    share = 100.0 * total / budget_bytes if budget_bytes else float("inf")
    return f"budget {budget_bytes / 2**20:g} MiB, {share:.2g} % used"


def disk_usage(usage: pl.DataFrame, budget_bytes: int | None) -> Figure:
    """Apparent and allocated bytes per group; the budget line when it is on the same scale."""
    fig = Figure(figsize=(11, 0.9 + 0.45 * max(3, usage.height)), layout="constrained")
    ax = fig.subplots()
    labels = usage["group"].to_list()
    allocated = np.asarray(usage["allocated_bytes"].to_list(), dtype=float)
    apparent = np.asarray(usage["apparent_bytes"].to_list(), dtype=float)
    top = float(max(allocated.max(initial=0.0), apparent.max(initial=0.0), 1.0))
    scale, unit = _unit(top)
    y = np.arange(len(labels))
    ax.barh(y - 0.2, allocated / scale, height=0.4, label="allocated (st_blocks)",
            color="#2166ac")
    ax.barh(y + 0.2, apparent / scale, height=0.4, label="apparent (st_size)", color="#92c5de")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    if budget_bytes is not None and budget_bytes <= 3 * top:
        ax.axvline(budget_bytes / scale, color="#b2182b", ls="--", lw=1, label="budget")
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    note = _budget_note(budget_bytes, float(allocated.sum()))
    ax.set_title("Disk usage by run and kind" + (f" ({note})" if note else ""), fontsize=10)
    return fig


def disk_growth(history: pl.DataFrame, budget_bytes: int | None) -> Figure | str:
    """Allocated bytes before and after each logged rotation (x: the rotation's time, UTC);
    the budget when on scale; a sentence instead when no rotation is logged."""
    if history.height == 0:
        return "No disk growth to draw: no rotation is logged yet (soakkit rotate)."
    fig = Figure(figsize=(11, 3.4), layout="constrained")
    ax = fig.subplots()
    before = np.asarray(history["before_allocated"].to_list(), dtype=float)
    after = np.asarray(history["after_allocated"].to_list(), dtype=float)
    top = float(max(before.max(initial=0.0), 1.0))
    scale, unit = _unit(top)
    x = np.arange(history.height)
    ax.plot(x, before / scale, marker="o", label="before rotation", color="#92c5de")
    ax.plot(x, after / scale, marker="o", label="after rotation", color="#2166ac")
    ax.set_xticks(x, history["now"].to_list(), rotation=20, fontsize=6, ha="right")
    ax.set_ylim(0, top / scale * 1.2)
    if budget_bytes is not None and budget_bytes <= 3 * top:
        ax.axhline(budget_bytes / scale, color="#b2182b", ls="--", lw=1, label="budget")
    ax.set_ylabel(f"allocated {unit}")
    ax.legend(fontsize=7, frameon=False)
    note = _budget_note(budget_bytes, float(after[-1]) if after.size else 0.0)
    ax.set_xlabel("rotation (UTC)")
    ax.set_title("Disk growth over time (rotation log)" + (f" ({note})" if note else ""),
                 fontsize=10)
    return fig


def verdict_timeline(runs: pl.DataFrame) -> Figure:
    """Each run's verdict by start time, one row per profile × mode."""
    groups = runs.select("profile", "mode").unique().sort("profile", "mode", nulls_last=True)
    labels = [f"{p} · {m}" for p, m in groups.iter_rows()]
    fig = Figure(figsize=(11, 1.2 + 0.45 * max(3, len(labels))), layout="constrained")
    ax = fig.subplots()
    rows = {label: i for i, label in enumerate(labels)}
    for verdict, colour in VERDICT_COLOURS.items():
        sel = runs.filter(pl.col("verdict") == verdict)
        if sel.height:
            ys = [rows[f"{p} · {m}"] for p, m in sel.select("profile", "mode").iter_rows()]
            ax.scatter(sel["started_utc"].to_list(), ys, s=60, color=colour, label=verdict,
                       marker="o" if verdict == "PASS" else "X", zorder=3)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("run start (UTC, 24-hour clock)")
    locator = AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator, tz=UTC, formats=["%Y", "%b", "%d", "%H:%M", "%H:%M", "%S.%f"]))
    ax.margins(x=0.05)  # the first and last runs are drawn whole
    ax.legend(fontsize=7, ncols=3, loc="upper right", frameon=False)
    ax.set_title("Run verdicts by profile and mode over time (UTC)", fontsize=10)
    return fig


def profile_distributions(iterations: pl.DataFrame, runs: pl.DataFrame) -> Figure:
    """Per profile: KPI distributions over iterations, and P&L per run (box plots)."""
    profiles = sorted({p for p in runs["profile"].to_list() if p is not None})
    panels = [("net_bps", "net bps per iteration", iterations),
              ("risk_ratio", "risk ratio per iteration", iterations),
              ("p95_latency_ms", "p95 latency (ms) per iteration", iterations),
              ("pnl_usd", "P&L (USD) per run", runs)]
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for ax, (column, title, frame) in zip(axes, panels, strict=True):
        data = [[v for v in frame.filter(pl.col("profile") == p)[column].to_list()
                 if v is not None] for p in profiles]
        ax.boxplot(data, widths=0.6, showfliers=True)
        ax.set_xticks(range(1, len(profiles) + 1), profiles)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    fig.suptitle("KPI and P&L distributions per profile", fontsize=10)
    return fig

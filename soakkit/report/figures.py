"""The reports' figures, built with matplotlib's object-oriented API (no pyplot state).

Each function returns a :class:`matplotlib.figure.Figure` of fixed size; notebooks show it
with :func:`soakkit.report.display.show`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from soakkit.config.params import PARAMS, TUNABLE
from soakkit.report.kpi_report import GATED_KPIS, thresholds

__all__ = ["disk_growth", "disk_usage", "kpi_trends", "param_trajectories",
           "profile_distributions", "tuning_events", "verdict_timeline"]

REGIME_COLOURS = {"calm": "#a6dba0", "volatile": "#fdb863", "spike": "#9e9ac8"}
VERDICT_COLOURS = {"PASS": "#1b7837", "WARN": "#e08214", "FAIL": "#c51b7d"}
BAD, NEAR, WARMUP = "#f4a6a6", "#fde0b2", "#e0e0e0"


def _regime_strip(ax: Any, frame: pl.DataFrame, warmup: list[int]) -> None:
    """Each iteration's regime mix as a stacked bar; warm-up iterations hatched."""
    x = np.asarray(frame["iteration"].to_list(), dtype=float)
    bottom = np.zeros(x.size)
    for regime, colour in REGIME_COLOURS.items():
        share = np.asarray([0.0 if v is None else v
                            for v in frame[f"regime_{regime}"].to_list()])
        ax.bar(x, share, bottom=bottom, width=0.95, color=colour, label=regime)
        bottom += share
    for it in warmup:
        ax.bar(it, 1.0, width=0.95, color="none", edgecolor="#555555", hatch="///", lw=0)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("regime", fontsize=8)
    ax.grid(False)


def _band(ax: Any, op: str, limit: float, margin: float, lo: float, hi: float) -> None:
    """Shade the failing side of a threshold (red) and its warn margin (amber)."""
    if op in ("<=", "<"):
        ax.axhspan(limit, max(hi, limit) + abs(hi - lo) + 1, color=BAD, alpha=0.5, lw=0, zorder=0)
        ax.axhspan(limit - margin, limit, color=NEAR, alpha=0.6, lw=0, zorder=0)
    else:
        ax.axhspan(min(lo, limit) - abs(hi - lo) - 1, limit, color=BAD, alpha=0.5, lw=0, zorder=0)
        ax.axhspan(limit, limit + margin, color=NEAR, alpha=0.6, lw=0, zorder=0)
    ax.axhline(limit, color="#b2182b", lw=1.0, ls="--", zorder=1)


def kpi_trends(frame: pl.DataFrame, gate: str) -> Figure:
    """The gated KPIs per iteration: threshold bands, WARN/FAIL markers, regimes, warm-up."""
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(len(GATED_KPIS) + 1, 1, sharex=True,
                        gridspec_kw={"height_ratios": [0.35] + [1.0] * len(GATED_KPIS)})
    limits = thresholds(gate)
    x = np.asarray(frame["iteration"].to_list(), dtype=float)
    verdicts = frame["gate_verdict"].to_list() if "gate_verdict" in frame.columns \
        else ["PASS"] * frame.height
    warmup = [int(i) for i, phase in zip(x, frame["phase"].to_list(), strict=True)
              if phase == "warmup"] if gate == "production" else []
    _regime_strip(axes[0], frame, warmup)
    for ax, kpi in zip(axes[1:], GATED_KPIS, strict=True):
        y = np.asarray([np.nan if v is None else v for v in frame[kpi].to_list()], dtype=float)
        for it in warmup:
            ax.axvspan(it - 0.5, it + 0.5, color=WARMUP, alpha=0.7, lw=0, zorder=0.5)
        finite = y[np.isfinite(y)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if kpi in limits:
            op, limit, margin = limits[kpi]
            _band(ax, op, limit, margin, lo, hi)
            lo, hi = min(lo, limit), max(hi, limit)
        pad = 0.12 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
        ax.plot(x, y, color="#2c3e50", lw=1.4, zorder=2)
        for verdict, colour in VERDICT_COLOURS.items():
            sel = np.asarray([v == verdict for v in verdicts])
            if sel.any():
                ax.scatter(x[sel], y[sel], s=36 if verdict != "PASS" else 14, color=colour,
                           zorder=3, marker="o" if verdict == "PASS" else "X")
        ax.set_ylabel(kpi, fontsize=8)
    axes[-1].set_xlabel("iteration")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [Patch(color=c, label=f"regime {r}") for r, c in REGIME_COLOURS.items()]
    handles += [Patch(color=BAD, label="fails the gate"), Patch(color=NEAR, label="warn margin"),
                Patch(color=WARMUP, label="warm-up (relaxed gate)")]
    handles += [Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=9, fontsize=7, frameon=False)
    fig.suptitle(f"KPI trends against the {gate} gate", fontsize=10)
    return fig


def param_trajectories(frame: pl.DataFrame) -> Figure:
    """Every tunable parameter per iteration, against its hard bounds."""
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    axes = fig.subplots(2, (len(TUNABLE) + 1) // 2, sharex=True).ravel()
    x = frame["iteration"].to_list()
    for ax, name in zip(axes, TUNABLE, strict=False):
        spec = PARAMS[name]
        ax.plot(x, frame[f"param_{name}"].to_list(), color="#2166ac", lw=1.5, drawstyle="steps-mid")
        ax.axhline(spec.lo, color="#888888", lw=0.8, ls=":")
        ax.axhline(spec.hi, color="#888888", lw=0.8, ls=":")
        pad = 0.05 * spec.span
        ax.set_ylim(float(spec.lo) - pad, float(spec.hi) + pad)
        ax.set_title(f"{name} ({spec.unit})", fontsize=8)
    for ax in axes[len(TUNABLE):]:
        ax.set_visible(False)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Parameter trajectories (dotted: hard bounds)", fontsize=10)
    return fig


def tuning_events(frame: pl.DataFrame) -> Figure:
    """Applied deltas per iteration (in units of each parameter's max step) and guard events."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax = fig.subplots()
    x = np.asarray(frame["iteration"].to_list(), dtype=float)
    width = 0.8 / len(TUNABLE)
    for k, name in enumerate(TUNABLE):
        values = np.asarray([0.0 if v is None else v for v in frame[f"delta_{name}"].to_list()])
        steps = values / float(PARAMS[name].max_step)
        if np.any(steps):
            ax.bar(x - 0.4 + (k + 0.5) * width, steps, width=width, label=name)
    guards = {"guard_freeze": ("freeze", "#4393c3"),
              "guard_panic_revert": ("panic revert", "#b2182b"),
              "guard_oscillation": ("oscillation", "#762a83"),
              "guard_cooldown": ("cooldown", "#5aae61"),
              "guard_velocity": ("velocity", "#e08214")}
    for row, (column, (label, colour)) in enumerate(guards.items()):
        if column not in frame.columns:
            continue
        hits = x[np.asarray(frame[column].to_list()) > 0]
        if hits.size:
            ax.scatter(hits, np.full(len(hits), 1.35 + 0.12 * row), marker="v", color=colour,
                       label=f"guard: {label}", zorder=3)
    ax.axhline(0, color="black", lw=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-1.3, 2.1)
    ax.set_ylabel("applied delta / max step")
    ax.set_xlabel("iteration")
    ax.legend(fontsize=7, ncols=4, loc="upper left", frameon=False)
    ax.set_title("Tuning events", fontsize=10)
    return fig


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


def disk_growth(history: pl.DataFrame, budget_bytes: int | None) -> Figure:
    """Allocated bytes before and after each logged rotation; the budget when on scale."""
    fig = Figure(figsize=(11, 3.4), layout="constrained")
    ax = fig.subplots()
    before = np.asarray(history["before_allocated"].to_list(), dtype=float)
    after = np.asarray(history["after_allocated"].to_list(), dtype=float)
    top = float(max(before.max(initial=0.0), 1.0))
    scale, unit = _unit(top)
    if history.height:
        x = np.arange(history.height)
        ax.plot(x, before / scale, marker="o", label="before rotation", color="#92c5de")
        ax.plot(x, after / scale, marker="o", label="after rotation", color="#2166ac")
        ax.set_xticks(x, history["now"].to_list(), rotation=20, fontsize=6, ha="right")
        ax.set_ylim(0, top / scale * 1.2)
    else:
        ax.text(0.5, 0.5, "no rotation logged yet", ha="center", va="center",
                transform=ax.transAxes)
    if budget_bytes is not None and budget_bytes <= 3 * top:
        ax.axhline(budget_bytes / scale, color="#b2182b", ls="--", lw=1, label="budget")
    ax.set_ylabel(f"allocated {unit}")
    ax.legend(fontsize=7, frameon=False)
    note = _budget_note(budget_bytes, float(after[-1]) if after.size else 0.0)
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
    ax.set_xlabel("run start (UTC)")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.legend(fontsize=7, ncols=3, loc="upper right", frameon=False)
    ax.set_title("Run verdicts by profile and mode over time", fontsize=10)
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

"""The optimisation report's figures: history, importances, P&L against risk, in sample
against out of sample, and the overfitting statistics."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from soakkit.evidence.overfit import DSR_PASS, PBO_PASS
from soakkit.optimize.overfitting import Overfitting

__all__ = ["history", "importances", "in_vs_out", "overfitting", "pnl_vs_risk"]

OK, BAD, BEST, GREY = "#1b7837", "#b2182b", "#2166ac", "#8c8c8c"


def history(trials: pl.DataFrame) -> Figure | str:
    """Each trial's objective in order (feasible, infeasible, failed) and the best so far."""
    if not trials.height or "objective" not in trials.columns:
        return "No trial was told yet: nothing to draw."
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    done = trials.filter(pl.col("state") == "complete")
    for flag, colour, label in ((True, OK, "feasible"), (False, BAD, "infeasible")):
        part = done.filter(pl.col("feasible") == flag)
        ax.plot(part["trial"].to_list(), part["objective"].to_list(), "o", ms=4, color=colour,
                alpha=0.8, label=label)
    ax.step(trials["trial"].to_list(), trials["best_so_far"].to_list(), where="post",
            color=BEST, lw=1.5, label="best feasible so far")
    failed = trials.filter(pl.col("state") == "fail")
    if failed.height:
        ax.plot(failed["trial"].to_list(), [0.0] * failed.height, "x", color=GREY,
                label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel("risk_adjusted_pnl (mean per iteration, in sample)")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_title("Optimisation history (trial 0: the starting profile)", fontsize=10)
    return fig


def importances(table: pl.DataFrame) -> Figure | str:
    """PED-ANOVA importance of each searched parameter (normalised to sum to 1)."""
    if not table.height:
        return "Parameter importances need at least two complete trials that differ."
    fig = Figure(figsize=(8, 0.4 * table.height + 1.2), layout="constrained")
    ax = fig.subplots()
    ordered = table.sort("importance")
    ax.barh(ordered["parameter"].to_list(), ordered["importance"].to_list(), color=BEST)
    ax.set_xlabel("importance (PED-ANOVA: how differently the best trials set it; sums to 1)")
    ax.set_title("Which parameters matter", fontsize=10)
    return fig


def pnl_vs_risk(points: pl.DataFrame) -> Figure | str:
    """Mean P&L against mean risk of every feasible trial; the Pareto front joined, the
    recommendation starred."""
    if not points.height:
        return "No feasible trial: nothing to draw."
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax = fig.subplots()
    rows = points.to_dicts()
    ax.plot([r["risk"] for r in rows], [r["pnl"] for r in rows], "o", ms=4, color=GREY,
            alpha=0.7, label="feasible trial")
    front = sorted((r["risk"], r["pnl"]) for r in rows if r["pareto"])
    if front:
        ax.step([r for r, _ in front], [p for _, p in front], where="post", color=OK, lw=1.2,
                label="Pareto front")
    for r in rows:
        if r["winner"]:
            ax.plot(r["risk"], r["pnl"], "*", ms=14, color=BEST, label="recommended")
        if r["trial"] == 0:
            ax.plot(r["risk"], r["pnl"], "s", ms=7, color=BAD, label="starting profile")
    ax.set_xlabel("risk: mean risk_ratio (p95 inventory / risk budget; lower is safer)")
    ax.set_ylabel("P&L: mean pnl_usd per iteration (USD)")
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.set_title("P&L against risk, in sample", fontsize=10)
    return fig


def in_vs_out(table: pl.DataFrame) -> Figure | str:
    """The best trials' objective in sample against out of sample (the diagonal: no decay)."""
    rows = table.filter(pl.col("out of sample").is_not_null()).to_dicts()
    if not rows:
        return "No trial was evaluated out of sample."
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.subplots()
    xs = [r["in sample"] for r in rows]
    ys = [r["out of sample"] for r in rows]
    ax.plot(xs, ys, "o", color=BEST)
    for r in rows:
        ax.annotate(f"trial {r['trial']}", (r["in sample"], r["out of sample"]),
                    textcoords="offset points", xytext=(5, 4), fontsize=8)
    lo, hi = min(xs + ys), max(xs + ys)
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "--", color=GREY, lw=1,
            label="out of sample = in sample")
    ax.set_xlabel("risk_adjusted_pnl in sample (calibration markets)")
    ax.set_ylabel("out of sample (held-back markets)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("In sample against out of sample", fontsize=10)
    return fig


def overfitting(o: Overfitting | None) -> Figure | str:
    """PBO: the logits of the in-sample winner's out-of-sample rank over every CSCV split
    (left of 0: the winner did worse than the median), with DSR and PBO against their bars."""
    if o is None or not o.pbo.splits:
        return "No PBO: it needs at least two distinct feasible configurations."
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    logits = np.asarray(o.pbo.logits)
    ax.hist(logits, bins=min(40, max(5, int(math.sqrt(logits.size)))), color=BEST, alpha=0.8)
    ax.axvline(0.0, color=BAD, lw=1.2)
    dsr = "n/a" if not math.isfinite(o.dsr) else f"{o.dsr:.3f}"
    ax.set_title(f"PBO {o.pbo.pbo:.3f} (bar <= {PBO_PASS}) over {o.pbo.splits:,} CSCV splits "
                 f"of {o.pbo.blocks} blocks; DSR {dsr} (bar >= {DSR_PASS}) over {o.trials} "
                 "trials", fontsize=10)
    ax.set_xlabel("logit of the in-sample winner's relative rank out of sample")
    ax.set_ylabel("splits")
    return fig

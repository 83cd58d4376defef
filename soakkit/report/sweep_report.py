"""Data of the sweep report: which configuration is better than the baseline, with confidence.

A *configuration* is a value of every grid axis except the seed and (unless ``per_mode``)
the market mode: profile, tuner on/off and each ``--set`` axis. Its *units* are the cells
that ran without error, one per (mode, seed). For each configuration and metric the
report gives the mean over units and a 95 % percentile bootstrap interval; against the
baseline configuration it pairs units on the same (mode, seed) — the same simulated
market — and gives the mean paired difference, its bootstrap interval and a sign-flip
permutation p-value, adjusted with Holm–Bonferroni over the configurations compared,
separately for each metric. Every resample comes from a seeded Generator.

A configuration is **better with confidence** when its primary metric (risk-adjusted P&L
when the KPI exists, else P&L) is better with a Holm-adjusted p below ``alpha`` and
neither the pass rate nor the risk is significantly worse; it **only looks better** when
the estimate is better but not significant. The notebook ``sweep_report.ipynb`` shows
what :func:`load_sweep_report` returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from soakkit.artifacts.layout import LATEST, resolve_artifacts
from soakkit.core.errors import ArtifactError, UsageError
from soakkit.core.inputs import check_bounds
from soakkit.evidence.stats import (
    MAX_RESAMPLES,
    MIN_RESAMPLES,
    bootstrap_mean_ci,
    holm,
    paired_sign_flip_p,
    pareto_front,
)
from soakkit.kpi import KPIS
from soakkit.sweep import cell_summary, configuration_axes, load_results, resolve_sweep_dir
from soakkit.sweep.grid import SET_PREFIX
from soakkit.sweep.store import SweepStore

__all__ = ["RISK_ADJUSTED", "Metric", "SweepReport", "check_sweep_selection",
           "load_sweep_report", "no_sweep_note", "report_metrics"]

RISK_ADJUSTED = "risk_adjusted_pnl"
#: Must not be significantly worse for a configuration to be better with confidence.
GUARDRAILS = ("pass_rate", "risk_ratio")
_CATEGORY_ORDER = ("better with confidence", "better, but less safe", "only looks better",
                   "not better", "worse with confidence")


@dataclass(frozen=True)
class Metric:
    """A per-cell figure the report compares: column, label, which way is better."""

    column: str
    label: str
    better: str  #: higher | lower | n/a


def report_metrics(columns: Sequence[str]) -> tuple[Metric, ...]:
    """Pass rate, P&L, risk-adjusted P&L (when the KPI exists), risk and volume."""
    out = [Metric("pass_rate", "pass rate", "higher")]
    for name, label in (("pnl_usd", "P&L"), (RISK_ADJUSTED, "risk-adjusted P&L"),
                        ("risk_ratio", "risk"), ("volume_usd", "volume")):
        spec = KPIS.get(name)
        if spec is not None and name in columns:
            out.append(Metric(name, f"{label} ({spec.unit})", spec.better))
    return tuple(out)


@dataclass(frozen=True)
class SweepReport:
    """Tables, figure data and findings of a sweep report."""

    sweep_id: str
    baseline: str
    primary: Metric
    alpha: float
    per_mode: bool
    header: pl.DataFrame
    configs: pl.DataFrame  #: one row per configuration: mean [95 % CI] of each metric
    stats: pl.DataFrame  #: the same as numbers: label, metric, n, mean, lo, hi
    comparisons: pl.DataFrame  #: one row per configuration x metric against the baseline
    ranking: pl.DataFrame  #: configurations by category and primary-metric difference
    points: pl.DataFrame  #: per configuration: risk and P&L means and CIs, Pareto flag
    failures: pl.DataFrame
    notes: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        """Headline findings for ``kpis.json`` (rounded: comparable across machines)."""
        best = self.ranking.filter(pl.col("category") == _CATEGORY_ORDER[0])
        return {"sweep": self.sweep_id, "baseline": self.baseline,
                "primary_metric": self.primary.column, "alpha": self.alpha,
                "correction": "holm", "per_mode": self.per_mode,
                "better_with_confidence": best["configuration"].to_list(),
                "categories": dict(zip(self.ranking["configuration"].to_list(),
                                       self.ranking["category"].to_list(), strict=True)),
                "failed_cells": self.failures.height}


def _value_text(column: str, value: Any) -> str:
    if column == "tune":
        return "on" if value else "off"
    return str(value)


def _label(row: dict[str, Any], axes: Sequence[str]) -> str:
    return ",".join(f"{a.removeprefix(SET_PREFIX)}={_value_text(a, row[a])}" for a in axes)


def _parse_selector(text: str, axes: Sequence[str], cells: pl.DataFrame) -> dict[str, Any]:
    """``"profile=steady_safe,tune=off"`` → column → typed value, checked against the grid.

    ``axis:value`` is accepted too: papermill cannot read a parameter default holding ``=``.
    """
    wanted: dict[str, Any] = {}
    names = {a.removeprefix(SET_PREFIX): a for a in axes}
    # a grid dimension with one value (one profile, say) is no axis, but may be named
    fixed = {c.removeprefix(SET_PREFIX): c for c in cells.columns if c not in axes
             and (c in ("strategy", "profile", "tune") or c.startswith(SET_PREFIX))}
    for item in [i.strip() for i in text.split(",") if i.strip()]:
        key, sep, raw = item.partition("=") if "=" in item else item.partition(":")
        column = names.get(key.strip()) or fixed.get(key.strip())
        if not sep or column is None:
            raise UsageError(f"baseline {text!r}: {item!r} is not AXIS=VALUE (or AXIS:VALUE) "
                             f"with AXIS one of {', '.join(names)}")
        choices = cells[column].unique().sort().to_list()
        texts = {_value_text(column, v): v for v in choices}
        if raw.strip() not in texts:
            raise UsageError(f"baseline {text!r}: {key.strip()}={raw.strip()} is not in the "
                             f"sweep (values: {', '.join(texts)})")
        if column in axes:
            wanted[column] = texts[raw.strip()]
    for column in axes:
        values = cells[column].unique().to_list()
        if column not in wanted:
            if len(values) > 1:
                shown = ", ".join(_value_text(column, v) for v in sorted(values))
                raise UsageError(f"baseline {text!r} leaves {column.removeprefix(SET_PREFIX)} "
                                 f"open (values: {shown}); add it")
            wanted[column] = values[0]
    return wanted


def _fmt(metric: str, x: float) -> str:
    if math.isnan(x):
        return "–"
    return f"{100 * x:.1f}%" if metric == "pass_rate" else f"{x:.4g}"


def _fmt_ci(metric: str, mean: float, lo: float, hi: float) -> str:
    return f"{_fmt(metric, mean)} [{_fmt(metric, lo)}, {_fmt(metric, hi)}]"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


@dataclass
class _Inputs:
    cells: pl.DataFrame  #: ok cells with a ``configuration`` label and a ``unit`` key
    labels: list[str]  #: configurations in grid order
    baseline_of: dict[str, str]  #: configuration → its baseline configuration
    metrics: tuple[Metric, ...]


def _inputs(cells: pl.DataFrame, axes: list[str], baseline: str, per_mode: bool) -> _Inputs:
    ok = cells.filter(pl.col("error").is_null())
    if ok.height == 0:
        raise UsageError("the sweep has no cell that ran without error; nothing to compare")
    # axes with one value in the whole sweep name no configuration: left out of the labels
    varied = [a for a in configuration_axes(axes, per_mode=per_mode)
              if cells[a].n_unique() > 1]
    config = varied or configuration_axes(axes)[:1]
    labels = [_label(r, config) for r in ok.select(config).to_dicts()]
    units = ["mode", "seed"] if not per_mode else ["seed"]
    ok = ok.with_columns(pl.Series("configuration", labels),
                         pl.concat_str([pl.col(u).cast(pl.String) for u in units],
                                       separator="/").alias("unit"))
    order = list(dict.fromkeys(labels))
    selector_axes = [a for a in config if a != "mode"]
    wanted = _parse_selector(baseline, selector_axes, ok)
    baseline_of = {}
    for row in ok.select(config).unique(maintain_order=True).to_dicts():
        base = {**row, **wanted}
        baseline_of[_label(row, config)] = _label(base, config)
    missing = sorted({b for b in baseline_of.values() if b not in order})
    if missing:
        raise UsageError(f"baseline {baseline!r}: no cell of {missing[0]} ran without error")
    return _Inputs(ok, order, baseline_of, report_metrics(ok.columns))


def _config_stats(inp: _Inputs, resamples: int, seed: int) -> pl.DataFrame:
    rows = []
    for i, label in enumerate(inp.labels):
        frame = inp.cells.filter(pl.col("configuration") == label)
        for j, m in enumerate(inp.metrics):
            x = frame[m.column].drop_nulls().to_numpy().astype(np.float64)
            lo, hi = bootstrap_mean_ci(x, _rng(seed, 1, i, j), resamples=resamples)
            rows.append({"configuration": label, "metric": m.column, "n": int(x.size),
                         "mean": float(x.mean()) if x.size else math.nan, "lo": lo, "hi": hi})
    return pl.DataFrame(rows)


def _paired(inp: _Inputs, label: str, metric: str) -> np.ndarray:
    mine = inp.cells.filter(pl.col("configuration") == label).select("unit", metric)
    base = inp.cells.filter(pl.col("configuration") == inp.baseline_of[label]).select(
        "unit", pl.col(metric).alias("_base"))
    both = mine.join(base, on="unit").drop_nulls().sort("unit")
    return (both[metric] - both["_base"]).to_numpy().astype(np.float64)


def _comparisons(inp: _Inputs, resamples: int, seed: int, alpha: float) -> pl.DataFrame:
    others = [c for c in inp.labels if inp.baseline_of[c] != c]
    rows: list[dict[str, Any]] = []
    for j, m in enumerate(inp.metrics):
        found: list[dict[str, Any]] = []
        for i, label in enumerate(others):
            d = _paired(inp, label, m.column)
            lo, hi = bootstrap_mean_ci(d, _rng(seed, 2, i, j), resamples=resamples)
            p = paired_sign_flip_p(d, _rng(seed, 3, i, j), resamples=resamples) \
                if d.size >= 2 else math.nan
            found.append({"configuration": label, "metric": m.column, "pairs": int(d.size),
                          "diff": float(d.mean()) if d.size else math.nan, "lo": lo, "hi": hi,
                          "p": p})
        for row, adjusted in zip(found, holm([r["p"] for r in found]), strict=True):
            direction = 0.0 if m.better == "n/a" else (1.0 if m.better == "higher" else -1.0)
            signed = direction * row["diff"]
            row.update(p_holm=adjusted, significant=bool(adjusted < alpha),
                       better=bool(signed > 0), worse=bool(signed < 0))
            rows.append(row)
    schema = {"configuration": pl.String, "metric": pl.String, "pairs": pl.Int64,
              "diff": pl.Float64, "lo": pl.Float64, "hi": pl.Float64, "p": pl.Float64,
              "p_holm": pl.Float64, "significant": pl.Boolean, "better": pl.Boolean,
              "worse": pl.Boolean}
    return pl.DataFrame(rows, schema=schema)


def _category(found: dict[str, dict[str, Any]], primary: str) -> tuple[str, str]:
    main = found[primary]
    worse = [g for g in GUARDRAILS if g in found and found[g]["significant"]
             and found[g]["worse"]]
    if main["better"] and main["significant"]:
        if worse:
            return "better, but less safe", f"{' and '.join(worse)} significantly worse"
        return "better with confidence", ""
    if main["better"]:
        return "only looks better", "not significant after Holm"
    if main["worse"] and main["significant"]:
        return "worse with confidence", ""
    return "not better", ""


def _ranking(comparisons: pl.DataFrame, primary: Metric) -> pl.DataFrame:
    rows = []
    for label in comparisons["configuration"].unique(maintain_order=True).to_list():
        found = {r["metric"]: r for r in comparisons.filter(
            pl.col("configuration") == label).to_dicts()}
        category, why = _category(found, primary.column)
        main = found[primary.column]
        rows.append({"configuration": label, "category": category,
                     f"{primary.column} diff": main["diff"],
                     f"{primary.column} difference [95% CI]":
                         _fmt_ci(primary.column, main["diff"], main["lo"], main["hi"]),
                     "p (Holm)": _fmt_p(main["p_holm"]), "note": why})
    frame = pl.DataFrame(rows, schema={  # no rows: a sweep with the baseline only
        "configuration": pl.String, "category": pl.String, f"{primary.column} diff": pl.Float64,
        f"{primary.column} difference [95% CI]": pl.String, "p (Holm)": pl.String,
        "note": pl.String})
    rank = {c: i for i, c in enumerate(_CATEGORY_ORDER)}
    sign = -1.0 if primary.better == "higher" else 1.0
    return frame.with_columns(
        pl.col("category").replace_strict(rank, return_dtype=pl.Int64).alias("_rank"),
        (pl.col(f"{primary.column} diff") * sign).alias("_key")
    ).sort("_rank", "_key", "configuration").drop("_rank", "_key", f"{primary.column} diff")


def _header(meta: dict[str, Any], cells: pl.DataFrame) -> pl.DataFrame:
    spec = meta.get("spec", {})
    sets = "; ".join(f"{k}={','.join(map(str, v))}" for k, v in spec.get("sets", {}).items())
    failed = cells.filter(pl.col("error").is_not_null()).height
    items = [("sweep", meta.get("sweep_id")), ("created", meta.get("created_utc")),
             *([("strategies", ", ".join(spec["strategies"]))] if spec.get("strategies")
               else []),
             ("profiles", ", ".join(spec.get("profiles", []))),
             ("modes", ", ".join(spec.get("modes", []))), ("seeds", spec.get("seeds")),
             ("tuner", ", ".join("on" if t else "off" for t in spec.get("tune", []))),
             ("--set axes", sets or "none"),
             ("iterations x sim minutes", f"{spec.get('iterations')} x {spec.get('sim_minutes')}"),
             ("gate", spec.get("gate")), ("cells", f"{cells.height} ({failed} failed)"),
             ("engine / soakkit", f"{meta.get('engine_version')} / {meta.get('soakkit_version')}")]
    return pl.DataFrame({"": [k for k, _ in items], "value": [str(v) for _, v in items]})


def no_sweep_note(artifacts: Path | str | None = None, sweep: str = LATEST) -> str | None:
    """A sentence when there is no sweep to report yet (``sweep`` is ``latest`` and no sweep
    has finished), else None; an unknown sweep id is left to :func:`load_sweep_report`."""
    if sweep != LATEST:
        return None
    root = resolve_artifacts(artifacts)
    try:
        resolve_sweep_dir(root, sweep)
    except ArtifactError:
        return (f"No sweep under {root} yet, so nothing to compare: run one first, for "
                "example `soakkit sweep --profiles steady_safe --modes mixed --seeds 1-8 "
                "--tune both`, then this report again.")
    return None


def _selection(artifacts: Path | str | None, sweep: str, baseline: str, metric: str,
               per_mode: bool) -> tuple[Path, dict[str, Any], list[str], pl.DataFrame, _Inputs,
                                        Metric]:
    """The sweep's results read, the baseline and the metric checked against them."""
    root = resolve_artifacts(artifacts)
    folder = resolve_sweep_dir(root, sweep)
    meta = SweepStore(folder).read_meta() or {}
    axes = [a for a in meta.get("grid", {}).get("columns", []) if a != "cell_key"]
    cells = cell_summary(load_results(root, folder.name), axes)
    inp = _inputs(cells, axes, baseline, per_mode)
    names = [m.column for m in inp.metrics]
    if metric == "auto":
        metric = RISK_ADJUSTED if RISK_ADJUSTED in names else "pnl_usd"
    if metric not in names:
        raise UsageError(f"metric {metric!r}: expected auto or one of {', '.join(names)}")
    return folder, meta, axes, cells, inp, next(m for m in inp.metrics if m.column == metric)


def check_sweep_selection(artifacts: Path | str | None, sweep: str, *, baseline: str,
                          metric: str = "auto", per_mode: bool = False) -> None:
    """Raise :class:`UsageError` for a baseline or metric the sweep's results do not have
    (what :func:`load_sweep_report` would refuse, without the statistics)."""
    _selection(artifacts, sweep, baseline, metric, per_mode)


def load_sweep_report(artifacts: Path | str | None = None, sweep: str = "latest", *,
                      baseline: str = "profile=steady_safe,tune=off", metric: str = "auto",
                      alpha: float = 0.05, per_mode: bool = False, resamples: int = 10_000,
                      seed: int = 12) -> SweepReport:
    """Compare every configuration of a sweep with the baseline configuration.

    Parameters
    ----------
    artifacts, sweep
        Artifacts root (``None``: :func:`soakkit.artifacts.layout.resolve_artifacts`) and sweep id
        (or ``latest``).
    baseline
        The baseline configuration as ``axis=value`` pairs (``profile=steady_safe,tune=off``);
        axes with one value in the grid may be left out.
    metric
        What "better" means: ``auto`` (risk-adjusted P&L when the KPI exists, else P&L) or
        one of the report's metrics.
    alpha
        Family-wise error rate of the Holm correction.
    per_mode
        Compare within each market mode (mode becomes part of the configuration).
    resamples, seed
        Bootstrap and permutation resamples, and the seed of their Generator.
    """
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha}: expected 0 < alpha < 1")
    try:
        check_bounds(resamples, MIN_RESAMPLES, MAX_RESAMPLES)
    except ValueError as exc:
        raise UsageError(f"resamples {resamples}: {exc}") from None
    folder, meta, axes, cells, inp, primary = _selection(artifacts, sweep, baseline, metric,
                                                         per_mode)
    names = [m.column for m in inp.metrics]
    stats = _config_stats(inp, resamples, seed)
    comparisons = _comparisons(inp, resamples, seed, alpha)
    wide = {"configuration": inp.labels}
    for m in inp.metrics:
        sub = stats.filter(pl.col("metric") == m.column)
        wide[m.label] = [_fmt_ci(m.column, r["mean"], r["lo"], r["hi"]) for r in sub.to_dicts()]
    counts = inp.cells.group_by("configuration", maintain_order=True).len("cells")
    configs = pl.DataFrame(wide).join(counts, on="configuration", how="left") \
        .with_columns(pl.when(pl.col("configuration").is_in(list(set(inp.baseline_of.values())))
                              ).then(pl.lit("baseline")).otherwise(pl.lit("")).alias("role"))
    configs = configs.select(pl.int_range(1, pl.len() + 1).alias("#"), "configuration", "role",
                             "cells", *[m.label for m in inp.metrics])
    shown = comparisons.with_columns(
        pl.col("metric").replace_strict({m.column: m.label for m in inp.metrics}))
    display = pl.DataFrame({
        "configuration": shown["configuration"], "metric": shown["metric"],
        "pairs": shown["pairs"],
        "difference [95% CI]": [_fmt_ci(c, r["diff"], r["lo"], r["hi"]) for c, r in
                                zip(comparisons["metric"], comparisons.to_dicts(), strict=True)],
        "p": [_fmt_p(p) for p in comparisons["p"]],
        "p (Holm)": [_fmt_p(p) for p in comparisons["p_holm"]],
        "significant": comparisons["significant"]})
    points = _points(stats, inp)
    notes = []
    if comparisons.height == 0:
        notes.append("The sweep has only the baseline configuration: nothing to compare it "
                      "with (sweep a second profile, tuner setting or --set value).")
    if RISK_ADJUSTED not in names:
        why = "this soakkit defines no such KPI" if RISK_ADJUSTED not in KPIS else \
            "this sweep's rows do not carry it (run the sweep again with this soakkit)"
        notes.append(f"Risk-adjusted P&L is not available: {why}. \"Better\" is judged on "
                     "P&L instead.")
    failures = cells.filter(pl.col("error").is_not_null()).select(*axes, "error")
    return SweepReport(folder.name, baseline, primary, alpha, per_mode, _header(meta, cells),
                       configs, stats, display, _ranking(comparisons, primary), points,
                       failures, tuple(notes))


def _points(stats: pl.DataFrame, inp: _Inputs) -> pl.DataFrame:
    def column(metric: str, field: str) -> list[float]:
        sub = stats.filter(pl.col("metric") == metric)
        return [float(v) for v in sub[field].to_list()] if sub.height else \
            [math.nan] * len(inp.labels)

    risk, pnl = column("risk_ratio", "mean"), column("pnl_usd", "mean")
    return pl.DataFrame({
        "#": list(range(1, len(inp.labels) + 1)), "configuration": inp.labels, "risk": risk,
        "risk_lo": column("risk_ratio", "lo"), "risk_hi": column("risk_ratio", "hi"),
        "pnl": pnl, "pnl_lo": column("pnl_usd", "lo"), "pnl_hi": column("pnl_usd", "hi"),
        "pareto": pareto_front(risk, pnl),
        "baseline": [c in set(inp.baseline_of.values()) for c in inp.labels]})

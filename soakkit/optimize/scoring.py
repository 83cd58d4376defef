"""From a configuration's rows to its score: the objective, the gate's constraints, the
per-iteration results the overfitting statistics use.

* **Objective**: ``risk_adjusted_pnl`` (the tuner's objective, docs/KPIS.md), the mean over
  every iteration of the set; an iteration with no inventory at risk (the KPI is null)
  counts 0.
* **Constraints** (≤ 0 holds), per market group, from the gate's one definition
  (:data:`soakkit.gate.GATES`): the pass rate (share of iterations the gate did not FAIL)
  may not fall below the starting profile's, and the mean of each gated KPI must hold its
  threshold (:meth:`soakkit.gate.Threshold.excess`, in warn margins) or, where the profile
  itself misses it on average, be no further from it than the profile. The profile's own
  values are feasible by construction; what the gate adds (a floor, a threshold) becomes a
  constraint without a change here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from soakkit.evidence.overfit import SharpeStats, sharpe_stats
from soakkit.gate import GATES, MISSING_VIOLATION
from soakkit.tuning.trial import OBJECTIVE

__all__ = ["OBJECTIVE", "PASS_RATE", "SUMMARY_KPIS", "Score", "constraints", "score_rows"]

#: The constraint name of a group's pass rate.
PASS_RATE = "pass_rate"
#: KPIs a score keeps the mean of (history, the P&L-against-risk view, comparisons).
SUMMARY_KPIS: tuple[str, ...] = ("pnl_usd", "risk_ratio", "inventory_p95_usd", "volume_usd",
                                 "net_bps", "max_drawdown_usd")


@dataclass(frozen=True)
class Score:
    """A configuration on one market set."""

    objective: float
    per_unit: np.ndarray  #: the objective of every iteration, in the set's unit order
    pass_rate: float
    means: Mapping[str, float]  #: :data:`SUMMARY_KPIS` over every iteration
    group_pass: Mapping[str, float]
    group_kpis: Mapping[str, Mapping[str, float]]  #: gated KPI means per group (NaN: none)
    sharpe: SharpeStats = field(repr=False)
    error: str | None = None

    def attrs(self) -> dict[str, Any]:
        """Plain numbers for Optuna's user attributes (NaN as ``None``)."""
        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {"objective": num(self.objective), PASS_RATE: num(self.pass_rate),
                "sharpe": num(self.sharpe.sharpe),
                **{k: num(v) for k, v in self.means.items()},
                "group_pass": {g: num(v) for g, v in self.group_pass.items()}}


def _gated(gate: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(th.kpi for th in GATES[gate].thresholds))


def _mean(column: pl.Series) -> float:
    """The mean of a column's numbers (NaN when it holds none)."""
    values = column.cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    return float(values.mean()) if values.size else math.nan


def score_rows(rows: pl.DataFrame, gate: str, groups: Sequence[str]) -> Score:
    """The :class:`Score` of one configuration's rows (one per iteration, sorted by
    ``unit``); a row with an error makes the score an error."""
    errors = rows.filter(pl.col("error").is_not_null())["error"] if "error" in rows.columns \
        else pl.Series([], dtype=pl.String)
    if errors.len():
        nan = math.nan
        return Score(nan, np.zeros(0), nan, {}, {}, {}, sharpe_stats(np.zeros(0)),
                     str(errors[0]))
    per_unit = rows[OBJECTIVE].cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
    passed = rows["verdict"] != "FAIL"
    gated = _gated(gate)
    group_pass, group_kpis = {}, {}
    for g in groups:
        part = rows.filter(pl.col("group") == g)
        group_pass[g] = _mean(part["verdict"] != "FAIL")
        group_kpis[g] = {k: _mean(part[k]) for k in gated}
    return Score(float(per_unit.mean()) if per_unit.size else math.nan, per_unit,
                 _mean(passed), {k: _mean(rows[k]) for k in SUMMARY_KPIS},
                 group_pass, group_kpis, sharpe_stats(per_unit))


def _excess(gate: str, kpi: str, mean: float) -> float:
    """How far a mean is from holding every threshold on ``kpi`` (the largest excess)."""
    if math.isnan(mean):
        return MISSING_VIOLATION
    return max(th.excess(mean) for th in GATES[gate].thresholds if th.kpi == kpi)


def constraints(score: Score, baseline: Score, gate: str) -> dict[str, float]:
    """The constraint values of ``score`` (≤ 0: holds), anchored to the starting profile's
    ``baseline`` on the same markets (see the module docstring)."""
    out: dict[str, float] = {}
    for g, rate in score.group_pass.items():
        out[f"{g}:{PASS_RATE}"] = baseline.group_pass[g] - rate
        for kpi, mean in score.group_kpis[g].items():
            allowed = max(0.0, _excess(gate, kpi, baseline.group_kpis[g][kpi]))
            out[f"{g}:{kpi}"] = _excess(gate, kpi, mean) - allowed
    return out

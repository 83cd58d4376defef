"""The KPI report's money tables: P&L and activity beside the legacy ratios, the gate's floors.

* :func:`money_table` – per iteration: P&L, volume and fills next to the gate's reference
  profile on the same market, the activity share the gate's floor judges, risk-adjusted P&L,
  drawdown and the notional-weighted tail cost, beside net_bps;
* :func:`gate_table` – every threshold of a gate (floors included), the run's mean and how
  many iterations hold it;
* :func:`dollar_warnings` – the baseline comparison's loud line when net_bps rose while the
  dollars fell ("net_bps up, dollars down").
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from soakkit.gate import GATES

__all__ = ["MONEY_KPIS", "dollar_warnings", "gate_table", "money_table"]

#: Money, activity and risk KPIs shown next to the legacy ones (docs/KPIS.md).
MONEY_KPIS = ("pnl_usd", "pnl_per_hour_usd", "volume_usd", "fill_count", "volume_vs_reference",
              "risk_adjusted_pnl", "max_drawdown_usd", "inventory_p95_usd",
              "adverse_cost_usd_p95", "slippage_cost_usd_p95")


def money_table(frame: pl.DataFrame) -> pl.DataFrame:
    """Per iteration: dollars and activity, the gate's reference, and net_bps beside them."""
    cols = ["iteration", "net_bps", "pnl_usd", "reference_pnl_usd", "volume_usd",
            "reference_volume_usd", "volume_vs_reference", "fill_count", "risk_adjusted_pnl",
            "max_drawdown_usd", "adverse_cost_usd_p95"]
    present = [c for c in cols if c in frame.columns]
    return frame.select(present).rename({"reference_pnl_usd": "pnl_reference",
                                         "reference_volume_usd": "volume_reference"},
                                        strict=False)


def gate_table(frame: pl.DataFrame, gate: str) -> pl.DataFrame:
    """Every threshold of ``gate`` with the run's mean and the iterations that hold it."""
    rows = []
    for th in GATES[gate].thresholds:
        values = frame[th.kpi].to_list() if th.kpi in frame.columns else []
        present = [float(v) for v in values if v is not None]
        holding = sum(1 for v in present if th.holds(v))
        mean = sum(present) / len(present) if present else None
        rows.append((th.kpi, f"{th.op} {th.value:g}", th.warn_margin,
                     None if mean is None else round(mean, 6),
                     f"{holding}/{frame.height}"))
    return pl.DataFrame(rows, schema={"kpi": pl.String, "threshold": pl.String,
                                      "warn margin": pl.Float64, "run mean": pl.Float64,
                                      "iterations holding": pl.String}, orient="row")


def dollar_warnings(diffs: Mapping[str, float | None], baseline: str) -> tuple[str, ...]:
    """Loud lines for a comparison whose ratios improved while the money got worse."""
    out = []
    net, pnl = diffs.get("net_bps"), diffs.get("pnl_usd")
    volume = diffs.get("volume_usd")
    if net is not None and pnl is not None and net > 0 and pnl < 0:
        out.append(f"NET_BPS UP, DOLLARS DOWN: net_bps {net:+.3f} bps but pnl_usd {pnl:+.2f} "
                   f"USD per iteration against {baseline}"
                   + (f" (volume_usd {volume:+,.0f})" if volume is not None else "")
                   + ": the better ratio comes from trading less, not from earning more")
    rap = diffs.get("risk_adjusted_pnl")
    if rap is not None and rap < 0:
        out.append(f"risk_adjusted_pnl {rap:+.4f} against {baseline}: less P&L per USD of "
                   "inventory at risk")
    return tuple(out)

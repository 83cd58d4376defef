"""The KPI report in dollars: money beside the ratios, the gate's floors, "net_bps up, dollars down"."""

from __future__ import annotations

from pathlib import Path

from soakkit.report.kpi_report import load_kpi_report
from soakkit.soak import SoakOptions, run_soak

NOW = "2026-11-24T12:00:00Z"


def _run(artifacts: Path, *sets: str) -> str:
    result = run_soak(SoakOptions(iterations=3, mode="calm", seed=6, gate="production",
                                  artifacts=artifacts, tune=False, sets=sets, now=NOW), env={})
    return result.run_id


def test_wider_quotes_are_flagged_net_bps_up_dollars_down(tmp_path: Path) -> None:
    base = _run(tmp_path)
    wide = _run(tmp_path, "base_spread_bps_delta=1.0")
    report = load_kpi_report(tmp_path, wide, baseline=base)
    assert report.comparison is not None
    rows = {r["kpi"]: r for r in report.comparison.iter_rows(named=True)}
    assert rows["net_bps"]["difference"] > 0 and rows["pnl_usd"]["difference"] < 0
    assert report.warnings and report.warnings[0].startswith("NET_BPS UP, DOLLARS DOWN")
    assert report.record()["warnings"] == list(report.warnings)
    # the ratios pass, and so does the activity floor: 0.4 of the reference's volume
    gate = {r["kpi"]: r for r in report.gate_table.iter_rows(named=True)}
    assert gate["net_bps"]["iterations holding"] == "3/3"
    assert gate["volume_vs_reference"]["threshold"] == ">= 0.25"
    assert gate["volume_vs_reference"]["iterations holding"] == "3/3"
    money = report.money
    assert {"pnl_usd", "pnl_reference", "volume_usd", "volume_reference", "volume_vs_reference",
            "risk_adjusted_pnl", "max_drawdown_usd"} <= set(money.columns)
    assert money["pnl_usd"].sum() < money["pnl_reference"].sum()
    # and the baseline itself: nothing to flag; the re-tuned steady_safe trades more than
    # the gate's reference (steady_safe as of 2025-10-15)
    same = load_kpi_report(tmp_path, base, baseline=base)
    assert same.warnings == ()
    assert min(same.money["volume_vs_reference"].to_list()) > 1.0


def test_a_near_idle_run_fails_the_activity_floor_in_the_report(tmp_path: Path) -> None:
    idle = _run(tmp_path, "impact_cap_ratio=0.02", "max_delta_ratio=0.05",
                "position_limit_notional=1440")
    report = load_kpi_report(tmp_path, idle)
    gate = {r["kpi"]: r for r in report.gate_table.iter_rows(named=True)}
    assert gate["net_bps"]["iterations holding"] == "3/3"
    assert gate["volume_vs_reference"]["iterations holding"] == "0/3"
    assert report.verdict.verdict == "FAIL"

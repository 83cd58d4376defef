"""The one gate: thresholds, WARN margins, warm-up, the run verdict rule, and the floors
anchored outside the run (the gaming cases of issue 25 fail in real soaks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from soakkit.config.history import revision_values
from soakkit.config.profiles import PROFILE_SCHEMA_VERSION, user_profiles_dir
from soakkit.gate import (
    ACTIVITY_FLOOR,
    GATES,
    INVENTORY_LIMIT_USD,
    MISSING_VIOLATION,
    RUN_WINDOW,
    WARMUP_ITERATIONS,
    Verdict,
    judge_iteration,
    judge_run,
    violation,
    violations,
)
from soakkit.soak import SoakOptions, run_in_memory


def k(**kw: Any) -> dict[str, Any]:
    base = {"risk_ratio": 0.3, "net_bps": 3.0, "maker_taker_ratio": 0.97, "p95_latency_ms": 250.0,
            "pnl_per_hour_usd": 900.0, "volume_vs_reference": 1.0, "inventory_p95_usd": 3000.0}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("kpis", "verdict", "fragment"),
    [
        (k(), "PASS", None),
        (k(risk_ratio=0.51), "FAIL", "risk_ratio=0.51 violates risk_ratio <= 0.5"),
        (k(net_bps=2.0), "FAIL", "net_bps=2 violates net_bps > 2"),
        (k(maker_taker_ratio=0.89), "FAIL", "maker_taker_ratio"),
        (k(p95_latency_ms=351.0), "FAIL", "p95_latency_ms=351"),
        (k(net_bps=2.1), "WARN", "net_bps=2.1 within 0.2 of net_bps > 2"),
        (k(risk_ratio=0.49), "WARN", "within 0.03"),
        (k(maker_taker_ratio=None), "FAIL", "maker_taker_ratio missing"),
        (k(pnl_per_hour_usd=-1.0), "FAIL", "pnl_per_hour_usd=-1 violates pnl_per_hour_usd >= 0"),
        (k(pnl_per_hour_usd=30.0), "WARN", "pnl_per_hour_usd=30 within 60"),
        (k(volume_vs_reference=0.2), "FAIL", "volume_vs_reference=0.2 violates"),
        (k(volume_vs_reference=0.28), "WARN", "volume_vs_reference=0.28 within 0.05"),
        (k(volume_vs_reference=None), "FAIL", "volume_vs_reference missing"),
        (k(inventory_p95_usd=5100.0), "FAIL", "inventory_p95_usd=5100 violates"),
        (k(inventory_p95_usd=4800.0), "WARN", "inventory_p95_usd=4800 within 300"),
    ],
)
def test_production_iteration(kpis: dict[str, Any], verdict: str, fragment: str | None) -> None:
    v = judge_iteration(kpis, "production", WARMUP_ITERATIONS + 1)
    assert v.verdict == verdict and v.phase == "steady"
    if fragment:
        assert any(fragment in r for r in v.reasons), v.reasons


def test_smoke_thresholds_are_the_legacy_ones() -> None:
    smoke = {str(t) for t in GATES["smoke"].thresholds}
    assert smoke == {"risk_ratio <= 0.8", "net_bps > -10", "maker_taker_ratio >= 0.5",
                     "volume_vs_reference >= 0.1", "inventory_p95_usd <= 8000"}
    assert judge_iteration(k(risk_ratio=0.79, net_bps=-9.5), "smoke", 1).verdict == "WARN"
    assert judge_iteration(k(risk_ratio=0.81), "smoke", 1).verdict == "FAIL"
    assert judge_iteration(k(p95_latency_ms=9999.0), "smoke", 1).verdict == "PASS"


def test_every_gate_has_an_activity_floor_and_an_inventory_limit_in_usd() -> None:
    for gate in GATES.values():
        kpis = {t.kpi for t in gate.thresholds}
        assert {"volume_vs_reference", "inventory_p95_usd", "risk_ratio"} <= kpis
    floor = next(t for t in GATES["production"].thresholds if t.kpi == "volume_vs_reference")
    assert floor.value == ACTIVITY_FLOOR
    limit = next(t for t in GATES["production"].thresholds if t.kpi == "inventory_p95_usd")
    assert limit.value == INVENTORY_LIMIT_USD
    # not trading: the ratios can look fine, the floors cannot
    idle = k(net_bps=5.0, risk_ratio=0.0, pnl_per_hour_usd=0.0, volume_vs_reference=0.0)
    v = judge_iteration(idle, "production", WARMUP_ITERATIONS + 1)
    assert v.verdict == "FAIL" and any("volume_vs_reference" in r for r in v.reasons)
    assert judge_iteration(idle, "smoke", 1).verdict == "FAIL"
    # relabelling: a tenfold budget divides risk_ratio by ten, not the inventory in USD
    relabelled = k(risk_ratio=0.056, inventory_p95_usd=5600.0)
    v = judge_iteration(relabelled, "production", WARMUP_ITERATIONS + 1)
    assert v.verdict == "FAIL" and v.reasons == ("inventory_p95_usd=5600 violates "
                                                 "inventory_p95_usd <= 5000",)


def test_violation_is_zero_when_the_gate_holds_and_counts_warn_margins() -> None:
    assert violation(k(), "production") == 0.0
    assert violation(k(risk_ratio=0.56), "production") == pytest.approx(0.06 / 0.03)
    assert violation(k(risk_ratio=0.56, net_bps=1.8), "production") == pytest.approx(3.0)
    assert violation(k(net_bps=None), "production") == MISSING_VIOLATION
    rows = violations({"risk_ratio": [0.3, 0.56, np.nan], "net_bps": [3.0, 1.8, 3.0],
                       **{t.kpi: [k()[t.kpi]] * 3 for t in GATES["production"].thresholds
                          if t.kpi not in ("risk_ratio", "net_bps")}}, "production")
    assert rows.tolist() == pytest.approx([0.0, 3.0, MISSING_VIOLATION])


def test_warmup_relaxes_and_never_fails() -> None:
    v = judge_iteration(k(risk_ratio=0.58, net_bps=1.5, inventory_p95_usd=5800.0), "production", 1)
    assert v.verdict == "PASS" and v.gate == "warmup" and v.phase == "warmup"
    v = judge_iteration(k(risk_ratio=0.9), "production", WARMUP_ITERATIONS)
    assert v.verdict == "WARN" and v.reasons[0].startswith("warmup: risk_ratio=0.9")
    assert judge_iteration(k(risk_ratio=0.9), "production", WARMUP_ITERATIONS + 1).verdict \
        == "FAIL"


def _v(name: str, phase: str = "steady") -> Verdict:
    return Verdict(name, (f"{name} reason",) if name != "PASS" else (), "production", phase)  # type: ignore[arg-type]


def test_run_verdict_rule() -> None:
    assert judge_run([(i, _v("PASS")) for i in range(1, 9)]).verdict == "PASS"
    one_fail = [(i, _v("FAIL" if i == 4 else "PASS")) for i in range(1, 9)]
    assert judge_run(one_fail).verdict == "WARN"
    three = [(i, _v("FAIL" if i in (2, 4, 6) else "PASS")) for i in range(1, 9)]
    assert judge_run(three).verdict == "FAIL"
    last = [(i, _v("FAIL" if i == 8 else "PASS")) for i in range(1, 9)]
    r = judge_run(last)
    assert r.verdict == "FAIL" and "last iteration 8 FAILed" in r.reasons[0]
    old = [(i, _v("FAIL" if i <= 5 else "PASS")) for i in range(1, 6 + RUN_WINDOW)]
    assert judge_run(old).verdict == "PASS"  # outside the window
    warm = [(1, _v("WARN", "warmup")), (2, _v("WARN", "warmup")), (3, _v("PASS"))]
    assert judge_run(warm).verdict == "PASS" and judge_run(warm).window == (3,)
    assert judge_run([]).verdict == "FAIL"


# ---------------------------------------------------------------------------------------------
# The gaming cases of issue 25, in real soaks: a user profile is no longer its own reference
# ---------------------------------------------------------------------------------------------
def _user_profile(artifacts: Path, name: str, base: str, **params: float) -> str:
    """A user profile: a 2025-10-15 built-in (the audit's profiles) with ``params`` changed."""
    doc = {"schema_version": PROFILE_SCHEMA_VERSION, "description": name,
           "params": {**(revision_values(f"{base}@2025-10-15") or {}), **params}}
    folder = user_profiles_dir(artifacts)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(doc))
    return name


def _soak(artifacts: Path, profile: str, mode: str, seed: int) -> list[Any]:
    return run_in_memory(SoakOptions(profile=profile, iterations=6, mode=mode, seed=seed,
                                     gate="production", tune=False, artifacts=artifacts))


def _steady(reports: list[Any]) -> list[Any]:
    return [r for r in reports if r.verdict.phase == "steady"]


@pytest.mark.parametrize("mode", ["calm", "volatile"])
def test_a_near_idle_profile_fails_production(tmp_path: Path, mode: str) -> None:
    """1/10 of the 2025-10-15 steady_safe's quote size (72 USD instead of 720): it used to
    pass calm."""
    idle = _user_profile(tmp_path, "near_idle", "steady_safe", impact_cap_ratio=0.02,
                         max_delta_ratio=0.05, position_limit_notional=1440.0)
    for seed in (1, 2):
        reports = _soak(tmp_path, idle, mode, seed)
        reference = _soak(tmp_path, "steady_safe", mode, seed)
        share = (sum(r.kpis["volume_usd"] for r in reports)
                 / sum(r.kpis["volume_usd"] for r in reference))
        assert share < 0.2  # the case: a fraction of steady_safe's volume
        assert judge_run([(r.iteration, r.verdict) for r in reports]).verdict == "FAIL"
        for r in _steady(reports):
            assert r.verdict.verdict == "FAIL"
            assert any(x.startswith("volume_vs_reference=") for x in r.verdict.reasons)


@pytest.mark.parametrize("mode", ["calm", "volatile"])
def test_a_wide_quoter_fails_production(tmp_path: Path, mode: str) -> None:
    """Quotes 13 bps from the mid: a fill every two minutes at most (steady_safe: thousands an
    iteration); it used to pass volatile."""
    wide = _user_profile(tmp_path, "wide", "steady_safe", base_spread_bps=10.0,
                         base_spread_bps_delta=3.0)
    for seed in (1, 2):
        reports = _soak(tmp_path, wide, mode, seed)
        minutes = sum(r.doc["sim_minutes"] for r in reports)
        assert sum(r.kpis["fill_count"] for r in reports) < minutes / 2
        assert judge_run([(r.iteration, r.verdict) for r in reports]).verdict == "FAIL"
        for r in _steady(reports):
            assert r.verdict.verdict == "FAIL"
            assert any(x.startswith("volume_vs_reference=") for x in r.verdict.reasons)


@pytest.mark.parametrize("mode", ["calm", "volatile"])
def test_raising_only_the_risk_budget_changes_no_verdict(tmp_path: Path, mode: str) -> None:
    """aggressive (2025-10-15) fails on inventory; a 100k budget divides risk_ratio by 10 and
    passes nothing."""
    original = _user_profile(tmp_path, "aggressive_2025", "aggressive")
    relabelled = _user_profile(tmp_path, "aggressive_100k", "aggressive",
                               risk_budget_notional=100_000.0)
    for seed in (1, 2):
        shipped = _soak(tmp_path, original, mode, seed)
        reports = _soak(tmp_path, relabelled, mode, seed)
        assert judge_run([(r.iteration, r.verdict) for r in reports]).verdict == "FAIL"
        for a, b in zip(shipped, reports, strict=True):
            assert b.kpis["risk_ratio"] == pytest.approx(a.kpis["risk_ratio"] / 10)
            assert b.verdict.verdict == a.verdict.verdict
            if b.verdict.phase == "steady" and a.kpis["inventory_p95_usd"] > INVENTORY_LIMIT_USD:
                assert b.verdict.verdict == "FAIL"
                assert any(x.startswith("inventory_p95_usd=") for x in b.verdict.reasons)


def test_a_user_profile_named_like_the_reference_does_not_move_the_floor(tmp_path: Path) -> None:
    """The reference is a recorded revision of steady_safe, whatever shadows the name."""
    _user_profile(tmp_path, "steady_safe", "steady_safe", impact_cap_ratio=0.02,
                  max_delta_ratio=0.05, position_limit_notional=1440.0)
    reports = _soak(tmp_path, "steady_safe", "calm", 1)
    assert all(r.kpis["volume_vs_reference"] < 0.2 for r in reports)
    assert all(r.verdict.verdict == "FAIL" for r in _steady(reports))


@pytest.mark.parametrize("profile", ["steady_safe", "ultra_safe", "aggressive"])
def test_the_shipped_profiles_hold_the_activity_floor_in_every_mode(profile: str,
                                                                     tmp_path: Path) -> None:
    """The floor is a quarter of the reference's volume; every shipped profile stays well
    above it in every market (docs/KPIS.md lists their verdicts)."""
    for mode in ("calm", "volatile", "mixed", "spike"):
        for r in _soak(tmp_path, profile, mode, 3):
            assert r.kpis["volume_vs_reference"] >= ACTIVITY_FLOOR + 0.1

"""The one gate: thresholds, WARN margins, warm-up and the run verdict rule."""

from __future__ import annotations

from typing import Any

import pytest

from soakkit.gate import (
    ACTIVITY_FLOOR,
    GATES,
    MISSING_VIOLATION,
    RUN_WINDOW,
    WARMUP_ITERATIONS,
    Verdict,
    judge_iteration,
    judge_run,
    violation,
)


def k(**kw: Any) -> dict[str, Any]:
    base = {"risk_ratio": 0.3, "net_bps": 3.0, "maker_taker_ratio": 0.97, "p95_latency_ms": 250.0,
            "pnl_per_hour_usd": 900.0, "volume_vs_untuned": 1.0}
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
        (k(volume_vs_untuned=0.7), "FAIL", "volume_vs_untuned=0.7 violates"),
        (k(volume_vs_untuned=None), "FAIL", "volume_vs_untuned missing"),
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
                     "volume_vs_untuned >= 0.5"}
    assert judge_iteration(k(risk_ratio=0.79, net_bps=-9.5), "smoke", 1).verdict == "WARN"
    assert judge_iteration(k(risk_ratio=0.81), "smoke", 1).verdict == "FAIL"
    assert judge_iteration(k(p95_latency_ms=9999.0), "smoke", 1).verdict == "PASS"


def test_every_gate_has_a_floor_on_activity_or_money() -> None:
    for gate in GATES.values():
        assert {"volume_vs_untuned", "pnl_per_hour_usd"} & {t.kpi for t in gate.thresholds}
    floor = next(t for t in GATES["production"].thresholds if t.kpi == "volume_vs_untuned")
    assert floor.value == ACTIVITY_FLOOR
    # not trading: the ratios can look fine, the floors cannot
    idle = k(net_bps=5.0, risk_ratio=0.0, pnl_per_hour_usd=0.0, volume_vs_untuned=0.0)
    v = judge_iteration(idle, "production", WARMUP_ITERATIONS + 1)
    assert v.verdict == "FAIL" and any("volume_vs_untuned" in r for r in v.reasons)
    assert judge_iteration(idle, "smoke", 1).verdict == "FAIL"


def test_violation_is_zero_when_the_gate_holds_and_counts_warn_margins() -> None:
    assert violation(k(), "production") == 0.0
    assert violation(k(risk_ratio=0.56), "production") == pytest.approx(0.06 / 0.03)
    assert violation(k(risk_ratio=0.56, net_bps=1.8), "production") == pytest.approx(3.0)
    assert violation(k(net_bps=None), "production") == MISSING_VIOLATION


def test_warmup_relaxes_and_never_fails() -> None:
    v = judge_iteration(k(risk_ratio=0.58, net_bps=1.5), "production", 1)
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

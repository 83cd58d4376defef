"""Canary accept/rollback: the verdict rule, the rollback with rule cool-down, and a real soak."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from soakkit.config.layers import resolve
from soakkit.soak import SoakOptions, run_in_memory, run_soak
from soakkit.tuning import rules as rules_module
from soakkit.tuning.canary import CanaryEvidence, CanaryGroup, judge_canary
from soakkit.tuning.engine import HistoryEntry, decide
from soakkit.tuning.guards import GUARDS, TunerState
from soakkit.tuning.rules import Condition, Rule

NOW = "2026-11-24T12:00:00Z"
BASE = dict(resolve("steady_safe", env={}).values)
OK = {"risk_ratio": 0.3, "net_bps": 3.0, "maker_taker_ratio": 0.99, "p95_latency_ms": 250.0,
      "pnl_per_hour_usd": 900.0, "volume_vs_untuned": 1.0, "risk_adjusted_pnl": 0.10}


def _evidence(candidate: dict[str, Any], without: dict[str, Any]) -> CanaryEvidence:
    group = CanaryGroup("risk_high", ("risk_high",), {"position_limit_notional": 6000.0}, without)
    return CanaryEvidence(4, candidate, (group,))


def _judge(candidate: dict[str, Any], without: dict[str, Any]) -> str:
    (verdict,) = judge_canary(_evidence(candidate, without), tolerance=GUARDS.canary_tolerance,
                              violation_eps=GUARDS.canary_violation_eps)
    return verdict.status


def test_feasibility_decides_first() -> None:
    # the change fixes a gate violation: kept even though the objective fell
    assert _judge(dict(OK, risk_adjusted_pnl=0.05), dict(OK, risk_ratio=0.56)) == "kept"
    # the change breaks the gate: rolled back even though the objective rose
    assert _judge(dict(OK, risk_ratio=0.56, risk_adjusted_pnl=0.2), OK) == "rolled_back"
    # trading less to "fix" net_bps breaks the activity floor: rolled back
    assert _judge(dict(OK, volume_vs_untuned=0.6), dict(OK, net_bps=1.95)) == "rolled_back"


def test_at_equal_feasibility_the_objective_decides_beyond_the_noise_band() -> None:
    band = GUARDS.canary_tolerance * OK["risk_adjusted_pnl"]
    assert _judge(dict(OK, risk_adjusted_pnl=0.10 - 0.5 * band), OK) == "kept"
    assert _judge(dict(OK, risk_adjusted_pnl=0.10 - 2.0 * band), OK) == "rolled_back"
    assert _judge(dict(OK, risk_adjusted_pnl=0.12), OK) == "kept"
    assert _judge(dict(OK, risk_adjusted_pnl=None), OK) == "rolled_back"


def test_rollback_restores_stable_values_and_cools_the_rule_down_with_backoff() -> None:
    values = dict(BASE, position_limit_notional=5500.0)
    bad = _evidence(dict(OK, risk_adjusted_pnl=0.05), OK)
    d = decide(run_id="r", iteration=5, kpis=OK, failed=False, production_pass=False,
               values=values, baseline=BASE, pinned=frozenset(), history=[], canary=bad)
    assert d.flags.canary_rollback and d.canary[0].status == "rolled_back"
    assert d.values_after["position_limit_notional"] == 6000.0
    assert d.deltas == {"position_limit_notional": 500.0}
    first = GUARDS.rule_cooldown_iterations
    assert d.state.rule_cooldown_until == {"risk_high": 5 + first}
    assert d.state.rule_rollbacks == {"risk_high": 1}
    # while it cools down the rule does not fire, even on its trigger
    history = [HistoryEntry(5, d.deltas, d.state)]
    hot = dict(OK, risk_ratio=0.9)
    d6 = decide(run_id="r", iteration=6, kpis=hot, failed=False, production_pass=False,
                values=BASE, baseline=BASE, pinned=frozenset(), history=history)
    assert "risk_high" not in d6.rules_fired
    # a second rollback doubles the cool-down
    state = TunerState(rule_rollbacks={"risk_high": 1})
    d9 = decide(run_id="r", iteration=9, kpis=OK, failed=False, production_pass=False,
                values=values, baseline=BASE, pinned=frozenset(),
                history=[HistoryEntry(8, {}, state)], canary=bad)
    assert d9.state.rule_cooldown_until["risk_high"] == 9 + 2 * first


def test_pinned_parameters_are_not_rolled_back() -> None:
    values = dict(BASE, position_limit_notional=5500.0)
    d = decide(run_id="r", iteration=5, kpis=OK, failed=False, production_pass=False,
               values=values, baseline=BASE, pinned=frozenset({"position_limit_notional"}),
               history=[], canary=_evidence(dict(OK, risk_adjusted_pnl=0.05), OK))
    assert d.flags.canary_rollback and d.deltas == {}


def test_only_the_failing_rule_of_a_change_is_rolled_back() -> None:
    values = dict(BASE, position_limit_notional=5500.0, base_spread_bps_delta=0.41)
    keep = CanaryGroup("risk_high", ("risk_high",), {"position_limit_notional": 6000.0},
                       dict(OK, risk_ratio=0.56))
    drop = CanaryGroup("wider", ("wider",), {"base_spread_bps_delta": 0.16},
                       dict(OK, risk_adjusted_pnl=0.2))
    d = decide(run_id="r", iteration=5, kpis=OK, failed=False, production_pass=False,
               values=values, baseline=BASE, pinned=frozenset(), history=[],
               canary=CanaryEvidence(4, OK, (keep, drop)))
    assert [v.status for v in d.canary] == ["kept", "rolled_back"]
    assert d.deltas == {"base_spread_bps_delta": -0.25}
    assert set(d.state.rule_cooldown_until) == {"wider"}


def _shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that shrinks the quote whatever happens: in a calm market it costs P&L per USD
    of inventory (docs/SIMULATOR.md's causality table: size buys volume at little risk)."""
    smaller = Rule("smaller", (Condition("net_bps", ">", -99.0),), (("impact_cap_ratio", -0.01),),
                   "", "net_bps", "higher")
    monkeypatch.setattr(rules_module, "RULES", (smaller,))
    monkeypatch.setattr("soakkit.tuning.engine.GUARDS",
                        dataclasses.replace(GUARDS, freeze_after_passes=99))


def test_a_harmful_change_is_rolled_back_in_a_real_soak(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _shrinking(monkeypatch)
    result = run_soak(SoakOptions(iterations=12, mode="calm", seed=4, gate="production",
                                  artifacts=tmp_path, now=NOW), env={})
    reports = run_in_memory(SoakOptions(iterations=12, mode="calm", seed=4, gate="production"))
    docs = [r.doc for r in reports]
    assert docs[0]["tuning"]["canary"]["pending"] == [
        {"name": "smaller", "rules": ["smaller"], "stable_values": {"impact_cap_ratio": 0.08}}]
    second = docs[1]["tuning"]
    (verdict,) = second["canary"]["verdicts"]
    assert verdict["status"] == "rolled_back" and verdict["change_iteration"] == 1
    assert verdict["objective_candidate"] < verdict["objective_stable"]
    assert second["guards"]["canary_rollback"]
    assert second["values_after"]["impact_cap_ratio"] == 0.08
    assert docs[2]["params"]["impact_cap_ratio"]["value"] == 0.08
    cool = second["state"]["rule_cooldown_until"]["smaller"]
    assert cool == 2 + GUARDS.rule_cooldown_iterations
    for d in docs[2:cool]:
        assert "smaller" not in d["tuning"]["rules_fired"]
    assert "smaller" in docs[cool]["tuning"]["rules_fired"]  # tried again after the cool-down
    assert docs[cool + 1]["tuning"]["state"]["rule_rollbacks"] == {"smaller": 2}
    # the run on disk made the same decisions as the one in memory
    import json

    for n, doc in enumerate(docs, start=1):
        on_disk = json.loads((result.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
        assert on_disk["tuning"]["canary"] == doc["tuning"]["canary"]
        assert on_disk["summary"] == doc["summary"]

"""Every rule's lever moves its target KPI towards passing, on paired calibration seeds.

For each rule (and ``relax``) the test starts from a cell where the rule's trigger holds
(``soakkit.evidence.study.LEVER_CASES``), applies the rule's deltas, and runs both settings
untuned on the same calibration seeds (same markets, same latency draws). The 95 %
bootstrap interval of the mean paired change of the rule's target KPI must lie entirely
on the passing side. ``bench/bench_levers.py`` reports the same measurement with more
seeds, and what each lever costs in P&L and risk-adjusted P&L (docs/TUNING.md).
"""

from __future__ import annotations

import pytest

from soakkit.evidence.study import (
    CALIBRATION_SEEDS,
    EVALUATION_SEEDS,
    LEVER_CASES,
    lever_effects,
    paired_ci,
    rule_deltas,
)
from soakkit.tuning.rules import RELAX, RULES, Rule

pytestmark = pytest.mark.slow  # paired many-seed soaks per tuner lever

ALL_RULES = {rule.name: rule for rule in (*RULES, RELAX)}


def test_every_rule_has_a_lever_case_and_a_target() -> None:
    assert set(LEVER_CASES) == set(ALL_RULES)
    for rule in ALL_RULES.values():
        assert rule.target and rule.better in ("lower", "higher"), rule.name


def test_rule_parameters_are_disjoint() -> None:
    """Each parameter belongs to one rule, so a canary can judge each rule's part alone."""
    owners: dict[str, str] = {}
    for rule in RULES:
        for param, _ in rule.deltas:
            if rule.name == "maker_share_low" and owners.get(param) == "risk_high":
                continue  # opposite conditions on risk_ratio: never fire together
            assert param not in owners, (param, owners.get(param), rule.name)
            owners[param] = rule.name


def test_calibration_and_evaluation_seeds_are_disjoint_and_named() -> None:
    assert not set(CALIBRATION_SEEDS) & set(EVALUATION_SEEDS)
    assert len(EVALUATION_SEEDS) >= 20


@pytest.mark.parametrize("name", sorted(ALL_RULES))
def test_lever_moves_its_target_towards_passing(name: str) -> None:
    rule: Rule = ALL_RULES[name]
    case = LEVER_CASES[name]
    deltas = rule_deltas(name, case.profile, case.start)
    assert deltas, name
    effects = lever_effects(case.profile, case.mode, case.start, deltas, CALIBRATION_SEEDS[:8],
                            iterations=3, sim_minutes=10, kpis=(rule.target,))
    change = paired_ci(effects[rule.target], [0.0] * len(effects[rule.target]))
    if rule.better == "lower":
        assert change.hi < 0, (name, change)
    else:
        assert change.lo > 0, (name, change)

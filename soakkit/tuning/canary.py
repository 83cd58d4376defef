"""Canary accept/rollback: a change is kept only if it does not worsen the objective.

After the tuner changes parameters at iteration ``n``, iteration ``n + 1`` runs with the
new values (the *candidate*). The change is split into groups, one per rule (the
parameters that rule moved). For each group the runner replays the iteration with that
group's parameters back at their values from before the change, on the same simulated
market with the same latency draws, so the two runs differ only by that group — a paired
comparison, like a canary analysed against a baseline that receives the same traffic.
:func:`judge_canary` then applies a constrained acceptance rule to each group
(feasibility first, then the objective):

1. the *gate violation* (:func:`soakkit.gate.violation` on the production thresholds,
   in warn margins) decides first: a change that lowers it by more than
   ``canary_violation_eps`` is kept, one that raises it by more than that is rolled back;
2. otherwise the *objective*, ``risk_adjusted_pnl`` (docs/KPIS.md), decides: the change is
   rolled back when the candidate's objective is below the stable one by more than the
   noise band ``canary_tolerance × |stable objective|``.

A rolled-back group returns its parameters to their stable values, and its rules cool
down for ``rule_cooldown_iterations``; the groups that were kept stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from soakkit.config.params import Value
from soakkit.core.json_canonical import JsonRecord
from soakkit.gate import violation

__all__ = ["OBJECTIVE", "CanaryEvidence", "CanaryGroup", "CanaryVerdict", "judge_canary"]

#: The KPI the tuner maximises, subject to the production gate.
OBJECTIVE = "risk_adjusted_pnl"
#: The gate whose thresholds are the tuner's constraints.
CONSTRAINT_GATE = "production"


@dataclass(frozen=True)
class CanaryGroup:
    """One rule's part of a change (parameters only it moved), and the KPIs without it.

    ``without`` are the KPIs of this iteration's market with the group's parameters back
    at ``stable_values`` and everything else as it is: the paired comparison isolates
    what this part of the change did.
    """

    name: str  #: the rule's name (``a+b`` when several rules moved the same parameter)
    rules: tuple[str, ...]
    stable_values: Mapping[str, Value]
    without: Mapping[str, Any]


@dataclass(frozen=True)
class CanaryEvidence:
    """The change under evaluation, by group, on this iteration's market."""

    change_iteration: int  #: the iteration that applied the change
    candidate: Mapping[str, Any]  #: KPIs with the whole change (this iteration's own)
    groups: tuple[CanaryGroup, ...]


@dataclass(frozen=True)
class CanaryVerdict(JsonRecord):
    """One group kept or rolled back, with the numbers that decided it."""

    group: str
    rules: tuple[str, ...]
    status: Literal["kept", "rolled_back"]
    reason: str
    change_iteration: int
    objective_candidate: float | None
    objective_stable: float | None
    violation_candidate: float
    violation_stable: float
    stable_values: Mapping[str, Value] = field(default_factory=dict)

    @property
    def rolled_back(self) -> bool:
        return self.status == "rolled_back"


def _objective(kpis: Mapping[str, Any]) -> float | None:
    value = kpis.get(OBJECTIVE)
    return None if value is None else float(value)


def _judge(group: CanaryGroup, candidate: Mapping[str, Any], change_iteration: int,
           tolerance: float, violation_eps: float) -> CanaryVerdict:
    v_c = violation(candidate, CONSTRAINT_GATE)
    v_s = violation(group.without, CONSTRAINT_GATE)
    j_c, j_s = _objective(candidate), _objective(group.without)

    def verdict(status: Literal["kept", "rolled_back"], reason: str) -> CanaryVerdict:
        return CanaryVerdict(group.name, group.rules, status, reason, change_iteration, j_c,
                             j_s, round(v_c, 9), round(v_s, 9), dict(group.stable_values))

    if v_c < v_s - violation_eps:
        return verdict("kept", f"gate violation falls from {v_s:.3g} to {v_c:.3g} warn margins")
    if v_c > v_s + violation_eps:
        return verdict("rolled_back",
                       f"gate violation rises from {v_s:.3g} to {v_c:.3g} warn margins")
    if j_s is None:
        return verdict("kept", f"{OBJECTIVE} undefined without the change")
    if j_c is None:
        return verdict("rolled_back", f"{OBJECTIVE} undefined with the change")
    band = tolerance * abs(j_s)
    if j_c < j_s - band:
        return verdict("rolled_back", f"{OBJECTIVE} {j_c:.4g} < {j_s:.4g} without it "
                                      f"(beyond the noise band {band:.2g})")
    return verdict("kept", f"{OBJECTIVE} {j_c:.4g} vs {j_s:.4g} without it "
                           f"(noise band {band:.2g})")


def judge_canary(evidence: CanaryEvidence, *, tolerance: float, violation_eps: float
                 ) -> tuple[CanaryVerdict, ...]:
    """Keep or roll back each group of the change in ``evidence`` (module docstring)."""
    return tuple(_judge(g, evidence.candidate, evidence.change_iteration, tolerance,
                        violation_eps) for g in evidence.groups)

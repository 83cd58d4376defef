"""The tuner's rule table: condition → parameter → delta → rationale (``docs/TUNING.md``).

Rules are data. Each names the KPI conditions that must all hold on the last iteration
and the additive deltas it proposes. When several rules fire, their deltas for one
parameter add up (the guards then clip the sum to the parameter's maximum step). The
``relax`` rule is special: it proposes a step back towards the profile baseline for every
parameter the tuner has moved, and fires only when no other rule did.

The deltas were chosen by measuring each parameter's effect in the simulator
(``bench/bench_tuning.py`` and ``docs/TUNING.md``), not copied from the legacy engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soakkit.config.params import PARAMS, TUNABLE, Value
from soakkit.gate import COMPARISONS, GATES

__all__ = ["EDGE_WORTH_SCALING_BPS", "RELAX", "RULES", "Condition", "Rule", "evaluate_rules"]


@dataclass(frozen=True)
class Condition:
    """``kpi op value`` on the last iteration's KPIs; a missing KPI never matches."""

    kpi: str
    op: str
    value: float

    def matches(self, kpis: Mapping[str, Any]) -> bool:
        x = kpis.get(self.kpi)
        return x is not None and COMPARISONS[self.op](float(x), self.value)

    def __str__(self) -> str:
        return f"{self.kpi} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Rule:
    """When every condition holds, propose these deltas, for this reason.

    ``target`` is the KPI the deltas must move towards passing (``better`` says which way);
    ``tests/test_levers.py`` checks it on paired calibration seeds for every rule.
    """

    name: str
    when: tuple[Condition, ...]
    deltas: tuple[tuple[str, float], ...]
    rationale: str
    target: str = ""
    better: str = ""  #: "lower" | "higher"


def _c(kpi: str, op: str, value: float) -> Condition:
    return Condition(kpi, op, value)


#: The production gate's net edge bar, which ``edge_thin`` works towards.
_NET_BPS_BAR = next(t.value for t in GATES["production"].thresholds if t.kpi == "net_bps")
#: ``edge_thin`` scales an edge, so it needs one: at least a quarter of the gate's bar.
#: Below it (on markets calibrated on the real captures, −0.1 to +0.04 bps) larger quotes
#: scale a loss or an edge worth cents, and the trial that follows costs dollars.
EDGE_WORTH_SCALING_BPS = 0.25 * _NET_BPS_BAR

#: The rules, in evaluation order.
RULES: tuple[Rule, ...] = (
    Rule("risk_high", (_c("risk_ratio", ">", 0.5),),
         (("position_limit_notional", -500.0),),
         "inventory uses too much of the risk budget: a lower limit unloads earlier",
         "risk_ratio", "lower"),
    Rule("latency_high", (_c("p95_latency_ms", ">", 320.0),),
         (("replace_rate_per_min", -30.0),),
         "the venue is slow in a busy market: fewer requotes per minute put less load on it "
         "(a slower loop does not help: its requotes come in bursts)",
         "p95_latency_ms", "lower"),
    Rule("edge_thin", (_c("net_bps", ">=", EDGE_WORTH_SCALING_BPS),
                       _c("net_bps", "<", _NET_BPS_BAR),
                       _c("risk_ratio", "<=", 0.5), _c("maker_taker_ratio", ">=", 0.93)),
         (("impact_cap_ratio", 0.01), ("max_delta_ratio", 0.02)),
         "net edge worth scaling but below the gate while risk and the maker share have room: "
         "larger quotes keep their queue place and earn the spread on more of the flow (a "
         "wider spread does not: it only trades less; near the limit, larger quotes only "
         "force more taker unloads, which eat the maker share the gate wants; at a negative "
         "edge they only scale the loss)",
         "net_bps", "higher"),
)

#: Steady good KPIs: move back towards the profile, half a maximum step at a time.
RELAX = Rule("relax", (_c("risk_ratio", "<", 0.3), _c("net_bps", ">", 3.0),
                       _c("p95_latency_ms", "<", 280.0)), (),
             "KPIs are comfortably inside the production gate: return towards the profile "
             "and recover the activity given up", "volume_vs_reference", "higher")
RELAX_STEP_FRACTION = 0.5


@dataclass(frozen=True)
class Proposal:
    """Deltas proposed by the rules, and which rules fired."""

    deltas: dict[str, float]
    fired: tuple[str, ...]
    rationale: str
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)  #: param → its rules


def evaluate_rules(kpis: Mapping[str, Any], values: Mapping[str, Value],
                   baseline: Mapping[str, Value], cooling: frozenset[str] = frozenset()
                   ) -> Proposal:
    """Evaluate :data:`RULES` (then :data:`RELAX`) on one iteration's KPIs.

    Rules named in ``cooling`` (cooling down after a trial rollback) do not fire.
    """
    deltas: dict[str, float] = {}
    owners: dict[str, tuple[str, ...]] = {}
    fired: list[str] = []
    reasons: list[str] = []
    for rule in RULES:
        if rule.name not in cooling and all(cond.matches(kpis) for cond in rule.when):
            fired.append(rule.name)
            reasons.append(f"{rule.name}: {rule.rationale}")
            for param, delta in rule.deltas:
                deltas[param] = deltas.get(param, 0.0) + delta
                owners[param] = (*owners.get(param, ()), rule.name)
    if not fired and RELAX.name not in cooling and all(cond.matches(kpis)
                                                       for cond in RELAX.when):
        for param in TUNABLE:
            gap = float(baseline[param]) - float(values[param])
            if gap:
                step = RELAX_STEP_FRACTION * float(PARAMS[param].max_step)
                deltas[param] = max(-step, min(step, gap))
                owners[param] = (RELAX.name,)
        if deltas:
            fired.append(RELAX.name)
            reasons.append(f"{RELAX.name}: {RELAX.rationale}")
    return Proposal({k: deltas[k] for k in TUNABLE if k in deltas}, tuple(fired),
                    " | ".join(reasons), owners)

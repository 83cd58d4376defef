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
from dataclasses import dataclass
from typing import Any

from soakkit.config.params import PARAMS, TUNABLE, Value
from soakkit.gate import COMPARISONS

__all__ = ["RELAX", "RULES", "Condition", "Rule", "evaluate_rules"]


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
    """When every condition holds, propose these deltas, for this reason."""

    name: str
    when: tuple[Condition, ...]
    deltas: tuple[tuple[str, float], ...]
    rationale: str


def _c(kpi: str, op: str, value: float) -> Condition:
    return Condition(kpi, op, value)


#: The rules, in evaluation order.
RULES: tuple[Rule, ...] = (
    Rule("risk_high", (_c("risk_ratio", ">", 0.42),),
         (("position_limit_notional", -500.0), ("impact_cap_ratio", -0.005)),
         "inventory uses too much of the risk budget: a lower limit unloads earlier and "
         "smaller quotes build inventory more slowly"),
    Rule("latency_high", (_c("p95_latency_ms", ">", 320.0),),
         (("replace_rate_per_min", -20.0), ("min_interval_ms", 10.0)),
         "request load drives latency: fewer requotes per minute and a slower loop cut load"),
    Rule("adverse_high", (_c("adverse_bps_p95", ">", 6.0), _c("risk_ratio", ">", 0.4)),
         (("max_delta_ratio", -0.01), ("base_spread_bps_delta", 0.1)),
         "fills are picked off by informed flow: cap the size a sweep can take and quote "
         "a little wider"),
    Rule("edge_thin", (_c("net_bps", "<", 2.4), _c("adverse_bps_p95", "<=", 6.0)),
         (("base_spread_bps_delta", 0.15),),
         "little edge in a benign market: a wider quote earns more per fill"),
    Rule("maker_share_low", (_c("maker_taker_ratio", "<", 0.93), _c("risk_ratio", "<=", 0.4)),
         (("replace_rate_per_min", -20.0), ("position_limit_notional", 500.0)),
         "taker unloads eat the maker share while risk is acceptable: slow the replace "
         "rate and give inventory more room before unloading"),
)

#: Steady good KPIs: move back towards the profile, half a maximum step at a time.
RELAX = Rule("relax", (_c("risk_ratio", "<", 0.3), _c("net_bps", ">", 3.0),
                       _c("p95_latency_ms", "<", 280.0)), (),
             "KPIs are comfortably inside the production gate: return towards the profile")
RELAX_STEP_FRACTION = 0.5


@dataclass(frozen=True)
class Proposal:
    """Deltas proposed by the rules, and which rules fired."""

    deltas: dict[str, float]
    fired: tuple[str, ...]
    rationale: str


def evaluate_rules(kpis: Mapping[str, Any], values: Mapping[str, Value],
                   baseline: Mapping[str, Value]) -> Proposal:
    """Evaluate :data:`RULES` (then :data:`RELAX`) on one iteration's KPIs."""
    deltas: dict[str, float] = {}
    fired: list[str] = []
    reasons: list[str] = []
    for rule in RULES:
        if all(cond.matches(kpis) for cond in rule.when):
            fired.append(rule.name)
            reasons.append(f"{rule.name}: {rule.rationale}")
            for param, delta in rule.deltas:
                deltas[param] = deltas.get(param, 0.0) + delta
    if not fired and all(cond.matches(kpis) for cond in RELAX.when):
        for param in TUNABLE:
            gap = float(baseline[param]) - float(values[param])
            if gap:
                step = RELAX_STEP_FRACTION * float(PARAMS[param].max_step)
                deltas[param] = max(-step, min(step, gap))
        if deltas:
            fired.append(RELAX.name)
            reasons.append(f"{RELAX.name}: {RELAX.rationale}")
    return Proposal({k: deltas[k] for k in TUNABLE if k in deltas}, tuple(fired),
                    " | ".join(reasons))

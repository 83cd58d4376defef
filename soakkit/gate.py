"""The one KPI gate: a single threshold table with named profiles, used by everything that judges.

Iteration verdict (:func:`judge_iteration`):

* FAIL – any threshold of the active profile is violated, or a gated KPI is missing;
* WARN – every threshold holds, but at least one value is within its warn margin;
* PASS – every threshold holds with margin.

Every gate has a floor on activity or money, so it cannot be passed by not trading:
``volume_vs_untuned`` (volume as a share of what the profile trades untuned on the same
market) and, in ``production`` and ``warmup``, ``pnl_per_hour_usd >= 0``.

``warmup``: in a ``production`` run the first :data:`WARMUP_ITERATIONS` iterations are
judged against the relaxed ``warmup`` thresholds, and a violation there is a WARN, never a
FAIL (the legacy warm-up downgraded FAIL to WARN for iterations 1-4).

Run verdict (:func:`judge_run`), over the last ``N = min(RUN_WINDOW, steady iterations)``
steady iterations (warm-up iterations count only when there is nothing else):

* FAIL – the last iteration FAILed, or more than a quarter of the window FAILed;
* WARN – any iteration in the window is FAIL or WARN;
* PASS – otherwise.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from soakkit.core.errors import UsageError
from soakkit.core.inputs import choice_problem
from soakkit.core.json_canonical import JsonRecord

__all__ = [
    "ACTIVITY_FLOOR",
    "COMPARISONS",
    "GATES",
    "RUN_GATES",
    "RUN_WINDOW",
    "WARMUP_ITERATIONS",
    "GateProfile",
    "Threshold",
    "Verdict",
    "check_gate_name",
    "gate_problem",
    "judge_iteration",
    "judge_run",
    "violation",
]

VerdictName = Literal["PASS", "WARN", "FAIL"]
#: The comparisons a threshold or a tuning condition may use (``kpi op value``).
COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Threshold:
    """``kpi op value``; values within ``warn_margin`` of the limit (on the good side) WARN."""

    kpi: str
    op: str
    value: float
    warn_margin: float

    def holds(self, x: float) -> bool:
        return COMPARISONS[self.op](x, self.value)

    def near(self, x: float) -> bool:
        """On the good side but within the warn margin of the limit."""
        return abs(x - self.value) <= self.warn_margin

    def __str__(self) -> str:
        return f"{self.kpi} {self.op} {self.value:g}"


@dataclass(frozen=True)
class GateProfile:
    """A named set of thresholds."""

    name: str
    description: str
    thresholds: tuple[Threshold, ...]


#: The production activity floor: an iteration must trade at least this share of the
#: volume the profile trades untuned on the same market (``volume_vs_untuned``).
ACTIVITY_FLOOR = 0.75

#: The threshold table. Everything that judges a KPI imports it from here.
GATES: Mapping[str, GateProfile] = {
    g.name: g for g in (
        GateProfile("smoke", "sanity for short CI soaks (legacy smoke thresholds)", (
            Threshold("risk_ratio", "<=", 0.8, 0.05),
            Threshold("net_bps", ">", -10.0, 1.0),
            Threshold("maker_taker_ratio", ">=", 0.5, 0.05),
            Threshold("volume_vs_untuned", ">=", 0.5, 0.05),
        )),
        GateProfile("production", "the bar a profile must hold in production", (
            Threshold("risk_ratio", "<=", 0.5, 0.03),
            Threshold("net_bps", ">", 2.0, 0.2),
            Threshold("maker_taker_ratio", ">=", 0.9, 0.02),
            Threshold("p95_latency_ms", "<=", 350.0, 15.0),
            Threshold("pnl_per_hour_usd", ">=", 0.0, 60.0),
            Threshold("volume_vs_untuned", ">=", ACTIVITY_FLOOR, 0.05),
        )),
        GateProfile("warmup", "relaxed production thresholds for the first iterations", (
            Threshold("risk_ratio", "<=", 0.6, 0.0),
            Threshold("net_bps", ">", 1.0, 0.0),
            Threshold("maker_taker_ratio", ">=", 0.85, 0.0),
            Threshold("p95_latency_ms", "<=", 400.0, 0.0),
            Threshold("pnl_per_hour_usd", ">=", 0.0, 0.0),
            Threshold("volume_vs_untuned", ">=", 0.6, 0.0),
        )),
    )
}
#: Gate profiles a run may choose (``warmup`` is applied automatically).
RUN_GATES: tuple[str, ...] = ("smoke", "production")
WARMUP_ITERATIONS = 2
RUN_WINDOW = 8


@dataclass(frozen=True)
class Verdict(JsonRecord):
    """PASS / WARN / FAIL with one reason per threshold that is violated or near."""

    verdict: VerdictName
    reasons: tuple[str, ...]
    gate: str
    phase: Literal["warmup", "steady"]


def violation(kpis: Mapping[str, Any], gate: str) -> float:
    """How far ``kpis`` are from holding ``gate``: Σ shortfall / warn margin (0 = holds).

    A threshold without a warn margin counts its shortfall as is; a missing KPI counts
    :data:`MISSING_VIOLATION`. The tuner's canary compares candidates with it.
    """
    total = 0.0
    for th in GATES[gate].thresholds:
        value = kpis.get(th.kpi)
        if value is None:
            total += MISSING_VIOLATION
        elif not th.holds(float(value)):
            total += abs(float(value) - th.value) / (th.warn_margin or 1.0)
    return total


#: What a missing gated KPI adds to :func:`violation` (more than any realistic shortfall).
MISSING_VIOLATION = 1e6


def gate_problem(gate: object, label: str = "--gate") -> str | None:
    """Why ``gate`` is not a run gate, naming it by ``label`` (``--gate``, ``-p gate``), or
    ``None``: the one check of a gate name."""
    return choice_problem(label, gate, RUN_GATES)


def check_gate_name(gate: str, label: str = "--gate") -> GateProfile:
    """The run gate ``gate`` or a :class:`UsageError` naming the choices."""
    if why := gate_problem(gate, label):
        raise UsageError(why)
    return GATES[gate]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def judge_iteration(kpis: Mapping[str, Any], gate: str, iteration: int) -> Verdict:
    """Judge one iteration's KPIs against ``gate`` (warm-up rules for early production ones)."""
    warmup = gate == "production" and iteration <= WARMUP_ITERATIONS
    profile = GATES["warmup" if warmup else gate]
    fails: list[str] = []
    warns: list[str] = []
    for th in profile.thresholds:
        value = kpis.get(th.kpi)
        if value is None:
            fails.append(f"{th.kpi} missing (needs {th})")
        elif not th.holds(float(value)):
            fails.append(f"{th.kpi}={_fmt(value)} violates {th}")
        elif th.near(float(value)):
            warns.append(f"{th.kpi}={_fmt(value)} within {th.warn_margin:g} of {th}")
    if warmup:
        reasons = tuple(f"warmup: {r}" for r in fails + warns)
        return Verdict("WARN" if fails or warns else "PASS", reasons, profile.name, "warmup")
    verdict: VerdictName = "FAIL" if fails else ("WARN" if warns else "PASS")
    return Verdict(verdict, tuple(fails + warns), profile.name, "steady")


@dataclass(frozen=True)
class RunVerdict(JsonRecord):
    """The run's verdict, the window it was judged on and why."""

    verdict: VerdictName
    reasons: tuple[str, ...]
    window: tuple[int, ...]


def _ranges(numbers: Sequence[int]) -> str:
    """``1-2, 5``: iteration numbers as runs of consecutive ones."""
    out: list[str] = []
    for n in numbers:
        if out and n == int(out[-1].rpartition("-")[2]) + 1:
            out[-1] = f"{out[-1].partition('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def _window_text(ordered: Sequence[tuple[int, Verdict]],
                 window: Sequence[tuple[int, Verdict]], steady: bool) -> str:
    """Which iterations the run verdict judges, and which it leaves out and why."""
    inside = {n for n, _ in window}
    warmup = [n for n, v in ordered if v.phase == "warmup" and n not in inside]
    earlier = [n for n, _ in ordered if n not in inside and n not in warmup]
    left_out = [f"warm-up {_ranges(warmup)}"] * bool(warmup) + \
        [f"{_ranges(earlier)} before the window"] * bool(earlier)
    text = f"judged on {'steady ' * steady}iterations {window[0][0]}-{window[-1][0]}"
    if earlier:
        text += f", the last {len(window)}"
    return text + (f" (not counted: {', '.join(left_out)})" if left_out else "")


def judge_run(iterations: Sequence[tuple[int, Verdict]]) -> RunVerdict:
    """Combine per-iteration verdicts ``(iteration, verdict)`` into the run verdict."""
    if not iterations:
        return RunVerdict("FAIL", ("no iteration completed",), ())
    ordered = sorted(iterations, key=lambda item: item[0])
    steady = [item for item in ordered if item[1].phase == "steady"] or ordered
    window = steady[-RUN_WINDOW:]
    fails = [n for n, v in window if v.verdict == "FAIL"]
    warns = [n for n, v in window if v.verdict == "WARN"]
    span = _window_text(ordered, window, steady is not ordered)
    if window[-1][1].verdict == "FAIL":
        reasons = (f"last iteration {window[-1][0]} FAILed: " + "; ".join(window[-1][1].reasons),)
        return RunVerdict("FAIL", reasons, tuple(n for n, _ in window))
    if 4 * len(fails) > len(window):
        return RunVerdict("FAIL", (f"{span}: {len(fails)} of {len(window)} FAILed, more than "
                                   f"a quarter: {fails}",), tuple(n for n, _ in window))
    if fails or warns:
        parts = []
        if fails:
            parts.append(f"FAIL in {fails}")
        if warns:
            parts.append(f"WARN in {warns}")
        why = " (a quarter or less FAILed, and not the last one)" if fails else ""
        return RunVerdict("WARN", (f"{span}: " + ", ".join(parts) + why,),
                          tuple(n for n, _ in window))
    return RunVerdict("PASS", (f"{span}: all PASSed",), tuple(n for n, _ in window))

"""One tuning decision per iteration: rules, then guards, as a pure function of the history.

:func:`decide` never touches the filesystem; :mod:`soakkit.tuning.apply` writes the result.
Given the same history, KPIs and values it returns the same decision with the same
signature, which is what makes re-applying a decision after a crash recognisable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from soakkit.config.params import PARAMS, TUNABLE, Value
from soakkit.io import signature
from soakkit.tuning.guards import GUARDS, GuardConfig, GuardFlags, TunerState
from soakkit.tuning.rules import evaluate_rules

__all__ = ["Decision", "HistoryEntry", "decide"]


@dataclass(frozen=True)
class HistoryEntry:
    """What the guards need to know about an earlier iteration."""

    iteration: int
    applied: Mapping[str, float]  #: value change per parameter actually applied
    state: TunerState


@dataclass(frozen=True)
class Decision:
    """The tuner's decision for one iteration, with everything needed to explain it."""

    run_id: str
    iteration: int
    proposed: dict[str, float]
    deltas: dict[str, float]
    values_before: dict[str, Value]
    values_after: dict[str, Value]
    flags: GuardFlags
    skip_reason: str | None
    rationale: str
    rules_fired: tuple[str, ...]
    state: TunerState
    signature: str = field(default="")

    @property
    def changes(self) -> bool:
        """Whether applying the decision changes any value."""
        return bool(self.deltas)

    def to_json(self) -> dict[str, Any]:
        return {
            "proposed_deltas": dict(self.proposed),
            "deltas": dict(self.deltas),
            "values_before": dict(self.values_before),
            "values_after": dict(self.values_after),
            "guards": self.flags.to_json(),
            "skip_reason": self.skip_reason,
            "rationale": self.rationale,
            "rules_fired": list(self.rules_fired),
            "state": self.state.to_json(),
            "signature": self.signature,
        }


def _delta(param: str, value: float) -> float:
    """A delta in the parameter's own type (ints stay ints in the records)."""
    return PARAMS[param].cast(value) if PARAMS[param].kind == "int" else round(value, 9)


def _signed(delta: float) -> int:
    return (delta > 0) - (delta < 0)


def _finish(run_id: str, iteration: int, proposed: dict[str, float],
            before: dict[str, Value], after: dict[str, Value], flags: GuardFlags,
            skip: str | None, rationale: str, fired: tuple[str, ...],
            state: TunerState) -> Decision:
    deltas = {k: _delta(k, float(after[k]) - float(before[k])) for k in before
              if after[k] != before[k]}
    proposed = {k: _delta(k, v) for k, v in proposed.items()}
    sig = signature({"run_id": run_id, "iteration": iteration, "values_before": before,
                     "values_after": after})
    return Decision(run_id, iteration, proposed, deltas, before, after, flags, skip,
                    rationale, fired, state, sig)


def decide(
    *,
    run_id: str,
    iteration: int,
    kpis: Mapping[str, Any],
    failed: bool,
    production_pass: bool,
    values: Mapping[str, Value],
    baseline: Mapping[str, Value],
    pinned: frozenset[str],
    history: Sequence[HistoryEntry],
    enabled: bool = True,
    guards: GuardConfig | None = None,
) -> Decision:
    """Decide this iteration's parameter changes.

    Parameters
    ----------
    run_id, iteration
        Identify the decision (they enter its signature).
    kpis
        This iteration's KPIs.
    failed
        Whether this iteration's verdict (under the run's gate) is FAIL.
    production_pass
        Whether this iteration's KPIs hold the production thresholds (for the freeze).
    values, baseline
        Current values and the profile baseline (defaults < profile) of every parameter.
    pinned
        Parameters set by env or CLI, which the tuner never changes.
    history
        Earlier iterations of this run, oldest first.
    enabled
        ``False`` for ``--no-tune``: nothing is proposed and the reason is recorded.
    guards
        Guard constants; :data:`~soakkit.tuning.guards.GUARDS` when ``None``.
    """
    guards = GUARDS if guards is None else guards
    prev = history[-1].state if history else TunerState()
    before = {k: values[k] for k in TUNABLE}
    fail_streak = prev.fail_streak + 1 if failed else 0
    pass_streak = prev.pass_streak + 1 if production_pass else 0
    base_state = TunerState(prev.frozen_until, prev.freeze_reason, dict(prev.locked_until),
                            dict(prev.cooldown_until), pass_streak, fail_streak)
    if not enabled:
        return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(),
                       "tuning disabled (--no-tune)", "", (), base_state)

    # 2. panic revert
    if fail_streak >= guards.panic_after_fails:
        after = {k: (before[k] if k in pinned else baseline[k]) for k in TUNABLE}
        until = iteration + guards.panic_freeze_iterations
        state = TunerState(until, f"panic revert at iteration {iteration}", {}, {}, 0, 0)
        reverted = sorted(k for k in TUNABLE if after[k] != before[k])
        skip = None if reverted else "panic revert: parameters already at the profile baseline"
        suppressed = tuple(k for k in TUNABLE if k in pinned and before[k] != baseline[k])
        return _finish(run_id, iteration, {}, before, after,
                       GuardFlags(panic_revert=True, tuner_suppressed=suppressed), skip,
                       f"{fail_streak} consecutive FAIL iterations: every tunable parameter "
                       "returns to the profile baseline and tuning freezes until iteration "
                       f"{until}", (), state)

    # 3. freeze
    if iteration <= prev.frozen_until:
        return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(freeze=True),
                       f"frozen until iteration {prev.frozen_until} ({prev.freeze_reason})",
                       "", (), base_state)
    if pass_streak >= guards.freeze_after_passes:
        until = iteration + guards.freeze_iterations - 1
        why = f"{pass_streak} consecutive production passes"
        state = TunerState(until, why, dict(prev.locked_until), dict(prev.cooldown_until),
                           0, fail_streak)
        return _finish(run_id, iteration, {}, before, dict(before),
                       GuardFlags(freeze=True, freeze_triggered=True),
                       f"frozen until iteration {until} ({why})", "", (), state)

    proposal = evaluate_rules(kpis, values, baseline)
    locked = dict(prev.locked_until)
    cooling = dict(prev.cooldown_until)
    after = dict(before)
    flags: dict[str, list[str]] = {k: [] for k in (
        "oscillation", "cooldown", "velocity", "clamped", "tuner_suppressed", "no_op")}
    recent = [h for h in history if h.iteration > iteration - guards.oscillation_window]
    velocity_window = [h for h in history if h.iteration > iteration - guards.velocity_horizon]
    for param, raw in proposal.deltas.items():
        spec = PARAMS[param]
        delta = raw
        if param in pinned:  # 4
            flags["tuner_suppressed"].append(param)
            continue
        if locked.get(param, 0) >= iteration:  # 5 (lock already in force)
            flags["oscillation"].append(param)
            continue
        last = next((h.applied[param] for h in reversed(recent) if h.applied.get(param)), 0.0)
        if last and _signed(last) == -_signed(delta):  # 5 (A→B→A detected now)
            locked[param] = iteration + guards.oscillation_window - 1
            flags["oscillation"].append(param)
            continue
        if cooling.get(param, 0) >= iteration:  # 6
            flags["cooldown"].append(param)
            continue
        used = sum(abs(h.applied.get(param, 0.0)) for h in velocity_window)  # 7
        allowed = max(0.0, guards.velocity_limit_ratio * spec.span - used)
        if abs(delta) > allowed:
            delta = _signed(delta) * allowed
            flags["velocity"].append(param)
        if abs(delta) > float(spec.max_step):  # 8
            delta = _signed(delta) * float(spec.max_step)
            flags["clamped"].append(param)
        new = spec.clamp(float(before[param]) + delta)
        if new != spec.cast(float(before[param]) + delta) and param not in flags["clamped"]:
            flags["clamped"].append(param)
        if new == before[param]:
            flags["no_op"].append(param)
            continue
        after[param] = new
        if abs(float(new) - float(before[param])) > guards.cooldown_change_ratio * spec.span:
            cooling[param] = iteration + guards.cooldown_iterations
    state = TunerState(prev.frozen_until, prev.freeze_reason,
                       {k: v for k, v in locked.items() if v >= iteration},
                       {k: v for k, v in cooling.items() if v > iteration},
                       pass_streak, fail_streak)
    guard_flags = GuardFlags(
        oscillation=tuple(flags["oscillation"]), cooldown=tuple(flags["cooldown"]),
        velocity=tuple(flags["velocity"]), clamped=tuple(flags["clamped"]),
        tuner_suppressed=tuple(flags["tuner_suppressed"]), no_op=tuple(flags["no_op"]))
    reason: str | None = None
    if not proposal.deltas:
        reason = "no rule fired: KPIs need no change"
    elif after == before:
        reason = "every proposal was blocked by a guard or changed nothing"
    return _finish(run_id, iteration, proposal.deltas, before, after, guard_flags, reason,
                   proposal.rationale, proposal.fired, state)

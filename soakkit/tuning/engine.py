"""One tuning decision per iteration: rules, then guards, as a pure function of the history.

:func:`decide` never touches the filesystem; :mod:`soakkit.tuning.apply` writes the result.
Given the same history, KPIs and values it returns the same decision with the same
signature, which is what makes re-applying a decision after a crash recognisable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from soakkit.config.params import PARAMS, TUNABLE, Value
from soakkit.core.digests import signature
from soakkit.tuning.canary import CanaryEvidence, CanaryVerdict, judge_canary
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
    canary: tuple[CanaryVerdict, ...] = ()  #: verdicts on the previous iteration's change
    owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  #: param → rules

    @property
    def changes(self) -> bool:
        """Whether applying the decision changes any value."""
        return bool(self.deltas)


def _delta(param: str, value: float) -> float:
    """A delta in the parameter's own type (ints stay ints in the records)."""
    return PARAMS[param].cast(value) if PARAMS[param].kind == "int" else round(value, 9)


def _signed(delta: float) -> int:
    return (delta > 0) - (delta < 0)


def _finish(run_id: str, iteration: int, proposed: dict[str, float],
            before: dict[str, Value], after: dict[str, Value], flags: GuardFlags,
            skip: str | None, rationale: str, fired: tuple[str, ...],
            state: TunerState, canary: tuple[CanaryVerdict, ...] = (),
            owners: Mapping[str, tuple[str, ...]] | None = None) -> Decision:
    deltas = {k: _delta(k, float(after[k]) - float(before[k])) for k in before
              if after[k] != before[k]}
    proposed = {k: _delta(k, v) for k, v in proposed.items()}
    sig = signature({"run_id": run_id, "iteration": iteration, "values_before": before,
                     "values_after": after})
    return Decision(run_id, iteration, proposed, deltas, before, after, flags, skip,
                    rationale, fired, state, sig, canary,
                    {k: v for k, v in (owners or {}).items() if k in deltas})


def decide(
    *,
    run_id: str,
    iteration: int,
    kpis: Mapping[str, Any],
    failed: bool,
    production_pass: bool,
    worse_than_profile: bool = True,
    values: Mapping[str, Value],
    baseline: Mapping[str, Value],
    pinned: frozenset[str],
    history: Sequence[HistoryEntry],
    enabled: bool = True,
    guards: GuardConfig | None = None,
    canary: CanaryEvidence | None = None,
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
    worse_than_profile
        Whether the run's values did worse against the gate than the profile's own values
        on the same market; only such FAIL iterations count towards the panic revert.
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
    canary
        The previous iteration's change and both configurations' KPIs on this market,
        when that change awaits its canary verdict (:mod:`soakkit.tuning.canary`).
    """
    guards = GUARDS if guards is None else guards
    prev = history[-1].state if history else TunerState()
    before = {k: values[k] for k in TUNABLE}
    fail_streak = prev.fail_streak + 1 if failed and worse_than_profile else 0
    pass_streak = prev.pass_streak + 1 if production_pass else 0
    rule_cooling = {k: v for k, v in prev.rule_cooldown_until.items() if v >= iteration}
    rollbacks = dict(prev.rule_rollbacks)
    base_state = TunerState(prev.frozen_until, prev.freeze_reason, dict(prev.locked_until),
                            dict(prev.cooldown_until), pass_streak, fail_streak, rule_cooling,
                            rollbacks)
    if not enabled:
        return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(),
                       "tuning disabled (--no-tune)", "", (), base_state)

    # 2. panic revert
    if fail_streak >= guards.panic_after_fails:
        after = {k: (before[k] if k in pinned else baseline[k]) for k in TUNABLE}
        until = iteration + guards.panic_freeze_iterations
        state = TunerState(until, f"panic revert at iteration {iteration}", {}, {}, 0, 0,
                           rule_cooling, rollbacks)
        reverted = sorted(k for k in TUNABLE if after[k] != before[k])
        skip = None if reverted else "panic revert: parameters already at the profile baseline"
        suppressed = tuple(k for k in TUNABLE if k in pinned and before[k] != baseline[k])
        return _finish(run_id, iteration, {}, before, after,
                       GuardFlags(panic_revert=True, tuner_suppressed=suppressed), skip,
                       f"{fail_streak} consecutive FAIL iterations worse than the profile on "
                       "the same market: every tunable parameter returns to the profile "
                       f"baseline and tuning freezes until iteration {until}", (), state)

    # 2b. canary: keep or roll back the previous iteration's change
    verdict: tuple[CanaryVerdict, ...] = ()
    if canary is not None:
        verdict = judge_canary(canary, tolerance=guards.canary_tolerance,
                               violation_eps=guards.canary_violation_eps)
        if any(v.rolled_back for v in verdict):
            return _rollback(run_id, iteration, before, pinned, verdict, base_state, guards)

    # 3. freeze
    if iteration <= prev.frozen_until:
        return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(freeze=True),
                       f"frozen until iteration {prev.frozen_until} ({prev.freeze_reason})",
                       "", (), base_state, verdict)
    if pass_streak >= guards.freeze_after_passes:
        until = iteration + guards.freeze_iterations - 1
        why = f"{pass_streak} consecutive production passes"
        state = TunerState(until, why, dict(prev.locked_until), dict(prev.cooldown_until),
                           0, fail_streak, rule_cooling, rollbacks)
        return _finish(run_id, iteration, {}, before, dict(before),
                       GuardFlags(freeze=True, freeze_triggered=True),
                       f"frozen until iteration {until} ({why})", "", (), state, verdict)

    proposal = evaluate_rules(kpis, values, baseline, cooling=frozenset(rule_cooling))
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
                       pass_streak, fail_streak, rule_cooling, rollbacks)
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
                   proposal.rationale, proposal.fired, state, verdict, proposal.owners)


def _rollback(run_id: str, iteration: int, before: dict[str, Value], pinned: frozenset[str],
              verdicts: tuple[CanaryVerdict, ...], state: TunerState,
              guards: GuardConfig) -> Decision:
    """Return the rolled-back groups' parameters to their stable values; their rules cool."""
    after = dict(before)
    cooling = dict(state.rule_cooldown_until)
    rollbacks = dict(state.rule_rollbacks)
    failed = [v for v in verdicts if v.rolled_back]
    for v in failed:
        for param, value in v.stable_values.items():
            if param in after and param not in pinned:
                after[param] = value
        for rule in v.rules:
            rollbacks[rule] = rollbacks.get(rule, 0) + 1
            cooling[rule] = iteration + guards.rule_cooldown_iterations * 2 ** (rollbacks[rule]
                                                                                  - 1)
    new_state = replace(state, rule_cooldown_until=dict(sorted(cooling.items())),
                        rule_rollbacks=dict(sorted(rollbacks.items())))
    skip = None if after != before else "canary rollback: values already stable"
    why = "; ".join(f"{v.group}: {v.reason}" for v in failed)
    cools = ", ".join(f"{r} until iteration {cooling[r]}"
                      for r in sorted({r for v in failed for r in v.rules}))
    return _finish(run_id, iteration, {}, before, after, GuardFlags(canary_rollback=True), skip,
                   f"canary rollback of iteration {failed[0].change_iteration}'s change ({why});"
                   f" cooling down: {cools}", (), new_state, verdicts)

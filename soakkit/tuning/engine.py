"""One tuning decision per iteration: rules, then guards, as a pure function of the history.

:func:`decide` never touches the filesystem; :mod:`soakkit.tuning.apply` writes the result.
Given the same history, KPIs and values it returns the same decision with the same
signature, which is what makes re-applying a decision after a crash recognisable.

It reads only what a live bot has: the KPIs of what it traded, the regime it observed, and
its own earlier decisions. It cannot run a market: nothing here imports the simulator
(``tests/test_trial.py`` checks it), so it cannot ask what its values would have done on a
minute that was traded otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from soakkit.config.params import PARAMS, TUNABLE, Value
from soakkit.core.digests import signature
from soakkit.gate import violation
from soakkit.tuning.guards import GUARDS, GuardConfig, GuardFlags, TunerState
from soakkit.tuning.rules import evaluate_rules
from soakkit.tuning.trial import (
    CONSTRAINT_GATE,
    ForeseenPairs,
    TrialEvidence,
    TrialVerdict,
    judge_trial,
)

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
    trial: TrialVerdict | None = None  #: the verdict on the change under trial
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
            state: TunerState, trial: TrialVerdict | None = None,
            owners: Mapping[str, tuple[str, ...]] | None = None) -> Decision:
    deltas = {k: _delta(k, float(after[k]) - float(before[k])) for k in before
              if after[k] != before[k]}
    proposed = {k: _delta(k, v) for k, v in proposed.items()}
    sig = signature({"run_id": run_id, "iteration": iteration, "values_before": before,
                     "values_after": after})
    return Decision(run_id, iteration, proposed, deltas, before, after, flags, skip,
                    rationale, fired, state, sig, trial,
                    {k: v for k, v in (owners or {}).items() if k in deltas})


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
    trial: TrialEvidence | None = None,
    regime: str = "",
    comparable_pairs: ForeseenPairs | None = None,
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
    trial
        The change under trial and the windows traded both ways so far
        (:mod:`soakkit.tuning.trial`), when this iteration was a trial iteration.
    regime
        The regime observed this iteration (labelled from the quotes): the panic revert
        compares with what the profile's values did in the same regime.
    comparable_pairs
        How many of a trial's window pairs this iteration's market would have let it compare
        (both windows in one observed regime, the gate's reference trading in both), and how
        many a trial iteration of its length has; ``None`` when unknown.
    """
    guards = GUARDS if guards is None else guards
    prev = history[-1].state if history else TunerState()
    before = {k: values[k] for k in TUNABLE}
    observed = violation(kpis, CONSTRAINT_GATE)
    at_baseline = trial is None and all(before[k] == baseline[k] for k in TUNABLE
                                        if k not in pinned)
    seen = dict(prev.baseline_violation)
    if at_baseline:
        seen[regime] = round(max(seen.get(regime, 0.0), observed), 9)
    # the profile's values in this regime, else the worst they were seen to do anywhere
    bar = seen.get(regime, max(seen.values(), default=-1.0))
    worse = not at_baseline and observed > bar
    fail_streak = prev.fail_streak + 1 if failed and worse else 0
    pass_streak = prev.pass_streak + 1 if production_pass else 0
    rule_cooling = {k: v for k, v in prev.rule_cooldown_until.items() if v >= iteration}
    rollbacks = dict(prev.rule_rollbacks)
    base_state = TunerState(prev.frozen_until, prev.freeze_reason, dict(prev.locked_until),
                            dict(prev.cooldown_until), pass_streak, fail_streak, rule_cooling,
                            rollbacks, dict(sorted(seen.items())))
    if not enabled:
        return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(),
                       "tuning disabled (--no-tune)", "", (), base_state)

    # 2. panic revert
    if fail_streak >= guards.panic_after_fails:
        after = {k: (before[k] if k in pinned else baseline[k]) for k in TUNABLE}
        until = iteration + guards.panic_freeze_iterations
        state = TunerState(until, f"panic revert at iteration {iteration}", {}, {}, 0, 0,
                           rule_cooling, rollbacks, dict(sorted(seen.items())))
        reverted = sorted(k for k in TUNABLE if after[k] != before[k])
        skip = None if reverted else "panic revert: parameters already at the profile baseline"
        suppressed = tuple(k for k in TUNABLE if k in pinned and before[k] != baseline[k])
        return _finish(run_id, iteration, {}, before, after,
                       GuardFlags(panic_revert=True, tuner_suppressed=suppressed), skip,
                       f"{fail_streak} consecutive FAIL iterations worse than the profile's "
                       "values were observed to do in the same regime: every tunable parameter "
                       f"returns to the profile baseline and tuning freezes until iteration "
                       f"{until}", (), state)

    # 2b. trial: keep, roll back or go on with the change under trial
    verdict: TrialVerdict | None = None
    if trial is not None:
        verdict = judge_trial(trial, max_iterations=guards.trial_max_iterations,
                              resamples=guards.trial_resamples,
                              violation_eps=guards.trial_violation_eps,
                              min_pairs=guards.trial_min_pairs)
        if verdict.rolled_back:
            return _rollback(run_id, iteration, before, pinned, verdict, base_state, guards)
        if verdict.status == "running":
            return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(),
                           f"trial of iteration {trial.change_iteration}'s change goes on: "
                           f"{verdict.reason}", "", (), base_state, verdict)
        # kept: the rules read what the values now in force did (the candidate's windows)
        kpis = {**kpis, **{k: v for k, v in trial.candidate.items() if v is not None}}

    # 3. freeze
    if iteration <= prev.frozen_until:
        return _finish(run_id, iteration, {}, before, dict(before), GuardFlags(freeze=True),
                       f"frozen until iteration {prev.frozen_until} ({prev.freeze_reason})",
                       "", (), base_state, verdict)
    if pass_streak >= guards.freeze_after_passes:
        until = iteration + guards.freeze_iterations - 1
        why = f"{pass_streak} consecutive production passes"
        state = TunerState(until, why, dict(prev.locked_until), dict(prev.cooldown_until),
                           0, fail_streak, rule_cooling, rollbacks, base_state.baseline_violation)
        return _finish(run_id, iteration, {}, before, dict(before),
                       GuardFlags(freeze=True, freeze_triggered=True),
                       f"frozen until iteration {until} ({why})", "", (), state, verdict)

    proposal = evaluate_rules(kpis, values, baseline, cooling=frozenset(rule_cooling))
    held = _held_back(kpis, comparable_pairs, guards) if proposal.deltas else None
    if held is not None:  # 3b, 3c: the proposal is recorded, nothing changes
        return _finish(run_id, iteration, proposal.deltas, before, dict(before),
                       GuardFlags(held_back=tuple(proposal.deltas)), held, proposal.rationale,
                       proposal.fired, base_state, verdict, proposal.owners)
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
                       pass_streak, fail_streak, rule_cooling, rollbacks,
                       base_state.baseline_violation)
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


def _held_back(kpis: Mapping[str, Any], comparable: ForeseenPairs | None,
               guards: GuardConfig) -> str | None:
    """Why a proposal must wait (3b few fills, 3c no trial could judge it), or ``None``."""
    fills = kpis.get("fill_count")
    if fills is not None and float(fills) < guards.min_fills_to_tune:
        return (f"too few fills to read the KPIs: {int(fills)} < {guards.min_fills_to_tune} "
                "(min_fills_to_tune)")
    if comparable is None:
        return None
    judgeable, matched, possible = comparable
    needed, looks = guards.trial_min_pairs, guards.trial_max_iterations
    if possible * looks < needed:
        return (f"an iteration this short has {possible} trial window pair(s) and a trial "
                f"needs {needed} in {looks} iterations: tune with iterations of at least "
                f"{2 * -(-needed // looks)} minutes")
    if matched * looks < needed:
        return (f"the regime changed too often to judge a change: {matched} of this "
                f"iteration's {possible} window pairs kept one regime, a trial needs "
                f"{needed} in {looks} iterations")
    if judgeable * looks < needed:
        return (f"the market gave too little to trade to judge a change: the gate's "
                f"reference traded in both windows of {judgeable} of this iteration's "
                f"{matched} one-regime window pairs, a trial needs {needed} in {looks} "
                "iterations")
    return None


def _rollback(run_id: str, iteration: int, before: dict[str, Value], pinned: frozenset[str],
              verdict: TrialVerdict, state: TunerState, guards: GuardConfig) -> Decision:
    """Return the trial's parameters to their stable values; the rules behind it cool down."""
    after = dict(before)
    cooling = dict(state.rule_cooldown_until)
    rollbacks = dict(state.rule_rollbacks)
    for param, value in verdict.stable_values.items():
        if param in after and param not in pinned:
            after[param] = value
    for rule in verdict.rules:
        rollbacks[rule] = rollbacks.get(rule, 0) + 1
        cooling[rule] = iteration + guards.rule_cooldown_iterations * 2 ** (rollbacks[rule] - 1)
    new_state = replace(state, rule_cooldown_until=dict(sorted(cooling.items())),
                        rule_rollbacks=dict(sorted(rollbacks.items())))
    skip = None if after != before else "trial rollback: values already stable"
    cools = ", ".join(f"{r} until iteration {cooling[r]}" for r in sorted(verdict.rules))
    return _finish(run_id, iteration, {}, before, after, GuardFlags(canary_rollback=True), skip,
                   f"trial rollback of iteration {verdict.change_iteration}'s change "
                   f"({verdict.reason}); cooling down: {cools}", (), new_state, verdict)

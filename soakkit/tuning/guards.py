"""Guard constants, guard state and guard flags of the live-apply tuner.

Evaluation order (:data:`GUARD_ORDER`, applied by :func:`soakkit.tuning.engine.decide`):

1. ``idempotency``  – a decision whose signature is already recorded in
   ``runtime_overrides.json`` is not applied again (checked when applying);
2. ``panic_revert`` – after ``panic_after_fails`` consecutive FAIL iterations traded away
   from the profile's values whose gate violation is worse than the worst the run *observed*
   at the profile's values in the same observed regime (in a regime where it never traded
   them: worse than the worst it observed them do anywhere), every tunable parameter
   returns to the profile baseline and tuning freezes for ``panic_freeze_iterations``;
2b. ``trial``       – a change is traded against the stable values in alternating windows
   (:mod:`soakkit.tuning.trial`) for up to ``trial_max_iterations``; a change the trial
   rolls back returns to the stable values, and the rules that proposed it cool down:
   ``rule_cooldown_iterations`` after their first rollback in the run, doubling with every
   further one (a rule whose changes keep failing is tried less and less often); while a
   trial runs, nothing else changes;
3. ``freeze``       – after ``freeze_after_passes`` consecutive iterations that pass the
   production gate, tuning is frozen for ``freeze_iterations`` (this one included);
3b. ``few_fills``   – an iteration with fewer than ``min_fills_to_tune`` fills proposes
   nothing: its KPIs are a few fills' worth (panic revert and trials still act);
3c. ``unjudgeable`` – nor does one whose market would have given a trial fewer than
   ``trial_min_pairs`` regime-matched window pairs in ``trial_max_iterations`` iterations:
   a change nobody can judge is not made;
4. ``tuner_suppressed`` – parameters pinned by env or CLI are never changed;
5. ``oscillation``  – a proposal that reverses the parameter's last change made within
   ``oscillation_window`` iterations (A→B→A) is blocked and the parameter is locked for
   ``oscillation_window`` iterations (this one included);
6. ``cooldown``     – after a change larger than ``cooldown_change_ratio`` of the
   parameter's range, it is not tuned for the next ``cooldown_iterations``;
7. ``velocity``     – the cumulative |change| over the last ``velocity_horizon``
   iterations may not exceed ``velocity_limit_ratio`` of the range; the excess is clipped;
8. ``bounds``       – a delta is clipped to the parameter's maximum step and the value to
   its hard bounds; a delta that changes nothing is recorded as ``no_op``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soakkit.core.json_canonical import JsonRecord

__all__ = ["GUARDS", "GUARD_ORDER", "GuardConfig", "GuardFlags", "TunerState"]

GUARD_ORDER: tuple[str, ...] = ("idempotency", "panic_revert", "trial", "freeze",
                                "few_fills", "unjudgeable", "tuner_suppressed",
                                "oscillation", "cooldown", "velocity", "bounds")


@dataclass(frozen=True)
class GuardConfig:
    """The guard constants, in one table (documented in ``docs/TUNING.md``)."""

    freeze_after_passes: int = 3
    freeze_iterations: int = 4
    oscillation_window: int = 4
    cooldown_change_ratio: float = 0.08
    cooldown_iterations: int = 2
    velocity_horizon: int = 4
    velocity_limit_ratio: float = 0.15
    panic_after_fails: int = 3
    panic_freeze_iterations: int = 4
    trial_max_iterations: int = 2
    trial_resamples: int = 2000
    trial_violation_eps: float = 0.25
    trial_min_pairs: int = 4
    rule_cooldown_iterations: int = 3
    min_fills_to_tune: int = 50


GUARDS = GuardConfig()


@dataclass(frozen=True)
class TunerState(JsonRecord):
    """Guard state after an iteration; stored in its TUNING_REPORT entry and ITER_SUMMARY."""

    frozen_until: int = 0
    freeze_reason: str = ""
    locked_until: Mapping[str, int] = field(default_factory=dict)
    cooldown_until: Mapping[str, int] = field(default_factory=dict)
    pass_streak: int = 0
    fail_streak: int = 0
    rule_cooldown_until: Mapping[str, int] = field(default_factory=dict)
    rule_rollbacks: Mapping[str, int] = field(default_factory=dict)  #: rollbacks per rule
    #: observed regime → the worst production violation seen at the profile's values
    baseline_violation: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TunerState:
        return cls(int(doc.get("frozen_until", 0)), str(doc.get("freeze_reason", "")),
                   {str(k): int(v) for k, v in dict(doc.get("locked_until", {})).items()},
                   {str(k): int(v) for k, v in dict(doc.get("cooldown_until", {})).items()},
                   int(doc.get("pass_streak", 0)), int(doc.get("fail_streak", 0)),
                   {str(k): int(v)
                    for k, v in dict(doc.get("rule_cooldown_until", {})).items()},
                   {str(k): int(v) for k, v in dict(doc.get("rule_rollbacks", {})).items()},
                   {str(k): float(v)
                    for k, v in dict(doc.get("baseline_violation", {})).items()})


@dataclass(frozen=True)
class GuardFlags(JsonRecord):
    """Which guards acted in one iteration (each is counted in TUNING_REPORT.summary)."""

    freeze: bool = False  #: tuning was frozen this iteration
    freeze_triggered: bool = False  #: the freeze started this iteration
    panic_revert: bool = False
    oscillation: tuple[str, ...] = ()  #: parameters blocked by an oscillation lock
    cooldown: tuple[str, ...] = ()  #: parameters skipped because of a cooldown
    velocity: tuple[str, ...] = ()  #: parameters whose delta was clipped by velocity
    clamped: tuple[str, ...] = ()  #: parameters clipped by max step or bounds
    tuner_suppressed: tuple[str, ...] = ()  #: pinned parameters the rules wanted to change
    no_op: tuple[str, ...] = ()  #: proposals that changed nothing
    idempotent_skip: bool = False  #: decision already applied (a re-run or restart)
    canary_rollback: bool = False  #: the change under trial was rolled back
    #: parameters a proposal would change, held for lack of evidence (too few fills, or no
    #: trial could judge it; ``skip_reason`` says which)
    held_back: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> GuardFlags:
        def names(key: str) -> tuple[str, ...]:
            return tuple(str(x) for x in doc.get(key, ()))

        return cls(bool(doc.get("freeze")), bool(doc.get("freeze_triggered")),
                   bool(doc.get("panic_revert")), names("oscillation"), names("cooldown"),
                   names("velocity"), names("clamped"), names("tuner_suppressed"),
                   names("no_op"), bool(doc.get("idempotent_skip")),
                   bool(doc.get("canary_rollback")), names("held_back"))


#: TUNING_REPORT.summary counter → how it is read from one iteration's flags.
SUMMARY_COUNTERS: Mapping[str, str] = {
    "frozen": "freeze",
    "freeze_triggered": "freeze_triggered",
    "panic_reverts": "panic_revert",
    "blocked_oscillation": "oscillation",
    "cooldown_skips": "cooldown",
    "blocked_velocity": "velocity",
    "clamped": "clamped",
    "tuner_suppressed": "tuner_suppressed",
    "no_op": "no_op",
    "idempotent_skips": "idempotent_skip",
    "canary_rollbacks": "canary_rollback",
    "held_back": "held_back",
}

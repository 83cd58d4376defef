"""The live-apply tuner: one rule engine, additive clamped deltas, guards that fire."""

from soakkit.tuning.apply import ApplyOutcome, apply_decision
from soakkit.tuning.engine import Decision, HistoryEntry, decide
from soakkit.tuning.guards import GUARD_ORDER, GUARDS, GuardConfig, GuardFlags, TunerState
from soakkit.tuning.rules import RELAX, RULES, Rule, evaluate_rules
from soakkit.tuning.trial import ForeseenPairs

__all__ = [
    "GUARDS",
    "GUARD_ORDER",
    "RELAX",
    "RULES",
    "ApplyOutcome",
    "Decision",
    "ForeseenPairs",
    "GuardConfig",
    "GuardFlags",
    "HistoryEntry",
    "Rule",
    "TunerState",
    "apply_decision",
    "decide",
    "evaluate_rules",
]

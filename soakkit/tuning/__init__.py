"""The live-apply tuner: one rule engine, additive clamped deltas, guards that fire.

The names below are imported from their modules on first use, so that a module needing
only the guards' table (the catalog, reading ``tuning.guards``) does not import the engine
and numpy with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soakkit.tuning.apply import ApplyOutcome, apply_decision
    from soakkit.tuning.engine import Decision, HistoryEntry, decide
    from soakkit.tuning.guards import GUARD_ORDER, GUARDS, GuardConfig, GuardFlags, TunerState
    from soakkit.tuning.rules import RELAX, RULES, Rule, evaluate_rules
    from soakkit.tuning.trial import ForeseenPairs

#: Where each public name lives.
_HOMES = {
    "ApplyOutcome": "apply", "apply_decision": "apply",
    "Decision": "engine", "HistoryEntry": "engine", "decide": "engine",
    "GUARD_ORDER": "guards", "GUARDS": "guards", "GuardConfig": "guards",
    "GuardFlags": "guards", "TunerState": "guards",
    "RELAX": "rules", "RULES": "rules", "Rule": "rules", "evaluate_rules": "rules",
    "ForeseenPairs": "trial",
}

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


if not TYPE_CHECKING:  # to mypy, a module __getattr__ makes every missing name Any

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"soakkit.tuning.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

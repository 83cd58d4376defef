"""Artifact rotation: plan/apply retention with reasons, crash-safe compression, disk budget.

Entry points: :func:`rotate` (and :func:`plan_rotation` for a plan alone) and
:func:`restore`. ``soakkit rotate`` and the legacy ``python -m soakkit.rotation`` call them.
"""

from soakkit.rotation.apply import Plan, RotationResult, Sizes, plan_rotation, rotate
from soakkit.rotation.plan import Decision
from soakkit.rotation.policy import RotationPolicy
from soakkit.rotation.restore import RestoreResult, restore

__all__ = [
    "Decision",
    "Plan",
    "RestoreResult",
    "RotationPolicy",
    "RotationResult",
    "Sizes",
    "plan_rotation",
    "restore",
    "rotate",
]

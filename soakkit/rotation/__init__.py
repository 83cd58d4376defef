"""Artifact rotation: plan/apply retention with reasons, crash-safe compression, disk budget.

Entry points: :func:`rotate` (and :func:`plan_rotation` for a plan alone) and
:func:`restore`. ``soakkit rotate`` and the legacy ``python -m soakkit.rotation`` call them.
"""

import os
import sys

# ``python -m soakkit.rotation`` imports this package before its ``__main__`` runs (and sets
# ``sys.argv[0]`` to "-m" meanwhile): one OpenBLAS thread, as ``soakkit``'s own main sets,
# before numpy is imported below, keeps the process single-threaded, so the legacy spelling's
# scan may fork its second process too (:func:`soakkit.rotation.workers.can_fork`)
if sys.argv[:1] == ["-m"]:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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

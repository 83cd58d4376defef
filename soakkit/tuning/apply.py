"""Apply a tuning decision to ``runtime_overrides.json``, then prove it by reading it back.

The file holds the tuner's deviations from the profile baseline (keys equal to the
baseline are left out). A write is a compare-and-swap on ``revision``; afterwards the file
is re-read and every tunable value (file value, else baseline) must equal the decision's
``values_after``. A decision whose signature the file already records is not written
again: re-running an iteration after a crash changes nothing (``idempotent_skip``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from soakkit.config.params import TUNABLE, Value
from soakkit.config.runtime import (
    AppliedRecord,
    RuntimeOverrides,
    read_runtime_overrides,
    write_runtime_overrides,
)
from soakkit.core.json_canonical import JsonRecord
from soakkit.tuning.engine import Decision

__all__ = ["ApplyOutcome", "apply_decision", "effective_values"]

ApplyStatus = Literal["applied", "already_applied", "nothing_to_apply", "skipped"]


@dataclass(frozen=True)
class ApplyOutcome(JsonRecord):
    """What happened when a decision met the file."""

    status: ApplyStatus
    verified: bool
    revision: int
    mismatches: tuple[str, ...] = ()

    @property
    def applied(self) -> bool:
        """True when the decision's values are in effect because of this or an earlier write."""
        return self.status in ("applied", "already_applied") and self.verified


def effective_values(runtime: RuntimeOverrides, baseline: Mapping[str, Value]
                     ) -> dict[str, Value]:
    """Tunable values in effect from a runtime file (its value, else the baseline)."""
    return {k: runtime.values.get(k, baseline[k]) for k in TUNABLE}


def _verify(path: Path, decision: Decision, baseline: Mapping[str, Value],
            pinned: frozenset[str]) -> tuple[int, tuple[str, ...]]:
    current = read_runtime_overrides(path)
    got = effective_values(current, baseline)
    bad = tuple(f"{k}: file has {got[k]!r}, intended {decision.values_after[k]!r}"
                for k in TUNABLE if k not in pinned and got[k] != decision.values_after[k])
    return current.revision, bad


def apply_decision(path: Path, decision: Decision, runtime: RuntimeOverrides,
                   baseline: Mapping[str, Value], pinned: frozenset[str], *,
                   mtime: float | None = None) -> ApplyOutcome:
    """Write ``decision`` into ``path`` (currently ``runtime``) and verify it.

    ``mtime`` is the writer's clock (epoch seconds) for the file it writes.

    Raises :class:`~soakkit.core.errors.StaleRevisionError` when another writer changed the
    file since ``runtime`` was read.
    """
    if runtime.applied is not None and runtime.applied.signature == decision.signature:
        revision, bad = _verify(path, decision, baseline, pinned)
        return ApplyOutcome("already_applied", not bad, revision, bad)
    if not decision.changes:
        return ApplyOutcome("nothing_to_apply", True, runtime.revision)
    values = {k: v for k, v in decision.values_after.items()
              if k not in pinned and v != baseline[k]}
    write_runtime_overrides(
        path, expected_revision=runtime.revision, base_profile=runtime.base_profile,
        base_profile_sha256=runtime.base_profile_sha256, values=values,
        applied=AppliedRecord(decision.iteration, decision.signature, dict(runtime.values)),
        mtime=mtime)
    revision, bad = _verify(path, decision, baseline, pinned)
    return ApplyOutcome("applied", not bad, revision, bad)

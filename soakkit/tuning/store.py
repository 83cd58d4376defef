"""Where the tuner's live values are kept between iterations: a file, or memory.

A soak run keeps them in its ``runtime_overrides.json`` (:class:`FileRuntimeStore`: atomic,
compare-and-swap, verified by reading back); a sweep cell, which writes no run folder,
keeps them in memory (:class:`MemoryRuntimeStore`). Both give the runner the same
:class:`~soakkit.config.runtime.RuntimeOverrides` view and the same apply outcome, so one
iteration loop serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from soakkit.config.params import Value
from soakkit.config.runtime import (
    AppliedRecord,
    RuntimeOverrides,
    read_runtime_overrides,
    write_runtime_overrides,
)
from soakkit.tuning.apply import ApplyOutcome, apply_decision, effective_values
from soakkit.tuning.engine import Decision

__all__ = ["FileRuntimeStore", "MemoryRuntimeStore", "RuntimeStore"]


class RuntimeStore(Protocol):
    """The tuner's live values: read them, and apply a decision to them."""

    def read(self) -> RuntimeOverrides:
        """The current live values (with revision and last applied decision)."""
        ...

    def apply(self, decision: Decision, current: RuntimeOverrides,
              baseline: Mapping[str, Value], pinned: frozenset[str]) -> ApplyOutcome:
        """Apply ``decision`` to ``current`` and report what happened."""
        ...


@dataclass
class FileRuntimeStore:
    """``runtime_overrides.json`` of a run; files are stamped with ``mtime()``."""

    path: Path
    mtime: float | None = None  #: modification time of the next write (the run's clock)

    def create(self, base_profile: str, base_profile_sha256: str) -> RuntimeOverrides:
        """Create the file for a new run (fails if it exists)."""
        return write_runtime_overrides(self.path, expected_revision=None,
                                       base_profile=base_profile,
                                       base_profile_sha256=base_profile_sha256, values={},
                                       applied=None, mtime=self.mtime)

    def read(self) -> RuntimeOverrides:
        return read_runtime_overrides(self.path)

    def apply(self, decision: Decision, current: RuntimeOverrides,
              baseline: Mapping[str, Value], pinned: frozenset[str]) -> ApplyOutcome:
        return apply_decision(self.path, decision, current, baseline, pinned, mtime=self.mtime)


@dataclass
class MemoryRuntimeStore:
    """The same bookkeeping in memory, for runs that write no folder (sweep cells)."""

    state: RuntimeOverrides
    history: list[RuntimeOverrides] = field(default_factory=list)

    @classmethod
    def new(cls, base_profile: str, base_profile_sha256: str) -> MemoryRuntimeStore:
        """An empty store for a run of ``base_profile``."""
        return cls(RuntimeOverrides(Path("<memory>"), 0, base_profile, base_profile_sha256, {},
                                    None))

    def read(self) -> RuntimeOverrides:
        return self.state

    def apply(self, decision: Decision, current: RuntimeOverrides,
              baseline: Mapping[str, Value], pinned: frozenset[str]) -> ApplyOutcome:
        if current.applied is not None and current.applied.signature == decision.signature:
            return ApplyOutcome("already_applied", True, current.revision)
        if not decision.changes:
            return ApplyOutcome("nothing_to_apply", True, current.revision)
        values = {k: v for k, v in decision.values_after.items()
                  if k not in pinned and v != baseline[k]}
        self.history.append(self.state)
        self.state = replace(current, revision=current.revision + 1, values=values,
                             applied=AppliedRecord(decision.iteration, decision.signature,
                                                   dict(current.values)))
        got = effective_values(self.state, baseline)
        bad = tuple(f"{k}: store has {got[k]!r}, intended {decision.values_after[k]!r}"
                    for k in got if k not in pinned and got[k] != decision.values_after[k])
        return ApplyOutcome("applied", not bad, self.state.revision, bad)

"""The plan of a whole tree: every folder's decisions, sizes before and after, the budget.

:func:`plan_rotation` scans the tree once and plans every folder (pure apart from the
scan); ``soakkit rotate --dry-run`` prints it, a real rotation executes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.artifacts.layout import ITER_LOG_FILE
from soakkit.core.json_canonical import JsonRecord
from soakkit.rotation.actions import Action, action_entry, action_lines, human_bytes
from soakkit.rotation.plan import (
    DELETE,
    FILE,
    KEEP,
    PHASES,
    R_BUDGET,
    R_COMPRESSED,
    REASONS,
    Decision,
    DirPlan,
)
from soakkit.rotation.policy import RotationPolicy
from soakkit.rotation.scan import Walk, walk

__all__ = ["Plan", "Sizes", "plan_rotation", "sizes_of"]


@dataclass(frozen=True)
class Sizes(JsonRecord):
    """Regular files under the root: count, apparent bytes (st_size), allocated (st_blocks)."""

    files: int
    apparent_bytes: int
    allocated_bytes: int


def sizes_of(dirs: tuple[DirPlan, ...]) -> Sizes:
    files = apparent = blocks = 0
    for d in dirs:
        regular = d.kind == FILE
        files += int(regular.sum())
        apparent += int(d.size[regular].sum())
        blocks += int(d.blocks[regular].sum())
    return Sizes(files, apparent, blocks * 512)


@dataclass
class Plan:
    """Every decision for the tree, in execution order."""

    root: Path
    now: datetime
    policy: RotationPolicy
    walk: Walk
    before: Sizes

    def decisions(self, *, include_keep: bool = False) -> Iterator[Decision]:
        """Decisions in (phase, folder, numeric file) order; keeps only when asked."""
        by_phase: dict[str, list[Decision]] = {p: [] for p in PHASES}
        for d in self.walk.dirs:
            for i in d.order:
                if not include_keep and int(d.verb[i]) == KEEP:
                    continue
                decision = d.decision(i)
                by_phase[decision.phase].append(decision)
        for phase in PHASES:
            if phase == "history":
                yield from self.history_decisions()
            yield from by_phase[phase]

    def acting(self) -> list[Action]:
        """Every action of the plan (kept files left out), in execution order, in bulk."""
        by_phase: dict[str, list[Action]] = {p: [] for p in PHASES}
        for d in self.walk.dirs:
            for phase, actions in d.acting().items():
                by_phase[phase] += actions
        out: list[Action] = []
        for phase in PHASES:
            if phase == "history":
                out += [(h.phase, h.verb, h.path, h.reason, h.size)
                        for h in self.history_decisions()]
            out += by_phase[phase]
        return out

    def dry_run_lines(self) -> str:
        """Every action as a printed dry-run line (:func:`action_lines`), in execution order."""
        texts = [d.render_dry_run() for d in self.walk.dirs]
        parts: list[str] = []
        for phase in PHASES:
            if phase == "history":
                parts += [action_lines(f"would {h.verb}", [h.path], [h.reason])
                          for h in self.history_decisions()]
            parts += [text.get(phase, "") for text in texts]
        return "".join(parts)

    def dry_run_summary(self) -> str:
        """The actions counted per folder and reason, in execution order, one line each:
        ``  would delete     900 files    2.1 MiB  runs/r1/  delete:beyond_keep_latest``
        (as ``restic forget --dry-run`` prints groups, not files; a folder's iteration log
        to complete is one line, as listed), then one line of totals per verb.
        :meth:`dry_run_lines` lists every action instead (``--list``)."""
        rows: dict[str, list[tuple[str, str, int, int, str]]] = {p: [] for p in PHASES}
        for d in self.walk.dirs:
            folder = f"{d.rel}/" if d.rel else "./"
            for phase, verb, kind, files, size in d.tally():
                rows[phase].append((verb, folder, files, size, kind))
        totals: dict[str, list[int]] = {}
        lines: list[str] = []
        for phase in PHASES:
            if phase == "history":  # one line per folder already: listed as they are
                lines += [action_lines(f"would {h.verb}", [h.path], [h.reason])
                          for h in self.history_decisions()]
            for verb, where, files, size, kind in rows[phase]:
                lines.append(f"  would {verb:<9}{files:>8} {'file ' if files == 1 else 'files'}"
                             f"{human_bytes(size):>11}  {where}  {kind}\n")
                total = totals.setdefault(verb, [0, 0])
                total[0] += files
                total[1] += size
        if totals:
            lines.append("would: " + ", ".join(f"{verb} {n} files ({human_bytes(size)})"
                                               for verb, (n, size) in totals.items())
                         + "; --list prints every file\n")
        return "".join(lines)

    def actions(self) -> list[dict[str, Any]]:
        """What :meth:`decisions` yields without the kept files, as log entries."""
        return [action_entry(*action) for action in self.acting()]

    def history_decisions(self) -> Iterator[Decision]:
        """One ``history`` decision per folder losing ITER_SUMMARY files."""
        for d in self.walk.dirs:
            doomed = int(((d.verb == DELETE) & (d.iteration >= 0)).sum())
            if doomed:
                path = f"{d.rel}/{ITER_LOG_FILE}" if d.rel else ITER_LOG_FILE
                yield Decision("history", "preserve", path,
                               f"history:preserve(iterations={doomed})", 0, 0, 0, 0, None)

    def kept_counts(self) -> dict[str, int]:
        """Kept files per reason (``keep:latest``, ``keep:younger_than_ttl``, ...)."""
        counts: dict[str, int] = {}
        for d in self.walk.dirs:
            per_code = np.bincount(d.reason[d.verb == KEEP], minlength=len(REASONS))
            for code in np.flatnonzero(per_code).tolist():
                key = REASONS[code][1].split("(")[0]
                counts[key] = counts.get(key, 0) + int(per_code[code])
        return dict(sorted(counts.items()))

    def projected_after(self) -> Sizes:
        """Sizes after the plan's deletions (compression savings are not projected)."""
        files, apparent, blocks = self.before.files, self.before.apparent_bytes, 0
        for d in self.walk.dirs:
            gone = d.verb == DELETE
            files -= int(gone.sum())
            apparent -= int(d.size[gone].sum())
            blocks += int(d.blocks[gone].sum())
        return Sizes(files, apparent, self.before.allocated_bytes - blocks * 512)


def _apply_budget(plan: Plan) -> None:
    """With ``--delete-to-budget``: delete the oldest compressed files until within budget."""
    budget = plan.policy.budget_bytes
    if not plan.policy.delete_to_budget or budget is None:
        return
    over = plan.projected_after().allocated_bytes - budget
    if over <= 0:
        return
    candidates = []
    for k, d in enumerate(plan.walk.dirs):
        for i in np.flatnonzero((d.verb == KEEP) & (d.reason == R_COMPRESSED)
                                & (d.iteration < 0)).tolist():
            candidates.append((int(d.mtime_ns[i]), d.rel, d.names[i], k, i))
    for _, _, _, k, i in sorted(candidates):
        if over <= 0:
            break
        d = plan.walk.dirs[k]
        d.verb[i] = DELETE
        d.reason[i] = R_BUDGET
        d.changed()
        over -= int(d.blocks[i]) * 512


def plan_rotation(root: Path, policy: RotationPolicy, now: datetime, *, jobs: int = 1,
                  render: bool = False) -> Plan:
    """Scan ``root`` once and plan every action (pure apart from the scan; changes nothing).

    ``render``: the scan's processes also render the dry-run lines while they plan (what
    :meth:`Plan.dry_run_lines` prints; each process renders its own folders)."""
    policy.validate()
    found = walk(Path(root), policy, now.timestamp(), jobs=jobs, render=render)
    plan = Plan(Path(root), now, policy, found, sizes_of(found.dirs))
    _apply_budget(plan)
    return plan

"""Planning: which cells still need to run, in batches, and how many tasks may be in flight.

Batches are generated lazily from the grid (cells whose key is done are skipped), so the
client holds one window of batches at a time, never the whole grid. A batch is sized so
that a task runs for about :data:`TARGET_TASK_SECONDS` (few, larger tasks keep the
scheduler's bookkeeping small) but every worker thread still gets several tasks. Towards
the end batches shrink (guided scheduling: each new batch takes at most
1 / (:data:`GUIDED_SHARE` × worker threads) of the cells left, down to one cell), so the
workers finish together instead of one idling while another runs a last large batch.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterator
from dataclasses import dataclass

from soakkit.sim.version import ENGINE_VERSION
from soakkit.sweep.grid import Cell, Grid, set_column
from soakkit.sweep.task import BatchPayload

__all__ = ["GUIDED_SHARE", "ITERATION_COST_S", "SIM_MINUTE_COST_S", "TARGET_TASK_SECONDS",
           "Batch", "batch_size", "batches", "cell_seconds", "payload", "window_size"]

#: Aim for tasks of about this many seconds.
TARGET_TASK_SECONDS = 2.0
#: Rough CPU cost of one iteration, a fixed part plus a part per simulated minute; only used
#: to size batches. Measured in process on the 2-core development machine (2026-12-07,
#: `run_iteration` over cells of 1 × 1, 1 × 10, 3 × 5 and 1 × 30 minutes, a line fitted:
#: 9.4 ms + 4.5 ms a minute; the earlier 3.5 ms + 1.1 ms made tasks ~4× the target).
ITERATION_COST_S, SIM_MINUTE_COST_S = 9.4e-3, 4.5e-3
_TASKS_PER_THREAD = 4
#: A new batch takes at most 1 / (GUIDED_SHARE × threads) of the cells not yet submitted.
GUIDED_SHARE = 2
#: The largest batch and window the planner picks by itself (the user's own go to MAX_CELLS).
AUTO_BATCH_CAP = 5000
AUTO_WINDOW_CAP = 512


@dataclass(frozen=True)
class Batch:
    """Cells that run as one task; ``index`` numbers the batches of one session."""

    index: int
    cells: tuple[Cell, ...]


def batch_size(grid: Grid, todo: int, threads: int) -> int:
    """Cells per task: ``--batch-size``, else about :data:`TARGET_TASK_SECONDS` of work."""
    if grid.spec.batch_size is not None:
        return grid.spec.batch_size
    by_time = max(1, int(TARGET_TASK_SECONDS / cell_seconds(grid)))
    by_balance = max(1, math.ceil(todo / (_TASKS_PER_THREAD * max(threads, 1))))
    return min(by_time, by_balance, AUTO_BATCH_CAP)


def cell_seconds(grid: Grid) -> float:
    """The estimated CPU seconds of one cell of ``grid`` (what batches are sized by)."""
    return grid.spec.iterations * (ITERATION_COST_S + SIM_MINUTE_COST_S * grid.spec.sim_minutes)


def window_size(grid: Grid, threads: int) -> int:
    """Tasks in flight: ``--window``, else two per worker thread plus one."""
    if grid.spec.window is not None:
        return grid.spec.window
    return min(2 * max(threads, 1) + 1, AUTO_WINDOW_CAP)


def batches(grid: Grid, done: Container[str], size: int,
            guided: tuple[int, int] | None = None) -> Iterator[Batch]:
    """The cells not in ``done``, ``size`` at a time, in grid order.

    ``guided``: ``(cells to run, worker threads)``; batches then shrink towards the end
    (at most ``left / (GUIDED_SHARE × threads)`` cells each, at least one).
    """
    left, threads = guided if guided is not None else (0, 0)

    def wanted() -> int:
        if guided is None:
            return size
        return max(1, min(size, math.ceil(left / (GUIDED_SHARE * max(threads, 1)))))

    chunk: list[Cell] = []
    index = 0
    target = wanted()
    for cell in grid.cells():
        if cell.key in done:
            continue
        chunk.append(cell)
        if len(chunk) == target:
            yield Batch(index, tuple(chunk))
            index += 1
            left -= len(chunk)
            chunk = []
            target = wanted()
    if chunk:
        yield Batch(index, tuple(chunk))


def payload(grid: Grid, batch: Batch, now: str, runs_dir: str | None) -> BatchPayload:
    """What the worker gets for ``batch``: its cells and the bytes of their profiles."""
    used = dict.fromkeys(c.profile for c in batch.cells)
    return BatchPayload(
        engine_version=ENGINE_VERSION, iterations=grid.spec.iterations,
        sim_minutes=grid.spec.sim_minutes, gate=grid.spec.gate, now=now,
        set_names=grid.set_names, set_columns=tuple(map(set_column, grid.set_names)),
        profiles={n: (grid.profiles[n].sha256, grid.profiles[n].data) for n in used},
        cells=tuple((c.key, c.profile, c.mode, c.tune, c.sets, c.seed, c.strategy)
                    for c in batch.cells),
        runs_dir=runs_dir, strategy_axis=grid.spec.strategy_axis)

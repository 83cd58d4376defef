"""A mini-soak in memory: the same iterations as :func:`~soakkit.soak.run_soak`, no folder.

For studies that run many soaks (the tuning benchmark, lever tests): every iteration is
:func:`~soakkit.soak.iteration.run_iteration` with a
:class:`~soakkit.tuning.store.MemoryRuntimeStore`, so the results are those a run on disk
would write, without its files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from soakkit.config.layers import resolve
from soakkit.core.errors import UsageError
from soakkit.core.io import clock_from
from soakkit.soak.iteration import IterationReport, Session, run_iteration
from soakkit.soak.options import SoakOptions, validate_options
from soakkit.strategy.registry import load_strategy
from soakkit.tuning.store import MemoryRuntimeStore

__all__ = ["run_in_memory"]

#: The frozen clock of in-memory runs (their timestamps mean nothing).
MEMORY_NOW = "2026-01-01T00:00:00Z"


def run_in_memory(options: SoakOptions, env: Mapping[str, str] | None = None, *,
                  schedule: Sequence[str] = ()) -> list[IterationReport]:
    """Run every iteration of ``options`` in memory and return their reports, in order.

    ``schedule`` (optional) gives the market mode of each iteration in turn — a regime
    change within a run — instead of ``options.mode`` for all of them.
    """
    validate_options(options)
    for mode in schedule:
        validate_options(replace(options, mode=mode))
    if schedule and len(schedule) != options.iterations:
        raise UsageError(f"schedule of {len(schedule)} modes for {options.iterations} "
                         "iterations: expected one mode per iteration")
    env = {} if env is None else env
    cfg = resolve(options.profile, sets=options.sets, env=env,
                  params=load_strategy(options.strategy, env).params)
    session = Session(options, f"memory-{options.profile}-{options.mode}-{options.seed}",
                      clock_from(options.now or MEMORY_NOW, env), env, cfg.profile.sha256)
    store = MemoryRuntimeStore.new(cfg.profile.name, cfg.profile.sha256)
    reports = []
    for n in range(1, options.iterations + 1):
        if schedule:
            session.options = replace(options, mode=schedule[n - 1])
        reports.append(run_iteration(session, n, store))
    return reports

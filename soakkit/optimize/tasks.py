"""What workers run for a study: a configuration on a market set, as sweep batches.

A configuration (a profile, ``--set`` values over it, the tuner on or off) on a market set
is one or more :class:`~soakkit.sweep.task.BatchPayload`: one per group and chunk of seeds,
each run by :func:`soakkit.sweep.task.run_batch` on a worker — the same mini-soak as a
sweep cell and as ``soakkit soak``. The parts come back as columns; :func:`combine` puts
them in the set's unit order (group, seed, iteration), with ``group`` and ``unit`` columns.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from soakkit.config.params import Value
from soakkit.optimize.markets import MarketData, MarketSet
from soakkit.sim.version import ENGINE_VERSION
from soakkit.sweep.grid import ProfileRef, set_column
from soakkit.sweep.rows import Columns
from soakkit.sweep.store import frame_of
from soakkit.sweep.task import BatchPayload

__all__ = ["Config", "chunks_per_group", "combine", "payloads"]


@dataclass(frozen=True)
class Config:
    """A configuration to run: a profile, values set over it, the tuner on or off."""

    label: str  #: ``trial 12``, ``steady_safe``, ``steady_safe + tuner``, ``recommended``
    profile: ProfileRef
    values: Mapping[str, Value]
    tune: bool


def chunks_per_group(threads: int, window: int, groups: int, seeds: int) -> int:
    """Tasks per group of one configuration: enough for every worker thread to have work
    with ``window`` configurations in flight, at most one per seed."""
    wanted = math.ceil(2 * max(threads, 1) / max(window, 1))
    return max(1, min(seeds, math.ceil(wanted / max(groups, 1))))


def _split(seeds: Sequence[int], parts: int) -> list[tuple[int, ...]]:
    size = math.ceil(len(seeds) / parts)
    return [tuple(seeds[i:i + size]) for i in range(0, len(seeds), size)]


def payloads(config: Config, markets: MarketSet, data: MarketData, key: str, *, gate: str,
             now: str, strategy: str, chunks: int = 1) -> list[BatchPayload]:
    """The batches that run ``config`` with ``strategy`` on ``markets`` (``chunks`` per
    group)."""
    names = tuple(config.values)
    sets = tuple(config.values[n] for n in names)
    out = []
    for g in markets.groups:
        for seeds in _split(g.seeds, min(chunks, len(g.seeds))):
            cells = tuple((hashlib.sha256(f"{key}:{g.name}:{seed}".encode()).hexdigest(),
                           config.profile.name, g.mode, config.tune, sets, seed, strategy)
                          for seed in seeds)
            out.append(BatchPayload(
                engine_version=ENGINE_VERSION, iterations=g.last, sim_minutes=g.sim_minutes,
                gate=gate, now=now, set_names=names,
                set_columns=tuple(map(set_column, names)),
                profiles={config.profile.name: (config.profile.sha256, config.profile.data)},
                cells=cells, market=data.worker_market, market_file=data.market_file,
                market_data=g.tape, first_iteration=g.first))
    return out


def combine(parts: Sequence[Columns], markets: MarketSet, order: Sequence[BatchPayload]
            ) -> pl.DataFrame:
    """The rows of every part, with ``group`` and ``unit`` (the set's row order), sorted.

    ``order`` are the payloads the parts answer, in the same order (they name the group of
    each part's cells).
    """
    offsets: dict[tuple[str, int], int] = {}
    at = 0
    for g in markets.groups:
        for seed in g.seeds:
            offsets[(g.name, seed)] = at - g.first
            at += g.iterations
    by_tape = {g.tape: g.name for g in markets.groups if g.tape}
    frames = []
    for columns, payload in zip(parts, order, strict=True):
        group = by_tape[payload.market_data] if payload.market_data else None
        frame = frame_of(columns)
        name = pl.lit(group) if group else pl.col("mode")
        frames.append(frame.with_columns(name.alias("group")))
    rows = pl.concat(frames, how="diagonal_relaxed")
    units = [offsets[(g, s)] + (n if n is not None else 0)
             for g, s, n in zip(rows["group"], rows["seed"], rows["iteration"], strict=True)]
    return rows.with_columns(pl.Series("unit", units, dtype=pl.Int64)).sort("unit")

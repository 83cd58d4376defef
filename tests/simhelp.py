"""Helpers to run one simulated iteration outside the runner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from soakkit.config.layers import resolve
from soakkit.kpi import compute_kpis
from soakkit.sim.market import MarketTape, simulate_market
from soakkit.sim.strategy import StrategyResult, run_strategy


def params(profile: str = "steady_safe", **overrides: float) -> dict[str, Any]:
    values = dict(resolve(profile, env={}).values)
    values.update(overrides)
    return values


def simulate(mode: str, seed: int, minutes: int = 10, **overrides: float
             ) -> tuple[MarketTape, StrategyResult, dict[str, Any]]:
    p = params(**overrides)
    market, strategy = np.random.SeedSequence(seed).spawn(2)
    tape = simulate_market(mode, minutes, np.random.default_rng(market))
    result = run_strategy(tape, p, np.random.default_rng(strategy))
    return tape, result, compute_kpis(tape, result, p)


def kpi_mean(mode: str, key: str, seeds: range = range(12), minutes: int = 10,
             **overrides: float) -> float:
    values = [simulate(mode, s, minutes, **overrides)[2][key] for s in seeds]
    return float(np.mean(values))


def stat(values: Mapping[str, Any], key: str) -> float:
    return float(values[key])

"""Seeded market simulator and market-making strategy for mini-soaks."""

from soakkit.sim.market import MarketTape, simulate_market
from soakkit.sim.regimes import MARKET, MODES, REGIME_NAMES, REGIMES, STRATEGY
from soakkit.sim.strategy import Fills, StrategyResult, run_strategy
from soakkit.sim.version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "MARKET",
    "MODES",
    "REGIMES",
    "REGIME_NAMES",
    "STRATEGY",
    "Fills",
    "MarketTape",
    "StrategyResult",
    "run_strategy",
    "simulate_market",
]

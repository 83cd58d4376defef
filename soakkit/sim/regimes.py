"""The one table of market and strategy constants the simulator uses.

Every number the simulated market or the simulated strategy depends on, apart from the
bot's parameters (:data:`soakkit.config.params.PARAMS`), lives here and is documented in
``docs/SIMULATOR.md``. Regimes:

``calm``      thin two-sided flow, low volatility, rare short informed bursts, no jumps;
``volatile``  more and larger orders, higher volatility, frequent informed bursts, rare jumps;
``spike``     the largest orders and widest market spread, frequent price jumps each
              followed by a burst of orders in the jump's direction;
``mixed``     a Markov chain switching between the three once per simulated minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MARKET",
    "MIXED_TRANSITIONS",
    "MODES",
    "REGIMES",
    "REGIME_NAMES",
    "STRATEGY",
    "MarketConstants",
    "RegimeSpec",
    "StrategyConstants",
    "regime_schedule",
]


@dataclass(frozen=True)
class RegimeSpec:
    """Market behaviour in one regime."""

    order_rate_per_s: float  #: Poisson arrival rate of market orders
    order_median_usd: float  #: median market-order notional (lognormal)
    order_size_sigma: float  #: lognormal sigma of the order notional
    vol_bps_per_sqrt_s: float  #: diffusive volatility of the mid
    half_spread_bps: float  #: distance of the market's best quotes from the mid
    depth_usd: float  #: resting notional at the market's best quote, each side
    impact_bps_per_10k: float  #: permanent mid impact of a 10,000 USD order (square-root law)
    burst_rate_per_min: float  #: informed bursts per minute
    burst_len_s: float  #: mean burst length (exponential)
    burst_side_share: float  #: share of orders on the burst's side during a burst
    jump_rate_per_min: float  #: mid jumps per minute (each starts a burst in its direction)
    jump_bps: float  #: mean absolute jump size (exponential)


#: Regimes by name; ``mixed`` is a schedule over these, not a regime of its own.
REGIMES: Mapping[str, RegimeSpec] = {
    "calm": RegimeSpec(order_rate_per_s=20.0, order_median_usd=400.0, order_size_sigma=0.9,
                       vol_bps_per_sqrt_s=0.4, half_spread_bps=2.0, depth_usd=9_000.0,
                       impact_bps_per_10k=0.4, burst_rate_per_min=0.5, burst_len_s=5.0,
                       burst_side_share=0.65, jump_rate_per_min=0.0, jump_bps=0.0),
    "volatile": RegimeSpec(order_rate_per_s=35.0, order_median_usd=500.0, order_size_sigma=1.0,
                           vol_bps_per_sqrt_s=1.1, half_spread_bps=2.8, depth_usd=8_000.0,
                           impact_bps_per_10k=0.6, burst_rate_per_min=2.0, burst_len_s=6.0,
                           burst_side_share=0.75, jump_rate_per_min=0.2, jump_bps=8.0),
    "spike": RegimeSpec(order_rate_per_s=45.0, order_median_usd=600.0, order_size_sigma=1.1,
                        vol_bps_per_sqrt_s=0.8, half_spread_bps=3.5, depth_usd=6_000.0,
                        impact_bps_per_10k=0.8, burst_rate_per_min=3.0, burst_len_s=8.0,
                        burst_side_share=0.8, jump_rate_per_min=1.5, jump_bps=20.0),
}
REGIME_NAMES: tuple[str, ...] = tuple(REGIMES)
MODES: tuple[str, ...] = (*REGIME_NAMES, "mixed")

#: Per-minute transition probabilities of ``mixed`` mode (rows: from, columns: to,
#: in :data:`REGIME_NAMES` order). The chain starts from its stationary distribution.
MIXED_TRANSITIONS = np.array([
    [0.85, 0.12, 0.03],
    [0.20, 0.70, 0.10],
    [0.30, 0.40, 0.30],
])


@dataclass(frozen=True)
class MarketConstants:
    """Venue constants shared by all regimes."""

    mid0: float = 50_000.0  #: mid price at the start of every iteration
    maker_rebate_bps: float = 0.25  #: rebate received on maker volume
    taker_fee_bps: float = 4.0  #: fee paid on taker volume
    markout_s: float = 1.0  #: horizon of the adverse-selection markout
    burst_grid_s: float = 0.1  #: time resolution of the burst signal


@dataclass(frozen=True)
class StrategyConstants:
    """How the simulated bot behaves, beyond its tunable parameters."""

    requote_threshold_bps: float = 1.0  #: mid grid: crossing a grid line asks for a requote
    touch_fill_prob: float = 0.35  #: chance an order on our side trades with a quote at the touch
    reach_decay_per_bps: float = 1.5  #: fill probability changes by e^this per bp from the touch
    skew_strength: float = 1.0  #: size skew: quote sizes tilt by this × position / limit
    unload_target_ratio: float = 0.5  #: a taker unload brings |position| back to this × limit
    taker_slippage_bps: float = 2.0  #: extra cost of a depth-sized taker order beyond the touch
    latency_base_ms: float = 110.0  #: median request latency at no load
    latency_sigma: float = 0.35  #: lognormal sigma of request latency
    gateway_rps_per_slot: float = 2.0  #: requests/s absorbed per unit of concurrency_limit
    latency_load_exponent: float = 2.0  #: latency grows with (load / capacity) ** exponent
    risk_sample_s: float = 1.0  #: risk_ratio samples the position on this grid


MARKET = MarketConstants()
STRATEGY = StrategyConstants()


def _stationary(transitions: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eig(transitions.T)
    vec = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    return np.asarray(vec / vec.sum(), dtype=np.float64)


def regime_schedule(mode: str, minutes: int, rng: np.random.Generator) -> np.ndarray:
    """Regime index (into :data:`REGIME_NAMES`) of each simulated minute."""
    if mode in REGIMES:
        return np.full(minutes, REGIME_NAMES.index(mode), dtype=np.int64)
    if mode != "mixed":
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    uniforms = rng.random(minutes)
    cumulative = np.cumsum(MIXED_TRANSITIONS, axis=1)
    out = np.empty(minutes, dtype=np.int64)
    state = int(np.searchsorted(np.cumsum(_stationary(MIXED_TRANSITIONS)), uniforms[0]))
    out[0] = min(state, len(REGIME_NAMES) - 1)
    for m in range(1, minutes):  # one step per simulated minute, not per event
        row = cumulative[out[m - 1]]
        out[m] = min(int(np.searchsorted(row, uniforms[m])), len(REGIME_NAMES) - 1)
    return out

"""The one table of market, venue and strategy constants the simulator uses.

Every number the simulated market, the simulated venue (queues, latency, rate limit) or
the simulated strategy depends on, apart from the bot's parameters
(:data:`soakkit.config.params.PARAMS`), lives here, with its source or the reason for its
value, and is documented in ``docs/SIMULATOR.md``. Regimes:

``calm``      thin two-sided flow, low volatility, rare short informed bursts, no jumps;
``volatile``  more and larger orders, higher volatility, frequent informed bursts, rare jumps;
``spike``     the largest orders and widest market spread, frequent price jumps each
              followed by a burst of orders in the jump's direction;
``mixed``     a Markov chain switching between the three once per simulated minute.

A :class:`MarketProfile` bundles the regimes with the venue's price grid; the built-in one
is :data:`DEFAULT_MARKET`, and ``soakkit calibrate`` writes others fitted to a tape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from soakkit.sim.bookspec import BookSpec

__all__ = [
    "DEFAULT_MARKET",
    "LABELS",
    "LATENCY",
    "MARKET",
    "MIXED_TRANSITIONS",
    "MODES",
    "QUOTING_PRIOR",
    "RATE_LIMIT",
    "REGIMES",
    "REGIME_NAMES",
    "STRATEGY",
    "LabelConstants",
    "LatencyConstants",
    "MarketConstants",
    "MarketProfile",
    "QuotingPriorConstants",
    "RateLimitConstants",
    "RegimeSpec",
    "StrategyConstants",
    "regime_schedule",
]


@dataclass(frozen=True)
class RegimeSpec:
    """Market behaviour in one regime (what ``soakkit calibrate`` fits to a tape)."""

    order_rate_per_s: float  #: Poisson arrival rate of market orders (outside bursts)
    order_median_usd: float  #: median market-order notional (lognormal)
    order_size_sigma: float  #: lognormal sigma of the order notional
    vol_bps_per_sqrt_s: float  #: diffusive volatility of the mid
    half_spread_bps: float  #: distance of the market's best quotes from the mid
    depth_usd: float  #: median resting notional at a fresh best level, each side
    impact_bps_per_10k: float  #: permanent mid impact of a 10,000 USD order (square-root law)
    burst_rate_per_min: float  #: informed bursts per minute
    burst_len_s: float  #: mean burst length (exponential)
    burst_side_share: float  #: share of orders on the burst's side during a burst
    jump_rate_per_min: float  #: mid jumps per minute (each starts a burst in its direction)
    jump_bps: float  #: mean absolute jump size (exponential)
    book_rate_per_s: float  #: other makers' adds and cancels at each side's best level, per s
    burst_activity: float = 2.0  #: order and book rates are this many times higher in a burst
    #: resting notional of every level behind the best, where a market order walks the book
    #: (0: ``depth_usd``; calibration fits it from an L2 tape's depth)
    deep_depth_usd: float = 0.0


#: Regimes by name; ``mixed`` is a schedule over these, not a regime of its own.
#: Reasons: the scale is a liquid mid-cap perpetual (spreads of a few bps, best levels of a
#: few thousand USD, tens of orders per second), chosen so that the shipped profiles pass
#: the production gate in calm, fail it mostly on risk in volatile and on net and risk in
#: spike (see docs/SIMULATOR.md, "Calibration"); ``soakkit calibrate`` replaces them with
#: constants fitted to the user's own tape.
REGIMES: Mapping[str, RegimeSpec] = {
    "calm": RegimeSpec(order_rate_per_s=20.0, order_median_usd=400.0, order_size_sigma=0.9,
                       vol_bps_per_sqrt_s=0.4, half_spread_bps=3.0, depth_usd=6_000.0,
                       impact_bps_per_10k=0.4, burst_rate_per_min=0.5, burst_len_s=5.0,
                       burst_side_share=0.65, jump_rate_per_min=0.0, jump_bps=0.0,
                       book_rate_per_s=12.0),
    "volatile": RegimeSpec(order_rate_per_s=35.0, order_median_usd=500.0, order_size_sigma=1.0,
                           vol_bps_per_sqrt_s=1.1, half_spread_bps=3.5, depth_usd=5_000.0,
                           impact_bps_per_10k=0.6, burst_rate_per_min=2.0, burst_len_s=6.0,
                           burst_side_share=0.75, jump_rate_per_min=0.2, jump_bps=8.0,
                           book_rate_per_s=20.0),
    "spike": RegimeSpec(order_rate_per_s=45.0, order_median_usd=600.0, order_size_sigma=1.1,
                        vol_bps_per_sqrt_s=0.8, half_spread_bps=4.5, depth_usd=4_000.0,
                        impact_bps_per_10k=0.8, burst_rate_per_min=3.0, burst_len_s=8.0,
                        burst_side_share=0.8, jump_rate_per_min=1.5, jump_bps=20.0,
                        book_rate_per_s=30.0),
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

    mid0: float = 50_000.0  #: mid price at a run's start (later iterations open where it is)
    tick: float = 5.0  #: price tick, USD (1 bp of mid0: a mid-cap perpetual's grid)
    lot: float = 0.0001  #: quantity step, base units (5 USD at mid0)
    maker_rebate_bps: float = 0.25  #: rebate received on maker volume (a VIP maker tier)
    taker_fee_bps: float = 4.0  #: fee paid on taker volume (a common retail taker fee)
    markout_s: float = 1.0  #: horizon of the adverse-selection markout
    burst_grid_s: float = 0.1  #: time resolution of the burst signal
    book_size_ratio: float = 0.3  #: one add or cancel moves this share of depth_usd (median)
    depth_sigma: float = 0.5  #: lognormal sigma of a fresh best level's depth
    spread_sigma: float = 0.25  #: lognormal sigma of the spread's width factor
    #: a best level that trades or cancels away is refilled at once to this share of
    #: depth_usd (reason: other makers re-join a thin best level within a message or two)
    refill_ratio: float = 0.2
    max_sweep_levels: int = 20  #: a market order walks at most this many levels past the best
    max_taker_levels: int = 50  #: so does the bot's taker unload (the rest at the last one)
    spread_epoch_s: float = 3.0  #: mean time between redraws of the width factor
    #: order-book generator: the longest metaorder, child orders (caps its power law)
    meta_max_len: int = 500
    #: order-book generator: the order flow starts this long before the window, so it opens
    #: in its steady state
    meta_warmup_s: float = 60.0
    gap_report_s: float = 5.0  #: replay: a tape silent for longer than this is a reported gap


@dataclass(frozen=True)
class LatencyConstants:
    """The venue's latency model (``sim/latency.py``): medians, tails, and what drives them.

    Reasons: a bot in a cloud region next to a crypto venue sees round trips of tens of
    milliseconds at quiet times (the legacy model had a 110 ms median request latency; the
    medians below add up to that scale), and venues slow down when the market is busy
    (order-entry queues and delayed feeds on liquidation cascades are a known failure of
    every large crypto venue): latency is multiplied by the market's message rate over
    :attr:`activity_ref_per_s`, and rare heavy (Pareto) delays become likelier with it.
    """

    feed_ms: float = 20.0  #: median market-data delay (venue → bot)
    entry_ms: float = 45.0  #: median new-order delay (bot → matching engine)
    cancel_ms: float = 40.0  #: median cancel delay (cancels skip risk checks: a little faster)
    ack_ms: float = 45.0  #: median response delay (matching engine → bot): acks and fills
    sigma: float = 0.3  #: lognormal sigma of every component
    activity_ref_per_s: float = 120.0  #: market messages per second the venue absorbs at ease
    activity_gain: float = 0.6  #: median × (1 + gain × max(0, activity − 1))
    tail_prob: float = 0.004  #: chance of a heavy delay, per unit of activity (capped at 0.2)
    tail_alpha: float = 1.8  #: Pareto shape of a heavy delay's multiplier (>= 1)
    tail_cap: float = 25.0  #: largest heavy-delay multiplier
    #: the bot's own gateway: at most ``concurrency_limit`` requests in flight, each for a
    #: round trip; utilisation rho = load × round trip / concurrency; wait = round trip ×
    #: min(rho / (1 − rho), queue_cap) (queued requests are coalesced, so waits are bounded)
    queue_cap: float = 4.0
    #: draw each delay from the event it is for (:mod:`soakkit.sim.keyed`: its time and
    #: identity) instead of its position in an array, so the past never depends on the
    #: future and paired runs share draws; on for order-book (calibrated) markets, off for
    #: the built-in market and replays, whose runs it would change
    keyed: bool = False


@dataclass(frozen=True)
class RateLimitConstants:
    """The venue's order-rate limit: requests over it are **rejected**, not slowed.

    A fixed-window counter like Binance USDⓈ-M's ``ORDERS`` limit (300 per 10 s by default;
    smaller accounts get less): every request counts, rejected ones too, and a request that
    takes the window's count over :attr:`requests` is rejected. A requote (cancel + new
    order for one side) is one batch of weight 2, accepted or rejected as a whole.
    """

    requests: int = 40  #: requests per window
    window_s: float = 2.0  #: fixed windows starting at the iteration's start


@dataclass(frozen=True)
class StrategyConstants:
    """How the simulated bot behaves, beyond its tunable parameters."""

    requote_threshold_bps: float = 1.0  #: mid grid: crossing a grid line asks for a requote
    skew_strength: float = 0.5  #: quote sizes tilt by this × known position / limit
    unload_target_ratio: float = 0.5  #: a taker unload brings |position| back to this × limit
    risk_sample_s: float = 1.0  #: risk_ratio samples the position on this grid
    queue_model: str = "power:2"  #: sim/queue.py: risk_averse, power[2|3]:<n>, log, log2
    fill_model: str = "partial"  #: sim/venue.py FILL_MODELS: partial, partial_through_all, whole


@dataclass(frozen=True)
class LabelConstants:
    """How replay and calibration label a minute of recorded market with a regime.

    Reasons: a jump is a move faster than the flow can explain, so it is looked for on a
    fine grid; 6 robust sigmas leave about one false jump in 10^5 samples of Gaussian
    noise; the volatility threshold sits between what the default calm and volatile
    regimes realise (measured with ``soakkit.sim.replay.label_minutes``: calm minutes
    0.4–1.1, volatile 1.4–6.7 bps/sqrt(s), 5th–95th percentiles).
    """

    jump_sample_s: float = 0.1  #: jumps are looked for in mid returns over this step
    jump_sigmas: float = 6.0  #: a return this many robust sigmas out is a jump...
    jump_min_bps: float = 8.0  #: ...and at least this large
    volatile_vol_bps: float = 1.25  #: realised vol (bps/sqrt(s), jumps removed) above: volatile
    #: calibration: the default regime-switching matrix weighs in as this many minutes
    transition_prior_minutes: float = 5.0


@dataclass(frozen=True)
class QuotingPriorConstants:
    """What the model strategies (Avellaneda–Stoikov, GLFT) assume about the default market
    until their own estimates fill in (``soakkit.sim.intensity``).

    Reason: medians of :func:`soakkit.sim.intensity.fit_prior` over eight 60-minute
    ``mixed`` tapes of the default market (seeds 1–8; ``tests/test_models.py`` re-fits and
    checks them): sigma 1.8–5.1 bps/√s, kappa 0.26–1.42 per bp (spike minutes make the
    tail fat), A 0.4–505 per s (A is the fit's extrapolation to the mid, so it moves with
    kappa). A calibrated market (``soakkit calibrate``) carries its own.
    """

    sigma_bps: float = 3.1  #: mid volatility, bps per sqrt(s)
    a_per_s: float = 33.6  #: intensity at the mid, per second and side
    kappa_per_bps: float = 0.80  #: intensity decay per bp from the mid


MARKET = MarketConstants()
QUOTING_PRIOR = QuotingPriorConstants()
LATENCY = LatencyConstants()
RATE_LIMIT = RateLimitConstants()
STRATEGY = StrategyConstants()
LABELS = LabelConstants()


@dataclass(frozen=True)
class MarketProfile:
    """A named market: regime constants, regime switching and the venue's price grid."""

    name: str
    #: classic regimes (the built-in market) or order-book ones (a calibrated market)
    regimes: Mapping[str, RegimeSpec] | Mapping[str, BookSpec]
    transitions: tuple[tuple[float, ...], ...]
    mid0: float = MARKET.mid0
    tick: float = MARKET.tick
    lot: float = MARKET.lot
    source: str = "built-in"
    fit: Mapping[str, object] = field(default_factory=dict)  #: what calibration observed
    kind: str = "linear"  #: the instrument: spot, linear or inverse (sim/instrument.py)
    contract_size: float = 1.0  #: base units (linear) or USD (inverse) per contract
    #: the venue's latency; a calibrated market measures activity against its own usual
    #: message rate and fits the load response (``soakkit calibrate``)
    latency: LatencyConstants = LATENCY
    #: the regimes the market was fitted on (a calibrated market's ``mixed`` stays in them)
    seen: tuple[str, ...] = REGIME_NAMES

    @property
    def order_book(self) -> bool:
        """Whether the market is generated as an order book (:class:`BookSpec` regimes)."""
        return all(isinstance(spec, BookSpec) for spec in self.regimes.values())

    def column(self, name: str) -> np.ndarray:
        """One regime constant as an array indexed like :data:`REGIME_NAMES`."""
        return np.array([getattr(self.regimes[r], name) for r in REGIME_NAMES],
                        dtype=np.float64)


DEFAULT_MARKET = MarketProfile(
    "default", REGIMES, tuple(tuple(float(x) for x in row) for row in MIXED_TRANSITIONS))


def _stationary(transitions: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eig(transitions.T)
    vec = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    return np.asarray(vec / vec.sum(), dtype=np.float64)


def regime_schedule(mode: str, minutes: int, rng: np.random.Generator,
                    transitions: np.ndarray = MIXED_TRANSITIONS,
                    seen: tuple[str, ...] = REGIME_NAMES) -> np.ndarray:
    """Regime index (into :data:`REGIME_NAMES`) of each simulated minute; ``mixed`` starts
    from the chain's stationary distribution over the ``seen`` regimes."""
    if mode in REGIMES:
        return np.full(minutes, REGIME_NAMES.index(mode), dtype=np.int64)
    if mode != "mixed":
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    uniforms = rng.random(minutes)
    cumulative = np.cumsum(transitions, axis=1)
    out = np.empty(minutes, dtype=np.int64)
    idx = [REGIME_NAMES.index(r) for r in seen]
    start = np.zeros(len(REGIME_NAMES))
    start[idx] = _stationary(transitions[np.ix_(idx, idx)])
    state = int(np.searchsorted(np.cumsum(start), uniforms[0]))
    out[0] = min(state, len(REGIME_NAMES) - 1)
    for m in range(1, minutes):  # one step per simulated minute, not per event
        row = cumulative[out[m - 1]]
        out[m] = min(int(np.searchsorted(row, uniforms[m])), len(REGIME_NAMES) - 1)
    return out

"""Quotes that reach the touch (issue 23 item 4): the legacy quoter priced from the best
prices in ticks and sized in lots, never crossing the book or itself."""

from __future__ import annotations

import numpy as np
import pytest

from soakkit.config.layers import resolve
from soakkit.sim.latency import ConstantLatency
from soakkit.sim.market import simulate_market
from soakkit.sim.queue import queue_model
from soakkit.sim.quotes import inside_book, legacy_prices
from soakkit.sim.strategy import StrategyResult, run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.venue import RateLimit, Venue

FEED_NS = 20_000_000
VENUE = Venue(queue_model("power:2"), ConstantLatency(FEED_NS, 45_000_000, 40_000_000,
                                                      45_000_000), RateLimit())


def _run(tape: MarketTape, **values: float) -> tuple[StrategyResult, dict[str, float]]:
    params = {**dict(resolve("steady_safe", env={}).values), **values}
    return run_strategy(tape, params, np.random.default_rng(0), VENUE), params


def _seen_book(tape: MarketTape, decide_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.maximum(tape.quote_index(np.maximum(decide_ns - FEED_NS, 0)), 0)
    return tape.bid_px[q], tape.ask_px[q]


@pytest.mark.parametrize("offset", [0, -1, 1, 3, -5])
def test_quotes_sit_offset_ticks_from_the_touch_and_never_cross(offset: int) -> None:
    tape = simulate_market("volatile", 3, np.random.default_rng(3))
    result, _ = _run(tape, quote_from_touch=1, touch_offset_ticks=offset)
    o = result.orders
    assert o is not None
    bb, ba = _seen_book(tape, o.decide_ns)
    want_bid = np.minimum(bb - offset, ba - 1)
    want_ask = np.maximum(ba + offset, bb + 1)
    meet = want_bid >= want_ask
    want_bid = np.where(meet, bb + (ba - bb - 1) // 2, want_bid)
    want_ask = np.where(meet, bb + (ba - bb - 1) // 2 + 1, want_ask)
    bids, asks = o.side > 0, o.side < 0
    assert np.array_equal(o.price[bids], want_bid[bids])
    assert np.array_equal(o.price[asks], want_ask[asks])
    assert (o.price[bids] < ba[bids]).all() and (o.price[asks] > bb[asks]).all()
    # at each decision both quotes come from one book: bid < ask
    both = np.intersect1d(o.decide_ns[bids], o.decide_ns[asks])
    bid_at = dict(zip(o.decide_ns[bids].tolist(), o.price[bids].tolist(), strict=True))
    ask_at = dict(zip(o.decide_ns[asks].tolist(), o.price[asks].tolist(), strict=True))
    gaps = np.array([ask_at[t] - bid_at[t] for t in both.tolist()])
    assert (gaps >= 1).all()
    if offset == -5:  # improving both sides of a 6-9 tick spread: a one-tick market
        assert (gaps == 1).any()


def test_inside_book_lets_the_quotes_meet_one_tick_apart() -> None:
    assert inside_book(101, 101, 100, 102) == (100, 101)  # a two-tick spread, both improve
    assert inside_book(103, 99, 100, 101) == (100, 101)  # a one-tick spread: join both
    bid, ask = inside_book(np.array([101, 99]), np.array([101, 104]), np.array([100, 98]),
                           np.array([102, 103]))
    assert bid.tolist() == [100, 99] and ask.tolist() == [101, 104]


def test_quote_lots_sizes_in_lots_within_the_risk_cap() -> None:
    tape = simulate_market("calm", 2, np.random.default_rng(1))
    result, params = _run(tape, quote_from_touch=1, quote_lots=7)
    o = result.orders
    assert o is not None
    first = o.decide_ns == o.decide_ns.min()  # flat: no skew yet
    assert (o.size[first] == 7).all()
    cap_lots = params["max_delta_ratio"] * params["position_limit_notional"] / (
        tape.mid_px.max() * tape.lot)
    capped, _ = _run(tape, quote_lots=1_000_000)
    assert capped.orders is not None and capped.orders.size.max() <= 2 * cap_lots + 1
    assert legacy_prices(50_000.0, 10_000, 10_003, {"quote_from_touch": 1,
                                                    "touch_offset_ticks": 0}, 5.0) \
        == (10_000, 10_003)


def test_joining_the_touch_joins_the_displayed_queue() -> None:
    """A joined quote queues behind what the book shows at its price (front > 0, known),
    where a quote one tick better is first in line (front 0)."""
    tape = simulate_market("calm", 3, np.random.default_rng(8))
    joined, _ = _run(tape, quote_from_touch=1, touch_offset_ticks=0)
    improved, _ = _run(tape, quote_from_touch=1, touch_offset_ticks=-1)
    assert joined.orders is not None and improved.orders is not None
    placed = joined.orders.accepted & ~joined.orders.expired
    front = joined.orders.front0[placed]
    assert np.mean(np.isfinite(front) & (front > 0)) > 0.7  # else the touch moved in flight
    ahead = improved.orders.front0[improved.orders.accepted & ~improved.orders.expired]
    assert np.mean(ahead == 0) > 0.7
    assert joined.queue_ahead_usd_p50 is not None and joined.queue_ahead_usd_p50 > 0

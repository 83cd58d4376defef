"""Queue position and fill semantics on hand-made tapes (hftbacktest's rules, scenario by scenario)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from soakkit.sim.latency import VenueLatency
from soakkit.sim.matching import find_opportunities, side_timeline
from soakkit.sim.queue import ProbQueue, QueueModel, RiskAverseQueue, queue_model
from soakkit.sim.tape import MarketTape
from soakkit.sim.venue import Venue

MS = 1_000_000


def tape(quotes: Sequence[tuple[int, int, float, int, float]],
         trades: Sequence[tuple[int, int, int, float]] = ()) -> MarketTape:
    """quotes: (ms, bid, bid_qty, ask, ask_qty); trades: (ms, aggressor side, px, qty)."""
    q = np.array(quotes, dtype=np.float64).reshape(-1, 5)
    t = np.array(trades, dtype=np.float64).reshape(-1, 4)
    return MarketTape(
        duration_s=10.0, tick=1.0, lot=1.0, regime_by_minute=np.zeros(1, np.int64),
        trade_ns=(t[:, 0] * MS).astype(np.int64), trade_side=t[:, 1].astype(np.int8),
        trade_px=t[:, 2].astype(np.int64), trade_qty=t[:, 3],
        quote_ns=(q[:, 0] * MS).astype(np.int64), bid_px=q[:, 1].astype(np.int64),
        bid_qty=q[:, 2], ask_px=q[:, 3].astype(np.int64), ask_qty=q[:, 4], bursts=0, jumps=0)


def avail(tp: MarketTape, side: int, price: int, arrive_ms: int, end_ms: int = 10_000,
          queue: QueueModel | None = None, whole: bool = False, through_fills_all: bool = False
          ) -> tuple[list[tuple[int, float]], float, bool]:
    """(ms, cumulative available lots) of one order's opportunities, front at arrival, expired."""
    opp = find_opportunities(tp, side_timeline(tp, side), side, np.array([price]),
                             np.array([arrive_ms * MS]), np.array([end_ms * MS]),
                             queue or RiskAverseQueue(), whole,
                             through_fills_all=through_fills_all)
    pairs = [(int(n // MS), float(a)) for n, a in zip(opp.ns.tolist(), opp.avail.tolist(),
                                                      strict=True)]
    return pairs, float(opp.front0[0]), bool(opp.expired[0])


BOOK = (0, 100, 5.0, 101, 5.0)


def test_joining_a_level_needs_the_queue_ahead_consumed_first() -> None:
    tp = tape([BOOK], [(10, -1, 100, 3), (20, -1, 100, 2), (30, -1, 100, 1), (40, -1, 100, 4)])
    pairs, front, expired = avail(tp, +1, 100, arrive_ms=1)
    assert front == 5.0 and not expired
    # 3 + 2 exactly consume the 5 ahead: nothing left for us; then 1, then 4 more
    assert pairs == [(30, 1.0), (40, 5.0)]


def test_improving_the_touch_puts_us_first_and_trades_through_fill_us() -> None:
    tp = tape([(0, 100, 5.0, 103, 5.0)], [(10, -1, 100, 2), (20, -1, 100, 3)])
    pairs, front, expired = avail(tp, +1, 101, arrive_ms=1)
    assert front == 0.0 and not expired
    assert pairs == [(10, 2.0), (20, 5.0)]  # partial fills: each trade's size
    pairs, _, _ = avail(tp, +1, 101, arrive_ms=1, whole=True)
    assert pairs == [(10, float("inf"))]  # hftbacktest NoPartialFill: the whole order


def test_a_trade_through_fills_what_is_left_under_hftbacktests_partial_rule() -> None:
    """``partial_through_all``: partial fills at the order's price, and a trade through it fills
    everything left (hftbacktest's PartialFillExchange); ``partial`` adds its quantity."""
    tp = tape([BOOK], [(10, -1, 100, 3), (20, -1, 100, 4), (30, -1, 99, 1), (40, -1, 100, 9)])
    assert avail(tp, +1, 100, arrive_ms=1)[0] == [(20, 2.0), (30, 3.0), (40, 12.0)]
    assert avail(tp, +1, 100, arrive_ms=1, through_fills_all=True)[0] == [
        (20, 2.0), (30, float("inf"))]
    venue = Venue(RiskAverseQueue(), VenueLatency(), None, "partial_through_all")
    assert venue.through_fills_all and not venue.fills_whole
    assert Venue(RiskAverseQueue(), VenueLatency(), None, "whole").through_fills_all
    assert not Venue(RiskAverseQueue(), VenueLatency(), None).through_fills_all


def test_a_post_only_order_that_would_lock_or_cross_expires() -> None:
    tp = tape([BOOK], [(10, -1, 100, 9)])
    for price in (101, 102):
        pairs, _, expired = avail(tp, +1, price, arrive_ms=1)
        assert expired and pairs == []
    assert avail(tp, -1, 100, arrive_ms=1)[2]


def test_an_order_behind_the_best_level_waits_until_its_level_shows() -> None:
    tp = tape([BOOK, (50, 99, 4.0, 100, 3.0)],
              [(10, -1, 100, 9), (60, -1, 99, 3), (70, -1, 99, 2)])
    pairs, front, _ = avail(tp, +1, 99, arrive_ms=1)
    assert front == float("inf")  # unknown: behind the displayed best bid
    # at 50 ms the best bid falls to 99 showing 4: that caps the queue ahead of us
    assert pairs == [(70, 1.0)]


def test_the_book_crossing_our_order_fills_it_whole() -> None:
    tp = tape([(0, 100, 5.0, 102, 5.0), (30, 99, 5.0, 101, 2.0)])
    pairs, _, _ = avail(tp, +1, 101, arrive_ms=1)
    assert pairs == [(30, float("inf"))]


def test_our_level_emptying_puts_us_at_the_front() -> None:
    tp = tape([BOOK, (20, 99, 6.0, 101, 5.0)], [(30, -1, 99, 2)])
    pairs, _, _ = avail(tp, +1, 100, arrive_ms=1)
    assert pairs == [(30, 2.0)]  # the sell traded through our 100 bid


def test_time_boundaries_match_hftbacktest() -> None:
    """An order arriving at t does not see a trade at t; a cancel arriving at t does."""
    tp = tape([(0, 100, 0.0, 102, 5.0)], [(10, -1, 100, 2), (20, -1, 100, 3)])
    assert avail(tp, +1, 100, arrive_ms=10)[0] == [(20, 3.0)]
    assert avail(tp, +1, 100, arrive_ms=1, end_ms=10)[0] == [(10, 2.0)]
    assert avail(tp, +1, 100, arrive_ms=1, end_ms=9)[0] == []


def test_asks_mirror_bids() -> None:
    tp = tape([BOOK], [(10, 1, 101, 3), (20, 1, 101, 2), (30, 1, 101, 1), (40, 1, 102, 1)])
    pairs, front, _ = avail(tp, -1, 101, arrive_ms=1)
    assert front == 5.0
    assert pairs == [(30, 1.0), (40, 2.0)]  # the last one traded through our ask
    assert avail(tp, +1, 100, arrive_ms=1)[0] == []  # buy trades never fill bids


def test_risk_averse_queue_only_caps_at_the_displayed_depth() -> None:
    tp = tape([BOOK, (10, 100, 8.0, 101, 5.0), (20, 100, 2.0, 101, 5.0)],
              [(30, -1, 100, 3)])
    assert avail(tp, +1, 100, arrive_ms=1)[0] == [(30, 1.0)]  # ahead 5 → 5 → 2, then 3 traded


def test_prob_queue_advances_on_cancellations_ahead() -> None:
    # we join 10 lots; 20 more join behind us; then 10 are cancelled (no trades)
    tp = tape([(0, 100, 10.0, 101, 5.0), (5, 100, 30.0, 101, 5.0), (10, 100, 20.0, 101, 5.0)],
              [(20, -1, 100, 5), (30, -1, 100, 4)])
    model = ProbQueue("power", 2.0)
    front, back, chg = 10.0, 20.0, 10.0
    p = back**2 / (back**2 + front**2)  # 0.8: the cancellation was probably behind us
    ahead = min(front - (1 - p) * chg + min(back - p * chg, 0.0), 20.0)
    assert ahead == pytest.approx(8.0)
    pairs, _, _ = avail(tp, +1, 100, arrive_ms=1, queue=model)
    assert pairs == [(30, float(np.floor(9.0 - ahead + 0.5)))]
    assert avail(tp, +1, 100, arrive_ms=1)[0] == []  # risk averse: still 10 ahead after 9
    got = model.on_depth(np.array([front]), np.array([30.0]), np.array([20.0]), np.array([0.0]))
    assert got[0] == pytest.approx(ahead)


def test_prob_queue_does_not_count_trades_as_cancellations() -> None:
    model = ProbQueue("power", 2.0)
    # the level went 30 -> 23 with 7 traded: nothing was cancelled
    out = model.on_depth(np.array([10.0]), np.array([30.0]), np.array([23.0]), np.array([7.0]))
    assert out[0] == 10.0


@pytest.mark.parametrize("name", ["risk_averse", "power:2", "power2:3", "power3:3", "log",
                                  "log2"])
def test_queue_models_by_name(name: str) -> None:
    model = queue_model(name)
    front = np.array([5.0, 5.0, 0.0])
    out = model.on_depth(front, np.array([20.0, 20.0, 20.0]), np.array([10.0, 4.0, 10.0]),
                         np.zeros(3))
    assert np.all(out <= front) and out[1] <= 4.0 and out[2] == 0.0
    assert np.all(out >= 0.0)


def test_unknown_queue_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown queue model"):
        queue_model("fifo")

"""A synthetic window that opens away from the profile's ``mid0`` keeps the profile's units.

A run's market is one continuous path: iteration ``n`` opens where ``n - 1`` closed
(``simulate_market(start_mid=…)``), which can be far from ``mid0`` after a drift. Spreads
are configured in bps and sizes in USD; both generators must convert them at the window's
opening mid, so that the same seed opening at 4 × ``mid0`` quotes the same spread in bps and
trades the same notional as it does at ``mid0``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from soakkit.sim.bookspec import BOOK_REGIMES
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import DEFAULT_MARKET, MarketProfile
from soakkit.sim.tape import MarketTape

#: an order-book market (the calibrated generator) on a grid of 0.1 bp at ``mid0``
BOOK_MARKET = dataclasses.replace(DEFAULT_MARKET, name="book", tick=0.5,
                                  regimes=dict(BOOK_REGIMES))
FAR = 4.0  #: the window opens at this multiple of mid0


def _spread_bps(tape: MarketTape) -> np.ndarray:
    return np.asarray((tape.ask_px - tape.bid_px) * tape.tick / tape.mid_px * 1e4)


def _notional_usd(tape: MarketTape) -> np.ndarray:
    return np.asarray(tape.trade_qty * tape.lot * tape.trade_px * tape.tick)


@pytest.mark.parametrize("market", [DEFAULT_MARKET, BOOK_MARKET], ids=["classic", "book"])
@pytest.mark.parametrize("mode", ["calm", "volatile"])
def test_a_window_opening_far_from_mid0_keeps_spreads_in_bps_and_sizes_in_usd(
        market: MarketProfile, mode: str) -> None:
    home = simulate_market(mode, 3, np.random.default_rng(5), market)
    far = simulate_market(mode, 3, np.random.default_rng(5), market,
                          start_mid=FAR * market.mid0)
    assert far.mid_start == pytest.approx(FAR * market.mid0, rel=1e-3)
    spread_ratio = np.median(_spread_bps(far)) / np.median(_spread_bps(home))
    size_ratio = np.median(_notional_usd(far)) / np.median(_notional_usd(home))
    assert spread_ratio == pytest.approx(1.0, abs=0.2), spread_ratio
    assert size_ratio == pytest.approx(1.0, abs=0.1), size_ratio


def test_the_order_book_opens_at_the_configured_spread_far_from_mid0() -> None:
    """The opening book's spread is the regime's ``2 × half_spread_bps``, within a tick."""
    for start in (None, FAR * BOOK_MARKET.mid0):
        tape = simulate_market("calm", 1, np.random.default_rng(3), BOOK_MARKET,
                               start_mid=start)
        tick_bps = tape.tick / tape.mid_px[0] * 1e4
        configured = 2.0 * BOOK_MARKET.regimes["calm"].half_spread_bps
        assert abs(_spread_bps(tape)[0] - configured) <= tick_bps, (start, _spread_bps(tape)[0])

"""No strategy sees the future: change the market after a time, and nothing before it changes.

Two markets are the same up to ``T`` and differ after it (prices moved, half the trades
gone). Every decision a strategy made by ``T`` (time, side, price, size) and every fill by
``T`` must be the same on both: what a strategy is given at a step is the feed up to the
step's feed time, answers that arrived by then, and its own state. The event-driven engine
draws its random latencies in the order things happen, so the venue's random latencies
stay on; the vectorised legacy form draws each latency component for the whole window at
once, so it is checked with fixed latencies (and the limit out of reach, see
``soakkit/strategy/legacy.py`` on its unload).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest

from soakkit.config.layers import resolve
from soakkit.sim.latency import ConstantLatency
from soakkit.sim.market import simulate_market
from soakkit.sim.queue import queue_model
from soakkit.sim.strategy import StrategyResult
from soakkit.sim.tape import MarketTape
from soakkit.sim.venue import RateLimit, Venue, default_venue
from soakkit.strategy.engine import run_engine
from soakkit.strategy.legacy import LegacyQuoter
from soakkit.strategy.registry import load_strategy

from .conftest import REPO

T_NS = 100 * 10**9


def _changed_after(tape: MarketTape, t_ns: int, rng: np.random.Generator) -> MarketTape:
    """The same market up to ``t_ns``; after it, prices 7 ticks up and half the trades gone."""
    late_q = tape.quote_ns > t_ns
    keep = (tape.trade_ns <= t_ns) | (rng.random(tape.trade_ns.size) < 0.5)
    late_t = tape.trade_ns[keep] > t_ns
    return replace(tape, bid_px=np.where(late_q, tape.bid_px + 7, tape.bid_px),
                   ask_px=np.where(late_q, tape.ask_px + 7, tape.ask_px),
                   trade_ns=tape.trade_ns[keep], trade_side=tape.trade_side[keep],
                   trade_qty=tape.trade_qty[keep],
                   trade_px=np.where(late_t, tape.trade_px[keep] + 7, tape.trade_px[keep]))


def _until(result: StrategyResult, t_ns: int) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    o, f = result.orders, result.fills
    assert o is not None
    early = o.decide_ns <= t_ns
    decisions = list(zip(o.decide_ns[early].tolist(), o.side[early].tolist(),
                         o.price[early].tolist(), o.size[early].tolist(), strict=True))
    fills = f.ns <= t_ns
    return decisions, list(zip(f.ns[fills].tolist(), f.side[fills].tolist(),
                               f.lots[fills].tolist(), f.ticks[fills].tolist(), strict=True))


def _both(tape: MarketTape, run) -> None:  # type: ignore[no-untyped-def]
    other = _changed_after(tape, T_NS, np.random.default_rng(2))
    before_a, fills_a = _until(run(tape), T_NS)
    before_b, fills_b = _until(run(other), T_NS)
    assert len(before_a) > 50 and len(fills_a) > 20  # the check has something to compare
    assert before_a == before_b
    assert fills_a == fills_b


@pytest.mark.parametrize("name", ["legacy", "avellaneda-stoikov", "glft", "exec"])
def test_nothing_a_strategy_did_before_t_depends_on_the_market_after_t(name: str) -> None:
    if name == "exec":
        name = f"exec:{sys.executable} {REPO / 'examples' / 'exec_bot.py'}"
    ref = load_strategy(name)
    values = dict(resolve("aggressive", env={}, params=ref.params).values)
    tape = simulate_market("volatile", 4, np.random.default_rng(11))
    _both(tape, lambda market: run_engine(market, ref.factory(), values,
                                          np.random.default_rng(5), default_venue()))


def test_the_vectorised_legacy_form_does_not_either() -> None:
    values = dict(resolve("aggressive", env={}).values)
    values["position_limit_notional"] = 20_000.0
    venue = Venue(queue_model("power:2"), ConstantLatency(20_000_000, 45_000_000, 40_000_000,
                                                          45_000_000), RateLimit())
    tape = simulate_market("volatile", 4, np.random.default_rng(11))
    _both(tape, lambda market: LegacyQuoter().vectorised(market, values,
                                                         np.random.default_rng(5), venue))


def test_a_step_holds_nothing_later_than_its_feed_time() -> None:
    """What the engine hands a strategy, step by step: never past the step's feed time."""
    from soakkit.strategy.api import Step, Strategy

    seen: list[tuple[int, int, int, int]] = []

    class Probe(Strategy):
        def on_step(self, step: Step):  # type: ignore[no-untyped-def]
            t, u = step.trades, step.updates
            last = max([*t.ns.tolist(), *u.ns.tolist(), 0])
            seen.append((step.now_ns, step.seen_ns, last,
                         max([r.ns for r in step.reports] + [0])))
            return []

    tape = simulate_market("spike", 2, np.random.default_rng(3))
    values = dict(resolve("steady_safe", env={}).values)
    run_engine(tape, Probe(), values, np.random.default_rng(0))
    assert seen and all(last <= feed <= now and answered <= now
                        for now, feed, last, answered in seen)
    assert [feed for _, feed, _, _ in seen] == sorted(feed for _, feed, _, _ in seen)


def test_the_check_catches_a_strategy_that_looks_ahead() -> None:
    """A strategy that peeks at the window's later prices (through the step's private
    reference to the tape) fails the comparison: the test above has teeth."""
    from soakkit.strategy.api import Quote, Step, Strategy

    class Peeker(Strategy):
        def on_step(self, step: Step):  # type: ignore[no-untyped-def]
            future = step._market  # what a strategy must not do
            later = int(np.searchsorted(future.quote_ns, step.now_ns + 2 * 10**9))
            ahead = int(future.bid_px[min(later, future.bid_px.size - 1)])
            return [Quote(1, min(ahead, step.book.ask_px - 1), 1),
                    Quote(-1, max(ahead + 3, step.book.bid_px + 1), 1)]

    values = dict(resolve("steady_safe", env={}).values)
    tape = simulate_market("volatile", 4, np.random.default_rng(11))
    with pytest.raises(AssertionError):
        _both(tape, lambda market: run_engine(market, Peeker(), values,
                                              np.random.default_rng(5)))

"""What a carried start sends and draws: the same requests in both engines, keys of its own.

A window that opens with orders carried in (:class:`~soakkit.sim.carry.BookState`) replaces
a carried order whose price the bot no longer wants: a cancel + new batch, weight 2 against
the rate limit in both engines (docs/SIMULATOR.md, "Rate limit"); one whose price it still
wants stays and sends nothing. A carried order was never decided in the window, so the keys
of its events' latency draws (:mod:`soakkit.sim.keyed`) must not be those of the requote the
window's first tick sends on its side.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from soakkit.config.layers import resolve
from soakkit.sim.carry import BookState, RestingOrder
from soakkit.sim.latency import ConstantLatency, EventKeys, VenueLatency
from soakkit.sim.market import simulate_market
from soakkit.sim.queue import queue_model
from soakkit.sim.regimes import LATENCY
from soakkit.sim.strategy import run_strategy
from soakkit.sim.venue import RateLimit, RateLimitCounter, Venue
from soakkit.strategy.engine import run_engine
from soakkit.strategy.legacy import LegacyQuoter

FIXED = ConstantLatency(feed_ns=20_000_000, entry_ns=45_000_000, cancel_ns=40_000_000,
                        ack_ns=45_000_000)


@dataclass(frozen=True)
class CountingLimit(RateLimit):
    """The venue's rate limit, noting every request it counts: (sent at, weight)."""

    seen: list[tuple[int, float]] = field(default_factory=list, compare=False)

    def accept(self, send_ns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        self.seen.extend(zip(send_ns.tolist(), np.asarray(weights).tolist(), strict=True))
        return super().accept(send_ns, weights)

    def counter(self) -> RateLimitCounter:
        return _CountingCounter(self)


class _CountingCounter(RateLimitCounter):
    def admit(self, send_ns: int, weight: float) -> bool:
        assert isinstance(self.limit, CountingLimit)
        self.limit.seen.append((int(send_ns), float(weight)))
        return super().admit(send_ns, weight)


def _values(**changes: float) -> dict[str, Any]:
    values = dict(resolve("steady_safe", env={}).values)
    values["position_limit_notional"] = 1e6  # no unload: the forms differ there by design
    values.update(changes)
    return values


def _first_quotes(tape: Any, values: dict[str, Any]) -> tuple[int, int]:
    """The prices the bot quotes at the window's first tick (from a flat start)."""
    log = run_strategy(tape, values, np.random.default_rng(0), Venue(
        queue_model("power:2"), FIXED, None, "partial")).orders
    assert log is not None
    first = log.decide_ns == 0
    return (int(log.price[first & (log.side == 1)][0]),
            int(log.price[first & (log.side == -1)][0]))


@pytest.mark.parametrize("kept", [(), (1,), (1, -1)])
@pytest.mark.parametrize(("mode", "seed"), [("calm", 1), ("volatile", 2)])
def test_both_engines_count_the_same_requests_from_a_carried_start(
        mode: str, seed: int, kept: tuple[int, ...]) -> None:
    """A carried order away from the wanted price is replaced (weight 2, not 1); one at
    the wanted price is kept (nothing sent). Both engines count the same requests."""
    tape = simulate_market(mode, 2, np.random.default_rng(seed))
    values = _values()
    bid, ask = _first_quotes(tape, values)
    start = BookState(0, (RestingOrder(1, bid if 1 in kept else bid - 40, 3),
                          RestingOrder(-1, ask if -1 in kept else ask + 40, 3)))
    counted = []
    for run in (lambda v: LegacyQuoter().vectorised(tape, values, np.random.default_rng(0),
                                                    v, start),
                lambda v: run_engine(tape, LegacyQuoter(), values, np.random.default_rng(0),
                                     v, start)):
        limit = CountingLimit()
        result = run(Venue(queue_model("power:2"), FIXED, limit, "partial"))
        assert result is not None
        counted.append((sorted(limit.seen), result.rejects))
    (vectorised, v_rejects), (engine, e_rejects) = counted
    assert vectorised == engine
    assert v_rejects == e_rejects
    loop_ns = values["min_interval_ms"] * 1e6  # what the first tick sent (gateway waits: ms)
    at_open = [w for t, w in vectorised if t < loop_ns]
    assert at_open == [2.0] * (2 - len(kept))  # each replaced carried order: cancel + new


@dataclass(frozen=True)
class KeyedRecorder(VenueLatency):
    """The venue's keyed latency, noting the keys of every draw: (component, parts)."""

    draws: list[tuple[str, tuple[np.ndarray, ...]]] = field(default_factory=list,
                                                              compare=False)

    def draw(self, component: str, activity: np.ndarray, rng: np.random.Generator,
             keys: EventKeys | None = None) -> np.ndarray:
        assert keys is not None
        self.draws.append((component, keys[1]))
        return super().draw(component, activity, rng, keys)


def test_carried_orders_have_keys_of_their_own() -> None:
    """Windows that open with both sides' carried orders replaced at the first tick (a
    carried order and that requote both decided at time 0 before): no two orders of a
    window share an identity, every fill's ack draw is keyed by its own order's, and no
    two events of one draw share a key."""
    from soakkit.sim.strategy import order_keys  # each order's identity in its keys

    values = _values()
    seen_carried = 0
    for seed in range(4):
        tape = simulate_market("volatile", 2, np.random.default_rng(seed))
        bid, ask = _first_quotes(tape, values)
        latency = KeyedRecorder(replace(LATENCY, keyed=True))
        # a tick inside the wanted prices, first in the queue: replaced, and filled first
        start = BookState(0, (RestingOrder(1, bid + 1, 5, front=0.0),
                              RestingOrder(-1, ask - 1, 5, front=0.0)))
        result = run_strategy(tape, values, np.random.default_rng(seed),
                              Venue(queue_model("power:2"), latency, RateLimit(), "partial"),
                              start)
        log = result.orders
        assert log is not None
        carried = np.arange(log.side.size) < len(start.orders)
        ids = order_keys(log.decide_ns, carried)
        identities = set(zip(ids.tolist(), log.side.tolist(), strict=True))
        assert len(identities) == log.side.size  # one identity per order
        fill_acks = [parts for component, parts in latency.draws
                     if component == "ack" and len(parts) == 3]
        assert len(fill_acks) == 1
        _, order_id, side = (p.tolist() for p in fill_acks[0])
        assert set(zip(order_id, side, strict=True)) <= identities
        seen_carried += sum(1 for k in order_id if k < 0)
        for component, parts in latency.draws:
            rows = list(zip(*(p.tolist() for p in parts), strict=True))
            if component == "ack" and len(parts) == 3:  # prints of one order at one time
                continue                                # are one event: one report
            assert len(set(rows)) == len(rows), component
    assert seen_carried > 0  # carried orders had fill chances, keyed as their own

"""The event-driven engine's one-at-a-time forms give what the vectorised forms give.

The engine of ``soakkit.strategy`` matches each order event by event
(:class:`soakkit.sim.live.LiveOrder`), moves the queue one order at a time
(``QueueModel.front_after``), draws latencies one at a time and keeps the gateway and the
rate limit request by request; each is checked here against the array form the legacy
quoter's vectorised engine uses, on random inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from soakkit.sim.latency import Gateway, VenueLatency, _Scalar, gateway_wait_ns
from soakkit.sim.live import LiveOrder, SideEvents
from soakkit.sim.market import simulate_market
from soakkit.sim.matching import find_opportunities, side_timeline
from soakkit.sim.queue import ProbQueue, RiskAverseQueue, queue_model
from soakkit.sim.venue import RateLimit

MODELS = ["risk_averse", "power:2", "power2:3", "power3:1", "log", "log2"]


def _random_orders(tape, side: int, n: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    end_ns = round(tape.duration_s * 1e9)
    arrive = np.sort(rng.integers(0, end_ns, n))
    life = rng.exponential(2e9, n).astype(np.int64)
    end = np.minimum(arrive + life, end_ns)
    q = np.maximum(tape.quote_index(arrive), 0)
    touch = tape.bid_px[q] if side > 0 else tape.ask_px[q]
    price = touch - side * rng.integers(-1, 4, n)  # improving, joining, behind
    return price.astype(np.int64), arrive.astype(np.int64), end.astype(np.int64)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("whole", "through_fills_all"), [(False, False), (False, True),
                                                          (True, True)])
def test_one_order_at_a_time_finds_the_same_opportunities(model: str, whole: bool,
                                                          through_fills_all: bool) -> None:
    rng = np.random.default_rng(17)
    tape = simulate_market("volatile", 3, np.random.default_rng(5))
    queue = queue_model(model)
    for side in (1, -1):
        price, arrive, end = _random_orders(tape, side, 150, rng)
        opp = find_opportunities(tape, side_timeline(tape, side), side, price, arrive, end,
                                 queue, whole, through_fills_all=through_fills_all)
        events = SideEvents(tape, side)
        for i in range(price.size):
            live = LiveOrder(events, int(price[i]), int(arrive[i]), queue, whole,
                             through_fills_all=through_fills_all)
            got: list[tuple[int, float]] = []
            t = int(arrive[i])
            while t < end[i]:  # advance in uneven steps, as loop ticks would
                t = min(t + int(rng.integers(1, 400_000_000)), int(end[i]))
                got += live.advance(t)
            want = list(zip(opp.ns[opp.ptr[i]:opp.ptr[i + 1]].tolist(),
                            opp.avail[opp.ptr[i]:opp.ptr[i + 1]].tolist(), strict=True))
            assert live.expired == bool(opp.expired[i])
            assert live.front0 == opp.front0[i] or (math.isinf(live.front0)
                                                    and math.isinf(opp.front0[i]))
            assert got == want, (side, i)


@pytest.mark.parametrize("model", MODELS)
def test_front_after_is_on_depth_for_one_order(model: str) -> None:
    rng = np.random.default_rng(3)
    queue = queue_model(model)
    n = 2000
    front = np.where(rng.random(n) < 0.1, np.inf, rng.exponential(20, n))
    front[rng.random(n) < 0.05] = 0.0
    prev = np.where(rng.random(n) < 0.1, np.nan, front + rng.exponential(10, n))
    new = np.floor(rng.exponential(25, n))
    traded = np.where(rng.random(n) < 0.5, 0.0, rng.exponential(5, n))
    vector = queue.on_depth(front, prev, new, traded)
    for i in range(n):
        one = queue.front_after(float(front[i]), float(prev[i]), float(new[i]),
                                float(traded[i]))
        assert one == pytest.approx(vector[i], rel=1e-12, abs=1e-12), i


def test_the_base_form_of_front_after_wraps_on_depth() -> None:
    class Halving(RiskAverseQueue):
        def on_depth(self, front, prev, new, traded):  # type: ignore[no-untyped-def]
            return np.minimum(front, new) / 2

    assert Halving().front_after(10.0, 12.0, 8.0, 0.0) == 4.0
    assert ProbQueue("power", 2.0).prob_one(0.0, 0.0) == 1.0  # 0/0: behind us, as numpy's NaN


def test_latencies_one_at_a_time_follow_the_vectorised_formula() -> None:
    model = VenueLatency()
    rng = np.random.default_rng(9)
    a = rng.exponential(2.0, 5000)
    z, u1, u2 = rng.standard_normal(5000), rng.random(5000), rng.random(5000)
    for component in ("feed", "entry", "cancel", "ack"):
        vector = model.delay_ms(component, a, z, u1, u2)
        for i in range(0, 5000, 7):
            one = model.delay_ms(component, float(a[i]), float(z[i]), float(u1[i]),
                                 float(u2[i]), _Scalar)
            assert one == pytest.approx(vector[i], rel=1e-13)
    sample = model.sampler(np.random.default_rng(1))
    draws = [sample("entry", 1.0) for _ in range(10_000)]
    assert 40e6 < float(np.median(draws)) < 50e6  # the entry median, 45 ms, at activity 1


def test_the_gateway_one_request_at_a_time_waits_as_the_array_form() -> None:
    rng = np.random.default_rng(4)
    send = np.sort(rng.integers(0, 30 * 10**9, 3000)).astype(np.int64)
    weight = rng.choice([1.0, 2.0], send.size)
    vector = gateway_wait_ns(send, weight, 3.0, 90.0)
    gateway = Gateway(3.0, 90.0)
    assert [gateway.wait_ns(int(t), float(w)) for t, w in zip(send, weight, strict=True)] \
        == vector.tolist()


def test_the_rate_limit_counter_accepts_what_accept_accepts() -> None:
    rng = np.random.default_rng(8)
    send = np.sort(rng.integers(0, 20 * 10**9, 2000)).astype(np.int64)
    weight = rng.choice([1.0, 2.0], send.size)
    limit = RateLimit(40, 2.0)
    counter = limit.counter()
    assert [counter.admit(int(t), float(w)) for t, w in zip(send, weight, strict=True)] \
        == limit.accept(send, weight).tolist()


@pytest.mark.parametrize("model", ["risk_averse", "power:2"])
def test_on_a_recorded_l2_tape_too(model: str) -> None:
    """The real capture's L2 tape: orders behind the best take their queue from the depth
    shown at their price, and depth changes there move it (the vectorised rules)."""
    from soakkit.sim.replay import load_tape, replay_window

    from .conftest import REPO

    tape = replay_window(load_tape(REPO / "examples" / "tapes" / "binance-spot-btcusdt"), 1, 1)
    assert tape.depth is not None
    rng = np.random.default_rng(23)
    queue = queue_model(model)
    for side in (1, -1):
        end_ns = round(tape.duration_s * 1e9)
        arrive = np.sort(rng.integers(0, end_ns, 120)).astype(np.int64)
        end = np.minimum(arrive + rng.exponential(5e9, 120).astype(np.int64), end_ns)
        q = np.maximum(tape.quote_index(arrive), 0)
        touch = tape.bid_px[q] if side > 0 else tape.ask_px[q]
        price = (touch - side * rng.integers(0, 40, 120)).astype(np.int64)  # deep behind
        opp = find_opportunities(tape, side_timeline(tape, side), side, price, arrive, end,
                                 queue, False)
        events = SideEvents(tape, side)
        behind_known = 0
        for i in range(price.size):
            live = LiveOrder(events, int(price[i]), int(arrive[i]), queue, False)
            got = live.advance(int(end[i]))
            want = list(zip(opp.ns[opp.ptr[i]:opp.ptr[i + 1]].tolist(),
                            opp.avail[opp.ptr[i]:opp.ptr[i + 1]].tolist(), strict=True))
            assert got == want, (side, i)
            assert live.front0 == opp.front0[i] or math.isinf(opp.front0[i])
            behind_known += price[i] != touch[i] and math.isfinite(live.front0)
        assert behind_known > 10  # the depth told the queue of orders behind the best

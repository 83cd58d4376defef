"""The legacy quoter through the interface: its two forms are one strategy.

``LegacyQuoter.vectorised`` (every decision of a window at once, the engine soaks use) and
``LegacyQuoter.on_step`` on the event-driven engine must send the same orders and get the
same fills when the latencies are fixed (the two engines draw random latencies in a
different order, so with random ones they agree only in distribution, checked below). The
limit is set out of reach where the forms differ by construction (the taker unload, see
``soakkit/strategy/legacy.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from soakkit.config.layers import resolve
from soakkit.kpi import compute_kpis
from soakkit.sim.latency import ConstantLatency
from soakkit.sim.market import simulate_market
from soakkit.sim.queue import queue_model
from soakkit.sim.venue import RateLimit, Venue
from soakkit.strategy.engine import run_engine, simulate
from soakkit.strategy.legacy import LegacyQuoter

FIXED = ConstantLatency(feed_ns=20_000_000, entry_ns=45_000_000, cancel_ns=40_000_000,
                        ack_ns=45_000_000)


def _values(profile: str, **changes: float) -> dict[str, float]:
    values = dict(resolve(profile, env={}).values)
    values["position_limit_notional"] = 1e6  # no unload: the forms differ there
    values.update(changes)
    return values


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    fa, fb = a.fills, b.fills
    for field in ("ns", "side", "lots", "ticks", "taker", "position_lots"):
        assert np.array_equal(getattr(fa, field), getattr(fb, field)), field
    oa, ob = a.orders, b.orders
    sent_a, sent_b = oa.size > 0, ob.size > 0  # a zero-size requote only cancels
    for field in ("decide_ns", "side", "price", "arrive_ns", "end_ns", "accepted", "expired",
                  "size", "filled"):
        assert np.array_equal(getattr(oa, field)[sent_a], getattr(ob, field)[sent_b]), field
    assert a.requotes == b.requotes and a.dropped_requotes == b.dropped_requotes
    assert (a.rejects, a.orders_placed, a.orders_filled) == \
        (b.rejects, b.orders_placed, b.orders_filled)


@pytest.mark.parametrize(("profile", "mode", "seed"), [
    ("steady_safe", "calm", 1), ("steady_safe", "volatile", 2), ("aggressive", "spike", 3),
    ("ultra_safe", "mixed", 4)])
@pytest.mark.parametrize("queue", ["power:2", "risk_averse"])
@pytest.mark.parametrize("fill", ["partial", "partial_through_all"])
def test_both_forms_send_the_same_orders_and_get_the_same_fills(profile: str, mode: str,
                                                                 seed: int, queue: str,
                                                                 fill: str) -> None:
    tape = simulate_market(mode, 4, np.random.default_rng(seed))
    venue = Venue(queue_model(queue), FIXED, RateLimit(), fill)
    values = _values(profile)
    vectorised = LegacyQuoter().vectorised(tape, values, np.random.default_rng(0), venue)
    assert vectorised is not None
    _same(vectorised, run_engine(tape, LegacyQuoter(), values, np.random.default_rng(0), venue))


@pytest.mark.parametrize("offset", [0, -1, 2])
def test_both_forms_agree_when_quoting_from_the_touch(offset: int) -> None:
    tape = simulate_market("volatile", 4, np.random.default_rng(7))
    venue = Venue(queue_model("power:2"), FIXED, None, "whole")
    values = _values("steady_safe", quote_from_touch=1, touch_offset_ticks=offset,
                     quote_lots=3)
    vectorised = LegacyQuoter().vectorised(tape, values, np.random.default_rng(0), venue)
    _same(vectorised, run_engine(tape, LegacyQuoter(), values, np.random.default_rng(0), venue))


def test_with_random_latencies_the_forms_agree_in_distribution() -> None:
    """Same market, the venue's random latencies: the KPIs of the two forms stay close."""
    values = _values("steady_safe")
    gaps = []
    for seed in range(1, 5):
        tape = simulate_market("volatile", 5, np.random.default_rng(seed))
        a = compute_kpis(tape, simulate(LegacyQuoter(), tape, values, np.random.default_rng(0)),
                         values)
        b = compute_kpis(tape, run_engine(tape, LegacyQuoter(), values,
                                          np.random.default_rng(0)), values)
        gaps.append(abs(a["fill_count"] - b["fill_count"]) / a["fill_count"])
        assert abs(a["p95_latency_ms"] - b["p95_latency_ms"]) < 15
    assert max(gaps) < 0.05, gaps


def test_soaks_use_the_vectorised_form_and_a_changed_rule_the_event_loop() -> None:
    tape = simulate_market("calm", 2, np.random.default_rng(1))
    values = _values("steady_safe")

    class Wider(LegacyQuoter):
        def on_step(self, step):  # type: ignore[no-untyped-def]
            return super().on_step(step)

    assert Wider().vectorised(tape, values, np.random.default_rng(0), Venue(
        queue_model("power:2"), FIXED, None)) is None
    assert LegacyQuoter().vectorised(tape, values, np.random.default_rng(0), Venue(
        queue_model("power:2"), FIXED, None)) is not None


@pytest.mark.parametrize("offset", [0, 1])
def test_both_forms_agree_on_a_recorded_l2_capture(offset: int) -> None:
    """A real BTCUSDT capture (L2 depth, receive times): quoting the touch, both forms send
    the same orders and get the same fills."""
    from soakkit.sim.replay import load_tape, replay_window

    from .conftest import REPO

    tape = replay_window(load_tape(REPO / "examples" / "tapes" / "binance-spot-btcusdt"), 1, 2)
    assert tape.depth is not None and tape.quote_local_ns is not None
    venue = Venue(queue_model("power:2"), FIXED, RateLimit(), "partial")
    values = _values("steady_safe", quote_from_touch=1, touch_offset_ticks=offset,
                     quote_lots=20, position_limit_notional=20_000.0)
    vectorised = LegacyQuoter().vectorised(tape, values, np.random.default_rng(0), venue)
    assert vectorised is not None and vectorised.fills.ns.size > 20
    _same(vectorised, run_engine(tape, LegacyQuoter(), values, np.random.default_rng(0), venue))

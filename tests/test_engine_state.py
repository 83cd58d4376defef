"""Inventory and resting orders carry from one window to the next (for issue 25)."""

from __future__ import annotations

import itertools

import numpy as np

from soakkit.config.layers import resolve
from soakkit.sim.market import simulate_market
from soakkit.strategy.api import CarriedOrder, EngineState
from soakkit.strategy.engine import run_engine, simulate
from soakkit.strategy.legacy import LegacyQuoter


def _values() -> dict[str, float]:
    return dict(resolve("steady_safe", env={}).values)


def test_a_window_ends_with_the_state_the_next_one_starts_from() -> None:
    values = _values()
    first = simulate(LegacyQuoter(), simulate_market("calm", 2, np.random.default_rng(1)),
                     values, np.random.default_rng(0))
    assert first.end_position_lots == int(first.fills.position_lots[-1])
    assert first.end_orders and all(lots > 0 for _, _, lots in first.end_orders)
    state = EngineState.after(first)
    tape = simulate_market("calm", 2, np.random.default_rng(2))
    second = simulate(LegacyQuoter(), tape, values, np.random.default_rng(0), start=state)
    f = second.fills
    assert f.position_lots[0] == state.position_lots + f.side[0] * f.lots[0]
    assert second.end_position_lots == state.position_lots + int((f.side * f.lots).sum())
    o = second.orders
    assert o is not None
    carried = o.decide_ns == 0
    assert sorted(zip(o.side[carried][:len(state.orders)].tolist(),
                      o.price[carried][:len(state.orders)].tolist(),
                      o.size[carried][:len(state.orders)].tolist(), strict=True)) \
        == sorted((c.side, c.price, c.lots) for c in state.orders)


def test_a_position_carried_past_the_limit_is_unloaded_at_once() -> None:
    values = _values()
    tape = simulate_market("calm", 1, np.random.default_rng(3))
    limit_lots = values["position_limit_notional"] / (tape.mid_start * tape.lot)
    long = EngineState(position_lots=int(2 * limit_lots),
                       orders=(CarriedOrder(-1, int(tape.ask_px[0]) + 2, 3),))
    result = run_engine(tape, LegacyQuoter(), values, np.random.default_rng(0), start=long)
    takers = result.fills.taker
    assert takers.any() and (result.fills.side[takers] < 0).all()
    assert result.fills.ns[takers][0] < 10**9  # within the first second
    assert abs(result.end_position_lots) < 2 * limit_lots


def test_a_rejection_is_news_the_bot_hears_not_knows() -> None:
    """An order the rate limit refuses is 'sent' in the bot's view until the answer comes
    back, one round trip later; the order a refused quote meant to replace is open again."""
    from soakkit.strategy.api import Quote, Step, Strategy

    seen: list[tuple[int, dict[int, str], list[tuple[str, int, int]]]] = []

    class Flood(Strategy):
        def on_step(self, step: Step):  # type: ignore[no-untyped-def]
            seen.append((step.now_ns, {i: o.status for i, o in step.orders.items()},
                         [(r.kind, r.order_id, r.ns) for r in step.reports]))
            return [Quote(1, step.book.bid_px - 1 - k % 3, 1) for k in range(12)]

    tape = simulate_market("calm", 1, np.random.default_rng(5))
    result = run_engine(tape, Flood(), _values(), np.random.default_rng(0))
    assert result.rejects > 100
    sent_at: dict[int, int] = {}
    next_id = 1
    for now, views, reports in seen:
        for kind, order_id, _ in reports:
            if kind == "rejected":
                assert now - sent_at[order_id] >= 20_000_000  # at least a round trip late
                assert order_id not in views
        for order_id in views:
            assert order_id in sent_at or order_id >= next_id
        for _ in range(12):
            sent_at[next_id] = now
            next_id += 1
    # an id is never dropped from the view without an answer naming it
    answered = {order_id for _, _, reports in seen for _, order_id, _ in reports}
    for (_, views, _), (_, later, _) in itertools.pairwise(seen):
        for order_id in set(views) - set(later):
            assert order_id in answered

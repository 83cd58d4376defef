"""Inventory and resting orders carry from one window to the next (for issue 25)."""

from __future__ import annotations

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

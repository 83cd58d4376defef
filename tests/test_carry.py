"""Inventory and resting orders carried from one stretch of market to the next (issue 25)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from soakkit.kpi import compute_kpis
from soakkit.sim.carry import BookState, RestingOrder
from soakkit.sim.market import simulate_market
from soakkit.sim.schedule import Segment, trade_schedule
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tape import NS
from soakkit.soak import SoakOptions, run_in_memory
from tests.simhelp import params

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "tapes" / "sample"


def _identity(k: dict[str, float]) -> float:
    return k["gross_bps"] + k["fees_bps"] + k["adverse_bps"] + k["inventory_bps"]


@pytest.mark.parametrize(("mode", "seed"), [("calm", 1), ("volatile", 2), ("spike", 3),
                                            ("mixed", 4)])
def test_windows_carry_position_and_orders_and_their_pnl_adds_up(mode: str, seed: int) -> None:
    """Ten one-minute windows traded in a row: each starts where the last ended, each one's
    P&L marks the position it was left from its opening mid, and the ten add up to the P&L
    of the whole stretch; the net identity holds with a carried position."""
    values = params()
    tape = simulate_market(mode, 10, np.random.default_rng(seed))
    segments = [Segment(i * 60 * NS, (i + 1) * 60 * NS, values) for i in range(10)]
    traded = trade_schedule(tape, segments, np.random.default_rng(seed + 100))
    whole = compute_kpis(tape, traded.result, values)
    parts = [compute_kpis(t, p, values) for t, p in zip(traded.tapes, traded.parts, strict=True)]
    assert sum(p["pnl_usd"] for p in parts) == pytest.approx(whole["pnl_usd"], abs=1e-6)
    assert sum(p["volume_usd"] for p in parts) == pytest.approx(whole["volume_usd"])
    for before, after in zip(traded.parts, traded.parts[1:], strict=False):
        assert after.start == before.end
    carried = [p for p in traded.parts if p.start.position_lots]
    assert carried  # some window opened with a position
    for p, k in zip(traded.parts, parts, strict=True):
        assert k["net_bps"] == pytest.approx(_identity(k), abs=1e-9)
        end = p.start.position_lots + int((p.fills.side * p.fills.lots).sum())
        assert p.end.position_lots == end
    assert whole["net_bps"] == pytest.approx(_identity(whole), abs=1e-9)


def test_a_carried_order_keeps_its_queue_place() -> None:
    """An order resting at a boundary re-enters the book at time 0 with the queue ahead it had
    (capped by the level's displayed depth), and is not re-sent while the bot wants its price."""
    values = params()
    kept = filled = 0
    for seed in range(6):
        tape = simulate_market("calm", 4, np.random.default_rng(seed))
        segments = [Segment(i * 60 * NS, (i + 1) * 60 * NS, values) for i in range(4)]
        traded = trade_schedule(tape, segments, np.random.default_rng(seed))
        for piece, part in zip(traded.tapes[1:], traded.parts[1:], strict=True):
            log = part.orders
            assert log is not None
            for i, order in enumerate(part.start.orders):
                assert log.decide_ns[i] == 0 and log.arrive_ns[i] == 0
                assert (log.side[i], log.price[i], log.size[i]) == (order.side, order.price,
                                                                    order.lots)
                best = piece.bid_px[0] if order.side > 0 else -piece.ask_px[0]
                depth = piece.bid_qty[0] if order.side > 0 else piece.ask_qty[0]
                price = order.price * order.side
                if price == best:
                    assert log.front0[i] == pytest.approx(min(order.front, depth))
                elif price > best:
                    assert log.front0[i] == 0.0
                same = [j for j in range(len(part.start.orders), log.side.size)
                        if log.side[j] == order.side]
                if same and log.price[same[0]] != order.price:
                    continue
                kept += 1  # the bot still wanted this price: no new order at time 0
                assert not same or log.decide_ns[same[0]] > 0
                filled += int(log.filled[i] > 0)
    assert kept > 5 and filled > 0


def test_a_carried_position_over_the_limit_is_unloaded_at_once() -> None:
    values = params(position_limit_notional=2000.0)
    tape = simulate_market("calm", 1, np.random.default_rng(5))
    lots = int(3 * 2000.0 / (tape.mid_start * tape.lot))
    start = BookState(lots, (RestingOrder(1, int(tape.bid_px[0]) - 3, 4, np.inf, 800.0, False),),
                      tape.mid_start)
    r = run_strategy(tape, values, np.random.default_rng(1), start=start)
    assert r.unloads >= 1
    first = np.flatnonzero(r.fills.taker)[0]
    assert r.fills.side[first] == -1 and r.fills.t[first] < 0.5
    k = compute_kpis(tape, r, values)
    assert k["net_bps"] == pytest.approx(_identity(k), abs=1e-9)
    assert abs(r.fills.position[-1]) * tape.mid_end < 3 * 2000.0


def test_a_synthetic_run_is_one_continuous_market_with_the_position_carried() -> None:
    reports = run_in_memory(SoakOptions(iterations=4, mode="volatile", seed=5, gate="production",
                                        tune=False))
    for before, after in itertools.pairwise(reports):
        assert after.doc["carry"]["start"] == before.doc["carry"]["end"]
    assert any(r.doc["carry"]["end"]["position_lots"] for r in reports)
    assert any(r.doc["carry"]["end"]["orders"] for r in reports)
    # the next market opens at the last one's closing mid (to the tick)
    for before, after in itertools.pairwise(reports):
        opening = after.doc["carry"]["start"]["mid"]
        assert opening == before.doc["carry"]["end"]["mid"]


def test_a_replay_carries_the_position_into_the_next_window() -> None:
    reports = run_in_memory(SoakOptions(iterations=2, sim_minutes=10, market_data=SAMPLE,
                                        gate="production", tune=False))
    first, second = reports
    assert second.doc["carry"]["start"] == first.doc["carry"]["end"]
    assert first.doc["carry"]["start"] == {"position_lots": 0, "orders": [], "mid": None}


def test_any_strategy_trades_each_stretch_from_the_state_the_last_one_left() -> None:
    """The schedule's runner is the strategy engine: an event-driven strategy is handed the
    carried position and orders at each stretch's start and sees them in its first step."""
    from soakkit.strategy.api import Step, StrategyContext
    from soakkit.strategy.engine import simulate
    from soakkit.strategy.models import AvellanedaStoikov

    seen: list[tuple[BookState, int, list[tuple[int, int, int]]]] = []

    class Watched(AvellanedaStoikov):
        def start(self, ctx: StrategyContext) -> None:
            super().start(ctx)
            self.first = True

        def on_step(self, step: Step):  # type: ignore[no-untyped-def]
            if self.first:
                self.first = False
                seen.append((self.ctx.start, step.position_lots,
                             sorted((o.side, o.price, o.left) for o in step.orders.values())))
            return super().on_step(step)

    tape = simulate_market("volatile", 4, np.random.default_rng(2))
    values = params("steady_safe")
    end = round(tape.duration_s * NS)
    cuts = [0, end // 4, end // 2, 3 * end // 4, end]
    segments = [Segment(a, b, values) for a, b in itertools.pairwise(cuts)]
    traded = trade_schedule(
        tape, segments, np.random.default_rng(0),
        run=lambda piece, p, rng, start: simulate(Watched(), piece, p, rng, start=start))
    assert len(seen) == len(segments)
    for (start, position, orders), part, before in zip(seen, traded.parts,
                                                       [None, *traded.parts[:-1]], strict=True):
        expected = BookState() if before is None else before.end
        assert start == expected == part.start
        assert position == expected.position_lots
        assert orders == sorted((o.side, o.price, o.lots) for o in expected.orders)
    assert any(p.start.position_lots for p in traded.parts[1:])
    k = compute_kpis(tape, traded.result, values)
    assert k["fills"]["maker_count"] + k["fills"]["taker_count"] == traded.result.fills.lots.size


def test_a_soak_carries_the_position_of_an_event_driven_strategy() -> None:
    reports = run_in_memory(SoakOptions(iterations=3, sim_minutes=2, mode="volatile", seed=5,
                                        gate="production", tune=False,
                                        strategy="avellaneda-stoikov"))
    for before, after in itertools.pairwise(reports):
        assert after.doc["carry"]["start"] == before.doc["carry"]["end"]
    assert any(r.doc["carry"]["end"]["position_lots"] for r in reports[:-1])

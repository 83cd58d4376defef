"""What the event-driven engine records, and the :class:`StrategyResult` it makes of it.

The result has the same fields and meanings as the vectorised legacy quoter's
(:func:`soakkit.sim.strategy.run_strategy`), so the KPIs (:mod:`soakkit.kpi`), the gate and
the tuner read a run of any strategy alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from soakkit.sim.carry import FLAT, BookState, RestingOrder
from soakkit.sim.live import LiveOrder
from soakkit.sim.strategy import Fills, OrderLog, StrategyResult, queue_ahead_p50
from soakkit.sim.tape import NS, MarketTape
from soakkit.strategy.api import Book, Strategy

__all__ = ["EngineOrder", "Ledger", "build_result"]

_MS = 1_000_000


class EngineOrder:
    """One order the strategy sent, as the venue sees it."""

    __slots__ = ("accepted", "arrive_ns", "closed", "decide_ns", "end_ns", "expired",
                 "filled", "front0", "id", "live", "lots", "mid", "price", "side", "taker")

    def __init__(self, order_id: int, side: int, price: int, lots: int, decide_ns: int,
                 arrive_ns: int, end_ns: int, accepted: bool, mid: float, taker: bool) -> None:
        self.id = order_id
        self.side = side
        self.price = price
        self.lots = lots
        self.decide_ns = decide_ns
        self.arrive_ns = arrive_ns  #: reaches the matching engine (a taker order executes)
        self.end_ns = end_ns  #: its cancel reaches the matching engine (or the window ends)
        self.accepted = accepted
        self.mid = mid  #: the mid (ticks) the strategy saw when it decided
        self.taker = taker
        self.expired = False
        self.front0 = float("inf")
        self.filled = 0
        self.live: LiveOrder | None = None
        self.closed = False


class Ledger:
    """Every order, request and fill of one window, in the order they happened."""

    def __init__(self, tape: MarketTape, start_position: int) -> None:
        self.tape = tape
        self.start_position = start_position
        self.orders: list[EngineOrder] = []
        self.fill_ns: list[int] = []
        self.fill_order: list[EngineOrder] = []
        self.fill_lots: list[int] = []
        self.fill_price: list[int] = []
        self.fill_touch: list[int] = []
        self.rejects = 0
        self.latencies_ms: list[float] = []

    def order(self, o: EngineOrder) -> None:
        self.orders.append(o)

    def request(self, accepted: bool, latency_ms: float) -> None:
        self.rejects += not accepted
        self.latencies_ms.append(latency_ms)

    def fill(self, ns: int, o: EngineOrder, lots: int, price: int, touch: int) -> None:
        self.fill_ns.append(ns)
        self.fill_order.append(o)
        self.fill_lots.append(lots)
        self.fill_price.append(price)
        self.fill_touch.append(touch)


def _fills(tape: MarketTape, ledger: Ledger, strategy: Strategy, index: Mapping[int, int]
           ) -> Fills:
    n = len(ledger.fill_ns)
    ns = np.asarray(ledger.fill_ns, dtype=np.int64)
    taker = np.array([o.taker for o in ledger.fill_order], dtype=bool)
    order = np.array([-1 if o.taker else index[o.id] for o in ledger.fill_order],
                     dtype=np.int64)
    by = np.lexsort((np.arange(n), order, taker, ns))  # at one instant, maker fills first
    ns, taker, order = ns[by], taker[by], order[by]
    side = np.array([o.side for o in ledger.fill_order], dtype=np.int64)[by]
    lots = np.asarray(ledger.fill_lots, dtype=np.int64)[by]
    price = np.asarray(ledger.fill_price, dtype=np.int64)[by]
    touch = np.asarray(ledger.fill_touch, dtype=np.int64)[by]
    position_lots = ledger.start_position + np.cumsum(side * lots)
    before = np.maximum(tape.quote_index(ns - 1), 0)
    mid = tape.mid_px[before]
    intended = np.where(taker, touch, price).astype(np.float64)
    for i in np.flatnonzero(~taker).tolist():
        q = int(before[i])
        fair = strategy.fair_price(int(side[i]), Book(int(tape.bid_px[q]), float(tape.bid_qty[q]),
                                                      int(tape.ask_px[q]),
                                                      float(tape.ask_qty[q])))
        if fair is not None:
            intended[i] = fair
    return Fills(t=ns / NS, side=side.astype(np.float64), qty=lots * tape.lot,
                 price=price * tape.tick, mid=mid, intended=intended * tape.tick, taker=taker,
                 position=position_lots * tape.lot, lots=lots, ticks=price,
                 position_lots=position_lots, order=order, ns=ns)


def build_result(tape: MarketTape, ledger: Ledger, strategy: Strategy,
                 live: list[EngineOrder], start: BookState = FLAT) -> StrategyResult:
    """The window's :class:`StrategyResult` (and the state a next window may carry)."""
    end_ns = round(tape.duration_s * NS)
    makers = [o for o in ledger.orders if not o.taker]
    index = {o.id: i for i, o in enumerate(makers)}
    fills = _fills(tape, ledger, strategy, index)

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array([getattr(o, name) for o in makers], dtype=dtype)

    size, got = column("lots", np.int64), column("filled", np.int64)
    arrive, accepted = column("arrive_ns", np.int64), column("accepted", bool)
    expired, front0 = column("expired", bool), column("front0", np.float64)
    end = np.minimum(column("end_ns", np.int64), end_ns)
    mid = column("mid", np.float64) * tape.tick
    placed = accepted & ~expired & (end > arrive) & ((size > 0) | (got > 0))
    cancelled = placed & (got < size) & (end < end_ns)
    joined = placed & np.isfinite(front0) & (front0 > 0)
    traded = float(tape.trade_qty.sum())
    maker_lots = float(fills.lots[~fills.taker].sum())
    counters = dict(strategy.counters())
    decided = len({o.decide_ns for o in ledger.orders})
    takers = [o for o in ledger.orders if o.taker]
    resting = tuple(RestingOrder(o.side, o.price, o.lots - o.filled) for o in live
                    if not o.closed and o.lots > o.filled)
    return StrategyResult(
        fills=fills,
        order_lifetimes_ms=(end[cancelled] - arrive[cancelled]) / _MS,
        order_filled=got[cancelled] > 0,
        latencies_ms=np.asarray(ledger.latencies_ms, dtype=np.float64),
        requotes={"initial": int(counters.get("initial", min(decided, 1))),
                  "move": int(counters.get("move", max(decided - 1, 0))),
                  "refresh": int(counters.get("refresh", 0))},
        dropped_requotes=int(counters.get("dropped", 0)),
        unloads=len(takers),
        rejects=ledger.rejects,
        post_only_expired=int((accepted & expired).sum()),
        orders_placed=int(placed.sum()),
        orders_filled=int((placed & (got > 0)).sum()),
        market_share=maker_lots / traded if traded > 0 else 0.0,
        queue_ahead_usd_p50=queue_ahead_p50(tape, front0, mid, joined),
        orders=OrderLog(column("decide_ns", np.int64), column("side", np.int64),
                        column("price", np.int64), arrive, end, accepted, expired, front0,
                        size, got),
        start=start,
        end=BookState(int(fills.position_lots[-1]) if fills.lots.size
                      else ledger.start_position, resting, float(tape.mid_end)),
    )

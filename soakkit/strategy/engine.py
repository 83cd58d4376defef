"""The event-driven engine: a strategy's loop on the simulated venue, one tick at a time.

At every tick of ``min_interval_ms`` (the same grid the legacy quoter uses) the engine

1. moves the venue up to the tick: orders that reached the matching engine start resting
   (post-only orders that would cross expire), taker orders walk the book, and every
   resting order takes the market's events in its queue (:class:`~soakkit.sim.live.LiveOrder`,
   the rules of :mod:`soakkit.sim.matching`); fills and the other answers are queued for
   delivery one ack latency later;
2. builds the :class:`~soakkit.strategy.api.Step`: the book and the trades and updates the
   feed delivered (one feed latency late, never going back), the answers that arrived, the
   open orders and the known position;
3. calls the strategy and sends its actions: each request waits in the gateway
   (:class:`~soakkit.sim.latency.Gateway`), passes or fails the rate limit
   (:class:`~soakkit.sim.venue.RateLimitCounter`) and travels one entry (or cancel)
   latency; a quote's cancel leg ends the side's previous order when it arrives.

The latency draws are the venue's models, taken one at a time
(:meth:`~soakkit.sim.latency.LatencyModel.sampler`) after the feed delays of every tick;
so a run is a pure function of the tape, the parameters, the seed and the strategy.
:func:`simulate` runs a strategy's vectorised form instead when it has one (the legacy
quoter, from any start: it keeps a carried order's queue place). A window starts from a
:class:`~soakkit.sim.carry.BookState` and its result ends with one (``result.end``), which
is what :func:`soakkit.sim.schedule.trade_schedule` hands to the next stretch.
"""

from __future__ import annotations

import heapq
import re
import traceback
from collections.abc import Mapping
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.config.params import Value
from soakkit.core.errors import StrategyError
from soakkit.sim.carry import FLAT, BookState, RestingOrder
from soakkit.sim.inventory import walk_book
from soakkit.sim.latency import Gateway
from soakkit.sim.live import LiveOrder, SideEvents
from soakkit.sim.quotes import param
from soakkit.sim.strategy import StrategyResult
from soakkit.sim.tape import NS, MarketTape
from soakkit.sim.venue import Venue, default_venue
from soakkit.strategy.api import (
    Book,
    Cancel,
    MarketRows,
    OrderView,
    Place,
    Quote,
    QuotingPrior,
    Report,
    Step,
    Strategy,
    StrategyContext,
    Take,
)
from soakkit.strategy.records import EngineOrder, Ledger, build_result

__all__ = ["WINDOW", "ProtocolError", "run_engine", "simulate", "where_in"]

_MS = 1_000_000
#: How a strategy's error names its window; :func:`where_in` names the iteration instead.
WINDOW = "of the window"


_WHEN = re.compile(rf"at step (\d+) \(t=(\d+(?:\.\d+)?) s {WINDOW}\)")


def where_in(error: StrategyError, iteration: int, offset_ns: int = 0) -> StrategyError:
    """``error`` naming the iteration whose window it happened in, at the iteration's time.

    A window that starts ``offset_ns`` into the iteration (a trial's window,
    :func:`soakkit.soak.trading.plan_windows`) counts its steps and time from its own
    start; the message gives the time from the iteration's start (what its
    ``ITER_SUMMARY`` and the market's minutes count from) and says where the window began.
    """
    text = str(error)

    def at(m: re.Match[str]) -> str:
        t = float(m.group(2)) + offset_ns / NS
        window = f" in the window from {offset_ns / NS:.3f} s" if offset_ns else ""
        return f"at step {m.group(1)}{window} (t={t:.3f} s of iteration {iteration})"

    text, found = _WHEN.subn(at, text, count=1)
    if not found:
        text = text.replace(WINDOW, f"of iteration {iteration}", 1)
    return StrategyError(text)


class ProtocolError(Exception):
    """A strategy answered with something the engine cannot act on (names what and when)."""


class _Venue:
    """The simulated venue's side of the loop: orders in flight, resting, and answers."""

    def __init__(self, tape: MarketTape, venue: Venue, rng: np.random.Generator,
                 params: Mapping[str, Value], ledger: Ledger) -> None:
        self.tape = tape
        self.venue = venue
        self.ledger = ledger
        self.sample = venue.latency.sampler(rng)
        self.gateway = Gateway(param(params, "concurrency_limit"),
                               venue.latency.round_trip_ms())
        self.limiter = venue.rate_limit.counter() if venue.rate_limit else None
        self.events = {1: SideEvents(tape, 1), -1: SideEvents(tape, -1)}
        self.end_ns = round(tape.duration_s * NS)
        self.arrivals: list[tuple[int, int, EngineOrder]] = []
        self.takers: list[tuple[int, int, EngineOrder]] = []
        self.reports: list[tuple[int, int, Report]] = []
        self.live: list[EngineOrder] = []
        self.seq = count()

    def activity(self, ns: int) -> float:
        return self.tape.activity_at(ns)

    def report(self, at_ns: int, report: Report) -> None:
        ack = self.sample("ack", self.activity(at_ns))
        heapq.heappush(self.reports, (at_ns + ack, next(self.seq), report))

    def advance(self, until: int) -> None:
        """Everything at the venue up to ``until`` (inclusive)."""
        while self.arrivals and self.arrivals[0][0] <= until:
            o = heapq.heappop(self.arrivals)[2]
            o.live = LiveOrder(self.events[o.side], o.price, o.arrive_ns, self.venue.queue,
                               self.venue.fills_whole,
                               through_fills_all=self.venue.through_fills_all)
            o.expired, o.front0 = o.live.expired, o.live.front0
            if o.expired:
                o.closed = True
                self.report(o.arrive_ns, Report("expired", o.id, o.arrive_ns, left=o.lots))
                continue
            if o.end_ns > o.arrive_ns:
                self.report(o.arrive_ns, Report("accepted", o.id, o.arrive_ns, left=o.lots))
            self.live.append(o)
        while self.takers and self.takers[0][0] <= until:
            self._execute(heapq.heappop(self.takers)[2])
        still = []
        for o in self.live:
            stop = min(until, o.end_ns)
            live = o.live
            assert live is not None
            for ns, avail in live.advance(stop):
                if o.filled >= o.lots:
                    break
                take = o.lots - o.filled if avail >= o.lots else int(avail) - o.filled
                if take > 0:
                    o.filled += take
                    self.ledger.fill(ns, o, take, o.price, 0)
                    self.report(ns, Report("fill", o.id, ns, take, o.price, o.lots - o.filled))
            if o.filled >= o.lots:
                o.closed = True
            elif o.end_ns <= until:
                o.closed = True
                self.report(o.end_ns, Report("cancelled", o.id, o.end_ns,
                                             left=o.lots - o.filled))
            else:
                still.append(o)
        self.live = still

    def _execute(self, o: EngineOrder) -> None:
        at = o.arrive_ns
        o.closed = True
        left = o.lots
        ack = self.sample("ack", self.activity(at))
        for price, lots, touch in walk_book(self.tape, at, o.side, o.lots):
            left -= lots
            o.filled += lots
            self.ledger.fill(at, o, lots, price, touch)
            heapq.heappush(self.reports, (at + ack, next(self.seq),
                                          Report("fill", o.id, at, lots, price, left)))

    def deliver(self, now: int) -> list[Report]:
        out = []
        while self.reports and self.reports[0][0] <= now:
            out.append(heapq.heappop(self.reports)[2])
        return out


class _Loop:
    """The strategy's side: its requests, its view of its orders and position."""

    def __init__(self, tape: MarketTape, venue: _Venue, ledger: Ledger, name: str) -> None:
        self.tape = tape
        self.v = venue
        self.ledger = ledger
        self.name = name
        self.views: dict[int, OrderView] = {}
        self.orders: dict[int, EngineOrder] = {}
        self.latest: dict[int, EngineOrder] = {}  #: last accepted maker order per side
        self.sided: set[int] = set()  #: sides the strategy has sent an order on
        self.reverts: dict[int, int] = {}  #: refused quote's id -> the order it kept
        self.position = 0
        self.ids = count(1)

    def hear(self, reports: list[Report]) -> None:
        views = self.views
        for r in reports:
            view = views.get(r.order_id)
            if r.kind == "fill":
                self.position += (view.side if view else self.orders[r.order_id].side) * r.lots
                if view is not None:
                    view.filled += r.lots
                    if r.left == 0:
                        del views[r.order_id]
            elif r.kind == "accepted":
                if view is not None and view.status == "sent":
                    view.status = "open"
            elif r.kind == "rejected" and view is not None and view.status == "cancelling":
                view.status = "open"  # a cancel the rate limit refused: the order stays
            else:
                if r.kind == "rejected" and r.order_id in self.reverts:  # a refused quote
                    old = views.get(self.reverts.pop(r.order_id))
                    if old is not None and old.status == "cancelling":
                        old.status = "open"
                if view is not None:
                    del views[r.order_id]

    def send(self, action: object, now: int, mid: float, where: str) -> None:
        """One action as the bot sends it; the bot's view shows what it sent, not yet
        whether the venue took it (a rejection comes back as an answer)."""
        if isinstance(action, Quote):
            self._check(action.side, action.price, action.lots, where, zero_ok=True)
            weight = 2.0 if action.side in self.sided else 1.0
            self.sided.add(action.side)
            accepted, sent, entry, cancel = self._request(now, weight)
            old = self.latest.get(action.side)
            held = old.id if old is not None and old.id in self.views else None
            if held is not None:
                self.views[held].status = "cancelling"
            if accepted and old is not None:
                old.end_ns = min(old.end_ns, sent + cancel)
            if action.lots > 0:
                new_id = self._order(action.side, action.price, action.lots, now, mid,
                                     accepted, sent, entry, maker=True)
            else:  # a cancel only: it still takes an id (ids follow the actions sent)
                new_id = next(self.ids)
                if not accepted:
                    self.v.report(sent + entry, Report("rejected", new_id, sent + entry))
            if not accepted and held is not None:
                self.reverts[new_id] = held  # the old order stays: back to open when heard
        elif isinstance(action, Place):
            self._check(action.side, action.price, action.lots, where)
            self.sided.add(action.side)
            accepted, sent, entry, _ = self._request(now, 1.0)
            self._order(action.side, action.price, action.lots, now, mid, accepted, sent,
                        entry, maker=True)
        elif isinstance(action, Take):
            self._check(action.side, 1, action.lots, where)
            accepted, sent, entry, _ = self._request(now, 1.0)
            self._order(action.side, 0, action.lots, now, mid, accepted, sent, entry,
                        maker=False)
        elif isinstance(action, Cancel):
            target = self.orders.get(action.order_id) if isinstance(action.order_id, int) \
                else None
            if target is None:
                raise ProtocolError(f"a cancel of order {action.order_id!r}, which it never "
                                    f"sent, {where}")
            accepted, sent, entry, cancel = self._request(now, 1.0)
            if target.id in self.views and not target.taker:
                self.views[target.id].status = "cancelling"
            if not accepted:
                self.v.report(sent + entry, Report("rejected", target.id, sent + entry))
            elif not target.closed and not target.taker:
                target.end_ns = min(target.end_ns, sent + cancel)
        else:
            raise ProtocolError(f"{action!r}, not an action (Place, Quote, Cancel or Take), "
                                f"{where}")

    def _check(self, side: Any, price: Any, lots: Any, where: str, zero_ok: bool = False
               ) -> None:
        ints = all(isinstance(x, int) and not isinstance(x, bool) for x in (side, price, lots))
        if not ints or side not in (1, -1) or price <= 0 or lots < (0 if zero_ok else 1) \
                or lots > 10**12:
            raise ProtocolError(f"side {side!r}, price {price!r}, lots {lots!r} {where}: "
                                "expected side +1 or -1, a price > 0 in integer ticks and "
                                f"{'0 or more' if zero_ok else '1 or more'} integer lots")

    def _request(self, now: int, weight: float) -> tuple[bool, int, int, int]:
        v = self.v
        wait = v.gateway.wait_ns(now, weight)
        sent = now + wait
        accepted = v.limiter.admit(sent, weight) if v.limiter is not None else True
        a = v.activity(sent)
        entry, cancel, ack = v.sample("entry", a), v.sample("cancel", a), v.sample("ack", a)
        self.ledger.request(accepted, (wait + entry + ack) / _MS)
        return accepted, sent, entry, cancel

    def _order(self, side: int, price: int, lots: int, now: int, mid: float, accepted: bool,
               sent: int, entry: int, maker: bool) -> int:
        o = EngineOrder(next(self.ids), side, price, lots, now, sent + entry, self.v.end_ns,
                        accepted, mid, not maker)
        self.orders[o.id] = o
        self.ledger.order(o)
        self.views[o.id] = OrderView(o.id, side, price, lots, taker=not maker)
        if not accepted:
            o.closed = True
            self.v.report(o.arrive_ns, Report("rejected", o.id, o.arrive_ns, left=lots))
        elif maker:
            self.latest[side] = o
            heapq.heappush(self.v.arrivals, (o.arrive_ns, o.id, o))
        else:
            heapq.heappush(self.v.takers, (o.arrive_ns, o.id, o))
        return o.id

    def carry(self, state: BookState) -> None:
        """Re-place the orders a previous window left resting, at this window's opening."""
        self.position = state.position_lots
        for c in state.orders:
            o = EngineOrder(next(self.ids), c.side, c.price, c.lots, 0, 0, self.v.end_ns,
                            True, float(self.tape.mid_px[0]) / self.tape.tick, False)
            self.orders[o.id] = o
            self.ledger.order(o)
            self.views[o.id] = OrderView(o.id, c.side, c.price, c.lots, status="open")
            self.latest[c.side] = o
            self.sided.add(c.side)
            heapq.heappush(self.v.arrivals, (0, o.id, o))


def run_engine(tape: MarketTape, strategy: Strategy, params: Mapping[str, Value],
               rng: np.random.Generator, venue: Venue | None = None,
               start: BookState | None = None, prior: QuotingPrior | None = None
               ) -> StrategyResult:
    """Run ``strategy`` on ``tape`` with the event loop; ``rng`` draws latencies only."""
    from soakkit.strategy.estimators import default_prior

    venue = venue or default_venue(tape.latency)
    start = start or FLAT
    dt = round(param(params, "min_interval_ms") * _MS)
    ticks = np.arange(int(np.ceil(tape.duration_s * NS / dt)), dtype=np.int64) * dt
    feed = venue.latency.draw("feed", tape.activity(ticks), rng)
    # the book the bot has (a recorded tape's receive times, or a drawn feed latency), and
    # the feed's time: never going back (a late message holds up the ones after it)
    seen_rows = np.maximum.accumulate(tape.seen_index(ticks, feed))
    seen = (np.maximum.accumulate(np.maximum(ticks - feed, 0)) if tape.quote_local_ns is None
            else tape.quote_ns[seen_rows])
    seen_q = seen_rows.tolist()
    seen_t = np.searchsorted(tape.trade_ns, seen, side="right").tolist()
    ledger = Ledger(tape, start.position_lots)
    v = _Venue(tape, venue, rng, params, ledger)
    loop = _Loop(tape, v, ledger, getattr(strategy, "label", "") or strategy.name
                 or type(strategy).__name__)
    loop.carry(start)
    bid_px, bid_qty = tape.bid_px.tolist(), tape.bid_qty.tolist()
    ask_px, ask_qty = tape.ask_px.tolist(), tape.ask_qty.tolist()
    rows = MarketRows(tape)
    last_t, last_q, k, now = 0, 0, 0, 0
    try:
        strategy.start(StrategyContext(tape.instrument, dict(params), v.end_ns, dt,
                                       prior or default_prior(), start))
        for k, now in enumerate(ticks.tolist()):
            v.advance(now)
            reports = v.deliver(now)
            loop.hear(reports)
            q, t = seen_q[k], seen_t[k]
            book = Book(bid_px[q], bid_qty[q], ask_px[q], ask_qty[q])
            step = Step(now, int(seen[k]), book, tuple(reports), loop.views, loop.position,
                        tape, (last_t, t), (last_q + 1, q + 1), rows)
            last_t, last_q = t, q
            actions = strategy.on_step(step)
            if actions:
                mid = float(tape.mid_px[q]) / tape.tick
                for i, action in enumerate(actions):
                    loop.send(action, now, mid, f"at step {k + 1} (t={now / NS:.3f} s {WINDOW}"
                                                f"), action {i + 1}")
        v.advance(v.end_ns)
    except ProtocolError as exc:
        raise StrategyError(f"strategy {loop.name} sent {exc}") from None
    except StrategyError:
        raise
    except Exception as exc:  # a strategy's own bug: one line naming it and where
        raise StrategyError(f"strategy {loop.name} raised {_describe(exc)} at step {k + 1} "
                            f"(t={now / NS:.3f} s {WINDOW})") from exc
    finally:
        strategy.finish()
    return build_result(tape, ledger, strategy, v.live, start)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"


def simulate(strategy: Strategy, tape: MarketTape, params: Mapping[str, Value],
             rng: np.random.Generator, venue: Venue | None = None,
             start: BookState | None = None, prior: QuotingPrior | None = None
             ) -> StrategyResult:
    """One window of ``strategy`` from ``start`` (flat by default): its vectorised form
    when it has one, else the event loop (:func:`run_engine`)."""
    venue = venue or default_venue(tape.latency)
    result = strategy.vectorised(tape, params, rng, venue, start or FLAT)
    if result is not None:
        return result
    return run_engine(tape, strategy, params, rng, venue, start, prior)


def carried(orders: list[EngineOrder]) -> tuple[RestingOrder, ...]:
    """The resting orders of a closed window, as the next one re-places them."""
    return tuple(RestingOrder(o.side, o.price, o.lots - o.filled) for o in orders
                 if not o.closed and o.lots > o.filled)

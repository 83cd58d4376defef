"""A two-sided market-making strategy driven by the tunable parameters, on a simulated venue.

How each parameter acts (constants in :mod:`soakkit.sim.regimes`; ``docs/SIMULATOR.md``):

* ``min_interval_ms`` – the bot's loop runs on a grid of this period and sees the book one
  feed latency late; it can requote only on a tick;
* it requotes when the mid it sees crosses a line of a ``requote_threshold_bps`` grid;
  ``replace_rate_per_min`` caps those requotes per second (⌊R(s+1)/60⌋ − ⌊Rs/60⌋ in
  second s); the excess is dropped and the stale quote stays up;
* ``tail_age_ms`` – after this long without a requote the bot cancels and re-places both
  quotes (which also replenishes a side that filled);
* quotes sit ``base_spread_bps + base_spread_bps_delta`` from the mid the bot saw, rounded
  outward to the tick, or with ``quote_from_touch`` ``touch_offset_ticks`` from the best
  price on their side (then a move of either desired price asks for the requote); a
  requote that leaves a side's price unchanged keeps that order (and its queue priority);
  a new price goes to the back of the new level's queue (:mod:`soakkit.sim.quotes`);
* quote size: ``quote_lots``, or ``impact_cap_ratio`` × the best levels' depth, capped at
  ``max_delta_ratio`` × ``position_limit_notional``, skewed against the known position;
  past the limit the bot unloads with a taker order back to ``unload_target_ratio`` × the
  limit;
* requests pass the bot's gateway (``concurrency_limit``) and the venue's rate limit, which
  rejects what goes over it: a rejected requote leaves the old order in the book.

Fills come from queue position (:mod:`soakkit.sim.matching`) and sizes from the inventory
walk (:mod:`soakkit.sim.inventory`). A run starts from a :class:`~soakkit.sim.carry.BookState`
(flat by default: no position, no orders) and ends with one: the position and the orders
still resting, with their queue place, for the next stretch of market to continue from. A
carried order stays in the book while the bot still wants its price.

This is the vectorised form of the legacy quoter (every decision of an iteration at once:
its prices do not depend on its fills). ``soakkit.strategy.legacy`` wraps it as the
built-in ``legacy`` strategy, beside the same quoter written for the event-driven engine,
and tests that both send the same orders and get the same fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from soakkit.config.params import Value
from soakkit.sim.carry import FLAT, BookState, RestingOrder
from soakkit.sim.inventory import Executions, InventoryInputs, run_inventory, skewed_size
from soakkit.sim.keyed import purpose, stream_key
from soakkit.sim.latency import EventKeys, gateway_wait_ns
from soakkit.sim.matching import find_opportunities, side_timeline
from soakkit.sim.quotes import base_lots, legacy_prices, param
from soakkit.sim.regimes import STRATEGY
from soakkit.sim.stats import median
from soakkit.sim.tape import NS, MarketTape
from soakkit.sim.venue import Venue, default_venue

__all__ = ["Fills", "OrderLog", "StrategyResult", "order_keys", "queue_ahead_p50",
           "run_strategy"]

_MS = 1_000_000


def queue_ahead_p50(tape: MarketTape, front0: np.ndarray, mid: np.ndarray,
                    joined: np.ndarray) -> float | None:
    """Median USD notional queued ahead of the orders that ``joined`` a level (None when
    none did): :attr:`StrategyResult.queue_ahead_usd_p50`."""
    if not joined.any():
        return None
    return median(tape.instrument.notional_usd(front0[joined], mid[joined])) * tape.lot


@dataclass(frozen=True)
class Fills:
    """Our fills, maker and taker, in time order (arrays aligned per fill)."""

    t: np.ndarray  #: time, s
    side: np.ndarray  #: +1 we bought, -1 we sold
    qty: np.ndarray  #: quantity (> 0): base units, or contracts of an inverse instrument
    price: np.ndarray  #: execution price
    mid: np.ndarray  #: mid just before the fill
    intended: np.ndarray  #: price the bot would have quoted or expected at that instant
    taker: np.ndarray  #: True for taker (unload) fills
    position: np.ndarray  #: position (base units) right after the fill
    lots: np.ndarray  #: int64 quantity in lots (exact)
    ticks: np.ndarray  #: int64 price in ticks (exact)
    position_lots: np.ndarray  #: int64 position in lots right after the fill (exact)
    order: np.ndarray  #: index of the maker order each fill belongs to (-1: taker unload)
    ns: np.ndarray  #: int64 time, ns since the window's start


@dataclass(frozen=True)
class OrderLog:
    """Every request the bot sent, in the order it sent them (arrays aligned per request)."""

    decide_ns: np.ndarray  #: when the bot decided (a loop tick)
    side: np.ndarray  #: +1 bid, -1 ask
    price: np.ndarray  #: int64 ticks
    arrive_ns: np.ndarray  #: when the order reached the matching engine
    end_ns: np.ndarray  #: when the cancel of its replacement arrived (or the window ended)
    accepted: np.ndarray  #: False: rejected by the rate limit
    expired: np.ndarray  #: post-only order that would have crossed on arrival
    front0: np.ndarray  #: lots ahead on arrival (+inf: behind the best level, unknown)
    size: np.ndarray  #: lots the bot asked for
    filled: np.ndarray  #: lots it got


@dataclass(frozen=True)
class StrategyResult:
    """What the strategy did in one iteration."""

    fills: Fills
    order_lifetimes_ms: np.ndarray  #: lifetime of every order that was cancelled
    order_filled: np.ndarray  #: whether each of those orders received a fill
    latencies_ms: np.ndarray  #: request round trips (gateway + entry + ack)
    requotes: dict[str, int]  #: quote decisions by cause: initial, move, refresh
    dropped_requotes: int  #: move requotes dropped by the replace budget
    unloads: int  #: taker unloads
    rejects: int = 0  #: requests the venue's rate limit rejected
    post_only_expired: int = 0  #: orders that would have crossed the book on arrival
    orders_placed: int = 0  #: orders that rested in the book
    orders_filled: int = 0  #: orders that rested and received at least one fill
    market_share: float = 0.0  #: our maker lots / all traded lots on the tape
    queue_ahead_usd_p50: float | None = None  #: median queue ahead when joining a level
    orders: OrderLog | None = None  #: every request (for analysis; not in the KPIs)
    start: BookState = FLAT  #: what the run started from
    end: BookState = FLAT  #: what it ends with: the next stretch's start


_param = param


@dataclass(frozen=True)
class _Decisions:
    ns: np.ndarray  #: decision times
    cause: np.ndarray  #: 0 initial, 1 move, 2 refresh
    bid: np.ndarray  #: desired prices (ticks)
    ask: np.ndarray
    base: np.ndarray  #: unskewed size (lots)
    mid: np.ndarray  #: seen mid
    dropped: int


def _keys(stream: int | None, *parts: np.ndarray) -> EventKeys | None:
    """The event keys of latency draws (None: draws in array order, :mod:`soakkit.sim.keyed`)."""
    return None if stream is None else (stream, tuple(np.asarray(p, np.int64) for p in parts))


def order_keys(decide_ns: np.ndarray, carried: np.ndarray) -> np.ndarray:
    """Each order's identity in the keys of its events' draws: its decision time, or for
    an order carried in (never decided in this window) ``-1 - k``, its index among the
    carried ones: a negative time, which no decision has, so a carried order never shares
    a draw with the requote the window's first tick sends on its side."""
    keys = np.asarray(decide_ns, np.int64).copy()
    keys[carried] = -1 - np.arange(int(np.count_nonzero(carried)), dtype=np.int64)
    return keys


def _decisions(tape: MarketTape, params: Mapping[str, Value], venue: Venue,
               rng: np.random.Generator, stream: int | None = None) -> _Decisions:
    """Loop ticks the bot acts on, what it saw (one feed delay late) and what it wants."""
    dt = round(_param(params, "min_interval_ms") * _MS)
    ticks = np.arange(int(np.ceil(tape.duration_s * NS / dt)), dtype=np.int64) * dt
    seen = tape.seen_index(ticks, venue.latency.draw("feed", tape.activity(ticks), rng,
                                                     _keys(stream, ticks)))
    mid = tape.mid_px[seen]
    move = np.zeros(ticks.size, dtype=bool)
    if _param(params, "quote_from_touch") >= 1:  # the touch moved: a desired price changed
        want = legacy_prices(mid, tape.bid_px[seen], tape.ask_px[seen], params, tape.tick)
        move[1:] = (want[0][1:] != want[0][:-1]) | (want[1][1:] != want[1][:-1])
    else:
        grid = np.floor(np.log(mid / tape.mid_start) * 1e4 / STRATEGY.requote_threshold_bps)
        move[1:] = grid[1:] != grid[:-1]
    # replace budget: keep the first cap(s) move requotes of each second s
    second = ticks // NS
    rate = _param(params, "replace_rate_per_min")
    cap = np.floor(rate * (second + 1) / 60.0) - np.floor(rate * second / 60.0)
    count = np.cumsum(move)
    first = np.searchsorted(second, second, side="left")
    rank = count - (count[first] - move[first])
    kept = move & (rank <= cap)
    chosen = np.concatenate(([0], np.flatnonzero(kept)))
    # tail-age refresh: in every gap longer than tail_age, re-place each tail_age
    age_ticks = max(1, int(np.ceil(_param(params, "tail_age_ms") * _MS / dt)))
    gaps = np.append(chosen[1:], ticks.size) - chosen
    inserts = np.maximum((gaps - 1) // age_ticks, 0)
    offset = np.arange(int(inserts.sum())) - np.repeat(np.cumsum(inserts) - inserts, inserts)
    refresh = np.repeat(chosen, inserts) + age_ticks * (offset + 1)
    slots = np.concatenate((chosen, refresh))
    cause = np.concatenate((np.ones(chosen.size, np.int8), np.full(refresh.size, 2, np.int8)))
    cause[0] = 0
    order = np.argsort(slots, kind="stable")
    slots, cause = slots[order], cause[order]

    q = seen[slots]
    m = mid[slots]
    bid, ask = legacy_prices(m, tape.bid_px[q], tape.ask_px[q], params, tape.tick)
    base = base_lots(m, tape.bid_qty[q], tape.ask_qty[q], params, tape.instrument)
    return _Decisions(ticks[slots], cause, bid, ask, base, m, int(move.sum() - kept.sum()))


@dataclass(frozen=True)
class _Requests:
    decide_ns: np.ndarray
    side: np.ndarray
    price: np.ndarray
    base: np.ndarray
    mid: np.ndarray
    weight: np.ndarray
    accepted: np.ndarray
    arrive_ns: np.ndarray
    cancel_ns: np.ndarray  #: when this request's cancel leg reaches the venue
    latency_ms: np.ndarray
    carried: np.ndarray  #: bool: an order carried in (resting from time 0, never sent)
    front_hint: np.ndarray  #: a carried order's queue ahead (NaN for new requests)


def _requests(tape: MarketTape, d: _Decisions, params: Mapping[str, Value], venue: Venue,
              rng: np.random.Generator, start: BookState, stream: int | None = None
              ) -> tuple[_Requests, np.ndarray]:
    """Per-side requests (a changed price, a refresh, the initial quote), gated and delayed.

    The orders ``start`` carries come first, resting from time 0; the initial quote of a
    side whose carried order already has the wanted price is not sent (it keeps its place).
    """
    parts = []
    for k, (sign, desired) in enumerate(((1, d.bid), (-1, d.ask))):
        changed = np.ones(desired.size, dtype=bool)
        changed[1:] = desired[1:] != desired[:-1]
        wanted = changed | (d.cause != 1)
        carried = start.order(sign)
        if carried is not None and desired.size and int(desired[0]) == carried.price:
            wanted[0] = False
        send = np.flatnonzero(wanted)
        parts.append((send * 2 + k, send, sign, desired[send]))
    key = np.concatenate([p[0] for p in parts])
    order = np.argsort(key, kind="stable")
    j = np.concatenate([p[1] for p in parts])[order]
    side = np.concatenate([np.full(p[1].size, p[2], np.int64) for p in parts])[order]
    price = np.concatenate([p[3] for p in parts])[order]
    # a new order is one request; a replace (cancel + new, of an order this window sent or
    # of one carried in) is a batch of two: the venue's rate-limit rule (docs/SIMULATOR.md)
    replaces = np.isin(side, [o.side for o in start.orders])
    weight = np.where((d.cause[j] == 0) & ~replaces, 1.0, 2.0)
    decide = d.ns[j]
    wait = gateway_wait_ns(decide, weight, _param(params, "concurrency_limit"),
                           venue.latency.round_trip_ms())
    sent = decide + wait
    by_sent = np.argsort(sent, kind="stable")
    accepted = np.ones(sent.size, dtype=bool)
    used: np.ndarray = np.zeros(0)
    if venue.rate_limit is not None:
        accepted[by_sent] = venue.rate_limit.accept(sent[by_sent], weight[by_sent])
        window_ns = round(venue.rate_limit.window_s * NS)
        used = np.bincount(sent // window_ns, weights=weight,
                           minlength=int(tape.duration_s * NS // window_ns) + 2)
    activity = tape.activity(sent)
    keys = _keys(stream, decide, side)  # a request: its decision time and side
    entry = venue.latency.draw("entry", activity, rng, keys)
    cancel = venue.latency.draw("cancel", activity, rng, keys)
    ack = venue.latency.draw("ack", activity, rng, keys)
    c = len(start.orders)
    zero = np.zeros(c, np.int64)
    r = _Requests(
        np.concatenate((zero, decide)),
        np.concatenate((np.array([o.side for o in start.orders], np.int64), side)),
        np.concatenate((np.array([o.price for o in start.orders], np.int64), price)),
        np.concatenate((np.array([o.lots for o in start.orders], np.float64), d.base[j])),
        np.concatenate((np.full(c, tape.mid_start), d.mid[j])),
        np.concatenate((np.zeros(c), weight)), np.concatenate((np.ones(c, bool), accepted)),
        np.concatenate((zero, sent + entry)), np.concatenate((zero, sent + cancel)),
        np.concatenate((np.full(c, np.nan), (wait + entry + ack) / _MS)),
        np.concatenate((np.ones(c, bool), np.zeros(decide.size, bool))),
        np.concatenate((np.array([o.front for o in start.orders], np.float64),
                        np.full(decide.size, np.nan))))
    return r, used


def _orders_end(r: _Requests, end_ns: int) -> np.ndarray:
    """Each accepted request's order lives until the next accepted one on its side cancels it."""
    end = np.full(r.side.size, end_ns, dtype=np.int64)
    for side in (1, -1):
        idx = np.flatnonzero(r.accepted & (r.side == side))
        end[idx[:-1]] = r.cancel_ns[idx[1:]]
    return np.minimum(end, end_ns)


def run_strategy(tape: MarketTape, params: Mapping[str, Value], rng: np.random.Generator,
                 venue: Venue | None = None, start: BookState = FLAT) -> StrategyResult:
    """Run the strategy with ``params`` against ``tape`` from ``start``; ``rng`` draws
    latencies only (keyed by event when the venue's latency is: one draw from ``rng`` gives
    the stream). The result's ``end`` is the state the next stretch starts from."""
    venue = venue or default_venue(tape.latency)
    stream = stream_key(rng) if venue.latency.keyed else None
    d = _decisions(tape, params, venue, rng, stream)
    r, used = _requests(tape, d, params, venue, rng, start, stream)
    end_ns = round(tape.duration_s * NS)
    end = _orders_end(r, end_ns)
    live = np.flatnonzero(r.accepted)
    expired = np.zeros(r.side.size, dtype=bool)
    front0 = np.full(r.side.size, np.inf)
    front_end = np.full(r.side.size, np.inf)
    owners, opp_ns, opp_avail = [], [], []
    for side in (1, -1):
        idx = live[r.side[live] == side]
        opp = find_opportunities(tape, side_timeline(tape, side), side, r.price[idx],
                                 r.arrive_ns[idx], end[idx], venue.queue,
                                 venue.fills_whole, r.front_hint[idx],
                                 through_fills_all=venue.through_fills_all)
        expired[idx] = opp.expired
        front0[idx] = opp.front0
        front_end[idx] = opp.front_end
        owners.append(np.repeat(idx, np.diff(opp.ptr)))
        opp_ns.append(opp.ns)
        opp_avail.append(opp.avail)
    owner = np.concatenate(owners)
    by_owner = np.argsort(owner, kind="stable")
    owner = owner[by_owner]
    ptr = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=r.side.size))))
    o_ns = np.concatenate(opp_ns)[by_owner]
    activity = tape.activity(o_ns)
    pool_activity = np.full(64, float(tape.messages / max(tape.duration_s, 1e-9))
                            / tape.latency.activity_ref_per_s)
    pool_keys = _keys(stream, np.arange(64), np.full(64, purpose("unload")))
    window_ns = round((venue.rate_limit.window_s if venue.rate_limit else 1.0) * NS)
    free = (np.maximum(venue.rate_limit.requests - used, 0.0) if venue.rate_limit
            else np.full(int(tape.duration_s * NS // window_ns) + 2, 1e18))
    limit = _param(params, "position_limit_notional")
    ids = order_keys(r.decide_ns, r.carried)  # a fill's ack: its time, order and side
    ex = run_inventory(tape, InventoryInputs(
        decide_ns=r.decide_ns, side=r.side, price=r.price, base=r.base, mid=r.mid, ptr=ptr,
        opp_ns=o_ns, opp_avail=np.concatenate(opp_avail)[by_owner],
        opp_ack_ns=venue.latency.draw("ack", activity, rng,
                                      _keys(stream, o_ns, ids[owner], r.side[owner])),
        tick_ns=round(_param(params, "min_interval_ms") * _MS),
        unload_entry_ns=venue.latency.draw("entry", pool_activity, rng, pool_keys),
        unload_ack_ns=venue.latency.draw("ack", pool_activity, rng, pool_keys),
        window_ns=window_ns, window_free=free, fixed=r.carried,
        start_lots=start.position_lots), limit, STRATEGY.skew_strength,
        STRATEGY.unload_target_ratio)
    return _result(tape, params, d, r, end, expired, (front0, front_end), ex, limit, start)


def _result(tape: MarketTape, params: Mapping[str, Value], d: _Decisions, r: _Requests,
            end: np.ndarray, expired: np.ndarray, fronts: tuple[np.ndarray, np.ndarray],
            ex: Executions, limit: float, start: BookState) -> StrategyResult:
    front0, front_end = fronts
    position_lots = start.position_lots + np.cumsum(ex.side * ex.lots)
    before = np.maximum(tape.quote_index(ex.ns - 1), 0)
    mid = tape.mid_px[before]
    if _param(params, "quote_from_touch") >= 1:  # what the bot would quote at the fill
        bid, ask = legacy_prices(mid, tape.bid_px[before], tape.ask_px[before], params,
                                 tape.tick)
        quote = np.where(ex.side > 0, bid, ask) * tape.tick
    else:
        half = (_param(params, "base_spread_bps") + _param(params, "base_spread_bps_delta")) / 1e4
        quote = mid * (1.0 - ex.side * half)
    fills = Fills(
        t=ex.ns / NS, side=ex.side.astype(np.float64), qty=ex.lots * tape.lot,
        price=ex.price * tape.tick, mid=mid,
        intended=np.where(ex.taker, ex.touch * tape.tick, quote),
        taker=ex.taker, position=position_lots * tape.lot, lots=ex.lots, ticks=ex.price,
        position_lots=position_lots, order=ex.order, ns=ex.ns)

    # which orders rested, and how each ended: filled in full, cancelled, or still up
    ack_order = np.argsort(ex.ack_ns, kind="stable")
    heard = start.position_lots + np.concatenate(([0], np.cumsum((ex.side * ex.lots)[ack_order])))
    known = heard[np.searchsorted(ex.ack_ns[ack_order], r.decide_ns, side="right")]
    inst = tape.instrument
    size = np.where(r.carried, r.base.astype(np.int64),
                    skewed_size(r.base, r.side, known * inst.lot_scale * inst.price_term(r.mid),
                                limit, STRATEGY.skew_strength))
    maker = ~ex.taker
    got = np.bincount(ex.order[maker], weights=ex.lots[maker], minlength=r.side.size)
    end_ns = round(tape.duration_s * NS)
    live = r.accepted & ~expired & (end > r.arrive_ns) & ((size > 0) | (got > 0))
    placed = live & ~r.carried
    cancelled = live & (got < size) & (end < end_ns)
    joined = placed & np.isfinite(front0) & (front0 > 0)
    age = np.array([o.age_ms for o in start.orders] + [0.0] * (r.side.size - len(start.orders)))
    had_fill = np.array([o.filled for o in start.orders]
                        + [False] * (r.side.size - len(start.orders))) | (got > 0)
    resting = []
    for side in (1, -1):
        idx = np.flatnonzero(r.accepted & (r.side == side))
        k = int(idx[-1]) if idx.size else -1
        if k >= 0 and live[k] and r.arrive_ns[k] < end_ns and size[k] > got[k]:
            resting.append(RestingOrder(side, int(r.price[k]), int(size[k] - got[k]),
                                        float(front_end[k]),
                                        round(float(age[k] + (end_ns - r.arrive_ns[k]) / _MS), 6),
                                        bool(had_fill[k])))
    final = BookState(int(position_lots[-1]) if position_lots.size else start.position_lots,
                      tuple(resting), float(tape.mid_end))
    traded = float(tape.trade_qty.sum())
    return StrategyResult(
        fills=fills,
        order_lifetimes_ms=(end[cancelled] - r.arrive_ns[cancelled]) / _MS + age[cancelled],
        order_filled=had_fill[cancelled],
        latencies_ms=np.concatenate((r.latency_ms[~r.carried], ex.unload_latency_ms)),
        requotes={"initial": int((d.cause == 0).sum()), "move": int((d.cause == 1).sum()),
                  "refresh": int((d.cause == 2).sum())},
        dropped_requotes=d.dropped,
        unloads=ex.unloads,
        rejects=int((~r.accepted).sum()) + ex.unload_rejects,
        post_only_expired=int((r.accepted & expired & ~r.carried).sum()),
        orders_placed=int(placed.sum()),
        orders_filled=int((placed & (got > 0)).sum()),
        market_share=float(ex.lots[maker].sum() / traded) if traded > 0 else 0.0,
        queue_ahead_usd_p50=queue_ahead_p50(tape, front0, r.mid, joined),
        orders=OrderLog(r.decide_ns, r.side, r.price, r.arrive_ns, end, r.accepted, expired,
                        front0, size, got.astype(np.int64)),
        start=start, end=final,
    )

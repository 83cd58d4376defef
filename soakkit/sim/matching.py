"""Where our resting orders could fill: queue position against the tape, for many orders at once.

Each order rests at price ``P`` on one side from its arrival at the matching engine to
the arrival of its cancel, seeing the tape's events in ``(arrive, end]`` (an event at the
very nanosecond the order arrives was processed first, as in hftbacktest). At arrival:

* a post-only order that would cross or lock the book is **expired** (no fill, no fee);
* the quantity ahead of it (``front``) is the displayed depth when it joins the best
  level, 0 when it improves on it; when it rests behind it, the depth an L2 tape shows at
  its price (0 where the depth shows the price empty), and unknown (+inf) where the tape
  cannot tell (an L1 tape; a price beyond the depth's last level); the first time its
  level shows as best, ``front`` is capped by the displayed depth.

Then, for a bid (asks mirror it), over the events of its life:

* a sell trade at ``P`` takes ``front`` down by its quantity; what goes beyond ``front``
  is available to us (``available = −front``);
* a sell trade below ``P`` went *through* our price: partial fills add the trade's
  quantity to what is available (we were ahead of everything it took); with
  ``through_fills_all`` (whole fills, hftbacktest's partial fills) it fills us;
* a depth update of the best bid at ``P`` moves ``front`` by the queue model; the best bid
  falling below ``P`` means our level emptied: ``front = min(front, 0)``;
* on an L2 tape, a change of the depth at ``P`` while ``P`` is behind the best bid moves
  ``front`` by the queue model too (the L1 quote rows stay the authority at the best
  level; a level coming into the depth's view starts from an unknown previous depth);
* the best ask at or below ``P`` crossed us: the whole order fills.

An order carried from the previous stretch of market (:mod:`soakkit.sim.carry`) arrives at
time 0 with the queue place it had (``front_hint``), capped by the displayed depth when
its level is the best.

The result per order is its *opportunities*: the times at which the cumulative quantity
available to it, rounded to whole lots (half a lot rounds up, as hftbacktest rounds), grew,
and that cumulative quantity (+inf: everything). Our own orders never change the tape
and each sees every trade (no market impact), as in hftbacktest. The order's size is not
needed here: how much of an opportunity we take is the strategy's business
(:mod:`soakkit.sim.strategy`), which is why this part can run for all orders at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.queue import QueueModel
from soakkit.sim.tape import MarketTape

__all__ = ["Opportunities", "SideTimeline", "find_opportunities", "side_timeline"]

_LEVEL, _THROUGH, _CROSS, _DEPTH, _GONE = 0, 1, 2, 3, 4
_FAR = np.iinfo(np.int64).max // 4  #: "no opposite price" (trades, depth levels)


@dataclass(frozen=True)
class SideTimeline:
    """The events one side's orders can react to, in bid-like prices (asks negated)."""

    ns: np.ndarray  #: int64 event times
    is_trade: np.ndarray  #: bool
    px: np.ndarray  #: trade price, our side's best price, or a level's price (bid-like ticks)
    qty: np.ndarray  #: trade quantity, our side's best depth, or the level's depth (lots)
    opp: np.ndarray  #: the opposite best price (bid-like ticks; trades and levels: +big)
    is_level: np.ndarray | None = None  #: bool: a depth change behind the best (L2 tapes)
    fresh: np.ndarray | None = None  #: bool: that level was not in view before


def side_timeline(tape: MarketTape, side: int) -> SideTimeline:
    """Trades that can fill ``side``'s orders and the quote rows that change what they see.

    ``side`` +1: bids (sell trades, best bid, best ask); -1: asks, prices negated.
    """
    if side > 0:
        own_px, own_qty, opp_px = tape.bid_px, tape.bid_qty, tape.ask_px
    else:
        own_px, own_qty, opp_px = -tape.ask_px, tape.ask_qty, -tape.bid_px
    keep = np.ones(tape.quote_ns.size, dtype=bool)
    keep[1:] = ((own_px[1:] != own_px[:-1]) | (own_qty[1:] != own_qty[:-1])
                | (opp_px[1:] < opp_px[:-1]))
    keep[0] = False  # the opening book initialises orders; it is not an event
    q = np.flatnonzero(keep)
    trades = np.flatnonzero(tape.trade_side == -side)
    t_ns, q_ns = tape.trade_ns[trades], tape.quote_ns[q]
    n = trades.size + q.size
    at_trade = np.arange(trades.size) + np.searchsorted(q_ns, t_ns, side="left")
    is_trade = np.zeros(n, dtype=bool)
    is_trade[at_trade] = True
    at_quote = np.flatnonzero(~is_trade)
    ns = np.empty(n, np.int64)
    px = np.empty(n, np.int64)
    qty = np.empty(n, np.float64)
    opp = np.full(n, _FAR, np.int64)
    ns[at_trade], ns[at_quote] = t_ns, q_ns
    px[at_trade] = tape.trade_px[trades] * side
    px[at_quote] = own_px[q]
    qty[at_trade], qty[at_quote] = tape.trade_qty[trades], own_qty[q]
    opp[at_quote] = opp_px[q]
    if tape.depth is None:
        return SideTimeline(ns, is_trade, px, qty, opp)
    return _with_levels(tape, SideTimeline(ns, is_trade, px, qty, opp), own_px, side)


def _with_levels(tape: MarketTape, tl: SideTimeline, own_px: np.ndarray, side: int
                 ) -> SideTimeline:
    """``tl`` with the L2 depth changes behind the best level merged in (after the L1
    events of the same time)."""
    assert tape.depth is not None
    lv = tape.depth.level_events(side)
    behind = lv.px < own_px[np.maximum(tape.quote_index(lv.ns), 0)]
    l_ns, l_px, l_qty, l_fresh = lv.ns[behind], lv.px[behind], lv.qty[behind], lv.fresh[behind]
    at = np.arange(l_ns.size) + np.searchsorted(tl.ns, l_ns, side="right")
    n = tl.ns.size + l_ns.size
    level = np.zeros(n, dtype=bool)
    level[at] = True
    source = np.empty(n, np.int64)  # where each merged event comes from: L1 first, levels
    source[~level] = np.arange(tl.ns.size)
    source[at] = tl.ns.size + np.arange(l_ns.size)
    fresh = np.zeros(n, dtype=bool)
    fresh[at] = l_fresh
    return SideTimeline(np.concatenate((tl.ns, l_ns))[source],
                        np.concatenate((tl.is_trade, np.zeros(l_ns.size, bool)))[source],
                        np.concatenate((tl.px, l_px))[source],
                        np.concatenate((tl.qty, l_qty))[source],
                        np.concatenate((tl.opp, np.full(l_ns.size, _FAR, np.int64)))[source],
                        level, fresh)


@dataclass(frozen=True)
class Opportunities:
    """Per order: whether it expired, the queue ahead at arrival, and its fill chances."""

    expired: np.ndarray  #: bool per order: post-only order crossed the book at arrival
    front0: np.ndarray  #: lots ahead at arrival (+inf: behind the best level, unknown)
    ptr: np.ndarray  #: CSR offsets into ns/avail (size orders + 1)
    ns: np.ndarray  #: int64 time of each opportunity
    avail: np.ndarray  #: cumulative whole lots available to the order (+inf: all of it)
    front_end: np.ndarray  #: lots ahead of each order after its last event (>= 0, +inf unknown)


def _classify(tl: SideTimeline, ev: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Kind of each (order, event) pair, -1 for events that cannot matter to the order."""
    trade = tl.is_trade[ev]
    px = tl.px[ev]
    kind = np.full(ev.size, -1, np.int8)
    kind[trade & (px == price)] = _LEVEL
    kind[trade & (px < price)] = _THROUGH
    quote = ~trade
    if tl.is_level is not None:  # a depth change behind the best: only its own price matters
        level = tl.is_level[ev]
        quote &= ~level
        kind[level & (px == price)] = _DEPTH
    kind[quote & (px == price)] = _DEPTH
    kind[quote & (px < price)] = _GONE
    kind[quote & (tl.opp[ev] <= price)] = _CROSS
    return kind


def find_opportunities(tape: MarketTape, tl: SideTimeline, side: int, price: np.ndarray,
                       arrive_ns: np.ndarray, end_ns: np.ndarray, queue: QueueModel,
                       whole: bool, front_hint: np.ndarray | None = None, *,
                       through_fills_all: bool = False) -> Opportunities:
    """Fill opportunities of orders on one ``side`` (+1 bid, -1 ask) at ``price`` ticks.

    ``whole``: the first chance fills the whole order; ``through_fills_all``: a trade
    through the price fills everything left (both: :class:`soakkit.sim.venue.Venue`).
    ``front_hint`` (NaN: none) is the queue ahead of a carried order, which keeps its place.
    """
    n = price.size
    p = price.astype(np.int64) * side  # bid-like
    q0 = np.maximum(tape.quote_index(arrive_ns), 0)
    if side > 0:
        own_px, own_qty, opp_px = tape.bid_px[q0], tape.bid_qty[q0], tape.ask_px[q0]
    else:
        own_px, own_qty, opp_px = -tape.ask_px[q0], tape.ask_qty[q0], -tape.bid_px[q0]
    expired = opp_px <= p
    front0 = np.where(own_px == p, own_qty, np.where(own_px < p, 0.0, np.inf))
    if front_hint is not None:
        kept = ~np.isnan(front_hint)
        front0[kept] = np.where(own_px == p, np.minimum(front_hint, own_qty),
                                np.where(own_px < p, 0.0, front_hint))[kept]
    last_q0 = np.where(own_px == p, own_qty, np.where(own_px < p, 0.0, np.nan))
    if tape.depth is not None:  # behind the best: what the depth shows at our price
        behind = np.flatnonzero(own_px > p)
        shown = tape.depth.level_qty(side, tape.depth.row_at(arrive_ns[behind]), p[behind])
        known = ~np.isnan(shown)
        front0[behind[known]] = shown[known]
        last_q0[behind[known]] = shown[known]

    lo = np.searchsorted(tl.ns, arrive_ns, side="right")
    hi = np.where(expired, lo, np.maximum(np.searchsorted(tl.ns, end_ns, side="right"), lo))
    count = hi - lo
    owner = np.repeat(np.arange(n), count)
    ev = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count) + lo[owner]
    kind = _classify(tl, ev, p[owner])
    keep = kind >= 0
    owner, ev, kind = owner[keep], ev[keep], kind[keep]
    repeat = np.zeros(owner.size, dtype=bool)  # a level already gone stays gone
    repeat[1:] = (kind[1:] == _GONE) & (kind[:-1] == _GONE) & (owner[1:] == owner[:-1])
    owner, ev, kind = owner[~repeat], ev[~repeat], kind[~repeat]
    avail, front_k = _advance(owner, ev, kind, tl, n, front0, last_q0, queue,
                              whole or through_fills_all)
    front_end = front0.astype(np.float64).copy()
    if owner.size:
        last = np.ones(owner.size, dtype=bool)
        last[:-1] = owner[1:] != owner[:-1]
        front_end[owner[last]] = np.maximum(front_k[last], 0.0)

    # opportunities: where the order's rounded available quantity grows
    rounded = np.floor(avail + 0.5)
    first = np.ones(owner.size, dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    prev = np.concatenate(([0.0], rounded[:-1]))
    prev[first] = 0.0
    grows = rounded > prev
    sel = np.flatnonzero(grows)
    if whole:  # only the first chance matters: the whole order fills there
        firsts = np.ones(sel.size, dtype=bool)
        firsts[1:] = owner[sel][1:] != owner[sel][:-1]
        sel = sel[firsts]
        rounded[sel] = np.inf
    ptr = np.concatenate(([0], np.cumsum(np.bincount(owner[sel], minlength=n))))
    return Opportunities(expired, front0, ptr, tl.ns[ev[sel]], rounded[sel], front_end)


def _segment_cumsum(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting where ``first`` is True."""
    total = np.cumsum(values)
    starts = np.flatnonzero(first)
    offset = (total - values)[starts]
    return np.asarray(total - np.repeat(offset, np.diff(np.append(starts, values.size))))


def _advance(owner: np.ndarray, ev: np.ndarray, kind: np.ndarray, tl: SideTimeline, n: int,
             front0: np.ndarray, last_q0: np.ndarray, queue: QueueModel,
             through_fills_all: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative available lots after each (order, event) pair, and the front there.

    Trades at our price move ``front`` linearly, so they are running sums; only depth
    updates need the queue model, and those are taken one per order per step, all orders
    together (sorted by their number of updates, the active orders are a prefix).
    """
    m = owner.size
    if m == 0:
        return np.zeros(0), np.zeros(0)
    qty = tl.qty[ev]
    first = np.ones(m, dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    traded = _segment_cumsum(np.where(kind == _LEVEL, qty, 0.0), first)
    through = _segment_cumsum(np.where(kind == _THROUGH, qty, 0.0), first)
    stop = (kind == _CROSS) | ((kind == _THROUGH) & through_fills_all)
    done = _segment_cumsum(stop.astype(np.float64), first) > 0

    at = np.flatnonzero((kind == _DEPTH) | (kind == _GONE))
    after = np.full(m, np.nan)
    if at.size:
        d_owner = owner[at]
        count = np.bincount(d_owner, minlength=n)
        start = np.cumsum(count) - count
        order = np.argsort(-count, kind="stable")
        sorted_count = count[order]
        base = start[order]
        front = front0[order].astype(np.float64)
        last_q = last_q0[order].astype(np.float64)
        seen = np.zeros(n)
        steps = int(sorted_count[0])
        actives = np.searchsorted(-sorted_count, -np.arange(steps), side="left").tolist()
        for k in range(steps):
            active = actives[k]  # orders with more than k depth updates
            e = at[base[:active] + k]
            cum = traded[e]
            moved = cum - seen[:active]
            before = front[:active] - moved
            new = np.where(kind[e] == _GONE, 0.0, qty[e])
            prev = last_q[:active] if tl.fresh is None else np.where(
                tl.fresh[ev[e]], np.nan, last_q[:active])  # a level coming into view
            res = queue.on_depth(before, prev, new, moved)
            after[e] = res
            front[:active] = res
            seen[:active] = cum
            last_q[:active] = new
    # front after each entry: from the last depth update at or before it, minus trades since
    pos = np.where(np.isnan(after), -1, np.arange(m))
    last = np.maximum.accumulate(pos)
    owner_start = np.flatnonzero(first)[np.cumsum(first) - 1]
    has = last >= owner_start
    safe = np.maximum(last, 0)
    front_k = np.where(has, after[safe] - (traded - traded[safe]), front0[owner] - traded)
    avail = np.where(done, np.inf, np.maximum(-front_k, 0.0) + through)
    return np.asarray(avail), np.asarray(np.where(done, 0.0, front_k))

"""The synthetic book's best levels: prices that move because displayed depth runs out.

Each side's best level holds a displayed quantity that the event stream changes: other
makers add lots and cancel shares of it, taker orders take (a buy takes from the ask), a
fade pulls the whole level (:mod:`soakkit.sim.levels`). **A level goes when its quantity
runs out** — taken by takers, or faded — and never otherwise: a price moves through a level
only after the queue at that level is gone, as on a venue (Cont & de Larrard 2013, with
gaps). When a level goes, the next one shows: a gap of ticks further (exponential, the
regime's mean) with its own quantity (the level-behind-the-best depth law); a taker order
larger than the level walks on, level after level, the k-th holding k^``walk_growth`` times
a draw of the walk depth law (real books thicken away from the touch: a large order moves
the price less than in proportion to its size). The spread is then wider than usual; the
next improvement (a maker posting inside the spread) closes it — by the other side
**following** the move (``follow_share`` of the time) or by the same side coming back. A
jump shifts both sides; the start of every minute re-centres the book on the minute's
regime (a jump of 0).

The only sequential part is the chain of price changes. Each link asks *when does this
side's level run out?*, answered for every possible starting event at once
(:meth:`SideLevels.runs_out`), and the chain is then walked in plain Python, one step per
price change (a few per second of market).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.levels import SideLevels

__all__ = ["Book", "BookInputs", "run_book"]

TAKER, ADD_MSG, CANCEL_MSG, IMPROVE, FADE, JUMP = 0, 1, 2, 3, 4, 5  #: event kinds


@dataclass(frozen=True)
class BookInputs:
    """The merged event stream (index 0 is the opening, event k is index k + 1)."""

    kind: np.ndarray  #: int8 event kind (index 0: the opening, JUMP)
    side: np.ndarray  #: int8: taker +1 buy / -1 sell; maker, fade: +1 bid / -1 ask; jump: sign
    lots: np.ndarray  #: int64: taker size; an add's size; jump size in ticks
    keep: np.ndarray  #: float: log of the share of the level a cancel leaves (0 otherwise)
    base: np.ndarray  #: int64 usual spread (ticks) at each event
    gap: np.ndarray  #: int64 ticks to the next level when a level goes, per event
    revealed: np.ndarray  #: int64 (n, 2) depth of a revealed level (bid, ask) per event
    fresh: np.ndarray  #: int64 (n, 2) depth of an improving level (bid, ask) per event
    follow: np.ndarray  #: bool: an improvement at this event follows the last move
    walk_depth: list[int]  #: depths of the levels a sweep walks through (used in turn)
    walk_gap: list[int]  #: their gaps (ticks)
    walk_growth: np.ndarray  #: float per event: the k-th walked level holds depth × k^this
    bid0: int  #: the opening best bid (ticks)


@dataclass(frozen=True)
class Book:
    """The best levels after every event, and the levels each sweeping taker took."""

    bid_px: np.ndarray  #: int64 per index
    ask_px: np.ndarray
    bid_qty: np.ndarray  #: int64 lots (at least 1)
    ask_qty: np.ndarray
    sweeps: dict[int, list[tuple[int, int]]]  #: index → [(price ticks, lots)] level by level


def _side(x: BookInputs, book_side: int) -> SideLevels:
    """One side's depth process (+1 bid, -1 ask)."""
    own = x.side == book_side
    taken = (x.kind == TAKER) & (x.side == -book_side)  # a sell takes the bid
    change = np.where(taken, -x.lots, np.where(own & (x.kind == ADD_MSG), x.lots, 0))
    keep = np.where(own & (x.kind == CANCEL_MSG), x.keep, 0.0)
    return SideLevels(keep, change.astype(np.float64), own & (x.kind == FADE))


def run_book(x: BookInputs) -> Book:
    """Walk the chain of price changes over the event stream (module doc)."""
    n = x.kind.size
    sides = {1: _side(x, 1), -1: _side(x, -1)}
    # the depth a side starts with when it resets at an index: fresh at improvements
    start = {s: np.where(x.kind == IMPROVE, x.fresh[:, c], x.revealed[:, c]).astype(np.float64)
             for s, c in ((1, 0), (-1, 1))}
    nxt = {s: sides[s].runs_out(start[s]).tolist() for s in (1, -1)}
    special = np.flatnonzero((x.kind == IMPROVE) | (x.kind == JUMP))
    after = np.searchsorted(special, np.arange(n), side="right")  # next special > i
    next_special = np.append(special, n)[after].tolist()
    kind, lots, base = x.kind.tolist(), x.lots.tolist(), x.base.tolist()
    gap, follow, growth = x.gap.tolist(), x.follow.tolist(), x.walk_growth.tolist()
    walk_d, walk_g = x.walk_depth, x.walk_gap
    walked = 0

    bid, ask = x.bid0, x.bid0 + base[0]
    rb = ra = 0  # where each side last reset
    last_lost = 0  # +1 the bid went, -1 the ask went, 0 the spread is usual
    change_at, change_bid, change_ask = [0], [bid], [ask]
    reset_b, reset_a = [0], [0]
    sweeps: dict[int, list[tuple[int, int]]] = {}
    pos = 0
    while True:
        ja, jb = nxt[-1][ra], nxt[1][rb]
        js = next_special[pos]
        while js < n and kind[js] == IMPROVE and last_lost == 0:
            js = next_special[js]  # an improvement of a usual spread changes nothing
        e = min(ja, jb, js)
        if e >= n:
            break
        if e == js and kind[e] == JUMP:
            mid2 = bid + ask + 2 * lots[e]
            bid = (mid2 - base[e]) // 2
            ask = bid + base[e]
            ra = rb = e
            reset_a.append(e)
            reset_b.append(e)
            last_lost = 0
        elif e == js:  # an improvement closes the widened spread
            if (last_lost == -1) == bool(follow[e]):  # the bid moves up to the ask
                bid = ask - base[e]
                rb = e
                reset_b.append(e)
            else:
                ask = bid + base[e]
                ra = e
                reset_a.append(e)
            last_lost = 0
        else:  # a side's level ran out
            s = 1 if e == jb else -1
            moved = gap[e]
            if kind[e] == TAKER:  # a sweep: what was left, then level after level
                r = rb if s == 1 else ra
                shown = max(1, round(sides[s].depth(r, start[s][r], e - 1)))
                left = lots[e] - shown
                touch = bid if s == 1 else ask
                levels = [(touch, shown)]
                grow = growth[e]
                while left > 0 and len(levels) <= 50:
                    depth = walk_d[walked % len(walk_d)]
                    if grow:  # deeper levels hold more (0: every level alike)
                        depth = max(1, round(depth * len(levels) ** grow))
                    if left < depth:
                        break
                    levels.append((touch - s * moved, depth))
                    moved += walk_g[walked % len(walk_g)]
                    walked += 1
                    left -= depth
                if left > 0:
                    levels.append((touch - s * moved, left))
                sweeps[e] = levels
            if s == 1:
                bid -= moved
                rb = e
                reset_b.append(e)
            else:
                ask += moved
                ra = e
                reset_a.append(e)
            last_lost = s
        change_at.append(e)
        change_bid.append(bid)
        change_ask.append(ask)
        pos = e
    at = np.searchsorted(np.asarray(change_at), np.arange(n), side="right") - 1
    qty = [np.maximum(1, np.round(sides[s].depths(np.asarray(r, dtype=np.int64), start[s])))
           .astype(np.int64) for s, r in ((1, reset_b), (-1, reset_a))]
    return Book(np.asarray(change_bid, dtype=np.int64)[at],
                np.asarray(change_ask, dtype=np.int64)[at], qty[0], qty[1], sweeps)

"""What ``fill_anatomy.py`` measures on one traded iteration: its fills and its excursions.

Everything here is read off what the engine already returns for an iteration (the
:class:`~soakkit.sim.tape.MarketTape` traded and the
:class:`~soakkit.sim.strategy.StrategyResult`, whose ``orders`` log has every request's
decision, arrival and cancel-arrival time and whose ``fills.order`` names the order each
fill belongs to); nothing in ``soakkit/sim`` is changed or re-run.

Conventions: ``side`` +1 is our bid (filled by sell trades, hurt by the mid falling), -1
our ask; prices are made *bid-like* (asks negated) so "through" is always "below". A
distance is in units of the profile's quote distance ``d`` (``base_spread_bps`` +
``base_spread_bps_delta``): 1 = a quote sitting ``d`` from the mid, 0 = at the mid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from soakkit.config.params import Value
from soakkit.sim.regimes import STRATEGY
from soakkit.sim.strategy import StrategyResult
from soakkit.sim.tape import NS, MarketTape

_MS = 1_000_000
#: orders of one side that can be live at once (a replacement arrives before the cancel of
#: the order it replaces: two; gateway waits and latency tails: a few more)
_OVERLAP = 8


@dataclass(frozen=True)
class Settings:
    """How excursions are found and what "one reaction" of the bot is."""

    window_ms: int = 1000  #: an excursion: the mid moves ``d`` within this long ...
    grid_ms: int = 100  #: ... from a start on this grid (both as in docs/SIMULATOR.md)


@dataclass(frozen=True)
class Traded:
    """One iteration as the bench saw it."""

    tape: MarketTape
    result: StrategyResult
    params: Mapping[str, Value]

    @property
    def d_bps(self) -> float:
        """The profile's quote distance from the mid, bps."""
        return float(self.params["base_spread_bps"]) + float(self.params["base_spread_bps_delta"])

    @property
    def loop_ms(self) -> float:
        return float(self.params["min_interval_ms"])

    @property
    def feed_ms(self) -> float:
        """Median market-data delay: a replay's own receive times, else the model's median."""
        local = self.tape.quote_local_ns
        if local is not None and local.size > 1:
            return float(np.median(local[1:] - self.tape.quote_ns[1:])) / _MS
        return float(self.tape.latency.feed_ms)

    @property
    def reaction_ms(self) -> float:
        """The longest a quote stays up once the market has moved, at median latencies:
        the feed delay, a whole loop period to the next tick, the cancel leg's delay."""
        return self.feed_ms + self.loop_ms + float(self.tape.latency.cancel_ms)


def _mid_at(tape: MarketTape, ns: np.ndarray) -> np.ndarray:
    return np.asarray(tape.mid_px[np.maximum(tape.quote_index(ns), 0)])


def _toward(side: np.ndarray | int, mid_from: np.ndarray, mid_to: np.ndarray) -> np.ndarray:
    """How far the mid went towards ``side``'s quote (bps, positive: towards it)."""
    return np.asarray(side * (mid_from - mid_to) / mid_from * 1e4)


class LiveQuotes:
    """Which of our orders rested when: the bid-like price of each side's best live order."""

    def __init__(self, t: Traded) -> None:
        o = t.result.orders
        assert o is not None, "the vectorised engine logs every request"
        fills = t.result.fills
        maker = ~fills.taker
        n = o.side.size
        got = np.bincount(fills.order[maker], weights=fills.lots[maker], minlength=n)
        last_fill = np.zeros(n, np.int64)
        np.maximum.at(last_fill, fills.order[maker], fills.ns[maker])
        done = np.where((got >= o.size) & (got > 0), last_fill, o.end_ns)
        self.live = o.accepted & ~o.expired & ((o.size > 0) | (got > 0))
        self.until = np.minimum(o.end_ns, done)
        self.orders = o
        self.carried = len(t.result.start.orders)
        self.carried_age_ms = np.array([r.age_ms for r in t.result.start.orders])
        self.by_side: dict[int, np.ndarray] = {}
        for side in (1, -1):
            idx = np.flatnonzero(self.live & (o.side == side))
            self.by_side[side] = idx[np.argsort(o.arrive_ns[idx], kind="stable")]

    def price_at(self, side: int, ns: np.ndarray) -> np.ndarray:
        """Bid-like price (ticks) of ``side``'s most exposed live order at each time;
        ``-inf`` where none rested."""
        idx = self.by_side[side]
        arrive = self.orders.arrive_ns[idx]
        best = np.full(ns.size, -np.inf)
        upto = np.searchsorted(arrive, ns, side="left")  # orders arrived before (they see
        # the events after their arrival, up to and including their cancel's)
        for back in range(1, _OVERLAP + 1):
            k = upto - back
            ok = k >= 0
            j = idx[np.maximum(k, 0)]
            ok &= self.until[j] >= ns
            px = np.where(ok, self.orders.price[j] * side, -np.inf).astype(np.float64)
            best = np.maximum(best, px)
        return best

    def next_decision(self, order: np.ndarray) -> np.ndarray:
        """When the bot decided the request that replaced each order (int64 max: never)."""
        out = np.full(order.size, np.iinfo(np.int64).max)
        o = self.orders
        for side in (1, -1):
            idx = np.flatnonzero(o.accepted & (o.side == side))  # request order = decision order
            nxt = np.full(o.side.size, np.iinfo(np.int64).max)
            nxt[idx[:-1]] = o.decide_ns[idx[1:]]
            mine = o.side[order] == side
            out[mine] = nxt[order[mine]]
        return out


def fill_rows(t: Traded) -> dict[str, np.ndarray]:
    """Per maker fill: how old its quote was, how the mid came to it, what printed."""
    tape, f = t.tape, t.result.fills
    quotes = LiveQuotes(t)
    maker = np.flatnonzero(~f.taker)
    ns, side, order = f.ns[maker], f.side[maker].astype(np.int64), f.order[maker]
    price = f.ticks[maker] * tape.tick
    o = quotes.orders
    carried = order < quotes.carried
    age = (ns - o.arrive_ns[order]) / _MS
    age[carried] += quotes.carried_age_ms[order[carried]]
    mid_now = _mid_at(tape, ns - 1)
    d = t.d_bps
    rows: dict[str, np.ndarray] = {
        "side": side, "ns": ns, "age_ms": age, "order": order, "ticks": f.ticks[maker],
        "dist_fill": _toward(side, mid_now, price) / d,
        "dist_reaction": _toward(side, _mid_at(tape, ns - round(t.reaction_ms * _MS)), price) / d,
    }
    for w in (50, 200, 1000):
        rows[f"move_{w}"] = _toward(side, _mid_at(tape, ns - w * _MS), mid_now) / d
    # the walk: since when the mid had been closer than d to the price (0: a sweep, the
    # mid stood d or more from the quote the instant before the fill)
    walk = np.zeros(ns.size)
    last_row = tape.quote_index(ns - 1)
    for i in range(ns.size):
        lo = max(int(np.searchsorted(tape.quote_ns, ns[i] - 30 * NS)), 0)
        seg = tape.mid_px[lo:last_row[i] + 1]
        dist = side[i] * (seg - price[i]) / seg * 1e4
        at_d = np.flatnonzero(dist >= d * (1 - 1e-9))
        if at_d.size == 0:
            walk[i] = (ns[i] - tape.quote_ns[lo]) / _MS
        elif lo + at_d[-1] < last_row[i]:
            walk[i] = (ns[i] - tape.quote_ns[lo + at_d[-1] + 1]) / _MS
    rows["walk_ms"] = walk
    rows["walk_ticks"] = np.floor(ns / (t.loop_ms * _MS)) - np.floor(
        (ns - walk * _MS) / (t.loop_ms * _MS))
    rows["in_flight"] = quotes.next_decision(order) < ns
    # what printed at the fill's instant on its side: through, at the price, or the
    # opposite best crossing it; and whether the same instant also printed short of it
    kind = np.full(ns.size, "cross", dtype=object)
    sweep = np.zeros(ns.size, dtype=bool)
    lo = np.searchsorted(tape.trade_ns, ns, side="left")
    hi = np.searchsorted(tape.trade_ns, ns, side="right")
    for i in range(ns.size):
        sel = slice(lo[i], hi[i])
        mine = tape.trade_side[sel] == -side[i]
        px = tape.trade_px[sel][mine] * side[i]
        p = f.ticks[maker][i] * side[i]
        if px.size:
            kind[i] = "through" if px.min() < p else ("at" if px.min() == p else "cross")
            sweep[i] = bool(px.max() > p)
    rows["kind"] = kind
    rows["sweep"] = sweep
    return rows


def excursion_rows(t: Traded, s: Settings, fills: Mapping[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """Per excursion and side (the mid moving ``d`` towards that side's quote within
    ``s.window_ms`` of a start on the ``s.grid_ms`` grid; contiguous starts merged): what
    became of it. ``fills``: :func:`fill_rows` of the same iteration."""
    tape, d = t.tape, t.d_bps
    quotes = LiveQuotes(t)
    grid, window = s.grid_ms * _MS, s.window_ms * _MS
    end = round(tape.duration_s * NS)
    starts = np.arange(0, end, grid, dtype=np.int64)
    i0 = tape.quote_index(starts) + 1
    i1 = tape.quote_index(np.minimum(starts + window, end - 1)) + 1
    mid0 = _mid_at(tape, starts)
    slack = round(t.reaction_ms * _MS)
    out: dict[str, list[object]] = {k: [] for k in (
        "side", "start_ns", "hit_ns", "outcome", "fills", "reached", "quoted", "moved_ms",
        "lag_ms", "announced", "reach", "start_quote_filled")}
    fill_ns, fill_side = fills["ns"], fills["side"]
    counted = np.zeros(fill_ns.size, dtype=bool)
    for side in (1, -1):
        moved = np.zeros(starts.size, dtype=bool)
        hit = np.zeros(starts.size, dtype=np.int64)
        for k in np.flatnonzero(i1 > i0):
            seg = tape.mid_px[i0[k]:i1[k]]
            far = np.flatnonzero(_toward(side, mid0[k], seg) >= d * (1 - 1e-9))
            if far.size:
                moved[k] = True
                hit[k] = tape.quote_ns[i0[k] + far[0]]
        runs = np.flatnonzero(moved)
        if runs.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(runs) > 1) + 1
        for group in np.split(runs, breaks):
            a, b = int(starts[group[0]]), int(hit[group].max()) + slack
            first_hit = int(hit[group[0]])
            mine_fills = (fill_side == side) & (fill_ns >= a) & (fill_ns <= b) & ~counted
            counted |= mine_fills  # a fill belongs to the first excursion it falls in
            n_fills = int(np.count_nonzero(mine_fills))
            first_fill_px = (float(fills["ticks"][np.flatnonzero(mine_fills)[0]] * side)
                             if n_fills else np.nan)
            # the level the move had to reach: our quote as the move started, else where
            # the bot would have quoted (d from the mid, rounded outward)
            p0 = float(quotes.price_at(side, np.array([a]))[0])
            quoted = np.isfinite(p0)
            if not quoted:  # bid-like ticks, rounded outward as the quoter rounds
                p0 = float(np.floor(side * mid0[group[0]] * (1 - side * d / 1e4) / tape.tick))
            # what can fill a quote at P: a print on its side at or through P, or the
            # opposite best crossing P (bid-like, "through" is always below)
            t0, t1 = np.searchsorted(tape.trade_ns, [a, b + 1])
            mine = np.flatnonzero(tape.trade_side[t0:t1] == -side) + t0
            q0, q1 = np.searchsorted(tape.quote_ns, [a, b + 1])
            opp = (tape.ask_px[q0:q1] if side > 0 else -tape.bid_px[q0:q1]).astype(float)
            ev_ns = np.concatenate((tape.trade_ns[mine], tape.quote_ns[q0:q1]))
            ev_px = np.concatenate((tape.trade_px[mine] * side, opp))
            is_trade = np.arange(ev_ns.size) < mine.size
            live = quotes.price_at(side, ev_ns)
            has = np.isfinite(live)
            at_p0 = ev_px <= p0
            reached = bool(at_p0.any()) or n_fills > 0
            first_reach = int(ev_ns[at_p0].min()) if at_p0.any() else -1
            if n_fills:
                outcome = "filled"
            elif (is_trade & has & (ev_px == live)).any():
                outcome = "queue"
            elif (has & (ev_px < live)).any() or (~is_trade & has & (ev_px <= live)).any():
                outcome = "through, no fill"
            elif reached and quoted:  # re-priced, or cancelled with its replacement on the way
                outcome = "moved away"
            elif reached:
                outcome = "no quote"
            else:
                outcome = "short"
            # how fast the mid covered d: since it last stood d from where it first got to
            row = int(tape.quote_index(np.array([first_hit]))[0])
            lo = max(int(np.searchsorted(tape.quote_ns, first_hit - 30 * NS)), 0)
            back = np.flatnonzero(_toward(side, tape.mid_px[lo:row], tape.mid_px[row])
                                  >= d * (1 - 1e-9))
            moved_ms = (first_hit - tape.quote_ns[lo + back[-1] + 1]) / _MS if back.size else (
                first_hit - a) / _MS
            # did the move announce itself: had the mid crossed a line of the quoter's
            # requote grid towards the quote one reaction before the print reached it?
            announced = False
            if first_reach >= 0:
                lead = _mid_at(tape, np.array([max(first_reach - slack, a)]))[0]
                lines = np.floor(np.log(np.array([mid0[group[0]], lead]) / tape.mid_start)
                                 * 1e4 / requote_grid_bps())
                announced = bool(side * (lines[0] - lines[1]) >= 1)
            # how far the prints (and crossing quotes) went: the deepest from the start mid
            depth = float(_toward(side, mid0[group[0]], ev_px.min() * side * tape.tick)
                          / d) if ev_px.size else np.nan
            for key, value in (("side", side), ("start_ns", a), ("hit_ns", first_hit),
                               ("announced", announced), ("reach", depth),
                               ("start_quote_filled", first_fill_px >= p0),
                               ("outcome", outcome), ("fills", n_fills), ("reached", reached),
                               ("quoted", quoted), ("moved_ms", moved_ms),
                               ("lag_ms", (first_reach - first_hit) / _MS if first_reach >= 0
                                else np.nan)):
                out[key].append(value)
    return {k: np.array(v, dtype=object if k == "outcome" else None) for k, v in out.items()}


def requote_grid_bps() -> float:
    """The mid grid whose crossing asks the legacy quoter for a requote."""
    return float(STRATEGY.requote_threshold_bps)


def reach_rows(t: Traded) -> dict[str, float]:
    """The market alone (no bot): per minute, the instants at which one side's prints
    reached ``d`` beyond the mid as it stood just before (one taker order sweeping there at
    once), one reaction before, and one second before (a walk)."""
    tape, d = t.tape, t.d_bps
    minutes = tape.duration_s / 60
    out: dict[str, float] = {}
    for label, back_ns in (("instant", 1), ("reaction", round(t.reaction_ms * _MS)),
                           ("second", NS)):
        count = 0
        for side in (1, -1):  # our bid: sell prints; our ask: buy prints
            mine = np.flatnonzero(tape.trade_side == -side)
            ns = tape.trade_ns[mine]
            if ns.size == 0:
                continue
            first = np.ones(ns.size, dtype=bool)
            first[1:] = ns[1:] != ns[:-1]
            starts = np.flatnonzero(first)
            extreme = np.minimum.reduceat(tape.trade_px[mine] * side, starts) * side * tape.tick
            at = ns[starts]
            reach = _toward(side, _mid_at(tape, at - back_ns), extreme)
            count += int(np.count_nonzero(reach >= d * (1 - 1e-9)))
        out[label] = count / minutes
    return out


def continuation(t: Traded, window_ms: int) -> tuple[float, float]:
    """The market alone: the mid crossing a line of the quoter's requote grid, per minute,
    and the share of those crossings after which, between one reaction later (a bot has
    re-priced to ``d`` from the mid by then) and ``window_ms`` later, prints on that side
    reached ``d`` beyond the mid of that moment (the move went on through the new quote)."""
    tape, d = t.tape, t.d_bps
    line = np.floor(np.log(tape.mid_px / tape.mid_start) * 1e4 / requote_grid_bps())
    at = np.flatnonzero(np.diff(line) != 0) + 1
    if at.size == 0:
        return 0.0, float("nan")
    side = np.where(line[at] < line[at - 1], 1, -1)  # a falling mid moves towards our bid
    react = round(t.reaction_ms * _MS)
    start = tape.quote_ns[at] + react
    mid = _mid_at(tape, start)
    lo = np.searchsorted(tape.trade_ns, start, side="right")
    hi = np.searchsorted(tape.trade_ns, tape.quote_ns[at] + window_ms * _MS, side="right")
    went_on = np.zeros(at.size, dtype=bool)
    for k in range(at.size):
        sel = slice(lo[k], hi[k])
        mine = tape.trade_side[sel] == -side[k]
        if mine.any():
            px = tape.trade_px[sel][mine] * tape.tick
            went_on[k] = bool((_toward(side[k], mid[k], px) >= d * (1 - 1e-9)).any())
    return at.size / (tape.duration_s / 60), float(went_on.mean())

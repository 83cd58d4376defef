"""soakkit's engine against hftbacktest: same tape, same quoting logic, matched venue.

The tape (a synthetic soakkit market, or a window of a recorded tape, L1 or L2: an L2
tape's depth goes to hftbacktest as depth events fused with the quotes; ``--l1`` drops it)
is written as CSV;
soakkit's engine runs the ``steady_safe`` quoting logic on it with a venue matched to
hftbacktest's (constant feed, entry and response latency, cancels at the entry latency,
or with ``--latency model`` the engine's own latency model per request; no rate limit;
whole fills = NoPartialFillExchange, or ``--fills partial_through_all`` against its
PartialFillExchange, whose rule it is; the same queue model) and no
inventory feedback (no skew, no unloads); ``bench/hbt_side.py`` runs the same logic in
hftbacktest (``--hbt-python``: a Python with hftbacktest 2.4, e.g. a venv made with
``pip install "hftbacktest==2.4.*"``; CI does not need it). Where the two differ by a
convention (a cancel for an order in flight, the queue behind the best on an L1 tape, the
order requests reach the venue in) hftbacktest gets soakkit's; ``--in-flight-cancel
after-ack`` (with ``--latency model``: every request sent at its decision, the order bus
first in, first out) and ``--behind-best fused`` show its own. The orders both send are
matched one to one (same decision time, side, price and size), then their fills.

Reported per queue model: orders and fills in each, fills matched exactly (same order,
time, price and size), the position path's largest difference, and P&L (cash + position
at the last mid + maker rebates) in each and their difference; and every unmatched fill
with its cause (docs/SIMULATOR.md, "Agreement with hftbacktest").

    python bench/bench_hftbacktest.py --minutes 30 --mode mixed --seed 3 \\
        --hbt-python /path/to/hbt-venv/bin/python --out bench/out/hftbacktest.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.sim.latency import ConstantLatency, EventKeys, LatencyModel, VenueLatency
from soakkit.sim.market import simulate_market
from soakkit.sim.queue import queue_model
from soakkit.sim.regimes import MARKET, STRATEGY
from soakkit.sim.replay import load_tape, replay_window
from soakkit.sim.strategy import StrategyResult, run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.venue import FILL_MODELS, Venue

HERE = Path(__file__).resolve().parent
#: --behind-best unknown: how many prices behind each best hftbacktest sees as unknown
#: (the bot's orders rest at most a few ticks behind; the report counts any beyond)
UNKNOWN_LEVELS = 64
_MS = 1_000_000


@dataclass(frozen=True)
class OrderLatencyModel(LatencyModel):
    """The engine's latency model (:class:`VenueLatency`, the regimes table's constants) for
    the order components (entry, cancel, ack) and a constant feed: hftbacktest's feed delay
    is one per event, the engine's one per loop tick (which book each tick sees), and
    neither can stand for the other."""

    venue: VenueLatency
    feed_ns: int

    def draw(self, component: str, activity: np.ndarray, rng: np.random.Generator,
             keys: EventKeys | None = None) -> np.ndarray:
        if component == "feed":
            return np.full(np.asarray(activity).size, self.feed_ns, dtype=np.int64)
        return self.venue.draw(component, activity, rng, keys)

    def round_trip_ms(self) -> float:
        return self.venue.round_trip_ms()


def latency_rows(log: Any, hold: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """hftbacktest's IntpOrderLatency table for soakkit's requests, with the plan its bot
    follows: columns request time, venue time, response time (the venue time: the ``send``
    convention, soakkit's ack delay only feeds the inventory feedback), order (hftbacktest's
    id, soakkit's index + 1) and kind (0 the cancel of the order its side had before, 1 the
    order). Also, with ``hold``, per order whether its request or the cancel that ends it
    reaches hftbacktest's venue at another time than soakkit's.

    Each row gives its request the venue time the engine drew (the new order's arrival; the
    cancel's, which ends the previous order), and the bot sends it at the row's request
    time. hftbacktest's order bus is first in, first out (a request never reaches the venue
    before one sent earlier) and its local processor refuses a cancel before the order's
    response; soakkit's requests may overtake and cancel an order in flight. With ``hold``
    the bot sends the requests in the order they reach soakkit's venue, each as soon as it
    is decided and every request that reaches the venue before it has been sent (1 ns
    apart), a cancel not before the order's response (its arrival): a request held that
    way gets the shorter delay its row says. A cancel that soakkit's venue had before the
    order reaches hftbacktest's 1 ns after it. Without ``hold`` (hftbacktest's own
    conventions) every request leaves at its decision, each tick's in the order they
    arrive, 1 ns apart, and the bus holds back what overtakes."""
    n = log.side.size
    prev = np.full(n, -1, np.int64)  # the order each one replaces on its side
    last: dict[int, int] = {}
    for i in range(n):
        prev[i] = last.get(int(log.side[i]), -1)
        last[int(log.side[i])] = i
    # (venue time, sequence, order, kind) of every request: soakkit's times
    reqs = sorted((int(log.end_ns[prev[i]]) if kind == 0 else int(log.arrive_ns[i]),
                   2 * i + kind, i, kind) for i in range(n) for kind in (0, 1)
                  if kind == 1 or prev[i] >= 0)
    rows: list[tuple[int, int, int, int, int]] = []
    if not hold:
        ticks: dict[int, list[tuple[int, int, int, int]]] = {}
        for req in reqs:
            ticks.setdefault(int(log.decide_ns[req[2]]), []).append(req)
        for t in sorted(ticks):
            rows += [(t + off, v, v, i + 1, kind)
                     for off, (v, _, i, kind) in enumerate(ticks[t])]
        return np.array(rows, dtype=np.int64).reshape(-1, 5), None
    moved = np.zeros(n, dtype=bool)
    arrive = log.arrive_ns.astype(np.int64).copy()  # the orders' arrivals at hftbacktest's
    sent = np.iinfo(np.int64).min
    for v, _, i, kind in sorted((max(v, int(log.arrive_ns[prev[i]]) + 1) if kind == 0 else v,
                                 s, i, kind) for v, s, i, kind in reqs):
        early = int(log.decide_ns[i]) if kind else max(int(log.decide_ns[i]), arrive[prev[i]])
        sent = max(early, sent + 1)
        at = max(v, sent + 1)  # a request takes at least 1 ns
        if kind:
            arrive[i] = at
        moved[i if kind else prev[i]] |= at != (log.arrive_ns[i] if kind
                                                else log.end_ns[prev[i]])
        rows.append((sent, at, at, i + 1, kind))
    return np.array(rows, dtype=np.int64).reshape(-1, 5), moved


def _write_csv(tape: MarketTape, folder: Path) -> None:
    """The tape as CSV with times relative to its start (exact in float64); an L2 tape's
    depth rows as ``depth.csv``; receive times as a last ``local_ns`` column."""
    folder.mkdir(parents=True, exist_ok=True)
    trades = np.column_stack((tape.trade_ns, tape.trade_px * tape.tick,
                              tape.trade_qty * tape.lot, tape.trade_side))
    quotes = np.column_stack((tape.quote_ns, tape.bid_px * tape.tick, tape.bid_qty * tape.lot,
                              tape.ask_px * tape.tick, tape.ask_qty * tape.lot))
    q_head, q_fmt = "ts_ns,bid_px,bid_qty,ask_px,ask_qty", ["%d"] + ["%.10g"] * 4
    if tape.quote_local_ns is not None:
        quotes = np.column_stack((quotes, tape.quote_local_ns))
        q_head, q_fmt = q_head + ",local_ns", [*q_fmt, "%d"]
    np.savetxt(folder / "trades.csv", trades, fmt=("%d", "%.10g", "%.10g", "%d"),
               delimiter=",", header="ts_ns,price,qty,side", comments="")
    np.savetxt(folder / "quotes.csv", quotes, fmt=q_fmt, delimiter=",", header=q_head,
               comments="")
    d = tape.depth
    if d is None:
        return
    cols = [d.ns.astype(np.float64)]
    names = ["ts_ns"]
    for i in range(d.levels):
        cols += [d.bid_px[:, i] * tape.tick, d.bid_qty[:, i] * tape.lot,
                 d.ask_px[:, i] * tape.tick, d.ask_qty[:, i] * tape.lot]
        names += [f"bid_px_{i}", f"bid_qty_{i}", f"ask_px_{i}", f"ask_qty_{i}"]
    fmt = ["%d"] + ["%.10g"] * (4 * d.levels)
    if d.local_ns is not None:
        cols.append(d.local_ns.astype(np.float64))
        names.append("local_ns")
        fmt.append("%d")
    np.savetxt(folder / "depth.csv", np.column_stack(cols), fmt=fmt, delimiter=",",
               header=",".join(names), comments="")


def _params(sets: list[str]) -> dict[str, Any]:
    values = dict(resolve("steady_safe", env={}).values)
    for item in sets:  # e.g. base_spread_bps=0.5: quote inside the depth an L2 tape shows
        name, _, value = item.partition("=")
        values[name] = float(value)
    # no inventory feedback (hftbacktest's side has none): an unreachable limit, no cap
    values.update(position_limit_notional=1e30, max_delta_ratio=1.0, concurrency_limit=1e12)
    return values


def _config(tape: MarketTape, values: dict[str, Any], queue: str, lat: dict[str, int],
            orders: int, in_flight: str, fill_model: str, behind: str) -> dict[str, Any]:
    interval = round(float(values["min_interval_ms"]) * _MS)
    # soakkit's bot may cancel an order still in flight (a venue takes a cancel by client
    # order id); hftbacktest's local processor refuses a cancel before the order's response
    # (OrderRequestInProcess) and the old order stays. With no inventory feedback the
    # response delay changes nothing else, so "send" sets it to 0 in hftbacktest: every
    # order is acknowledged when it reaches the venue, before the bot's next tick.
    hbt_ack = 0 if in_flight == "send" else lat["ack_ns"]
    return {"tick": tape.tick, "lot": tape.lot, "queue": queue, **lat, "hbt_ack_ns": hbt_ack,
            "fill_model": fill_model,
            "unknown_levels": UNKNOWN_LEVELS if behind == "unknown" and tape.depth is None
            else 0,
            "interval_ns": interval, "end_ns": round(tape.duration_s * 1e9),
            "half": (float(values["base_spread_bps"]) + float(values["base_spread_bps_delta"]))
            / 1e4, "threshold_bps": STRATEGY.requote_threshold_bps,
            "mid_start": tape.mid_start, "rate_per_min": float(values["replace_rate_per_min"]),
            "age_ticks": int(np.ceil(float(values["tail_age_ms"]) * _MS / interval)),
            "icr": float(values["impact_cap_ratio"]), "cap_usd": 1e30,
            "maker_rebate_bps": MARKET.maker_rebate_bps, "taker_fee_bps": MARKET.taker_fee_bps,
            "max_orders": orders + 16, "levels": tape.depth.levels if tape.depth else 0,
            "recorded_feed": tape.quote_local_ns is not None}


def _pnl(tape: MarketTape, side: np.ndarray, ticks: np.ndarray, lots: np.ndarray) -> float:
    qty, price = lots * tape.lot, ticks * tape.tick
    cash = float(-(side * qty * price).sum())
    rebate = float((qty * price).sum()) * MARKET.maker_rebate_bps / 1e4
    return cash + float((side * qty).sum()) * tape.mid_end + rebate


BEHIND = "rested behind the best level: queue ahead unknown (L1 tape, or beyond the depth)"
BEHIND_L2 = "rested behind the best level: queue ahead from the L2 depth"
SIZE = ("same time and price, another size: the bot sized from the best level's quantity, "
        "the quote row's in soakkit, the fused book's (a newer depth row) in hftbacktest")
IN_FLIGHT = ("the requote's cancel left before the bot had the order's response (entry "
             "[+ response] delay > loop interval): hftbacktest refuses it "
             "(OrderRequestInProcess) and the order stays; soakkit ends it when the cancel "
             "arrives")
FIFO = ("an earlier tick's request was still on its way (a heavy delay): hftbacktest's "
        "order bus is first in, first out, so this order (or its cancel) reached the venue "
        "only after it; soakkit's requests overtake")
MOVED = ("hftbacktest's venue had this order (or the cancel that ends it) a few ns after "
         "soakkit's: the cancel reached soakkit's venue before the order (hftbacktest's "
         "comes 1 ns after it), or requests reaching the venue within ns of each other "
         "were spread 1 ns apart")
TRADED_BEHIND = ("a trade printed at the order's price while its level was behind the best "
                 "(a sweep past a thinner best, spike tape): the probabilistic queue models "
                 "take it differently (hftbacktest nets it out of the level's next depth "
                 "change); not investigated further")
PARTIAL_SIZE = "partial fills: same order, time and price, another size"
PARTIAL_THROUGH = ("partial fills: a trade went through the order's price; hftbacktest fills "
                   "all that is left, soakkit the trade's quantity")
PARTIAL_THROUGH_LEFT = ("partial fills: a trade went through the order's price and both filled "
                        "what was left, which earlier executions had left different")
PARTIAL_AFTER = ("partial fills: a later execution of an order hftbacktest had already "
                 "filled in full on a trade through its price")
PARTIAL_LATER = "partial fills: same first fill, later executions of the order differ"
CROSSED_BY_DEPTH = ("a depth row crossed the order before the quote rows did (hftbacktest "
                    "fuses both streams; soakkit's quote rows are the authority at the best)")


def _behind(tape: MarketTape, side: np.ndarray, price: np.ndarray, arrive: np.ndarray
            ) -> np.ndarray:
    """Orders whose price was behind their side's best when they arrived."""
    q = np.maximum(tape.quote_index(arrive), 0)
    return np.asarray(np.where(side > 0, price < tape.bid_px[q], price > tape.ask_px[q]))


def _queued_behind(log: Any) -> np.ndarray:
    """Orders whose new-order request, or the cancel that ends them, arrives in soakkit before
    a request sent at an earlier tick (hftbacktest's first-in-first-out bus would hold it)."""
    prev_on_side: dict[int, int] = {}
    cancel_of = np.full(log.side.size, -1, np.int64)  # the request whose cancel ends order i
    for i in range(log.side.size):
        p = prev_on_side.get(int(log.side[i]))
        if p is not None:
            cancel_of[p] = i
        prev_on_side[int(log.side[i])] = i
    arrive = log.arrive_ns
    cancel_arrive = np.full(log.side.size, -1, np.int64)
    for p in np.flatnonzero(cancel_of >= 0):
        cancel_arrive[cancel_of[p]] = log.end_ns[p]
    latest = np.maximum(arrive, cancel_arrive)
    ticks, start = np.unique(log.decide_ns, return_index=True)
    tick_max = np.maximum.reduceat(latest, start)
    before = np.concatenate(([np.iinfo(np.int64).min], np.maximum.accumulate(tick_max)[:-1]))
    earlier = before[np.searchsorted(ticks, log.decide_ns)]  # latest arrival of earlier ticks
    blocked = (arrive < earlier) | ((cancel_arrive >= 0) & (cancel_arrive < earlier))
    out = blocked.copy()  # an order is affected by its own request or by its cancel
    has = cancel_of >= 0
    out[has] |= blocked[cancel_of[has]] & (cancel_arrive[cancel_of[has]] >= 0)
    return out


def _traded_behind(tape: MarketTape, side: int, price: int, t0: int, t1: int) -> bool:
    """Whether a trade at ``price`` against an order on ``side`` printed in (t0, t1] while
    that side's best was better than ``price``."""
    lo, hi = np.searchsorted(tape.trade_ns, [t0, t1], side="right")
    at = np.flatnonzero((tape.trade_px[lo:hi] == price) & (tape.trade_side[lo:hi] == -side)) + lo
    if not at.size:
        return False
    q = np.maximum(tape.quote_index(tape.trade_ns[at] - 1), 0)
    best = tape.bid_px[q] if side > 0 else tape.ask_px[q]
    return bool(((best - price) * side > 0).any())


def _orders_identical(log: Any, sent: np.ndarray) -> int:
    """How many of the orders both sent are the same (decision time, side, price, size),
    position by position (hftbacktest's times are on its own clock: relative to its first)."""
    ours = np.column_stack((log.decide_ns - log.decide_ns[0], log.side, log.price, log.size))
    theirs = sent.reshape(-1, 4).copy()
    theirs[:, 0] -= theirs[0, 0] if len(theirs) else 0
    n = min(len(ours), len(theirs))
    return int((ours[:n] == theirs[:n]).all(axis=1).sum())


def _by_key(rows: Any, partial: bool) -> dict[Any, tuple[int, int, int, int]]:
    """Fills (order, ns, side, ticks, lots) keyed by order (whole fills: one per order) or by
    (order, ns) with the lots of one order at one time summed (partial fills: hftbacktest
    reports the executions of one order that reach the bot together as one)."""
    out: dict[Any, tuple[int, int, int, int]] = {}
    for o, n, s, p, q in rows:
        key = (int(o), int(n)) if partial else int(o)
        prev = out.get(key)
        out[key] = (int(n), int(s), int(p), int(q) + (prev[3] if prev else 0))
    return out


def compare(tape: MarketTape, res: StrategyResult, hbt: np.ndarray, sent: np.ndarray,
            partial: bool = False, response_ns: int = 0, moved: np.ndarray | None = None,
            through_fills_all: bool = False) -> dict[str, Any]:
    """Orders and fills of the two runs, matched; unmatched fills with their cause.
    ``moved``: hftbacktest's bot sent the requests as :func:`latency_rows` plans them with
    ``hold`` (no cancel refused in flight, no request held back by an earlier one), and
    which orders it had at its venue at other times than soakkit's. ``through_fills_all``:
    soakkit ran hftbacktest's partial-fill rule (``--fills partial_through_all``)."""
    log = res.orders
    assert log is not None
    f = res.fills
    behind_best = _behind(tape, log.side, log.price, log.arrive_ns)
    ours = _by_key(zip(f.order.tolist(), f.ns.tolist(), f.side.tolist(), f.ticks.tolist(),
                       f.lots.tolist(), strict=True), partial)
    theirs = _by_key(((int(r[4]) - 1, r[0], r[1], r[2], r[3]) for r in hbt), partial)
    matched = {o for o in ours if theirs.get(o) == ours[o]}
    causes: dict[str, int] = {}
    depth_ns = set(tape.depth.ns.tolist()) if tape.depth is not None else set()
    trade_ns = set(tape.trade_ns.tolist())
    def oid(k: Any) -> int:
        return int(k[0]) if partial else int(k)

    examples: list[dict[str, Any]] = []
    queued = _queued_behind(log)
    in_flight = np.zeros(log.side.size, dtype=bool)  # cancelled before hftbacktest's bot had
    for side in (1, -1):  # the order's response (at its arrival + response_ns)
        idx = np.flatnonzero(log.side == side)
        in_flight[idx[:-1]] = log.arrive_ns[idx[:-1]] + response_ns > log.decide_ns[idx[1:]]
    refused = in_flight if moved is None else np.zeros_like(in_flight)  # held instead
    if moved is not None:
        queued = np.zeros_like(queued)
    through: dict[int, set[tuple[int, int]]] = {}  # price -> {(order side, time)} gone through
    through_fill: dict[int, int] = {}  # order -> time hftbacktest filled it on such a trade
    if partial:
        for k, v in theirs.items():
            o = int(k[0])
            at = slice(*np.searchsorted(tape.trade_ns, [v[0], v[0] + 1]))
            hit = (tape.trade_side[at] == -log.side[o]) & (
                tape.trade_px[at] * log.side[o] < log.price[o] * log.side[o])
            if hit.any():
                through.setdefault(int(log.price[o]), set()).add((int(log.side[o]), v[0]))
                through_fill[o] = min(through_fill.get(o, v[0]), v[0])
    first: list[dict[int, int]] = [{}, {}]  # each order's first fill time in each
    for side_fills, firsts in zip((ours, theirs), first, strict=True):
        for k, v in side_fills.items():
            firsts[oid(k)] = min(firsts.get(oid(k), v[0]), v[0])
    for k in sorted((set(ours) | set(theirs)) - matched):
        o = oid(k)
        sooner = "hftbacktest" if o not in first[0] or (
            o in first[1] and first[1][o] < first[0][o]) else "soakkit"
        both = k in ours and k in theirs
        if partial and k in theirs and (int(log.side[o]), int(theirs[k][0])) in through.get(
                int(log.price[o]), set()):
            key = PARTIAL_THROUGH_LEFT if through_fills_all else PARTIAL_THROUGH
        elif partial and k in ours and o in through_fill and through_fill[o] < ours[k][0]:
            key = PARTIAL_AFTER
        elif refused[o]:
            key = IN_FLIGHT
        elif moved is not None and moved[o]:
            key = MOVED
        elif queued[o]:
            key = FIFO
        elif both and ours[k][:3] == theirs[k][:3]:
            key = PARTIAL_SIZE if partial else SIZE
        elif both and sooner == "hftbacktest" and theirs[k][0] in depth_ns \
                and theirs[k][0] not in trade_ns:
            key = CROSSED_BY_DEPTH
        elif o < log.side.size and behind_best[o]:
            why = BEHIND if not np.isfinite(log.front0[o]) else BEHIND_L2
            key = f"{why}; {sooner} filled sooner"
        elif partial and first[0].get(o) == first[1].get(o):
            key = PARTIAL_LATER
        elif o < log.side.size and _traded_behind(
                tape, int(log.side[o]), int(log.price[o]), int(log.arrive_ns[o]),
                max(first[0].get(o, -1), first[1].get(o, -1))):
            key = TRADED_BEHIND
        else:
            key = "other (unexplained)"
        causes[key] = causes.get(key, 0) + (k in ours) + (k in theirs)
        if len(examples) < 40:
            examples.append({"order": o, "cause": key, "arrive_ns": int(log.arrive_ns[o]),
                             "end_ns": int(log.end_ns[o]), "side": int(log.side[o]),
                             "price": int(log.price[o]),
                             "front0": float(log.front0[o]) if np.isfinite(log.front0[o])
                             else None,
                             "soakkit": ours.get(k), "hftbacktest": theirs.get(k)})
    known = [k for k in set(ours) | set(theirs)
             if oid(k) < log.side.size and not behind_best[oid(k)]]
    paths = []
    for fills in (ours, theirs):
        arr = np.array(sorted(fills.values()), dtype=np.int64).reshape(-1, 4)
        paths.append(arr)
    grid = np.unique(np.concatenate([a[:, 0] for a in paths]))

    def position_at(a: np.ndarray) -> np.ndarray:
        pos = np.cumsum(a[:, 1] * a[:, 3])
        idx = np.searchsorted(a[:, 0], grid, side="right") - 1
        return np.where(idx >= 0, pos[np.maximum(idx, 0)] if pos.size else 0, 0)

    gap = np.abs(position_at(paths[0]) - position_at(paths[1])) if grid.size else np.zeros(1)
    pnl = [_pnl(tape, a[:, 1], a[:, 2], a[:, 3]) for a in paths]
    volume = float(sum((a[:, 2] * a[:, 3]).sum() for a in paths)) * tape.tick * tape.lot / 2
    return {"orders": int(log.side.size), "orders_hftbacktest": len(sent),
            "orders_cancelled_in_flight": int(in_flight.sum()),
            "cancels_held_until_response": None if moved is None else int(in_flight.sum()),
            "orders_moved_at_venue": None if moved is None else int(moved.sum()),
            "orders_identical": _orders_identical(log, sent),
            "orders_resting_behind_best": int((~np.isfinite(log.front0)).sum()),
            "fills_soakkit": len(ours), "fills_hftbacktest": len(theirs),
            "fills_matched": len(matched),
            "match_share": len(matched) / max(len(set(ours) | set(theirs)), 1),
            "match_share_joined_or_improved": (len([o for o in known if o in matched])
                                               / len(known) if known else None),
            "match_share_orders_never_gone_through": (
                len([k for k in matched if oid(k) not in through_fill])
                / max(len([k for k in set(ours) | set(theirs) if oid(k) not in through_fill]),
                      1) if partial else None),
            "orders_behind_best_with_l2_queue": int((behind_best & np.isfinite(log.front0)
                                                     ).sum()),
            "unmatched_causes": causes, "unmatched_examples": examples,
            "position_max_abs_diff_lots": int(gap.max()),
            "pnl_soakkit": pnl[0], "pnl_hftbacktest": pnl[1], "pnl_diff": pnl[0] - pnl[1],
            "pnl_diff_bps_of_volume": (pnl[0] - pnl[1]) / volume * 1e4 if volume else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--mode", default="mixed")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--tape", type=Path, help="replay window 1 of this tape instead")
    parser.add_argument("--queues", nargs="+", default=["risk_averse", "power:2"])
    parser.add_argument("--feed-ms", type=float, default=2.0)
    parser.add_argument("--entry-ms", type=float, default=5.0)
    parser.add_argument("--ack-ms", type=float, default=5.0)
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="NAME=VALUE", help="override a steady_safe parameter")
    parser.add_argument("--feed", choices=("constant", "recorded"), default="constant",
                        help="feed latency: --feed-ms in both, or the tape's receive times")
    parser.add_argument("--l1", action="store_true",
                        help="drop an L2 tape's depth: compare on its L1 quotes only")
    parser.add_argument("--in-flight-cancel", choices=("send", "after-ack"), default="send",
                        help="send: the bot cancels an order in flight, as soakkit's does "
                        "(hftbacktest's response latency 0; with --latency model the cancel "
                        "is held until the order's response, and requests are sent in the "
                        "order they reach soakkit's venue); after-ack: hftbacktest's own "
                        "convention (response --ack-ms; a cancel before the ack is refused; "
                        "with --latency model every request leaves at its decision)")
    parser.add_argument("--fills", choices=FILL_MODELS, default="whole",
                        help="whole: NoPartialFillExchange; partial_through_all: "
                        "PartialFillExchange, soakkit with its rule (a trade through the "
                        "price fills what is left); partial: soakkit's own rule (the trade's "
                        "quantity) against it. 2.4.4's bugs #312/#301 are worked around, "
                        "#299/#316 do not matter here: fills are read from the order "
                        "responses")
    parser.add_argument("--behind-best", choices=("unknown", "fused"), default="unknown",
                        help="L1 tapes: unknown: hftbacktest's book shows the levels behind "
                        "the best as unknown (huge), as soakkit assumes; fused: its "
                        "FuseMarketDepth's own guess (a level's last best size, or nothing)")
    parser.add_argument("--latency", choices=("constant", "model"), default="constant",
                        help="constant: --feed-ms/--entry-ms/--ack-ms in both; model: the "
                        "engine's latency model for orders (entry, cancel, ack drawn per "
                        "request), each request's delays given to hftbacktest's "
                        "IntpOrderLatency; the feed stays constant (--feed-ms)")
    parser.add_argument("--hbt-python", help="a Python with hftbacktest 2.4 installed")
    parser.add_argument("--soakkit-only", action="store_true",
                        help="run and summarise soakkit's side only (no hftbacktest)")
    args = parser.parse_args(argv)
    if not args.soakkit_only and not args.hbt_python:
        parser.error("--hbt-python is required (or --soakkit-only)")
    tape = (replay_window(load_tape(args.tape), 1, args.minutes) if args.tape else
            simulate_market(args.mode, args.minutes, np.random.default_rng(args.seed)))
    lat = {"feed_ns": round(args.feed_ms * _MS), "entry_ns": round(args.entry_ms * _MS),
           "ack_ns": round(args.ack_ms * _MS)}
    if args.l1:
        tape = replace(tape, depth=None)
    if args.feed == "constant":
        tape = replace(tape, quote_local_ns=None)  # both see the book --feed-ms late
    elif tape.quote_local_ns is None:
        parser.error("--feed recorded: the tape has no receive times")
    values = _params(args.sets)
    report: dict[str, Any] = {"tape": {"source": str(args.tape) if args.tape else
                                       f"synthetic {args.mode} seed {args.seed}",
                                       "minutes": args.minutes, "trades": int(
                                           tape.trade_ns.size), "quotes": int(tape.quote_ns.size),
                                       "depth_rows": tape.depth.rows if tape.depth else 0,
                                       "levels": tape.depth.levels if tape.depth else 0},
                              "latency_ns": lat, "feed": args.feed,
                              "in_flight_cancel": args.in_flight_cancel,
                              "fills": args.fills, "behind_best": args.behind_best,
                              "latency": args.latency,
                              "sets": args.sets,
                              "queues": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tape"
        _write_csv(tape, folder)
        for q in args.queues:
            model: LatencyModel = (
                OrderLatencyModel(VenueLatency(), lat["feed_ns"]) if args.latency == "model"
                else ConstantLatency(lat["feed_ns"], lat["entry_ns"], lat["entry_ns"],
                                     lat["ack_ns"]))
            venue = Venue(queue_model(q), model, None, args.fills)
            res = run_strategy(tape, values, np.random.default_rng(0), venue)
            assert res.orders is not None
            if args.soakkit_only:
                report["queues"][q] = {"orders": int(res.orders.side.size),
                                       "fills_soakkit": int(res.fills.ns.size)}
                continue
            cfg = Path(tmp) / f"{q.replace(':', '_')}.json"
            moved = None
            config = _config(tape, values, q, lat, res.orders.side.size, args.in_flight_cancel,
                             args.fills, args.behind_best)
            if args.latency == "model":
                rows = Path(tmp) / f"{q.replace(':', '_')}.latency.csv"
                table, moved = latency_rows(res.orders, args.in_flight_cancel == "send")
                np.savetxt(rows, table, fmt="%d", delimiter=",",
                           header="req_ts,exch_ts,resp_ts,order,kind", comments="")
                config["latency_rows"] = str(rows)
            cfg.write_text(json.dumps(config))
            out = Path(tmp) / f"{q.replace(':', '_')}.csv"
            subprocess.run([args.hbt_python, str(HERE / "hbt_side.py"), "--tape", str(folder),
                            "--config", str(cfg), "--out", str(out)], check=True)
            hbt = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
            sent = np.loadtxt(str(out) + ".orders", delimiter=",", skiprows=1,
                              dtype=np.int64, ndmin=2)
            report["queues"][q] = {**compare(tape, res, hbt, sent, args.fills != "whole",
                                             config["hbt_ack_ns"], moved,
                                             args.fills == "partial_through_all"),
                                   "hftbacktest": json.loads(
                Path(str(out) + ".json").read_text())}
    for q, r in report["queues"].items():
        stopped = 0 if args.soakkit_only else r["hftbacktest"]["stopped_with_status"]
        if stopped not in (0, 1):
            print(f"{q:12s} hftbacktest stopped early with error status {stopped}",
                  file=sys.stderr)
        if args.soakkit_only:
            print(f"{q:12s} soakkit: {r['orders']} orders, {r['fills_soakkit']} fills")
            continue
        joined = r["match_share_joined_or_improved"]
        joined_text = "none" if joined is None else f"{100 * joined:.2f} %"
        print(f"{q:12s} orders {r['orders']} / {r['orders_hftbacktest']} identical "
              f"{r['orders_identical']}; fills soakkit {r['fills_soakkit']} hftbacktest "
              f"{r['fills_hftbacktest']} "
              f"matched {r['fills_matched']} ({100 * r['match_share']:.2f} %; orders that "
              f"joined or improved the best: {joined_text}; behind the best with an L2 "
              f"queue: {r['orders_behind_best_with_l2_queue']} orders), position gap "
              f"<= {r['position_max_abs_diff_lots']} lots, P&L {r['pnl_soakkit']:.2f} vs "
              f"{r['pnl_hftbacktest']:.2f} USD ({r['pnl_diff_bps_of_volume']:+.3f} bps of "
              f"volume); unmatched: {r['unmatched_causes']}")
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

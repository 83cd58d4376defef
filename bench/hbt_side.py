"""The hftbacktest side of bench/bench_hftbacktest.py (runs in a venv that has hftbacktest).

Reads a soakkit tape written as CSV (trades.csv, quotes.csv) and a config JSON, runs
soakkit's quoting logic as an hftbacktest strategy and writes every fill. It imports
nothing from soakkit: the two simulators share only the tape and the rules below.

Quoting logic (soakkit's, ``soakkit/sim/strategy.py``, without inventory feedback):
a loop on a ``interval_ns`` grid from the tape's first quote; at each tick the bot reads
the local (feed-delayed) best bid and ask; it requotes when the mid crosses a line of a
``threshold_bps`` grid (at most ⌊R(s+1)/60⌋ − ⌊Rs/60⌋ such requotes in second s), or
after ``age_ticks`` ticks without a requote; a side is re-sent (cancel + new GTX order)
on a refresh or when its price changed, and kept otherwise. Prices: floor/ceil of
mid × (1 ∓ h) on the tick grid, never crossing the book the bot saw; size:
min(icr × mean best depth, cap) in lots.

L1 → L2: each quote row becomes two DEPTH_BBO events (ask, bid) fed through
hftbacktest's FuseMarketDepth; trades before quote rows at equal times; the first row
(the book as the window opens) is known locally at once, as in soakkit. An L2 tape
(``depth.csv``: the top N levels after each depth update) adds DEPTH events, fused with
the BBO by FuseMarketDepth (the newer information wins at a level): the first row's
levels, then every level whose quantity changed from one row to the next, and 0 for a
level gone from a row that still shows its price range (a level that only left the N
levels shown is left as it was: the data no longer says). Receive times: ``local_ns``
columns when the tape has them and the config asks for them (``recorded_feed``), else
venue time + ``feed_ns``.

Conventions matched to soakkit's (docs/SIMULATOR.md, "Agreement with hftbacktest"): on an
L1 tape the prices behind the best show an unknown size (``unknown_levels``); the response
delay is ``hbt_ack_ns`` (0: an order in flight can be cancelled at the next tick); with a
``latency_rows`` table (bench_hftbacktest's ``latency_rows``), IntpOrderLatency gives each
request the venue time soakkit's engine drew for it, and the bot decides each order at its
tick and sends its requests at the table's request times (a cancel held until the order's
response is back, a request held until those that reach the venue before it are sent: the
order bus is first in, first out). ``fill_model`` partial or partial_through_all:
PartialFillExchange, orders a millionth of a lot short (see SHORT_LOTS), every response
read as it arrives.

    python bench/hbt_side.py --tape DIR --config cfg.json --out fills.csv

A tape folder of parquet tables (``trades.parquet``, ``quotes.parquet`` and, an L2 tape,
``depth.parquet``: a tape as soakkit writes it, read with polars, the depth a million rows
at a time; times made relative to the first quote; receive times venue time + ``feed_ns``)
works too. Split in
two, as hftbacktest users run it (``bench/bench_replay_day.py``): ``--events-out E.npz``
only converts the tape into hftbacktest's event array (``np.savez_compressed``, hftbacktest's
own data utilities' format); ``--events E.npz`` backtests from it without the tape.

    python bench/hbt_side.py --tape DIR --config cfg.json --events-out day.npz
    python bench/hbt_side.py --events day.npz --config cfg.json --out fills.csv
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from hftbacktest import (
    BUY_EVENT,
    EXCH_EVENT,
    FILLED,
    GTX,
    LIMIT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest.data import FuseMarketDepth, correct_event_order, validate_event_order
from hftbacktest.types import DEPTH_BBO_EVENT, DEPTH_EVENT, event_dtype
from numba import njit

#: PartialFillExchange (2.4.4) leaves an order in its book, status Filled, when one
#: execution equals its leaves_qty exactly (``>`` where ``>=`` is meant, issue #312); the
#: next trade at that price then stops the backtest with InvalidOrderStatus (14, #301).
#: Orders lack this fraction of a lot, so an execution (whole lots) that uses up the order
#: always exceeds leaves_qty; every size is read back rounded to lots.
SHORT_LOTS = 1e-6


@njit
def _fuse_merged(first: np.ndarray, then: np.ndarray, tick: float, lot: float) -> np.ndarray:
    """FuseMarketDepth over two time-ordered event arrays merged by exchange time (at one
    time ``first``'s events before ``then``'s)."""
    fuse = FuseMarketDepth(tick, lot)
    i = j = 0
    while i < len(first) or j < len(then):
        if j >= len(then) or (i < len(first) and first[i]["exch_ts"] <= then[j]["exch_ts"]):
            fuse.process_event(first, i, True)
            i += 1
        else:
            fuse.process_event(then, j, True)
            j += 1
    out = fuse.fused_events.copy()
    fuse.close()
    return out


def _merged(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """Two time-ordered event arrays as one, by exchange time (``first``'s before ``then``'s
    at one time): a stable merge, placed without sorting."""
    for ev in (first, then):
        if (np.diff(ev["exch_ts"]) < 0).any():
            raise ValueError("events out of time order")
    out = np.empty(len(first) + len(then), event_dtype)
    out[np.searchsorted(then["exch_ts"], first["exch_ts"], side="left")
        + np.arange(len(first))] = first
    out[np.searchsorted(first["exch_ts"], then["exch_ts"], side="right")
        + np.arange(len(then))] = then
    return out


@njit
def _depth_diff(rows, levels, local, prev_px, prev_qty, prev_n, fill, ev, ts_out, lc_out,
                px_out, qty_out):  # type: ignore[no-untyped-def]
    """DEPTH events of ``rows`` against the previous row's levels (``prev_*``, per side:
    updated in place); with ``fill``, written to the ``*_out`` arrays. Returns the count."""
    m = 0
    now_px = np.empty(levels)
    now_qty = np.empty(levels)
    for r in range(rows.shape[0]):
        for k in range(2):
            flag = BUY_EVENT if k == 0 else SELL_EVENT
            sign = 1.0 if k == 0 else -1.0
            n = 0
            for i in range(levels):
                q = rows[r, 2 + 2 * k + 4 * i]
                if q > 0:
                    now_px[n] = rows[r, 1 + 2 * k + 4 * i]
                    now_qty[n] = q
                    n += 1
            worst = -np.inf
            if n == levels:
                worst = now_px[0] * sign
                for i in range(n):
                    worst = min(worst, now_px[i] * sign)
            for i in range(n):  # levels shown whose quantity is new
                same = False
                for j in range(prev_n[k]):
                    if prev_px[k, j] == now_px[i]:
                        same = prev_qty[k, j] == now_qty[i]
                        break
                if not same:
                    if fill:
                        ev[m] = DEPTH_EVENT | flag
                        ts_out[m], lc_out[m] = rows[r, 0], local[r]
                        px_out[m], qty_out[m] = now_px[i], now_qty[i]
                    m += 1
            for j in range(prev_n[k]):  # levels gone from the range still shown
                p = prev_px[k, j]
                shown = False
                for i in range(n):
                    if now_px[i] == p:
                        shown = True
                        break
                if not shown and p * sign >= worst:
                    if fill:
                        ev[m] = DEPTH_EVENT | flag
                        ts_out[m], lc_out[m] = rows[r, 0], local[r]
                        px_out[m], qty_out[m] = p, 0.0
                    m += 1
            for i in range(n):
                prev_px[k, i] = now_px[i]
                prev_qty[k, i] = now_qty[i]
            prev_n[k] = n
    return m


class DepthDiffer:
    """DEPTH events of a depth table read in chunks (see the module docstring): the
    previous row's levels carry from one chunk to the next."""

    def __init__(self, levels: int) -> None:
        self.levels = levels
        self.px = np.zeros((2, levels))
        self.qty = np.zeros((2, levels))
        self.n = np.zeros(2, np.int64)

    def events(self, rows: np.ndarray, local: np.ndarray) -> np.ndarray:
        """``rows``: ts, then per level bid px, bid qty, ask px, ask qty (0: no level)."""
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        local = np.ascontiguousarray(local, dtype=np.int64)
        state = (self.px.copy(), self.qty.copy(), self.n.copy())
        z_u, z_i, z_f = np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0)
        count = _depth_diff(rows, self.levels, local, *state, False, z_u, z_i, z_i, z_f, z_f)
        ev = np.zeros(count, event_dtype)
        cols = (np.zeros(count, np.uint64), np.zeros(count, np.int64),
                np.zeros(count, np.int64), np.zeros(count), np.zeros(count))
        _depth_diff(rows, self.levels, local, self.px, self.qty, self.n, True, *cols)
        ev["ev"], ev["exch_ts"], ev["local_ts"], ev["px"], ev["qty"] = cols
        return ev


def depth_events(rows: np.ndarray, levels: int, local: np.ndarray) -> np.ndarray:
    """DEPTH events of the depth table's rows (see the module docstring)."""
    return DepthDiffer(levels).events(rows, local)


def _traded(trades: np.ndarray, k: int, px: float, t0: float, t1: float) -> float:
    """Quantity traded at ``px`` against side ``k`` (0 bids: sells; 1 asks: buys) in (t0, t1]."""
    lo, hi = np.searchsorted(trades[:, 0], [t0, t1], side="right")
    window = trades[lo:hi]
    hit = (window[:, 1] == px) & (window[:, 3] == (-1 if k == 0 else 1))
    return float(window[hit, 2].sum())


#: hftbacktest's OrderLatencyRow (IntpOrderLatency's table)
LATENCY_ROW = np.dtype([("req_ts", "i8"), ("exch_ts", "i8"), ("resp_ts", "i8"),
                        ("_padding", "i8")])


#: the quantity an "unknown" level behind the best shows (lots): more than any queue, and
#: so much more that the probabilistic models' arithmetic on it leaves fronts exact to lots
UNKNOWN_LOTS = 1e12


def unknown_behind(quotes: np.ndarray, local: np.ndarray, trades: np.ndarray, tick: float,
                   lot: float, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """DEPTH events that give hftbacktest soakkit's L1 convention behind the best.

    soakkit: an order that arrives behind the best has everything ahead of it (unknown)
    until its level shows as best, when the BBO's quantity caps its queue; an order at the
    best keeps its queue when the best moves away from it, and its queue model starts from
    the level's last best size when the level is best again. hftbacktest's fused book
    keeps that last size (or nothing) for every order. So: the ``levels`` prices behind
    each best show an unknown (huge) quantity, an order arriving there takes it all as
    its queue, one resting there keeps its own (the size grew); when such a price is best
    again and its new size is no larger than its last best size less the trades there
    meanwhile (the sweep that brought it back), that size comes back first, before those
    trades (both models then move the queue from it, trades netted, as soakkit's do; a
    larger size caps every queue at the new size, in both). Returns the events to put
    before the trades of their time (not fused: the BBO that follows overwrites the
    level), and the events to fuse after the same row's BBO.
    """
    before: list[tuple[int, float, float, float, float]] = []
    after: list[tuple[int, float, float, float, float]] = []
    best: list[int | None] = [None, None]
    size = [0.0, 0.0]
    last_size: list[dict[int, float]] = [{}, {}]  # a former best's size, now unknown
    since: list[dict[int, float]] = [{}, {}]  # when it was stepped over
    unknown = UNKNOWN_LOTS * lot
    for r in range(len(quotes)):
        ts, lc = quotes[r, 0], local[r]
        for k, (col, sign, flag) in enumerate(((1, 1, BUY_EVENT), (3, -1, SELL_EVENT))):
            b = round(quotes[r, col] / tick) * sign  # bid-like ticks
            qty = quotes[r, col + 1]
            old = best[k]
            if old is None:
                new = range(b - levels, b)
            elif b > old:  # stepped over: the old best joins the unknown
                new = range(max(b - levels, old), b)
                if _traded(trades, k, old * sign * tick, ts - 1, ts) > 0:
                    # traded at this very time: the next depth event there would net those
                    # trades out of nothing; it keeps its size (an order arriving there
                    # meanwhile takes that size as its queue, soakkit everything)
                    new = range(max(b - levels, old + 1), b)
                else:
                    last_size[k][old] = size[k]
                    since[k][old] = ts
            elif b < old:  # backed off: the fused book deletes (b, old]
                for t in range(b + 1, old + 1):
                    last_size[k].pop(t, None)
                    since[k].pop(t, None)
                former = last_size[k].pop(b, None)
                if former is not None and qty <= former - _traded(trades, k, b * sign * tick,
                                                                  since[k].pop(b), ts):
                    before.append((DEPTH_EVENT | flag, ts, lc, b * sign * tick, former))
                new = range(b - levels, min(b, old - levels))
            else:
                new = range(0)
            after.extend((DEPTH_EVENT | flag, ts, lc, t * sign * tick, unknown) for t in new)
            best[k], size[k] = b, qty

    def table(rows: list[tuple[int, float, float, float, float]]) -> np.ndarray:
        ev = np.zeros(len(rows), event_dtype)
        if rows:
            arr = np.array(rows)
            ev["ev"] = arr[:, 0].astype(np.uint64)
            ev["exch_ts"], ev["local_ts"], ev["px"], ev["qty"] = arr[:, 1:].T
        return ev
    return table(before), table(after)


def events(trades: np.ndarray, quotes: np.ndarray, cfg: dict, depth: np.ndarray | None = None,
           l2_events: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """hftbacktest events of the tape: trades, then fused BBO (and L2) depth, merged by time
    (``l2_events``: makes the depth's DEPTH events from a depth table read in chunks,
    instead of ``depth``; called here so that nothing else holds them once fused)."""
    feed = int(cfg["feed_ns"])
    recorded = bool(cfg.get("recorded_feed"))
    n = len(quotes)
    q_local = quotes[:, 5] if recorded else quotes[:, 0] + feed
    bbo = np.zeros(2 * n, event_dtype)
    bbo["ev"][0::2] = DEPTH_BBO_EVENT | SELL_EVENT
    bbo["ev"][1::2] = DEPTH_BBO_EVENT | BUY_EVENT
    for k in (0, 1):
        bbo["exch_ts"][k::2] = quotes[:, 0]
        bbo["local_ts"][k::2] = q_local
    bbo["local_ts"][:2] = quotes[0, 0]  # the opening book is known when the window opens
    bbo["px"][0::2], bbo["qty"][0::2] = quotes[:, 3], quotes[:, 4]
    bbo["px"][1::2], bbo["qty"][1::2] = quotes[:, 1], quotes[:, 2]
    l2, pre = None if l2_events is None else l2_events(), np.zeros(0, event_dtype)
    if depth is not None:
        levels = int(cfg["levels"])
        d_local = depth[:, -1] if recorded else depth[:, 0] + feed
        d_local = d_local.copy()
        if depth[0, 0] == quotes[0, 0]:
            d_local[0] = depth[0, 0]  # the opening book is known at once
        l2 = depth_events(depth[:, :-1] if recorded else depth, levels, d_local)
    elif l2 is None and int(cfg.get("unknown_levels", 0)) > 0:
        pre, l2 = unknown_behind(quotes, bbo["local_ts"][0::2], trades, cfg["tick"],
                                 cfg["lot"], int(cfg["unknown_levels"]))
    # at one time: the BBO first, as in soakkit (both streams are in time order: fused as
    # they merge, without a merged copy; a day of L2 would hold several)
    empty = np.zeros(0, event_dtype)
    depth_ev = _fuse_merged(bbo, empty if l2 is None else l2, cfg["tick"], cfg["lot"])
    del bbo, l2
    tr = np.zeros(len(trades), event_dtype)
    tr["ev"] = np.where(trades[:, 3] > 0, TRADE_EVENT | BUY_EVENT, TRADE_EVENT | SELL_EVENT)
    tr["exch_ts"] = trades[:, 0]
    tr["local_ts"] = trades[:, 0] + feed
    tr["px"], tr["qty"] = trades[:, 1], trades[:, 2]
    if len(pre):
        tr = _merged(pre, tr)
    out = _merged(tr, depth_ev)  # at one time: trades before depth
    del tr, depth_ev
    if recorded:  # receive order differs from venue order: hftbacktest splits such events
        out = correct_event_order(out, np.arange(len(out)),
                                  np.argsort(out["local_ts"], kind="stable"))
    else:
        out["ev"] |= EXCH_EVENT | LOCAL_EVENT
    validate_event_order(out)
    return out


@njit
def _record(hbt, done, fills, n):  # type: ignore[no-untyped-def]
    """Append each order's new executions since the last call: what its cumulative filled
    quantity (qty - leaves_qty) grew by, at its last response's exchange time."""
    lot = hbt.depth(0).lot_size
    values = hbt.orders(0).values()
    while values.has_next():
        o = values.get()
        got = round((o.qty - o.leaves_qty) / lot)
        if got > done[o.order_id] and n < fills.shape[0]:
            fills[n, 0] = o.exch_timestamp
            fills[n, 1] = o.side
            fills[n, 2] = round(o.price / hbt.depth(0).tick_size)
            fills[n, 3] = got - done[o.order_id]
            fills[n, 4] = o.order_id
            done[o.order_id] = got
            n += 1
    return n


@njit
def _advance(hbt, dt, every_response, done, fills, n):  # type: ignore[no-untyped-def]
    """Elapse ``dt``; with ``every_response``, stop at every feed event and order response
    on the way and record the executions (partial fills overwrite each other's exec_qty
    and time in the local order copy, so each is read as it arrives). Returns (n, status)."""
    if not every_response:
        return n, hbt.elapse(dt)
    target = hbt.current_timestamp + dt
    while hbt.current_timestamp < target:
        status = hbt.wait_next_feed(True, target - hbt.current_timestamp)
        n = _record(hbt, done, fills, n)
        if status == 1 or status > 3:
            return n, status
    return n, 0


@njit
def _request(hbt, oid, kind, sent, prev, tick, lot, short_lots, info):  # type: ignore[no-untyped-def]
    """Order ``oid``'s request ``kind``: 0 cancel the order it replaces, 1 send it."""
    if kind == 0:
        if prev[oid] == 0:
            return
        # not for an order the bot knows is done: 2.4.4's exchange rejects a cancel for a
        # filled order with the order as the bot sent it (status filled), and the local
        # processor books that fill a second time
        order = hbt.orders(0).get(prev[oid])
        if order is None or order.status == FILLED:
            info[5] += 1  # filled, or filled / expired and cleared at a tick
        elif hbt.cancel(0, prev[oid], False) != 0:
            info[3] += 1  # refused: in flight (no response yet)
    elif sent[oid, 1] > 0:
        hbt.submit_buy_order(0, oid, sent[oid, 2] * tick, (sent[oid, 3] - short_lots) * lot,
                             GTX, LIMIT, False)
    else:
        hbt.submit_sell_order(0, oid, sent[oid, 2] * tick, (sent[oid, 3] - short_lots) * lot,
                              GTX, LIMIT, False)


@njit
def quote_loop(hbt, t_end, dt, h, threshold, mid_start, rate, age_ticks, icr, cap_usd,  # type: ignore[no-untyped-def]
               seen, fills, sent, info, every_response, short_lots, plan):
    hbt.elapse(0)
    t0 = hbt.current_timestamp
    tick = hbt.depth(0).tick_size
    lot = hbt.depth(0).lot_size
    n = 0
    k = 0
    prev_grid = 0.0
    last_any = 0
    sec = -1
    moves = 0
    des = np.full(2, -1, np.int64)  # last desired price per side: bid, ask
    planned = len(plan) > 0
    pp = 0
    status = 0
    live = np.zeros(2, np.int64)
    prev = np.zeros(sent.shape[0], np.int64)  # the order each one replaces (0: none)
    next_oid = 1
    while t0 + k * dt < t_end:
        n = _record(hbt, seen, fills, n)
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb, ba = depth.best_bid_tick, depth.best_ask_tick
        mid = (bb + ba) * (0.5 * tick)
        grid = math.floor(math.log(mid / mid_start) * 1e4 / threshold)
        cause = -1
        if k == 0:
            cause = 0
        else:
            s = (k * dt) // 1_000_000_000
            if s != sec:
                sec, moves = s, 0
            if grid != prev_grid:
                moves += 1
                cap = math.floor(rate * (s + 1) / 60.0) - math.floor(rate * s / 60.0)
                if moves <= cap:
                    cause = 1
            if cause < 0 and k - last_any >= age_ticks:
                cause = 2
        prev_grid = grid
        if cause >= 0:
            last_any = k
            bq = round(depth.bid_qty_at_tick(bb) / lot)
            aq = round(depth.ask_qty_at_tick(ba) / lot)
            depth_usd = 0.5 * (bq + aq) * lot * mid
            base = max(math.floor(min(icr * depth_usd, cap_usd) / (mid * lot)), 1.0)
            want = (min(math.floor(mid * (1.0 - h) / tick), ba - 1),
                    max(math.ceil(mid * (1.0 + h) / tick), bb + 1))
            go = np.zeros(2, np.int64)  # the new order's id per side (0: side kept)
            for side in range(2):
                if cause == 1 and want[side] == des[side]:
                    continue
                des[side] = want[side]
                go[side] = next_oid
                sent[next_oid, 0] = t0 + k * dt
                sent[next_oid, 1] = 1 - 2 * side
                sent[next_oid, 2] = want[side]
                sent[next_oid, 3] = base
                prev[next_oid] = live[side]
                live[side] = next_oid
                next_oid += 1
            if not planned:  # per side the cancel of the old order, then the new one
                for side in range(2):
                    if go[side] > 0:
                        for kind in range(2):
                            _request(hbt, go[side], kind, sent, prev, tick, lot, short_lots,
                                     info)
        k += 1
        # with a plan, each request at its own time (its own row of the latency table)
        while status == 0 and pp < len(plan) and plan[pp, 0] < t0 + k * dt:
            n, status = _advance(hbt, plan[pp, 0] - hbt.current_timestamp, every_response,
                                 seen, fills, n)
            if plan[pp, 1] < next_oid:
                _request(hbt, plan[pp, 1], plan[pp, 2], sent, prev, tick, lot, short_lots,
                         info)
            else:
                info[4] += 1  # the bot has not decided this order (the runs differ)
            pp += 1
        if status == 0:
            n, status = _advance(hbt, t0 + k * dt - hbt.current_timestamp, every_response,
                                 seen, fills, n)
        if status != 0:
            info[2] = status
            break
    n = _record(hbt, seen, fills, n)
    info[0] = n
    info[1] = next_oid - 1


def _parquet_tape(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """trades and quotes of a parquet tape as the CSV reader's arrays, times from the first
    quote (exact in float64 for a tape shorter than 104 days)."""
    import polars as pl

    quotes = pl.read_parquet(folder / "quotes.parquet",
                             columns=["ts_ns", "bid_px", "bid_qty", "ask_px", "ask_qty"])
    start = int(quotes["ts_ns"][0])
    quotes = quotes.with_columns(pl.col("ts_ns") - start).to_numpy().astype(np.float64)
    trades = (pl.read_parquet(folder / "trades.parquet", columns=["ts_ns", "price", "qty", "side"])
              .filter(pl.col("ts_ns") >= start).with_columns(pl.col("ts_ns") - start)
              .to_numpy().astype(np.float64))
    return trades, quotes


#: depth rows read and turned into events at a time (a day's table does not fit whole)
DEPTH_CHUNK = 1 << 20


def _parquet_depth(folder: Path, start: int, cfg: dict) -> np.ndarray:
    """The DEPTH events of a parquet tape's ``depth.parquet`` (times from ``start``; receive
    times venue time + ``feed_ns``, the opening row known at once), read in chunks."""
    import polars as pl

    path = folder / "depth.parquet"
    levels = int(cfg["levels"])
    names = ["ts_ns"] + [f"{side}_{what}_{i}" for i in range(levels) for side in ("bid", "ask")
                         for what in ("px", "qty")]
    total = pl.scan_parquet(path).select(pl.len()).collect().item()
    differ = DepthDiffer(levels)
    out = []
    for first in range(0, total, DEPTH_CHUNK):
        chunk = (pl.scan_parquet(path).select(names).slice(first, DEPTH_CHUNK)
                 .with_columns(pl.col("ts_ns") - start).fill_null(0.0).collect()
                 .to_numpy().astype(np.float64))
        local = chunk[:, 0].astype(np.int64) + int(cfg["feed_ns"])
        if first == 0 and chunk[0, 0] == 0:
            local[0] = 0  # the opening book is known at once
        out.append(differ.events(chunk, local))
        del chunk
    return np.concatenate(out)


def _tape_events(tape: Path, cfg: dict) -> np.ndarray:
    if (tape / "quotes.parquet").is_file():
        if (tape / "depth.parquet").is_file() and cfg.get("recorded_feed"):
            raise SystemExit(f"{tape}: receive times of an L2 parquet tape: write it as CSV "
                             "(bench_hftbacktest)")
        trades, quotes = _parquet_tape(tape)
        l2 = None
        if (tape / "depth.parquet").is_file():
            import polars as pl

            start = int(pl.scan_parquet(tape / "quotes.parquet").head(1).collect()["ts_ns"][0])
            l2 = partial(_parquet_depth, tape, start, cfg)
        return events(trades, quotes, cfg, l2_events=l2)
    trades = np.loadtxt(tape / "trades.csv", delimiter=",", skiprows=1, ndmin=2)
    quotes = np.loadtxt(tape / "quotes.csv", delimiter=",", skiprows=1, ndmin=2)
    depth_path = tape / "depth.csv"
    depth = (np.loadtxt(depth_path, delimiter=",", skiprows=1, ndmin=2)
             if depth_path.is_file() else None)
    return events(trades, quotes, cfg, depth)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tape", type=Path, help="a tape folder (CSV or parquet tables)")
    p.add_argument("--events", help="backtest from this .npz (written by --events-out)")
    p.add_argument("--config", required=True)
    p.add_argument("--out", help="fills CSV (with .orders and .json beside it)")
    p.add_argument("--events-out", help="only convert --tape into this .npz")
    args = p.parse_args(argv)
    with open(args.config) as fh:
        cfg = json.load(fh)
    if args.events_out:
        np.savez_compressed(args.events_out, data=_tape_events(args.tape, cfg))
        return 0
    if not args.out or (args.tape is None) == (args.events is None):
        p.error("--out and one of --tape, --events (or --tape and --events-out)")
    ev = args.events if args.events else _tape_events(args.tape, cfg)
    asset = BacktestAsset().data([ev] if isinstance(ev, str) else ev).linear_asset(1.0)
    rows = cfg.get("latency_rows")
    plan = np.zeros((0, 3), np.int64)
    if rows:  # one row per request: (request, venue, response) times, then order and kind
        table = np.loadtxt(rows, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
        latency = np.zeros(len(table), LATENCY_ROW)
        latency["req_ts"], latency["exch_ts"], latency["resp_ts"] = table[:, :3].T
        asset = asset.intp_order_latency(latency)
        plan = np.ascontiguousarray(table[:, [0, 3, 4]])
    else:
        asset = asset.constant_order_latency(int(cfg["entry_ns"]),
                                             int(cfg.get("hbt_ack_ns", cfg["ack_ns"])))
    if cfg["queue"] == "risk_averse":
        asset = asset.risk_adverse_queue_model()  # (sic)
    else:
        asset = asset.power_prob_queue_model(float(cfg["queue"].split(":")[1]))
    partial = cfg.get("fill_model") in ("partial", "partial_through_all")
    asset = asset.partial_fill_exchange() if partial else asset.no_partial_fill_exchange()
    asset = (asset.tick_size(cfg["tick"]).lot_size(cfg["lot"])
             .trading_value_fee_model(-cfg["maker_rebate_bps"] / 1e4, cfg["taker_fee_bps"] / 1e4)
             .last_trades_capacity(0))
    hbt = HashMapMarketDepthBacktest([asset])
    max_orders = int(cfg["max_orders"])
    seen = np.zeros(max_orders + 2, np.int64)
    fills = np.zeros(((64 if partial else 1) * (max_orders + 2), 5), np.int64)
    info = np.zeros(6, np.int64)
    sent = np.zeros((max_orders + 2, 4), np.int64)
    quote_loop(hbt, int(cfg["end_ns"]), int(cfg["interval_ns"]), float(cfg["half"]),
               float(cfg["threshold_bps"]), float(cfg["mid_start"]), float(cfg["rate_per_min"]),
               int(cfg["age_ticks"]), float(cfg["icr"]), float(cfg["cap_usd"]), seen, fills,
               sent, info, partial, SHORT_LOTS if partial else 0.0, plan)
    sv = hbt.state_values(0)
    state = {"position": sv.position, "balance": sv.balance, "fee": sv.fee,
             "num_trades": int(sv.num_trades)}
    hbt.close()
    n = int(info[0])
    np.savetxt(args.out, fills[:n], fmt="%d", delimiter=",",
               header="ns,side,price_ticks,lots,order_id", comments="")
    np.savetxt(args.out + ".orders", sent[1:int(info[1]) + 1], fmt="%d", delimiter=",",
               header="decide_ns,side,price_ticks,lots", comments="")
    import hftbacktest
    with open(args.out + ".json", "w") as fh:
        json.dump({"fills": n, "orders": int(info[1]), "state": state,
                   "stopped_with_status": int(info[2]), "cancels_refused": int(info[3]),
                   "cancels_skipped_order_done": int(info[5]),
                   "planned_requests_undecided": int(info[4]),
                   "versions": {"hftbacktest": hftbacktest.__version__,
                                "numpy": np.__version__}}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

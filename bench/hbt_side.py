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

    python bench/hbt_side.py --tape DIR --config cfg.json --out fills.csv

A tape folder of parquet tables (``trades.parquet``, ``quotes.parquet``: a tape as soakkit
writes it, read with polars; times made relative to the first quote) works too. Split in
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
from pathlib import Path

import numpy as np
from hftbacktest import (
    BUY_EVENT,
    EXCH_EVENT,
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

FILLED = 3


@njit
def _fuse(bbo: np.ndarray, tick: float, lot: float) -> np.ndarray:
    fuse = FuseMarketDepth(tick, lot)
    for i in range(len(bbo)):
        fuse.process_event(bbo, i, True)
    out = fuse.fused_events.copy()
    fuse.close()
    return out


def depth_events(rows: np.ndarray, levels: int, local: np.ndarray) -> np.ndarray:
    """DEPTH events of the depth table's rows (see the module docstring)."""
    out = []
    prev: tuple[dict[float, float], dict[float, float]] = ({}, {})
    for r in range(len(rows)):
        ts = int(rows[r, 0])
        for k, (side_flag, sign) in enumerate(((BUY_EVENT, 1), (SELL_EVENT, -1))):
            px = rows[r, 1 + 2 * k::4][:levels]
            qty = rows[r, 2 + 2 * k::4][:levels]
            now = {float(p): float(q) for p, q in zip(px, qty, strict=True) if q > 0}
            full = len(now) == levels
            worst = min(p * sign for p in now) if full else -np.inf
            for p, q in now.items():
                if prev[k].get(p) != q:
                    out.append((DEPTH_EVENT | side_flag, ts, int(local[r]), p, q))
            for p in prev[k]:
                if p not in now and p * sign >= worst:
                    out.append((DEPTH_EVENT | side_flag, ts, int(local[r]), p, 0.0))
            prev = (now, prev[1]) if k == 0 else (prev[0], now)
    ev = np.zeros(len(out), event_dtype)
    for i, (e, ts, lc, p, q) in enumerate(out):
        ev[i]["ev"], ev[i]["exch_ts"], ev[i]["local_ts"], ev[i]["px"], ev[i]["qty"] = \
            e, ts, lc, p, q
    return ev


def events(trades: np.ndarray, quotes: np.ndarray, cfg: dict, depth: np.ndarray | None = None
           ) -> np.ndarray:
    """hftbacktest events of the tape: trades, then fused BBO (and L2) depth, merged by time."""
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
    if depth is not None:
        levels = int(cfg["levels"])
        d_local = depth[:, -1] if recorded else depth[:, 0] + feed
        d_local = d_local.copy()
        if depth[0, 0] == quotes[0, 0]:
            d_local[0] = depth[0, 0]  # the opening book is known at once
        l2 = depth_events(depth[:, :-1] if recorded else depth, levels, d_local)
        both = np.concatenate((bbo, l2))
        order = np.lexsort((np.arange(len(both)),
                            np.concatenate((np.zeros(len(bbo)), np.ones(len(l2)))),
                            both["exch_ts"]))  # at one time: the BBO first, as in soakkit
        bbo = both[order]
    depth_ev = _fuse(bbo, cfg["tick"], cfg["lot"])
    tr = np.zeros(len(trades), event_dtype)
    tr["ev"] = np.where(trades[:, 3] > 0, TRADE_EVENT | BUY_EVENT, TRADE_EVENT | SELL_EVENT)
    tr["exch_ts"] = trades[:, 0]
    tr["local_ts"] = trades[:, 0] + feed
    tr["px"], tr["qty"] = trades[:, 1], trades[:, 2]
    both = np.concatenate((tr, depth_ev))
    first = np.concatenate((np.zeros(len(tr), np.int64), np.ones(len(depth_ev), np.int64)))
    order = np.lexsort((np.arange(len(both)), first, both["exch_ts"]))
    out = both[order]
    if recorded:  # receive order differs from venue order: hftbacktest splits such events
        out = correct_event_order(out, np.arange(len(out)),
                                  np.argsort(out["local_ts"], kind="stable"))
    else:
        out["ev"] |= EXCH_EVENT | LOCAL_EVENT
    validate_event_order(out)
    return out


@njit
def _record(hbt, seen, fills, n):  # type: ignore[no-untyped-def]
    values = hbt.orders(0).values()
    while values.has_next():
        o = values.get()
        if o.status == FILLED and seen[o.order_id] == 0:
            seen[o.order_id] = 1
            fills[n, 0] = o.exch_timestamp
            fills[n, 1] = o.side
            fills[n, 2] = round(o.price / hbt.depth(0).tick_size)
            fills[n, 3] = round(o.qty / hbt.depth(0).lot_size)
            fills[n, 4] = o.order_id
            n += 1
    return n


@njit
def quote_loop(hbt, t_end, dt, h, threshold, mid_start, rate, age_ticks, icr, cap_usd,  # type: ignore[no-untyped-def]
               seen, fills, sent, info):
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
    live = np.zeros(2, np.int64)
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
            for side in range(2):
                if cause == 1 and want[side] == des[side]:
                    continue
                des[side] = want[side]
                if live[side] > 0:
                    hbt.cancel(0, live[side], False)
                px = want[side] * tick
                sent[next_oid, 0] = t0 + k * dt
                sent[next_oid, 1] = 1 - 2 * side
                sent[next_oid, 2] = want[side]
                sent[next_oid, 3] = base
                if side == 0:
                    hbt.submit_buy_order(0, next_oid, px, base * lot, GTX, LIMIT, False)
                else:
                    hbt.submit_sell_order(0, next_oid, px, base * lot, GTX, LIMIT, False)
                live[side] = next_oid
                next_oid += 1
        k += 1
        if hbt.elapse(dt) != 0:
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


def _tape_events(tape: Path, cfg: dict) -> np.ndarray:
    if (tape / "quotes.parquet").is_file():
        if (tape / "depth.parquet").is_file():
            raise SystemExit(f"{tape}: an L2 parquet tape: write it as CSV (bench_hftbacktest)")
        trades, quotes = _parquet_tape(tape)
        return events(trades, quotes, cfg)
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
    asset = (BacktestAsset().data([ev] if isinstance(ev, str) else ev).linear_asset(1.0)
             .constant_order_latency(int(cfg["entry_ns"]), int(cfg["ack_ns"])))
    if cfg["queue"] == "risk_averse":
        asset = asset.risk_adverse_queue_model()  # (sic)
    else:
        asset = asset.power_prob_queue_model(float(cfg["queue"].split(":")[1]))
    asset = (asset.no_partial_fill_exchange().tick_size(cfg["tick"]).lot_size(cfg["lot"])
             .trading_value_fee_model(-cfg["maker_rebate_bps"] / 1e4, cfg["taker_fee_bps"] / 1e4)
             .last_trades_capacity(0))
    hbt = HashMapMarketDepthBacktest([asset])
    max_orders = int(cfg["max_orders"])
    seen = np.zeros(max_orders + 2, np.int64)
    fills = np.zeros((max_orders + 2, 5), np.int64)
    info = np.zeros(2, np.int64)
    sent = np.zeros((max_orders + 2, 4), np.int64)
    quote_loop(hbt, int(cfg["end_ns"]), int(cfg["interval_ns"]), float(cfg["half"]),
               float(cfg["threshold_bps"]), float(cfg["mid_start"]), float(cfg["rate_per_min"]),
               int(cfg["age_ticks"]), float(cfg["icr"]), float(cfg["cap_usd"]), seen, fills,
               sent, info)
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
                   "versions": {"hftbacktest": hftbacktest.__version__,
                                "numpy": np.__version__}}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

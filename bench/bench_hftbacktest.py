"""soakkit's engine against hftbacktest: same tape, same quoting logic, matched venue.

The tape (a synthetic soakkit market, or a window of a recorded tape, L1 or L2: an L2
tape's depth goes to hftbacktest as depth events fused with the quotes; ``--l1`` drops it)
is written as CSV;
soakkit's engine runs the ``steady_safe`` quoting logic on it with a venue matched to
hftbacktest's (constant feed, entry and response latency, cancels at the entry latency,
no rate limit, whole fills = NoPartialFillExchange, the same queue model) and no
inventory feedback (no skew, no unloads); ``bench/hbt_side.py`` runs the same logic in
hftbacktest (``--hbt-python``: a Python with hftbacktest 2.4, e.g. a venv made with
``pip install "hftbacktest==2.4.*"``; CI does not need it). The orders both send are
matched one to one (same decision time, side and price), then their fills.

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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.sim.latency import ConstantLatency
from soakkit.sim.market import simulate_market
from soakkit.sim.queue import queue_model
from soakkit.sim.regimes import MARKET, STRATEGY
from soakkit.sim.replay import load_tape, replay_window
from soakkit.sim.strategy import StrategyResult, run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.venue import Venue

HERE = Path(__file__).resolve().parent
_MS = 1_000_000


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
            orders: int) -> dict[str, Any]:
    interval = round(float(values["min_interval_ms"]) * _MS)
    return {"tick": tape.tick, "lot": tape.lot, "queue": queue, **lat,
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
CROSSED_BY_DEPTH = ("a depth row crossed the order before the quote rows did (hftbacktest "
                    "fuses both streams; soakkit's quote rows are the authority at the best)")


def _behind(tape: MarketTape, side: np.ndarray, price: np.ndarray, arrive: np.ndarray
            ) -> np.ndarray:
    """Orders whose price was behind their side's best when they arrived."""
    q = np.maximum(tape.quote_index(arrive), 0)
    return np.asarray(np.where(side > 0, price < tape.bid_px[q], price > tape.ask_px[q]))


def compare(tape: MarketTape, res: StrategyResult, hbt: np.ndarray) -> dict[str, Any]:
    """Orders and fills of the two runs, matched; unmatched fills with their cause."""
    log = res.orders
    assert log is not None
    f = res.fills
    behind_best = _behind(tape, log.side, log.price, log.arrive_ns)
    ours = {int(o): (int(n), int(s), int(p), int(q)) for o, n, s, p, q in zip(
        f.order.tolist(), f.ns.tolist(), f.side.tolist(), f.ticks.tolist(), f.lots.tolist(),
        strict=True)}
    theirs = {int(r[4]) - 1: (int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in hbt}
    matched = {o for o in ours if theirs.get(o) == ours[o]}
    causes: dict[str, int] = {}
    depth_ns = set(tape.depth.ns.tolist()) if tape.depth is not None else set()
    trade_ns = set(tape.trade_ns.tolist())
    for o in sorted((set(ours) | set(theirs)) - matched):
        sooner = "hftbacktest" if o not in ours or (o in theirs and theirs[o][0] < ours[o][0]) \
            else "soakkit"
        both = o in ours and o in theirs
        if both and ours[o][:3] == theirs[o][:3]:
            key = SIZE
        elif both and sooner == "hftbacktest" and theirs[o][0] in depth_ns \
                and theirs[o][0] not in trade_ns:
            key = CROSSED_BY_DEPTH
        elif o < log.side.size and behind_best[o]:
            why = BEHIND if not np.isfinite(log.front0[o]) else BEHIND_L2
            key = f"{why}; {sooner} filled sooner"
        else:
            key = "other (unexplained)"
        causes[key] = causes.get(key, 0) + (o in ours) + (o in theirs)
    known = [o for o in set(ours) | set(theirs) if o < log.side.size and not behind_best[o]]
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
    return {"orders": int(log.side.size),
            "orders_resting_behind_best": int((~np.isfinite(log.front0)).sum()),
            "fills_soakkit": len(ours), "fills_hftbacktest": len(theirs),
            "fills_matched": len(matched),
            "match_share": len(matched) / max(len(set(ours) | set(theirs)), 1),
            "match_share_joined_or_improved": (len([o for o in known if o in matched])
                                               / len(known) if known else None),
            "orders_behind_best_with_l2_queue": int((behind_best & np.isfinite(log.front0)
                                                     ).sum()),
            "unmatched_causes": causes, "position_max_abs_diff_lots": int(gap.max()),
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
                              "latency_ns": lat, "feed": args.feed, "sets": args.sets,
                              "queues": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tape"
        _write_csv(tape, folder)
        for q in args.queues:
            venue = Venue(queue_model(q), ConstantLatency(lat["feed_ns"], lat["entry_ns"],
                                                          lat["entry_ns"], lat["ack_ns"]),
                          None, "whole")
            res = run_strategy(tape, values, np.random.default_rng(0), venue)
            assert res.orders is not None
            if args.soakkit_only:
                report["queues"][q] = {"orders": int(res.orders.side.size),
                                       "fills_soakkit": int(res.fills.ns.size)}
                continue
            cfg = Path(tmp) / f"{q.replace(':', '_')}.json"
            cfg.write_text(json.dumps(_config(tape, values, q, lat, res.orders.side.size)))
            out = Path(tmp) / f"{q.replace(':', '_')}.csv"
            subprocess.run([args.hbt_python, str(HERE / "hbt_side.py"), "--tape", str(folder),
                            "--config", str(cfg), "--out", str(out)], check=True)
            hbt = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
            report["queues"][q] = {**compare(tape, res, hbt), "hftbacktest": json.loads(
                Path(str(out) + ".json").read_text())}
    for q, r in report["queues"].items():
        if args.soakkit_only:
            print(f"{q:12s} soakkit: {r['orders']} orders, {r['fills_soakkit']} fills")
            continue
        joined = r["match_share_joined_or_improved"]
        joined_text = "none" if joined is None else f"{100 * joined:.2f} %"
        print(f"{q:12s} fills soakkit {r['fills_soakkit']} hftbacktest {r['fills_hftbacktest']} "
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

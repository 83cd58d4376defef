"""A day of replay: soakkit against hftbacktest on the same tape, both whole processes.

The tape (``--tape``: e.g. a day from a calibrated market, ``bench/make_day_tape.py``) is
replayed whole, three ways, each a process timed from the outside (wall, CPU of the process
and its children, peak RSS: ``wait4``, what ``/usr/bin/time -v`` reports):

* **soakkit, matched models**: this file's ``--side soakkit`` streams the tape window by
  window (``--window-minutes``, :func:`soakkit.sim.replay.stream_tape`) and runs the
  ``steady_safe`` quoting logic on each with the venue of ``bench/bench_hftbacktest.py``:
  the same queue model as hftbacktest's (``--queue``), constant feed, entry and response
  latency, whole fills;
* **hftbacktest**, the same logic (``bench/hbt_side.py``) backtested from its event file
  (``.npz``), as its users run it; the conversion of the tape into that file (fusing the
  quote rows and, on an L2 tape, the depth rows' level changes into depth events) is timed
  on its own, as input preparation;
* **soakkit soak**, the user command ``soakkit soak --market-data TAPE --iterations N
  --sim-minutes M`` (``--soak-minutes``, default 60): the whole job (its strategy, venue,
  KPIs, gate, tuner and artifacts per iteration), for scale.

Events are the tape's rows replayed: trades + quote rows + depth rows. Rates are events
per CPU second (per core) and per wall second. One summary line per side, then the ratio
soakkit / hftbacktest of events per CPU second.

    python bench/bench_replay_day.py --tape DAY --hbt-python /path/to/hbt-venv/bin/python \\
        --out bench/out/replay_day.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import Child, make_parser, run_child, save

HERE = Path(__file__).resolve().parent
NOW = "2026-12-07T00:00:00Z"
_MS = 1_000_000
_LAT = {"feed_ns": 2 * _MS, "entry_ns": 5 * _MS, "ack_ns": 5 * _MS}


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)


def soakkit_side(tape_dir: Path, minutes: int, window: int, queue: str) -> dict[str, Any]:
    """Replay ``minutes`` of the tape in ``window``-minute windows with the matched venue."""
    from bench_hftbacktest import _params

    from soakkit.sim.latency import ConstantLatency
    from soakkit.sim.queue import queue_model
    from soakkit.sim.replay import replay_window, stream_tape
    from soakkit.sim.strategy import run_strategy
    from soakkit.sim.venue import Venue

    values = _params([])
    venue = Venue(queue_model(queue), ConstantLatency(_LAT["feed_ns"], _LAT["entry_ns"],
                                                      _LAT["entry_ns"], _LAT["ack_ns"]),
                  None, "whole")
    tape = stream_tape(tape_dir)
    orders = fills = events = 0
    for n in range(1, minutes // window + 1):
        piece = replace(replay_window(tape, n, window), quote_local_ns=None)  # constant feed
        res = run_strategy(piece, values, np.random.default_rng(n), venue)
        assert res.orders is not None
        orders += int(res.orders.side.size)
        fills += int(res.fills.ns.size)
        events += piece.events
        _progress(f"soakkit: window {n}/{minutes // window}")
    _progress("")
    return {"orders": orders, "fills": fills, "events_replayed": events}


def _config(tape_dir: Path, queue: str, minutes: int) -> dict[str, Any]:
    """hbt_side.py's config for the whole tape (bench_hftbacktest's, from the tape files)."""
    import polars as pl
    from bench_hftbacktest import _params

    from soakkit.sim.regimes import MARKET, STRATEGY
    from soakkit.sim.tapemeta import read_meta

    meta = read_meta(tape_dir)
    values = _params([])
    first = pl.scan_parquet(tape_dir / "quotes.parquet").head(1).collect()
    interval = round(float(values["min_interval_ms"]) * _MS)
    return {"tick": meta["tick"], "lot": meta["lot"], "queue": queue, **_LAT,
            "interval_ns": interval, "end_ns": minutes * 60 * 10**9,
            "half": (float(values["base_spread_bps"]) + float(values["base_spread_bps_delta"]))
            / 1e4, "threshold_bps": STRATEGY.requote_threshold_bps,
            "mid_start": float((first["bid_px"][0] + first["ask_px"][0]) / 2),
            "rate_per_min": float(values["replace_rate_per_min"]),
            "age_ticks": int(np.ceil(float(values["tail_age_ms"]) * _MS / interval)),
            "icr": float(values["impact_cap_ratio"]), "cap_usd": 1e30,
            "maker_rebate_bps": MARKET.maker_rebate_bps, "taker_fee_bps": MARKET.taker_fee_bps,
            "max_orders": 2 * (minutes * 60 * 10**9 // interval) + 16,
            "levels": int(meta.get("levels") or 0),  # an L2 tape: its depth events too
            "recorded_feed": False}


def _rows(tape_dir: Path, minutes: int) -> dict[str, int]:
    """The tape's rows in the first ``minutes`` minutes from its first quote."""
    import polars as pl

    start = int(pl.scan_parquet(tape_dir / "quotes.parquet").head(1).collect()["ts_ns"][0])
    end = start + minutes * 60 * 10**9
    out = {}
    for name in ("trades", "quotes", "depth"):
        path = tape_dir / f"{name}.parquet"
        if path.is_file():
            out[name] = int(pl.scan_parquet(path).filter(
                (pl.col("ts_ns") >= start) & (pl.col("ts_ns") < end)).select(pl.len())
                .collect().item())
    return out


def _figures(child: Child, events: int) -> dict[str, Any]:
    return {"wall_s": round(child.wall_s, 3), "cpu_s": round(child.cpu_s, 3),
            "user_s": round(child.user_s, 3), "sys_s": round(child.sys_s, 3),
            "peak_rss_mib": round(child.max_rss_kib / 1024, 1),
            "events_per_cpu_s": round(events / max(child.cpu_s, 1e-9)),
            "events_per_wall_s": round(events / max(child.wall_s, 1e-9))}


def _line(name: str, f: dict[str, Any]) -> str:
    return (f"{name:28s} wall {f['wall_s']:8.1f} s  CPU {f['cpu_s']:8.1f} s  peak RSS "
            f"{f['peak_rss_mib']:7.0f} MiB  {f['events_per_cpu_s'] / 1e6:6.3f} M events/s "
            "per core")


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--tape", type=Path, required=True,
                        help="a parquet tape folder (L1, or L2 with depth.parquet)")
    parser.add_argument("--minutes", type=int, help="replay this many minutes (default: "
                        "every whole --window-minutes window of the tape; 1..1440)")
    parser.add_argument("--window-minutes", type=int, default=60,
                        help="soakkit's windows (default 60; 1..1440)")
    parser.add_argument("--soak-minutes", type=int, default=60,
                        help="soakkit soak's --sim-minutes (default 60: the day in 24 "
                        "iterations; 0: skip the soak)")
    parser.add_argument("--queue", default="power:2",
                        help="the queue model of both (default power:2, probabilistic)")
    parser.add_argument("--hbt-python", help="a Python with hftbacktest 2.4 installed")
    parser.add_argument("--parts", default="hftbacktest,soakkit,soak",
                        help="which of hftbacktest, soakkit, soak to run (default: all)")
    parser.add_argument("--side", choices=("soakkit",), help=argparse_hidden())
    args = parser.parse_args(argv)
    from soakkit.sim.replay import stream_tape, windows_available

    if args.side == "soakkit":  # the child process timed from outside
        print(json.dumps(soakkit_side(args.tape, args.minutes, args.window_minutes,
                                      args.queue)))
        return 0
    if not args.hbt_python and "hftbacktest" in args.parts.split(","):
        parser.error("--hbt-python is required (or --parts without hftbacktest)")
    if not 1 <= args.window_minutes <= 1440:
        parser.error("--window-minutes must be 1..1440")
    have = windows_available(stream_tape(args.tape), args.window_minutes) * args.window_minutes
    minutes = args.minutes or have
    if not 1 <= minutes <= min(have, 1440) or minutes % args.window_minutes:
        parser.error(f"--minutes must be a multiple of --window-minutes, at most {have}")
    rows = _rows(args.tape, minutes)
    events = sum(rows.values())
    load = os.getloadavg()[0]
    report: dict[str, Any] = {"tape": str(args.tape), "minutes": minutes, "rows": rows,
                              "events": events, "queue": args.queue, "latency_ns": _LAT,
                              "load_before": round(load, 2)}
    print(f"{args.tape}: {minutes} minutes, {events:,} events ({rows}); load {load:.2f}")
    py = sys.executable
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "cfg.json"
        cfg.write_text(json.dumps(_config(args.tape, args.queue, minutes)))
        npz = Path(tmp) / "events.npz"
        if "hftbacktest" in parts:
            _hftbacktest(args.hbt_python, args.tape, cfg, npz, events, report)
        if "soakkit" in parts:
            _progress("soakkit: matched models")
            ours = run_child([py, __file__, "--side", "soakkit", "--tape", str(args.tape),
                              "--minutes", str(minutes), "--window-minutes",
                              str(args.window_minutes), "--queue", args.queue])
            report["soakkit"] = {**_figures(ours, events), **json.loads(ours.stdout)}
        if args.soak_minutes and "soak" in parts:
            _progress("soakkit soak: the user command")
            iterations = minutes // args.soak_minutes
            soak = run_child([str(Path(py).parent / "soakkit"), "soak", "--market-data",
                              str(args.tape), "--iterations", str(iterations), "--sim-minutes",
                              str(args.soak_minutes), "--artifacts", str(Path(tmp) / "art"),
                              "--now", NOW, "--quiet"], check=False)
            report["soakkit_soak"] = {**_figures(soak, events), "iterations": iterations}
    _progress("")
    report["load_after"] = round(os.getloadavg()[0], 2)
    for name, label in (("hftbacktest", "hftbacktest (from its npz)"),
                        ("hftbacktest_conversion", "  its conversion (tape→npz)"),
                        ("soakkit", "soakkit (matched models)"),
                        ("soakkit_soak", "soakkit soak (user command)")):
        if name in report:
            print(_line(label, report[name]))
    if "soakkit" in report and "hftbacktest" in report:
        report["ratio_events_per_cpu_s"] = round(report["soakkit"]["events_per_cpu_s"]
                                                 / report["hftbacktest"]["events_per_cpu_s"],
                                                 3)
        print(f"summary: {minutes} min, {events:,} events, load {load:.2f}→"
              f"{report['load_after']:.2f}; soakkit/hftbacktest events per CPU second "
              f"{report['ratio_events_per_cpu_s']:.2f}x; peak RSS soakkit "
              f"{report['soakkit']['peak_rss_mib']:.0f} MiB, hftbacktest "
              f"{report['hftbacktest']['peak_rss_mib']:.0f} MiB")
    save(args.out, report)
    return 0


def _hftbacktest(python: str, tape: Path, cfg: Path, npz: Path, events: int,
                 report: dict[str, Any]) -> None:
    """Convert the tape into hftbacktest's events (timed apart), then backtest from them."""
    _progress("hftbacktest: converting the tape")
    convert = run_child([python, str(HERE / "hbt_side.py"), "--tape", str(tape),
                         "--config", str(cfg), "--events-out", str(npz)])
    report["hftbacktest_conversion"] = {**_figures(convert, events),
                                        "npz_mib": round(npz.stat().st_size / 2**20, 1)}
    _progress("hftbacktest: backtest")
    out = npz.parent / "fills.csv"
    hbt = run_child([python, str(HERE / "hbt_side.py"), "--events", str(npz),
                     "--config", str(cfg), "--out", str(out)])
    report["hftbacktest"] = {**_figures(hbt, events),
                             **json.loads(Path(str(out) + ".json").read_text())}


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())

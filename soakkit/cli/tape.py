"""`soakkit tape`: import public market data, check a tape, write a synthetic sample tape."""

from __future__ import annotations

import argparse
from pathlib import Path

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import (
    Parser,
    add_artifacts,
    bounds_help,
    float_arg,
    formatter,
    int_arg,
    path_arg,
)
from soakkit.core.errors import ExitCode, UsageError, exit_codes_help
from soakkit.core.inputs import MAX_SEED, MAX_SIM_MINUTES
from soakkit.sim.tape_bounds import BOUNDS_HELP

EPILOG = """\
tape format (docs/SIMULATOR.md, "Replay"): a folder with
  trades.parquet|trades.csv[.gz]  ts_ns, price, qty, side (+1 buyer aggressor, -1 seller)
                                  [, local_ns: receive time on the venue's clock]
  quotes.parquet|quotes.csv[.gz]  ts_ns, bid_px, bid_qty, ask_px, ask_qty [, local_ns]
  depth.parquet                   optional (L2): top N levels after each depth update
  tape.json                       optional: kind, tick, lot, contract_size, symbol, venue,
                                  source, levels, clock, feed_latency_ms

examples:
  soakkit tape import --from binance-capture --capture ethusdt_20240808.gz --out tape/
  soakkit tape import --from tardis --trades trades.csv.gz --quotes quotes.csv.gz \\
      --book book_snapshot_25.csv.gz --out tape/
  soakkit tape import --from binance --trades ETHUSD_PERP-aggTrades-2024-08-09.zip \\
      --quotes ETHUSD_PERP-bookTicker-2024-08-09.zip --out tape/
  soakkit tape check tape/
  soakkit tape sample my-sample/ --minutes 20 --mode mixed --seed 7
  soakkit tape sample venue-sample/ --market my-venue --minutes 10   (a calibrated market)
  soakkit tape sample l2-sample/ --market my-venue --minutes 10 --levels 10   (with depth)
  soakkit soak --market-data tape/ --iterations 3 --sim-minutes 10

sources (--from): binance-capture: hftbacktest collector files (<local ns> <JSON>), trades,
  book tickers, depth diffs and REST snapshots, with receive times; tardis: trades +
  quotes/book_ticker and/or book_snapshot_25 | incremental_book_L2 (--book); binance:
  data.binance.vision aggTrades|trades + bookTicker (spot or futures layouts, .csv, .csv.gz
  or .zip, header or not). Inputs of different symbols, markets or periods are refused.

""" + bounds_help([f"sample --minutes 1..{MAX_SIM_MINUTES}", f"--seed 0..{MAX_SEED}"],
                  "--tick, --lot and --contract-size more than 0; import --levels 1..100 "
                  "(default 25), sample --levels 1..100 (default: none), --conflate-ms "
                  "0..60000; "
                  + BOUNDS_HELP + ".") + """

An existing tape folder is never overwritten: import --out and sample refuse one unless
--force, which replaces its tape files (and says which) and leaves one consistent tape.

""" + exit_codes_help([ExitCode.OK, ExitCode.USAGE], {
    ExitCode.USAGE: "bad arguments or a bad file (one line naming the file and the row)"})

_NEEDS = {"binance-capture": ("capture",), "binance": ("trades", "quotes"),
          "tardis": ("trades",)}
_FORBIDS = {"binance-capture": ("trades", "quotes", "book", "symbol"),
            "binance": ("capture", "book", "levels"), "tardis": ("capture", "symbol")}


def _check_flags(args: argparse.Namespace) -> None:
    for name in _NEEDS[args.source]:
        if getattr(args, name) is None:
            raise UsageError(f"tape import --from {args.source}: --{name} is required")
    for name in _FORBIDS[args.source]:
        if getattr(args, name) is not None:
            raise UsageError(f"tape import --from {args.source}: --{name} does not apply")
    if args.source == "tardis" and args.quotes is None and args.book is None:
        raise UsageError("tape import --from tardis: --quotes, --book or both are required")


def _replacing(folder: Path, force: bool) -> list[str]:
    """The tape files ``folder`` holds: refused (before any work) unless ``force``."""
    from soakkit.core.errors import TapeError
    from soakkit.sim.tapefile import existing_tape_files

    existing = existing_tape_files(folder)
    if existing and not force:
        raise TapeError(f"{folder}: already holds a tape ({', '.join(existing)}); --force "
                        "replaces it")
    return existing


def _cmd_import(args: argparse.Namespace) -> int:
    from soakkit.sim.importers import import_binance, import_binance_capture, import_tardis

    _check_flags(args)
    replaced = _replacing(args.out, args.force)
    common = {"tick": args.tick, "lot": args.lot, "kind": args.kind,
              "contract_size": args.contract_size, "replace": args.force}
    levels = args.levels or 25
    if args.source == "binance-capture":
        report = import_binance_capture(args.capture, args.out, levels=levels, **common)
    elif args.source == "tardis":
        report = import_tardis(args.trades, args.quotes, args.out, book=args.book,
                               levels=levels, **common)
    else:
        report = import_binance(args.trades, args.quotes, args.out, symbol=args.symbol or "",
                                **common)
    print("\n".join(report.lines()))
    if replaced:
        print(f"  replaced {', '.join(replaced)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import numpy as np

    from soakkit.sim.regimes import MARKET, REGIME_NAMES
    from soakkit.sim.replay import label_minutes
    from soakkit.sim.tapefile import read_tape

    tape = read_tape(args.path)
    minutes = int(tape.duration_s // 60)
    inst = tape.instrument
    size = f", contract {inst.contract_size:g} USD" if inst.inverse else ""
    print(f"{tape.path}: {tape.symbol or 'symbol ?'} on {tape.venue or 'venue ?'} "
          f"({tape.source or 'source ?'}), {inst.kind}, tick {tape.tick:g}, lot {tape.lot:g}"
          f"{size}")
    depth = (f", {tape.depth.rows} depth rows ({tape.depth.levels} levels: an L2 tape)"
             if tape.depth is not None else " (L1)")
    print(f"  {tape.duration_s / 60:.1f} minutes, {tape.trade_ns.size} trades, "
          f"{tape.quote_ns.size} quotes{depth}")
    load = tape.load
    print(f"  messages per second: median {load.ref_per_s:g} (activity 1), p95 "
          f"{load.p95_per_s:g}, max {load.max_per_s:g}; trades per minute "
          f"{60 * tape.trade_ns.size / max(tape.duration_s, 1e-9):.0f}")
    feed = tape.provenance.get("feed_latency_ms")
    if isinstance(feed, dict) and feed:
        gain = "" if load.gain is None else f"; load response gain {load.gain:.2f}"
        print(f"  feed latency (receive - venue time): p50 {feed['p50']:g} ms, p90 "
              f"{feed['p90']:g} ms, p99 {feed['p99']:g} ms{gain}")
    both = np.sort(np.concatenate((tape.trade_ns, tape.quote_ns)))
    silent = np.diff(both) / 1e9
    gaps = silent[silent > MARKET.gap_report_s]
    print(f"  {gaps.size} gap(s) longer than {MARKET.gap_report_s:g} s"
          + (f", longest {gaps.max():.1f} s" if gaps.size else ""))
    if minutes:
        mid = (tape.bid_px + tape.ask_px) * (0.5 * tape.tick)
        labels = label_minutes(tape.quote_ns, mid, tape.start_ns, minutes).labels
        counts = np.bincount(labels, minlength=len(REGIME_NAMES))
        print("  minutes by regime: " + ", ".join(f"{r} {c}" for r, c in zip(
            REGIME_NAMES, counts.tolist(), strict=True)))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from soakkit.sim.market import simulate_market
    from soakkit.sim.regimes import DEFAULT_MARKET
    from soakkit.sim.replay import record
    from soakkit.sim.tapefile import write_tape
    from soakkit.soak.options import default_mode, load_market

    profile = DEFAULT_MARKET if args.market is None else load_market(args.market,
                                                                     args.artifacts)
    mode = args.mode or (default_mode(args.market) if args.market else "mixed")
    if args.levels and not profile.order_book:
        raise UsageError(f"tape sample --levels: market {profile.name!r} has no order book "
                         "to write depth from (use --market with a calibrated market)")
    replaced = _replacing(args.path, args.force)
    if args.conflate_ms and not args.levels:
        raise UsageError("tape sample --conflate-ms: only with --levels (a depth stream)")
    market = simulate_market(mode, args.minutes, np.random.default_rng(args.seed), profile,
                             levels=args.levels or 0, conflate_ms=args.conflate_ms)
    origin = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z: any fixed origin will do
    tape = record(market, origin, "SYNTH-PERP",
                  f"soakkit tape sample --minutes {args.minutes} --mode {mode} "
                  f"--seed {args.seed}"
                  + (f" --market {args.market}" if args.market else "")
                  + (f" --levels {args.levels}" if args.levels else "")
                  + (f" --conflate-ms {args.conflate_ms}" if args.conflate_ms else ""),
                  venue="synthetic")
    write_tape(args.path, tape, mtime=origin / 1e9, replace=args.force)
    print(f"wrote {args.path}: {args.minutes} minutes of {mode} market"
          + (f" {profile.name!r}" if args.market else "") + ", "
          f"{tape.trade_ns.size} trades, {tape.quote_ns.size} quotes"
          + (f", {tape.depth.rows} depth rows of {tape.depth.levels} levels"
             if tape.depth is not None else "")
          + (f"; replaced {', '.join(replaced)}" if replaced else ""))
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.sim.depth import MAX_CONFLATE_MS, MAX_LEVELS
    from soakkit.sim.importers import FORMATS
    from soakkit.sim.instrument import KINDS
    from soakkit.sim.regimes import MODES

    p = sub.add_parser("tape", help=COMMANDS["tape"],
                       formatter_class=formatter, epilog=EPILOG,
                       description="Recorded market data for `soakkit soak --market-data` "
                                   "and `soakkit calibrate`.")
    tsub = p.add_subparsers(dest="tape_command", metavar="COMMAND", required=True,
                            parser_class=Parser)
    imp = tsub.add_parser("import", help="convert Binance or Tardis files, or a Binance "
                          "capture, into a tape", formatter_class=formatter, epilog=EPILOG)
    imp.add_argument("--from", dest="source", choices=FORMATS, required=True)
    imp.add_argument("--capture", type=path_arg, nargs="+", metavar="FILE",
                     help="binance-capture: capture files of one instrument, in any order")
    imp.add_argument("--trades", type=path_arg, metavar="CSV",
                     help="Tardis trades, or Binance aggTrades|trades (.csv, .csv.gz, .zip)")
    imp.add_argument("--quotes", type=path_arg, metavar="CSV",
                     help="Tardis quotes|book_ticker, or Binance bookTicker")
    imp.add_argument("--book", type=path_arg, metavar="CSV",
                     help="tardis: book_snapshot_25 or incremental_book_L2 (an L2 tape)")
    imp.add_argument("--out", type=path_arg, required=True, metavar="DIR", help="tape folder")
    imp.add_argument("--symbol", metavar="SYMBOL",
                     help="binance: the symbol, when the file names do not carry it")
    imp.add_argument("--kind", choices=KINDS,
                     help="the instrument's kind (default: what the data shows)")
    imp.add_argument("--contract-size", type=float_arg(0, None, lo_open=True), metavar="X",
                     help="USD per contract (inverse) or base units per contract (linear); "
                          "default: Binance's (COIN-M BTC 100, others 10), else 1")
    imp.add_argument("--levels", type=int_arg(1, MAX_LEVELS), metavar="N",
                     help=f"depth levels per side kept from an L2 source (1..{MAX_LEVELS}, "
                          "default 25)")
    imp.add_argument("--tick", type=float_arg(0, None, lo_open=True), metavar="X",
                     help="price tick (default: inferred)")
    imp.add_argument("--lot", type=float_arg(0, None, lo_open=True), metavar="X",
                     help="quantity step (default: inferred)")
    imp.add_argument("--force", action="store_true",
                     help="replace the tape already in --out (its trades, quotes, depth and "
                          "tape.json files)")
    imp.set_defaults(func=_cmd_import)
    check = tsub.add_parser("check", help="validate a tape; print its span, gaps and regimes",
                            formatter_class=formatter, epilog=EPILOG)
    check.add_argument("path", type=path_arg, metavar="TAPE")
    check.set_defaults(func=_cmd_check)
    sample = tsub.add_parser("sample", help="write a synthetic tape (what the README replays)",
                             formatter_class=formatter, epilog=EPILOG)
    sample.add_argument("path", type=path_arg, metavar="DIR")
    sample.add_argument("--minutes", type=int_arg(1, MAX_SIM_MINUTES), default=20, metavar="M")
    sample.add_argument("--mode", choices=MODES,
                        help="default: mixed (with --market: its fitted regime mix)")
    sample.add_argument("--market", metavar="NAME|FILE",
                        help="the market to sample, as soak --market resolves it (default: "
                             "the built-in one)")
    add_artifacts(sample, "where --market NAME is looked up (DIR/markets/NAME.json)",
                  create=True)
    sample.add_argument("--seed", type=int_arg(0, MAX_SEED), default=7)
    sample.add_argument("--levels", type=int_arg(1, MAX_LEVELS), metavar="N",
                        help=f"also write depth (an L2 tape): the N best levels of each side "
                             f"after every quote row (1..{MAX_LEVELS}; a calibrated --market "
                             "only; default: none, an L1 tape)")
    sample.add_argument("--conflate-ms", type=int_arg(0, MAX_CONFLATE_MS), default=0,
                        metavar="MS",
                        help="with --levels: at most one depth row per MS milliseconds (the "
                             "book at the last quote row of each), as venues conflate depth "
                             "streams (Binance USD-M: about 50); 0 (default): a depth row "
                             f"with every quote row (0..{MAX_CONFLATE_MS})")
    sample.add_argument("--force", action="store_true",
                        help="replace the tape already in DIR (its trades, quotes, depth and "
                             "tape.json files)")
    sample.set_defaults(func=_cmd_sample)

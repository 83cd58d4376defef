"""`soakkit tape`: import public market data, check a tape, write a synthetic sample tape."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import Parser, float_arg, formatter, int_arg, path_arg
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.inputs import MAX_SEED
from soakkit.sim.tape_bounds import BOUNDS_HELP

EPILOG = """\
tape format (docs/SIMULATOR.md, "Replay"): a folder with
  trades.parquet|trades.csv[.gz]  ts_ns, price, qty, side (+1 buyer aggressor, -1 seller)
  quotes.parquet|quotes.csv[.gz]  ts_ns, bid_px, bid_qty, ask_px, ask_qty
  tape.json                       optional: tick, lot, symbol, source

examples:
  soakkit tape import --from tardis --trades trades.csv.gz --quotes quotes.csv.gz --out tape/
  soakkit tape import --from binance --trades BTCUSDT-aggTrades-2024-03-01.csv \\
      --quotes BTCUSDT-bookTicker-2024-03-01.csv --out tape/
  soakkit tape check tape/
  soakkit tape sample my-sample/ --minutes 20 --mode mixed --seed 7
  soakkit soak --market-data tape/ --iterations 3 --sim-minutes 10

bounds: sample --minutes 1..1440, --seed 0..4294967295; --tick and --lot more than 0;
""" + "\n".join(textwrap.wrap(BOUNDS_HELP + ".", 88, initial_indent="  ",
                             subsequent_indent="  ")) + """

An existing tape folder is never overwritten: import --out and sample refuse one unless
--force, which replaces its tape files (and says which) and leaves one consistent tape.

""" + exit_codes_help([ExitCode.OK, ExitCode.USAGE], {
    ExitCode.USAGE: "bad arguments or a bad file (one line naming the file and the row)"})


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
    from soakkit.sim.importers import import_binance, import_tardis

    replaced = _replacing(args.out, args.force)
    convert = import_tardis if args.source == "tardis" else import_binance
    report = convert(args.trades, args.quotes, args.out, tick=args.tick, lot=args.lot,
                     replace=args.force)
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
    print(f"{tape.path}: {tape.symbol or 'symbol ?'} ({tape.source or 'source ?'}), "
          f"tick {tape.tick:g}, lot {tape.lot:g}")
    print(f"  {tape.duration_s / 60:.1f} minutes, {tape.trade_ns.size} trades, "
          f"{tape.quote_ns.size} quotes")
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
    from soakkit.sim.replay import record
    from soakkit.sim.tapefile import write_tape

    replaced = _replacing(args.path, args.force)
    market = simulate_market(args.mode, args.minutes, np.random.default_rng(args.seed))
    origin = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z: any fixed origin will do
    tape = record(market, origin, "SYNTH-PERP",
                  f"soakkit tape sample --minutes {args.minutes} --mode {args.mode} "
                  f"--seed {args.seed}")
    write_tape(args.path, tape, mtime=origin / 1e9, replace=args.force)
    print(f"wrote {args.path}: {args.minutes} minutes of {args.mode} market, "
          f"{tape.trade_ns.size} trades, {tape.quote_ns.size} quotes"
          + (f"; replaced {', '.join(replaced)}" if replaced else ""))
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.sim.importers import FORMATS
    from soakkit.sim.regimes import MODES

    p = sub.add_parser("tape", help=COMMANDS["tape"],
                       formatter_class=formatter, epilog=EPILOG,
                       description="Recorded market data for `soakkit soak --market-data` "
                                   "and `soakkit calibrate`.")
    tsub = p.add_subparsers(dest="tape_command", metavar="COMMAND", required=True,
                            parser_class=Parser)
    imp = tsub.add_parser("import", help="convert Tardis or Binance public CSVs into a tape",
                          formatter_class=formatter, epilog=EPILOG)
    imp.add_argument("--from", dest="source", choices=FORMATS, required=True)
    imp.add_argument("--trades", type=path_arg, required=True, metavar="CSV",
                     help="Tardis trades, or Binance aggTrades (.csv or .csv.gz)")
    imp.add_argument("--quotes", type=path_arg, required=True, metavar="CSV",
                     help="Tardis quotes/book_ticker, or Binance bookTicker")
    imp.add_argument("--out", type=path_arg, required=True, metavar="DIR", help="tape folder")
    imp.add_argument("--tick", type=float_arg(0, None, lo_open=True), metavar="X",
                     help="price tick (default: inferred)")
    imp.add_argument("--lot", type=float_arg(0, None, lo_open=True), metavar="X",
                     help="quantity step (default: inferred)")
    imp.add_argument("--force", action="store_true",
                     help="replace the tape already in --out (its trades, quotes and "
                          "tape.json files)")
    imp.set_defaults(func=_cmd_import)
    check = tsub.add_parser("check", help="validate a tape; print its span, gaps and regimes",
                            formatter_class=formatter, epilog=EPILOG)
    check.add_argument("path", type=path_arg, metavar="TAPE")
    check.set_defaults(func=_cmd_check)
    sample = tsub.add_parser("sample", help="write a synthetic tape (what the README replays)",
                             formatter_class=formatter, epilog=EPILOG)
    sample.add_argument("path", type=path_arg, metavar="DIR")
    sample.add_argument("--minutes", type=int_arg(1, 1440), default=20, metavar="M")
    sample.add_argument("--mode", choices=MODES, default="mixed")
    sample.add_argument("--seed", type=int_arg(0, MAX_SEED), default=7)
    sample.add_argument("--force", action="store_true",
                        help="replace the tape already in DIR (its trades, quotes and "
                             "tape.json files)")
    sample.set_defaults(func=_cmd_sample)

"""`soakkit fidelity`: the stylized facts of a tape, real against its synthetic market."""

from __future__ import annotations

import argparse
import sys

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, formatter, int_arg, path_arg
from soakkit.core.errors import ExitCode, UsageError, exit_codes_help
from soakkit.core.inputs import MAX_SEED
from soakkit.core.messages import progress as progress_line


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from soakkit.core.io import atomic_write_json
    from soakkit.sim.fidelity import FACT_TOLERANCE, fidelity
    from soakkit.sim.replay import load_tape
    from soakkit.soak.options import load_market

    if args.out is not None and args.out.exists():
        raise UsageError(f"--out {args.out}: the file exists; choose another path")
    market = None
    if args.market is not None:
        market = load_market(args.market, args.artifacts)
    tape = load_tape(args.tape)
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if interactive:
            progress_line(f"fidelity: {done}/{total} (calibration, then one window per seed)")

    report = fidelity(tape, market, minutes=args.minutes, seeds=args.seeds, seed=args.seed,
                      progress=progress)
    print(f"{report.tape}: {report.minutes} min, real vs market {report.market!r} "
          f"(mixed mode, {report.seeds} seeds; synthetic median and 5-95 % interval)")
    print(f"  {'fact':<36} {'real':>11} {'synthetic':>11}  {'interval':<25} verdict")
    for row in report.rows:
        label = f"{row.label}" + (f" ({row.unit})" if row.unit else "")
        interval = f"[{row.low:.4g}, {row.high:.4g}]"
        print(f"  {label:<36} {row.real:>11.4g} {row.synthetic:>11.4g}  {interval:<25} "
              + ("within" if row.within else "outside"))
    print(f"{report.within} of {len(report.rows)} facts within {FACT_TOLERANCE:.0%}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, report.to_json())
        print(f"wrote {args.out}")
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.sim.fidelity import MAX_FIDELITY_MINUTES, MAX_FIDELITY_SEEDS

    p = sub.add_parser(
        "fidelity", help=COMMANDS["fidelity"], formatter_class=formatter,
        description="Measures the twelve stylized facts (prints and orders per second,\n"
                    "print and order sizes, spread, 1-s return std and kurtosis, buy share,\n"
                    "trade- and order-sign autocorrelation) on TAPE's first whole minutes\n"
                    "and on as many minutes of its synthetic market in mixed mode, one\n"
                    "window per seed, and prints them side by side: the synthetic median,\n"
                    "its 5-95 % interval and whether it is within 25 % of the real value.\n"
                    "The market is TAPE calibrated on the same window unless --market\n"
                    "names one (docs/SIMULATOR.md, \"Fidelity\").",
        epilog="examples:\n  soakkit fidelity tape/\n"
               "  soakkit fidelity tape/ --market binance-btc --seeds 16 --out facts.json\n\n"
               f"bounds: --minutes 1..{MAX_FIDELITY_MINUTES} (default: the tape's whole "
               f"minutes, at most {MAX_FIDELITY_MINUTES}),\n"
               f"  --seeds 1..{MAX_FIDELITY_SEEDS} (default 8), --seed 0..{MAX_SEED}.\n\n"
               + exit_codes_help([ExitCode.OK, ExitCode.USAGE], {
                   ExitCode.USAGE: "bad arguments, a bad tape or market profile"}))
    p.add_argument("tape", type=path_arg, metavar="TAPE",
                   help="a tape folder (soakkit tape --help)")
    p.add_argument("--market", metavar="NAME|FILE",
                   help="a market profile (as soak --market resolves it); default: "
                        "calibrate TAPE")
    # create: without --market no root is needed (nothing is written there)
    add_artifacts(p, "where --market NAME is looked up (DIR/markets/NAME.json)", create=True)
    p.add_argument("--minutes", type=int_arg(1, MAX_FIDELITY_MINUTES),
                   metavar="M", help="compare the first M whole minutes")
    p.add_argument("--seeds", type=int_arg(1, MAX_FIDELITY_SEEDS), default=8,
                   metavar="N", help="synthetic windows (default 8)")
    p.add_argument("--seed", type=int_arg(0, MAX_SEED), default=0, metavar="S",
                   help="the first seed (default 0)")
    p.add_argument("--out", type=path_arg, metavar="FILE",
                   help="also write the table as JSON (refused if FILE exists)")
    p.set_defaults(func=_cmd_fidelity)

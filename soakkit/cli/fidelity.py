"""`soakkit fidelity`: the stylized facts of a tape, real against its synthetic market."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, formatter, int_arg, path_arg
from soakkit.core.errors import ExitCode, UsageError, exit_codes_help
from soakkit.core.inputs import MAX_SEED
from soakkit.core.messages import progress as progress_line

if TYPE_CHECKING:
    from soakkit.evidence.sim_to_real import SimToRealReport
    from soakkit.sim.fidelity import FidelityReport


def _print_facts(report: FidelityReport) -> None:
    from soakkit.sim.fidelity import FACT_TOLERANCE

    print(f"{report.tape}: {report.minutes} min, real vs market {report.market!r} "
          f"(mixed mode, {report.seeds} seeds; synthetic median and 5-95 % interval)")
    print(f"  {'fact':<36} {'real':>11} {'synthetic':>11}  {'interval':<25} verdict")
    for row in report.rows:
        label = f"{row.label}" + (f" ({row.unit})" if row.unit else "")
        interval = f"[{row.low:.4g}, {row.high:.4g}]"
        print(f"  {label:<36} {row.real:>11.4g} {row.synthetic:>11.4g}  {interval:<25} "
              + ("within" if row.within else "outside"))
    print(f"{report.within} of {len(report.rows)} facts within {FACT_TOLERANCE:.0%}")


def _print_table(table: SimToRealReport) -> None:
    from soakkit.evidence.sim_to_real import AGREE_FILLS_RATIO, GATE

    low, high = AGREE_FILLS_RATIO
    print(f"sim-to-real: each profile replayed on the tape and run on {table.market!r}, "
          f"{table.minutes} x 1-min iterations, seeds {table.seeds[0]}..{table.seeds[-1]} "
          f"(means per iteration; pass: the {GATE} gate)")
    print(f"  {'profile':<14} {'side':<10} {'fills':>8} {'P&L USD':>10} {'adverse bps':>12} "
          f"{'pass':>6} {'P&L>0 seeds':>12}")
    for cell in table.cells:
        for name, side in (("replay", cell.replay), ("synthetic", cell.synthetic)):
            print(f"  {cell.profile if name == 'replay' else '':<14} {name:<10} "
                  f"{side.fills:>8.2f} {side.pnl_usd:>10.3f} {side.adverse_bps:>12.2f} "
                  f"{side.pass_rate:>6.0%} {side.pnl_positive_share:>12.0%}")
        print(f"  {'':<14} {'verdict':<10} fills x{cell.fills_ratio:.2f} "
              f"({'within' if cell.fills_agree else 'outside'} {low:g}-{high:g}x), P&L sign "
              f"{'same' if cell.pnl_agrees else 'differs'}: "
              + ("agrees" if cell.agrees else "disagrees"))
    print(f"{table.agree} of {len(table.cells)} profiles agree")


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from soakkit.core.io import atomic_write_json
    from soakkit.evidence.sim_to_real import fidelity_study
    from soakkit.report.fidelity_report import parse_profiles

    if args.out is not None and args.out.exists():
        raise UsageError(f"--out {args.out}: the file exists; choose another path")
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if interactive:
            progress_line(f"fidelity: {done}/{total} (calibration, one window per seed, "
                          "then two mini-soaks per profile and seed)")

    study = fidelity_study(args.tape, market=args.market, artifacts=args.artifacts,
                           minutes=args.minutes, seeds=args.seeds, seed=args.seed,
                           profiles=parse_profiles(args.profiles), progress=progress)
    _print_facts(study.facts)
    if study.table is not None:
        _print_table(study.table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, study.to_json())
        print(f"wrote {args.out}")
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.evidence.sim_to_real import AGREE_FILLS_RATIO, DEFAULT_PROFILES, MAX_PROFILES
    from soakkit.sim.fidelity import MAX_FIDELITY_MINUTES, MAX_FIDELITY_SEEDS

    low, high = AGREE_FILLS_RATIO
    p = sub.add_parser(
        "fidelity", help=COMMANDS["fidelity"], formatter_class=formatter,
        description="Measures the twelve stylized facts (prints and orders per second,\n"
                    "print and order sizes, spread, 1-s return std and kurtosis, buy share,\n"
                    "trade- and order-sign autocorrelation) on TAPE's first whole minutes\n"
                    "and on as many minutes of its synthetic market in mixed mode, one\n"
                    "window per seed, and prints them side by side: the synthetic median,\n"
                    "its 5-95 % interval and whether it is within 25 % of the real value.\n"
                    "The market is TAPE calibrated on the same window unless --market\n"
                    "names one (docs/SIMULATOR.md, \"Fidelity\").\n\n"
                    "Then the sim-to-real table: each of --profiles replayed on TAPE and run\n"
                    "on the same market, as many 1-minute iterations, untuned, once per seed;\n"
                    "fills, P&L (USD) and adverse selection (bps) per iteration and the share\n"
                    "of iterations the production gate passes, side by side. A profile\n"
                    f"agrees when the synthetic fills are within {low:g}-{high:g}x the "
                    "replay's and\nboth P&Ls have the same sign. It costs two mini-soaks "
                    "per profile and seed\n(on a 5-minute tape about as long as the facts); "
                    "--profiles none skips it.",
        epilog="examples:\n  soakkit fidelity tape/\n"
               "  soakkit fidelity tape/ --market binance-btc --seeds 16 --out facts.json\n"
               "  soakkit fidelity tape/ --profiles steady_safe --seeds 4\n"
               "  soakkit fidelity tape/ --profiles none\n\n"
               f"bounds: --minutes 1..{MAX_FIDELITY_MINUTES} (default: the tape's whole "
               f"minutes, at most {MAX_FIDELITY_MINUTES}),\n"
               f"  --seeds 1..{MAX_FIDELITY_SEEDS} (default 8), --seed 0..{MAX_SEED}, "
               f"--profiles 1..{MAX_PROFILES} names.\n\n"
               + exit_codes_help([ExitCode.OK, ExitCode.USAGE], {
                   ExitCode.USAGE: "bad arguments, a bad tape, market profile or profile"}))
    p.add_argument("tape", type=path_arg, metavar="TAPE",
                   help="a tape folder (soakkit tape --help)")
    p.add_argument("--market", metavar="NAME|FILE",
                   help="a market profile (as soak --market resolves it); default: "
                        "calibrate TAPE")
    # create: without --market no root is needed (nothing is written there)
    add_artifacts(p, "where --market NAME (DIR/markets/NAME.json) and user profiles are "
                     "looked up", create=True)
    p.add_argument("--minutes", type=int_arg(1, MAX_FIDELITY_MINUTES),
                   metavar="M", help="compare the first M whole minutes")
    p.add_argument("--seeds", type=int_arg(1, MAX_FIDELITY_SEEDS), default=8,
                   metavar="N", help="synthetic windows, and mini-soaks per profile and side "
                                   "(default 8)")
    p.add_argument("--seed", type=int_arg(0, MAX_SEED), default=0, metavar="S",
                   help="the first seed (default 0)")
    p.add_argument("--profiles", default=",".join(DEFAULT_PROFILES), metavar="A,B",
                   help="profiles of the sim-to-real table, or none (default: %(default)s)")
    p.add_argument("--out", type=path_arg, metavar="FILE",
                   help="also write both tables as JSON (refused if FILE exists)")
    p.set_defaults(func=_cmd_fidelity)

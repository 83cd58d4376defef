"""`soakkit demo`: a short mini-soak, then the KPI and disk reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, formatter, int_arg, path_arg
from soakkit.cli.report import print_report
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.inputs import MAX_ITERATIONS, MAX_SEED
from soakkit.core.messages import progress


def _cmd_demo(args: argparse.Namespace) -> int:
    from soakkit.demo import demo

    def steps(line: str) -> None:  # steps on a terminal; stdout is one line per report
        if sys.stderr.isatty():
            progress(line)

    result = demo(args.artifacts, args.out, seed=args.seed, iterations=args.iterations,
                  say=steps)
    for report in result.reports:  # one line each: verdict and the report to open
        print_report(report, args.out / "latest" / report.name / "report.html")
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.demo import ITERATIONS, SEED

    p = sub.add_parser(
        "demo", help=COMMANDS["demo"],
        formatter_class=formatter,
        description="Runs a baseline mini-soak without the tuner, then the same market with "
                    "the tuner\n(the soak notebook; the run `latest` points at, linked to its "
                    "baseline), one rotation,\nthen the KPI report (tuned vs untuned) and the "
                    "disk report, and prints one line per\nreport: its verdict and the HTML "
                    "to open.",
        epilog=exit_codes_help(list(ExitCode)[:6], {
            ExitCode.FAILED: "a report cell failed", ExitCode.USAGE: "bad flag or path "
            "(checked before a kernel starts)"}))
    add_artifacts(p, "where the two runs are written; else ./artifacts/soak", create=True)
    p.add_argument("--out", type=path_arg, default=Path("reports"), metavar="DIR",
                   help="reports root (default: reports)")
    p.add_argument("--seed", type=int_arg(0, MAX_SEED), default=SEED,
                   help=f"market seed, 0..{MAX_SEED} (default: %(default)s)")
    p.add_argument("--iterations", type=int_arg(1, MAX_ITERATIONS), default=ITERATIONS,
                   metavar="N", help="iterations per run, 10 simulated minutes each (default: "
                                     "%(default)s)")
    p.set_defaults(func=_cmd_demo)



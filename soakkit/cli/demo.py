"""`soakkit demo`: a short mini-soak, then the KPI and disk reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from soakkit.cli._common import DEFAULT_ARTIFACTS, formatter
from soakkit.cli.report import print_report

#: One line for ``soakkit --help`` (lets it list this command without building it).
HELP = "short mini-soak, then the KPI and disk reports (about 10 s)"


def _cmd_demo(args: argparse.Namespace) -> int:
    from soakkit.demo import demo

    result = demo(args.artifacts, args.out, seed=args.seed, iterations=args.iterations)
    for report in result.reports:
        print_report(report)
    if result.exit_code == 0:
        print(f"open the reports in a browser: {args.out}/latest/soak/report.html, "
              f"{args.out}/latest/kpi/report.html, {args.out}/latest/disk/report.html")
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo", help=HELP,
        formatter_class=formatter,
        description="Runs a tuned mini-soak with the soak notebook, the same market without the "
                    "tuner as a\nbaseline, one rotation, then the KPI report (tuned vs untuned) "
                    "and the disk report,\nand prints where the HTML reports are.")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR",
                   help="where the two runs are written (default: artifacts/soak)")
    p.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                   help="reports root (default: reports)")
    p.add_argument("--seed", type=int, default=7, help="market seed (default: 7)")
    p.add_argument("--iterations", type=int, default=12, metavar="N",
                   help="iterations per run, 10 simulated minutes each (default: 12)")
    p.set_defaults(func=_cmd_demo)



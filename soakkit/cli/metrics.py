"""`soakkit metrics`: export catalog-level gauges for the node_exporter textfile collector."""

from __future__ import annotations

import argparse

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, add_now, formatter, path_arg
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.messages import warning


def _cmd_metrics(args: argparse.Namespace) -> int:
    from soakkit.core.io import clock_from
    from soakkit.metrics import check_metrics_dir, export_catalog

    out = check_metrics_dir(args.out, "--out")
    export = export_catalog(args.artifacts, out, clock=clock_from(args.now),
                            cache=not args.no_cache)
    for problem in export.problems:
        warning(problem)
    print(f"{export.path}: {export.runs} run(s), {export.iterations} iteration(s)")
    return ExitCode.PROBLEMS if export.problems else ExitCode.OK


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "metrics", help=COMMANDS["metrics"],
        formatter_class=formatter,
        description="Loads the run catalog of --artifacts and writes --out/soakkit_catalog.prom "
                    "atomically:\nruns and iterations by profile and mode, iterations by "
                    "verdict, skipped files and the\nexport's time, for the node_exporter "
                    "textfile collector (docs/METRICS.md lists every\nmetric). Live soaks and "
                    "rotations export their own files: soakkit soak|rotate --metrics-dir.",
        epilog="examples:\n  soakkit metrics --artifacts artifacts/soak --out "
               "/var/lib/prometheus/node-exporter\n"
               "  */5 * * * *  cd /srv/soak && .venv/bin/soakkit metrics --out "
               "/var/lib/prometheus/node-exporter\n\n"
               + exit_codes_help([ExitCode.OK, ExitCode.USAGE, ExitCode.PROBLEMS], {
                   ExitCode.OK: "written", ExitCode.USAGE: "usage error (--out missing, a file "
                   "or not writable; nothing written)", ExitCode.PROBLEMS: "written, but "
                   "catalog files were skipped (listed on stderr)"}))
    add_artifacts(p, "artifacts root")
    p.add_argument("--out", type=path_arg, required=True, metavar="DIR",
                   help="the textfile collector's folder (must exist and be writable)")
    add_now(p, "freeze the clock (last-success time)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the "
                   "catalog cache")
    p.set_defaults(func=_cmd_metrics)

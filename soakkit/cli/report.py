"""`soakkit report`: run a report notebook with papermill."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import ARTIFACTS_HELP, add_now, formatter, int_arg, path_arg
from soakkit.core.errors import ExitCode, UsageError, exit_codes_help
from soakkit.core.inputs import MAX_ITERATIONS, MAX_SEED
from soakkit.core.messages import error, warning

if TYPE_CHECKING:
    from soakkit.notebooks.runner import RunResult




def print_report(result: RunResult, html: Path | None = None) -> None:
    """One line per report: its verdict and where it is (stdout), or what failed (stderr)."""
    if result.status == "ok":
        for problem in result.problems:
            warning(f"report {result.name}: skipped {problem}")
        print(f"report {result.name}: {result.headline or 'ok'} -> {html or result.html}")
        return
    where = f" in cell {result.failing_cell}" if result.failing_cell is not None else ""
    error(f"report {result.name} failed ({result.status}){where}: {result.ename}: "
          f"{result.evalue} (notebook kept in {result.output_dir})")


def _parameters(pairs: list[list[str]] | None) -> dict[str, str]:
    """``-p NAME VALUE`` pairs as a mapping; a name given twice is an error (which would
    win is a guess the user should not have to make)."""
    given: dict[str, list[str]] = {}
    for name, value in pairs or []:
        given.setdefault(name, []).append(value)
    twice = [f"-p {name} is given {'twice' if len(values) == 2 else f'{len(values)} times'} "
             f"({', '.join(values)}); give it once" for name, values in given.items()
             if len(values) > 1]
    if twice:
        raise UsageError("\n".join(twice))
    return {name: values[0] for name, values in given.items()}


def _cmd_report(args: argparse.Namespace) -> int:
    from soakkit.core.io import clock_from
    from soakkit.notebooks.runner import run

    params: dict[str, object] = dict(_parameters(args.params))
    if args.artifacts is not None:  # the flag every command has; `-p artifacts` is its alias
        if params.get("artifacts", str(args.artifacts)) != str(args.artifacts):
            raise UsageError(f"--artifacts {args.artifacts} and -p artifacts "
                             f"{params['artifacts']}: give the folder once")
        params["artifacts"] = args.artifacts
    result = run(args.name, params, args.out, params_are_text=True, kernel=args.kernel,
                 cell_timeout=args.cell_timeout, clock=clock_from(args.now))
    print_report(result)
    return result.exit_code


def _bounds() -> str:
    """The ``bounds:`` paragraph: every size a report parameter may ask for."""
    from soakkit.evidence.stats import MAX_RESAMPLES, MIN_RESAMPLES
    from soakkit.rotation.policy import MAX_KEEP_LATEST
    from soakkit.sim.fidelity import MAX_FIDELITY_MINUTES, MAX_FIDELITY_SEEDS

    return (f"bounds: -p iterations 1..{MAX_ITERATIONS}, -p sim_minutes 1..1440, -p seed "
            f"0..{MAX_SEED},\n  -p last_n 0..{MAX_ITERATIONS}, -p days and -p ttl_days "
            f"0..36500, -p keep_latest 0..{MAX_KEEP_LATEST},\n  -p budget_mb more than 0, "
            f"-p resamples {MIN_RESAMPLES}..{MAX_RESAMPLES}, -p alpha more than 0 and less "
            f"than 1,\n  -p minutes 1..{MAX_FIDELITY_MINUTES} and -p seeds "
            f"1..{MAX_FIDELITY_SEEDS} (fidelity).\n\n")


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.notebooks.runner import (
        DEFAULT_CELL_TIMEOUT_S,
        DEFAULT_KERNEL,
        MAX_CELL_TIMEOUT_S,
        NOTEBOOKS,
    )

    p = sub.add_parser(
        "report", help=COMMANDS["report"],
        formatter_class=formatter,
        description="Runs notebooks/<name>.ipynb with papermill after checking every -p against "
                    "the notebook's\nparameters cell (unknown names are errors, values are cast "
                    "to the annotated types),\nand writes <out>/<YYYY-MM-DD>/<name>-<run_id>/: "
                    "report.ipynb, report.html, figures (PNG),\nkpis.json, manifest.json. "
                    "<out>/latest/<name> points at the newest successful report.",
        epilog="examples:\n  soakkit report kpi -p run latest -p gate production\n"
               "  soakkit report disk --artifacts artifacts/soak -p budget_mb 900\n"
               "  soakkit report soak -p iterations 6 -p mode volatile\n"
               "  soakkit report explore -p days 30\n"
               "  soakkit report fidelity -p tape examples/tapes/binance-spot-btcusdt\n\n"
               "artifacts: --artifacts DIR (or -p artifacts DIR), else $SOAKKIT_ARTIFACTS, else "
               "the nearest\nartifacts/soak above the working directory; the report records "
               "the folder it used.\n\n"
               "Every parameter is checked before a kernel starts (types, iterations >= 1, "
               "gate names,\nrun ids and artifacts folders that exist). An interrupted or "
               "failed report is kept as\n<folder>.failed with its reason (manifest.json); "
               "only the newest failed folders per report\nare kept (docs/ERRORS.md). A "
               "parameter may be given once.\n\n" + _bounds()
               + exit_codes_help(list(ExitCode)[:6], {
                   ExitCode.FAILED: "a cell failed",
                   ExitCode.USAGE: "bad parameters, missing kernel or unusable --out",
                   ExitCode.PROBLEMS: "report written, but input files were skipped "
                                      "(listed on stderr)"}))
    p.add_argument("name", choices=list(NOTEBOOKS), help="which report")
    p.add_argument("-p", "--param", dest="params", nargs=2, action="append",
                   metavar=("NAME", "VALUE"), help="a notebook parameter; repeatable")
    p.add_argument("--artifacts", type=path_arg, default=None, metavar="DIR",
                   help=f"artifacts root: the notebook's `artifacts` parameter; also -p "
                        f"artifacts DIR ({ARTIFACTS_HELP})")
    p.add_argument("--out", type=path_arg, default=Path("reports"), metavar="DIR",
                   help="reports root (default: %(default)s)")
    p.add_argument("--kernel", default=DEFAULT_KERNEL,
                   help="Jupyter kernel (default: %(default)s)")
    p.add_argument("--cell-timeout", type=int_arg(1, MAX_CELL_TIMEOUT_S),
                   default=DEFAULT_CELL_TIMEOUT_S,
                   metavar="SECONDS",
                   help=f"per-cell timeout, whole seconds 1..{MAX_CELL_TIMEOUT_S} (default: "
                        "%(default)s)")
    add_now(p, "freeze the clock (run id, manifest times)")
    p.set_defaults(func=_cmd_report)


